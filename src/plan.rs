//! Pure planning: the workspace, a request and the facts gathered before (local images with
//! their input-digest labels, every image's input digest) → a decision per image (up to date,
//! tag, build, with reasons) and the steps to run. No IO happens here; `--dry-run` prints
//! these steps and the executors walk them.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;

use crate::config::{Image, Workspace};
use crate::context::{self, Spec, Staged};
use crate::engine::image;
use crate::exec::{self, Cmd};
use crate::graph;
use crate::inputs::{self, Inputs};

/// One image to build (or to tag, when another local image carries its inputs).
#[derive(Debug, Clone)]
pub struct BuildStep {
    pub image: usize,
    pub id: String,
    pub cmd: Cmd,
    /// Indices of earlier steps this one waits for.
    pub deps: Vec<usize>,
    /// The archive the build reads on stdin; `None` for a `docker tag` step.
    pub context: Option<Spec>,
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
pub fn context_spec(ws: &Workspace, img: &Image) -> anyhow::Result<Spec> {
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
        append: None,
    })
}

/// What was asked for.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    pub selected: Vec<usize>,
    /// Rebuild the dependencies even when they are up to date (`--deps`).
    pub rebuild_deps: bool,
    /// Build the selected images even when they are up to date (`--force`).
    pub force: bool,
    /// Also select every image that depends on a selected one (`--dependents`).
    pub dependents: bool,
    /// `--no-cache` alone: docker's `--no-cache` for every build, the selected images
    /// rebuilt even when up to date.
    pub no_cache: bool,
    /// `--no-cache=a,b`: those images are built with docker's `--no-cache`, even when up to
    /// date.
    pub no_cache_for: BTreeSet<usize>,
    /// `--locked`: the parents taken from images.lock instead of built (pulled by digest);
    /// what they depend on is not part of the build.
    pub locked: BTreeMap<usize, crate::lock::Entry>,
    /// `--builder`: builds go through `docker buildx build --builder NAME --load`.
    pub builder: Option<crate::builder::Builder>,
    /// With `build --shard`: only these images of the closure are decided and built (the
    /// shard's part); the others come from other shards.
    pub only: Option<BTreeSet<usize>>,
}

/// The reason of an image rebuilt because `--no-cache` named it (or named every image).
pub const NO_CACHE_ASKED: &str = "--no-cache asked";

/// One local image, as the engine described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalImage {
    pub id: String,
    /// The `io.imagemk.inputs` label's value, if any.
    pub inputs: Option<String>,
}

/// What planning needs to know, gathered before it (planning does no IO).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Input digest and inputs of every image of the closure, by image index.
    pub inputs: BTreeMap<usize, (String, Inputs)>,
    /// Whether one `LABEL` line can be appended to the image's Dockerfile.
    pub appendable: BTreeMap<usize, bool>,
    /// Local images by `repository:tag`; `None` when the engine could not be asked.
    pub local: Option<BTreeMap<String, LocalImage>>,
    /// Recorded inputs of earlier digests (the local images' labels), for explanations.
    pub recorded: BTreeMap<String, Inputs>,
    /// Images pulled from the registry by their input digest (their local image IDs).
    pub pulled: BTreeMap<usize, String>,
}

/// What happens to one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Its local image carries its input digest.
    UpToDate,
    /// Another local image (this name) carries its input digest: tag it.
    Tag(String),
    /// Found in the registry by its input digest and pulled (this image ID).
    Pulled(String),
    Build,
}

#[derive(Debug, Clone)]
pub struct Decision {
    pub image: usize,
    pub action: Action,
    /// Why, one line each (`up to date (inputs 3f2a…)`, `core/tests/run.sh added`, …).
    pub reasons: Vec<String>,
    pub digest: Option<String>,
    /// Asked for (not only a dependency).
    pub selected: bool,
}

/// The images a request concerns, in dependency order: the selected ones (with their
/// dependents when asked) and everything they depend on.
pub fn closure(ws: &Workspace, req: &BuildRequest) -> Vec<usize> {
    let deps: Vec<Vec<usize>> = (ws.images.iter().enumerate())
        .map(|(n, i)| match req.locked.contains_key(&n) {
            true => Vec::new(),
            false => i.depends.clone(),
        })
        .collect();
    let roots = selected_set(ws, req);
    let all = graph::closure(&deps, &roots.iter().copied().collect::<Vec<_>>());
    graph::topo_order(&deps, &all)
}

/// The selected images, plus every image that depends on one of them with `--dependents`.
pub fn selected_set(ws: &Workspace, req: &BuildRequest) -> BTreeSet<usize> {
    let mut set: BTreeSet<usize> = req.selected.iter().copied().collect();
    if req.dependents {
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); ws.images.len()];
        for (i, img) in ws.images.iter().enumerate() {
            for &d in &img.depends {
                dependents[d].push(i);
            }
        }
        let mut stack: Vec<usize> = set.iter().copied().collect();
        while let Some(n) = stack.pop() {
            for &m in &dependents[n] {
                if set.insert(m) {
                    stack.push(m);
                }
            }
        }
    }
    set
}

/// Decides, in dependency order, what happens to every image of the closure.
pub fn decide(ws: &Workspace, req: &BuildRequest, facts: &Facts) -> Vec<Decision> {
    let selected = selected_set(ws, req);
    let twins = twins(facts);
    let mut out: Vec<Decision> = Vec::new();
    let mut built = BTreeSet::new();
    let part = closure(ws, req)
        .into_iter()
        .filter(|i| req.only.as_ref().is_none_or(|o| o.contains(i)));
    for i in part {
        let is_selected = selected.contains(&i);
        let forced = (is_selected && req.force) || (!is_selected && req.rebuild_deps);
        let rebuilt_parent = ws.images[i]
            .depends
            .iter()
            .find(|d| built.contains(*d))
            .map(|&d| ws.images[d].id.clone());
        let busted = req.no_cache_for.contains(&i) || (req.no_cache && is_selected);
        let (action, reasons) = if let Some(e) = req.locked.get(&i) {
            let id = facts.pulled.get(&i).cloned().unwrap_or_default();
            (
                Action::Pulled(id),
                vec![format!("locked: pulled {}", e.pinned())],
            )
        } else if busted && !forced && facts.local.is_some() {
            (Action::Build, vec![NO_CACHE_ASKED.to_string()])
        } else {
            decide_one(ws, i, facts, forced, rebuilt_parent, &twins)
        };
        if action == Action::Build {
            built.insert(i);
        }
        out.push(Decision {
            image: i,
            action,
            reasons,
            digest: facts.inputs.get(&i).map(|(d, _)| d.clone()),
            selected: is_selected,
        });
    }
    out
}

/// The local names carrying each input digest, in name order (to find another local image
/// with an image's inputs without scanning every local image per image).
fn twins(facts: &Facts) -> BTreeMap<&str, Vec<&String>> {
    let mut out: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for (name, l) in facts.local.iter().flatten() {
        if let Some(d) = &l.inputs {
            out.entry(d.as_str()).or_default().push(name);
        }
    }
    out
}

fn decide_one(
    ws: &Workspace,
    i: usize,
    facts: &Facts,
    forced: bool,
    rebuilt_parent: Option<String>,
    twins: &BTreeMap<&str, Vec<&String>>,
) -> (Action, Vec<String>) {
    let img = &ws.images[i];
    let Some(local) = &facts.local else {
        return (Action::Build, vec!["the engine was not asked".into()]);
    };
    let name = img.name.to_string();
    let Some((digest, inputs)) = facts.inputs.get(&i) else {
        if !forced && local.contains_key(&name) {
            let why = img.problems.first().cloned().unwrap_or_default();
            return (
                Action::UpToDate,
                vec![format!("using the local image as it is: {why}")],
            );
        }
        return (Action::Build, vec!["its inputs cannot be read".into()]);
    };
    let mine = local.get(&name);
    let up_to_date = mine.is_some_and(|m| m.inputs.as_deref() == Some(digest.as_str()));
    if forced {
        return (Action::Build, vec!["forced".into()]);
    }
    if let Some(id) = facts.pulled.get(&i) {
        return (
            Action::Pulled(id.clone()),
            vec![format!("pulled (inputs {})", inputs::short(digest))],
        );
    }
    if up_to_date {
        if let Some(p) = rebuilt_parent {
            return (Action::Build, vec![format!("parent {p} rebuilt")]);
        }
        return (
            Action::UpToDate,
            vec![format!("up to date (inputs {})", inputs::short(digest))],
        );
    }
    let reasons = why_out_of_date(ws, img, mine, inputs, facts);
    if rebuilt_parent.is_some() {
        return (Action::Build, reasons);
    }
    let twin = twins
        .get(digest.as_str())
        .and_then(|names| names.iter().find(|n| ***n != name));
    if let Some(other) = twin {
        let mut r = reasons;
        r.push(format!(
            "`{other}` carries the same inputs: tagged, not built"
        ));
        return (Action::Tag((*other).clone()), r);
    }
    (Action::Build, reasons)
}

fn why_out_of_date(
    ws: &Workspace,
    img: &Image,
    mine: Option<&LocalImage>,
    now: &Inputs,
    facts: &Facts,
) -> Vec<String> {
    let Some(mine) = mine else {
        return vec!["no local image".into()];
    };
    let Some(label) = &mine.inputs else {
        return vec![format!("the local image has no `{}` label", inputs::LABEL)];
    };
    if !inputs::is_digest(label) {
        let shown = crate::reference::shorten(label, 80);
        return vec![format!(
            "the local image's `{}` label is not a digest (`{shown}`): treated as out of date",
            inputs::LABEL
        )];
    }
    match facts.recorded.get(label) {
        Some(old) => {
            let shown = shown(ws, img);
            let lines = inputs::diff(old, now, &shown);
            if lines.is_empty() {
                vec!["inputs changed".into()]
            } else {
                lines
            }
        }
        None => vec![format!(
            "inputs changed (the local image has inputs {}, not recorded here)",
            inputs::short(label)
        )],
    }
}

/// How an image's Dockerfile and context are named in explanations: relative to the root.
pub fn shown(ws: &Workspace, img: &Image) -> inputs::Shown {
    let rel = |p: &std::path::Path| match p.strip_prefix(&ws.root) {
        Ok(r) if r.as_os_str().is_empty() => ".".to_string(),
        Ok(r) => r.display().to_string(),
        Err(_) => p.display().to_string(),
    };
    inputs::Shown {
        dockerfile: rel(&img.dockerfile),
        context: rel(&img.context),
    }
}

/// Whether imagemk's labels go into one `LABEL` line appended to the Dockerfile (one step on
/// the legacy builder) rather than one `--label` each: not with `target` (the line would land
/// in the last stage), nor when the Dockerfile or a value could change its meaning.
pub fn one_label_step(img: &Image, appendable: bool, labels: &BTreeMap<String, String>) -> bool {
    appendable
        && img.target.is_none()
        && labels
            .iter()
            .all(|(k, v)| inputs::plain_label(k) && inputs::plain_label(v))
}

/// The labels an image's build carries: its own, its id and its input digest. The source
/// revision and branch are not among them: a label changes the image ID, so a commit that
/// touches nothing of an image would rebuild it and every dependent.
pub fn build_labels(img: &Image, digest: Option<&str>) -> BTreeMap<String, String> {
    let mut labels = img.labels.clone();
    for (k, v) in &img.run_args {
        labels.insert(format!("io.imagemk.arg.{k}"), v.clone());
    }
    labels.insert("io.imagemk.image".into(), img.id.clone());
    if let Some(d) = digest {
        labels.insert(inputs::LABEL.into(), d.to_string());
    }
    labels
}

fn label_line(labels: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("\"{k}\"=\"{v}\""))
        .collect();
    format!("LABEL {}\n", pairs.join(" "))
}

#[derive(Debug, Clone)]
pub struct BuildPlan {
    pub decisions: Vec<Decision>,
    pub steps: Vec<BuildStep>,
}

/// Plans the steps of the decisions: a build or a tag each, waiting for the steps of the
/// image's dependencies. Problems of an image that must be built are reported here.
pub fn build(ws: &Workspace, req: &BuildRequest, facts: &Facts) -> anyhow::Result<BuildPlan> {
    let decisions = decide(ws, req, facts);
    let acting: Vec<&Decision> = decisions
        .iter()
        .filter(|d| matches!(d.action, Action::Build | Action::Tag(_)))
        .collect();
    report_problems(
        ws,
        acting
            .iter()
            .filter(|d| d.action == Action::Build)
            .map(|d| d.image),
    )?;
    let position: BTreeMap<usize, usize> = acting
        .iter()
        .enumerate()
        .map(|(pos, d)| (d.image, pos))
        .collect();
    let steps = acting
        .iter()
        .map(|d| step(ws, req, facts, d, &position))
        .collect::<anyhow::Result<_>>()?;
    Ok(BuildPlan { decisions, steps })
}

fn step(
    ws: &Workspace,
    req: &BuildRequest,
    facts: &Facts,
    d: &Decision,
    position: &BTreeMap<usize, usize>,
) -> anyhow::Result<BuildStep> {
    let img = &ws.images[d.image];
    let deps = img
        .depends
        .iter()
        .filter_map(|p| position.get(p).copied())
        .collect();
    if let Action::Tag(source) = &d.action {
        let cmd = image::tag_id(source, &img.name);
        return Ok(BuildStep {
            image: d.image,
            id: ws.shown_id(d.image),
            cmd,
            deps,
            context: None,
        });
    }
    let labels = build_labels(img, d.digest.as_deref());
    let appendable = facts.appendable.get(&d.image).copied().unwrap_or(false);
    let mut context = context_spec(ws, img)?;
    let flags = if one_label_step(img, appendable, &labels) {
        context.append = Some(label_line(&labels));
        BTreeMap::new()
    } else {
        labels
    };
    let dockerfile = context.dockerfile_in_archive();
    let described = context.describe(exec::quote);
    let no_cache = req.no_cache || req.no_cache_for.contains(&d.image);
    let build = image::Build {
        image: img,
        labels: &flags,
        dockerfile: &dockerfile,
        context: described,
        no_cache,
    };
    let cmd = build_cmd(req, build);
    Ok(BuildStep {
        image: d.image,
        id: ws.shown_id(d.image),
        cmd,
        deps,
        context: Some(context),
    })
}

/// `docker build`, or `docker buildx build --builder B --load` with `--builder`.
fn build_cmd(req: &BuildRequest, build: image::Build) -> Cmd {
    match &req.builder {
        None => image::build(build),
        Some(builder) => {
            let via = image::Buildx {
                builder,
                tags: vec![build.image.name.clone()],
                push_metadata: None,
                parents: Vec::new(),
            };
            image::buildx(&via, build)
        }
    }
}

fn report_problems(ws: &Workspace, building: impl Iterator<Item = usize>) -> anyhow::Result<()> {
    let problems: Vec<&String> = building
        .flat_map(|i| ws.images[i].problems.iter())
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
    Ok(())
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod table_tests;
