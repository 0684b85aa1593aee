//! The container engine imagemk drives: docker or podman. What differs between them is asked
//! of [`Engine`]'s capability methods (in the manner of cross-rs's `docker/engine.rs`), never
//! by comparing names elsewhere. The engine is chosen once at start-up ([`choose`]: first
//! `--engine`, then `IMAGEMK_ENGINE` / `CONTAINER_ENGINE`, then `workspace.engine`, then auto)
//! and kept in a cell of the run ([`set`], [`current`]: the process's, or a test scope's, see
//! `runner`) that every command builder reads.
//!
//! This module owns every engine command, in the manner of cross-rs's `docker/`: the argv
//! builders live in one file per concern ([`image`], [`container`], [`run`], [`login`]), and
//! the engine's output is read in one place ([`classify`]). No other module formats engine
//! argv or reads engine stderr.

use std::sync::OnceLock;

use anyhow::bail;

use crate::config::raw::RawEngine;
use crate::config::Env;
use crate::exec::Cmd;

mod classify;
pub mod container;
pub mod image;
pub mod login;
pub mod run;

pub use classify::{classify, explain, permission_denied};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Docker,
    Podman,
}

/// Every engine, in the order the error for an unknown name lists them.
pub const ALL: &[Engine] = &[Engine::Docker, Engine::Podman];

static CHOSEN: OnceLock<Engine> = OnceLock::new();

impl Engine {
    /// The program run for every engine command.
    pub fn program(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            Engine::Podman => "podman",
        }
    }

    /// The engine named `name`; `origin` (e.g. `` in `IMAGEMK_ENGINE` ``) ends the name in
    /// the error, which lists the known engines.
    pub fn parse(name: &str, origin: &str) -> anyhow::Result<Engine> {
        match ALL.iter().find(|e| e.program() == name) {
            Some(e) => Ok(*e),
            None => {
                let known: Vec<String> = ALL.iter().map(|e| format!("`{}`", e.program())).collect();
                bail!(
                    "unknown engine `{name}`{origin}; known engines: {}\nhint: pass `--engine docker` or `--engine podman`",
                    known.join(", ")
                )
            }
        }
    }

    /// Whether push, pull and look-ups of a registry on `host` need `--tls-verify=false`:
    /// podman insists on TLS unless told otherwise (or configured in registries.conf), docker
    /// treats loopback registries as insecure by default.
    pub fn needs_tls_verify_off(self, host: &str) -> bool {
        match self {
            Engine::Docker => false,
            Engine::Podman => is_loopback(host),
        }
    }

    /// Whether a rootless engine keeps the invoking user's files theirs with
    /// `--userns keep-id` (podman) rather than by running as root, which is the user (docker).
    pub fn rootless_keeps_id(self) -> bool {
        match self {
            Engine::Docker => false,
            Engine::Podman => true,
        }
    }

    /// The `info` query whose output says whether the engine is rootless, and how to read it.
    pub fn rootless_query(self) -> &'static str {
        match self {
            Engine::Docker => "{{json .SecurityOptions}}",
            Engine::Podman => "{{.Host.Security.Rootless}}",
        }
    }

    /// The `info --format` that prints everything as one JSON object: podman takes `json`,
    /// docker's Go template needs `{{json .}}`.
    pub fn info_json_format(self) -> &'static str {
        match self {
            Engine::Docker => "{{json .}}",
            Engine::Podman => "json",
        }
    }

    /// Reads the output of [`Engine::rootless_query`].
    pub fn is_rootless(self, out: &str) -> bool {
        match self {
            Engine::Docker => out.contains("name=rootless"),
            Engine::Podman => out.trim() == "true",
        }
    }

    /// A name as `image ls` lists it, as imagemk names it: podman qualifies every name
    /// (`localhost/app:1` for `app:1`, `docker.io/library/busybox:1` for `busybox:1`).
    pub fn local_name(self, listed: &str) -> String {
        match self {
            Engine::Docker => listed.to_string(),
            Engine::Podman => {
                let short = ["localhost/", "docker.io/library/", "docker.io/"]
                    .iter()
                    .find_map(|p| listed.strip_prefix(p));
                short.unwrap_or(listed).to_string()
            }
        }
    }

    /// Whether `push` reports the pushed digest only in a file (`--digestfile`, podman) rather
    /// than as a `TAG: digest: sha256:… size: N` line (docker).
    pub fn push_digest_in_file(self) -> bool {
        match self {
            Engine::Docker => false,
            Engine::Podman => true,
        }
    }

    /// Whether `pull` prints the pulled digest (`Digest: sha256:…`, docker); podman's is read
    /// from the pulled image (`image inspect` of `.Digest`).
    pub fn pull_prints_digest(self) -> bool {
        match self {
            Engine::Docker => true,
            Engine::Podman => false,
        }
    }

    /// What else exit status 126 of `run` can mean: podman reports its OCI runtime failing to
    /// start the container with 126 too (e.g. `error setting rlimit type 7` where runc may not
    /// raise the limits podman asks for by default).
    pub fn status_126_hint(self) -> &'static str {
        match self {
            Engine::Docker => "",
            Engine::Podman => "\nhint: podman also exits 126 when its runtime cannot start the container (see its message above); for `error setting rlimit`, set `default_ulimits = []` under `[containers]` in containers.conf (or a file named by `CONTAINERS_CONF`)",
        }
    }

    /// Whether credentials are read from podman's auth files (containers-auth.json(5)) before
    /// docker's config.
    pub fn reads_podman_auth(self) -> bool {
        match self {
            Engine::Docker => false,
            Engine::Podman => true,
        }
    }

    /// What to say when the engine cannot be reached (podman has no daemon: only a remote
    /// podman, `CONTAINER_HOST` / `--remote`, is ever unreachable).
    pub fn unreachable(self) -> &'static str {
        match self {
            Engine::Docker => "the docker engine is not reachable; start it (e.g. `sudo systemctl start docker`) or point `DOCKER_HOST` at a running one",
            Engine::Podman => "the podman service is not reachable; start it (e.g. `systemctl --user start podman.socket`) or unset `CONTAINER_HOST` to run podman locally",
        }
    }

    /// What distinguishes this engine's locks from the others' (docker keeps its old names).
    pub fn lock_prefix(self) -> &'static str {
        match self {
            Engine::Docker => "",
            Engine::Podman => "podman|",
        }
    }

    /// `manifest inspect` of a remote name: podman's has no `--verbose` (it always prints
    /// the manifest).
    pub fn manifest_inspect(self) -> &'static [&'static str] {
        match self {
            Engine::Docker => &["manifest", "inspect", "--verbose"],
            Engine::Podman => &["manifest", "inspect"],
        }
    }

    /// Whether builds can go through a BuildKit builder (`--builder`): docker's `buildx build
    /// --builder NAME`. podman has no BuildKit builders (its own `build --platform` with
    /// `--manifest` makes multi-platform lists in podman's store, which imagemk does not
    /// manage), so `--builder` with podman is refused with this reason.
    pub fn builder_support(self) -> Result<(), &'static str> {
        match self {
            Engine::Docker => Ok(()),
            Engine::Podman => Err("podman has no BuildKit builders (`docker buildx`); build with docker (`--engine docker`) or drop `--builder` to build with `podman build`"),
        }
    }

    /// How to install the engine (the hint of a missing program).
    pub fn install_hint(self) -> &'static str {
        match self {
            Engine::Docker => "install Docker Engine (https://docs.docker.com/engine/install/) and make sure `docker` is on PATH",
            Engine::Podman => "install podman (`sudo apt-get install -y podman` on Debian and Ubuntu, `sudo dnf install -y podman` on Fedora) or choose docker with `--engine docker`",
        }
    }
}

impl From<RawEngine> for Engine {
    fn from(raw: RawEngine) -> Engine {
        match raw {
            RawEngine::Docker => Engine::Docker,
            RawEngine::Podman => Engine::Podman,
        }
    }
}

fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => host.split(':').next().unwrap_or(host),
    };
    name == "localhost" || name == "::1" || name.starts_with("127.")
}

/// Where the choice came from: an explicit request must be installed, auto never fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env,
    File,
    Auto,
}

/// The engine by precedence: `--engine` > `IMAGEMK_ENGINE` > `CONTAINER_ENGINE` >
/// `workspace.engine` > auto (podman when `docker` is not on PATH and `podman` is). `installed`
/// answers whether a program is on PATH (a parameter, so this is pure and tested).
pub fn choose(
    flag: Option<&str>,
    env: &Env,
    file: Option<Engine>,
    installed: impl Fn(&str) -> bool,
) -> anyhow::Result<(Engine, Source)> {
    if let Some(name) = flag {
        return Ok((Engine::parse(name, "")?, Source::Flag));
    }
    for var in ["IMAGEMK_ENGINE", "CONTAINER_ENGINE"] {
        if let Some(name) = env.get(&[var]).filter(|v| !v.is_empty()) {
            let engine = Engine::parse(name, &format!(" in `{var}`"))?;
            return Ok((engine, Source::Env));
        }
    }
    if let Some(engine) = file {
        return Ok((engine, Source::File));
    }
    let auto = if !installed("docker") && installed("podman") {
        Engine::Podman
    } else {
        Engine::Docker
    };
    Ok((auto, Source::Auto))
}

/// Fails, before any command runs, when an engine asked for by name is not on PATH.
pub fn require_requested(engine: Engine, source: Source) -> anyhow::Result<()> {
    if source == Source::Auto || crate::exec::installed(engine.program()) {
        return Ok(());
    }
    let how = match source {
        Source::Flag => "`--engine`",
        Source::Env => "the environment (`IMAGEMK_ENGINE` / `CONTAINER_ENGINE`)",
        _ => "`workspace.engine` in images.yaml",
    };
    bail!(
        "engine `{}` (asked for by {how}) is not installed or not on PATH\nhint: {}",
        engine.program(),
        engine.install_hint()
    )
}

/// Sets the engine of this run (once; later calls keep the first choice): the process's, or,
/// inside a test's `runner::using` scope, that scope's.
pub fn set(engine: Engine) {
    if crate::runner::with_engine_cell(|cell| cell.set(engine)).is_none() {
        let _ = CHOSEN.set(engine);
    }
}

/// The engine of this run: the one [`set`] at start-up, docker before that.
pub fn current() -> Engine {
    let scoped = crate::runner::with_engine_cell(|cell| cell.get().copied()).flatten();
    scoped
        .or_else(|| CHOSEN.get().copied())
        .unwrap_or(Engine::Docker)
}

/// The program of the current engine (`docker` or `podman`).
pub fn program() -> &'static str {
    current().program()
}

/// A command of the current engine: the start of every builder in this module.
fn docker() -> Cmd {
    Cmd::new(program())
}

/// `cmd` with `--tls-verify=false` when the engine needs it for a registry on `host` (podman
/// and a loopback registry).
fn tls_for(cmd: Cmd, host: &str) -> Cmd {
    match current().needs_tls_verify_off(host) {
        true => cmd.arg("--tls-verify=false"),
        false => cmd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(
        flag: Option<&str>,
        env: &[(&str, &str)],
        file: Option<Engine>,
        have: &[&str],
    ) -> String {
        match choose(flag, &Env::from_pairs(env), file, |p| have.contains(&p)) {
            Ok((e, s)) => format!("{} {s:?}", e.program()),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn precedence_flag_env_file_auto() {
        let file = Some(Engine::Docker);
        let env = [("IMAGEMK_ENGINE", "podman"), ("CONTAINER_ENGINE", "docker")];
        assert_eq!(pick(Some("docker"), &env, file, &[]), "docker Flag");
        assert_eq!(pick(None, &env, file, &[]), "podman Env");
        assert_eq!(
            pick(None, &[("CONTAINER_ENGINE", "podman")], file, &[]),
            "podman Env"
        );
        assert_eq!(
            pick(None, &[], Some(Engine::Podman), &["docker"]),
            "podman File"
        );
        assert_eq!(pick(None, &[], None, &["podman"]), "podman Auto");
        assert_eq!(pick(None, &[], None, &["docker", "podman"]), "docker Auto");
        assert_eq!(pick(None, &[], None, &[]), "docker Auto");
        assert_eq!(
            pick(None, &[("IMAGEMK_ENGINE", "")], None, &["docker"]),
            "docker Auto"
        );
    }

    #[test]
    fn an_unknown_name_lists_the_known_ones() {
        assert_eq!(
            pick(Some("rkt"), &[], None, &[]),
            "unknown engine `rkt`; known engines: `docker`, `podman`\nhint: pass `--engine docker` or `--engine podman`"
        );
        assert_eq!(
            pick(None, &[("CONTAINER_ENGINE", "Podman")], None, &[]),
            "unknown engine `Podman` in `CONTAINER_ENGINE`; known engines: `docker`, `podman`\nhint: pass `--engine docker` or `--engine podman`"
        );
    }

    #[test]
    fn loopback_registries_need_tls_verify_off_on_podman_only() {
        for host in [
            "localhost:5000",
            "127.0.0.1:41234",
            "localhost",
            "[::1]:5000",
        ] {
            assert!(Engine::Podman.needs_tls_verify_off(host), "{host}");
            assert!(!Engine::Docker.needs_tls_verify_off(host), "{host}");
        }
        for host in [
            "gcr.io",
            "registry.example.com:5000",
            "localhostx.io",
            "10.0.0.1:5000",
        ] {
            assert!(!Engine::Podman.needs_tls_verify_off(host), "{host}");
        }
    }

    #[test]
    fn each_engines_texts() {
        assert_eq!(Engine::Podman.local_name("localhost/ns/app:1"), "ns/app:1");
        assert_eq!(
            Engine::Podman.local_name("docker.io/library/busybox:1"),
            "busybox:1"
        );
        assert_eq!(Engine::Podman.local_name("docker.io/me/x:1"), "me/x:1");
        assert_eq!(
            Engine::Podman.local_name("127.0.0.1:5000/ns/app:1"),
            "127.0.0.1:5000/ns/app:1"
        );
        assert_eq!(
            Engine::Docker.local_name("localhost/ns/app:1"),
            "localhost/ns/app:1"
        );
        assert!(Engine::Podman.is_rootless("true\n"));
        assert!(!Engine::Podman.is_rootless("false\n"));
        assert!(Engine::Docker.is_rootless(r#"["name=seccomp,profile=default","name=rootless"]"#));
        assert!(!Engine::Docker.is_rootless(r#"["name=seccomp,profile=default"]"#));
    }
}
