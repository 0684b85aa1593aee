//! `imagemk promote --to TAG [IMAGE…]`: for each selected image's entry in images.lock, check
//! that the registry still has the locked digest under the locked tag (unless `--force`), then
//! point `remote:TAG` at that digest on the registry (`registry::retag`): no pull, no push, no
//! layer moved. All tags move or none do (`registry::moves`).

use serde_json::json;

use super::{select::select, Ctx};
use crate::cli::PromoteArgs;
use crate::config::Workspace;
use crate::lock::{self, Entry, Lock};
use crate::reference;
use crate::registry::backend::Backend;
use crate::registry::moves::{self, Move};
use crate::registry::{self, Registry};
use crate::ExitStatus;

/// One image to promote: its lock entry and its repository (the remote without the host).
struct Promotion {
    entry: Entry,
    repo: String,
}

pub fn run(ctx: &Ctx, args: &PromoteArgs) -> anyhow::Result<i32> {
    let ws = &ctx.ws;
    reference::check_tag(&args.to).map_err(|e| anyhow::anyhow!("`--to`: {e}"))?;
    let selected = select(ws, &args.selection)?;
    let reg = registry::choose(&ws.registries, ws.registry.as_deref())?;
    let lock = Lock::load(&ws.root)?;
    lock.check_images(ws)?;
    let plan = plan(ws, &reg, &lock, &selected, &args.to)?;
    let backend = Backend::new(&reg, &ctx.env)?;
    let sources: Vec<Move> = plan
        .iter()
        .map(|p| Move::new(&p.repo, &p.entry.tag, p.entry.digest.as_str()))
        .collect();
    let set: Vec<Move> = plan
        .iter()
        .map(|p| Move::new(&p.repo, &args.to, p.entry.digest.as_str()))
        .collect();
    let mut all: Vec<Move> = sources.into_iter().chain(set).collect();
    if ctx.dry_run {
        let (_, set) = all.split_at(plan.len());
        let lines = [
            moves::read_lines(&backend, &all),
            moves::point_lines(&backend, set),
        ];
        for line in lines.concat() {
            crate::console::outln!("{line}");
        }
        crate::console::outln!("# a locked tag whose registry digest differs from images.lock stops the promotion (unless --force); on a failure the tags already moved are put back");
        return Ok(0);
    }
    // One read per repository (one listing on the clouds) for the locked and the new tags.
    moves::read_old(&backend, &mut all)?;
    let set = all.split_off(plan.len());
    check_sources(&reg, &all, args.force)?;
    let finish = format!("run `{}` again", command_line(args, &plan));
    if let Err(failed) = moves::apply(&backend, &reg.host, &set, &finish) {
        let code = if failed.interrupted { 130 } else { 1 };
        return Err(ExitStatus {
            code,
            message: Some(format!("promote to `{}` failed: {failed}", args.to)),
        }
        .into());
    }
    report(&reg, &plan, &set, args.json)?;
    Ok(0)
}

/// The lock entry of every selected image under the chosen registry, and checks of the tag
/// against each image's kind; nothing runs before this holds.
fn plan(
    ws: &Workspace,
    reg: &Registry,
    lock: &Lock,
    selected: &[usize],
    to: &str,
) -> anyhow::Result<Vec<Promotion>> {
    let file = lock::path(&ws.root);
    let mut out = Vec::new();
    for &i in selected {
        let img = &ws.images[i];
        if let Some(refused) = ws.publish.refused(&img.kind) {
            if refused.iter().any(|t| t == to) {
                anyhow::bail!(
                    "image `{}` may not be promoted to `{to}`: images of kind `{}` refuse tags {} (`workspace.publish.refuse_tags` in `{}`)",
                    img.id,
                    img.kind,
                    refused.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", "),
                    ws.root.join("images.yaml").display()
                );
            }
        }
        let under = format!("{}/", reg.host);
        let entry = lock
            .for_image(&img.id)
            .find(|e| e.remote.starts_with(&under))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "image `{}` has no entry for registry `{}` in `{}`; pin it first (`imagemk pin {}`)",
                    img.id,
                    reg.name,
                    file.display(),
                    img.id
                )
            })?;
        out.push(Promotion {
            repo: entry.remote[under.len()..].to_string(),
            entry: entry.clone(),
        });
    }
    Ok(out)
}

/// Every locked tag (`sources`, with `old` read) must still point at its locked digest,
/// unless `force`.
fn check_sources(reg: &Registry, sources: &[Move], force: bool) -> anyhow::Result<()> {
    let drifted: Vec<String> = sources
        .iter()
        .filter(|m| m.changes())
        .map(|m| {
            let now = m
                .old
                .as_deref()
                .map_or("absent".into(), |d| format!("at `{d}`"));
            format!(
                "\n  `{}/{}:{}` is {now}; images.lock says `{}`",
                reg.host, m.repo, m.tag, m.digest
            )
        })
        .collect();
    if drifted.is_empty() || force {
        return Ok(());
    }
    anyhow::bail!(
        "the registry no longer has what images.lock says, so nothing was promoted:{}\nhint: pin again (`imagemk pin`) to promote what is there now, or pass `--force` to promote the locked digests",
        drifted.concat()
    )
}

/// The promote command line that finishes this promotion.
fn command_line(args: &PromoteArgs, plan: &[Promotion]) -> String {
    let mut words = vec![
        "imagemk".to_string(),
        "promote".into(),
        "--to".into(),
        args.to.clone(),
    ];
    if args.force {
        words.push("--force".into());
    }
    words.extend(plan.iter().map(|p| p.entry.image.clone()));
    words.join(" ")
}

fn report(reg: &Registry, plan: &[Promotion], set: &[Move], as_json: bool) -> anyhow::Result<()> {
    if as_json {
        let rows: Vec<_> = plan
            .iter()
            .zip(set)
            .map(|(p, m)| {
                json!({
                    "image": p.entry.image,
                    "remote": p.entry.remote,
                    "from": p.entry.tag,
                    "tag": m.tag,
                    "old": m.old,
                    "new": m.digest,
                    "changed": m.changes(),
                })
            })
            .collect();
        crate::console::outln!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    for m in set {
        let was = match &m.old {
            Some(d) if !m.changes() => format!("already at {d}"),
            Some(d) => format!("{d} → {}", m.digest),
            None => format!("(new) → {}", m.digest),
        };
        crate::console::outln!("{}/{}:{} {was}", reg.host, m.repo, m.tag);
    }
    Ok(())
}
