//! Package managers, as data: which one a host has (from its `os-release` ID/ID_LIKE and the
//! programs on PATH, both passed in so that detection is pure), the package list an image's
//! `host:` gives it, and the exact install commands (with `sudo` when not root). Running them
//! is the command's business (`commands::local_buildenv`), through `exec`.

use std::path::Path;

use crate::config::Host;
use crate::exec::Cmd;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    Apt,
    Dnf,
    Yum,
    Apk,
}

/// Every manager, in the order a host without a known `os-release` is probed.
pub const ALL: [Manager; 4] = [Manager::Apt, Manager::Dnf, Manager::Yum, Manager::Apk];

impl Manager {
    /// The program that must be on PATH.
    pub fn program(self) -> &'static str {
        match self {
            Manager::Apt => "apt-get",
            Manager::Dnf => "dnf",
            Manager::Yum => "yum",
            Manager::Apk => "apk",
        }
    }

    /// The `host:` key whose list this manager installs (`yum` takes dnf's names).
    pub fn key(self) -> &'static str {
        match self {
            Manager::Apt => "apt",
            Manager::Dnf | Manager::Yum => "dnf",
            Manager::Apk => "apk",
        }
    }

    pub fn packages(self, host: &Host) -> &[String] {
        match self {
            Manager::Apt => &host.apt,
            Manager::Dnf | Manager::Yum => &host.dnf,
            Manager::Apk => &host.apk,
        }
    }

    /// The commands that install `packages`, each with `sudo` in front when `sudo`.
    pub fn commands(self, packages: &[String], sudo: bool) -> Vec<Cmd> {
        let cmd = |args: &[&str]| {
            let base = match sudo {
                true => Cmd::new("sudo").arg(self.program()),
                false => Cmd::new(self.program()),
            };
            base.args(args.iter().copied())
        };
        let install = match self {
            Manager::Apt => vec![cmd(&["update"]), cmd(&["install", "-y"])],
            Manager::Dnf | Manager::Yum => vec![cmd(&["install", "-y"])],
            Manager::Apk => vec![cmd(&["add"])],
        };
        let last = install.len() - 1;
        install
            .into_iter()
            .enumerate()
            .map(|(i, c)| match i == last {
                true => c.args(packages.iter().map(String::as_str)),
                false => c,
            })
            .collect()
    }
}

/// The managers a distribution uses, best first, from `os-release`'s ID and ID_LIKE.
fn family(os_release: &str) -> Vec<Manager> {
    let mut ids = Vec::new();
    for line in os_release.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() == "ID" || key.trim() == "ID_LIKE" {
            let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
            ids.extend(value.split_whitespace().map(str::to_lowercase));
        }
    }
    let mut out = Vec::new();
    for id in ids {
        let found: &[Manager] = match id.as_str() {
            "debian" | "ubuntu" | "linuxmint" | "raspbian" | "pop" => &[Manager::Apt],
            "fedora" | "rhel" | "centos" | "rocky" | "almalinux" | "amzn" | "ol" => {
                &[Manager::Dnf, Manager::Yum]
            }
            "alpine" => &[Manager::Apk],
            _ => &[],
        };
        for m in found {
            if !out.contains(m) {
                out.push(*m);
            }
        }
    }
    out
}

/// The text of `ROOT/etc/os-release`, else `ROOT/usr/lib/os-release` (empty when neither).
pub fn read_os_release(root: &Path) -> String {
    ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|p| std::fs::read_to_string(root.join(p)).ok())
        .unwrap_or_default()
}

/// The host's package manager: the first of its distribution's managers whose program is
/// present; a host whose `os-release` names no known family gets the first present one.
pub fn detect(os_release: &str, present: impl Fn(&str) -> bool) -> Option<Manager> {
    let family = family(os_release);
    let candidates = if family.is_empty() {
        ALL.to_vec()
    } else {
        family
    };
    candidates.into_iter().find(|m| present(m.program()))
}

/// The text an unsupported host gets: each declared list, as `KEY: PKG PKG`, one a line.
pub fn by_hand(host: &Host) -> String {
    [("apt", &host.apt), ("dnf", &host.dnf), ("apk", &host.apk)]
        .iter()
        .filter(|(_, l)| !l.is_empty())
        .map(|(k, l)| format!("  {k}: {}", l.join(" ")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(dir: &Path, text: &str) -> String {
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(dir.join("etc/os-release"), text).unwrap();
        read_os_release(dir)
    }

    #[test]
    fn detects_from_os_release_and_programs() {
        let t = tempfile::tempdir().unwrap();
        let all = |_: &str| true;
        let only = |p: &'static str| move |q: &str| q == p;
        let debian = os(t.path(), "PRETTY_NAME=\"Debian GNU/Linux 12\"\nID=debian\n");
        assert_eq!(detect(&debian, all), Some(Manager::Apt));
        assert_eq!(detect(&debian, only("dnf")), None);
        let ubuntu = os(t.path(), "ID=ubuntu\nID_LIKE=debian\n");
        assert_eq!(detect(&ubuntu, all), Some(Manager::Apt));
        let fedora = os(t.path(), "ID=fedora\nVERSION_ID=39\n");
        assert_eq!(detect(&fedora, all), Some(Manager::Dnf));
        let centos7 = os(t.path(), "ID=\"centos\"\nID_LIKE=\"rhel fedora\"\n");
        assert_eq!(detect(&centos7, only("yum")), Some(Manager::Yum));
        let rocky = os(t.path(), "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n");
        assert_eq!(detect(&rocky, all), Some(Manager::Dnf));
        let alpine = os(t.path(), "ID=alpine\n");
        assert_eq!(detect(&alpine, all), Some(Manager::Apk));
        assert_eq!(detect(&alpine, only("apt-get")), None);
        let arch = os(t.path(), "ID=arch\n");
        assert_eq!(detect(&arch, |_: &str| false), None);
        assert_eq!(detect(&arch, only("dnf")), Some(Manager::Dnf));
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(read_os_release(empty.path()), "");
        assert_eq!(detect("", only("apk")), Some(Manager::Apk));
    }

    #[test]
    fn renders_install_commands() {
        let pkgs = vec!["make".to_string(), "libstdc++".to_string()];
        let lines = |m: Manager, sudo| {
            m.commands(&pkgs, sudo)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            lines(Manager::Apt, false),
            ["apt-get update", "apt-get install -y make libstdc++"]
        );
        assert_eq!(
            lines(Manager::Apt, true),
            [
                "sudo apt-get update",
                "sudo apt-get install -y make libstdc++"
            ]
        );
        assert_eq!(
            lines(Manager::Dnf, true),
            ["sudo dnf install -y make libstdc++"]
        );
        assert_eq!(
            lines(Manager::Yum, false),
            ["yum install -y make libstdc++"]
        );
        assert_eq!(lines(Manager::Apk, false), ["apk add make libstdc++"]);
    }

    #[test]
    fn lists_by_hand_and_picks_lists() {
        let host = Host {
            apt: vec!["make".into()],
            dnf: vec!["make".into(), "gcc-c++".into()],
            ..Host::default()
        };
        assert_eq!(by_hand(&host), "  apt: make\n  dnf: make gcc-c++");
        assert_eq!(Manager::Yum.packages(&host), ["make", "gcc-c++"]);
        assert!(Manager::Apk.packages(&host).is_empty());
    }
}
