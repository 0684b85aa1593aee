//! Registries: what `images.yaml` says about each (kind, host, path) and the remote names
//! derived from it. The kind decides login, naming, and how listing and deletion work; it is
//! an enum matched here, never a string compared elsewhere.

pub(crate) mod acr;
pub(crate) mod auth;
pub(crate) mod backend;
pub(crate) mod channel;
mod cli_json;
pub(crate) mod gcloud;
pub(crate) mod http;
pub(crate) mod local_tag;
pub(crate) mod login;
pub(crate) mod moves;
pub mod oci;
pub(crate) mod pulled;
pub(crate) mod retag;
pub mod reuse;
pub(crate) mod transfer;

use std::collections::BTreeMap;

use anyhow::bail;

use crate::config::raw::RawRegistry;
use crate::reference::{self, ImageRef};

// Issue 11 item 6: the registry API of gar, gcr and acr with one CLI token per run.
pub(crate) mod dialect;
pub(crate) mod token;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Azure Container Registry: `<name>.azurecr.io`.
    Acr { name: String },
    /// Artifact Registry: `<location>-docker.pkg.dev/<project>/<repository>`.
    Gar {
        location: String,
        project: String,
        repository: String,
    },
    /// Container Registry (deprecated): `gcr.io/<project>`.
    Gcr { project: String },
    /// Any registry speaking the distribution API.
    Oci,
}

impl Kind {
    /// The cloud CLI in front of this kind's registry, if any.
    pub fn cli(&self) -> Option<&'static str> {
        match self {
            Kind::Acr { .. } => Some("az"),
            Kind::Gar { .. } | Kind::Gcr { .. } => Some("gcloud"),
            Kind::Oci => None,
        }
    }

    /// How this kind's registry HTTP API differs from plain distribution.
    pub fn dialect(&self) -> dialect::Dialect {
        match self {
            Kind::Acr { .. } => dialect::Dialect::Acr,
            Kind::Gar { .. } | Kind::Gcr { .. } => dialect::Dialect::Google,
            Kind::Oci => dialect::Dialect::Distribution,
        }
    }

    /// Whether the registry API lists the repositories under a path. Artifact Registry
    /// documents no catalog for its Docker API, so gar lists them with one gcloud call.
    pub fn api_lists_repositories(&self) -> bool {
        !matches!(self, Kind::Gar { .. })
    }

    /// Whether listings show untagged manifests (`clean --untagged`).
    pub fn lists_untagged(&self) -> bool {
        self.dialect().lists_untagged()
    }

    /// Whether imagemk reads the registry's HTTP API itself with docker's credentials
    /// (doctor's `GET /v2/`, reuse's HEAD): a registry no cloud CLI stands in front of.
    pub fn reached_directly(&self) -> bool {
        self.cli().is_none()
    }

    /// The Google Cloud API that serves the registry (gar, gcr), the one
    /// `gcloud services enable` names; None for a registry outside Google Cloud.
    pub fn service_api(&self) -> Option<&'static str> {
        match self {
            Kind::Gar { .. } => Some("artifactregistry.googleapis.com"),
            Kind::Gcr { .. } => Some("containerregistry.googleapis.com"),
            Kind::Acr { .. } | Kind::Oci => None,
        }
    }

    /// The command that logs the cloud CLI itself in, which its docker login needs first.
    pub fn cli_account_login(&self) -> Option<&'static str> {
        match self {
            Kind::Acr { .. } => Some("az login"),
            Kind::Gar { .. } | Kind::Gcr { .. } => Some("gcloud auth login"),
            Kind::Oci => None,
        }
    }

    /// Whether gcloud serves the registry with Artifact Registry's commands
    /// (`gcloud artifacts docker …`, whose listing names packages, nested ones included)
    /// rather than Container Registry's (`gcloud container images …`).
    pub fn gcloud_artifacts(&self) -> bool {
        matches!(self, Kind::Gar { .. })
    }

    /// Whether one CLI call removes several tags, or deletes several manifests, of a
    /// repository (gcr's `untag` and `delete` take many names; gar's commands one each).
    pub fn batches_deletes(&self) -> bool {
        matches!(self, Kind::Gcr { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    /// The key in `workspace.registries`.
    pub name: String,
    pub kind: Kind,
    /// `host[:port]`.
    pub host: String,
    /// The path under the host every repository of this workspace lives in (may be empty).
    pub path: String,
}

impl Registry {
    pub fn from_raw(name: &str, raw: &RawRegistry) -> anyhow::Result<Registry> {
        let (kind, host, path) = Self::located(name, raw)?;
        reference::check_host(&host).map_err(|e| anyhow::anyhow!("registry `{name}`: {e}"))?;
        if !path.is_empty() {
            reference::check_repository(&path)
                .map_err(|e| anyhow::anyhow!("registry `{name}`: path: {e}"))?;
        }
        Ok(Registry {
            name: name.to_string(),
            kind,
            host,
            path,
        })
    }

    /// The kind, host and path the fields of `raw` name, per kind (not yet checked).
    fn located(name: &str, raw: &RawRegistry) -> anyhow::Result<(Kind, String, String)> {
        let need = |field: &Option<String>, what: &str| -> anyhow::Result<String> {
            field.clone().filter(|v| !v.is_empty()).ok_or_else(|| {
                anyhow::anyhow!("registry `{name}` of kind `{}` needs `{what}`", raw.kind)
            })
        };
        let extra = raw.path.clone().unwrap_or_default();
        Ok(match raw.kind.as_str() {
            "acr" => {
                let n = need(&raw.name, "name")?;
                (
                    Kind::Acr { name: n.clone() },
                    format!("{n}.azurecr.io"),
                    extra,
                )
            }
            "gar" => {
                let (location, project, repository) = (
                    need(&raw.location, "location")?,
                    need(&raw.project, "project")?,
                    need(&raw.repository, "repository")?,
                );
                let host = format!("{location}-docker.pkg.dev");
                let path = join_path(&format!("{project}/{repository}"), &extra);
                (
                    Kind::Gar {
                        location,
                        project,
                        repository,
                    },
                    host,
                    path,
                )
            }
            "gcr" => {
                let project = need(&raw.project, "project")?;
                let host = raw.host.clone().unwrap_or_else(|| "gcr.io".into());
                let path = join_path(&project, &extra);
                (Kind::Gcr { project }, host, path)
            }
            "oci" => (Kind::Oci, need(&raw.host, "host")?, extra),
            other => {
                let hint = crate::config::error::did_you_mean(other, &["acr", "gar", "gcr", "oci"]);
                bail!("registry `{name}` has unknown kind `{other}`{hint} (kinds: acr, gar, gcr, oci)")
            }
        })
    }

    /// `host/path` (no trailing slash).
    pub fn prefix(&self) -> String {
        if self.path.is_empty() {
            self.host.clone()
        } else {
            format!("{}/{}", self.host, self.path)
        }
    }

    /// The remote name of a local image: `{host}/{path}/{channel-prefix}{basename}:{tag}`.
    pub fn remote(&self, local: &ImageRef, channel_prefix: &str) -> anyhow::Result<ImageRef> {
        let full = format!(
            "{}/{}{}:{}",
            self.prefix(),
            channel_prefix,
            local.basename(),
            local.tag
        );
        ImageRef::parse(&full).map_err(|e| anyhow::anyhow!("remote name for `{local}`: {e}"))
    }
}

/// Picks the registry `wanted` (or the only one) from the workspace's list.
pub fn choose(
    registries: &BTreeMap<String, Registry>,
    wanted: Option<&str>,
) -> anyhow::Result<Registry> {
    let names: Vec<&str> = registries.keys().map(String::as_str).collect();
    let name = match wanted {
        Some(n) => n,
        None if names.len() == 1 => names[0],
        None if names.is_empty() => bail!(
            "no registry is configured; add one under `workspace.registries` in the root images.yaml"
        ),
        None => bail!(
            "no registry chosen; pass `--registry NAME` or `REGISTRY=NAME` (registries: {}), or set `workspace.registry`",
            names.join(", ")
        ),
    };
    let reg = registries.get(name).ok_or_else(|| {
        let hint = crate::config::error::did_you_mean(name, &names);
        anyhow::anyhow!(
            "unknown registry `{name}`{hint} (registries: {})",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )
    })?;
    Ok(reg.clone())
}

/// Two path parts joined by `/`, either of which may be empty.
fn join_path(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}/{b}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(kind: &str, f: impl FnOnce(&mut RawRegistry)) -> RawRegistry {
        let mut r = RawRegistry {
            kind: kind.into(),
            ..Default::default()
        };
        f(&mut r);
        r
    }

    fn check(r: RawRegistry, local: &str, prefix: &str, expected: Result<&str, &str>) {
        let got = Registry::from_raw("reg", &r)
            .and_then(|reg| reg.remote(&ImageRef::parse(local).unwrap(), prefix))
            .map(|n| n.to_string())
            .map_err(|e| e.to_string());
        assert_eq!(got, expected.map(String::from).map_err(String::from));
    }

    #[test]
    fn remote_names_per_kind() {
        check(
            raw("acr", |r| r.name = Some("kontainkubecr".into())),
            "kontain/test-km-fedora:CI-42",
            "",
            Ok("kontainkubecr.azurecr.io/test-km-fedora:CI-42"),
        );
        check(
            raw("gcr", |r| r.project = Some("lattice-dev".into())),
            "lattice/envoy:latest",
            "alice-debug-",
            Ok("gcr.io/lattice-dev/alice-debug-envoy:latest"),
        );
        check(
            raw("gar", |r| {
                r.location = Some("us".into());
                r.project = Some("proj".into());
                r.repository = Some("ci".into());
            }),
            "grpc/worker-cxx:20261122",
            "",
            Ok("us-docker.pkg.dev/proj/ci/worker-cxx:20261122"),
        );
        check(
            raw("oci", |r| {
                r.host = Some("localhost:5000".into());
                r.path = Some("kontain".into());
            }),
            "kontain/buildenv-km-busybox:latest",
            "",
            Ok("localhost:5000/kontain/buildenv-km-busybox:latest"),
        );
    }

    #[test]
    fn bad_registries() {
        check(raw("oci", |r| r.host = Some("myhost".into())), "a/b:c", "",
            Err("registry `reg`: `myhost` would be read by docker as a Docker Hub namespace, not a registry host; write it with a port or a domain (e.g. `localhost:5000`, `myhost.example.com`)"));
        check(raw("acx", |_| {}), "a/b:c", "", Err("registry `reg` has unknown kind `acx`; did you mean `acr`? (kinds: acr, gar, gcr, oci)"));
        check(
            raw("gar", |_| {}),
            "a/b:c",
            "",
            Err("registry `reg` of kind `gar` needs `location`"),
        );
    }
}
