//! Serde structs that mirror `images.yaml` exactly. Unknown keys are rejected here (with the
//! nearest valid key suggested by `config::error`); meaning is given in `config::load`. The
//! same types give the JSON Schema of `imagemk schema` (`schema/images.schema.json`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::check;

/// One `images.yaml`: the workspace root has `workspace:`, every file may have the rest.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub workspace: Option<RawWorkspace>,
    #[serde(default)]
    pub defaults: RawDefaults,
    #[serde(default, deserialize_with = "check::component")]
    pub component: Option<String>,
    #[serde(default, deserialize_with = "check::images")]
    pub images: BTreeMap<String, RawImage>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWorkspace {
    /// Globs of component directories, relative to the workspace root.
    #[serde(default)]
    pub members: Vec<String>,
    /// The registry used when neither `--registry` nor `REGISTRY` names one.
    pub registry: Option<String>,
    #[serde(default)]
    pub registries: BTreeMap<String, RawRegistry>,
    /// Channel name → prefix template (e.g. `user: "{user}-"`).
    #[serde(default)]
    pub channels: BTreeMap<String, String>,
    /// Tags that clean-up never removes (default `latest`, `prod`).
    pub protected_tags: Option<Vec<String>>,
    /// Rules for `push`: refused tags, images that need `--force`, extra tags.
    #[serde(default)]
    pub publish: RawPublish,
    /// `registry`: `build` first looks for an image's inputs in the registry (`--reuse`).
    pub reuse: Option<RawReuse>,
    /// The container engine: `docker` or `podman` (default: docker, or podman when only
    /// podman is installed); `--engine` and `IMAGEMK_ENGINE` / `CONTAINER_ENGINE` override it.
    pub engine: Option<RawEngine>,
    /// Other names for images on the command line (`c++: cxx`): alias → image key or
    /// `component/key`. An alias may hold characters image keys may not; it must not be an
    /// image's own name.
    #[serde(default, deserialize_with = "super::check::aliases")]
    pub aliases: BTreeMap<String, String>,
    /// Globs of files, relative to the workspace root, that refer to images by remote name
    /// (Dockerfiles' `FROM`, CI yaml, Bazel or Terraform files): what `imagemk refs` rewrites
    /// to the digests of `images.lock` and checks.
    #[serde(default, deserialize_with = "super::check::references")]
    pub references: Vec<String>,
}

/// `workspace.engine`: the program imagemk drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawEngine {
    Docker,
    Podman,
}

/// `workspace.reuse`: where `build` looks for images already built from the same inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawReuse {
    /// Look the input-digest tag up in the chosen registry and pull it when found.
    Registry,
    /// Never (the default).
    Off,
}

/// `workspace.publish`: what `push` refuses, what it needs `--force` for, what it adds.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPublish {
    /// Kind → tags its images are never pushed with (e.g. `test: [latest]`).
    #[serde(default)]
    pub refuse_tags: BTreeMap<String, Vec<String>>,
    /// Kinds, or `component/key` image ids, that are shared: pushing them needs `--force`.
    #[serde(default)]
    pub force: Vec<String>,
    /// Extra tags pushed with every image; may use `{tag}`, `{revision}`, `{short_revision}`.
    #[serde(default)]
    pub also_tag: Vec<String>,
}

/// Values that the command line and the environment override.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    pub namespace: Option<String>,
    pub platform: Option<String>,
    pub tag: Option<String>,
    /// The local name template.
    pub name: Option<String>,
    pub channel: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRegistry {
    pub kind: String,
    /// `oci`: host[:port].
    pub host: Option<String>,
    /// Path under the host (`oci`, `gcr`: optional; appended after the project for `gar`).
    pub path: Option<String>,
    /// `acr`: the registry name (`<name>.azurecr.io`).
    pub name: Option<String>,
    /// `gar`: location, e.g. `us` or `europe-west1`.
    pub location: Option<String>,
    /// `gar`, `gcr`: the Google Cloud project.
    pub project: Option<String>,
    /// `gar`: the Artifact Registry repository.
    pub repository: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawImage {
    /// `buildenv`, `test`, `runenv`, …; defaults to the image's key.
    #[serde(default, deserialize_with = "check::kind")]
    pub kind: Option<String>,
    /// Path from the component directory; may use `{platform}`, `{kind}`, `{component}`.
    pub dockerfile: Option<String>,
    /// Build context, from the component directory (default `.`).
    pub context: Option<String>,
    #[serde(default, deserialize_with = "check::args")]
    pub args: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "check::labels")]
    pub labels: BTreeMap<String, String>,
    /// `--target` stage.
    pub target: Option<String>,
    /// Other images this one needs: `key` in this component or `component/key`.
    #[serde(default)]
    pub depends: Vec<String>,
    /// Files copied into the context for the build and removed after it.
    #[serde(default)]
    pub stage: Vec<RawStage>,
    #[serde(default, deserialize_with = "check::variants")]
    pub variants: BTreeMap<String, RawVariant>,
    pub run: Option<RawRun>,
    #[serde(default)]
    pub artifacts: Vec<RawArtifact>,
    /// What a developer who builds on the host instead of in this image needs there
    /// (`imagemk local-buildenv`): distro packages and files out of the image.
    pub host: Option<RawHost>,
    /// How long a build of this image may take (`90s`, `80m`, `2h`, `1h30m`); past it the
    /// build is stopped and fails. `build --timeout` overrides it.
    #[serde(default, deserialize_with = "check::timeout")]
    #[schemars(with = "Option<String>")]
    pub timeout: Option<std::time::Duration>,
}

#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStage {
    /// Source, from the component directory.
    pub from: String,
    /// Destination, from the build context (inside it).
    #[serde(deserialize_with = "check::stage_to")]
    pub to: String,
    /// How to get `from` when it is missing, e.g. `apt-get install busybox-static`: shown by
    /// the build and by `imagemk doctor`.
    pub hint: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawVariant {
    #[serde(default, deserialize_with = "check::args")]
    pub args: BTreeMap<String, String>,
    /// Added to the repository name (default `-<variant>`).
    pub suffix: Option<String>,
}

/// How `run` and `withdocker` start a container of this image.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    #[serde(default)]
    pub devices: Vec<String>,
    #[serde(default)]
    pub ulimits: Vec<String>,
    pub user: Option<String>,
    #[serde(default)]
    pub init: bool,
    /// Names of environment variables passed through (by name, never by value).
    #[serde(default, deserialize_with = "check::env_names")]
    pub env: Vec<String>,
    pub command: Option<Vec<String>>,
    #[serde(default, deserialize_with = "check::workdir")]
    pub workdir: Option<String>,
    pub network: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawArtifact {
    /// Path inside the image.
    pub from: String,
    /// Path in the tree, from the component directory (inside it).
    #[serde(deserialize_with = "check::artifact_to")]
    pub to: String,
}

/// `host:` of an image: the packages its toolchain needs per package manager, and the files
/// `imagemk local-buildenv` copies out of the image onto the host.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHost {
    /// Debian, Ubuntu: packages for `apt-get install`.
    #[serde(default, deserialize_with = "super::host::packages")]
    pub apt: Vec<String>,
    /// Fedora, RHEL, CentOS: packages for `dnf install` (also `yum install`).
    #[serde(default, deserialize_with = "super::host::packages")]
    pub dnf: Vec<String>,
    /// Alpine: packages for `apk add`.
    #[serde(default, deserialize_with = "super::host::packages")]
    pub apk: Vec<String>,
    /// Files or directories copied out of the image to absolute host paths.
    #[serde(default)]
    pub artifacts: Vec<RawHostArtifact>,
}

#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHostArtifact {
    /// Absolute path inside the image.
    #[serde(deserialize_with = "super::host::image_path")]
    pub from: String,
    /// Absolute path on the host (under `--root DIR` when given); never `/` or a system
    /// directory itself such as `/usr` (a path below one is fine).
    #[serde(deserialize_with = "super::host::host_path")]
    pub to: String,
}
