//! The seam between commands and processes. Every command imagemk runs goes through the
//! [`Runner`] of the current scope: [`Real`] spawns it (the functions of [`crate::exec`]); in
//! unit tests a [`Recorder`] writes it down and answers from a script, so the order of steps and
//! what happens on a failure or a signal between two steps are tested in-process, without a
//! fake CLI.
//!
//! The scope is the run: a test installs its runner with [`using`], and every thread that runs
//! commands for the run (the scheduler's jobs, parallel look-ups) is started with [`carry`],
//! which takes the scope along. A scope also holds the engine the run chose
//! ([`crate::engine::set`]), so runs side by side in one test process never share it. Outside
//! any scope (the binary) the runner is [`Real`] and the engine is the process's.

use std::cell::RefCell;
use std::sync::{Arc, LazyLock, OnceLock};

use crate::console::Stream;
use crate::engine::Engine;
use crate::exec::{self, Captured, Cmd, Streamed};

#[cfg(test)]
mod recorder;
#[cfg(test)]
pub use recorder::{imagemk, imagemk_os, Call, Outcome, Recorder, Reply};

/// How a captured command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Refused once the run is interrupted; a running child is stopped by the signal.
    Normal,
    /// Removes what this run created (a temporary tag, a container): still runs after a
    /// signal, and is not signalled.
    Cleanup,
    /// Creates what the run must then be able to remove (`docker create`, `docker tag`):
    /// refused once the run is interrupted, but never signalled, so it is never cut off while
    /// the engine goes on to finish it after the run's clean-up has looked.
    Whole,
}

/// What runs commands: the process spawner, or a recording stand-in.
pub trait Runner: Send + Sync {
    /// Runs `cmd` to its end with its output captured; a non-zero status is an
    /// [`exec::CmdError`], a stop by a signal [`crate::signal::Interrupted`].
    fn capture(&self, cmd: &Cmd, mode: Mode) -> anyhow::Result<Captured>;
    /// Runs `cmd` on the terminal and returns its status; once interrupted, `stop` is run until
    /// the child is gone.
    fn interactive(&self, cmd: &Cmd, stop: Option<&Cmd>) -> anyhow::Result<i32>;
    /// Starts `cmd` with its output read line by line and its stdin from `stdin` (a pipe the
    /// caller writes) or nothing.
    fn stream(&self, cmd: &Cmd, stdin: Option<os_pipe::PipeReader>) -> anyhow::Result<Streamed>;
    /// Whether `program` is on PATH.
    fn installed(&self, program: &str) -> bool;
    /// Whether the run was interrupted by this runner (a recorder's scripted signal); the
    /// process's own signal flag is in [`crate::signal`].
    fn interrupted(&self) -> bool {
        false
    }
    /// Writes imagemk's own output (see [`crate::console`]). A stream nobody reads any more
    /// (`imagemk list | head -1`) is not an error: the text is dropped and the run goes on to
    /// its end, so whatever it started is still finished and cleaned up.
    fn print(&self, stream: Stream, text: &str) {
        use std::io::Write;
        let _ = match stream {
            Stream::Out => std::io::stdout().lock().write_all(text.as_bytes()),
            Stream::Err => std::io::stderr().lock().write_all(text.as_bytes()),
        };
    }
}

/// The runner that spawns processes.
pub struct Real;

impl Runner for Real {
    fn capture(&self, cmd: &Cmd, mode: Mode) -> anyhow::Result<Captured> {
        match mode {
            Mode::Normal => exec::spawn_capture(cmd),
            Mode::Cleanup => exec::spawn_capture_cleanup(cmd),
            // A signal between this look and the start is harmless: the command runs whole
            // and the caller looks at the flag again before its next step.
            Mode::Whole if crate::signal::interrupted() => Err(crate::signal::Interrupted.into()),
            Mode::Whole => exec::spawn_capture_cleanup(cmd),
        }
    }

    fn interactive(&self, cmd: &Cmd, stop: Option<&Cmd>) -> anyhow::Result<i32> {
        match stop {
            Some(stop) => exec::spawn_interactive_with_stop(cmd, stop),
            None => exec::spawn_interactive(cmd),
        }
    }

    fn stream(&self, cmd: &Cmd, stdin: Option<os_pipe::PipeReader>) -> anyhow::Result<Streamed> {
        Streamed::spawn(cmd, stdin)
    }

    fn installed(&self, program: &str) -> bool {
        which::which(program).is_ok()
    }
}

static REAL: LazyLock<Arc<dyn Runner>> = LazyLock::new(|| Arc::new(Real));

/// A run's scope: its runner, and the engine it chose (set once, like the process's).
#[derive(Clone)]
struct Scope {
    runner: Arc<dyn Runner>,
    engine: Arc<OnceLock<Engine>>,
}

thread_local! {
    static CURRENT: RefCell<Option<Scope>> = const { RefCell::new(None) };
}

/// The runner of this thread's scope ([`Real`] outside any).
pub fn current() -> Arc<dyn Runner> {
    CURRENT
        .with(|c| c.borrow().as_ref().map(|s| s.runner.clone()))
        .unwrap_or_else(|| REAL.clone())
}

/// Whether the runner of this scope reports an interruption (see [`Runner::interrupted`]).
pub fn interrupted() -> bool {
    CURRENT.with(|c| c.borrow().as_ref().is_some_and(|s| s.runner.interrupted()))
}

/// `f` of the engine cell of this thread's scope; `None` outside any scope (the process's
/// cell applies).
pub(crate) fn with_engine_cell<T>(f: impl FnOnce(&OnceLock<Engine>) -> T) -> Option<T> {
    CURRENT.with(|c| c.borrow().as_ref().map(|s| f(&s.engine)))
}

/// Runs `f` in a new scope whose runner is `runner` (and whose engine is not chosen yet); the
/// previous scope is back afterwards, also when `f` panics.
pub fn using<T>(runner: Arc<dyn Runner>, f: impl FnOnce() -> T) -> T {
    enter(
        Scope {
            runner,
            engine: Arc::new(OnceLock::new()),
        },
        f,
    )
}

fn enter<T>(scope: Scope, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Scope>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = previous);
        }
    }
    let previous = CURRENT.with(|c| c.borrow_mut().replace(scope));
    let _restore = Restore(previous);
    f()
}

/// `f`, made to run in this thread's scope wherever it is called: wrap the body of a thread
/// that runs commands for the current run.
pub fn carry<T>(f: impl FnOnce() -> T) -> impl FnOnce() -> T {
    let scope = CURRENT.with(|c| c.borrow().clone());
    move || match scope {
        Some(s) => enter(s, f),
        None => f(),
    }
}
