//! `docker run` as data. [`DockerRun`] adds one group of flags per method (terminal, user,
//! mounts, working directory, env names, devices, ulimits, init, network), in the manner of
//! cross-rs; `container::run` composes them from an image's `run:` options and the host facts.

use crate::container::facts::Facts;
use crate::container::run::{EnvName, Utf8Dir};
use crate::exec::Cmd;

/// A `docker run` being assembled.
#[derive(Debug, Clone)]
pub struct DockerRun(Cmd);

impl DockerRun {
    /// `docker run --rm --name NAME --pull never`: removed when it exits, named so that it can
    /// be removed on Ctrl-C, and never pulled behind the user's back.
    pub fn new(name: &str) -> DockerRun {
        DockerRun(
            super::docker()
                .args(["run", "--rm", "--name", name])
                .args(["--pull", "never"]),
        )
    }

    fn flag(mut self, flag: &str, value: impl Into<String>) -> Self {
        self.0 = self.0.arg(flag).arg(value);
        self
    }

    fn switch(mut self, flag: &str, on: bool) -> Self {
        if on {
            self.0 = self.0.arg(flag);
        }
        self
    }

    pub fn terminal(self, facts: &Facts) -> Self {
        self.switch("-i", facts.terminal.wants_stdin())
            .switch("-t", facts.terminal.wants_tty())
    }

    pub fn init(self, on: bool) -> Self {
        self.switch("--init", on)
    }

    pub fn user(self, user: Option<&str>) -> Self {
        match user {
            Some(u) => self.flag("--user", u),
            None => self,
        }
    }

    /// The invoking user's uid:gid, when the engine needs it for files to be theirs.
    pub fn invoking_user(self, facts: &Facts) -> Self {
        if facts.engine.needs_user_flag() {
            self.flag("--user", format!("{}:{}", facts.uid, facts.gid))
        } else if facts.engine.needs_keep_id() {
            self.flag("--userns", "keep-id")
        } else {
            self
        }
    }

    /// Bind-mounts `dir` at the same absolute path inside, with `--mount` (whose value is
    /// CSV: a path with `:` or `=` needs nothing, one with `,` or `"` is quoted), never `-v`,
    /// which splits on `:`.
    pub fn mount_same_path(self, dir: &Utf8Dir) -> Self {
        let d = dir.as_str();
        self.flag(
            "--mount",
            format!(
                "type=bind,{},{}",
                csv_field(&format!("source={d}")),
                csv_field(&format!("target={d}"))
            ),
        )
    }

    pub fn workdir(self, dir: Option<&str>) -> Self {
        match dir {
            Some(d) => self.flag("--workdir", d),
            None => self,
        }
    }

    /// `--env NAME` for each name: docker copies the value from its own environment, so
    /// values never appear in a command line or a log. An [`EnvName`] cannot hold a value.
    pub fn env_names<'a>(mut self, names: impl IntoIterator<Item = &'a EnvName>) -> Self {
        for n in names {
            self = self.flag("--env", n.as_str());
        }
        self
    }

    /// Entries already checked by `container::run::usable_devices`.
    pub fn devices(mut self, entries: &[String]) -> Self {
        for d in entries {
            self = self.flag("--device", d.clone());
        }
        self
    }

    pub fn ulimits(mut self, entries: &[String]) -> Self {
        for u in entries {
            self = self.flag("--ulimit", u.clone());
        }
        self
    }

    pub fn network(self, network: Option<&str>) -> Self {
        match network {
            Some(n) => self.flag("--network", n),
            None => self,
        }
    }

    /// The image and the command (the image's own when empty).
    pub fn finish(self, image: &str, command: &[String]) -> Cmd {
        self.0.arg(image).args(command.iter().cloned())
    }
}

/// A field of docker's `--mount` CSV value, quoted when it holds `,`, `"` or a line break.
fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}
