//! `imagemk build`: select, ask the engine what exists, plan, then build the plan's steps with
//! the scheduler, streaming each build's output to its log file and the progress display.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

use super::stream::{failed, finish_job};
use super::{engine, select::select, Ctx};
use crate::cli::BuildArgs;
use crate::config::Workspace;
use crate::exec::Streamed;
use crate::plan::{self, BuildPlan, BuildRequest, BuildStep};
use crate::scheduler::{self, State};
use crate::{context, git, signal};

pub fn run(ctx: &Ctx, args: &BuildArgs) -> anyhow::Result<i32> {
    let ws = &ctx.ws;
    let selected = select(ws, &args.selection)?;
    // Problems of the selected images are reported before any command runs.
    if let Some(problem) = selected.iter().flat_map(|&i| &ws.images[i].problems).next() {
        anyhow::bail!("{problem}");
    }
    plan::check_inputs(ws, &selected)?;
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
    let name = |i: usize| format!("the build of `{}`", plan.steps[i].id);
    let states = scheduler::run_named(&deps, jobs, keep_going, name, |i, _| {
        let step = &plan.steps[i];
        let task = ctx.progress.task(&step.id, "building");
        let result = build_one(step, &log_path(&ctx.ws, &step.id), &task);
        match &result {
            Ok(()) => task.finish(true, "built"),
            Err(_) => task.finish(false, "failed"),
        }
        result
    });
    let summary = summarize(plan, &states, signal::interrupted());
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

/// Lists the context (a bad or unreadable file fails here, before docker starts), then runs
/// `docker build … -` while another thread streams the archive into its stdin; the output
/// goes to the run's log and the display. Nothing is written into the user's tree.
fn build_one(step: &BuildStep, log: &Path, task: &crate::progress::Task) -> Result<(), String> {
    let what = format!("build of `{}`", step.id);
    let archive = context::walk(&step.context).map_err(|e| failed(&what, e))?;
    let mut log_file = RunLog::create(log).map_err(|e| failed(&what, e))?;
    log_file.line(&format!("$ {}", step.cmd));
    let (reader, writer) = os_pipe::pipe()
        .context("creating the pipe for the build context")
        .map_err(|e| failed(&what, e))?;
    let child = Streamed::start_with_stdin(&step.cmd, reader).map_err(|e| failed(&what, e))?;
    let (sent, built) = std::thread::scope(|scope| {
        let sender = scope.spawn(move || context::write(&archive, writer));
        let built = finish_job(
            &step.cmd,
            child,
            &what,
            15,
            |line| {
                task.line(line);
                log_file.line(line);
            },
            |_| Some(format!("  full log: {}", log.display())),
        );
        (sender.join(), built)
    });
    match sent {
        Err(_) => Err(format!(
            "internal error: sending the context of `{}` panicked",
            step.id
        )),
        // The build's own error comes first unless the archive was cut by a bad file: then
        // the file is the cause (a closed pipe only means docker stopped reading).
        Ok(Err(e)) if !broken_pipe(&e) && !signal::interrupted() => Err(failed(&what, e)),
        _ => built.map(|_| ()),
    }
}

fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// One build's log: written to a file of this run only (`<image>.<pid>.log.part`), renamed to
/// `<image>.log` when the build ends, so two runs never interleave lines in one file.
struct RunLog {
    part: PathBuf,
    path: PathBuf,
    file: File,
}

impl RunLog {
    fn create(path: &Path) -> anyhow::Result<RunLog> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
        }
        let mut part = path.as_os_str().to_owned();
        part.push(format!(".{}.part", std::process::id()));
        let part = PathBuf::from(part);
        let file = File::create(&part)
            .with_context(|| format!("creating the log `{}`", part.display()))?;
        Ok(RunLog {
            part,
            path: path.to_path_buf(),
            file,
        })
    }

    fn line(&mut self, text: &str) {
        let _ = writeln!(self.file, "{text}");
    }
}

impl Drop for RunLog {
    fn drop(&mut self) {
        let _ = fs::rename(&self.part, &self.path);
    }
}

/// One line: what was built, what failed (after a signal: what was stopped), what was skipped.
fn summarize(plan: &BuildPlan, states: &[State], interrupted: bool) -> String {
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
        let verb = if interrupted { "stopped" } else { "failed" };
        parts.push(format!("{} {verb}: {}", failed.len(), failed.join(", ")));
    }
    if !skipped.is_empty() {
        parts.push(format!("{} skipped: {}", skipped.len(), skipped.join(", ")));
    }
    format!("summary: {}", parts.join("; "))
}
