//! The source revision, read from git for the label of a pushed image. A tree that is not a git
//! checkout (or a machine without git) simply gets no such labels.

use std::path::Path;

use crate::exec::{self, Cmd};

#[derive(Debug, Default, Clone)]
pub struct Source {
    pub revision: Option<String>,
}

pub fn rev_parse(dir: &Path, what: &[&str]) -> Cmd {
    Cmd::new("git")
        .arg("-C")
        .arg(dir.to_string_lossy())
        .arg("rev-parse")
        .args(what.iter().copied())
}

pub fn source(dir: &Path) -> Source {
    let run = |args: &[&str]| {
        exec::capture(&rev_parse(dir, args))
            .ok()
            .map(|c| c.stdout.trim().to_string())
            .filter(|s| !s.is_empty() && s != "HEAD")
    };
    Source {
        revision: run(&["--verify", "-q", "HEAD"]),
    }
}
