//! Image commands as data (build, buildx, tag, push, pull, untag, inspect, list, manifest
//! inspect, buildx version / inspect). Each function returns a [`Cmd`]; nothing here runs
//! anything, so every command can be printed by `--dry-run` and asserted in tests without an
//! engine.

use std::collections::BTreeMap;

use crate::config::Image;
use crate::exec::Cmd;
use crate::reference::ImageRef;

use super::{docker, tls_for};

/// `--tls-verify=false` for a registry on `name`'s host when the engine needs it.
fn tls_for_name(cmd: Cmd, name: &ImageRef) -> Cmd {
    match name.repository.split_once('/') {
        Some((host, _)) => tls_for(cmd, host),
        None => cmd,
    }
}

/// What every build is given: the image, its `--label` flags (none when the labels are
/// appended to the Dockerfile as one `LABEL` line), the Dockerfile's path inside the archive,
/// the archive's description (the context is a tar archive on stdin, `-`: imagemk never
/// writes into the user's tree to build), and whether to pass `--no-cache`.
#[derive(Debug, Clone)]
pub struct Build<'a> {
    pub image: &'a Image,
    pub labels: &'a BTreeMap<String, String>,
    pub dockerfile: &'a str,
    pub context: String,
    pub no_cache: bool,
}

/// `docker build` of `b` with the legacy builder, tagged with the image's local name.
pub fn build(b: Build) -> Cmd {
    // `--force-rm`: the legacy builder otherwise keeps the container of a failed step.
    let mut cmd = docker().arg("build").arg("--force-rm");
    if b.no_cache {
        cmd = cmd.arg("--no-cache");
    }
    let tags = [b.image.name.clone()];
    build_flags(cmd, &b, &tags).arg("-").stdin_from(b.context)
}

/// How a build goes through a BuildKit builder: its output (`--load` into the engine, or
/// `--push` to `tags` with the digest written to `metadata`), and the workspace parents'
/// remote names that stand for their local names in `FROM` (`--build-context`).
#[derive(Debug, Clone)]
pub struct Buildx<'a> {
    pub builder: &'a crate::builder::Builder,
    /// The names the image gets: its local name (`--load`) or its remote names (`--push`).
    pub tags: Vec<ImageRef>,
    /// `--push` with this `--metadata-file`; `None`: `--load`.
    pub push_metadata: Option<std::path::PathBuf>,
    /// `(name as FROM writes it, remote name)` of each workspace parent (push only).
    pub parents: Vec<(String, ImageRef)>,
}

/// `docker buildx build --builder NAME` of `b`, as [`build`] (buildx reads a tar archive from
/// `-` too). No `--force-rm`: BuildKit keeps no intermediate containers (buildx takes the flag
/// only as a hidden no-op).
pub fn buildx(x: &Buildx, b: Build) -> Cmd {
    let mut cmd = docker()
        .args(["buildx", "build", "--builder"])
        .arg(x.builder.name.clone());
    if !x.builder.platforms.is_empty() {
        cmd = cmd.arg("--platform").arg(x.builder.platforms.join(","));
    }
    cmd = match &x.push_metadata {
        Some(file) => cmd
            .arg("--push")
            .arg("--metadata-file")
            .arg(file.display().to_string()),
        None => cmd.arg("--load"),
    };
    if b.no_cache {
        cmd = cmd.arg("--no-cache");
    }
    for (name, remote) in &x.parents {
        cmd = cmd
            .arg("--build-context")
            .arg(format!("{name}=docker-image://{remote}"));
    }
    build_flags(cmd, &b, &x.tags).arg("-").stdin_from(b.context)
}

/// The flags every build shares: Dockerfile, tags, target, build args, labels.
fn build_flags(mut cmd: Cmd, b: &Build, tags: &[ImageRef]) -> Cmd {
    cmd = cmd.arg("--file").arg(b.dockerfile);
    for t in tags {
        cmd = cmd.arg("--tag").arg(t.to_string());
    }
    cmd = cmd.opt("--target", b.image.target.as_deref());
    for (k, v) in &b.image.args {
        cmd = cmd.arg("--build-arg").arg(format!("{k}={v}"));
    }
    for (k, v) in b.labels {
        cmd = cmd.arg("--label").arg(format!("{k}={v}"));
    }
    cmd
}

/// One call for the ID and input-digest label of each of `names` (which exist locally): one
/// line each, `ID label` (empty label when the image has none).
pub fn inspect_inputs(names: &[String]) -> Cmd {
    let template = format!(
        "{{{{.Id}}}} {{{{index .Config.Labels \"{}\"}}}}",
        crate::inputs::LABEL
    );
    inspect_each(names, &template)
}

/// Lists every local `repository:tag`; also the probe that the engine is reachable.
pub fn image_list() -> Cmd {
    docker().args(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])
}

pub fn tag(src: &ImageRef, dst: &ImageRef) -> Cmd {
    tag_id(&src.to_string(), dst)
}

/// `tag SOURCE NAME`: points `name` at `source`, an image ID or a name.
pub fn tag_id(source: &str, name: &ImageRef) -> Cmd {
    docker().arg("tag").arg(source).arg(name.to_string())
}

/// The `tag` line a dry run prints when the source is known only after a step runs (`what`,
/// e.g. `<the image ID of NAME@DIGEST>`, is shown as it is, never quoted).
pub fn tag_shown(what: &str, name: &ImageRef) -> String {
    format!("{} tag {what} {name}", super::program())
}

/// `push NAME`; with `digest_file` (podman, which prints no digest) `--digestfile FILE`.
pub fn push(name: &ImageRef, digest_file: Option<&std::path::Path>) -> Cmd {
    let cmd = tls_for_name(docker().arg("push"), name);
    let cmd = match digest_file {
        Some(f) => cmd.arg("--digestfile").arg(f.display().to_string()),
        None => cmd,
    };
    cmd.arg(name.to_string())
}

pub fn pull(name: &ImageRef) -> Cmd {
    tls_for_name(docker().arg("pull"), name).arg(name.to_string())
}

/// `pull REPOSITORY@DIGEST` (`name`'s tag is not used): by manifest digest, which makes no
/// tag; the pulled image is found by that name.
pub fn pull_pinned(name: &ImageRef, digest: &str) -> Cmd {
    tls_for_name(docker().arg("pull"), name).arg(format!("{}@{digest}", name.repository))
}

/// Removes one tag (never forced: an image is deleted only when this was its last tag).
pub fn untag(name: &ImageRef) -> Cmd {
    docker()
        .args(["image", "rm", "--no-prune"])
        .arg(name.to_string())
}

/// `docker image inspect` of one field as JSON.
pub fn inspect(name: &str, template: &str) -> Cmd {
    inspect_each(&[name.to_string()], template)
}

/// `docker image inspect --format TEMPLATE NAME…`: one line per name, in order.
pub fn inspect_each(names: &[String], template: &str) -> Cmd {
    docker()
        .args(["image", "inspect", "--format", template])
        .args(names.iter().cloned())
}

/// `manifest inspect` of a remote name (`--verbose` where the engine has it). Only for TLS
/// registries (acr, gar, gcr): podman 4.3's `manifest inspect` has no `--tls-verify` flag;
/// oci registries are looked up over HTTP.
pub fn manifest_inspect(remote: &ImageRef) -> Cmd {
    docker()
        .args(super::current().manifest_inspect().iter().copied())
        .arg(remote.to_string())
}

/// `docker buildx version`: whether the CLI has the buildx plugin (read-only).
pub fn buildx_version() -> Cmd {
    docker().args(["buildx", "version"])
}

/// `docker buildx inspect NAME`: whether the builder exists (read-only).
pub fn buildx_inspect(builder: &str) -> Cmd {
    docker().args(["buildx", "inspect", builder])
}
