//! `imagemk pull`: per image and in parallel, pull the remote name, tag the pulled image's ID
//! with the local name (which then names the pulled image, as asked), and leave the
//! remote-named tag as it was: removed when this run created it (also after a failure or
//! Ctrl-C), put back on its image when the user had it and the pull moved it. Then record
//! what was pulled in `.imagemk/pulled.json` (see `registry::pulled`).

use std::collections::BTreeMap;

use serde_json::json;

use super::stream::run_transfer;
use super::{engine, parallel, select::select, Ctx};
use crate::cli::PullArgs;
use crate::job::JobError;
use crate::progress::Task;
use crate::reference::ImageRef;
use crate::registry::pulled::{self, Pulled};
use crate::registry::transfer::{self, PullJob};
use crate::registry::{self, local_tag, Registry};
use crate::signal;

pub fn run(ctx: &Ctx, args: &PullArgs) -> anyhow::Result<i32> {
    let ws = &ctx.ws;
    let selected = select(ws, &args.selection)?;
    let reg = registry::choose(&ws.registries, ws.registry.as_deref())?;
    let jobs = transfer::plan_pull(ws, &reg, &selected)?;
    if ctx.dry_run {
        for job in &jobs {
            for line in job.lines() {
                crate::console::outln!("{line}");
            }
        }
        crate::console::outln!("{}", transfer::PULL_NOTE);
        crate::console::outln!(
            "# record each pulled digest in {}",
            pulled::path(&ws.root).display()
        );
        return Ok(0);
    }
    // The engine answers (or the error says it is not reachable) before anything runs.
    engine::local_images(ctx, "")?;
    let daemon = engine::daemon_key(ctx);
    let limit = parallel::jobs(ctx, args.jobs, parallel::TRANSFERS);
    let deps = parallel::independent(jobs.len());
    let (results, states) = parallel::run_jobs(&deps, limit, false, parallel::by_index, |i| {
        let job = &jobs[i];
        let task = ctx
            .progress
            .task(&job.id, &format!("pulling {}", job.remote));
        let pulled = pull_one(&reg, &daemon, job, &task);
        match &pulled {
            Ok(_) => task.finish(true, &format!("pulled {}", job.remote)),
            Err(_) => task.finish(false, "failed"),
        }
        pulled
    });
    // What was pulled is recorded even when another image failed.
    let records: BTreeMap<String, Pulled> = jobs
        .iter()
        .zip(results)
        .filter_map(|(j, r)| Some((j.local.to_string(), r?)))
        .collect();
    if !records.is_empty() {
        pulled::record(&ws.root, &records)?;
    }
    if signal::interrupted() {
        return Err(signal::Interrupted.into());
    }
    parallel::fail_on(&states, "pull")?;
    report(&jobs, &records, args.json)?;
    Ok(0)
}

/// Pulls `remote` and gives `local` the pulled image's ID, as `imagemk pull` does for one
/// image (per-name lock, no remote-named tag left behind that this run created, the user's put
/// back), and records it in `.imagemk/pulled.json`. `id` names the image in messages. For
/// `build --reuse` (see `commands::reuse`), from inside a scheduled job.
pub fn pull_as(
    ctx: &Ctx,
    reg: &Registry,
    id: &str,
    remote: &ImageRef,
    local: &ImageRef,
    task: &Task,
) -> anyhow::Result<Pulled> {
    let job = PullJob {
        image: 0,
        id: id.to_string(),
        local: local.clone(),
        remote: remote.clone(),
    };
    let pulled =
        pull_one(reg, &engine::daemon_key(ctx), &job, task).map_err(anyhow::Error::from)?;
    let record = BTreeMap::from([(local.to_string(), pulled.clone())]);
    pulled::record(&ctx.ws.root, &record)?;
    Ok(pulled)
}

/// Pulls under the lock on the remote name, tags the pulled image's ID with the local name,
/// then leaves the remote-named tag as it was before: removed when this run created it, put
/// back when it was the user's and the pull moved it.
fn pull_one(reg: &Registry, daemon: &str, job: &PullJob, task: &Task) -> Result<Pulled, JobError> {
    let failed = |e: anyhow::Error| JobError::start(&format!("pull of `{}`", job.id), e);
    let _lock = local_tag::lock(&[&job.remote], daemon, |name| {
        task.line(&format!(
            "waiting for another imagemk run to finish with `{name}`"
        ))
    })
    .map_err(failed)?;
    let prior = local_tag::image_id(&job.remote.to_string()).map_err(failed)?;
    let mut pulled = None;
    let result = pull_and_tag(reg, job, &mut pulled, task);
    if job.local == job.remote {
        return result;
    }
    let cleanup = match &prior {
        None => local_tag::remove_created(&job.remote, pulled.as_deref()),
        Some(id) => local_tag::restore(&job.remote, id),
    };
    match (result, cleanup) {
        (result, Ok(())) => result,
        (Ok(_), Err(msg)) => Err(msg.into()),
        (Err(e), Err(msg)) => Err(e.and(&msg)),
    }
}

/// How often a pull is tried again when its remote-named tag vanished before it was read
/// (another machine's imagemk removed it).
const ATTEMPTS: usize = 3;

/// `docker pull`, the ID the remote name then points at (into `pulled`), and `docker tag ID
/// LOCAL`; stops between steps on Ctrl-C.
fn pull_and_tag(
    reg: &Registry,
    job: &PullJob,
    pulled: &mut Option<String>,
    task: &Task,
) -> Result<Pulled, JobError> {
    let failed = |e: anyhow::Error| JobError::start(&format!("pull of `{}`", job.id), e);
    let interrupted = JobError::interrupted;
    for _ in 0..ATTEMPTS {
        if signal::interrupted() {
            return Err(interrupted());
        }
        let cmd = job.pull();
        let output = run_transfer(&cmd, &format!("pull of `{}`", job.id), reg, task)?;
        let digest = match crate::engine::current().pull_prints_digest() {
            true => transfer::pulled_digest(&output),
            false => local_tag::manifest_digest(&job.remote.to_string()),
        };
        let digest = digest.ok_or_else(|| match crate::engine::current().pull_prints_digest() {
            true => format!(
                "the pull of `{}` succeeded but `{cmd}` printed no `Digest: sha256:…` line",
                job.id
            ),
            false => format!(
                "the pull of `{}` succeeded but `{}` reports no registry digest for it",
                job.id,
                crate::engine::image::inspect(&job.remote.to_string(), "{{.Digest}}")
            ),
        })?;
        let Some(id) = local_tag::image_id(&job.remote.to_string()).map_err(failed)? else {
            continue;
        };
        *pulled = Some(id.clone());
        if signal::interrupted() {
            return Err(interrupted());
        }
        if job.local != job.remote {
            local_tag::tag_id(&id, &job.local).map_err(failed)?;
        }
        return Ok(Pulled {
            remote: job.remote.to_string(),
            digest,
            id,
        });
    }
    Err(JobError::msg(format!(
        "the pull of `{}` failed: `{}` vanished from the engine right after each of {ATTEMPTS} pulls (is another machine pulling it through the same engine?)",
        job.id, job.remote
    )))
}

fn report(
    jobs: &[PullJob],
    records: &BTreeMap<String, Pulled>,
    as_json: bool,
) -> anyhow::Result<()> {
    let done = jobs
        .iter()
        .filter_map(|j| Some((j, records.get(&j.local.to_string())?)));
    if as_json {
        let rows: Vec<_> = done
            .map(|(job, p)| {
                json!({
                    "image": job.id,
                    "name": job.local.to_string(),
                    "remote": p.remote,
                    "digest": p.digest,
                    "id": p.id,
                })
            })
            .collect();
        crate::console::outln!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for (job, p) in done {
            crate::console::outln!("{} {}", job.local, p.digest);
        }
    }
    Ok(())
}
