//! `imagemk build`: select, gather the facts (local images, input digests), decide per image
//! (up to date, tag, build), then run the plan's steps with the scheduler, streaming each
//! build's output to its log file and the progress display.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde_json::json;

use super::shard::Part;
use super::stream::{failed, finish_job_within};
use super::{facts, locked, outcome, reuse, Ctx};
use crate::cli::BuildArgs;
use crate::config::Workspace;
use crate::exec::Streamed;
use crate::job::{JobError, Kind};
use crate::plan::{self, Action, BuildPlan, BuildRequest, BuildStep};
use crate::scheduler::State;
use crate::{context, signal};

pub fn run(ctx: &Ctx, args: &BuildArgs) -> anyhow::Result<i32> {
    let mut req = request(ctx, args)?;
    if let (Some(b), false) = (&req.builder, ctx.dry_run) {
        crate::builder::require(b)?;
    }
    let reuse_on = reuse::wanted(ctx, args.reuse, args.no_reuse)?;
    let part = match args.shard {
        Some(s) => Some(Part::new(ctx, &req, s)?),
        None => None,
    };
    req.only = part.as_ref().map(|p| p.own.clone());
    let mut facts = facts::gather(ctx, &req)?;
    if !ctx.dry_run {
        facts::record(&ctx.ws, &facts);
    }
    locked::pull(ctx, &req, &mut facts, !args.json)?;
    if let Some(p) = &part {
        p.fetch(ctx, &facts, args.shard_wait)?;
    }
    reuse::apply(ctx, &req, &mut facts, reuse_on)?;
    let plan = plan::build(&ctx.ws, &req, &facts)?;
    if ctx.dry_run {
        tell_decisions(ctx, &plan, true);
        print_plan(&ctx.ws, &plan, args.json)?;
    } else {
        tell_decisions(ctx, &plan, args.explain);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let jobs = super::parallel::jobs(ctx, args.jobs, cores);
        let (states, took) = execute(ctx, &plan, jobs, args.keep_going, args.timeout);
        // A shard leaves the measurements alone: every shard must split by the same ones.
        if part.is_none() {
            crate::durations::record(&ctx.ws.root, &took);
        }
        if args.json {
            outcome::print(ctx, &plan, &states)?;
        }
        outcome::result(&plan, &states)?;
    }
    if let Some(p) = &part {
        p.push(ctx, args.jobs)?;
    }
    Ok(0)
}

/// The checked request: selection, problems of the selected images and staged paths are
/// reported before any command runs.
pub fn request(ctx: &Ctx, args: &BuildArgs) -> anyhow::Result<BuildRequest> {
    let ws = &ctx.ws;
    let selected = super::select::buildable(ws, &args.selection)?;
    let (no_cache, no_cache_for) = no_cache(ws, args.no_cache.as_deref())?;
    let mut req = BuildRequest {
        selected,
        rebuild_deps: args.deps,
        force: args.force,
        dependents: args.dependents,
        no_cache,
        no_cache_for,
        locked: Default::default(),
        builder: crate::builder::from_args(&args.buildkit, &ctx.env)?,
        only: None,
    };
    if args.locked {
        req.locked = locked::parents(ctx, &req)?;
    }
    Ok(req)
}

/// `--no-cache` alone (every image) or `--no-cache=a,b` (those images, by any name `build`
/// takes).
fn no_cache(
    ws: &Workspace,
    given: Option<&[String]>,
) -> anyhow::Result<(bool, std::collections::BTreeSet<usize>)> {
    let Some(names) = given else {
        return Ok((false, Default::default()));
    };
    let names: Vec<&String> = names.iter().filter(|n| !n.is_empty()).collect();
    if names.is_empty() {
        return Ok((true, Default::default()));
    }
    let found = names
        .iter()
        .map(|n| super::select::find(ws, n).map_err(|e| anyhow::anyhow!("`--no-cache={n}`: {e}")))
        .collect::<anyhow::Result<_>>()?;
    let found = super::select::with_variants(ws, found);
    Ok((false, found.into_iter().collect()))
}

/// One line per image that is not built (up to date, tagged); with `explain`, every
/// image's reasons.
fn tell_decisions(ctx: &Ctx, plan: &BuildPlan, explain: bool) {
    for d in &plan.decisions {
        let id = ctx.ws.shown_id(d.image);
        let show = explain || d.action != Action::Build;
        if !show {
            continue;
        }
        let what = match &d.action {
            Action::UpToDate | Action::Pulled(_) => "",
            Action::Tag(_) => "tag: ",
            Action::Build => "build: ",
        };
        ctx.progress
            .println(&format!("{id}: {what}{}", d.reasons.join("; ")));
    }
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
            .decisions
            .iter()
            .filter(|d| d.action == Action::UpToDate)
            .map(|d| ws.images[d.image].id.clone())
            .collect();
        let decisions: Vec<_> = plan
            .decisions
            .iter()
            .map(|d| outcome::decision_json(ws, d))
            .collect();
        crate::console::outln!(
            "{}",
            serde_json::to_string_pretty(
                &json!({ "steps": steps, "reused": reused, "decisions": decisions })
            )?
        );
    } else {
        for step in &plan.steps {
            for line in step.lines() {
                crate::console::outln!("{line}");
            }
        }
    }
    Ok(())
}

pub(super) fn log_path(ws: &Workspace, id: &str) -> PathBuf {
    ws.root
        .join(".imagemk")
        .join("logs")
        .join(format!("{id}.log"))
}

/// Runs the plan's steps; a build's deadline is `timeout` (the run's `--timeout`) or else its
/// image's `timeout:`. Returns each step's state and how long each successful build took.
fn execute(
    ctx: &Ctx,
    plan: &BuildPlan,
    jobs: usize,
    keep_going: bool,
    timeout: Option<Duration>,
) -> (Vec<State>, std::collections::BTreeMap<String, Duration>) {
    let deps: Vec<Vec<usize>> = plan.steps.iter().map(|s| s.deps.clone()).collect();
    let name = |i: usize| format!("the build of `{}`", plan.steps[i].id);
    let (took, states) = super::parallel::run_jobs(&deps, jobs, keep_going, name, |i| {
        let step = &plan.steps[i];
        let Some(spec) = &step.context else {
            return tag_one(step).map(|()| None);
        };
        let task = ctx.progress.task(&step.id, "building");
        let limit = timeout.or(ctx.ws.images[step.image].timeout);
        let log = log_path(&ctx.ws, &step.id);
        let started = std::time::Instant::now();
        let result = build_one(step, spec, &log, limit, &task);
        match &result {
            Ok(()) => task.finish(true, "built"),
            Err(_) if signal::interrupted() => task.finish(false, "stopped"),
            Err(e) if e.is(Kind::TimedOut) => task.finish(false, "timed out"),
            Err(_) => task.finish(false, "failed"),
        }
        result.map(|()| Some(started.elapsed()))
    });
    let summary = summarize(plan, &states, signal::interrupted());
    ctx.progress.println(&summary);
    let took = (plan.steps.iter().zip(took))
        .filter_map(|(step, took)| Some((step.id.clone(), took.flatten()?)))
        .collect();
    (states, took)
}

/// `docker tag` of the local image that carries the same inputs.
fn tag_one(step: &BuildStep) -> Result<(), JobError> {
    crate::exec::capture(&step.cmd)
        .map(|_| ())
        .map_err(|e| failed(&format!("tag of `{}`", step.id), e))
}

/// Lists the context (a bad or unreadable file fails here, before docker starts), then runs
/// `docker build … -` while another thread streams the archive into its stdin; the output
/// goes to the run's log and the display. Nothing is written into the user's tree.
pub(super) fn build_one(
    step: &BuildStep,
    spec: &context::Spec,
    log: &Path,
    limit: Option<Duration>,
    task: &crate::progress::Task,
) -> Result<(), JobError> {
    let what = format!("build of `{}`", step.id);
    let archive = context::walk(spec).map_err(|e| failed(&what, e))?;
    let mut log_file = RunLog::create(log).map_err(|e| failed(&what, e))?;
    log_file.line(&format!("$ {}", step.cmd));
    let (reader, writer) = os_pipe::pipe()
        .context("creating the pipe for the build context")
        .map_err(|e| failed(&what, e))?;
    let child = Streamed::start_with_stdin(&step.cmd, reader).map_err(|e| failed(&what, e))?;
    let (sent, built) = std::thread::scope(|scope| {
        let sender = scope.spawn(move || context::write(&archive, writer));
        let built = finish_job_within(
            &step.cmd,
            child,
            limit,
            &what,
            15,
            |line| {
                task.line(line);
                log_file.line(line);
            },
            |_| Some((Kind::Other, format!("  full log: {}", log.display()))),
        );
        (sender.join(), built)
    });
    match sent {
        Err(_) => Err(JobError::msg(format!(
            "internal error: sending the context of `{}` panicked",
            step.id
        ))),
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

/// One line: what was built or tagged, what is up to date, what failed (after a signal:
/// what was stopped), what was skipped.
fn summarize(plan: &BuildPlan, states: &[State], interrupted: bool) -> String {
    let mut built = Vec::new();
    let mut tagged = Vec::new();
    let mut failed = Vec::new();
    let mut skipped = Vec::new();
    for (step, state) in plan.steps.iter().zip(states) {
        match state {
            State::Done if step.context.is_none() => tagged.push(step.id.clone()),
            State::Done => built.push(step.id.clone()),
            State::Failed(_) => failed.push(step.id.clone()),
            State::Skipped(d) => skipped.push(format!("{} (needs {})", step.id, plan.steps[*d].id)),
            State::NotStarted => skipped.push(format!("{} (not started)", step.id)),
            State::Pending | State::Running => {}
        }
    }
    let fresh = plan
        .decisions
        .iter()
        .filter(|d| d.action == Action::UpToDate)
        .count();
    let mut parts = vec![format!("{} built", built.len())];
    if !tagged.is_empty() {
        parts.push(format!("{} tagged", tagged.len()));
    }
    if fresh > 0 {
        parts.push(format!("{fresh} up to date"));
    }
    if !failed.is_empty() {
        let verb = if interrupted { "stopped" } else { "failed" };
        parts.push(format!("{} {verb}: {}", failed.len(), failed.join(", ")));
    }
    if !skipped.is_empty() {
        parts.push(format!("{} skipped: {}", skipped.len(), skipped.join(", ")));
    }
    format!("summary: {}", parts.join("; "))
}
