//! Ctrl-C, SIGTERM and SIGHUP. The handler only sets a flag: the code that owns a child process
//! or a temporary resource (staged file, temporary tag, container) sees the flag, stops the
//! child, and cleans up on its normal path, so clean-up code is never run from a signal handler.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler once, at start-up.
pub fn install() {
    // A second install (tests calling `run` twice) is harmless to ignore.
    let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
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
