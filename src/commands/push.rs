//! `imagemk push`: plan (guards, missing images, remote names) before anything runs, then per
//! image and in parallel: tag the local image with each remote name, push, and remove the
//! remote tags whatever happened (success, failure, Ctrl-C). The local image is never touched.

use std::sync::Mutex;

use serde_json::json;

use super::stream::run_job;
use super::{engine, parallel, select::select, Ctx};
use crate::cli::PushArgs;
use crate::exec;
use crate::progress::Task;
use crate::reference::ImageRef;
use crate::registry::transfer::{self, PushJob, PushRequest};
use crate::registry::{self, login, Registry};
use crate::scheduler::{self, Children};
use crate::{docker, git, signal};

/// What one image's push produced.
#[derive(Debug, Clone)]
struct Pushed {
    /// Every remote name pushed, with the digest docker reported for it.
    refs: Vec<(ImageRef, String)>,
}

pub fn run(ctx: &Ctx, args: &PushArgs) -> anyhow::Result<i32> {
    let ws = &ctx.ws;
    let selected = select(ws, &args.selection)?;
    let reg = registry::choose(&ws.registries, ws.registry.as_deref())?;
    let wants_revision = ws
        .publish
        .also_tag
        .iter()
        .chain(&args.also_tag)
        .any(|t| t.contains("revision}"));
    let req = PushRequest {
        selected,
        also_tag: args.also_tag.clone(),
        force: args.force,
        revision: wants_revision
            .then(|| git::source(&ws.root).revision)
            .flatten(),
    };
    // Guards and names first: they need no engine.
    transfer::plan_push(ws, &reg, &req, None)?;
    let present = engine::local_images(ctx, "assuming every image was built")?;
    let jobs = transfer::plan_push(ws, &reg, &req, present.as_ref())?;
    if ctx.dry_run {
        for job in &jobs {
            for line in job.lines() {
                println!("{line}");
            }
        }
        return Ok(0);
    }
    let results = execute(
        ctx,
        &reg,
        &jobs,
        parallel::jobs(ctx, args.jobs, parallel::TRANSFERS),
    )?;
    report(&jobs, &results, args.json)?;
    Ok(0)
}

fn execute(
    ctx: &Ctx,
    reg: &Registry,
    jobs: &[PushJob],
    parallel: usize,
) -> anyhow::Result<Vec<Option<Pushed>>> {
    let results = Mutex::new(vec![None; jobs.len()]);
    let deps = vec![Vec::new(); jobs.len()];
    let states = scheduler::run(&deps, parallel, false, |i, children| {
        let job = &jobs[i];
        let task = ctx
            .progress
            .task(&job.id, &format!("pushing {}", job.remotes[0]));
        match push_one(reg, i, job, children, &task) {
            Ok(pushed) => {
                task.finish(true, &format!("pushed {}", job.remotes[0]));
                results.lock().unwrap()[i] = Some(pushed);
                Ok(())
            }
            Err(e) => {
                task.finish(false, "failed");
                Err(e)
            }
        }
    });
    if signal::interrupted() {
        return Err(signal::Interrupted.into());
    }
    parallel::fail_on(&states, "push")?;
    Ok(results.into_inner().unwrap())
}

/// Tags, pushes, and always untags what it tagged.
fn push_one(
    reg: &Registry,
    job_index: usize,
    job: &PushJob,
    children: &Children,
    task: &Task,
) -> Result<Pushed, String> {
    let mut tagged = Vec::new();
    let mut result = Ok(Pushed { refs: Vec::new() });
    for (remote, cmd) in job.temporary().into_iter().zip(job.tags()) {
        if let Err(e) = exec::capture(&cmd).map_err(docker::explain_engine_error) {
            result = Err(format!("the push of `{}` failed: {e:#}", job.id));
            break;
        }
        tagged.push(remote);
    }
    if result.is_ok() {
        result = push_all(reg, job_index, job, children, task);
    }
    let mut leftovers = Vec::new();
    for remote in tagged {
        if let Err(e) = exec::capture_cleanup(&docker::untag(remote)) {
            leftovers.push(format!("{e:#}"));
        }
    }
    if !leftovers.is_empty() {
        let msg = format!(
            "could not remove the temporary tag of `{}`; remove it with `docker image rm --no-prune NAME`: {}",
            job.id,
            leftovers.join("; ")
        );
        result = match result {
            Ok(_) => Err(msg),
            Err(e) => Err(format!("{e}\n{msg}")),
        };
    }
    result
}

fn push_all(
    reg: &Registry,
    job_index: usize,
    job: &PushJob,
    children: &Children,
    task: &Task,
) -> Result<Pushed, String> {
    let mut refs = Vec::new();
    for (remote, cmd) in job.remotes.iter().zip(job.pushes()) {
        if signal::interrupted() {
            return Err(signal::Interrupted.to_string());
        }
        let output = run_job(
            &cmd,
            job_index,
            children,
            &format!("push of `{}`", job.id),
            10,
            |line| task.line(line),
            |output| login::hint(reg, output),
        )?;
        let digest = transfer::pushed_digest(&output, &remote.tag).ok_or_else(|| {
            format!(
                "the push of `{}` succeeded but `{cmd}` printed no `{}: digest: sha256:…` line to read the digest from",
                job.id, remote.tag
            )
        })?;
        refs.push((remote.clone(), digest));
    }
    Ok(Pushed { refs })
}

fn report(jobs: &[PushJob], results: &[Option<Pushed>], as_json: bool) -> anyhow::Result<()> {
    let done = jobs
        .iter()
        .zip(results)
        .filter_map(|(j, r)| Some((j, r.as_ref()?)));
    if as_json {
        let rows: Vec<_> = done
            .map(|(job, pushed)| {
                json!({
                    "image": job.id,
                    "name": job.local.to_string(),
                    "remote": pushed.refs[0].0.to_string(),
                    "digest": pushed.refs[0].1,
                    "also": pushed.refs[1..].iter().map(|(r, _)| r.to_string()).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for (_, pushed) in done {
            for (remote, digest) in &pushed.refs {
                println!("{remote}@{digest}");
            }
        }
    }
    Ok(())
}
