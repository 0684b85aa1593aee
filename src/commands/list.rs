//! `imagemk list`: what the workspace defines, as a table or JSON. With a registry asked for
//! (`--registry`, `REGISTRY`), each image's remote name and channel too; with several
//! variants (`--variant plain,debug`), one row per variant of each image.

use serde_json::{json, Value};

use super::{select::select, Ctx};
use crate::cli::{ListArgs, Selection};
use crate::config::Workspace;
use crate::registry::{self, transfer, Registry};

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
    let reg = match (&ws.registry, ws.registry_asked) {
        (Some(name), true) => Some(registry::choose(&ws.registries, Some(name))?),
        _ => None,
    };
    let remotes = chosen
        .iter()
        .map(|&i| remote(ws, reg.as_ref(), i))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if args.json {
        let rows: Vec<Value> = chosen
            .iter()
            .zip(&remotes)
            .map(|(&i, r)| json_row(ws, i, r.as_ref()))
            .collect();
        crate::console::outln!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    print_table(ws, &chosen, &remotes);
    Ok(0)
}

/// `(remote name, channel)` of image `i` when a registry is chosen.
fn remote(
    ws: &Workspace,
    reg: Option<&Registry>,
    i: usize,
) -> anyhow::Result<Option<(String, Option<String>)>> {
    let Some(reg) = reg else {
        return Ok(None);
    };
    let img = &ws.images[i];
    let name = transfer::remote_name(ws, reg, img)?.to_string();
    Ok(Some((name, ws.component_of(img).settings.channel.clone())))
}

fn rel(ws: &Workspace, p: &std::path::Path) -> String {
    p.strip_prefix(&ws.root)
        .map(|r| {
            if r.as_os_str().is_empty() {
                ".".into()
            } else {
                r.display().to_string()
            }
        })
        .unwrap_or_else(|_| p.display().to_string())
}

fn json_row(ws: &Workspace, i: usize, remote: Option<&(String, Option<String>)>) -> Value {
    let img = &ws.images[i];
    let mut row = json!({
        "id": img.id,
        "component": ws.components[img.component].name,
        "key": img.key,
        "kind": img.kind,
        "name": img.name.to_string(),
        "dockerfile": rel(ws, &img.dockerfile),
        "context": rel(ws, &img.context),
        "depends": img.depends.iter().map(|&d| ws.images[d].id.clone()).collect::<Vec<_>>(),
        "variant": img.variant,
        "problems": img.problems,
    });
    if let Some((name, channel)) = remote {
        row["remote"] = json!(name);
        row["channel"] = json!(channel);
    }
    row
}

fn print_table(ws: &Workspace, chosen: &[usize], remotes: &[Option<(String, Option<String>)>]) {
    let with_remote = remotes.iter().any(Option::is_some);
    let mut head = vec!["IMAGE", "NAME"];
    if with_remote {
        head.extend(["REMOTE", "CHANNEL"]);
    }
    head.extend(["DOCKERFILE", "DEPENDS"]);
    let mut table = vec![head.into_iter().map(String::from).collect::<Vec<_>>()];
    for (&i, remote) in chosen.iter().zip(remotes) {
        let img = &ws.images[i];
        let deps: Vec<String> = img.depends.iter().map(|&d| ws.shown_id(d)).collect();
        let mut dockerfile = rel(ws, &img.dockerfile);
        if !img.dockerfile.is_file() {
            dockerfile.push_str(" (missing)");
        }
        let mut row = vec![ws.shown_id(i), img.name.to_string()];
        if let Some((name, channel)) = remote {
            row.push(name.clone());
            row.push(channel.clone().unwrap_or_else(|| "-".into()));
        }
        row.push(dockerfile);
        row.push(if deps.is_empty() {
            "-".into()
        } else {
            deps.join(",")
        });
        table.push(row);
    }
    print_aligned(&table);
}

/// Columns padded to their widest cell, two spaces apart; the last one is not padded.
fn print_aligned(table: &[Vec<String>]) {
    let columns = table[0].len();
    let widths: Vec<usize> = (0..columns)
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
            .map(|(c, cell)| {
                let w = if c + 1 == columns { 0 } else { widths[c] };
                format!("{cell:<w$}")
            })
            .collect();
        crate::console::outln!("{}", line.join("  ").trim_end());
    }
}
