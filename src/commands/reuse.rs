//! `build --reuse`: before an image that is not up to date locally is built, its input-digest
//! tag (`in-<hex16>`, see `registry::reuse`) is looked up in the chosen registry; when found it
//! is pulled and given its local name (`pull::pull_as`), else it is built. Look-ups run once per
//! image, in parallel, before the builds ([`Reuse::look_up`]); a registry that is down, slow
//! or refuses the credentials is reported once and everything builds locally.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use anyhow::bail;

use super::{parallel, pull, Ctx};
use crate::job::JobError;
use crate::plan::{self, Action, BuildRequest, Facts};
use crate::progress::Task;
use crate::reference::ImageRef;
use crate::registry::pulled::Pulled;
use crate::registry::reuse::{self, Lookup};
use crate::registry::{self, transfer, Registry};
use crate::scheduler::State;
use crate::signal;

/// Whether reuse is on: `--reuse` / `--no-reuse`, else `REUSE` (1/yes/true, 0/no/false),
/// else `workspace.reuse: registry`.
pub fn wanted(ctx: &Ctx, reuse: bool, no_reuse: bool) -> anyhow::Result<bool> {
    if reuse || no_reuse {
        return Ok(reuse);
    }
    match ctx.env.get(&["REUSE"]) {
        Some("1" | "yes" | "true") => Ok(true),
        Some("0" | "no" | "false") => Ok(false),
        Some(other) => bail!(
            "`REUSE={}` is not yes or no; use `REUSE=1` to pull images built from the same inputs, `REUSE=0` to build locally",
            crate::reference::shorten(other, 40)
        ),
        None => Ok(ctx.ws.reuse),
    }
}

/// One run's reuse: the registry, the look-up answers, whether the warning was printed.
pub struct Reuse {
    pub reg: Registry,
    answers: Mutex<BTreeMap<ImageRef, Lookup>>,
    warned: AtomicBool,
}

impl Reuse {
    /// The reuse of this run, or None when it is off. On, it needs a registry: none chosen is
    /// an error before anything runs.
    pub fn new(ctx: &Ctx, on: bool) -> anyhow::Result<Option<Reuse>> {
        if !on {
            return Ok(None);
        }
        let reg = registry::choose(&ctx.ws.registries, ctx.ws.registry.as_deref())
            .map_err(|e| anyhow::anyhow!("reuse from the registry: {e}"))?;
        Ok(Some(Reuse {
            reg,
            answers: Mutex::new(BTreeMap::new()),
            warned: AtomicBool::new(false),
        }))
    }

    /// The remote input-digest name of image `image` (index in the workspace).
    pub fn input_name(&self, ctx: &Ctx, image: usize, inputs: &str) -> anyhow::Result<ImageRef> {
        let remote = transfer::remote_name(&ctx.ws, &self.reg, &ctx.ws.images[image])?;
        Ok(remote.with_tag(&reuse::input_tag(inputs)?))
    }

    /// Looks up every `(image, input digest)` at once, in parallel; answers are kept for
    /// [`Reuse::reuse`]. Prints the warning once when the registry is unavailable.
    pub fn look_up(&self, ctx: &Ctx, wanted: &[(usize, String)]) -> anyhow::Result<()> {
        let names = wanted
            .iter()
            .map(|(i, d)| self.input_name(ctx, *i, d))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let answers = reuse::lookup_all(&self.reg, &ctx.env, &names, reuse::PARALLEL);
        for answer in &answers {
            self.warn_once(ctx, answer);
        }
        self.answers
            .lock()
            .unwrap()
            .extend(names.into_iter().zip(answers));
        Ok(())
    }

    fn warn_once(&self, ctx: &Ctx, answer: &Lookup) {
        if let Lookup::Unavailable { why } = answer {
            if !self.warned.swap(true, Ordering::SeqCst) {
                ctx.progress.println(&format!(
                    "warning: cannot look images up in registry `{}`, building locally: {why}",
                    self.reg.name
                ));
            }
        }
    }

    /// For image `image`, not up to date locally, with input digest `inputs`: pulls it and
    /// gives it its local name when the registry has that digest (Some), else None (build it).
    /// Looks up now unless [`Reuse::look_up`] did; after one unavailable answer it asks no more.
    pub fn reuse(
        &self,
        ctx: &Ctx,
        image: usize,
        inputs: &str,
        task: &Task,
    ) -> anyhow::Result<Option<Pulled>> {
        let name = self.input_name(ctx, image, inputs)?;
        let known = self.answers.lock().unwrap().get(&name).cloned();
        let answer = match known {
            Some(a) => a,
            None if self.warned.load(Ordering::SeqCst) => return Ok(None),
            None => {
                let a = reuse::lookup(&self.reg, &ctx.env, &name);
                self.warn_once(ctx, &a);
                a
            }
        };
        if !matches!(answer, Lookup::Found { .. }) {
            return Ok(None);
        }
        let img = &ctx.ws.images[image];
        task.line(&format!("found {name}: pulling it instead of building"));
        match pull::pull_as(ctx, &self.reg, &img.id, &name, &img.name, task) {
            Ok(pulled) => Ok(Some(pulled)),
            Err(e) if signal::interrupted() => Err(e),
            // The pull left every tag as it was (see `pull::pull_as`): build instead.
            Err(e) => {
                ctx.progress.println(&format!(
                    "warning: `{}` was found in registry `{}` but could not be pulled, building it locally: {e:#}",
                    img.id, self.reg.name
                ));
                Ok(None)
            }
        }
    }
}

/// Offers the images the plan would build for want of a local image with their inputs (not
/// forced ones) to the registry, when reuse is on: they are looked up at once, in parallel,
/// then the ones found are pulled (a few at a time) and go into `facts.pulled`, so the plan
/// decides `pulled` for them instead of a build. A dry run looks nothing up.
pub fn apply(ctx: &Ctx, req: &BuildRequest, facts: &mut Facts, on: bool) -> anyhow::Result<()> {
    let Some(reuse) = Reuse::new(ctx, on)? else {
        return Ok(());
    };
    let wanted: Vec<(usize, String)> = plan::decide(&ctx.ws, req, facts)
        .into_iter()
        .filter(|d| {
            d.action == Action::Build
                && d.reasons
                    .iter()
                    .all(|r| r != "forced" && r != crate::plan::NO_CACHE_ASKED)
        })
        .filter_map(|d| d.digest.map(|g| (d.image, g)))
        .collect();
    if ctx.dry_run || wanted.is_empty() {
        return Ok(());
    }
    reuse.look_up(ctx, &wanted)?;
    let no_deps = parallel::independent(wanted.len());
    let jobs = parallel::jobs(ctx, None, parallel::TRANSFERS);
    let (ids, states) = parallel::run_jobs(&no_deps, jobs, true, parallel::by_index, |k| {
        let (image, inputs) = &wanted[k];
        let task = ctx
            .progress
            .task(&ctx.ws.images[*image].id, "looking up its inputs");
        let result = reuse.reuse(ctx, *image, inputs, &task);
        task.finish(result.is_ok(), "");
        match result {
            Ok(pulled) => Ok(pulled.map(|p| (*image, p.id))),
            Err(e) => Err(JobError::of(&e, format!("{e:#}"))),
        }
    });
    if signal::interrupted() {
        return Err(signal::Interrupted.into());
    }
    if let Some(State::Failed(e)) = states.iter().find(|s| matches!(s, State::Failed(_))) {
        bail!("{e}");
    }
    facts.pulled.extend(ids.into_iter().flatten().flatten());
    Ok(())
}
