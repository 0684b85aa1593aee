//! The workspace: every `images.yaml` read, checked and resolved into [`Workspace`], the one
//! value the rest of imagemk plans from. `raw` mirrors the YAML; `load` gives it meaning.

mod aliases;
pub mod check;
mod dup;
pub mod env;
pub mod error;
pub(crate) mod host;
mod keyline;
mod load;
pub mod raw;
mod run_check;
#[cfg(test)]
pub(crate) mod tests;
pub mod typed;
pub mod variants;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use env::Env;
pub use load::load;
pub use typed::{Artifact, EnvName, Host, HostArtifact, Publish, RunOptions};

use crate::reference::ImageRef;

/// Values given on the command line; they win over the environment and the files.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub tag: Option<String>,
    pub platform: Option<String>,
    pub variant: Option<String>,
    pub registry: Option<String>,
    pub channel: Option<String>,
}

/// The values every component resolved to (flag > environment > component > workspace >
/// built-in default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub namespace: String,
    pub platform: String,
    pub tag: String,
    pub name_template: String,
    pub variant: Option<String>,
    pub channel: Option<String>,
    pub user: String,
}

pub const DEFAULT_NAME: &str = "{namespace}/{kind}-{component}-{platform}{variant}:{tag}";
pub const DEFAULT_DOCKERFILE: &str = "docker/{kind}-{platform}.dockerfile";
pub const DEFAULT_PLATFORM: &str = "linux";
pub const DEFAULT_TAG: &str = "latest";

#[derive(Debug)]
pub struct Workspace {
    /// The directory of the root `images.yaml`.
    pub root: PathBuf,
    pub components: Vec<Component>,
    pub images: Vec<Image>,
    /// The component of the nearest `images.yaml` above the current directory.
    pub current: usize,
    /// Settings from flags, environment, workspace file and defaults (no component layer).
    pub settings: Settings,
    pub registry: Option<String>,
    /// Whether the registry was asked for by `--registry` or `REGISTRY` / `CLOUD` (not only
    /// named by `workspace.registry`): `list` then shows remote names and channels.
    pub registry_asked: bool,
    /// `workspace.registries`, each checked and typed at load.
    pub registries: BTreeMap<String, crate::registry::Registry>,
    pub channels: BTreeMap<String, String>,
    pub protected_tags: Vec<String>,
    /// `workspace.publish`: push guards and extra tags.
    pub publish: Publish,
    /// `workspace.reuse: registry`: `build` reuses images from the registry by input digest
    /// unless `--no-reuse` / `REUSE=0`.
    pub reuse: bool,
    /// `workspace.engine`, when the file names one.
    pub engine: Option<crate::engine::Engine>,
    /// `workspace.aliases`, each resolved to an image index.
    pub aliases: BTreeMap<String, usize>,
    /// Image indices by id and by full name (`repository:tag`), so look-ups are not linear.
    pub index: Index,
    /// `workspace.references`: globs of files that refer to images, for `imagemk refs`.
    pub references: Vec<String>,
    /// The variants of a run that asked for several (`--variant plain,debug`); empty
    /// otherwise. With several, `images` holds every variant of each image (see `variants.rs`).
    pub variants: Vec<String>,
}

/// Image indices by id and by full name, built once at load.
#[derive(Debug, Default)]
pub struct Index {
    pub by_id: std::collections::HashMap<String, usize>,
    pub by_name: std::collections::HashMap<String, usize>,
}

impl Index {
    pub fn new(images: &[Image]) -> Index {
        let mut index = Index::default();
        for (i, img) in images.iter().enumerate() {
            index.by_id.entry(img.id.clone()).or_insert(i);
            index.by_name.entry(img.name.to_string()).or_insert(i);
        }
        index
    }
}

#[derive(Debug)]
pub struct Component {
    pub name: String,
    pub dir: PathBuf,
    pub file: PathBuf,
    pub settings: Settings,
}

#[derive(Debug, Clone)]
pub struct Image {
    /// `component/key`.
    pub id: String,
    pub component: usize,
    pub key: String,
    pub kind: String,
    pub name: ImageRef,
    pub dockerfile: PathBuf,
    pub context: PathBuf,
    /// Build args, config ones and the automatic ones the Dockerfile declares.
    pub args: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub target: Option<String>,
    /// Indices into `Workspace::images`, from `depends:` and the Dockerfile.
    pub depends: Vec<usize>,
    pub stage: Vec<Stage>,
    pub variant: Option<String>,
    /// `run:`, checked at load.
    pub run: RunOptions,
    /// `artifacts:`, checked at load.
    pub artifacts: Vec<Artifact>,
    /// `host:`: what `local-buildenv` puts on the host.
    pub host: Option<Host>,
    /// `timeout:`: how long a build of this image may take.
    pub timeout: Option<std::time::Duration>,
    /// Problems that stop this image from being built (missing Dockerfile or context);
    /// reported only when the image is selected.
    pub problems: Vec<String>,
    /// Build args given for this run (`build --arg`), also in `args`; recorded as labels.
    pub run_args: BTreeMap<String, String>,
    /// Every variant the image defines (`variants:` keys).
    pub variants: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub from: PathBuf,
    pub to: PathBuf,
    /// How to get `from` when it is missing (`stage: hint:`).
    pub hint: Option<String>,
}

impl Workspace {
    /// How image `i` is named in messages, logs and JSON: its id, plus `+VARIANT` for a
    /// variant image when the run holds several variants (`app/envoy+debug`; `+` cannot be
    /// in an id, so it never collides).
    pub fn shown_id(&self, i: usize) -> String {
        let img = &self.images[i];
        match &img.variant {
            Some(v) if self.variants.len() > 1 => format!("{}+{v}", img.id),
            _ => img.id.clone(),
        }
    }

    pub fn image(&self, id: &str) -> Option<usize> {
        self.index.by_id.get(id).copied()
    }

    /// The workspace image whose full name (`repository:tag`) is `name`.
    pub fn image_named(&self, name: &str) -> Option<usize> {
        self.index.by_name.get(name).copied()
    }

    pub fn component_of(&self, image: &Image) -> &Component {
        &self.components[image.component]
    }

    /// Resolves `key` (in the current component) or `component/key` to an image index.
    pub fn find(&self, spec: &str) -> anyhow::Result<usize> {
        let id = match spec.split_once('/') {
            Some(_) => spec.to_string(),
            None => format!("{}/{spec}", self.components[self.current].name),
        };
        if let Some(i) = self.image(&id) {
            return Ok(i);
        }
        resolve_spec(&self.components, &self.images, spec, self.current)
    }
}

/// Resolves an image spec relative to component `from`, with a suggestion when unknown.
pub(crate) fn resolve_spec(
    components: &[Component],
    images: &[Image],
    spec: &str,
    from: usize,
) -> anyhow::Result<usize> {
    let (component, key) = match spec.split_once('/') {
        Some((c, k)) => (c.to_string(), k),
        None => (components[from].name.clone(), spec),
    };
    let id = format!("{component}/{key}");
    if let Some(i) = images.iter().position(|i| i.id == id) {
        return Ok(i);
    }
    let Some(ci) = components.iter().position(|c| c.name == component) else {
        let names: Vec<&str> = components.iter().map(|c| c.name.as_str()).collect();
        let hint = error::did_you_mean(&component, &names);
        anyhow::bail!(
            "unknown component `{component}` in `{spec}`{hint} (components: {})",
            names.join(", ")
        );
    };
    let keys: Vec<&str> = images
        .iter()
        .filter(|i| i.component == ci)
        .map(|i| i.key.as_str())
        .collect();
    let hint = error::did_you_mean(key, &keys);
    anyhow::bail!(
        "unknown image `{key}` in component `{component}`{hint} (images there: {})",
        if keys.is_empty() {
            "none".to_string()
        } else {
            keys.join(", ")
        }
    )
}
