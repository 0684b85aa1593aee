//! File helpers shared by everything imagemk writes outside the build: whole-file writes that
//! are atomic (a reader sees the old or the new contents, never half), advisory locks that
//! serialize read-modify-write cycles between concurrent runs, and paths resolved by name.

use std::fs::{self, File};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// `path` with `.` left out and `..` applied by name (the file system is not asked, so a
/// symlink is not followed).
pub fn lexical(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// Writes `bytes` to `path` through a file of this process renamed into place; the partial
/// file is removed when the write fails.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    rename_into_place(path, bytes, None)
}

/// Replaces the contents of the existing file `path` atomically, keeping its permissions.
pub fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mode = fs::metadata(path)?.permissions();
    rename_into_place(path, bytes, Some(mode))
}

/// `bytes` written to a sibling part file (given `mode` when set) renamed over `path`; the
/// part file is removed when any step fails.
fn rename_into_place(path: &Path, bytes: &[u8], mode: Option<fs::Permissions>) -> io::Result<()> {
    let mut part = path.as_os_str().to_owned();
    part.push(format!(".{}.part", std::process::id()));
    let written = fs::write(&part, bytes)
        .and_then(|()| mode.map_or(Ok(()), |m| fs::set_permissions(&part, m)))
        .and_then(|()| fs::rename(&part, path));
    if written.is_err() {
        let _ = fs::remove_file(&part);
    }
    written
}

/// An exclusive flock(2) on a file, released when dropped.
pub struct Flock {
    _file: File,
}

impl Flock {
    /// Waits for the exclusive lock on `path` (created, with its directory, when missing).
    pub fn acquire(path: &Path) -> anyhow::Result<Flock> {
        use anyhow::Context;
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
        }
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .with_context(|| format!("creating `{}`", path.display()))?;
        // SAFETY: flock(2) on a descriptor we own; released when the file is closed. A signal
        // arriving while it waits (EINTR) is not a failure: wait again.
        while unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                anyhow::bail!("cannot lock `{}`: {err}", path.display());
            }
        }
        Ok(Flock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_part_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub/f.txt");
        write_atomic(&file, b"one").unwrap();
        write_atomic(&file, b"two").unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(file.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn replace_keeps_the_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("run.sh");
        fs::write(&file, b"old").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o751)).unwrap();
        replace(&file, b"new").unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"new");
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o751
        );
        assert!(replace(&dir.path().join("absent"), b"x").is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_write_removes_its_part_file() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a directory: the rename fails after the part file was written.
        fs::create_dir(dir.path().join("d")).unwrap();
        fs::write(dir.path().join("d/x"), b"").unwrap();
        assert!(write_atomic(&dir.path().join("d"), b"x").is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
