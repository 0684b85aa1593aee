//! docker commands as data. Each function returns a [`Cmd`]; nothing here runs anything, so
//! every command can be printed by `--dry-run` and asserted in tests without an engine.

use std::collections::BTreeMap;

use crate::config::Image;
use crate::exec::Cmd;
use crate::reference::ImageRef;

/// The engine's program (`docker` or `podman`, chosen at start-up: [`crate::engine`]).
fn docker() -> Cmd {
    Cmd::new(crate::engine::program())
}

/// `--tls-verify=false` when the engine needs it for a registry on `name`'s host (podman and
/// a loopback registry).
fn tls_for(cmd: Cmd, name: &ImageRef) -> Cmd {
    let host = name.repository.split_once('/').map(|(host, _)| host);
    if host.is_some_and(|h| crate::engine::current().needs_tls_verify_off(h)) {
        cmd.arg("--tls-verify=false")
    } else {
        cmd
    }
}

/// `docker build` for `image` with the given `--label` flags (none when the labels are
/// appended to the Dockerfile as one `LABEL` line), reading its context as a tar archive on
/// stdin (`-`; `context` is the archive's description and `dockerfile` the Dockerfile's path
/// inside it): imagemk never writes into the user's tree to build.
pub fn build(
    image: &Image,
    labels: &BTreeMap<String, String>,
    dockerfile: &str,
    context: String,
    no_cache: bool,
) -> Cmd {
    // `--force-rm`: the legacy builder otherwise keeps the container of a failed step.
    let mut cmd = docker().arg("build").arg("--force-rm");
    if no_cache {
        cmd = cmd.arg("--no-cache");
    }
    let tags = [image.name.clone()];
    build_flags(cmd, image, &tags, labels, dockerfile)
        .arg("-")
        .stdin_from(context)
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

/// `docker buildx build --builder NAME` with the same Dockerfile, args, labels and tar context
/// on stdin as [`build`] (buildx reads a tar archive from `-` too). No `--force-rm`: BuildKit
/// keeps no intermediate containers (buildx takes the flag only as a hidden no-op).
pub fn buildx(
    x: &Buildx,
    image: &Image,
    labels: &BTreeMap<String, String>,
    dockerfile: &str,
    context: String,
    no_cache: bool,
) -> Cmd {
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
    if no_cache {
        cmd = cmd.arg("--no-cache");
    }
    for (name, remote) in &x.parents {
        cmd = cmd
            .arg("--build-context")
            .arg(format!("{name}=docker-image://{remote}"));
    }
    build_flags(cmd, image, &x.tags, labels, dockerfile)
        .arg("-")
        .stdin_from(context)
}

/// The flags every build shares: Dockerfile, tags, target, build args, labels.
fn build_flags(
    mut cmd: Cmd,
    image: &Image,
    tags: &[ImageRef],
    labels: &BTreeMap<String, String>,
    dockerfile: &str,
) -> Cmd {
    cmd = cmd.arg("--file").arg(dockerfile);
    for t in tags {
        cmd = cmd.arg("--tag").arg(t.to_string());
    }
    cmd = cmd.opt("--target", image.target.as_deref());
    for (k, v) in &image.args {
        cmd = cmd.arg("--build-arg").arg(format!("{k}={v}"));
    }
    for (k, v) in labels {
        cmd = cmd.arg("--label").arg(format!("{k}={v}"));
    }
    cmd
}

/// One call for the ID and input-digest label of each of `names` (which exist locally): one
/// line each, `ID label` (empty label when the image has none).
pub fn inspect_inputs(names: &[String]) -> Cmd {
    docker()
        .args(["image", "inspect", "--format"])
        .arg(format!(
            "{{{{.Id}}}} {{{{index .Config.Labels \"{}\"}}}}",
            crate::inputs::LABEL
        ))
        .args(names.iter().cloned())
}

/// Lists every local `repository:tag`; also the probe that the engine is reachable.
pub fn image_list() -> Cmd {
    docker().args(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])
}

pub fn tag(src: &ImageRef, dst: &ImageRef) -> Cmd {
    docker()
        .arg("tag")
        .arg(src.to_string())
        .arg(dst.to_string())
}

/// `push NAME`; with `digest_file` (podman, which prints no digest) `--digestfile FILE`.
pub fn push(name: &ImageRef, digest_file: Option<&std::path::Path>) -> Cmd {
    let cmd = tls_for(docker().arg("push"), name);
    let cmd = match digest_file {
        Some(f) => cmd.arg("--digestfile").arg(f.display().to_string()),
        None => cmd,
    };
    cmd.arg(name.to_string())
}

pub fn pull(name: &ImageRef) -> Cmd {
    tls_for(docker().arg("pull"), name).arg(name.to_string())
}

/// `pull REPOSITORY@DIGEST` (`name`'s tag is not used): by manifest digest, which makes no
/// tag; the pulled image is found by that name.
pub fn pull_pinned(name: &ImageRef, digest: &str) -> Cmd {
    tls_for(docker().arg("pull"), name).arg(format!("{}@{digest}", name.repository))
}

/// Removes one tag (never forced: an image is deleted only when this was its last tag).
pub fn untag(name: &ImageRef) -> Cmd {
    docker()
        .args(["image", "rm", "--no-prune"])
        .arg(name.to_string())
}

/// `docker image inspect` of one field as JSON.
pub fn inspect(name: &str, template: &str) -> Cmd {
    docker()
        .args(["image", "inspect", "--format", template])
        .arg(name)
}

/// Whether a CLI's output says the engine does not answer. By text: the docker and podman
/// CLIs print it on stderr with exit 1 and no other sign.
pub fn unreachable(text: &str) -> bool {
    text.contains("Cannot connect to the Docker daemon")
        || text.contains("error during connect")
        || text.contains("docker daemon is not running")
        || text.contains("Cannot connect to Podman")
}

/// Turns the engine's "cannot connect" into an error that says what to do.
pub fn explain_engine_error(err: anyhow::Error) -> anyhow::Error {
    let text = format!("{err:#}");
    if unreachable(&text) {
        return err.context(crate::engine::current().unreachable());
    }
    // By text, as above: the CLI's stderr is all that says the socket refused this user.
    if text.contains("permission denied") && text.contains("docker.sock") {
        return err.context(
            "no permission to use the docker engine; add yourself to the `docker` group or use a rootless engine",
        );
    }
    err
}
