//! `imagemk pull`: per image and in parallel, pull the remote name, tag it with the local name
//! and remove the remote tag (also after a failure or Ctrl-C, when the pull had created it);
//! then record what was pulled in `.imagemk/pulled.json` (see `registry::pulled`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::json;

use super::stream::run_job;
use super::{parallel, select::select, Ctx};
use crate::cli::PullArgs;
use crate::exec;
use crate::progress::Task;
use crate::registry::pulled::{self, Pulled};
use crate::registry::transfer::{self, PullJob};
use crate::registry::{self, login, Registry};
use crate::scheduler::{self, Children};
use crate::{docker, signal};

pub fn run(ctx: &Ctx, args: &PullArgs) -> anyhow::Result<i32> {
    let ws = &ctx.ws;
    let selected = select(ws, &args.selection)?;
    let reg = registry::choose(&ws.registries, ws.registry.as_deref())?;
    let jobs = transfer::plan_pull(ws, &reg, &selected)?;
    if ctx.dry_run {
        for job in &jobs {
            for line in job.lines() {
                println!("{line}");
            }
        }
        println!(
            "# record each pulled digest in {}",
            pulled::path(&ws.root).display()
        );
        return Ok(0);
    }
    exec::require(docker::DOCKER)?;
    let results = Mutex::new(vec![None; jobs.len()]);
    let deps = vec![Vec::new(); jobs.len()];
    let states = scheduler::run(
        &deps,
        parallel::jobs(ctx, args.jobs, parallel::TRANSFERS),
        false,
        |i, children| {
            let job = &jobs[i];
            let task = ctx
                .progress
                .task(&job.id, &format!("pulling {}", job.remote));
            match pull_one(&reg, i, job, children, &task) {
                Ok(p) => {
                    task.finish(true, &format!("pulled {}", job.remote));
                    results.lock().unwrap()[i] = Some(p);
                    Ok(())
                }
                Err(e) => {
                    task.finish(false, "failed");
                    Err(e)
                }
            }
        },
    );
    // What was pulled is recorded even when another image failed.
    let records: BTreeMap<String, Pulled> = jobs
        .iter()
        .zip(results.into_inner().unwrap())
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

fn pull_one(
    reg: &Registry,
    job_index: usize,
    job: &PullJob,
    children: &Children,
    task: &Task,
) -> Result<Pulled, String> {
    let failed = |e: anyhow::Error| format!("the pull of `{}` failed: {e:#}", job.id);
    let cmd = job.pull();
    let outcome = run_job(
        &cmd,
        job_index,
        children,
        &format!("pull of `{}`", job.id),
        10,
        |line| task.line(line),
        |output| login::hint(reg, output),
    );
    let result = outcome.and_then(|output| {
        let digest = transfer::pulled_digest(&output).ok_or_else(|| {
            format!(
                "the pull of `{}` succeeded but `{cmd}` printed no `Digest: sha256:…` line",
                job.id
            )
        })?;
        if job.local != job.remote {
            exec::capture(&job.tag()).map_err(failed)?;
        }
        let id = exec::capture(&docker::inspect(&job.local.to_string(), "{{.Id}}"))
            .map_err(failed)?
            .stdout
            .trim()
            .to_string();
        Ok(Pulled {
            remote: job.remote.to_string(),
            digest,
            id,
        })
    });
    if job.local != job.remote {
        // The remote tag exists once the pull got far enough; remove it in every case.
        if let Err(e) = exec::capture_cleanup(&job.untag()) {
            let text = format!("{e:#}");
            if !text.contains("No such image") {
                let msg = format!(
                    "could not remove the remote tag `{}`; remove it with `docker image rm --no-prune {}`: {text}",
                    job.remote, job.remote
                );
                return Err(match result {
                    Ok(_) => msg,
                    Err(e) => format!("{e}\n{msg}"),
                });
            }
        }
    }
    result
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
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for (job, p) in done {
            println!("{} {}", job.local, p.digest);
        }
    }
    Ok(())
}
