//! Pure planning: the workspace, a request and what the engine already has → the steps to run.
//! No IO happens here; `--dry-run` prints these steps and the executors walk them.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;

use crate::config::{Stage, Workspace};
use crate::docker;
use crate::exec::Cmd;
use crate::graph;

/// One image to build.
#[derive(Debug, Clone)]
pub struct BuildStep {
    pub image: usize,
    pub id: String,
    pub cmd: Cmd,
    /// Indices of earlier steps this one waits for.
    pub deps: Vec<usize>,
    pub stage: Vec<Stage>,
}

impl BuildStep {
    /// The lines `--dry-run` prints: staging notes around the exact docker command.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .stage
            .iter()
            .map(|s| format!("# stage {} -> {}", s.from.display(), s.to.display()))
            .collect();
        out.push(self.cmd.to_string());
        out.extend(
            self.stage
                .iter()
                .map(|s| format!("# unstage {}", s.to.display())),
        );
        out
    }
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
            BuildStep {
                image: i,
                id: img.id.clone(),
                cmd: docker::build(img, &all_labels),
                deps: img
                    .depends
                    .iter()
                    .filter_map(|d| position.get(d).copied())
                    .collect(),
                stage: img.stage.clone(),
            }
        })
        .collect();
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
