//! Ctrl-C, SIGTERM and SIGHUP. The handler (run by `ctrlc` on its own thread, not in a signal
//! context) sets a flag and sends SIGTERM to the registered children (`exec::stop_all`, under
//! the spawn lock, so no child starts after it). The code that owns a temporary resource
//! (temporary tag, container) sees the flag and cleans up on its normal path; clean-up code
//! never runs in the handler.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler once, at start-up.
pub fn install() {
    // A second install (tests calling `run` twice) is harmless to ignore.
    let _ = ctrlc::set_handler(interrupt);
}

/// What a signal does: set the flag, then SIGTERM every registered child. Public so that tests
/// (each integration test is its own process) can interrupt without a real signal.
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
    crate::exec::stop_all();
}

/// Whether the process was signalled, or the run's runner reports an interruption (a
/// recording runner's scripted Ctrl-C, see `runner::Recorder`).
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst) || crate::runner::interrupted()
}

/// The error returned by work that stopped because of a signal; main maps it to exit 130.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "interrupted; everything imagemk had started was stopped and cleaned up"
        )
    }
}

impl std::error::Error for Interrupted {}
