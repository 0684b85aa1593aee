//! The process environment, read once at start-up into a map; nothing else reads it, so tests
//! pass their own map and never mutate the real environment. Variables are read as `OsString`:
//! one that is not UTF-8 is an error only when imagemk reads it ([`READ`]).

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;

use anyhow::bail;

/// Every variable imagemk reads (through [`Env::get`]); `tests/tidy.rs` checks the list
/// against the source.
pub const READ: &[&str] = &[
    "CHANNEL",
    "CI",
    "CLOUD",
    "CONTAINER_ENGINE",
    "DOCKER_BUILDKIT",
    "DOCKER_CONFIG",
    "DTYPE",
    "HOME",
    "IMAGEMK_CLOUD_API",
    "IMAGEMK_ENGINE",
    "IMAGEMK_REUSE_TIMEOUT",
    "IMAGEMK_TEST_API_URL",
    "IMAGE_NAMESPACE",
    "IMAGE_TAG",
    "JOBS",
    "LOGNAME",
    "PLATFORM",
    "REGISTRY",
    "REGISTRY_AUTH_FILE",
    "REUSE",
    "USER",
    "VARIANT",
    "XDG_CONFIG_HOME",
    "XDG_RUNTIME_DIR",
];

#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
    /// Names (shown lossily) of variables whose name or value is not UTF-8.
    not_utf8: BTreeSet<String>,
}

impl Env {
    pub fn capture() -> Env {
        Env::from_os(std::env::vars_os())
    }

    pub fn from_os(pairs: impl IntoIterator<Item = (OsString, OsString)>) -> Env {
        let mut env = Env::default();
        for (k, v) in pairs {
            match (k.into_string(), v.into_string()) {
                (Ok(k), Ok(v)) => {
                    env.vars.insert(k, v);
                }
                (Ok(k), Err(_)) => {
                    env.not_utf8.insert(k);
                }
                (Err(k), _) => {
                    env.not_utf8.insert(k.to_string_lossy().into_owned());
                }
            }
        }
        env
    }

    pub fn from_pairs(pairs: &[(&str, &str)]) -> Env {
        Env {
            vars: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            not_utf8: BTreeSet::new(),
        }
    }

    /// Fails on the first variable imagemk reads that is not UTF-8, on a `JOBS` that is not a
    /// positive number and on an `IMAGEMK_REUSE_TIMEOUT` that is no duration; the others are
    /// never looked at.
    pub fn check(&self) -> anyhow::Result<()> {
        if let Some(name) = READ.iter().find(|n| self.not_utf8.contains(**n)) {
            bail!("environment variable `{name}` is not valid UTF-8; imagemk reads it, so set it to UTF-8 text or unset it");
        }
        if let Some(jobs) = self.get(&["JOBS"]) {
            parse_jobs(jobs).map_err(|e| anyhow::anyhow!("environment variable `JOBS`: {e}"))?;
        }
        self.reuse_timeout()?;
        Ok(())
    }

    /// `IMAGEMK_REUSE_TIMEOUT` (a duration as a build's `timeout:`), checked by
    /// [`Env::check`]; `None` when unset.
    pub fn reuse_timeout(&self) -> anyhow::Result<Option<std::time::Duration>> {
        self.get(&["IMAGEMK_REUSE_TIMEOUT"])
            .map(|text| {
                crate::duration::parse(text).map_err(|e| {
                    anyhow::anyhow!("environment variable `IMAGEMK_REUSE_TIMEOUT`: {e}")
                })
            })
            .transpose()
    }

    /// `JOBS`, checked by [`Env::check`]: a positive number, when set.
    pub fn jobs(&self) -> Option<usize> {
        self.get(&["JOBS"]).and_then(|j| parse_jobs(j).ok())
    }

    /// The value of the first of `names` that is set and not empty.
    pub fn get(&self, names: &[&str]) -> Option<&str> {
        names
            .iter()
            .filter_map(|n| self.vars.get(*n))
            .map(String::as_str)
            .find(|v| !v.is_empty())
    }

    /// The login name, for the `user` channel.
    pub fn user(&self) -> String {
        self.get(&["USER", "LOGNAME"]).unwrap_or("user").to_string()
    }

    pub fn is_ci(&self) -> bool {
        matches!(self.get(&["CI"]), Some(v) if v != "false" && v != "0")
    }
}

/// A job count, from `-j` or `JOBS`: a whole number from 1 up.
pub fn parse_jobs(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("`0` jobs would run nothing; give a number from 1 up".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!(
            "`{}` is not a number of jobs; give a whole number from 1 up",
            crate::reference::shorten(text, 40)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    fn os(s: &[u8]) -> OsString {
        OsString::from_vec(s.to_vec())
    }

    #[test]
    fn non_utf8_fails_only_when_read() {
        let env = Env::from_os([
            (os(b"OLDPWD"), os(b"/tmp/caf\xe9")),
            (os(b"X\xff"), os(b"1")),
            (os(b"IMAGE_TAG"), os(b"CI-1")),
        ]);
        assert!(env.check().is_ok());
        assert_eq!(env.get(&["IMAGE_TAG"]), Some("CI-1"));
        let env = Env::from_os([(os(b"IMAGE_TAG"), os(b"caf\xe9"))]);
        assert_eq!(
            env.check().unwrap_err().to_string(),
            "environment variable `IMAGE_TAG` is not valid UTF-8; imagemk reads it, so set it to UTF-8 text or unset it"
        );
    }

    #[test]
    fn jobs_must_be_a_positive_number() {
        for (value, expected) in [
            ("4", Ok(4)),
            (" 2", Ok(2)),
            (
                "0",
                Err("`0` jobs would run nothing; give a number from 1 up"),
            ),
            (
                "abc",
                Err("`abc` is not a number of jobs; give a whole number from 1 up"),
            ),
            (
                "-1",
                Err("`-1` is not a number of jobs; give a whole number from 1 up"),
            ),
        ] {
            assert_eq!(parse_jobs(value), expected.map_err(String::from), "{value}");
        }
        let env = Env::from_pairs(&[("JOBS", "abc")]);
        assert_eq!(
            env.check().unwrap_err().to_string(),
            "environment variable `JOBS`: `abc` is not a number of jobs; give a whole number from 1 up"
        );
    }
}
