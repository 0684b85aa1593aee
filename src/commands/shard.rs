//! `build --shard I/N` around the plan: which images of the request this shard builds (see
//! `crate::shard`), the images of earlier shards it builds FROM (waited for in the registry
//! under their input-digest tag, `in-<hex16>`, or their remote name when they have no input
//! digest, then pulled under their local names), and the push of its own part afterwards so
//! that later shards find it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::bail;

use super::{parallel, pull, Ctx};
use crate::cli::{PushArgs, Selection};
use crate::config::Workspace;
use crate::job::JobError;
use crate::plan::{self, BuildRequest, Facts};
use crate::progress::Task;
use crate::reference::ImageRef;
use crate::registry::reuse::{self, Lookup};
use crate::registry::{self, transfer, Registry};
use crate::shard::Shard;
use crate::{durations, signal};

/// The longest pause between two look-ups of an image another shard builds.
const MAX_POLL: Duration = Duration::from_secs(5);

/// The shard (from 0) of every image of the request among `count` shards, balanced by the
/// build times recorded in `.imagemk/durations.json` when there are any, else by count.
pub fn assignment(ws: &Workspace, req: &BuildRequest, count: usize) -> BTreeMap<usize, usize> {
    let order = plan::closure(ws, req);
    let deps: Vec<Vec<usize>> = ws.images.iter().map(|i| i.depends.clone()).collect();
    let recorded = durations::load(&ws.root);
    let weight = durations::weights(&recorded);
    crate::shard::assign(&deps, &order, |n| weight(&ws.images[n].id), count)
}

/// One shard's part of a build.
pub struct Part {
    pub shard: Shard,
    /// The images this shard builds.
    pub own: BTreeSet<usize>,
    /// The shard (from 0) of every image of the request.
    pub of: BTreeMap<usize, usize>,
    pub reg: Registry,
}

impl Part {
    /// Shard `shard`'s part of `req`; a registry is needed to pass images between shards.
    pub fn new(ctx: &Ctx, req: &BuildRequest, shard: Shard) -> anyhow::Result<Part> {
        let reg =
            registry::choose(&ctx.ws.registries, ctx.ws.registry.as_deref()).map_err(|e| {
                anyhow::anyhow!(
                    "`--shard {shard}` passes images between shards through a registry: {e}"
                )
            })?;
        let of = assignment(&ctx.ws, req, shard.count);
        let own = of
            .iter()
            .filter(|(_, &s)| s + 1 == shard.index)
            .map(|(&i, _)| i)
            .collect();
        Ok(Part {
            shard,
            own,
            of,
            reg,
        })
    }

    /// The images of other shards that this shard's images are built FROM, with the name
    /// to wait for in the registry: the input-digest tag, or the remote name without one.
    fn needed(&self, ctx: &Ctx, facts: &Facts) -> anyhow::Result<Vec<(usize, ImageRef)>> {
        let ws = &ctx.ws;
        let parents: BTreeSet<usize> = self
            .own
            .iter()
            .flat_map(|&i| ws.images[i].depends.iter().copied())
            .filter(|d| !self.own.contains(d))
            .collect();
        let mut out = Vec::new();
        for p in parents {
            let img = &ws.images[p];
            let digest = facts.inputs.get(&p).map(|(d, _)| d.as_str());
            let local = facts
                .local
                .as_ref()
                .and_then(|l| l.get(&img.name.to_string()));
            if digest.is_some() && local.and_then(|l| l.inputs.as_deref()) == digest {
                continue;
            }
            let remote = transfer::remote_name(ws, &self.reg, img)?;
            let name = match digest {
                Some(d) => remote.with_tag(&reuse::input_tag(d)?),
                None => remote,
            };
            out.push((p, name));
        }
        Ok(out)
    }

    /// Gets every image of other shards this shard needs and does not have: waits (up to
    /// `wait`) until the registry has it, then pulls it under its local name. A dry run
    /// only says what it would wait for.
    pub fn fetch(&self, ctx: &Ctx, facts: &Facts, wait: Duration) -> anyhow::Result<()> {
        let needed = self.needed(ctx, facts)?;
        let from = |i: usize| format!("shard {}/{}", self.of[&i] + 1, self.shard.count);
        if ctx.dry_run {
            for (i, name) in &needed {
                let id = &ctx.ws.images[*i].id;
                let line = format!(
                    "{id}: from {}: would wait for `{name}` and pull it",
                    from(*i)
                );
                ctx.progress.println(&line);
            }
            return Ok(());
        }
        let deadline = Instant::now() + wait;
        let no_deps = parallel::independent(needed.len());
        let jobs = parallel::jobs(ctx, None, parallel::TRANSFERS);
        let (_, states) = parallel::run_jobs(&no_deps, jobs, false, parallel::by_index, |k| {
            let (i, name) = &needed[k];
            let img = &ctx.ws.images[*i];
            let task = ctx.progress.task(&img.id, &format!("from {}", from(*i)));
            let got = self
                .wait_for(ctx, name, deadline, wait, &task)
                .and_then(|()| pull::pull_as(ctx, &self.reg, &img.id, name, &img.name, &task));
            task.finish(got.is_ok(), if got.is_ok() { "pulled" } else { "failed" });
            got.map(|_| ())
                .map_err(|e| JobError::of(&e, format!("`{}` (from {}): {e:#}", img.id, from(*i))))
        });
        if signal::interrupted() {
            return Err(signal::Interrupted.into());
        }
        super::parallel::fail_on(&states, "arrive from other shards")
    }

    /// Looks `name` up until the registry has it; polls with growing pauses (up to
    /// [`MAX_POLL`]) until `deadline`.
    fn wait_for(
        &self,
        ctx: &Ctx,
        name: &ImageRef,
        deadline: Instant,
        wait: Duration,
        task: &Task,
    ) -> anyhow::Result<()> {
        let mut pause = Duration::from_millis(250);
        let mut told = false;
        loop {
            match reuse::lookup(&self.reg, &ctx.env, name) {
                Lookup::Found { .. } => return Ok(()),
                Lookup::Unavailable { why } => bail!("cannot look `{name}` up: {why}"),
                Lookup::Missing => {}
            }
            if Instant::now() >= deadline {
                bail!(
                    "`{name}` is not in registry `{}` after waiting {}; did that shard fail? (`--shard-wait` sets the wait)",
                    self.reg.name,
                    crate::duration::show(wait)
                );
            }
            if !told {
                task.line(&format!("waiting for `{name}`"));
                told = true;
            }
            sleep_until((Instant::now() + pause).min(deadline))?;
            pause = (pause * 2).min(MAX_POLL);
        }
    }

    /// Pushes this shard's images (built or up to date) for the later shards.
    pub fn push(&self, ctx: &Ctx, jobs: Option<usize>) -> anyhow::Result<()> {
        if self.own.is_empty() {
            return Ok(());
        }
        let args = PushArgs {
            selection: Selection::default(),
            also_tag: Vec::new(),
            force: false,
            jobs,
            json: false,
            lock: false,
            atomic: false,
            keep_going: false,
            buildkit: Default::default(),
        };
        super::push::push(ctx, self.own.iter().copied().collect(), &args, true).map(|_| ())
    }
}

/// Sleeps until `when`, waking early to stop on Ctrl-C.
fn sleep_until(when: Instant) -> anyhow::Result<()> {
    while Instant::now() < when {
        if signal::interrupted() {
            return Err(signal::Interrupted.into());
        }
        std::thread::sleep(
            when.saturating_duration_since(Instant::now())
                .min(Duration::from_millis(100)),
        );
    }
    Ok(())
}
