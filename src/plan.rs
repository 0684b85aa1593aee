//! Pure planning: the workspace, a request and what the engine already has → the steps to run.
//! No IO happens here; `--dry-run` prints these steps and the executors walk them.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;

use crate::config::{Image, Workspace};
use crate::context::{self, Spec, Staged};
use crate::docker;
use crate::exec::{self, Cmd};
use crate::graph;

/// One image to build.
#[derive(Debug, Clone)]
pub struct BuildStep {
    pub image: usize,
    pub id: String,
    pub cmd: Cmd,
    /// Indices of earlier steps this one waits for.
    pub deps: Vec<usize>,
    /// The archive the build reads on stdin.
    pub context: Spec,
}

impl BuildStep {
    /// The lines `--dry-run` prints: the exact docker command, its stdin described.
    pub fn lines(&self) -> Vec<String> {
        vec![self.cmd.to_string()]
    }
}

/// Checks the build inputs that need no IO (staged `to:` paths) of `selected` and everything
/// they depend on, so bad input is reported before the first docker command (the engine query
/// included).
pub fn check_inputs(ws: &Workspace, selected: &[usize]) -> anyhow::Result<()> {
    let deps: Vec<Vec<usize>> = ws.images.iter().map(|i| i.depends.clone()).collect();
    for i in graph::closure(&deps, selected) {
        context_spec(ws, &ws.images[i])?;
    }
    Ok(())
}

/// The archive of `img`'s build; a staged `to:` that leaves the context is refused here,
/// before anything runs. imagemk's own `.imagemk/` directory is never sent.
fn context_spec(ws: &Workspace, img: &Image) -> anyhow::Result<Spec> {
    let staged = img
        .stage
        .iter()
        .map(|s| {
            Ok(Staged {
                from: s.from.clone(),
                to: context::staged_path(&img.id, &img.context, &s.to)?,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Spec {
        dir: img.context.clone(),
        dockerfile: img.dockerfile.clone(),
        staged,
        skip: Some(ws.root.join(".imagemk")),
    })
}

#[derive(Debug, Clone)]
pub struct BuildPlan {
    pub steps: Vec<BuildStep>,
    /// Dependencies that exist locally and are used as they are.
    pub reused: Vec<usize>,
}

/// What was asked for.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    pub selected: Vec<usize>,
    /// Rebuild dependencies even when they exist locally (`--deps`).
    pub rebuild_deps: bool,
}

/// Plans the selected images and every dependency that is missing locally (all of them with
/// `rebuild_deps`), in dependency order.
pub fn build(
    ws: &Workspace,
    req: &BuildRequest,
    present: &BTreeSet<String>,
    labels: &BTreeMap<String, String>,
) -> anyhow::Result<BuildPlan> {
    let deps: Vec<Vec<usize>> = ws.images.iter().map(|i| i.depends.clone()).collect();
    let mut chosen: BTreeSet<usize> = req.selected.iter().copied().collect();
    let mut reused = BTreeSet::new();
    let mut queue: Vec<usize> = req.selected.clone();
    while let Some(n) = queue.pop() {
        for &d in &deps[n] {
            if chosen.contains(&d) {
                continue;
            }
            if req.rebuild_deps || !present.contains(&ws.images[d].name.to_string()) {
                chosen.insert(d);
                reused.remove(&d);
                queue.push(d);
            } else {
                reused.insert(d);
            }
        }
    }
    let problems: Vec<&String> = chosen
        .iter()
        .flat_map(|&i| ws.images[i].problems.iter())
        .collect();
    if let Some(first) = problems.first() {
        let more = match problems.len() {
            1 => String::new(),
            n => format!(
                " (and {} more problem{})",
                n - 1,
                if n > 2 { "s" } else { "" }
            ),
        };
        bail!("{first}{more}");
    }
    let order = graph::topo_order(&deps, &chosen);
    let position: BTreeMap<usize, usize> =
        order.iter().enumerate().map(|(pos, &i)| (i, pos)).collect();
    let mut all_labels = labels.clone();
    let steps = order
        .iter()
        .map(|&i| {
            let img = &ws.images[i];
            all_labels.insert("io.imagemk.image".into(), img.id.clone());
            let context = context_spec(ws, img)?;
            let cmd = docker::build(
                img,
                &all_labels,
                &context.dockerfile_in_archive(),
                context.describe(exec::quote),
            );
            Ok(BuildStep {
                image: i,
                id: img.id.clone(),
                cmd,
                deps: img
                    .depends
                    .iter()
                    .filter_map(|d| position.get(d).copied())
                    .collect(),
                context,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(BuildPlan {
        steps,
        reused: reused.into_iter().collect(),
    })
}

/// The labels every build carries: imagemk's version and, when known, the source revision.
pub fn labels(revision: Option<&str>, branch: Option<&str>) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    labels.insert(
        "io.imagemk.version".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    );
    if let Some(rev) = revision {
        labels.insert("org.opencontainers.image.revision".into(), rev.into());
    }
    if let Some(b) = branch {
        labels.insert("io.imagemk.branch".into(), b.into());
    }
    labels
}
