//! `imagemk push --atomic`: every image is pushed first under one run-unique staging tag
//! (`imagemk-stage-<pid>-<random>`, through the same local-tag rules and per-name locks as any
//! push); only when all succeeded are the real tags pointed at the pushed digests
//! (`registry::moves`, all or nothing); the staging tags are then removed. A failed push or
//! Ctrl-C leaves every real tag where it was and no staging tag behind.

use super::push::{self, Pushed};
use super::{parallel, Ctx};
use crate::cli::PushArgs;
use crate::registry::backend::Backend;
use crate::registry::moves::{self, Move};
use crate::registry::transfer::PushJob;
use crate::registry::Registry;
use crate::{exec, signal, ExitStatus};

pub fn run(ctx: &Ctx, reg: &Registry, jobs: &[PushJob], args: &PushArgs) -> anyhow::Result<i32> {
    let backend = Backend::new(reg, &ctx.env)?;
    let stage = stage_tag();
    let staged: Vec<PushJob> = jobs.iter().map(|j| staged(j, &stage)).collect();
    if ctx.dry_run {
        dry_run(&backend, reg, jobs, &staged, &stage);
        return Ok(0);
    }
    let (results, states) = push::execute(ctx, reg, &staged, args);
    let pushed: Vec<Option<String>> = results
        .iter()
        .map(|r| r.as_ref().map(|p| p.refs[0].1.clone()))
        .collect();
    let failed = parallel::fail_on(&states, "push").err();
    if failed.is_some() || signal::interrupted() || pushed.iter().any(Option::is_none) {
        let cause = match failed {
            Some(e) => format!("{e:#}"),
            None => signal::Interrupted.to_string(),
        };
        return Err(nothing_published(
            &backend, reg, jobs, &pushed, &stage, &cause,
        ));
    }
    let digests: Vec<String> = pushed.into_iter().flatten().collect();
    let removed = publish(&backend, reg, jobs, &digests, &stage)?;
    let results: Vec<Option<Pushed>> = jobs
        .iter()
        .zip(&digests)
        .map(|(j, d)| {
            Some(Pushed {
                refs: j.remotes.iter().map(|r| (r.clone(), d.clone())).collect(),
            })
        })
        .collect();
    if args.lock {
        push::lock_pushed(ctx, jobs, &results)?;
    }
    push::report(jobs, &results, args.json)?;
    removed.map_err(anyhow::Error::msg)?;
    Ok(0)
}

/// Every push succeeded: the real tags move to the pushed digests as one set, then the
/// staging tags go (whatever happened). Ok holds the outcome of that removal.
fn publish(
    backend: &Backend,
    reg: &Registry,
    jobs: &[PushJob],
    digests: &[String],
    stage: &str,
) -> anyhow::Result<Result<(), String>> {
    let mut set = real_moves(reg, jobs, digests);
    let published = moves::read_old(backend, &mut set).map_err(|e| moves::Failed {
        message: format!("{e:#}"),
        interrupted: false,
    });
    let finish = "run the same `imagemk push --atomic` again";
    let published = published.and_then(|()| moves::apply(backend, &reg.host, &set, finish));
    let removed = remove_staging(backend, reg, jobs, stage, &vec![true; jobs.len()]);
    match published {
        Err(failed) => Err(ExitStatus {
            code: if failed.interrupted { 130 } else { 1 },
            message: Some(format!(
                "every image was pushed under `{stage}`, but publishing the real tags failed: {failed}{}",
                removed.err().map(|e| format!("\n{e}")).unwrap_or_default()
            )),
        }
        .into()),
        Ok(()) => Ok(removed),
    }
}

/// `imagemk-stage-<pid>-<8 hex>`: a valid docker tag no other run uses.
fn stage_tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mixed = (nanos as u64 ^ u64::from(std::process::id()).rotate_left(32))
        .wrapping_mul(0x9E3779B97F4A7C15);
    format!("imagemk-stage-{}-{:08x}", std::process::id(), mixed >> 32)
}

/// The job that pushes `job`'s image under the staging tag alone.
fn staged(job: &PushJob, stage: &str) -> PushJob {
    PushJob {
        remotes: vec![job.remotes[0].with_tag(stage)],
        ..job.clone()
    }
}

/// The repository of `name` under the registry's host.
fn repo_of(reg: &Registry, name: &crate::reference::ImageRef) -> String {
    let under = format!("{}/", reg.host);
    name.repository
        .strip_prefix(&under)
        .unwrap_or(&name.repository)
        .to_string()
}

/// Every real tag of every job, pointed at that job's pushed digest.
fn real_moves(reg: &Registry, jobs: &[PushJob], digests: &[String]) -> Vec<Move> {
    jobs.iter()
        .zip(digests)
        .flat_map(|(j, d)| {
            j.remotes
                .iter()
                .map(move |r| Move::new(&repo_of(reg, r), &r.tag, d))
        })
        .collect()
}

fn dry_run(backend: &Backend, reg: &Registry, jobs: &[PushJob], staged: &[PushJob], stage: &str) {
    for job in staged {
        for line in job.lines() {
            crate::console::outln!("{line}");
        }
    }
    crate::console::outln!(
        "# then, only when every push succeeded (DIGEST: what each push reported):"
    );
    let set = real_moves(reg, jobs, &vec!["DIGEST".to_string(); jobs.len()]);
    let lines = [
        moves::read_lines(backend, &set),
        moves::point_lines(backend, &set),
    ];
    for line in lines.concat() {
        crate::console::outln!("{line}");
    }
    for job in jobs {
        let op = backend.remove(&repo_of(reg, &job.remotes[0]), stage);
        crate::console::outln!("{}", backend.render(&op));
    }
    crate::console::outln!("# a failed push or Ctrl-C moves no real tag; the staging tags are removed whatever happens");
}

/// The error for a staging phase that did not fully succeed: staging tags removed, what was
/// pushed and rolled back.
fn nothing_published(
    backend: &Backend,
    reg: &Registry,
    jobs: &[PushJob],
    pushed: &[Option<String>],
    stage: &str,
    cause: &str,
) -> anyhow::Error {
    let known: Vec<bool> = pushed.iter().map(Option::is_some).collect();
    let removed = remove_staging(backend, reg, jobs, stage, &known);
    let names: Vec<String> = jobs
        .iter()
        .zip(pushed)
        .filter(|(_, p)| p.is_some())
        .map(|(j, _)| format!("`{}`", j.id))
        .collect();
    let rolled = match names.len() {
        0 => "no image was pushed".to_string(),
        _ => format!(
            "pushed under `{stage}` and rolled back: {} (staging tags removed)",
            names.join(", ")
        ),
    };
    let mut msg = format!(
        "{cause}\nnothing was published (push --atomic): the real tags were not touched; {rolled}"
    );
    if let Err(e) = removed {
        msg.push_str(&format!("\n{e}"));
    }
    ExitStatus {
        code: if signal::interrupted() { 130 } else { 1 },
        message: Some(msg),
    }
    .into()
}

/// Removes the staging tag of every job: directly where the push is known to have made it
/// (`known`), after a read elsewhere (a push that failed or was stopped may have made it).
/// Runs after Ctrl-C too. An error names each tag left and the call that removes it.
fn remove_staging(
    backend: &Backend,
    reg: &Registry,
    jobs: &[PushJob],
    stage: &str,
    known: &[bool],
) -> Result<(), String> {
    let mut left = Vec::new();
    for (job, &known) in jobs.iter().zip(known) {
        let repo = repo_of(reg, &job.remotes[0]);
        let name = format!("{}/{repo}:{stage}", reg.host);
        let op = backend.remove(&repo, stage);
        let how = backend.render(&op);
        if !known {
            match backend.current(&repo, &[stage.to_string()]) {
                Ok(now) if now.values().all(Option::is_none) => continue,
                Ok(_) => {}
                Err(e) => {
                    left.push(format!("\n  could not check whether `{name}` exists ({e:#}); if it does, remove it with: {how}"));
                    continue;
                }
            }
        }
        if let Err(e) = backend.apply_with(&op, exec::capture_cleanup) {
            left.push(format!(
                "\n  could not remove `{name}` ({e:#}); remove it with: {how}"
            ));
        }
    }
    match left.is_empty() {
        true => Ok(()),
        false => Err(format!("staging tags that may be left:{}", left.concat())),
    }
}
