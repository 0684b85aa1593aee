//! `imagemk list`: what the workspace defines, as a table or JSON.

use serde_json::json;

use super::{select::select, Ctx};
use crate::cli::{ListArgs, Selection};

pub fn run(ctx: &Ctx, args: &ListArgs) -> anyhow::Result<i32> {
    let ws = &ctx.ws;
    let nothing_named = args.selection.images.is_empty() && args.selection.kind.is_empty();
    let chosen = if nothing_named {
        select(
            ws,
            &Selection {
                all: true,
                ..Default::default()
            },
        )?
    } else {
        select(ws, &args.selection)?
    };
    let rel = |p: &std::path::Path| {
        p.strip_prefix(&ws.root)
            .map(|r| {
                if r.as_os_str().is_empty() {
                    ".".into()
                } else {
                    r.display().to_string()
                }
            })
            .unwrap_or_else(|_| p.display().to_string())
    };
    if args.json {
        let rows: Vec<_> = chosen
            .iter()
            .map(|&i| {
                let img = &ws.images[i];
                json!({
                    "id": img.id,
                    "component": ws.components[img.component].name,
                    "key": img.key,
                    "kind": img.kind,
                    "name": img.name.to_string(),
                    "dockerfile": rel(&img.dockerfile),
                    "context": rel(&img.context),
                    "depends": img.depends.iter().map(|&d| ws.images[d].id.clone()).collect::<Vec<_>>(),
                    "variant": img.variant,
                    "problems": img.problems,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    let mut table = vec![[
        "IMAGE".to_string(),
        "NAME".to_string(),
        "DOCKERFILE".to_string(),
        "DEPENDS".to_string(),
    ]];
    for &i in &chosen {
        let img = &ws.images[i];
        let deps: Vec<&str> = img
            .depends
            .iter()
            .map(|&d| ws.images[d].id.as_str())
            .collect();
        let mut dockerfile = rel(&img.dockerfile);
        if !img.dockerfile.is_file() {
            dockerfile.push_str(" (missing)");
        }
        table.push([
            img.id.clone(),
            img.name.to_string(),
            dockerfile,
            if deps.is_empty() {
                "-".into()
            } else {
                deps.join(",")
            },
        ]);
    }
    let widths: Vec<usize> = (0..4)
        .map(|c| {
            table
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in table {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| format!("{cell:<w$}", w = if c == 3 { 0 } else { widths[c] }))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    Ok(0)
}
