//! Putting extracted copies in place as one undoable step: every destination is moved aside
//! (into the copy's temporary directory, on the same file system), the copy renamed in, and
//! the old ones deleted only after every rename succeeded and no signal came. Also runs a
//! `docker cp` so that a signal stops it at once.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{bail, Context};

use super::dest::{resolve, Protected};
use super::extract::{Copy, Install};
use crate::exec::{self, Cmd};

/// One rename into place: `new` becomes `target`; the old `target`, if any, goes to `aside`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub new: PathBuf,
    pub target: PathBuf,
    pub aside: PathBuf,
}

/// The moves that put copy `c` in place, after checking what `docker cp` wrote against what
/// the destination allows (docker cp's rules for a command-line DEST).
pub fn moves(c: &Copy, protected: &Protected) -> anyhow::Result<Vec<Move>> {
    let staged = c.staged();
    let is_dir = fs::symlink_metadata(&staged)
        .with_context(|| {
            format!(
                "`{} cp` wrote nothing at `{}`",
                crate::engine::program(),
                staged.display()
            )
        })?
        .is_dir();
    match &c.install {
        Install::Replace {
            target,
            strict,
            dir_only,
        } => {
            if *dir_only && !is_dir {
                bail!(
                    "`{}` is a file in the image, and `{}` names a directory that does not exist; create the directory first (the file then goes inside it), or drop the trailing `/`",
                    c.from,
                    c.shown
                );
            }
            if *strict {
                same_kind(target, is_dir, c)?;
            }
            Ok(vec![Move {
                new: staged,
                target: target.clone(),
                aside: c.tmp.join("old-0"),
            }])
        }
        Install::Contents { dir } => {
            let mut entries: Vec<_> = fs::read_dir(&staged)
                .with_context(|| format!("reading `{}`", staged.display()))?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<Result<_, _>>()
                .with_context(|| format!("reading `{}`", staged.display()))?;
            entries.sort();
            let mut out = Vec::new();
            for (k, name) in entries.into_iter().enumerate() {
                let target = dir.join(&name);
                protected.check(&target.to_string_lossy(), &resolve(&target))?;
                same_kind(&target, staged.join(&name).is_dir(), c)?;
                out.push(Move {
                    new: staged.join(&name),
                    target,
                    aside: c.tmp.join(format!("old-{k}")),
                });
            }
            Ok(out)
        }
    }
}

/// docker cp never replaces a directory with a file or a file with a directory.
fn same_kind(target: &Path, new_is_dir: bool, c: &Copy) -> anyhow::Result<()> {
    let Ok(meta) = fs::symlink_metadata(target) else {
        return Ok(());
    };
    let (old, new) = match (meta.is_dir(), new_is_dir) {
        (true, false) => ("directory", "file"),
        (false, true) => ("file", "directory"),
        _ => return Ok(()),
    };
    bail!(
        "`{}` is a {old}, and `{}` in the image is a {new}; remove `{}` first or give another destination",
        target.display(),
        c.from,
        target.display()
    )
}

#[derive(Debug)]
struct Step {
    m: Move,
    had_old: bool,
    installed: bool,
}

/// The moves done so far, in order, so that they can be undone.
#[derive(Debug, Default)]
pub struct Swap {
    done: Vec<Step>,
}

impl Swap {
    /// Applies `moves` in order; on an error the caller calls [`Swap::undo`].
    pub fn apply(&mut self, moves: &[Move]) -> anyhow::Result<()> {
        for m in moves {
            let had_old = fs::symlink_metadata(&m.target).is_ok();
            if had_old {
                fs::rename(&m.target, &m.aside).with_context(|| {
                    format!("moving `{}` aside to replace it", m.target.display())
                })?;
            }
            self.done.push(Step {
                m: m.clone(),
                had_old,
                installed: false,
            });
            fs::rename(&m.new, &m.target).with_context(|| {
                format!("moving `{}` to `{}`", m.new.display(), m.target.display())
            })?;
            if let Some(last) = self.done.last_mut() {
                last.installed = true;
            }
        }
        Ok(())
    }

    /// Puts every old destination back, last move first. Returns the old destinations that
    /// could not be put back (they stay at their `aside` path, which must then be kept).
    pub fn undo(&mut self) -> Vec<Move> {
        let mut stuck = Vec::new();
        for s in self.done.drain(..).rev() {
            if s.installed {
                let _ = fs::rename(&s.m.target, &s.m.new);
            }
            if s.had_old && fs::rename(&s.m.aside, &s.m.target).is_err() {
                stuck.push(s.m);
            }
        }
        stuck
    }
}

/// Runs `cmd`, sending it SIGTERM as soon as imagemk is interrupted; returns its exit status
/// and its merged output.
pub fn run_stoppable(cmd: &Cmd) -> anyhow::Result<(i32, String)> {
    let child = exec::Streamed::start(cmd)?;
    let pids = child.pids();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(crate::runner::carry(|| {
            while !done.load(Ordering::SeqCst) {
                if crate::signal::interrupted() {
                    exec::signal_children(&pids);
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }));
        let result = child.finish(|_| {});
        done.store(true, Ordering::SeqCst);
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_move_puts_every_old_destination_back() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        fs::create_dir_all(d.join("tmp/copy")).unwrap();
        fs::write(d.join("tmp/copy/a"), "new a").unwrap();
        fs::write(d.join("a"), "old a").unwrap();
        fs::create_dir(d.join("b")).unwrap();
        fs::write(d.join("b/keep"), "old b").unwrap();
        let moves = [
            Move {
                new: d.join("tmp/copy/a"),
                target: d.join("a"),
                aside: d.join("tmp/old-0"),
            },
            Move {
                // Nothing was staged here: the rename in fails after `b` was moved aside.
                new: d.join("tmp/copy/b"),
                target: d.join("b"),
                aside: d.join("tmp/old-1"),
            },
        ];
        let mut swap = Swap::default();
        let err = swap.apply(&moves).unwrap_err();
        assert!(format!("{err:#}").starts_with("moving `"), "{err:#}");
        assert!(swap.undo().is_empty());
        assert_eq!(fs::read_to_string(d.join("a")).unwrap(), "old a");
        assert_eq!(fs::read_to_string(d.join("b/keep")).unwrap(), "old b");
        assert_eq!(fs::read_to_string(d.join("tmp/copy/a")).unwrap(), "new a");
        assert!(!d.join("tmp/old-0").exists() && !d.join("tmp/old-1").exists());
    }

    #[test]
    fn applied_moves_can_still_be_undone_until_the_old_ones_are_deleted() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        fs::create_dir_all(d.join("tmp")).unwrap();
        fs::write(d.join("tmp/copy"), "new").unwrap();
        fs::write(d.join("f"), "old").unwrap();
        let mut swap = Swap::default();
        swap.apply(&[Move {
            new: d.join("tmp/copy"),
            target: d.join("f"),
            aside: d.join("tmp/old-0"),
        }])
        .unwrap();
        assert_eq!(fs::read_to_string(d.join("f")).unwrap(), "new");
        // A signal that came during the swap: it is undone.
        assert!(swap.undo().is_empty());
        assert_eq!(fs::read_to_string(d.join("f")).unwrap(), "old");
    }
}
