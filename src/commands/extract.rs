//! `imagemk extract IMAGE [PATH DEST]`: copies a path (or, without one, the image's
//! `artifacts:`) out of a local image. The temporary container is removed whatever happens;
//! each copy lands in a temporary directory beside its destination, and only when every copy
//! succeeded are the destinations swapped in (old aside, new in, old deleted last), so a
//! failure or a signal at any point leaves every DEST as it was.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::container::{ensure_present, name, pick_one};
use super::Ctx;
use crate::cli::ExtractArgs;
use crate::config::Image;
use crate::container::dest::{resolve, Protected};
use crate::container::extract::{self, Plan, Request};
use crate::container::swap::{self, Swap};
use crate::{exec, signal};

pub fn run(ctx: &Ctx, args: &ExtractArgs) -> anyhow::Result<i32> {
    let image = &ctx.ws.images[pick_one(ctx, &args.image)?];
    let requests = requests(ctx, image, args)?;
    let name = name(args.name.as_deref(), image, ctx)?;
    let plan = extract::plan(&name, &image.name.to_string(), &requests, &protected(ctx))?;
    ensure_present(ctx, image)?;
    if ctx.dry_run {
        for line in plan.lines() {
            crate::console::outln!("{line}");
        }
        return Ok(0);
    }
    execute(ctx, &plan, image)?;
    Ok(0)
}

/// The workspace root, every component directory and every `images.yaml`.
pub fn protected(ctx: &Ctx) -> Protected {
    ctx.ws
        .components
        .iter()
        .fold(Protected::new(&ctx.ws.root), |p, c| {
            p.component(&c.name, &c.dir, &c.file)
        })
}

/// `PATH DEST` from the command line, else the image's `artifacts:` (destinations from the
/// component directory, inside the workspace).
fn requests(ctx: &Ctx, image: &Image, args: &ExtractArgs) -> anyhow::Result<Vec<Request>> {
    match (&args.path, &args.dest) {
        (Some(p), Some(d)) => Ok(vec![Request {
            from: p.clone(),
            to: ctx.cwd.join(d),
            shown: d.to_string_lossy().into_owned(),
            artifact: false,
        }]),
        (Some(_), None) => {
            bail!("`extract` needs a destination after the path: `imagemk extract IMAGE PATH DEST`")
        }
        _ => {
            let comp = &ctx.ws.components[image.component];
            if image.artifacts.is_empty() {
                bail!(
                    "image `{}` has no `artifacts:` in `{}`; list some, or give a path: `imagemk extract {} PATH DEST`",
                    image.id,
                    comp.file.display(),
                    args.image
                );
            }
            let root = resolve(&ctx.ws.root);
            image
                .artifacts
                .iter()
                .map(|a| {
                    if !resolve(&a.to).starts_with(&root) {
                        bail!(
                            "`to: {}` of an artifact of image `{}` is outside the workspace (`{}`); artifacts land in the tree: give a path from the component directory in `{}`",
                            a.written, image.id, resolve(&a.to).display(), comp.file.display()
                        );
                    }
                    Ok(Request { from: a.from.clone(), to: a.to.clone(), shown: a.written.clone(), artifact: true })
                })
                .collect()
        }
    }
}

/// Removes the container when dropped: after success, on error, on Ctrl-C. Armed before
/// `docker create` runs, which is never cut short, so the container exists or never will by
/// the time this removes it.
struct Container<'a>(&'a Plan);

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = exec::capture_cleanup(&self.0.remove);
    }
}

/// Removes the temporary directories, and the parent directories this run created, when
/// dropped (the latter only while empty, i.e. when nothing was put in place).
#[derive(Default)]
struct Temps {
    tmps: Vec<PathBuf>,
    created: Vec<PathBuf>,
}

impl Drop for Temps {
    fn drop(&mut self) {
        for t in &self.tmps {
            let _ = fs::remove_dir_all(t);
        }
        for d in self.created.iter().rev() {
            let _ = fs::remove_dir(d);
        }
    }
}

fn interrupted() -> anyhow::Result<()> {
    match signal::interrupted() {
        true => Err(signal::Interrupted.into()),
        false => Ok(()),
    }
}

fn execute(ctx: &Ctx, plan: &Plan, image: &Image) -> anyhow::Result<()> {
    execute_filtered(ctx, plan, image, |_| Ok(true))
}

/// [`execute`] where `keep` sees each move once every copy is staged and before anything is
/// swapped: false skips it (its destination stays), an error stops the run with nothing
/// written. For `local-buildenv`'s rule on existing host files.
pub(super) fn execute_filtered(
    ctx: &Ctx,
    plan: &Plan,
    image: &Image,
    mut keep: impl FnMut(&swap::Move) -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    interrupted()?;
    let _container = Container(plan);
    // Whole: a `docker create` cut off by Ctrl-C goes on in the engine and could register the
    // container after the guard's removal; not signalled, it has finished by then.
    if let Err(e) = exec::capture_whole(&plan.create) {
        interrupted()?;
        return Err(e.context(format!(
            "creating a container of `{}` to copy from",
            image.name
        )));
    }
    let mut temps = Temps::default();
    for c in &plan.copies {
        interrupted()?;
        stage(c, &mut temps, image)?;
    }
    interrupted()?;
    let protected = protected(ctx);
    let mut moves = Vec::new();
    for c in &plan.copies {
        for m in swap::moves(c, &protected)? {
            if keep(&m)? {
                moves.push(m);
            }
        }
    }
    let mut swap = Swap::default();
    let applied = swap.apply(&moves).and_then(|_| interrupted());
    if let Err(e) = applied {
        return Err(undo(swap, temps, e));
    }
    drop(temps);
    // A copy with nothing moved in (every move skipped) was not extracted.
    let placed = |c: &extract::Copy| moves.iter().any(|m| m.new.starts_with(&c.tmp));
    for c in plan.copies.iter().filter(|c| placed(c)) {
        ctx.progress.println(&format!(
            "extracted {}:{} -> {}",
            image.id,
            c.from,
            c.destination().display()
        ));
    }
    Ok(())
}

/// Undoes the swap after `err`. An old destination that cannot be put back is kept where it
/// was moved aside (its temporary directory is not removed), and the error says where.
fn undo(mut swap: Swap, mut temps: Temps, err: anyhow::Error) -> anyhow::Error {
    let stuck = swap.undo();
    if stuck.is_empty() {
        return err;
    }
    temps.tmps.clear();
    temps.created.clear();
    let list: Vec<String> = stuck
        .iter()
        .map(|m| format!("`{}` is at `{}`", m.target.display(), m.aside.display()))
        .collect();
    err.context(format!(
        "could not put back every old destination; move them back by hand: {}",
        list.join(", ")
    ))
}

/// Creates the copy's temporary directory (and missing parents) and runs its `docker cp`,
/// stopping it at once on a signal.
fn stage(c: &extract::Copy, temps: &mut Temps, image: &Image) -> anyhow::Result<()> {
    create_parents(&c.parent, &mut temps.created)?;
    let _ = fs::remove_dir_all(&c.tmp);
    fs::create_dir(&c.tmp).with_context(|| format!("creating `{}`", c.tmp.display()))?;
    temps.tmps.push(c.tmp.clone());
    let (code, output) = swap::run_stoppable(&c.cmd)?;
    interrupted()?;
    if code == 0 {
        return Ok(());
    }
    // `docker cp` says a missing path only in its output (exit 1, as for any error).
    if crate::engine::classify(&output) == crate::job::Kind::NotFound {
        bail!(
            "`{}` does not exist in image `{}` (`{}`); nothing was written to `{}`",
            c.from,
            image.id,
            image.name,
            c.destination().display()
        );
    }
    bail!(
        "copying `{}` out of `{}` failed (exit status {code}); nothing was written to `{}`:\n{}",
        c.from,
        image.name,
        c.destination().display(),
        exec::tail_lines(&output, 10)
    )
}

/// Creates `dir` and its missing parents, recording each one created.
fn create_parents(dir: &Path, created: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
    for d in missing.into_iter().rev() {
        fs::create_dir(d).with_context(|| format!("creating `{}`", d.display()))?;
        created.push(d.to_path_buf());
    }
    Ok(())
}
