//! `imagemk refs`: the files of `workspace.references` scanned for references to the
//! repositories of `images.lock`, rewritten to the locked digests (`--write`) or checked
//! against them (`--check`). The rewrite itself is pure ([`rewrite`]); this module finds the
//! files, reads them, and writes them back atomically.
//!
//! Files are found by glob on the file system (tracked or not, git plays no part), below the
//! workspace root only: a match that resolves (through `..` or a symlink) outside it is an
//! error before anything is written. `images.lock` itself, `.git/` and `.imagemk/` are never
//! scanned. A file that is not UTF-8 is skipped with a warning, never rewritten.

pub mod diff;
pub mod rewrite;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::lock::Lock;
pub use rewrite::{Found, Pin, Scan};

/// One scanned file.
#[derive(Debug)]
pub struct File {
    /// The real file (symlinks resolved), written in place.
    pub path: PathBuf,
    /// Its path relative to the workspace root, for messages.
    pub shown: String,
    pub text: String,
    pub scan: Scan,
}

impl File {
    pub fn rewritten(&self) -> String {
        self.scan.apply(&self.text)
    }
}

/// Every scanned file, and what could not be scanned.
#[derive(Debug, Default)]
pub struct Report {
    pub files: Vec<File>,
    pub warnings: Vec<String>,
}

impl Report {
    pub fn drifting(&self) -> impl Iterator<Item = (&File, &Found)> {
        self.files
            .iter()
            .flat_map(|f| f.scan.drifting().map(move |d| (f, d)))
    }
}

/// The pins of every locked repository.
pub fn pins(lock: &Lock) -> Vec<Pin> {
    lock.entries
        .values()
        .map(|e| Pin {
            remote: e.remote.clone(),
            digest: e.digest.to_string(),
        })
        .collect()
}

/// Scans the files `globs` match under `root` for references to `pins`.
pub fn scan(root: &Path, globs: &[String], pins: &[Pin]) -> anyhow::Result<Report> {
    let mut report = Report::default();
    for path in files(root, globs, &mut report.warnings)? {
        let shown = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let bytes = std::fs::read(&path).with_context(|| format!("reading `{shown}`"))?;
        let Ok(text) = String::from_utf8(bytes) else {
            report.warnings.push(format!(
                "`{shown}` is not UTF-8 text; skipped, left as it is"
            ));
            continue;
        };
        let scan = rewrite::scan(&text, pins);
        for s in &scan.skipped {
            report
                .warnings
                .push(format!("`{shown}:{}`: {}", s.line, s.why));
        }
        report.files.push(File {
            path,
            shown,
            text,
            scan,
        });
    }
    Ok(report)
}

/// Writes every file with drifting references, each atomically; returns how many were written.
/// A failure, or Ctrl-C, stops before the next file and names the files already written
/// (exit 130 after a signal).
pub fn write(report: &Report) -> anyhow::Result<usize> {
    let mut written: Vec<String> = Vec::new();
    let done = |written: &[String]| match written.is_empty() {
        true => "no file was written".to_string(),
        false => format!("already written: {}", written.join(", ")),
    };
    for f in report
        .files
        .iter()
        .filter(|f| f.scan.drifting().next().is_some())
    {
        if crate::signal::interrupted() {
            return Err(crate::ExitStatus {
                code: 130,
                message: Some(format!(
                    "interrupted before `{}` ({}); each file is whole, old or new: run `imagemk refs --write` again to finish",
                    f.shown,
                    done(&written)
                )),
            }
            .into());
        }
        if let Err(e) = crate::fsx::replace(&f.path, f.rewritten().as_bytes()) {
            anyhow::bail!("writing `{}`: {e} ({})", f.shown, done(&written));
        }
        written.push(f.shown.clone());
    }
    Ok(written.len())
}

/// The files `globs` match under `root`: regular files, real paths, sorted, each once.
fn files(
    root: &Path,
    globs: &[String],
    warnings: &mut Vec<String>,
) -> anyhow::Result<Vec<PathBuf>> {
    let real_root = root
        .canonicalize()
        .with_context(|| format!("reading `{}`", root.display()))?;
    let options = glob::MatchOptions {
        require_literal_leading_dot: true,
        ..Default::default()
    };
    let mut out = BTreeSet::new();
    for g in globs {
        let pattern = root.join(g);
        let matches = glob::glob_with(&pattern.to_string_lossy(), options)
            .with_context(|| format!("reference glob `{g}`"))?;
        let before = out.len();
        for m in matches {
            let path = m.with_context(|| format!("reference glob `{g}`"))?;
            if let Some(real) = inside(&real_root, &path, g)? {
                out.insert(real);
            }
        }
        if out.len() == before {
            warnings.push(format!("reference glob `{g}` matches no file"));
        }
    }
    Ok(out.into_iter().collect())
}

/// The real path of `path` when it is a regular file to scan; an error when it resolves
/// outside the workspace.
fn inside(real_root: &Path, path: &Path, glob: &str) -> anyhow::Result<Option<PathBuf>> {
    let real = path
        .canonicalize()
        .with_context(|| format!("reading `{}`", path.display()))?;
    let Ok(rel) = real.strip_prefix(real_root) else {
        anyhow::bail!(
            "`{}` (matched by reference glob `{glob}`) is `{}`, outside the workspace `{}`; imagemk rewrites only files inside it",
            path.display(),
            real.display(),
            real_root.display()
        );
    };
    let skipped = rel == Path::new(crate::lock::FILE)
        || rel
            .components()
            .next()
            .is_some_and(|c| c.as_os_str() == ".git" || c.as_os_str() == ".imagemk");
    Ok((real.is_file() && !skipped).then_some(real))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    fn pins() -> Vec<Pin> {
        vec![Pin {
            remote: "reg.io/k/a".into(),
            digest: A.into(),
        }]
    }

    fn globs(g: &[&str]) -> Vec<String> {
        g.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn finds_rewrites_and_skips() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("docker")).unwrap();
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::write(root.join("docker/a.dockerfile"), "FROM reg.io/k/a:1\n").unwrap();
        fs::write(
            root.join("docker/bin.dockerfile"),
            b"FROM reg.io/k/a \xff\n",
        )
        .unwrap();
        fs::write(root.join(".git/x.dockerfile"), "FROM reg.io/k/a\n").unwrap();
        fs::write(root.join("images.lock"), "reg.io/k/a: {}\n").unwrap();
        let report = scan(
            root,
            &globs(&["**/*.dockerfile", "*.lock", "none/*"]),
            &pins(),
        )
        .unwrap();
        let shown: Vec<&str> = report.files.iter().map(|f| f.shown.as_str()).collect();
        assert_eq!(shown, ["docker/a.dockerfile"]);
        assert_eq!(
            report.warnings,
            [
                "reference glob `*.lock` matches no file",
                "reference glob `none/*` matches no file",
                "`docker/bin.dockerfile` is not UTF-8 text; skipped, left as it is",
            ]
        );
        assert_eq!(write(&report).unwrap(), 1);
        assert_eq!(
            fs::read_to_string(root.join("docker/a.dockerfile")).unwrap(),
            format!("FROM reg.io/k/a:1@{A}\n")
        );
        assert_eq!(
            fs::read(root.join("docker/bin.dockerfile")).unwrap(),
            b"FROM reg.io/k/a \xff\n"
        );
        assert_eq!(
            fs::read_to_string(root.join(".git/x.dockerfile")).unwrap(),
            "FROM reg.io/k/a\n"
        );
    }

    #[test]
    fn a_symlink_out_of_the_workspace_is_an_error_and_one_inside_is_followed() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("ci.yml"), "image: reg.io/k/a\n").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::os::unix::fs::symlink(outside.path().join("ci.yml"), root.join("ci.yml")).unwrap();
        let err = scan(root, &globs(&["*.yml"]), &pins())
            .unwrap_err()
            .to_string();
        assert!(err.contains("outside the workspace"), "{err}");
        fs::remove_file(root.join("ci.yml")).unwrap();
        fs::write(root.join("real.yml"), "image: reg.io/k/a\n").unwrap();
        std::os::unix::fs::symlink(root.join("real.yml"), root.join("link.yml")).unwrap();
        let report = scan(root, &globs(&["link.yml"]), &pins()).unwrap();
        write(&report).unwrap();
        assert!(fs::symlink_metadata(root.join("link.yml"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(
            fs::read_to_string(root.join("real.yml")).unwrap(),
            format!("image: reg.io/k/a@{A}\n")
        );
    }
}
