//! The only place that spawns processes. A [`Cmd`] is plain data (program, argv, env, cwd)
//! whose `Display` is the shell-escaped line `--dry-run` prints; the functions here run it
//! through `duct` and turn a failure into a [`CmdError`] that names the command, its status and
//! the tail of its stderr.
//!
//! Every spawn goes through [`launch`]: under the lock of the live-children registry it checks
//! the signal flag (no child starts after Ctrl-C) and registers the child, and [`stop_all`],
//! called right after the flag is set, signals the registered children under the same lock, so
//! there is no window in which a child starts unseen. Clean-up commands (removing what this
//! run created) use [`capture_cleanup`], which still runs after a signal.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::runner::Mode;
use crate::signal;

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
    /// What the caller streams into the child's stdin, rendered as `< NOTE` (a build's
    /// context archive); the caller starts it with [`Streamed::start_with_stdin`].
    pub stdin_from: Option<String>,
}

impl Cmd {
    pub fn new(program: &str) -> Self {
        Cmd {
            program: program.to_string(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            stdin: None,
            stdin_from: None,
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

    /// Notes what the caller will stream into stdin (shown as `< NOTE`).
    pub fn stdin_from(mut self, note: String) -> Self {
        self.stdin_from = Some(note);
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
        e.unchecked()
    }

    /// The expression of a child that never reads the terminal: its stdin is the given bytes,
    /// or /dev/null (a CLI that would prompt, such as `az` asking `Username:`, fails instead
    /// of hanging on a prompt nobody sees).
    fn detached(&self) -> duct::Expression {
        match &self.stdin {
            Some(bytes) => self.expression().stdin_bytes(bytes.clone()),
            None => self.expression().stdin_null(),
        }
    }

    fn spawn_error(&self, err: std::io::Error) -> anyhow::Error {
        if err.kind() == std::io::ErrorKind::NotFound {
            anyhow::Error::new(NotInstalled(self.program.clone()))
        } else {
            anyhow::anyhow!("could not start `{}`: {err}", self.shown())
        }
    }

    /// The shell line for a message: whole up to [`SHOWN_MAX`] bytes, then cut with a note of
    /// how much was left out (`--dry-run` prints the exact line; errors need not).
    pub fn shown(&self) -> String {
        shorten(&self.to_string())
    }
}

/// How much of a command line an error message shows.
pub const SHOWN_MAX: usize = 1000;

/// `line` cut to about [`SHOWN_MAX`] bytes (on a character boundary) with `… (N more bytes)`.
pub fn shorten(line: &str) -> String {
    if line.len() <= SHOWN_MAX {
        return line.to_string();
    }
    let mut end = SHOWN_MAX;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes)", &line[..end], line.len() - end)
}

/// Quotes a word for a POSIX shell only when it needs it (the safe set is Python's
/// `shlex.quote`'s), so `--build-arg A=1` stays readable.
pub fn quote(word: &str) -> String {
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
        if let Some(note) = &self.stdin_from {
            write!(f, " < {note}")?;
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
            "podman" => crate::engine::Engine::Podman.install_hint(),
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
    if installed(program) {
        Ok(())
    } else {
        Err(NotInstalled(program.to_string()).into())
    }
}

/// Whether `program` is on PATH, as the current [`runner`](crate::runner) sees it.
pub fn installed(program: &str) -> bool {
    crate::runner::current().installed(program)
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
            Some(code) => write!(
                f,
                "`{}` failed with exit status {code}",
                shorten(&self.line)
            )?,
            None => write!(f, "`{}` was killed by a signal", shorten(&self.line))?,
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

/// Runs `cmd` with stdout and stderr captured and stdin from /dev/null (or its own bytes); a
/// non-zero status is a [`CmdError`]. Refused after a signal ([`signal::Interrupted`]); a child
/// running when the signal arrives is sent SIGTERM and the result is `Interrupted`.
pub fn capture(cmd: &Cmd) -> anyhow::Result<Captured> {
    crate::runner::current().capture(cmd, Mode::Normal)
}

/// [`capture`] by spawning the child (the real runner's).
pub(crate) fn spawn_capture(cmd: &Cmd) -> anyhow::Result<Captured> {
    let expr = cmd.detached().stdout_capture().stderr_capture();
    let (handle, registered) = launch(cmd, true, || expr.start(), |h| h.pids())?;
    let out = handle
        .wait()
        .map_err(|e| anyhow::anyhow!("waiting for `{}`: {e}", cmd.shown()))?
        .clone();
    drop(registered);
    if !out.status.success() && signal::interrupted() {
        return Err(signal::Interrupted.into());
    }
    finish_capture(cmd, out)
}

/// Like [`capture`] for a command that removes what this run created (a temporary tag, a
/// container): it runs even after a signal and is not signalled, so clean-up completes.
pub fn capture_cleanup(cmd: &Cmd) -> anyhow::Result<Captured> {
    crate::runner::current().capture(cmd, Mode::Cleanup)
}

/// Like [`capture`] for a short command whose effect the run must then undo (`docker create`,
/// `docker tag` of a temporary name): refused after a signal, but not signalled while it runs,
/// so the engine never finishes it after the run's clean-up has looked.
pub fn capture_whole(cmd: &Cmd) -> anyhow::Result<Captured> {
    crate::runner::current().capture(cmd, Mode::Whole)
}

/// [`capture_cleanup`] by spawning the child (the real runner's).
pub(crate) fn spawn_capture_cleanup(cmd: &Cmd) -> anyhow::Result<Captured> {
    let out = cmd
        .detached()
        .stdout_capture()
        .stderr_capture()
        .run()
        .map_err(|e| cmd.spawn_error(e))?;
    finish_capture(cmd, out)
}

fn finish_capture(cmd: &Cmd, out: std::process::Output) -> anyhow::Result<Captured> {
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
    crate::runner::current().interactive(cmd, None)
}

/// [`interactive`] by spawning the child (the real runner's).
pub(crate) fn spawn_interactive(cmd: &Cmd) -> anyhow::Result<i32> {
    let expr = cmd.expression();
    let (handle, _unregistered) = launch(cmd, false, || expr.start(), |h| h.pids())?;
    let status = wait_interruptibly(&handle, cmd)?;
    Ok(exit_code(status))
}

/// Like [`interactive`], for a child that owns an outside resource such as a container. Once
/// interrupted, runs `stop` (e.g. `docker rm --force NAME`) every second until the child exits:
/// the container goes away and the client, having nothing left to wait for, exits on its own.
/// After 10 s the client itself is sent SIGTERM.
pub fn interactive_with_stop(cmd: &Cmd, stop: &Cmd) -> anyhow::Result<i32> {
    crate::runner::current().interactive(cmd, Some(stop))
}

/// [`interactive_with_stop`] by spawning the child (the real runner's).
pub(crate) fn spawn_interactive_with_stop(cmd: &Cmd, stop: &Cmd) -> anyhow::Result<i32> {
    let expr = cmd.expression();
    let (handle, _unregistered) = launch(cmd, false, || expr.start(), |h| h.pids())?;
    let mut stopping_since: Option<std::time::Instant> = None;
    let mut last_stop: Option<std::time::Instant> = None;
    loop {
        if let Some(out) = handle
            .wait_timeout(Duration::from_millis(100))
            .map_err(|e| anyhow::anyhow!("waiting for `{}`: {e}", cmd.shown()))?
        {
            return Ok(exit_code(out.status));
        }
        if !crate::signal::interrupted() {
            continue;
        }
        let since = *stopping_since.get_or_insert_with(std::time::Instant::now);
        if last_stop.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            // A failure here (e.g. "no such container" before it was created) is retried.
            let _ = spawn_capture_cleanup(stop);
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
            .map_err(|e| anyhow::anyhow!("waiting for `{}`: {e}", cmd.shown()))?
        {
            return Ok(out.status);
        }
        if crate::signal::interrupted() {
            signal_children(&handle.pids());
        }
    }
}

/// Children that a signal must reach: registration id → pids. Its lock is also the spawn lock.
static LIVE: Mutex<BTreeMap<u64, Vec<u32>>> = Mutex::new(BTreeMap::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

fn live() -> MutexGuard<'static, BTreeMap<u64, Vec<u32>>> {
    // A panic elsewhere while holding the lock leaves the map usable.
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A registered child; dropping it (after the child was waited for) unregisters it.
pub struct Registered(Option<u64>);

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(id) = self.0 {
            live().remove(&id);
        }
    }
}

/// Starts a child unless a signal has arrived. The flag check, the start and the registration
/// happen under the lock [`stop_all`] takes: either the child never starts, or it is
/// registered before `stop_all` looks and so receives SIGTERM. Unregistered children
/// (`register == false`, interactive ones) stop themselves by polling the flag.
fn launch<T>(
    cmd: &Cmd,
    register: bool,
    start: impl FnOnce() -> std::io::Result<T>,
    pids: impl Fn(&T) -> Vec<u32>,
) -> anyhow::Result<(T, Registered)> {
    let mut live = live();
    if signal::interrupted() {
        return Err(signal::Interrupted.into());
    }
    let child = start().map_err(|e| cmd.spawn_error(e))?;
    if !register {
        return Ok((child, Registered(None)));
    }
    let id = NEXT_ID.fetch_add(1, Ordering::SeqCst);
    live.insert(id, pids(&child));
    Ok((child, Registered(Some(id))))
}

/// Sends SIGTERM to every registered child. Called once the signal flag is set (the signal
/// path), under the spawn lock.
pub fn stop_all() {
    for pids in live().values() {
        signal_children(pids);
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

/// How long a child stopped for its deadline has after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Waits until `done` is dropped or `limit` passes; then SIGTERM to `pids`, and SIGKILL if
/// `done` is still not dropped [`STOP_GRACE`] later. Returns whether the limit passed.
fn watch_deadline(done: &std::sync::mpsc::Receiver<()>, limit: Duration, pids: &[u32]) -> bool {
    use std::sync::mpsc::RecvTimeoutError::Timeout;
    if done.recv_timeout(limit) != Err(Timeout) {
        return false;
    }
    signal_children(pids);
    if done.recv_timeout(STOP_GRACE) == Err(Timeout) {
        for pid in pids {
            // SAFETY: kill(2) with a pid we spawned and a valid signal number.
            unsafe {
                libc::kill(*pid as libc::pid_t, libc::SIGKILL);
            }
        }
    }
    true
}

/// A child whose merged stdout and stderr are read line by line (builds, pushes), or, under a
/// recording runner, the output it replays.
pub struct Streamed {
    out: Output,
    cmd: Cmd,
    _registered: Registered,
}

enum Output {
    Child(Box<duct::ReaderHandle>),
    /// Made only by the recording runner of unit tests.
    #[cfg_attr(not(test), allow(dead_code))]
    Replay {
        text: String,
        code: i32,
    },
}

impl Streamed {
    /// Starts `cmd` with stdin from /dev/null (or its own bytes).
    pub fn start(cmd: &Cmd) -> anyhow::Result<Streamed> {
        crate::runner::current().stream(cmd, None)
    }

    /// Starts `cmd` with its stdin read from `stdin` (e.g. the pipe a build context is
    /// written to).
    pub fn start_with_stdin(cmd: &Cmd, stdin: os_pipe::PipeReader) -> anyhow::Result<Streamed> {
        crate::runner::current().stream(cmd, Some(stdin))
    }

    /// [`Streamed::start`] or [`Streamed::start_with_stdin`] by spawning the child (the real
    /// runner's).
    pub(crate) fn spawn(cmd: &Cmd, stdin: Option<os_pipe::PipeReader>) -> anyhow::Result<Streamed> {
        let expr = match stdin {
            Some(pipe) => cmd.expression().stdin_file(pipe),
            None => cmd.detached(),
        };
        let expr = expr.stderr_to_stdout();
        let (reader, registered) = launch(cmd, true, || expr.reader(), |r| r.pids())?;
        Ok(Streamed {
            out: Output::Child(Box::new(reader)),
            cmd: cmd.clone(),
            _registered: registered,
        })
    }

    /// A finished child that printed `text` and exited with `code` (a recording runner's).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn replay(cmd: &Cmd, text: String, code: i32) -> Streamed {
        Streamed {
            out: Output::Replay { text, code },
            cmd: cmd.clone(),
            _registered: Registered(None),
        }
    }

    pub fn pids(&self) -> Vec<u32> {
        match &self.out {
            Output::Child(reader) => reader.pids(),
            Output::Replay { .. } => Vec::new(),
        }
    }

    /// Calls `on_line` for every output line, then returns the exit status. The output is
    /// also returned whole so that a failure can show its tail.
    pub fn finish(self, on_line: impl FnMut(&str)) -> anyhow::Result<(i32, String)> {
        self.read_all(on_line)
    }

    /// [`Streamed::finish`] with a deadline of this child only: once `limit` has passed since
    /// the call, the child is sent SIGTERM (the docker client cancels its build and the
    /// daemon removes the build's container), then SIGKILL after [`STOP_GRACE`]. The signal
    /// flag is not touched: other jobs go on. Returns whether the deadline was reached.
    pub fn finish_within(
        self,
        limit: Option<Duration>,
        on_line: impl FnMut(&str),
    ) -> anyhow::Result<(i32, String, bool)> {
        let Some(limit) = limit else {
            return self.read_all(on_line).map(|(c, o)| (c, o, false));
        };
        let pids = self.pids();
        let (done, watch) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|scope| {
            let watcher = scope.spawn(move || watch_deadline(&watch, limit, &pids));
            let result = self.read_all(on_line);
            drop(done);
            let timed_out = watcher.join().unwrap_or(false);
            result.map(|(c, o)| (c, o, timed_out))
        })
    }

    fn read_all(self, mut on_line: impl FnMut(&str)) -> anyhow::Result<(i32, String)> {
        let reader = match &self.out {
            Output::Child(reader) => reader,
            Output::Replay { text, code } => {
                text.lines().for_each(&mut on_line);
                return Ok((*code, text.clone()));
            }
        };
        let mut all = String::new();
        let mut buf = BufReader::new(&**reader);
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = buf.read_until(b'\n', &mut line).map_err(|e| {
                anyhow::anyhow!("reading the output of `{}`: {e}", self.cmd.shown())
            })?;
            if n == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\n', '\r']);
            on_line(text);
            all.push_str(text);
            all.push('\n');
        }
        let status = reader
            .try_wait()
            .map_err(|e| anyhow::anyhow!("waiting for `{}`: {e}", self.cmd.shown()))?
            .map(|o| o.status)
            .ok_or_else(|| {
                anyhow::anyhow!("`{}` closed its output but did not exit", self.cmd.shown())
            })?;
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
    fn captured_children_read_dev_null_not_our_stdin() {
        // Put a pipe holding a typed line on our own fd 0: a child that inherited it would
        // read the line (or, on a terminal, wait for one, as `az` did with `Username:`).
        let (reader, mut writer) = os_pipe::pipe().unwrap();
        std::io::Write::write_all(&mut writer, b"typed\n").unwrap();
        // SAFETY: dup/dup2/close on valid descriptors; fd 0 is restored below.
        let saved = unsafe { libc::dup(0) };
        unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&reader), 0) };
        let script = "if read x; then echo \"read:$x\"; else echo eof; fi";
        let captured = capture(&Cmd::new("sh").args(["-c", script]));
        let with_bytes = capture(
            &Cmd::new("sh")
                .args(["-c", script])
                .stdin(b"given\n".to_vec()),
        );
        let mut seen = Vec::new();
        let streamed = Streamed::start(&Cmd::new("sh").args(["-c", script]))
            .and_then(|s| s.finish(|l| seen.push(l.to_string())));
        unsafe {
            libc::dup2(saved, 0);
            libc::close(saved);
        }
        assert_eq!(captured.unwrap().stdout, "eof\n");
        assert_eq!(with_bytes.unwrap().stdout, "read:given\n");
        streamed.unwrap();
        assert_eq!(seen, ["eof"]);
    }

    #[test]
    fn long_command_lines_are_cut_in_messages() {
        let long = "x".repeat(5000);
        let cmd = Cmd::new("sh").args(["-c", "exit 3", &long]);
        let err = capture(&cmd).unwrap_err().to_string();
        let shown = format!("sh -c 'exit 3' {}", "x".repeat(SHOWN_MAX - 15));
        assert_eq!(
            err,
            format!("`{shown}… (4015 more bytes)` failed with exit status 3")
        );
        // Multi-byte characters are never split; short lines are whole.
        assert_eq!(
            shorten(&"é".repeat(600)),
            format!("{}… (200 more bytes)", "é".repeat(500))
        );
        assert_eq!(shorten("docker tag a b"), "docker tag a b");
        // The rendered line itself (what `--dry-run` prints) stays exact.
        assert!(cmd.to_string().ends_with(&long));
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
