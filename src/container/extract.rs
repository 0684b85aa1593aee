//! `imagemk extract` as data: one `docker create` (never started), one `docker cp` per path
//! into a temporary directory beside its destination, the moves into place, and `docker rm`.
//! Copying beside the destination first means a failed copy leaves nothing half-written.

use std::path::{Path, PathBuf};

use anyhow::bail;

use super::remove;
use crate::docker::DOCKER;
use crate::exec::Cmd;

/// `docker create` of a container that is only copied from. `true` is a placeholder command
/// for images that define none; the container is never started.
pub fn create(name: &str, image: &str) -> Cmd {
    Cmd::new(DOCKER).args(["create", "--pull", "never", "--name", name, image, "true"])
}

pub fn copy_out(name: &str, path: &str, dir: &Path) -> Cmd {
    Cmd::new(DOCKER)
        .arg("cp")
        .arg(format!("{name}:{path}"))
        .arg(dir.to_string_lossy())
}

/// One path to copy out of the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// Absolute path inside the image.
    pub from: String,
    /// Destination on the host (absolute).
    pub to: PathBuf,
    /// The temporary directory beside `to` that `docker cp` writes into.
    pub tmp: PathBuf,
    /// Where the copy appears inside `tmp`.
    pub copied: PathBuf,
    pub cmd: Cmd,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
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
            out.push(format!(
                "# move {} -> {}",
                c.copied.display(),
                c.to.display()
            ));
        }
        out.push(self.remove.to_string());
        out
    }
}

/// Plans copying each `(path in image, absolute destination)` out of `image`.
pub fn plan(name: &str, image: &str, paths: &[(String, PathBuf)]) -> anyhow::Result<Plan> {
    let mut copies = Vec::new();
    for (i, (from, to)) in paths.iter().enumerate() {
        if !from.starts_with('/') {
            bail!("`{from}` is not an absolute path in the image; write it as `/{from}`");
        }
        let Some(base) = Path::new(from).file_name() else {
            bail!("`{from}` names no file or directory in the image; give the path of one");
        };
        let (Some(parent), Some(_)) = (to.parent(), to.file_name()) else {
            bail!(
                "`{}` cannot be a destination; give a file or directory path",
                to.display()
            );
        };
        let tmp = parent.join(format!(".imagemk-extract-{name}-{i}"));
        copies.push(Copy {
            from: from.clone(),
            to: to.clone(),
            copied: tmp.join(base),
            cmd: copy_out(name, from, &tmp),
            tmp,
        });
    }
    Ok(Plan {
        name: name.to_string(),
        create: create(name, image),
        copies,
        remove: remove(name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_create_copy_move_remove() {
        let p = plan(
            "x1",
            "ns/buildenv:latest",
            &[("/opt/kontain/bin".into(), PathBuf::from("/w/p/blank/bin"))],
        )
        .unwrap();
        assert_eq!(
            p.lines(),
            [
                "docker create --pull never --name x1 ns/buildenv:latest true",
                "docker cp x1:/opt/kontain/bin /w/p/blank/.imagemk-extract-x1-0",
                "# move /w/p/blank/.imagemk-extract-x1-0/bin -> /w/p/blank/bin",
                "docker rm --force x1",
            ]
        );
    }

    #[test]
    fn rejects_relative_and_rootless_paths() {
        let err = |from: &str| {
            plan("x", "i", &[(from.into(), PathBuf::from("/w/d"))])
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
}
