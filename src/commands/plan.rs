//! `imagemk plan`: the build plan as data (`--json`, schema 1, see docs/plan.md) or a table.
//! It gathers the same facts as `build --dry-run` (read-only engine queries) and never builds,
//! tags or pulls anything.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{facts, select, Ctx};
use crate::cli::PlanArgs;
use crate::config::Workspace;
use crate::plan::{self, Action, BuildPlan, BuildRequest, Decision};
use crate::registry::{self, transfer, Registry};

/// The version of the JSON below; bumped when a field changes meaning or goes away.
pub const SCHEMA: u32 = 1;

#[derive(Serialize)]
struct Plan {
    schema: u32,
    registry: Option<String>,
    images: Vec<Entry>,
    /// With `--shards N`: the N shards in order, else null.
    shards: Option<Vec<ShardEntry>>,
}

/// One shard of `--shards N`: what `build --shard ARG` builds.
#[derive(Serialize)]
struct ShardEntry {
    index: usize,
    arg: String,
    images: Vec<String>,
}

/// One image of the plan; the field order is the schema's.
#[derive(Serialize)]
struct Entry {
    id: String,
    name: String,
    remote: Option<String>,
    dockerfile: String,
    context: String,
    args: BTreeMap<String, String>,
    target: Option<String>,
    depends: Vec<String>,
    selected: bool,
    digest: Option<String>,
    decision: &'static str,
    from: Option<String>,
    reasons: Vec<String>,
    command: Option<Command>,
    /// With `--shards N`: the shard (from 1) that builds it, else null.
    shard: Option<usize>,
}

/// The exact command `build` would run: its argv and its shell-quoted line.
#[derive(Serialize)]
struct Command {
    argv: Vec<String>,
    line: String,
    /// What goes to its stdin: `context` (the build context as a tar) or nothing.
    stdin: Option<&'static str>,
}

pub fn run(ctx: &Ctx, args: &PlanArgs) -> anyhow::Result<i32> {
    let ws = &ctx.ws;
    let selected = select::buildable(ws, &args.selection)?;
    let reg = match &ws.registry {
        Some(name) => Some(registry::choose(&ws.registries, Some(name))?),
        None => None,
    };
    let req = BuildRequest {
        selected,
        rebuild_deps: args.deps,
        force: args.force,
        dependents: args.dependents,
        no_cache: false,
        no_cache_for: Default::default(),
        locked: Default::default(),
        builder: crate::builder::from_args(&args.buildkit, &ctx.env)?,
        only: None,
    };
    let facts = facts::gather(ctx, &req)?;
    let built = plan::build(ws, &req, &facts)?;
    let mut entries = entries(ws, &built, reg.as_ref())?;
    let shards = args
        .shards
        .map(|n| shards(ctx, &req, &built, &mut entries, n));
    if args.json {
        let doc = Plan {
            schema: SCHEMA,
            registry: reg.map(|r| r.name),
            images: entries,
            shards,
        };
        crate::console::outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print_table(&entries);
    }
    Ok(0)
}

/// Sets each entry's shard among `count` (as `build --shard I/N` assigns them) and lists the
/// shards.
fn shards(
    ctx: &Ctx,
    req: &BuildRequest,
    p: &BuildPlan,
    entries: &mut [Entry],
    count: usize,
) -> Vec<ShardEntry> {
    let of = super::shard::assignment(&ctx.ws, req, count);
    let mut out: Vec<ShardEntry> = (1..=count)
        .map(|index| ShardEntry {
            index,
            arg: format!("{index}/{count}"),
            images: Vec::new(),
        })
        .collect();
    for (d, e) in p.decisions.iter().zip(entries) {
        let s = of[&d.image];
        e.shard = Some(s + 1);
        out[s].images.push(e.id.clone());
    }
    out
}

fn entries(ws: &Workspace, p: &BuildPlan, reg: Option<&Registry>) -> anyhow::Result<Vec<Entry>> {
    let steps: BTreeMap<usize, &plan::BuildStep> = p.steps.iter().map(|s| (s.image, s)).collect();
    p.decisions
        .iter()
        .map(|d| entry(ws, d, steps.get(&d.image).copied(), reg))
        .collect()
}

fn entry(
    ws: &Workspace,
    d: &Decision,
    step: Option<&plan::BuildStep>,
    reg: Option<&Registry>,
) -> anyhow::Result<Entry> {
    let img = &ws.images[d.image];
    let shown = plan::shown(ws, img);
    let remote = match reg {
        Some(r) => Some(transfer::remote_name(ws, r, img)?.to_string()),
        None => None,
    };
    let (decision, from) = match &d.action {
        Action::UpToDate => ("up to date", None),
        Action::Tag(src) => ("tag", Some(src.clone())),
        Action::Pulled(id) => ("pulled", Some(id.clone())),
        Action::Build => ("build", None),
    };
    let command = step.map(|s| Command {
        argv: std::iter::once(s.cmd.program.clone())
            .chain(s.cmd.args.iter().cloned())
            .collect(),
        line: s.cmd.to_string(),
        stdin: s.context.as_ref().map(|_| "context"),
    });
    Ok(Entry {
        id: ws.shown_id(d.image),
        name: img.name.to_string(),
        remote,
        dockerfile: shown.dockerfile,
        context: shown.context,
        args: img.args.clone(),
        target: img.target.clone(),
        depends: img
            .depends
            .iter()
            .map(|&x| ws.images[x].id.clone())
            .collect(),
        selected: d.selected,
        digest: d.digest.clone(),
        decision,
        from,
        reasons: d.reasons.clone(),
        command,
        shard: None,
    })
}

/// One row per image: id, decision, name (remote name when a registry is chosen), reasons.
fn print_table(entries: &[Entry]) {
    let name = |e: &Entry| e.remote.clone().unwrap_or_else(|| e.name.clone());
    let width = entries.iter().map(|e| e.id.len()).max().unwrap_or(0).max(5);
    let names = entries
        .iter()
        .map(|e| name(e).len())
        .max()
        .unwrap_or(0)
        .max(4);
    let sharded = entries.iter().any(|e| e.shard.is_some());
    let shard = |e: &Entry| e.shard.map_or(String::new(), |s| format!("{s:<5}  "));
    crate::console::outln!(
        "{:width$}  {}{:10}  {:names$}  WHY",
        "IMAGE",
        if sharded { "SHARD  " } else { "" },
        "DECISION",
        "NAME"
    );
    for e in entries {
        let name = name(e);
        crate::console::outln!(
            "{:width$}  {}{:10}  {:names$}  {}",
            e.id,
            shard(e),
            e.decision,
            name,
            e.reasons.join("; ")
        );
    }
}
