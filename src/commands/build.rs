//! `imagemk build`: select, ask the engine what exists, plan, then build the plan's steps with
//! the scheduler, streaming each build's output to its log file and the progress display.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

use super::stream::run_job;
use super::{engine, select::select, Ctx};
use crate::cli::BuildArgs;
use crate::config::Workspace;
use crate::plan::{self, BuildPlan, BuildRequest, BuildStep};
use crate::scheduler::{self, Children, State};
use crate::stage::Staged;
use crate::{git, signal};

pub fn run(ctx: &Ctx, args: &BuildArgs) -> anyhow::Result<i32> {
    let ws = &ctx.ws;
    let selected = select(ws, &args.selection)?;
    // Problems of the selected images are reported before any command runs.
    if let Some(problem) = selected.iter().flat_map(|&i| &ws.images[i].problems).next() {
        anyhow::bail!("{problem}");
    }
    let present = engine::local_images(ctx, "planning every dependency")?.unwrap_or_default();
    let source = git::source(&ws.root);
    let labels = plan::labels(source.revision.as_deref(), source.branch.as_deref());
    let req = BuildRequest {
        selected,
        rebuild_deps: args.deps,
    };
    let plan = plan::build(ws, &req, &present, &labels)?;
    if ctx.dry_run {
        print_plan(ws, &plan, args.json)?;
        return Ok(0);
    }
    for &i in &plan.reused {
        let img = &ws.images[i];
        ctx.progress.println(&format!(
            "using existing {} (`{}`); `--deps` rebuilds it",
            img.id, img.name
        ));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = super::parallel::jobs(ctx, args.jobs, cores);
    execute(ctx, &plan, jobs, args.keep_going)
}

fn print_plan(ws: &Workspace, plan: &BuildPlan, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        let steps: Vec<_> = plan
            .steps
            .iter()
            .map(|s| {
                json!({
                    "image": s.id,
                    "name": ws.images[s.image].name.to_string(),
                    "after": s.deps.iter().map(|&d| plan.steps[d].id.clone()).collect::<Vec<_>>(),
                    "command": s.cmd.to_string(),
                    "argv": std::iter::once(s.cmd.program.clone()).chain(s.cmd.args.clone()).collect::<Vec<_>>(),
                })
            })
            .collect();
        let reused: Vec<_> = plan
            .reused
            .iter()
            .map(|&i| ws.images[i].id.clone())
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "steps": steps, "reused": reused }))?
        );
    } else {
        for step in &plan.steps {
            for line in step.lines() {
                println!("{line}");
            }
        }
    }
    Ok(())
}

fn log_path(ws: &Workspace, id: &str) -> PathBuf {
    ws.root
        .join(".imagemk")
        .join("logs")
        .join(format!("{id}.log"))
}

fn execute(ctx: &Ctx, plan: &BuildPlan, jobs: usize, keep_going: bool) -> anyhow::Result<i32> {
    let deps: Vec<Vec<usize>> = plan.steps.iter().map(|s| s.deps.clone()).collect();
    let states = scheduler::run(&deps, jobs, keep_going, |i, children| {
        let step = &plan.steps[i];
        let task = ctx.progress.task(&step.id, "building");
        let result = build_one(i, step, &log_path(&ctx.ws, &step.id), children, &task);
        match &result {
            Ok(()) => task.finish(true, "built"),
            Err(_) => task.finish(false, "failed"),
        }
        result
    });
    let summary = summarize(plan, &states);
    ctx.progress.println(&summary);
    if signal::interrupted() {
        return Err(signal::Interrupted.into());
    }
    let failures: Vec<&String> = states
        .iter()
        .filter_map(|s| match s {
            State::Failed(msg) => Some(msg),
            _ => None,
        })
        .collect();
    match failures.len() {
        0 => Ok(0),
        1 => anyhow::bail!("{}", failures[0]),
        n => anyhow::bail!(
            "{n} images failed to build:\n{}",
            failures
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// Stages files, runs `docker build` with its output going to the log and the display, and
/// unstages whatever happens.
fn build_one(
    job: usize,
    step: &BuildStep,
    log: &Path,
    children: &Children,
    task: &crate::progress::Task,
) -> Result<(), String> {
    let failed = |e: anyhow::Error| format!("the build of `{}` failed: {e:#}", step.id);
    let _staged = Staged::copy(&step.stage).map_err(failed)?;
    let mut log_file = open_log(log).map_err(failed)?;
    let _ = writeln!(log_file, "$ {}", step.cmd);
    run_job(
        &step.cmd,
        job,
        children,
        &format!("build of `{}`", step.id),
        15,
        |line| {
            task.line(line);
            let _ = writeln!(log_file, "{line}");
        },
        |_| Some(format!("  full log: {}", log.display())),
    )
    .map(|_| ())
}

fn open_log(path: &Path) -> anyhow::Result<File> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    }
    File::create(path).with_context(|| format!("creating the log `{}`", path.display()))
}

fn summarize(plan: &BuildPlan, states: &[State]) -> String {
    let mut built = Vec::new();
    let mut failed = Vec::new();
    let mut skipped = Vec::new();
    for (step, state) in plan.steps.iter().zip(states) {
        match state {
            State::Done => built.push(step.id.clone()),
            State::Failed(_) => failed.push(step.id.clone()),
            State::Skipped(d) => skipped.push(format!("{} (needs {})", step.id, plan.steps[*d].id)),
            State::NotStarted => skipped.push(format!("{} (not started)", step.id)),
            State::Pending | State::Running => {}
        }
    }
    let mut parts = vec![format!("{} built", built.len())];
    if !failed.is_empty() {
        parts.push(format!("{} failed: {}", failed.len(), failed.join(", ")));
    }
    if !skipped.is_empty() {
        parts.push(format!("{} skipped: {}", skipped.len(), skipped.join(", ")));
    }
    format!("summary: {}", parts.join("; "))
}
