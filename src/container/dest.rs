//! Where an extraction may write. A destination is resolved first (`.`, `..`, symlinks and a
//! trailing `/`), then refused when it is the workspace root, a component directory, a
//! component's `images.yaml`, or above one of them. One check, [`Protected::check`], serves
//! `extract PATH DEST` and the `artifacts:` path alike.

use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use anyhow::bail;

/// `path` (absolute) with `.`, `..` and symlinks resolved as far as it exists; the part that
/// does not exist yet is resolved by name.
pub fn resolve(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Prefix(_) | Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => {
                out.push(n);
                if let Ok(real) = std::fs::canonicalize(&out) {
                    out = real;
                }
            }
        }
    }
    out
}

/// Whether `path` ends in `/` or `/.`: docker cp then requires a directory there.
pub fn names_a_directory(path: &Path) -> bool {
    let bytes = path.as_os_str().as_bytes();
    bytes.ends_with(b"/") || bytes.ends_with(b"/.") || bytes == b"."
}

/// Whether an image path ends in `/.`: docker cp then copies the directory's contents.
pub fn means_contents(from: &str) -> bool {
    from.ends_with("/.")
}

/// What extraction must never replace: the workspace root, each component directory and
/// each component's `images.yaml`, canonical, with a description for the error.
#[derive(Debug, Clone, Default)]
pub struct Protected {
    dirs: Vec<(PathBuf, String)>,
    files: Vec<(PathBuf, String)>,
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| resolve(p))
}

impl Protected {
    pub fn new(root: &Path) -> Protected {
        Protected {
            dirs: vec![(canonical(root), "the workspace root".to_string())],
            files: Vec::new(),
        }
    }

    pub fn component(mut self, name: &str, dir: &Path, file: &Path) -> Protected {
        self.dirs.push((
            canonical(dir),
            format!("the directory of component `{name}`"),
        ));
        self.files.push((
            canonical(file),
            format!("the images.yaml of component `{name}`"),
        ));
        self
    }

    /// Refuses `resolved` (from [`resolve`]) when it is a protected path or above one;
    /// `shown` is how the user wrote it.
    pub fn check(&self, shown: &str, resolved: &Path) -> anyhow::Result<()> {
        let what = self
            .dirs
            .iter()
            .find_map(|(dir, what)| match dir == resolved {
                true => Some(what.clone()),
                false => dir.starts_with(resolved).then(|| format!("above {what}")),
            })
            .or_else(|| {
                self.files
                    .iter()
                    .find(|(file, _)| file == resolved)
                    .map(|(_, what)| what.clone())
            });
        let Some(what) = what else { return Ok(()) };
        let resolved_note = match Path::new(shown) == resolved {
            true => String::new(),
            false => format!(" (`{}`)", resolved.display()),
        };
        bail!(
            "`{shown}`{resolved_note} is {what}; imagemk never extracts onto the workspace, a component directory or above them\nhint: give a path inside one, e.g. `out/`"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_dots_symlinks_and_trailing_slashes() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        std::fs::create_dir_all(root.join("ws/comp")).unwrap();
        std::os::unix::fs::symlink(root.join("ws"), root.join("link")).unwrap();
        let r = |p: &str| resolve(&root.join(p));
        assert_eq!(r("ws/comp/."), root.join("ws/comp"));
        assert_eq!(r("ws/comp/"), root.join("ws/comp"));
        assert_eq!(r("ws/comp/.."), root.join("ws"));
        assert_eq!(r("link/comp/"), root.join("ws/comp"));
        assert_eq!(r("link/new/../comp"), root.join("ws/comp"));
        assert_eq!(r("link/new/x"), root.join("ws/new/x"));
        assert_eq!(resolve(Path::new("/..")), PathBuf::from("/"));
    }

    #[test]
    fn refuses_the_root_components_their_files_and_above() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap().join("ws");
        std::fs::create_dir_all(root.join("payloads/node/out")).unwrap();
        let p = Protected::new(&root).component(
            "node",
            &root.join("payloads/node"),
            &root.join("payloads/node/images.yaml"),
        );
        let check = |rel: &str| {
            let path = root.join(rel);
            p.check(&path.to_string_lossy(), &resolve(&path))
                .map_err(|e| e.to_string())
        };
        for ok in ["payloads/node/out", "payloads/node/out/x", "payloads/other"] {
            assert!(check(ok).is_ok(), "{ok}");
        }
        let refused = |rel: &str, what: &str| {
            let err = check(rel).unwrap_err();
            assert!(
                err.contains(&format!(" is {what}; imagemk never")),
                "{rel}: {err}"
            );
        };
        refused("", "the workspace root");
        refused("payloads/node/out/..", "the directory of component `node`");
        refused("payloads/node/./", "the directory of component `node`");
        refused("payloads", "above the directory of component `node`");
        refused("..", "above the workspace root");
        refused(
            "payloads/node/images.yaml",
            "the images.yaml of component `node`",
        );
        let err = p.check("/", Path::new("/")).unwrap_err().to_string();
        assert_eq!(err, "`/` is above the workspace root; imagemk never extracts onto the workspace, a component directory or above them\nhint: give a path inside one, e.g. `out/`");
    }

    #[test]
    fn trailing_slash_and_contents() {
        assert!(names_a_directory(Path::new("out/")));
        assert!(names_a_directory(Path::new("out/.")));
        assert!(names_a_directory(Path::new(".")));
        assert!(!names_a_directory(Path::new("out")));
        assert!(means_contents("/opt/art/."));
        assert!(!means_contents("/opt/art/"));
    }
}
