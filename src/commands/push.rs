//! `imagemk push`: plan (guards, missing images, remote names, remote-named tags that already
//! exist as another image) before anything runs, then per image and in parallel: tag the
//! local image's ID with each remote name that does not exist yet, push, and remove the tags
//! this run created whatever happened (success, failure, Ctrl-C). The local image and every
//! tag the user had are never touched. See `registry::local_tag` for ownership and locking.

use serde_json::json;

use super::engine::{self, daemon_key};
use super::stream::run_transfer;
use super::{parallel, select::select, Ctx};
use crate::cli::PushArgs;
use crate::engine::image;
use crate::job::{JobError, Kind};
use crate::progress::Task;
use crate::reference::ImageRef;
use crate::registry::transfer::{self, PushJob, PushRequest};
use crate::registry::{self, local_tag, Registry};
use crate::scheduler;
use crate::{git, signal};

/// What one image's push produced.
#[derive(Debug, Clone)]
pub(super) struct Pushed {
    /// Every remote name pushed, with the digest docker reported for it.
    pub refs: Vec<(ImageRef, String)>,
}

pub fn run(ctx: &Ctx, args: &PushArgs) -> anyhow::Result<i32> {
    let selected = select(&ctx.ws, &args.selection)?;
    push(ctx, selected, args, false)
}

/// Pushes the images `selected` (indices); the pushed names go to stdout, or with `quiet`
/// (a shard pushing its part after its build) to the progress display.
pub fn push(ctx: &Ctx, selected: Vec<usize>, args: &PushArgs, quiet: bool) -> anyhow::Result<i32> {
    let ws = &ctx.ws;
    let reg = registry::choose(&ws.registries, ws.registry.as_deref())?;
    if args.lock {
        // A malformed lock stops the push before anything is pushed.
        crate::lock::Lock::load(&ws.root)?;
    }
    let wants_revision = ws.publish.wants_revision()
        || args
            .also_tag
            .iter()
            .any(|t| crate::config::typed::needs_revision(t));
    let req = PushRequest {
        selected,
        also_tag: args.also_tag.clone(),
        force: args.force,
        revision: wants_revision
            .then(|| git::source(&ws.root).revision)
            .flatten(),
    };
    // Guards and names first: they need no engine.
    let planned = transfer::plan_push(ws, &reg, &req, None)?;
    if let Some(b) = crate::builder::from_args(&args.buildkit, &ctx.env)? {
        if args.atomic || args.lock {
            anyhow::bail!(
                "`--builder` pushes straight from the builder, which `--atomic` and `--lock` do not support yet; push without `--builder` (build with it first), or drop `--atomic`/`--lock`"
            );
        }
        return super::push_builder::run(ctx, &reg, &planned, &b, args);
    }
    // A shard's dry run pushes what its build would have built: every image assumed built.
    let present = match quiet && ctx.dry_run {
        true => None,
        false => engine::local_images(ctx, "assuming every image was built")?,
    };
    let mut jobs = transfer::plan_push(ws, &reg, &req, present.as_ref())?;
    if present.is_some() {
        add_input_tags(ctx, &mut jobs)?;
        // An atomic push tags only its staging names locally, which no one else uses.
        if !args.atomic {
            check_existing_tags(&jobs)?;
        }
    }
    if args.atomic {
        return super::push_atomic::run(ctx, &reg, &jobs, args);
    }
    if ctx.dry_run {
        print_dry_run(ctx, &jobs, args, quiet);
        return Ok(0);
    }
    let (results, states) = execute(ctx, &reg, &jobs, args);
    finish(ctx, &jobs, &results, &states, args, quiet)
}

/// The commands a push would run, then what `--lock` would write: on stdout, or with `quiet`
/// on the progress display.
fn print_dry_run(ctx: &Ctx, jobs: &[PushJob], args: &PushArgs, quiet: bool) {
    let mut lines: Vec<String> = jobs.iter().flat_map(|j| j.lines()).collect();
    lines.push(transfer::PUSH_NOTE.to_string());
    if args.lock {
        lines.push(format!(
            "# then write each pushed digest to {}",
            crate::lock::path(&ctx.ws.root).display()
        ));
    }
    for line in lines {
        match quiet {
            true => ctx.progress.println(&line),
            false => crate::console::outln!("{line}"),
        }
    }
}

/// After the pushes ran: the lock written, then the status and what was pushed.
fn finish(
    ctx: &Ctx,
    jobs: &[PushJob],
    results: &[Option<Pushed>],
    states: &[scheduler::State],
    args: &PushArgs,
    quiet: bool,
) -> anyhow::Result<i32> {
    // What was pushed is locked even when another image failed; a failed one writes nothing.
    if args.lock {
        lock_pushed(ctx, jobs, results)?;
    }
    if signal::interrupted() {
        return Err(signal::Interrupted.into());
    }
    if let Err(e) = parallel::fail_on(states, "push") {
        // With --keep-going the pushes that succeeded are reported too.
        if args.keep_going {
            report(jobs, results, args.json)?;
        }
        return Err(e);
    }
    if quiet {
        for line in pushed_lines(jobs, results) {
            ctx.progress.println(&format!("pushed {line}"));
        }
    } else {
        report(jobs, results, args.json)?;
    }
    Ok(0)
}

/// Records in images.lock, for every job that was pushed, its first remote name's repository,
/// tag and the manifest digest the registry reported to `docker push`.
pub(super) fn lock_pushed(
    ctx: &Ctx,
    jobs: &[PushJob],
    results: &[Option<Pushed>],
) -> anyhow::Result<()> {
    let mut entries = Vec::new();
    for (job, pushed) in jobs.iter().zip(results) {
        let Some((remote, digest)) = pushed.as_ref().and_then(|p| p.refs.first()) else {
            continue;
        };
        let digest = crate::lock::Digest::parse(digest).map_err(|e| {
            anyhow::anyhow!(
                "the push of `{}` reported a digest imagemk cannot lock: {e}",
                job.id
            )
        })?;
        entries.push(crate::lock::Entry {
            remote: remote.repository.clone(),
            image: job.id.clone(),
            tag: remote.tag.clone(),
            digest,
        });
    }
    if !entries.is_empty() {
        crate::lock::Lock::update(&ctx.ws.root, entries)?;
    }
    Ok(())
}

/// Pushes every job (at most `-j` at once; after a failure the others go on only with
/// `--keep-going`): what each pushed, and each job's end state.
pub(super) fn execute(
    ctx: &Ctx,
    reg: &Registry,
    jobs: &[PushJob],
    args: &PushArgs,
) -> (Vec<Option<Pushed>>, Vec<scheduler::State>) {
    let parallel = parallel::jobs(ctx, args.jobs, parallel::TRANSFERS);
    let deps = parallel::independent(jobs.len());
    parallel::run_jobs(&deps, parallel, args.keep_going, parallel::by_index, |i| {
        let job = &jobs[i];
        let task = ctx
            .progress
            .task(&job.id, &format!("pushing {}", job.remotes[0]));
        let pushed = push_one(reg, &daemon_key(ctx), i, job, &task);
        match &pushed {
            Ok(_) => task.finish(true, &format!("pushed {}", job.remotes[0])),
            Err(_) => task.finish(false, "failed"),
        }
        pushed
    })
}

/// Tags, pushes, and removes the tags it created, whatever happened (success, failure,
/// Ctrl-C). Holds the lock on every remote name of the job throughout.
fn push_one(
    reg: &Registry,
    daemon: &str,
    job_index: usize,
    job: &PushJob,
    task: &Task,
) -> Result<Pushed, JobError> {
    let failed = |e: anyhow::Error| JobError::start(&format!("push of `{}`", job.id), e);
    let names: Vec<&ImageRef> = job.remotes.iter().collect();
    let _lock = local_tag::lock(&names, daemon, |name| {
        task.line(&format!(
            "waiting for another imagemk run to finish with `{name}`"
        ))
    })
    .map_err(failed)?;
    let id = local_tag::image_id(&job.local.to_string())
        .map_err(failed)?
        .ok_or_else(|| {
            JobError::msg(format!(
                "the push of `{}` failed: there is no local `{}` any more",
                job.id, job.local
            ))
        })?;
    let mut owned = Vec::new();
    let result = tag_and_push(reg, job_index, job, &id, &mut owned, task);
    let leftovers: Vec<String> = owned
        .iter()
        .filter_map(|r| local_tag::remove_created(r, Some(&id)).err())
        .collect();
    match (result, leftovers.is_empty()) {
        (result, true) => result,
        (Ok(_), false) => Err(leftovers.join("\n").into()),
        (Err(e), false) => Err(e.and(&leftovers.join("\n"))),
    }
}

/// How often a push is tried again when its remote-named tag vanished before `docker push`
/// read it (another machine's imagemk removed it): the tag is made again each time.
const ATTEMPTS: usize = 5;

fn tag_and_push(
    reg: &Registry,
    job_index: usize,
    job: &PushJob,
    id: &str,
    owned: &mut Vec<ImageRef>,
    task: &Task,
) -> Result<Pushed, JobError> {
    for remote in job.temporary() {
        ensure_tag(job, remote, id, owned)?;
    }
    let mut refs = Vec::new();
    for remote in &job.remotes {
        let mut attempt = 1;
        let digest = loop {
            if signal::interrupted() {
                return Err(JobError::interrupted());
            }
            match push_once(reg, job_index, job, remote, task) {
                Err(e) if attempt < ATTEMPTS && *remote != job.local && tag_vanished(&e) => {
                    attempt += 1;
                    ensure_tag(job, remote, id, owned)?;
                }
                other => break other?,
            }
        };
        refs.push((remote.clone(), digest));
    }
    Ok(Pushed { refs })
}

/// Makes `remote` point at the image `id`: tags it when it does not exist (then this run owns
/// it); leaves it when it already points there; refuses when it is another image, which would
/// be published, or would have to be moved.
fn ensure_tag(
    job: &PushJob,
    remote: &ImageRef,
    id: &str,
    owned: &mut Vec<ImageRef>,
) -> Result<(), JobError> {
    let failed = |e: anyhow::Error| JobError::start(&format!("push of `{}`", job.id), e);
    if signal::interrupted() {
        return Err(JobError::interrupted());
    }
    match local_tag::image_id(&remote.to_string()).map_err(failed)? {
        Some(now) if now == id => Ok(()),
        Some(now) => Err(JobError::msg(format!(
            "the push of `{}` failed: {}",
            job.id,
            conflict(job, remote, &now)
        ))),
        None => {
            // Owned before it exists: if `docker tag` fails halfway, the clean-up still looks.
            if !owned.contains(remote) {
                owned.push(remote.clone());
            }
            local_tag::tag_id(id, remote).map_err(failed)
        }
    }
}

/// The message for a remote-named tag that exists and is another image than the local one.
fn conflict(job: &PushJob, remote: &ImageRef, other: &str) -> String {
    format!(
        "`{remote}` already exists in the engine and is another image (`{}`) than `{}`; pushing it would publish that image, and imagemk never moves a tag it did not create\nhint: if `{remote}` is an old tag of yours, remove it with `{}` and push again; if another imagemk run is pushing a different build under that name, wait for it",
        short_id(other),
        job.local,
        image::untag(remote),
    )
}

fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.get(..12).unwrap_or(hex)
}

/// `docker push` found no such tag (current CLI: `tag does not exist: NAME`; older ones: `An
/// image does not exist locally with the tag: NAME`; podman: `NAME: image not known`).
fn tag_vanished(e: &JobError) -> bool {
    crate::engine::classify(&e.to_string()) == Kind::NotFound
}

fn push_once(
    reg: &Registry,
    job_index: usize,
    job: &PushJob,
    remote: &ImageRef,
    task: &Task,
) -> Result<String, JobError> {
    let file = transfer::DigestFile::new(job_index);
    let cmd = image::push(remote, file.as_ref().map(|f| f.as_path()));
    let output = run_transfer(&cmd, &format!("push of `{}`", job.id), reg, task)?;
    let digest = match &file {
        Some(f) => f.read(),
        None => transfer::pushed_digest(&output, &remote.tag),
    };
    digest.ok_or_else(|| match &file {
        Some(f) => format!(
            "the push of `{}` succeeded but `{cmd}` wrote no digest to `{}`",
            job.id,
            f.as_path().display()
        ),
        None => format!(
            "the push of `{}` succeeded but `{cmd}` printed no `{}: digest: sha256:…` line to read the digest from",
            job.id, remote.tag
        ),
    })
    .map_err(JobError::msg)
}

/// Adds the input-digest tag to every job whose local image carries an `io.imagemk.inputs`
/// label; an image without one (built before input digests) is pushed as before. A label that
/// is not a digest gets a warning and no tag.
fn add_input_tags(ctx: &Ctx, jobs: &mut [PushJob]) -> anyhow::Result<()> {
    for job in jobs {
        let Some(inputs) = local_tag::inputs_label(&job.local.to_string())? else {
            continue;
        };
        if let Err(e) = job.add_input_tag(&inputs) {
            ctx.progress.println(&format!(
                "warning: `{}` carries the label `{}` but {e}; it is pushed without an input-digest tag",
                job.local,
                crate::registry::reuse::LABEL
            ));
        }
    }
    Ok(())
}

/// Before anything runs: every remote-named tag that already exists must be the image to push.
fn check_existing_tags(jobs: &[PushJob]) -> anyhow::Result<()> {
    for job in jobs {
        let Some(id) = local_tag::image_id(&job.local.to_string())? else {
            continue;
        };
        for remote in job.temporary() {
            match local_tag::image_id(&remote.to_string())? {
                Some(now) if now != id => anyhow::bail!(
                    "image `{}` cannot be pushed: {}",
                    job.id,
                    conflict(job, remote, &now)
                ),
                _ => {}
            }
        }
    }
    Ok(())
}

pub(super) fn report(
    jobs: &[PushJob],
    results: &[Option<Pushed>],
    as_json: bool,
) -> anyhow::Result<()> {
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
        crate::console::outln!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for line in pushed_lines(jobs, results) {
            crate::console::outln!("{line}");
        }
    }
    Ok(())
}

/// `remote@digest`, one per name pushed.
fn pushed_lines(jobs: &[PushJob], results: &[Option<Pushed>]) -> Vec<String> {
    results
        .iter()
        .take(jobs.len())
        .flatten()
        .flat_map(|p| p.refs.iter().map(|(r, d)| format!("{r}@{d}")))
        .collect()
}
