//! `imagemk extract IMAGE [PATH DEST]`: copies a path (or, without one, the image's
//! `artifacts:`) out of a local image. The temporary container is removed whatever happens,
//! and each copy lands beside its destination first, so a failure leaves DEST untouched.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::container::{ensure_present, name, pick_one};
use super::Ctx;
use crate::cli::ExtractArgs;
use crate::config::Image;
use crate::container::extract::{self, Plan};
use crate::{exec, signal};

pub fn run(ctx: &Ctx, args: &ExtractArgs) -> anyhow::Result<i32> {
    let image = &ctx.ws.images[pick_one(ctx, &args.image)?];
    let paths = paths(ctx, image, args)?;
    let name = name(args.name.as_deref(), image, ctx)?;
    let plan = extract::plan(&name, &image.name.to_string(), &paths)?;
    ensure_present(ctx, image)?;
    if ctx.dry_run {
        for line in plan.lines() {
            println!("{line}");
        }
        return Ok(0);
    }
    execute(ctx, &plan, image)?;
    Ok(0)
}

/// `PATH DEST` from the command line, else the image's `artifacts:` (destinations from the
/// component directory).
fn paths(ctx: &Ctx, image: &Image, args: &ExtractArgs) -> anyhow::Result<Vec<(String, PathBuf)>> {
    match (&args.path, &args.dest) {
        (Some(p), Some(d)) => Ok(vec![(p.clone(), lexical(&ctx.cwd.join(d)))]),
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
            Ok(image
                .artifacts
                .iter()
                .map(|a| (a.from.clone(), lexical(&comp.dir.join(&a.to))))
                .collect())
        }
    }
}

/// `path` with `.` and `..` resolved by name (DEST may not exist yet).
fn lexical(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Removes the container when dropped: after success, on error, on Ctrl-C.
struct Container<'a>(&'a Plan);

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = exec::capture_cleanup(&self.0.remove);
    }
}

/// Removes the temporary directories when dropped.
struct Temps(Vec<PathBuf>);

impl Drop for Temps {
    fn drop(&mut self) {
        for t in &self.0 {
            let _ = fs::remove_dir_all(t);
        }
    }
}

fn execute(ctx: &Ctx, plan: &Plan, image: &Image) -> anyhow::Result<()> {
    exec::capture(&plan.create)
        .with_context(|| format!("creating a container of `{}` to copy from", image.name))?;
    let _container = Container(plan);
    let _temps = Temps(plan.copies.iter().map(|c| c.tmp.clone()).collect());
    for c in &plan.copies {
        if signal::interrupted() {
            return Err(signal::Interrupted.into());
        }
        let parent = c.tmp.parent().unwrap_or(Path::new("/"));
        fs::create_dir_all(parent).with_context(|| format!("creating `{}`", parent.display()))?;
        let _ = fs::remove_dir_all(&c.tmp);
        fs::create_dir(&c.tmp).with_context(|| format!("creating `{}`", c.tmp.display()))?;
        if let Err(e) = exec::capture(&c.cmd) {
            let text = format!("{e:#}");
            if text.contains("No such container:path") || text.contains("Could not find the file") {
                bail!(
                    "`{}` does not exist in image `{}` (`{}`); nothing was written to `{}`",
                    c.from,
                    image.id,
                    image.name,
                    c.to.display()
                );
            }
            return Err(e.context(format!("copying `{}` out of `{}`", c.from, image.name)));
        }
    }
    // Every copy succeeded: only now are the destinations replaced.
    for c in &plan.copies {
        replace(&c.copied, &c.to)?;
        ctx.progress.println(&format!(
            "extracted {}:{} -> {}",
            image.id,
            c.from,
            c.to.display()
        ));
    }
    Ok(())
}

/// Moves `from` to `to`, replacing what was there.
fn replace(from: &Path, to: &Path) -> anyhow::Result<()> {
    if let Ok(meta) = to.symlink_metadata() {
        let removed = if meta.is_dir() {
            fs::remove_dir_all(to)
        } else {
            fs::remove_file(to)
        };
        removed.with_context(|| format!("replacing `{}`", to.display()))?;
    }
    fs::rename(from, to)
        .with_context(|| format!("moving `{}` to `{}`", from.display(), to.display()))
}
