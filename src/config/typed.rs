//! The values of `images.yaml` that other modules use, typed at load from their `raw` mirrors:
//! an image's `run:` ([`RunOptions`]), `artifacts:` ([`Artifact`]) and `host:` ([`Host`]),
//! and `workspace.publish` ([`Publish`]). Each conversion checks what needs no run-time value and
//! says where in its section a bad value is ([`Bad`]); `load` turns that into `file:LINE`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::raw::{RawArtifact, RawHost, RawPublish, RawRun};
use crate::reference;

/// A value that cannot be typed: the keys below its section that lead to it (for the line),
/// and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bad {
    pub at: Vec<String>,
    pub message: String,
}

impl Bad {
    fn new(at: &[&str], message: String) -> Bad {
        Bad {
            at: at.iter().map(|k| k.to_string()).collect(),
            message,
        }
    }
}

/// The name of an environment variable passed with `--env NAME`: never `NAME=VALUE`, which
/// would put the value in the command line, `ps`, `--dry-run` and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvName(String);

impl EnvName {
    pub fn new(name: &str, image: &str) -> anyhow::Result<EnvName> {
        if let Some((key, _)) = name.split_once('=') {
            anyhow::bail!(
                "`run.env` of image `{image}` lists `{key}=…`: values are never passed to a container; list the name only (`{key}`) and set it in the environment"
            );
        }
        if name.is_empty() || name.contains('\0') {
            anyhow::bail!("`run.env` of image `{image}` lists an empty or invalid name; list variable names such as `KM_TOKEN`");
        }
        Ok(EnvName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How `run` and `withdocker` start a container of an image (`run:`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// `HOST[:CONTAINER][:PERMISSIONS]`, the host path absolute; whether it exists is asked
    /// when a container starts.
    pub devices: Vec<String>,
    /// `NAME=SOFT[:HARD]`.
    pub ulimits: Vec<String>,
    pub user: Option<String>,
    pub init: bool,
    /// Passed by name only.
    pub env: Vec<EnvName>,
    /// The configured command; empty: the image's own.
    pub command: Vec<String>,
    /// Absolute in the container.
    pub workdir: Option<String>,
    pub network: Option<String>,
}

impl RunOptions {
    /// `run:` of image `image` (its id, for messages).
    pub fn from_raw(raw: &RawRun, image: &str) -> Result<RunOptions, Bad> {
        let env = raw
            .env
            .iter()
            .map(|n| EnvName::new(n, image))
            .collect::<anyhow::Result<_>>()
            .map_err(|e| Bad::new(&["env"], e.to_string()))?;
        for d in &raw.devices {
            check_device(d, image).map_err(|m| Bad::new(&["devices"], m))?;
        }
        for u in &raw.ulimits {
            check_ulimit(u, image).map_err(|m| Bad::new(&["ulimits"], m))?;
        }
        Ok(RunOptions {
            devices: raw.devices.clone(),
            ulimits: raw.ulimits.clone(),
            user: raw.user.clone(),
            init: raw.init,
            env,
            command: raw.command.clone().unwrap_or_default(),
            workdir: raw.workdir.clone(),
            network: raw.network.clone(),
        })
    }
}

/// A `run.devices` entry: docker's `--device HOST[:CONTAINER][:PERMISSIONS]`, as docker reads
/// it, the host path absolute.
fn check_device(entry: &str, image: &str) -> Result<(), String> {
    super::run_check::device(entry).map_err(|why| {
        format!(
            "`run.devices` of image `{image}` lists `{}`: {why}; write a device as `HOST[:CONTAINER][:PERMISSIONS]` with absolute paths, e.g. `/dev/kvm` or `/dev/fuse:/dev/fuse:rw`",
            reference::shorten(entry, 60)
        )
    })
}

/// A `run.ulimits` entry: docker's `--ulimit NAME=SOFT[:HARD]`, as docker reads it.
fn check_ulimit(entry: &str, image: &str) -> Result<(), String> {
    super::run_check::ulimit(entry).map_err(|why| {
        format!(
            "`run.ulimits` of image `{image}` lists `{}`: {why}; write a limit as `NAME=SOFT[:HARD]`, e.g. `nofile=1024:2048`",
            reference::shorten(entry, 60)
        )
    })
}

/// One `artifacts:` entry of an image: a path out of the image into the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Absolute path inside the image.
    pub from: String,
    /// The destination: the component directory joined with `to` as written.
    pub to: PathBuf,
    /// `to` as written (from the component directory), for messages.
    pub written: String,
}

impl Artifact {
    /// `artifacts[index]` of an image of the component in `dir`.
    pub fn from_raw(raw: &RawArtifact, index: usize, dir: &Path) -> Result<Artifact, Bad> {
        // The line of the entry is the line of its own `from:`, the `index + 1`-th after
        // `artifacts:`.
        let at: Vec<&str> = std::iter::repeat_n("from", index + 1).collect();
        image_source(&raw.from)
            .map_err(|m| Bad::new(&at, format!("artifacts[{index}].from: {m}")))?;
        Ok(Artifact {
            from: raw.from.clone(),
            to: dir.join(&raw.to),
            written: raw.to.clone(),
        })
    }
}

/// A path to copy out of an image: absolute, and naming a file or directory; its base name.
pub fn image_source(from: &str) -> Result<&str, String> {
    if !from.starts_with('/') {
        return Err(format!(
            "`{from}` is not an absolute path in the image; write it as `/{from}`"
        ));
    }
    match Path::new(from).file_name().and_then(|b| b.to_str()) {
        Some(base) => Ok(base),
        None => Err(format!(
            "`{from}` names no file or directory in the image; give the path of one"
        )),
    }
}

/// `workspace.publish`: what `push` refuses, what it needs `--force` for, what it adds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Publish {
    /// Kind → tags its images are never pushed or promoted with; each a valid tag.
    pub refuse_tags: BTreeMap<String, Vec<String>>,
    /// Kinds, or `component/key` image ids, whose push needs `--force`.
    pub force: Vec<String>,
    /// Extra tag templates; each uses only `{tag}`, `{revision}` and `{short_revision}` and
    /// renders to a valid tag for some values of them.
    pub also_tag: Vec<String>,
}

impl Publish {
    pub fn from_raw(raw: &RawPublish) -> Result<Publish, Bad> {
        for (kind, tags) in &raw.refuse_tags {
            for t in tags {
                reference::check_tag(t).map_err(|e| {
                    Bad::new(
                        &["refuse_tags", kind],
                        format!("workspace.publish.refuse_tags.{kind}: {e}"),
                    )
                })?;
            }
        }
        for t in &raw.also_tag {
            check_extra_tag(t)
                .map_err(|m| Bad::new(&["also_tag"], format!("workspace.publish.also_tag: {m}")))?;
        }
        Ok(Publish {
            refuse_tags: raw.refuse_tags.clone(),
            force: raw.force.clone(),
            also_tag: raw.also_tag.clone(),
        })
    }

    /// The tags images of `kind` are never published with.
    pub fn refused(&self, kind: &str) -> Option<&[String]> {
        self.refuse_tags.get(kind).map(Vec::as_slice)
    }

    /// Whether an extra tag needs the source revision.
    pub fn wants_revision(&self) -> bool {
        self.also_tag.iter().any(|t| needs_revision(t))
    }
}

/// Whether extra tag template `t` uses `{revision}` or `{short_revision}`.
pub fn needs_revision(t: &str) -> bool {
    t.contains("revision}")
}

/// An extra tag template, rendered with the shortest values its placeholders can take: an
/// unknown placeholder, or a tag no value can make valid, is refused.
fn check_extra_tag(template: &str) -> Result<(), String> {
    let vars: BTreeMap<&str, String> = ["tag", "revision", "short_revision"]
        .into_iter()
        .map(|k| (k, "0".to_string()))
        .collect();
    let rendered = reference::render(template, &vars).map_err(|e| e.to_string())?;
    reference::check_tag(&rendered)
        .map_err(|e| format!("`{template}` gives no valid tag whatever its values: {e}"))
}

/// `host:` of an image: what `local-buildenv` puts on a host that builds without the image.
/// Every value was checked as it parsed (package names, absolute paths).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Host {
    /// Packages per package manager's list: `apt`, `dnf` (also yum's), `apk`.
    pub apt: Vec<String>,
    pub dnf: Vec<String>,
    pub apk: Vec<String>,
    pub artifacts: Vec<HostArtifact>,
}

/// A file or directory copied out of the image to an absolute host path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostArtifact {
    /// Absolute path inside the image.
    pub from: String,
    /// Absolute path on the host (under `--root DIR` when given).
    pub to: String,
}

impl Host {
    pub fn from_raw(raw: &RawHost) -> Host {
        Host {
            apt: raw.apt.clone(),
            dnf: raw.dnf.clone(),
            apk: raw.apk.clone(),
            artifacts: raw
                .artifacts
                .iter()
                .map(|a| HostArtifact {
                    from: a.from.clone(),
                    to: a.to.clone(),
                })
                .collect(),
        }
    }

    /// Whether any package list is given.
    pub fn has_packages(&self) -> bool {
        !(self.apt.is_empty() && self.dnf.is_empty() && self.apk.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_options_refuse_malformed_devices_and_ulimits() {
        let raw = |devices: &[&str], ulimits: &[&str]| RawRun {
            devices: devices.iter().map(|s| s.to_string()).collect(),
            ulimits: ulimits.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let ok = [
            "/dev/kvm",
            "/dev/kvm:/dev/k",
            "/dev/kvm:rwm",
            "/dev/a:/dev/b:r",
        ];
        let limits = ["nofile=1024", "nofile=1024:2048", "memlock=-1:-1"];
        assert!(RunOptions::from_raw(&raw(&ok, &limits), "c/a").is_ok());
        for bad in ["kvm", "", ":/dev/x", "/a:/b:r:x"] {
            let e = RunOptions::from_raw(&raw(&[bad], &[]), "c/a").unwrap_err();
            assert_eq!(e.at, ["devices"], "{bad}");
        }
        for bad in [
            "nofile",
            "nofile=",
            "NOFILE=1",
            "nofile=a",
            "nofile=1:2:3",
            "=1",
        ] {
            let e = RunOptions::from_raw(&raw(&[], &[bad]), "c/a").unwrap_err();
            assert_eq!(e.at, ["ulimits"], "{bad}");
        }
    }

    #[test]
    fn an_env_entry_with_a_value_is_refused_never_shown() {
        let raw = RawRun {
            env: vec!["KM_TOKEN=hunter2".into()],
            ..Default::default()
        };
        let e = RunOptions::from_raw(&raw, "km/b").unwrap_err();
        assert_eq!(e.message, "`run.env` of image `km/b` lists `KM_TOKEN=…`: values are never passed to a container; list the name only (`KM_TOKEN`) and set it in the environment");
        assert!(EnvName::new("", "km/b").is_err());
        assert_eq!(
            EnvName::new("KM_TOKEN", "km/b").unwrap().as_str(),
            "KM_TOKEN"
        );
    }

    #[test]
    fn extra_tags_are_checked_for_every_value() {
        for ok in ["{tag}", "{tag}-{short_revision}", "r{revision}", "stable"] {
            assert_eq!(check_extra_tag(ok), Ok(()), "{ok}");
        }
        for bad in ["{tg}", "-{tag}", "{tag}/x", "{tag"] {
            assert!(check_extra_tag(bad).is_err(), "{bad}");
        }
    }
}
