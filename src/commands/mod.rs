//! One module per subcommand. Each loads nothing itself: it gets a [`Ctx`] with the workspace,
//! the environment and the progress display, plans, then (unless `--dry-run`) executes.

#[cfg(test)]
mod bad_input_tests;
mod build;
mod build_args;
#[cfg(test)]
mod build_tests;
#[cfg(test)]
mod build_timeout_tests;
mod clean;
#[cfg(test)]
mod clean_tests;
mod completions;
mod container;
mod doctor;
mod engine;
mod extract;
mod facts;
mod list;
mod local_buildenv;
#[cfg(test)]
mod local_buildenv_tests;
mod locked;
mod login;
#[cfg(test)]
mod login_tests;
mod outcome;
mod parallel;
mod pin;
mod pin_check;
mod plan;
mod promote;
#[cfg(test)]
mod promote_tests;
mod pull;
#[cfg(test)]
mod pull_tests;
mod push;
mod push_atomic;
mod push_builder;
#[cfg(test)]
mod push_tests;
mod refs;
pub mod reuse;
mod run;
mod schema;
mod select;
mod shard;
mod stream;
mod why;
mod withdocker;

use std::path::PathBuf;

use anyhow::Context;

use crate::cli::{Cli, Command, Global};
use crate::config::{self, Env, Overrides, Workspace};
use crate::progress::Progress;

pub use build_args::{parse as parse_run_arg, RunArg};

pub struct Ctx {
    pub ws: Workspace,
    pub env: Env,
    pub progress: Progress,
    pub dry_run: bool,
    /// The directory imagemk acts in (`-C` or the current one), canonical.
    pub cwd: PathBuf,
}

pub fn dispatch(cli: Cli, env: Env) -> anyhow::Result<i32> {
    // Commands that need no workspace (doctor loads it itself and reports a failure as a check).
    match &cli.command {
        Command::Doctor(args) => return doctor::run(&cli.global, env, args),
        Command::Schema => return schema::run(),
        Command::Completions(args) => return completions::completions(args.shell),
        Command::Man => return completions::man(),
        _ => {}
    }
    let mut global = cli.global;
    // `clean` checks its own tag (empty, protected) with messages about cleaning.
    let clean_tag = match &cli.command {
        Command::Clean(_) => Some(
            global
                .tag
                .take()
                .or_else(|| env.get(&["IMAGE_TAG"]).map(String::from)),
        ),
        _ => None,
    };
    let ctx = context(&global, env)?;
    // One look at each context directory per run: many images share one, and the archive a
    // build sends is then the very listing its input digest was computed from.
    crate::context::memoize_walks();
    if let Some(name) = one_image_command(&cli.command).filter(|_| ctx.ws.variants.len() > 1) {
        anyhow::bail!(
            "`{name}` acts on one image, but several variants were asked for (`{}`); give one variant (`--variant {}`) or none",
            ctx.ws.variants.join(","),
            ctx.ws.variants[0]
        );
    }
    match cli.command {
        Command::Clean(args) => clean::run(&ctx, &args, clean_tag.flatten()),
        Command::Build(args) => build::run(&build_args::apply(ctx, &args)?, &args),
        Command::Why(args) => why::run(&ctx, &args),
        Command::List(args) => list::run(&ctx, &args),
        Command::Push(args) => push::run(&ctx, &args),
        Command::Pull(args) => pull::run(&ctx, &args),
        Command::Login => login::run(&ctx),
        Command::Run(args) => run::run(&ctx, &args),
        Command::Withdocker(args) => withdocker::run(&ctx, &args),
        Command::Extract(args) => extract::run(&ctx, &args),
        Command::LocalBuildenv(args) => local_buildenv::run(&ctx, &args),
        Command::Plan(args) => plan::run(
            &build_args::apply_to(ctx, &args.selection, args.dependents, &args.arg)?,
            &args,
        ),
        Command::Refs(args) => refs::run(&ctx, &args),
        Command::Pin(args) => pin::run(&ctx, &args),
        Command::Promote(args) => promote::run(&ctx, &args),
        Command::Doctor(_) | Command::Schema | Command::Completions(_) | Command::Man => {
            unreachable!("dispatched before the workspace loads")
        }
    }
}

/// The commands that act on one image, which several variants cannot share.
fn one_image_command(command: &Command) -> Option<&'static str> {
    match command {
        Command::Run(_) => Some("run"),
        Command::Withdocker(_) => Some("withdocker"),
        Command::Extract(_) => Some("extract"),
        Command::LocalBuildenv(_) => Some("local-buildenv"),
        _ => None,
    }
}

fn context(global: &Global, env: Env) -> anyhow::Result<Ctx> {
    let cwd = directory(global)?;
    let ws = config::variants::load(&cwd, &overrides(global), &env)?;
    let (engine, source) = choose_engine(global, &env, ws.engine)?;
    crate::engine::require_requested(engine, source)?;
    crate::engine::set(engine);
    Ok(Ctx {
        progress: Progress::new(env.is_ci()),
        ws,
        env,
        dry_run: global.dry_run,
        cwd,
    })
}

/// The directory imagemk acts in: `-C DIR` or the current one, canonical.
fn directory(global: &Global) -> anyhow::Result<PathBuf> {
    let cwd = match &global.directory {
        Some(d) => {
            std::path::absolute(d).with_context(|| format!("directory `{}`", d.display()))?
        }
        None => std::env::current_dir().context("reading the current directory")?,
    };
    Ok(cwd.canonicalize().unwrap_or(cwd))
}

/// The engine by `--engine`, the environment, `workspace.engine` (`file`) and what is installed.
fn choose_engine(
    global: &Global,
    env: &Env,
    file: Option<crate::engine::Engine>,
) -> anyhow::Result<(crate::engine::Engine, crate::engine::Source)> {
    crate::engine::choose(global.engine.as_deref(), env, file, |p| {
        crate::exec::installed(p)
    })
}

fn overrides(global: &Global) -> Overrides {
    Overrides {
        tag: global.tag.clone(),
        platform: global.platform.clone(),
        variant: global.variant.clone(),
        registry: global.registry.clone(),
        channel: global.channel.clone(),
    }
}
