//! Facts about the host that shape a `docker run`: which standard streams are terminals, the
//! invoking uid and gid, whether the engine is rootless, and what each configured device path
//! is. They are gathered once, here (the engine is asked through `exec`), and handed to the
//! pure builders in `container::run`, so tests can render commands for any host.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use crate::exec;

/// Which of stdin, stdout and stderr are terminals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Terminal {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

impl Terminal {
    pub fn detect() -> Terminal {
        Terminal {
            stdin: std::io::stdin().is_terminal(),
            stdout: std::io::stdout().is_terminal(),
            stderr: std::io::stderr().is_terminal(),
        }
    }

    /// `-t` only when all three are terminals: a pseudo-tty merges the container's stdout and
    /// stderr, which would corrupt a redirected stream.
    pub fn wants_tty(&self) -> bool {
        self.stdin && self.stdout && self.stderr
    }

    /// `-i` when stdin is a terminal (someone may type into the container).
    pub fn wants_stdin(&self) -> bool {
        self.stdin
    }
}

/// How the engine maps users. Matched here only; callers ask the capability methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The daemon runs as root: a container's uid is the host's uid.
    Rootful,
    /// The daemon runs as the invoking user: root inside is that user outside.
    Rootless,
    /// Rootless podman: `--userns keep-id` maps the invoking user to the same uid inside.
    RootlessKeepId,
}

impl Engine {
    /// Whether files written in a bind mount belong to the invoking user only when the
    /// container runs as that user's uid:gid (`-u UID:GID`).
    pub fn needs_user_flag(&self) -> bool {
        match self {
            Engine::Rootful => true,
            Engine::Rootless | Engine::RootlessKeepId => false,
        }
    }

    /// Whether the container keeps the invoking user's uid with `--userns keep-id`.
    pub fn needs_keep_id(&self) -> bool {
        matches!(self, Engine::RootlessKeepId)
    }
}

/// What a configured device path is on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceState {
    Device,
    Absent,
    NotADevice,
}

impl DeviceState {
    pub fn probe(path: &Path) -> DeviceState {
        match std::fs::metadata(path) {
            Err(_) => DeviceState::Absent,
            Ok(m) if m.file_type().is_char_device() || m.file_type().is_block_device() => {
                DeviceState::Device
            }
            Ok(_) => DeviceState::NotADevice,
        }
    }
}

/// Everything the builders need to know about the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub terminal: Terminal,
    pub uid: u32,
    pub gid: u32,
    pub engine: Engine,
    /// Host path → what it is, for every device the image configures.
    pub devices: BTreeMap<String, DeviceState>,
}

/// The host side of a `--device` entry (`HOST[:CONTAINER[:PERMS]]`).
pub fn device_host_path(entry: &str) -> &str {
    entry.split(':').next().unwrap_or(entry)
}

impl Facts {
    /// Gathers the facts. `engine` is the engine kind when already known (a dry run with no
    /// engine assumes rootful); otherwise the engine is asked.
    pub fn gather(devices: &[String], engine: Engine) -> Facts {
        // SAFETY: getuid and getgid cannot fail and have no preconditions.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        Facts {
            terminal: Terminal::detect(),
            uid,
            gid,
            engine,
            devices: devices
                .iter()
                .map(|d| {
                    let host = device_host_path(d);
                    (host.to_string(), DeviceState::probe(Path::new(host)))
                })
                .collect(),
        }
    }
}

/// Asks the engine whether it is rootless.
pub fn engine() -> anyhow::Result<Engine> {
    let out = exec::capture(&crate::engine::container::rootless_info())
        .map_err(crate::engine::explain)?;
    let engine = crate::engine::current();
    Ok(match engine.is_rootless(&out.stdout) {
        false => Engine::Rootful,
        true if engine.rootless_keeps_id() => Engine::RootlessKeepId,
        true => Engine::Rootless,
    })
}
