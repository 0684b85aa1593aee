//! The only place that spawns processes. A [`Cmd`] is plain data (program, argv, env, cwd)
//! whose `Display` is the shell-escaped line `--dry-run` prints; the functions here run it
//! through `duct` and turn a failure into a [`CmdError`] that names the command, its status and
//! the tail of its stderr.

use std::ffi::OsString;
use std::fmt;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A command as data. Nothing runs until one of the functions below is called with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    /// Extra environment, rendered as `K=V` before the program.
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    /// Bytes written to the child's stdin (rendered as a `<<<` note, never with the value).
    pub stdin: Option<Vec<u8>>,
}

impl Cmd {
    pub fn new(program: &str) -> Self {
        Cmd {
            program: program.to_string(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            stdin: None,
        }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds `flag value` when `value` is set.
    pub fn opt(self, flag: &str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.arg(flag).arg(v),
            None => self,
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub fn cwd(mut self, dir: &Path) -> Self {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    pub fn stdin(mut self, bytes: Vec<u8>) -> Self {
        self.stdin = Some(bytes);
        self
    }

    fn expression(&self) -> duct::Expression {
        let mut e = duct::cmd(
            &self.program,
            self.args.iter().map(OsString::from).collect::<Vec<_>>(),
        );
        for (k, v) in &self.env {
            e = e.env(k, v);
        }
        if let Some(dir) = &self.cwd {
            e = e.dir(dir);
        }
        if let Some(bytes) = &self.stdin {
            e = e.stdin_bytes(bytes.clone());
        }
        e.unchecked()
    }

    fn spawn_error(&self, err: std::io::Error) -> anyhow::Error {
        if err.kind() == std::io::ErrorKind::NotFound {
            anyhow::Error::new(NotInstalled(self.program.clone()))
        } else {
            anyhow::anyhow!("could not start `{self}`: {err}")
        }
    }
}

/// Quotes a word for a POSIX shell only when it needs it (the safe set is Python's
/// `shlex.quote`'s), so `--build-arg A=1` stays readable.
fn quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\"'\"'"))
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(dir) = &self.cwd {
            write!(f, "cd {} && ", quote(&dir.to_string_lossy()))?;
        }
        for (k, v) in &self.env {
            write!(f, "{}={} ", k, quote(v))?;
        }
        write!(f, "{}", quote(&self.program))?;
        for a in &self.args {
            write!(f, " {}", quote(a))?;
        }
        if self.stdin.is_some() {
            write!(f, " <<<(stdin)")?;
        }
        Ok(())
    }
}

/// A program the run needs is not on PATH.
#[derive(Debug)]
pub struct NotInstalled(pub String);

impl fmt::Display for NotInstalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hint = match self.0.as_str() {
            "docker" => "install Docker Engine (https://docs.docker.com/engine/install/) and make sure `docker` is on PATH",
            "gcloud" => "install the Google Cloud SDK, or choose another registry with `REGISTRY=…`",
            "az" => "install the Azure CLI (`pip install azure-cli`), or choose another registry with `REGISTRY=…`",
            "git" => "install git",
            _ => "install it or put it on PATH",
        };
        write!(f, "`{}` is not installed or not on PATH; {hint}", self.0)
    }
}

impl std::error::Error for NotInstalled {}

/// Fails with [`NotInstalled`] when `program` is not on PATH. Checked before any command runs.
pub fn require(program: &str) -> anyhow::Result<()> {
    which::which(program)
        .map(|_| ())
        .map_err(|_| NotInstalled(program.to_string()).into())
}

/// A command that ran and failed.
#[derive(Debug)]
pub struct CmdError {
    pub line: String,
    pub status: Option<i32>,
    pub stderr: String,
}

impl CmdError {
    /// The last `n` non-empty lines of the child's stderr.
    pub fn tail(&self, n: usize) -> String {
        tail_lines(&self.stderr, n)
    }
}

pub fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(code) => write!(f, "`{}` failed with exit status {code}", self.line)?,
            None => write!(f, "`{}` was killed by a signal", self.line)?,
        }
        let tail = self.tail(10);
        if !tail.is_empty() {
            for line in tail.lines() {
                write!(f, "\n  | {line}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for CmdError {}

/// What a captured command printed.
#[derive(Debug)]
pub struct Captured {
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` with stdout and stderr captured; a non-zero status is a [`CmdError`].
pub fn capture(cmd: &Cmd) -> anyhow::Result<Captured> {
    let out = cmd
        .expression()
        .stdout_capture()
        .stderr_capture()
        .run()
        .map_err(|e| cmd.spawn_error(e))?;
    let captured = Captured {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    if out.status.success() {
        Ok(captured)
    } else {
        Err(CmdError {
            line: cmd.to_string(),
            status: out.status.code(),
            stderr: captured.stderr,
        }
        .into())
    }
}

/// Runs `cmd` with the terminal's stdin, stdout and stderr and returns its exit code
/// (128 + signal when it was killed). Used where the child's own status is the result.
pub fn interactive(cmd: &Cmd) -> anyhow::Result<i32> {
    let handle = cmd.expression().start().map_err(|e| cmd.spawn_error(e))?;
    let status = wait_interruptibly(&handle, cmd)?;
    Ok(exit_code(status))
}

/// Like [`interactive`], for a child that owns an outside resource such as a container. Once
/// interrupted, runs `stop` (e.g. `docker rm --force NAME`) every second until the child exits:
/// the container goes away and the client, having nothing left to wait for, exits on its own.
/// After 10 s the client itself is sent SIGTERM.
pub fn interactive_with_stop(cmd: &Cmd, stop: &Cmd) -> anyhow::Result<i32> {
    let handle = cmd.expression().start().map_err(|e| cmd.spawn_error(e))?;
    let mut stopping_since: Option<std::time::Instant> = None;
    let mut last_stop: Option<std::time::Instant> = None;
    loop {
        if let Some(out) = handle
            .wait_timeout(Duration::from_millis(100))
            .map_err(|e| anyhow::anyhow!("waiting for `{cmd}`: {e}"))?
        {
            return Ok(exit_code(out.status));
        }
        if !crate::signal::interrupted() {
            continue;
        }
        let since = *stopping_since.get_or_insert_with(std::time::Instant::now);
        if last_stop.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            // A failure here (e.g. "no such container" before it was created) is retried.
            let _ = capture(stop);
            last_stop = Some(std::time::Instant::now());
        }
        if since.elapsed() >= Duration::from_secs(10) {
            signal_children(&handle.pids());
        }
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

fn wait_interruptibly(
    handle: &duct::Handle,
    cmd: &Cmd,
) -> anyhow::Result<std::process::ExitStatus> {
    loop {
        if let Some(out) = handle
            .wait_timeout(Duration::from_millis(100))
            .map_err(|e| anyhow::anyhow!("waiting for `{cmd}`: {e}"))?
        {
            return Ok(out.status);
        }
        if crate::signal::interrupted() {
            signal_children(&handle.pids());
        }
    }
}

/// Sends SIGTERM to each pid: the docker client then cancels its build or push cleanly.
pub fn signal_children(pids: &[u32]) {
    for pid in pids {
        // SAFETY: kill(2) with a pid we spawned and a valid signal number.
        unsafe {
            libc::kill(*pid as libc::pid_t, libc::SIGTERM);
        }
    }
}

/// A child whose merged stdout and stderr are read line by line (builds, pushes).
pub struct Streamed {
    reader: duct::ReaderHandle,
    cmd: Cmd,
}

impl Streamed {
    pub fn start(cmd: &Cmd) -> anyhow::Result<Streamed> {
        let reader = cmd
            .expression()
            .stderr_to_stdout()
            .reader()
            .map_err(|e| cmd.spawn_error(e))?;
        Ok(Streamed {
            reader,
            cmd: cmd.clone(),
        })
    }

    pub fn pids(&self) -> Vec<u32> {
        self.reader.pids()
    }

    /// Calls `on_line` for every output line, then returns the exit status. The output is
    /// also returned whole so that a failure can show its tail.
    pub fn finish(self, mut on_line: impl FnMut(&str)) -> anyhow::Result<(i32, String)> {
        let mut all = String::new();
        let mut buf = BufReader::new(&self.reader);
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = buf
                .read_until(b'\n', &mut line)
                .map_err(|e| anyhow::anyhow!("reading the output of `{}`: {e}", self.cmd))?;
            if n == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\n', '\r']);
            on_line(text);
            all.push_str(text);
            all.push('\n');
        }
        let status = self
            .reader
            .try_wait()
            .map_err(|e| anyhow::anyhow!("waiting for `{}`: {e}", self.cmd))?
            .map(|o| o.status)
            .ok_or_else(|| anyhow::anyhow!("`{}` closed its output but did not exit", self.cmd))?;
        Ok((exit_code(status), all))
    }

    pub fn line(&self) -> String {
        self.cmd.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cmd: Cmd, expected: &str) {
        assert_eq!(cmd.to_string(), expected);
    }

    #[test]
    fn renders_shell_lines() {
        check(
            Cmd::new("docker").args(["tag", "a:b", "c:d"]),
            "docker tag a:b c:d",
        );
        check(
            Cmd::new("docker").args(["run", "sh", "-c", "echo $HOME; exit 3"]),
            "docker run sh -c 'echo $HOME; exit 3'",
        );
        check(
            Cmd::new("docker").arg("").env("DOCKER_BUILDKIT", "0"),
            "DOCKER_BUILDKIT=0 docker ''",
        );
        check(Cmd::new("make").cwd(Path::new("/a b")), "cd '/a b' && make");
        check(
            Cmd::new("docker")
                .args(["login", "--password-stdin"])
                .stdin(b"secret".to_vec()),
            "docker login --password-stdin <<<(stdin)",
        );
    }

    #[test]
    fn failure_names_command_status_and_tail() {
        let cmd = Cmd::new("sh").args(["-c", "echo one >&2; echo two >&2; exit 4"]);
        let err = capture(&cmd).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`sh -c 'echo one >&2; echo two >&2; exit 4'` failed with exit status 4\n  | one\n  | two"
        );
    }

    #[test]
    fn missing_program_is_not_installed() {
        let err = capture(&Cmd::new("imagemk-no-such-program")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`imagemk-no-such-program` is not installed or not on PATH; install it or put it on PATH"
        );
    }

    #[test]
    fn streamed_reports_lines_and_status() {
        let cmd = Cmd::new("sh").args(["-c", "echo a; echo b >&2; exit 2"]);
        let mut seen = Vec::new();
        let (code, all) = Streamed::start(&cmd)
            .unwrap()
            .finish(|l| seen.push(l.to_string()))
            .unwrap();
        assert_eq!(code, 2);
        assert_eq!(seen, ["a", "b"]);
        assert_eq!(all, "a\nb\n");
    }
}
