//! `build --locked`: the parents a build does not build (dependencies of the selected images
//! that are not selected themselves) come from images.lock: each is pulled by its locked
//! manifest digest (`remote@sha256:…`, which makes no tag) and the pulled image's ID is given
//! its local name; what those parents depend on is not part of the build. Their children's
//! input digests then name the locked digest, so they are built on exactly that parent.

use std::collections::{BTreeMap, BTreeSet};

use super::stream::run_job;
use super::{engine, parallel, Ctx};
use crate::config::Image;
use crate::engine::image;
use crate::job::JobError;
use crate::lock::{self, Entry, Lock};
use crate::plan::{self, BuildRequest, Facts};
use crate::progress::Task;
use crate::reference::ImageRef;
use crate::registry::pulled::{self, Pulled};
use crate::registry::{self, local_tag, transfer};
use crate::signal;

/// The locked entry of every parent `req` does not build. A parent without one (or with
/// several and none for the chosen registry) is an error naming it, before anything runs.
pub fn parents(ctx: &Ctx, req: &BuildRequest) -> anyhow::Result<BTreeMap<usize, Entry>> {
    let ws = &ctx.ws;
    let lock = Lock::load(&ws.root)?;
    lock.check_images(ws)?;
    let set = plan::selected_set(ws, req);
    let frontier: BTreeSet<usize> = (set.iter())
        .flat_map(|&s| ws.images[s].depends.iter().copied())
        .filter(|d| !set.contains(d))
        .collect();
    let reg = registry::choose(&ws.registries, ws.registry.as_deref()).ok();
    let mut out = BTreeMap::new();
    for p in frontier {
        let img = &ws.images[p];
        let entries: Vec<&Entry> = lock.for_image(&img.id).collect();
        let wanted = (reg.as_ref()).and_then(|r| transfer::remote_name(ws, r, img).ok());
        let chosen = match wanted.and_then(|w| entries.iter().find(|e| e.remote == w.repository)) {
            Some(e) => Some(*e),
            None if entries.len() == 1 => Some(entries[0]),
            None => None,
        };
        let Some(entry) = chosen else {
            anyhow::bail!("{}", missing(ctx, &set, img, entries.len()));
        };
        out.insert(p, entry.clone());
    }
    Ok(out)
}

/// Why `img` cannot be taken from the lock.
fn missing(ctx: &Ctx, set: &BTreeSet<usize>, img: &Image, found: usize) -> String {
    let ws = &ctx.ws;
    let child = (set.iter())
        .find(|&&s| {
            ws.images[s]
                .depends
                .iter()
                .any(|d| ws.images[*d].id == img.id)
        })
        .map(|&s| ws.images[s].id.as_str())
        .unwrap_or("?");
    let file = lock::path(&ws.root);
    if found == 0 {
        return format!(
            "`--locked`: parent image `{}` (of `{child}`) has no entry in `{}`; lock it with `imagemk pin {}` (or `imagemk push --lock`), or build without `--locked`",
            img.id,
            file.display(),
            img.id
        );
    }
    format!(
        "`--locked`: parent image `{}` (of `{child}`) has {found} entries in `{}` and none is its remote name in the chosen registry; choose the registry with `--registry NAME`",
        img.id,
        file.display()
    )
}

/// Pulls every locked parent (a few at a time) and puts the pulled IDs into `facts.pulled`;
/// a dry run prints the commands instead (when `show`).
pub fn pull(ctx: &Ctx, req: &BuildRequest, facts: &mut Facts, show: bool) -> anyhow::Result<()> {
    if req.locked.is_empty() {
        return Ok(());
    }
    let todo: Vec<(usize, &Entry)> = req.locked.iter().map(|(i, e)| (*i, e)).collect();
    if ctx.dry_run {
        for (i, e) in todo.iter().filter(|_| show) {
            crate::console::outln!("{}", image::pull_pinned(&remote(e), e.digest.as_str()));
            let id = format!("<the image ID of {}>", e.pinned());
            crate::console::outln!("{}", image::tag_shown(&id, &ctx.ws.images[*i].name));
        }
        return Ok(());
    }
    let deps = parallel::independent(todo.len());
    let jobs = parallel::jobs(ctx, None, parallel::TRANSFERS);
    let (ids, states) = parallel::run_jobs(&deps, jobs, true, parallel::by_index, |k| {
        let (i, entry) = todo[k];
        let img = &ctx.ws.images[i];
        let task = ctx
            .progress
            .task(&img.id, &format!("pulling {}", entry.pinned()));
        let result = pull_one(ctx, entry, img, &task);
        task.finish(
            result.is_ok(),
            if result.is_ok() {
                "pulled (locked)"
            } else {
                "failed"
            },
        );
        result
    });
    let found: BTreeMap<usize, String> = (todo.iter().zip(ids))
        .filter_map(|(&(i, _), id)| Some((i, id?)))
        .collect();
    let records: BTreeMap<String, Pulled> = (found.iter())
        .map(|(i, id)| {
            let e = &req.locked[i];
            let record = Pulled {
                remote: e.pinned(),
                digest: e.digest.to_string(),
                id: id.clone(),
            };
            (ctx.ws.images[*i].name.to_string(), record)
        })
        .collect();
    if !records.is_empty() {
        pulled::record(&ctx.ws.root, &records)?;
    }
    if signal::interrupted() {
        return Err(signal::Interrupted.into());
    }
    parallel::fail_on(&states, "pull")?;
    facts.pulled.extend(found);
    Ok(())
}

fn remote(e: &Entry) -> ImageRef {
    ImageRef {
        repository: e.remote.clone(),
        tag: e.tag.clone(),
    }
}

/// Under the lock on the local name: `docker pull remote@digest`, the pulled image's ID (by
/// that name: the pull made no tag), `docker tag ID LOCAL`.
fn pull_one(ctx: &Ctx, e: &Entry, img: &Image, task: &Task) -> Result<String, JobError> {
    let failed = |err: anyhow::Error| JobError::start(&format!("pull of `{}`", e.pinned()), err);
    let _lock = local_tag::lock(&[&img.name], &engine::daemon_key(ctx), |name| {
        task.line(&format!(
            "waiting for another imagemk run to finish with `{name}`"
        ))
    })
    .map_err(failed)?;
    let cmd = image::pull_pinned(&remote(e), e.digest.as_str());
    let what = format!("pull of `{}` (locked parent `{}`)", e.pinned(), img.id);
    run_job(&cmd, &what, 10, |l| task.line(l), |_| None)?;
    let id = local_tag::image_id(&e.pinned())
        .map_err(failed)?
        .ok_or_else(|| {
            format!(
                "the pull of `{}` succeeded but the engine has no image by that name",
                e.pinned()
            )
        })?;
    if signal::interrupted() {
        return Err(JobError::interrupted());
    }
    local_tag::tag_id(&id, &img.name).map_err(failed)?;
    Ok(id)
}
