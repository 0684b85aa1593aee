//! `imagemk pin --check [IMAGE…]`: every locked `remote:tag` (or those of the named images)
//! compared with the digest its registry has now; exit 1 listing each that differs or is gone
//! as `images.lock:LINE: REMOTE:TAG locked sha256:… but the registry has sha256:…`.

use serde_json::json;

use super::pin::{drifted, read_digests, shown_path};
use super::{select::select, Ctx};
use crate::cli::PinArgs;
use crate::config::Workspace;
use crate::lock::{Digest, Entry, Lock};
use crate::reference::ImageRef;
use crate::registry::backend::Backend;
use crate::registry::Registry;

pub fn run(ctx: &Ctx, args: &PinArgs) -> anyhow::Result<i32> {
    let ws = &ctx.ws;
    let lock = Lock::load(&ws.root)?;
    lock.check_images(ws)?;
    let entries = chosen(ws, &lock, args)?;
    let shown = shown_path(ctx);
    if entries.is_empty() {
        ctx.progress
            .println(&format!("warning: `{shown}` has no entries to check"));
    }
    // Entries grouped by the registry they live in, each registry asked once per entry.
    let mut groups: Vec<(Registry, Vec<&Entry>)> = Vec::new();
    for e in entries {
        let reg = registry_of(ws, e, &shown, &lock)?;
        match groups.iter_mut().find(|(r, _)| *r == reg) {
            Some((_, list)) => list.push(e),
            None => groups.push((reg, vec![e])),
        }
    }
    let mut rows = Vec::new();
    for (reg, list) in &groups {
        let backend = Backend::new(reg, &ctx.env)?;
        let refs: Vec<ImageRef> = list
            .iter()
            .map(|e| ImageRef {
                repository: e.remote.clone(),
                tag: e.tag.clone(),
            })
            .collect();
        if ctx.dry_run {
            for r in &refs {
                crate::console::outln!(
                    "{}",
                    backend.digest_call(super::pin::repo_path(reg, r), &r.tag)
                );
            }
            continue;
        }
        let found = read_digests(ctx, &backend, reg, &refs.iter().collect::<Vec<_>>())?;
        rows.extend(list.iter().copied().zip(found));
    }
    if ctx.dry_run {
        crate::console::outln!("# then compare each digest with {shown}; nothing is written");
        return Ok(0);
    }
    report(&shown, &lock, &rows, args.json)
}

/// Every entry, or those of the selected images (an image with no entry is an error).
fn chosen<'a>(ws: &'a Workspace, lock: &'a Lock, args: &PinArgs) -> anyhow::Result<Vec<&'a Entry>> {
    let sel = &args.selection;
    if !sel.all && sel.images.is_empty() && sel.kind.is_empty() {
        return Ok(lock.entries.values().collect());
    }
    let mut out = Vec::new();
    for i in select(ws, sel)? {
        let id = &ws.images[i].id;
        let before = out.len();
        out.extend(lock.for_image(id));
        if out.len() == before && !sel.all {
            anyhow::bail!(
                "image `{id}` has no entry in images.lock; lock it with `imagemk pin {id}` (or `imagemk push --lock`)"
            );
        }
    }
    Ok(out)
}

/// The workspace registry whose `host/path` prefix is the longest one of the entry's remote.
fn registry_of(ws: &Workspace, e: &Entry, shown: &str, lock: &Lock) -> anyhow::Result<Registry> {
    let mut best: Option<Registry> = None;
    for reg in ws.registries.values() {
        let prefix = format!("{}/", reg.prefix());
        let host = format!("{}/", reg.host);
        if !(e.remote.starts_with(&prefix) || e.remote.starts_with(&host)) {
            continue;
        }
        let longer = |b: &Registry| prefix.len() > b.prefix().len() + 1;
        if best.as_ref().is_none_or(longer) {
            best = Some(reg.clone());
        }
    }
    best.ok_or_else(|| {
        anyhow::anyhow!(
            "`{shown}:{}`: `{}` is in none of the workspace's registries (`workspace.registries`); remove the entry or add its registry",
            lock.line(&e.remote),
            e.remote
        )
    })
}

fn report(
    shown: &str,
    lock: &Lock,
    rows: &[(&Entry, Option<Digest>)],
    as_json: bool,
) -> anyhow::Result<i32> {
    let drift: Vec<&(&Entry, Option<Digest>)> = rows
        .iter()
        .filter(|(e, now)| now.as_ref() != Some(&e.digest))
        .collect();
    if as_json {
        let list: Vec<_> = rows
            .iter()
            .map(|(e, now)| {
                json!({
                    "remote": e.remote,
                    "image": e.image,
                    "tag": e.tag,
                    "line": lock.line(&e.remote),
                    "locked": e.digest.as_str(),
                    "registry": now.as_ref().map(Digest::as_str),
                    "ok": now.as_ref() == Some(&e.digest),
                })
            })
            .collect();
        crate::console::outln!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        for (e, now) in &drift {
            let has = match now {
                Some(d) => format!("has {d}"),
                None => "has no such tag".to_string(),
            };
            crate::console::outln!(
                "{shown}:{}: {}:{} locked {} but the registry {has}",
                lock.line(&e.remote),
                e.remote,
                e.tag,
                e.digest
            );
        }
    }
    if drift.is_empty() {
        Ok(0)
    } else {
        Err(drifted(drift.len(), rows.len()))
    }
}
