//! `imagemk extract` as data: one `docker create` (never started), one `docker cp` per path
//! into a temporary directory in the directory that receives it, the swaps into place, and
//! `docker rm`. Copying beside the destination first means a failed copy leaves nothing
//! half-written, and the swap (old aside, new in, old deleted last) can be undone.
//!
//! Destinations follow `docker cp`: an existing directory receives the copy inside it under
//! the source's name (`SRC/.`: the source's entries), an existing file is replaced by a file,
//! a path that does not exist becomes the copy, and `DEST/` must be a directory. Unlike
//! `docker cp`, an entry that already exists is replaced whole rather than merged into.

use std::path::{Path, PathBuf};

use anyhow::bail;

use super::dest::{means_contents, names_a_directory, resolve, Protected};
pub use crate::engine::container::STAGED;
use crate::engine::container::{copy_out, create, remove};
use crate::exec::Cmd;

/// How the copy is put in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Install {
    /// The copy replaces `target` whole. `strict` (a command-line DEST, as docker cp): an
    /// existing target must be of the copy's kind, and `dir_only`: the copy must be a directory.
    Replace {
        target: PathBuf,
        strict: bool,
        dir_only: bool,
    },
    /// `SRC/.` into an existing directory: each entry of the copy replaces its namesake there.
    Contents { dir: PathBuf },
}

/// One path to copy out of the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// Absolute path inside the image.
    pub from: String,
    /// The destination as the user wrote it, for messages.
    pub shown: String,
    /// The directory that receives the copy; it holds `tmp`.
    pub parent: PathBuf,
    /// The temporary directory (`parent/.imagemk-extract-NAME-I`), removed at the end.
    pub tmp: PathBuf,
    pub install: Install,
    pub cmd: Cmd,
}

impl Copy {
    /// Where `docker cp` writes: `tmp/copy`.
    pub fn staged(&self) -> PathBuf {
        self.tmp.join(STAGED)
    }

    /// What the copy replaces (or, for `SRC/.`, the directory it goes into), for messages.
    pub fn destination(&self) -> &Path {
        install_dest(&self.install)
    }
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub create: Cmd,
    pub copies: Vec<Copy>,
    pub remove: Cmd,
}

impl Plan {
    /// The lines `--dry-run` prints.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![self.create.to_string()];
        for c in &self.copies {
            out.push(c.cmd.to_string());
            out.push(match &c.install {
                Install::Replace { target, .. } => {
                    format!("# then the copy replaces {}", target.display())
                }
                Install::Contents { dir } => format!(
                    "# then each entry of the copy replaces its namesake in {}",
                    dir.display()
                ),
            });
        }
        out.push(self.remove.to_string());
        out
    }
}

/// A path to copy and where to: an `artifacts:` entry (replaced whole, created with its
/// parents, inside the workspace) or a command-line `PATH DEST` (docker cp's rules).
#[derive(Debug, Clone)]
pub struct Request {
    pub from: String,
    /// Absolute (joined to the directory it is relative to), as written otherwise.
    pub to: PathBuf,
    pub shown: String,
    pub artifact: bool,
}

/// Plans copying each request out of `image`; refuses destinations `protected` covers.
pub fn plan(
    name: &str,
    image: &str,
    requests: &[Request],
    protected: &Protected,
) -> anyhow::Result<Plan> {
    let mut copies = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        let base = check_source(&r.from)?;
        let resolved = resolve(&r.to);
        protected.check(&r.shown, &resolved)?;
        let install = if r.artifact {
            Install::Replace {
                target: resolved,
                strict: false,
                dir_only: false,
            }
        } else {
            install_for(r, resolved, base)?
        };
        let parent = match &install {
            Install::Replace { target, .. } => {
                protected.check(&r.shown, target)?;
                target.parent().unwrap_or(Path::new("/")).to_path_buf()
            }
            Install::Contents { dir } => dir.clone(),
        };
        if copies
            .iter()
            .any(|c: &Copy| c.destination() == install_dest(&install))
        {
            bail!(
                "two paths would be extracted to `{}`; give each its own destination",
                install_dest(&install).display()
            );
        }
        let tmp_name = format!(".imagemk-extract-{name}-{i}");
        copies.push(Copy {
            from: r.from.clone(),
            shown: r.shown.clone(),
            tmp: parent.join(&tmp_name),
            cmd: copy_out(name, &r.from, &parent, &tmp_name),
            parent,
            install,
        });
    }
    Ok(Plan {
        create: create(name, image),
        copies,
        remove: remove(name),
    })
}

fn install_dest(install: &Install) -> &Path {
    match install {
        Install::Replace { target, .. } => target,
        Install::Contents { dir } => dir,
    }
}

/// The source's base name; refuses relative paths and paths that name nothing.
fn check_source(from: &str) -> anyhow::Result<&str> {
    crate::config::typed::image_source(from).map_err(anyhow::Error::msg)
}

/// docker cp's rules for a command-line DEST that resolves to `resolved`.
fn install_for(r: &Request, resolved: PathBuf, base: &str) -> anyhow::Result<Install> {
    let dir_only = names_a_directory(&r.to);
    match std::fs::metadata(&resolved) {
        Ok(m) if m.is_dir() && means_contents(&r.from) => Ok(Install::Contents { dir: resolved }),
        Ok(m) if m.is_dir() => Ok(Install::Replace {
            target: resolved.join(base),
            strict: true,
            dir_only: false,
        }),
        Ok(_) if dir_only => bail!(
            "`{}` is not a directory, but the trailing `/` says it should be one; drop the `/` to replace the file",
            r.shown
        ),
        Ok(_) => Ok(Install::Replace {
            target: resolved,
            strict: true,
            dir_only: false,
        }),
        Err(_) => {
            let parent = resolved.parent().unwrap_or(Path::new("/"));
            if !parent.is_dir() {
                bail!(
                    "the directory `{}` that would receive `{}` does not exist; create it first",
                    parent.display(),
                    r.shown
                );
            }
            Ok(Install::Replace {
                target: resolved,
                strict: true,
                dir_only,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(from: &str, to: &Path, artifact: bool) -> Request {
        Request {
            from: from.into(),
            to: to.to_path_buf(),
            shown: to.to_string_lossy().into_owned(),
            artifact,
        }
    }

    #[test]
    fn renders_create_copy_swap_remove() {
        let p = plan(
            "x1",
            "ns/buildenv:latest",
            &[req("/opt/kontain/bin", Path::new("/w/p/blank/bin"), true)],
            &Protected::new(Path::new("/w")),
        )
        .unwrap();
        assert_eq!(
            p.lines(),
            [
                "docker create --pull never --name x1 ns/buildenv:latest true",
                "cd /w/p/blank && docker cp x1:/opt/kontain/bin ./.imagemk-extract-x1-0/copy",
                "# then the copy replaces /w/p/blank/bin",
                "docker rm --force x1",
            ]
        );
    }

    #[test]
    fn follows_docker_cp_for_existing_and_missing_destinations() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        std::fs::create_dir(root.join("out")).unwrap();
        std::fs::write(root.join("file"), "").unwrap();
        let ws = Protected::new(&root.join("ws"));
        let one = |from: &str, to: &str| {
            plan("x", "i", &[req(from, &root.join(to), false)], &ws)
                .map(|p| p.copies[0].install.clone())
                .map_err(|e| e.to_string().replace(&*root.to_string_lossy(), "R"))
        };
        let replace = |t: &str, dir_only| Install::Replace {
            target: root.join(t),
            strict: true,
            dir_only,
        };
        assert_eq!(one("/a/f", "out"), Ok(replace("out/f", false)));
        assert_eq!(one("/a/f", "out/"), Ok(replace("out/f", false)));
        assert_eq!(one("/a/f", "out/."), Ok(replace("out/f", false)));
        assert_eq!(one("/a/d/", "out"), Ok(replace("out/d", false)));
        let contents = Install::Contents {
            dir: root.join("out"),
        };
        assert_eq!(one("/a/d/.", "out"), Ok(contents));
        assert_eq!(one("/a/d/.", "new"), Ok(replace("new", false)));
        assert_eq!(one("/a/f", "new/"), Ok(replace("new", true)));
        assert_eq!(one("/a/f", "file"), Ok(replace("file", false)));
        assert_eq!(
            one("/a/f", "file/"),
            Err("`R/file/` is not a directory, but the trailing `/` says it should be one; drop the `/` to replace the file".into())
        );
        assert_eq!(
            one("/a/f", "no/new"),
            Err("the directory `R/no` that would receive `R/no/new` does not exist; create it first".into())
        );
    }

    #[test]
    fn refuses_relative_and_rootless_paths() {
        let err = |from: &str| {
            plan(
                "x",
                "i",
                &[req(from, Path::new("/w/d"), true)],
                &Protected::default(),
            )
            .unwrap_err()
            .to_string()
        };
        assert_eq!(
            err("opt/x"),
            "`opt/x` is not an absolute path in the image; write it as `/opt/x`"
        );
        assert_eq!(
            err("/"),
            "`/` names no file or directory in the image; give the path of one"
        );
    }

    #[test]
    fn two_paths_to_one_destination_are_refused() {
        let to = Path::new("/w/p/out");
        let err = plan(
            "x",
            "i",
            &[req("/a", to, true), req("/b", to, true)],
            &Protected::default(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "two paths would be extracted to `/w/p/out`; give each its own destination"
        );
    }
}
