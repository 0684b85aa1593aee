//! `imagemk why IMAGE…`: what `build` would do with each image of the selection and its
//! dependencies, and why (inputs compared with those recorded for the local image). Runs no
//! build; only reads the engine's image list and labels.

use super::{build, facts, outcome, Ctx};
use crate::cli::{BuildArgs, WhyArgs};
use crate::plan::{self, Action};

pub fn run(ctx: &Ctx, args: &WhyArgs) -> anyhow::Result<i32> {
    let build_args = BuildArgs {
        selection: crate::cli::Selection {
            images: args.selection.images.clone(),
            all: args.selection.all,
            kind: args.selection.kind.clone(),
        },
        deps: false,
        arg: Vec::new(),
        jobs: None,
        keep_going: false,
        json: args.json,
        force: false,
        no_cache: None,
        explain: true,
        dependents: false,
        // `why` says what this machine would do without asking any registry.
        reuse: false,
        no_reuse: true,
        timeout: None,
        locked: false,
        buildkit: Default::default(),
        shard: None,
        shard_wait: std::time::Duration::ZERO,
    };
    let req = build::request(ctx, &build_args)?;
    let facts = facts::gather(ctx, &req)?;
    let decisions = plan::decide(&ctx.ws, &req, &facts);
    if args.json {
        let rows: Vec<_> = decisions
            .iter()
            .map(|d| outcome::decision_json(&ctx.ws, d))
            .collect();
        crate::console::outln!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    for d in &decisions {
        let id = &ctx.ws.images[d.image].id;
        match &d.action {
            Action::UpToDate | Action::Pulled(_) => {
                crate::console::outln!("{id}: {}", d.reasons.join("; "))
            }
            Action::Tag(from) => crate::console::outln!("{id}: tag `{from}`"),
            Action::Build => crate::console::outln!("{id}: build"),
        }
        if !matches!(d.action, Action::UpToDate | Action::Pulled(_)) {
            for r in &d.reasons {
                crate::console::outln!("  {r}");
            }
        }
    }
    Ok(0)
}
