//! A [`Runner`] for unit tests: it writes down every command it is given, in order, and answers
//! from a script of rules (the first rule whose text occurs in the command line answers; a
//! `once` rule answers one call). A rule can also play Ctrl-C: the call is then interrupted, or
//! succeeds with the signal arriving right after it, and from then on the run sees
//! `signal::interrupted()` (this runner's flag, not the process's, so tests run side by side)
//! and commands other than clean-up are refused, as the real spawner refuses them.

use std::ffi::OsString;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::{Mode, Runner};
use crate::console::Stream;
use crate::exec::{Captured, Cmd, CmdError, Streamed};
use crate::signal::Interrupted;

/// What a scripted command does.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Exits 0 printing this (stdout, or the merged output of a streamed command).
    Out(String),
    /// Exits with this status, printing this on stderr.
    Fail(i32, String),
    /// Ctrl-C arrives while it runs: it is stopped.
    Interrupt,
    /// It exits 0 printing this, and Ctrl-C arrives right after.
    OutThenInterrupt(String),
}

/// One recorded command: how it ran (`run`, `cleanup`, `interactive`, `stream`) and its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub how: &'static str,
    pub line: String,
}

struct Rule {
    text: String,
    reply: Reply,
    once: bool,
    used: bool,
}

#[derive(Default)]
pub struct Recorder {
    rules: Mutex<Vec<Rule>>,
    calls: Mutex<Vec<Call>>,
    missing: Vec<String>,
    interrupted: AtomicBool,
    stdout: Mutex<String>,
    stderr: Mutex<String>,
    effects: Vec<Effect>,
}

/// What a command does besides answering (see [`Recorder::does`]).
type Effect = (String, Box<dyn Fn(&Cmd) + Send + Sync>);

impl Recorder {
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// Every command whose line contains `text` answers `reply` (unless an earlier rule does).
    pub fn on(self, text: &str, reply: Reply) -> Recorder {
        self.rule(text, reply, false)
    }

    /// The first command whose line contains `text` answers `reply`.
    pub fn once(self, text: &str, reply: Reply) -> Recorder {
        self.rule(text, reply, true)
    }

    /// `program` is not on PATH.
    pub fn without(mut self, program: &str) -> Recorder {
        self.missing.push(program.to_string());
        self
    }

    fn rule(self, text: &str, reply: Reply, once: bool) -> Recorder {
        self.rules.lock().unwrap().push(Rule {
            text: text.to_string(),
            reply,
            once,
            used: false,
        });
        self
    }

    /// Every command run so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// The lines of [`Recorder::calls`], clean-up ones marked `(cleanup) `.
    pub fn lines(&self) -> Vec<String> {
        let mark = |c: &Call| match c.how {
            "cleanup" => format!("(cleanup) {}", c.line),
            _ => c.line.clone(),
        };
        self.calls().iter().map(mark).collect()
    }

    /// Records `cmd` and finds its reply; `None` when the run is interrupted and `cmd` may not
    /// start (only clean-up runs then).
    fn answer(&self, cmd: &Cmd, how: &'static str) -> Option<Reply> {
        if how != "cleanup" && self.interrupted.load(Ordering::SeqCst) {
            return None;
        }
        let line = cmd.to_string();
        self.calls.lock().unwrap().push(Call {
            how,
            line: line.clone(),
        });
        let mut rules = self.rules.lock().unwrap();
        let rule = rules
            .iter_mut()
            .find(|r| !(r.once && r.used) && line.contains(&r.text));
        let reply = match rule {
            Some(r) => {
                r.used = true;
                r.reply.clone()
            }
            None => Reply::Out(String::new()),
        };
        if matches!(reply, Reply::Interrupt | Reply::OutThenInterrupt(_)) {
            self.interrupted.store(true, Ordering::SeqCst);
        }
        drop(rules);
        if matches!(reply, Reply::Out(_) | Reply::OutThenInterrupt(_)) {
            for (_, effect) in self.effects.iter().filter(|(t, _)| line.contains(t)) {
                effect(cmd);
            }
        }
        Some(reply)
    }

    /// Every command whose line contains `text` also does `effect` when it succeeds (given
    /// the command: its arguments and directory), e.g. `docker cp` writing its copy.
    pub fn does(mut self, text: &str, effect: impl Fn(&Cmd) + Send + Sync + 'static) -> Recorder {
        self.effects.push((text.to_string(), Box::new(effect)));
        self
    }
}

impl Runner for Recorder {
    fn capture(&self, cmd: &Cmd, mode: Mode) -> anyhow::Result<Captured> {
        let how = match mode {
            Mode::Normal | Mode::Whole => "run",
            Mode::Cleanup => "cleanup",
        };
        let captured = |stdout: String| Captured {
            stdout,
            stderr: String::new(),
        };
        match self.answer(cmd, how).ok_or(Interrupted)? {
            Reply::Out(out) | Reply::OutThenInterrupt(out) => Ok(captured(out)),
            Reply::Interrupt => Err(Interrupted.into()),
            Reply::Fail(status, stderr) => Err(CmdError {
                line: cmd.to_string(),
                status: Some(status),
                stderr,
            }
            .into()),
        }
    }

    fn interactive(&self, cmd: &Cmd, stop: Option<&Cmd>) -> anyhow::Result<i32> {
        let code = match self.answer(cmd, "interactive").ok_or(Interrupted)? {
            Reply::Out(_) | Reply::OutThenInterrupt(_) => 0,
            Reply::Fail(status, _) => status,
            Reply::Interrupt => 130,
        };
        if let Some(stop) = stop.filter(|_| self.interrupted()) {
            self.answer(stop, "cleanup");
        }
        Ok(code)
    }

    fn stream(&self, cmd: &Cmd, stdin: Option<os_pipe::PipeReader>) -> anyhow::Result<Streamed> {
        if let Some(mut pipe) = stdin {
            // Drained like a child would, so the writer of the pipe never blocks.
            std::thread::spawn(move || std::io::copy(&mut pipe, &mut std::io::sink()));
        }
        let (text, code) = match self.answer(cmd, "stream").ok_or(Interrupted)? {
            Reply::Out(out) | Reply::OutThenInterrupt(out) => (out, 0),
            Reply::Fail(status, out) => (out, status),
            Reply::Interrupt => (String::new(), 143),
        };
        Ok(Streamed::replay(cmd, text, code))
    }

    fn installed(&self, program: &str) -> bool {
        !self.missing.iter().any(|m| m == program)
    }

    fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    fn print(&self, stream: Stream, text: &str) {
        let buffer = match stream {
            Stream::Out => &self.stdout,
            Stream::Err => &self.stderr,
        };
        buffer.lock().unwrap().push_str(text);
    }
}

/// What an in-process run returned and printed, as the binary would have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: i32,
    pub stdout: String,
    /// Everything on stderr, the closing `error: …` included.
    pub stderr: String,
}

impl Outcome {
    /// Asserts the whole outcome at once, so a failure shows all three.
    pub fn is(&self, status: i32, stdout: &str, stderr: &str) {
        assert_eq!(
            (self.status, self.stdout.as_str(), self.stderr.as_str()),
            (status, stdout, stderr)
        );
    }

    /// Asserts success, showing stderr otherwise.
    pub fn ok(&self) -> &Outcome {
        assert_eq!(self.status, 0, "{}", self.stderr);
        self
    }
}

/// Runs imagemk in this process as `imagemk -C DIR ARGS…` with `env` (plus `CI=true`) under
/// `recorder`; returns its status and what it printed (its progress lines come plain, as in CI).
/// Unless `env` names one, `DOCKER_HOST` is a name of the workspace's own.
pub fn imagemk(
    recorder: &Arc<Recorder>,
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Outcome {
    let mut argv: Vec<OsString> = vec!["-C".into(), dir.into()];
    argv.extend(args.iter().map(Into::into));
    let mut pairs: Vec<(OsString, OsString)> = vec![("CI".into(), "true".into())];
    // An engine of its own (a name only: nothing connects to it), so runs side by side never
    // wait on each other's remote-name locks in /tmp/imagemk-locks.
    if !env.iter().any(|(k, _)| *k == "DOCKER_HOST") {
        let engine = format!("unix://{}/docker.sock", dir.display());
        pairs.push(("DOCKER_HOST".into(), engine.into()));
    }
    pairs.extend(env.iter().map(|(k, v)| (k.into(), v.into())));
    imagemk_os(recorder, argv, pairs)
}

/// [`imagemk`] with any bytes: `imagemk ARGS…` (no `-C` added) with exactly `env`, read as
/// the binary reads its own (a value that is not UTF-8 is kept as such).
pub fn imagemk_os(
    recorder: &Arc<Recorder>,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
) -> Outcome {
    let mut argv: Vec<OsString> = vec!["imagemk".into()];
    argv.extend(args);
    let env = crate::config::Env::from_os(env);
    let runner: Arc<dyn Runner> = recorder.clone();
    let (status, error) = super::using(runner, || crate::run_outcome(argv, env));
    let mut stderr = std::mem::take(&mut *recorder.stderr.lock().unwrap());
    if !error.is_empty() {
        stderr.push_str(&error);
        stderr.push('\n');
    }
    Outcome {
        status,
        stdout: std::mem::take(&mut *recorder.stdout.lock().unwrap()),
        stderr,
    }
}
