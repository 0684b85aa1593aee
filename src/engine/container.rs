//! Container and engine-wide commands as data: `create` / `cp` / `rm` for `extract` and the
//! clean-up of `run` and `withdocker`, and `info` (whether the engine is rootless; doctor's
//! facts). `run` itself is assembled flag group by flag group in [`super::run`].

use std::path::Path;

use super::docker;
use crate::exec::Cmd;

/// The name a copy gets inside its temporary directory (`./TMP/copy`).
pub const STAGED: &str = "copy";

/// `docker create` of a container that is only copied from. `true` is a placeholder command
/// for images that define none; the container is never started.
pub fn create(name: &str, image: &str) -> Cmd {
    docker().args(["create", "--pull", "never", "--name", name, image, "true"])
}

/// `docker cp NAME:PATH ./TMP/copy`, run in the receiving directory: the host side is a
/// relative path starting with `.`, which docker never reads as `container:path`, and the
/// directory itself (any bytes, `:` included) is never part of an argument.
pub fn copy_out(name: &str, path: &str, parent: &Path, tmp_name: &str) -> Cmd {
    docker()
        .arg("cp")
        .arg(format!("{name}:{path}"))
        .arg(format!("./{tmp_name}/{STAGED}"))
        .cwd(parent)
}

/// Removes a container whatever its state: `extract`'s clean-up, and `run`'s and
/// `withdocker`'s after Ctrl-C or SIGTERM.
pub fn remove(name: &str) -> Cmd {
    docker().args(["rm", "--force", name])
}

/// `docker info` of the security options (one names a rootless engine), `podman info` of
/// `.Host.Security.Rootless`: [`super::Engine::rootless_query`].
pub fn rootless_info() -> Cmd {
    docker().args(["info", "--format", super::current().rootless_query()])
}

/// `info` as one JSON object (doctor's facts): [`super::Engine::info_json_format`].
pub fn info_json() -> Cmd {
    docker().args(["info", "--format", super::current().info_json_format()])
}
