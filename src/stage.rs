//! Files staged into a build context for one build. [`Staged`] removes what it copied, and any
//! directory it had to create, when it is dropped: after the build, on failure, on Ctrl-C
//! (the executor stops the child and returns normally) and on panic. It never overwrites a file
//! that was already there.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::config::Stage;

#[derive(Debug, Default)]
pub struct Staged {
    /// What was created, in creation order; removed in reverse.
    created: Vec<PathBuf>,
}

impl Staged {
    pub fn copy(stages: &[Stage]) -> anyhow::Result<Staged> {
        let mut staged = Staged::default();
        for s in stages {
            staged.one(s)?;
        }
        Ok(staged)
    }

    fn one(&mut self, s: &Stage) -> anyhow::Result<()> {
        if !s.from.exists() {
            bail!(
                "cannot stage `{}`: it does not exist (build it first, or fix `stage:`)",
                s.from.display()
            );
        }
        if s.to.symlink_metadata().is_ok() {
            bail!(
                "cannot stage `{}` into `{}`: that path already exists and imagemk will not overwrite it; remove it if it was left by an earlier run",
                s.from.display(),
                s.to.display()
            );
        }
        if let Some(parent) = s.to.parent() {
            self.create_dirs(parent)?;
        }
        self.created.push(s.to.clone());
        copy_tree(&s.from, &s.to)
            .with_context(|| format!("staging `{}` into `{}`", s.from.display(), s.to.display()))
    }

    fn create_dirs(&mut self, dir: &Path) -> anyhow::Result<()> {
        let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
        for d in missing.into_iter().rev() {
            fs::create_dir(d).with_context(|| format!("creating `{}`", d.display()))?;
            self.created.push(d.to_path_buf());
        }
        Ok(())
    }
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    if from.is_dir() {
        fs::create_dir(to)?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        fs::copy(from, to).map(|_| ())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for path in self.created.iter().rev() {
            let _ = if path.is_dir() && !path.is_symlink() {
                fs::remove_dir_all(path)
            } else {
                fs::remove_file(path)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_and_removes_files_and_created_dirs() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::write(root.join("bin"), "x").unwrap();
        fs::create_dir_all(root.join("tree/sub")).unwrap();
        fs::write(root.join("tree/sub/f"), "y").unwrap();
        fs::create_dir(root.join("ctx")).unwrap();
        let stages = vec![
            Stage {
                from: root.join("bin"),
                to: root.join("ctx/new/dir/bin"),
            },
            Stage {
                from: root.join("tree"),
                to: root.join("ctx/tree"),
            },
        ];
        let staged = Staged::copy(&stages).unwrap();
        assert_eq!(
            fs::read_to_string(root.join("ctx/new/dir/bin")).unwrap(),
            "x"
        );
        assert_eq!(
            fs::read_to_string(root.join("ctx/tree/sub/f")).unwrap(),
            "y"
        );
        drop(staged);
        let left: Vec<_> = fs::read_dir(root.join("ctx")).unwrap().collect();
        assert!(left.is_empty(), "left behind: {left:?}");
        assert!(root.join("bin").exists() && root.join("tree/sub/f").exists());
    }

    #[test]
    fn refuses_to_overwrite_and_cleans_what_it_did() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::write(root.join("a"), "a").unwrap();
        fs::write(root.join("b"), "b").unwrap();
        fs::write(root.join("taken"), "mine").unwrap();
        let stages = vec![
            Stage {
                from: root.join("a"),
                to: root.join("a2"),
            },
            Stage {
                from: root.join("b"),
                to: root.join("taken"),
            },
        ];
        let err = Staged::copy(&stages).unwrap_err().to_string();
        assert!(
            err.contains("already exists and imagemk will not overwrite it"),
            "{err}"
        );
        assert!(!root.join("a2").exists());
        assert_eq!(fs::read_to_string(root.join("taken")).unwrap(), "mine");
    }
}
