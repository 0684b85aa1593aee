//! The checks on an image's `host:` section (`imagemk local-buildenv`): package names are a
//! conservative charset (they become argv words of `apt-get`, `dnf` or `apk`, never shell
//! text, and never start with `-`), and host artifact paths are absolute and never `/` or a
//! system directory itself. Serde helpers, so errors carry the value's `file:line:col`.

use std::path::{Component, Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde::de::{Deserialize, Deserializer};

use super::check::checked;

static PACKAGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9._+:-]*$").unwrap());

/// Directories a host artifact must never replace whole (a path below one is fine).
pub const SYSTEM_DIRS: &[&str] = &[
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/media",
    "/mnt",
    "/opt",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/srv",
    "/sys",
    "/tmp",
    "/usr",
    "/usr/bin",
    "/usr/include",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/libexec",
    "/usr/local",
    "/usr/local/bin",
    "/usr/local/include",
    "/usr/local/lib",
    "/usr/local/sbin",
    "/usr/local/share",
    "/usr/sbin",
    "/usr/share",
    "/var",
    "/var/lib",
    "/var/tmp",
];

fn shown(text: &str) -> String {
    crate::reference::shorten(text, 60)
}

/// A package name for `apt-get`, `dnf` or `apk`: letters, digits, `.`, `_`, `+`, `:`, `-`,
/// starting with a letter or digit, at most 128 characters.
pub fn package(text: &str) -> Result<(), String> {
    if PACKAGE.is_match(text) && text.len() <= 128 {
        return Ok(());
    }
    Err(format!(
        "package `{}` in `host:` is not a package name: use letters, digits, `.`, `_`, `+`, `:` and `-`, starting with a letter or digit (one package per entry)",
        shown(text)
    ))
}

/// `path` with `.` and trailing `/` dropped; None when it has `..` or is not absolute.
fn normal(path: &str) -> Option<PathBuf> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return None;
    }
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// A host destination: absolute, no `..`, not `/` and not a directory of [`SYSTEM_DIRS`].
pub fn host_to(text: &str) -> Result<(), String> {
    let Some(p) = normal(text) else {
        return Err(format!(
            "host artifact destination `{}` must be an absolute path on the host without `..`, e.g. `/opt/kontain/lib/libstdc++.so.6`",
            shown(text)
        ));
    };
    if p == Path::new("/") || SYSTEM_DIRS.iter().any(|d| p == Path::new(d)) {
        return Err(format!(
            "host artifact destination `{}` is a system directory, which the copy would replace whole; name the file or directory below it, e.g. `{}/NAME`",
            shown(text),
            p.display().to_string().trim_end_matches('/')
        ));
    }
    Ok(())
}

/// A path in the image: absolute and naming something (not `/`).
pub fn image_from(text: &str) -> Result<(), String> {
    match normal(text) {
        Some(p) if p != Path::new("/") => Ok(()),
        _ => Err(format!(
            "host artifact source `{}` must be an absolute path in the image naming a file or directory, e.g. `/opt/kontain/lib/libstdc++.so.6`",
            shown(text)
        )),
    }
}

struct Package(String);

impl<'de> Deserialize<'de> for Package {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, package).map(Package)
    }
}

pub fn packages<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Vec::<Package>::deserialize(d)?;
    Ok(v.into_iter().map(|p| p.0).collect())
}

pub fn host_path<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, host_to)
}

pub fn image_path<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, image_from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names() {
        for ok in [
            "make",
            "busybox-static",
            "libstdc++",
            "gcc-c++",
            "libc6:i386",
            "g++-12",
            "python3.11",
            "Judy",
        ] {
            assert_eq!(package(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "-y",
            "--allow-unauthenticated",
            "a b",
            "a;b",
            "$(x)",
            "a/b",
            "*",
            "é",
        ] {
            assert!(package(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn host_destinations() {
        for ok in [
            "/opt/kontain/lib/libstdc++.so.6",
            "/usr/lib/x",
            "/opt/kontain/",
            "/etc/x.conf",
        ] {
            assert_eq!(host_to(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "rel",
            "./x",
            "/",
            "/usr",
            "/usr/",
            "/./etc",
            "/etc/.",
            "/opt",
            "/usr/local/lib/",
            "/opt/../etc/x",
            "//",
        ] {
            assert!(host_to(bad).is_err(), "{bad}");
        }
        assert_eq!(
            host_to("/usr/").unwrap_err(),
            "host artifact destination `/usr/` is a system directory, which the copy would replace whole; name the file or directory below it, e.g. `/usr/NAME`"
        );
        assert!(image_from("/").is_err() && image_from("x").is_err());
        assert!(image_from("/opt/kontain/TOOLCHAIN").is_ok());
    }
}
