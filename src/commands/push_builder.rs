//! `imagemk push --builder NAME`: each selected image is built by the BuildKit builder and
//! pushed straight to its remote names (`docker buildx build --push`), in dependency order.
//! No local image is needed or made, so there is no temporary tag to create or remove; the
//! pushed digest is read from buildx's `--metadata-file` (`containerimage.digest`), never
//! from its output. A workspace parent's local name in `FROM` stands for its remote name
//! (`--build-context NAME=docker-image://REMOTE`), so the builder pulls what an earlier job
//! (or run) pushed.

use std::collections::BTreeMap;

use super::push::{report, Pushed};
use super::{build, parallel, Ctx};
use crate::builder::{self, Builder, MetadataFile};
use crate::cli::PushArgs;
use crate::engine::image;
use crate::plan::{self, BuildStep};
use crate::registry::transfer::{self, PushJob};
use crate::registry::Registry;
use crate::{exec, signal};

pub fn run(
    ctx: &Ctx,
    reg: &Registry,
    jobs: &[PushJob],
    b: &Builder,
    args: &PushArgs,
) -> anyhow::Result<i32> {
    let jobs = &in_dependency_order(ctx, jobs);
    let steps = steps(ctx, reg, jobs, b)?;
    if ctx.dry_run {
        for s in &steps {
            crate::console::outln!("{}", s.cmd);
        }
        return Ok(0);
    }
    builder::require(b)?;
    let results = execute(
        ctx,
        jobs,
        &steps,
        parallel::jobs(ctx, args.jobs, parallel::TRANSFERS),
    )?;
    report(jobs, &results, args.json)?;
    Ok(0)
}

/// The jobs with every workspace parent's job before its children's (the order `--dry-run`
/// prints and the scheduler prefers).
fn in_dependency_order(ctx: &Ctx, jobs: &[PushJob]) -> Vec<PushJob> {
    let deps: Vec<Vec<usize>> = ctx.ws.images.iter().map(|i| i.depends.clone()).collect();
    let chosen = jobs.iter().map(|j| j.image).collect();
    let order = crate::graph::topo_order(&deps, &chosen);
    let by_image: BTreeMap<usize, &PushJob> = jobs.iter().map(|j| (j.image, j)).collect();
    order.iter().map(|i| by_image[i].clone()).collect()
}

/// One `buildx build --push` per job, waiting for the jobs of its workspace parents.
fn steps(
    ctx: &Ctx,
    reg: &Registry,
    jobs: &[PushJob],
    b: &Builder,
) -> anyhow::Result<Vec<BuildStep>> {
    let ws = &ctx.ws;
    let position: BTreeMap<usize, usize> =
        jobs.iter().enumerate().map(|(k, j)| (j.image, k)).collect();
    let mut out = Vec::new();
    for (k, job) in jobs.iter().enumerate() {
        let img = &ws.images[job.image];
        if let Some(problem) = img.problems.first() {
            anyhow::bail!("{problem}");
        }
        let spec = plan::context_spec(ws, img)?;
        let parents = img
            .depends
            .iter()
            .map(|&d| {
                let parent = &ws.images[d];
                Ok((
                    parent.name.to_string(),
                    transfer::remote_name(ws, reg, parent)?,
                ))
            })
            .collect::<anyhow::Result<_>>()?;
        let via = image::Buildx {
            builder: b,
            tags: job.remotes.clone(),
            push_metadata: Some(MetadataFile::path(k)),
            parents,
        };
        let labels = plan::build_labels(img, None);
        let dockerfile = spec.dockerfile_in_archive();
        let described = spec.describe(exec::quote);
        let build = image::Build {
            image: img,
            labels: &labels,
            dockerfile: &dockerfile,
            context: described,
            no_cache: false,
        };
        let cmd = image::buildx(&via, build);
        out.push(BuildStep {
            image: job.image,
            id: job.id.clone(),
            cmd,
            deps: img
                .depends
                .iter()
                .filter_map(|d| position.get(d).copied())
                .collect(),
            context: Some(spec),
        });
    }
    Ok(out)
}

fn execute(
    ctx: &Ctx,
    jobs: &[PushJob],
    steps: &[BuildStep],
    parallel: usize,
) -> anyhow::Result<Vec<Option<Pushed>>> {
    let deps: Vec<Vec<usize>> = steps.iter().map(|s| s.deps.clone()).collect();
    let (results, states) = parallel::run_jobs(&deps, parallel, false, parallel::by_index, |k| {
        let (job, step) = (&jobs[k], &steps[k]);
        let task = ctx
            .progress
            .task(&job.id, &format!("building and pushing {}", job.remotes[0]));
        let file = MetadataFile::new(k);
        let spec = step.context.as_ref().expect("a buildx step has a context");
        let log = build::log_path(&ctx.ws, &step.id);
        let limit = ctx.ws.images[step.image].timeout;
        let pushed = build::build_one(step, spec, &log, limit, &task).and_then(|()| {
            let digest = file.digest().ok_or_else(|| {
                format!(
                    "the push of `{}` succeeded but `{}` wrote no `containerimage.digest` to `{}`",
                    job.id,
                    step.cmd.shown(),
                    file.as_path().display()
                )
            })?;
            Ok(Pushed {
                refs: job
                    .remotes
                    .iter()
                    .map(|r| (r.clone(), digest.clone()))
                    .collect(),
            })
        });
        task.finish(
            pushed.is_ok(),
            if pushed.is_ok() { "pushed" } else { "failed" },
        );
        pushed
    });
    if signal::interrupted() {
        return Err(signal::Interrupted.into());
    }
    parallel::fail_on(&states, "push")?;
    Ok(results)
}
