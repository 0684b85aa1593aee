//! A set of tag moves applied all or nothing: each tag's old digest is read first, the moves
//! run in order with the primitive of [`super::retag`], and a failure or Ctrl-C puts back the
//! tags already moved (to their old digests, or removed when they did not exist). When that
//! fails too, the error names every tag left moved and the exact calls that put it back.

use std::collections::BTreeMap;

use super::backend::{Backend, Op};
use crate::{exec, signal};

/// Point `repo:tag` at `digest`; `old` is what it pointed at before (None: no such tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub repo: String,
    pub tag: String,
    pub digest: String,
    pub old: Option<String>,
}

impl Move {
    pub fn new(repo: &str, tag: &str, digest: &str) -> Move {
        Move {
            repo: repo.into(),
            tag: tag.into(),
            digest: digest.into(),
            old: None,
        }
    }

    /// Whether applying it changes anything.
    pub fn changes(&self) -> bool {
        self.old.as_deref() != Some(self.digest.as_str())
    }

    /// The step that undoes it.
    pub fn undo(&self, backend: &Backend) -> Op {
        match &self.old {
            Some(d) => backend.point(&self.repo, &self.tag, d),
            None => backend.remove(&self.repo, &self.tag),
        }
    }
}

/// A set that failed: what happened, and whether Ctrl-C caused it.
#[derive(Debug)]
pub struct Failed {
    pub message: String,
    pub interrupted: bool,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failed {}

/// The repositories of `moves` with their tags, in order.
fn by_repo(moves: &[Move]) -> BTreeMap<&str, Vec<String>> {
    let mut out: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for m in moves {
        let tags = out.entry(&m.repo).or_default();
        if !tags.contains(&m.tag) {
            tags.push(m.tag.clone());
        }
    }
    out
}

/// Fills each move's `old` (one read per repository).
pub fn read_old(backend: &Backend, moves: &mut [Move]) -> anyhow::Result<()> {
    let repos: Vec<(String, Vec<String>)> = by_repo(moves)
        .into_iter()
        .map(|(r, t)| (r.to_string(), t))
        .collect();
    for (repo, tags) in repos {
        let now = backend.current(&repo, &tags)?;
        for m in moves.iter_mut().filter(|m| m.repo == repo) {
            m.old = now.get(&m.tag).cloned().flatten();
        }
    }
    Ok(())
}

/// The calls [`read_old`] makes, as `--dry-run` prints them.
pub fn read_lines(backend: &Backend, moves: &[Move]) -> Vec<String> {
    by_repo(moves)
        .into_iter()
        .flat_map(|(repo, tags)| backend.read_lines(repo, &tags))
        .collect()
}

/// The calls [`apply`] makes when nothing fails, as `--dry-run` prints them.
pub fn point_lines(backend: &Backend, moves: &[Move]) -> Vec<String> {
    moves
        .iter()
        .map(|m| backend.render(&backend.point(&m.repo, &m.tag, &m.digest)))
        .collect()
}

/// Applies `moves` (with `old` read) in order; a move that changes nothing is skipped. On a
/// failure or Ctrl-C the moved tags are put back; `host` names tags in messages, `finish`
/// says how to complete the set once the registry answers.
pub fn apply(backend: &Backend, host: &str, moves: &[Move], finish: &str) -> Result<(), Failed> {
    let mut done: Vec<&Move> = Vec::new();
    let mut failure = None;
    for m in moves.iter().filter(|m| m.changes()) {
        if signal::interrupted() {
            failure = Some(signal::Interrupted.to_string());
            break;
        }
        match backend.apply(&backend.point(&m.repo, &m.tag, &m.digest)) {
            Ok(()) => done.push(m),
            Err(e) => {
                // A command stopped by Ctrl-C may have moved its tag: put it back too.
                if signal::interrupted() {
                    done.push(m);
                }
                failure = Some(format!(
                    "could not point `{host}/{}:{}` at `{}`: {e:#}",
                    m.repo, m.tag, m.digest
                ));
                break;
            }
        }
    }
    let Some(cause) = failure else {
        return Ok(());
    };
    Err(Failed {
        message: rollback(backend, host, &done, &cause, finish),
        interrupted: signal::interrupted(),
    })
}

/// Puts back `done` (last first) and says what happened.
fn rollback(backend: &Backend, host: &str, done: &[&Move], cause: &str, finish: &str) -> String {
    let mut left = Vec::new();
    for m in done.iter().rev() {
        let op = m.undo(backend);
        if let Err(e) = backend.apply_with(&op, exec::capture_cleanup) {
            left.push((*m, op, format!("{e:#}")));
        }
    }
    let was = |m: &Move| match &m.old {
        Some(d) => format!("was `{d}`"),
        None => "did not exist".to_string(),
    };
    if left.is_empty() {
        let put_back: Vec<String> = done
            .iter()
            .map(|m| format!("\n  `{host}/{}:{}` ({})", m.repo, m.tag, was(m)))
            .collect();
        return match put_back.len() {
            0 => format!("{cause}\nno tag was moved"),
            n => format!(
                "{cause}\nnothing changed: the {n} tag(s) already moved were put back:{}",
                put_back.concat()
            ),
        };
    }
    let mut msg = format!("{cause}\nthese tags moved and could not be put back:");
    for (m, _, e) in &left {
        msg.push_str(&format!(
            "\n  `{host}/{}:{}` now points at `{}` ({}): {e}",
            m.repo,
            m.tag,
            m.digest,
            was(m)
        ));
    }
    msg.push_str("\nto put them back, run:");
    for (_, op, _) in &left {
        msg.push_str(&format!("\n  {}", backend.render(op)));
    }
    msg.push_str(&format!("\nor, to finish instead: {finish}"));
    msg
}
