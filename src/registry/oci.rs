//! The registry HTTP API (distribution / OCI) for `oci` registries: catalog and tags (paged
//! by `registry::http`), manifest HEAD with all four `Accept` types, DELETE by digest, the
//! tag-only removal distribution 2.8 lacks, and pointing a tag at a digest (GET the manifest by
//! digest, PUT the same bytes with the same `Content-Type` under the tag: indexes included).
//! The same client serves gar, gcr and acr with a CLI token (`registry::token`); their
//! [`Dialect`] says where their API differs (listing with untagged manifests and times, tag
//! removal), in `registry::dialect`.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::bail;
use serde::Deserialize;

use super::backend::NotFound;
pub use super::dialect::Dialect;
use super::http::{Client, Reply};
use crate::clean::{Manifest, Repo};
use crate::config::Env;

/// Every manifest type: without one of them distribution 2.8 answers 404 for OCI content or
/// rewrites schema2 to schema1 (another digest).
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// A mutation, as data: `--dry-run` prints it, [`Oci::apply`] performs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// DELETE the manifest (and so every tag on it).
    Delete { repo: String, digest: String },
    /// Point `tag` at an empty throwaway index, then delete that index: only `tag` goes.
    Untag { repo: String, tag: String },
    /// GET the manifest `digest`, PUT its exact bytes under `tag` with the `Content-Type` the
    /// GET returned: the tag moves, no layer does.
    Point {
        repo: String,
        tag: String,
        digest: String,
    },
    /// `DELETE /v2/<repo>/manifests/<tag>`: the tag alone (Container and Artifact Registry).
    DeleteTag { repo: String, tag: String },
    /// `DELETE /acr/v1/<repo>/_tags/<tag>`: the tag alone (ACR, as `az acr repository untag`).
    AcrUntag { repo: String, tag: String },
}

pub struct Oci {
    pub http: Client,
    pub dialect: Dialect,
}

impl Oci {
    pub fn new(host: &str, env: &Env) -> anyhow::Result<Oci> {
        Ok(Oci {
            http: Client::new(host, env)?,
            dialect: Dialect::Distribution,
        })
    }

    /// Every repository under `prefix`: the catalog with pagination, or on Google's
    /// registries the `child` list of `prefix` (direct children, as `gcloud container images
    /// list` shows them).
    pub fn repositories(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        match self.dialect {
            Dialect::Google => self.children(prefix),
            Dialect::Distribution | Dialect::Acr => self.catalog(prefix),
        }
    }

    fn catalog(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Catalog {
            repositories: Option<Vec<String>>,
        }
        let mut names = Vec::new();
        for reply in self
            .http
            .pages("/v2/_catalog?n=100", "registry:catalog:*")?
        {
            if reply.status != 200 {
                bail!(
                    "{}; if it does not serve `/v2/_catalog`, name the repositories with `--repository`",
                    self.failure("list the repositories of", "", &reply)
                );
            }
            let c: Catalog = self.http.json(&reply, "catalog")?;
            // A 200 without `repositories` is no registry catalog (a proxy's page, another
            // API): taking it as "no repositories" would report a clean-up that never ran.
            let Some(page) = c.repositories else {
                bail!(
                    "registry `{}` answered `/v2/_catalog` without a `repositories` list, so its repositories are unknown; check its `host` in images.yaml, or name the repositories with `--repository`",
                    self.http.host
                );
            };
            names.extend(page);
        }
        let under = |n: &String| prefix.is_empty() || n.starts_with(&format!("{prefix}/"));
        Ok(names.into_iter().filter(under).collect())
    }

    pub(super) fn scope(repo: &str) -> String {
        format!("repository:{repo}:pull,push,delete")
    }

    /// The manifests of `repo` with their tags (and creation times if asked; the cloud
    /// dialects always give them, and untagged manifests too).
    pub fn list(&self, repo: &str, times: bool) -> anyhow::Result<Repo> {
        match self.dialect {
            Dialect::Distribution => self.list_tags(repo, times),
            Dialect::Google => self.list_google(repo),
            Dialect::Acr => self.list_acr(repo),
        }
    }

    /// The tags of `repo`, grouped by the digest each points at (and creation times if asked).
    fn list_tags(&self, repo: &str, times: bool) -> anyhow::Result<Repo> {
        #[derive(Deserialize)]
        struct Tags {
            tags: Option<Vec<String>>,
        }
        let scope = Self::scope(repo);
        let mut tags = Vec::new();
        for reply in self.http.pages(&format!("/v2/{repo}/tags/list"), &scope)? {
            self.check_listing(repo, &reply)?;
            let t: Tags = self.http.json(&reply, &format!("tag list for `{repo}`"))?;
            tags.extend(t.tags.unwrap_or_default());
        }
        let mut by_digest: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for tag in tags {
            if let Some(d) = self.digest(repo, &tag)? {
                by_digest.entry(d).or_default().push(tag);
            }
        }
        let mut manifests = Vec::new();
        for (digest, tags) in by_digest {
            let created = if times {
                self.created(repo, &digest)?
            } else {
                None
            };
            manifests.push(Manifest {
                digest,
                tags,
                created,
            });
        }
        Ok(Repo {
            name: repo.to_string(),
            manifests,
        })
    }

    /// A listing reply that is no success: a missing repository is [`NotFound`] (no manifest
    /// was ever stored, blobs of an interrupted first push, or it was deleted: nothing to
    /// clean); anything else fails.
    pub(super) fn check_listing(&self, repo: &str, reply: &Reply) -> anyhow::Result<()> {
        let code = error_code(reply);
        let missing = matches!(code.as_deref(), Some("NAME_UNKNOWN" | "NOT_FOUND"));
        match reply.status {
            200 => Ok(()),
            404 if missing => Err(NotFound(format!(
                "registry `{}` has no repository `{repo}` with manifests ({})",
                self.http.host,
                code.unwrap_or_default()
            ))
            .into()),
            _ => bail!(self.failure("list the tags of", repo, reply)),
        }
    }

    /// `Docker-Content-Digest` of a HEAD with the full `Accept`; `None` when the tag is gone.
    pub fn digest(&self, repo: &str, reference: &str) -> anyhow::Result<Option<String>> {
        let url = self.http.url(&format!("/v2/{repo}/manifests/{reference}"));
        let reply = self
            .http
            .call("HEAD", &url, &Self::scope(repo), Some(ACCEPT), None)?;
        match reply.status {
            200 => self
                .http
                .needed_header(
                    &reply,
                    "Docker-Content-Digest",
                    &format!("`Docker-Content-Digest` for `{repo}:{reference}`"),
                )
                .map(Some),
            404 => Ok(None),
            _ => bail!(self.failure(
                "read the manifest of",
                &format!("{repo}:{reference}"),
                &reply
            )),
        }
    }

    /// The `created` time of an image manifest's config; `None` for indexes.
    fn created(&self, repo: &str, digest: &str) -> anyhow::Result<Option<jiff::Timestamp>> {
        #[derive(Deserialize)]
        struct Desc {
            digest: String,
        }
        #[derive(Deserialize)]
        struct M {
            config: Option<Desc>,
        }
        #[derive(Deserialize)]
        struct Config {
            created: Option<String>,
        }
        let scope = Self::scope(repo);
        let url = self.http.url(&format!("/v2/{repo}/manifests/{digest}"));
        let reply = self.http.call("GET", &url, &scope, Some(ACCEPT), None)?;
        if reply.status != 200 {
            return Ok(None);
        }
        let Some(config) = serde_json::from_slice::<M>(&reply.body)
            .ok()
            .and_then(|m| m.config)
        else {
            return Ok(None);
        };
        let url = self
            .http
            .url(&format!("/v2/{repo}/blobs/{}", config.digest));
        let reply = self.http.call("GET", &url, &scope, None, None)?;
        if reply.status != 200 {
            return Ok(None);
        }
        Ok(serde_json::from_slice::<Config>(&reply.body)
            .ok()
            .and_then(|c| c.created)
            .and_then(|c| c.parse().ok()))
    }

    pub fn apply(&self, op: &Op) -> anyhow::Result<()> {
        match op {
            Op::Delete { repo, digest } => self.delete(repo, digest),
            Op::Point { repo, tag, digest } => self.point(repo, tag, digest),
            Op::DeleteTag { repo, tag } => {
                let url = self.http.url(&format!("/v2/{repo}/manifests/{tag}"));
                self.remove(&url, repo, &format!("{repo}:{tag}"))
            }
            Op::AcrUntag { repo, tag } => {
                let url = self.http.url(&format!("/acr/v1/{repo}/_tags/{tag}"));
                self.remove(&url, repo, &format!("{repo}:{tag}"))
            }
            Op::Untag { repo, tag } => {
                let body = throwaway(repo, tag);
                let url = self.http.url(&format!("/v2/{repo}/manifests/{tag}"));
                let reply =
                    self.http
                        .call("PUT", &url, &Self::scope(repo), None, Some((INDEX, &body)))?;
                if reply.status != 201 {
                    bail!(self.failure("re-point tag", &format!("{repo}:{tag}"), &reply));
                }
                let digest = self.http.needed_header(
                    &reply,
                    "Docker-Content-Digest",
                    &format!("digest for the placeholder of `{repo}:{tag}`"),
                )?;
                self.delete(repo, &digest)
            }
        }
    }

    /// Points `repo:tag` at the manifest `digest` of the same repository.
    fn point(&self, repo: &str, tag: &str, digest: &str) -> anyhow::Result<()> {
        let scope = Self::scope(repo);
        let url = self.http.url(&format!("/v2/{repo}/manifests/{digest}"));
        let got = self.http.call("GET", &url, &scope, Some(ACCEPT), None)?;
        if got.status != 200 {
            bail!(self.failure("read the manifest", &format!("{repo}@{digest}"), &got));
        }
        let ctype = self.http.needed_header(
            &got,
            "Content-Type",
            &format!("`Content-Type` for `{repo}@{digest}`"),
        )?;
        let url = self.http.url(&format!("/v2/{repo}/manifests/{tag}"));
        let put = self
            .http
            .call("PUT", &url, &scope, None, Some((&ctype, &got.body)))?;
        if put.status != 201 {
            bail!(self.failure(&format!("point tag `{tag}` at `{digest}` in"), repo, &put));
        }
        match put.header("Docker-Content-Digest") {
            Some(d) if d != digest => bail!(
                "registry `{}` stored `{repo}:{tag}` as `{d}`, not `{digest}`",
                self.http.host
            ),
            _ => Ok(()),
        }
    }

    fn delete(&self, repo: &str, digest: &str) -> anyhow::Result<()> {
        let url = self.http.url(&format!("/v2/{repo}/manifests/{digest}"));
        self.remove(&url, repo, &format!("{repo}@{digest}"))
    }

    /// DELETE `url` (a manifest or a tag of `repo`, shown as `what`).
    fn remove(&self, url: &str, repo: &str, what: &str) -> anyhow::Result<()> {
        let scope = self.dialect.delete_scope(repo);
        let reply = self.http.call("DELETE", url, &scope, None, None)?;
        let code = error_code(&reply);
        match reply.status {
            200 | 202 => Ok(()),
            // Already gone (deleted by someone else meanwhile): the goal holds.
            404 if matches!(code.as_deref(), Some("MANIFEST_UNKNOWN" | "TAG_UNKNOWN")) => Ok(()),
            405 => bail!(
                "registry `{}` does not allow deletes (405); enable `storage.delete.enabled` in its config",
                self.http.host
            ),
            _ => bail!(self.failure("delete", what, &reply)),
        }
    }

    /// An error for an unexpected status, with the registry's own error code and message.
    pub(super) fn failure(&self, what: &str, name: &str, reply: &Reply) -> String {
        let detail = first_error(reply)
            .map(|e| format!(" {}: {}", e.code, e.message.unwrap_or_default()))
            .unwrap_or_default();
        let target = if name.is_empty() {
            format!("`{}`", self.http.host)
        } else {
            format!("`{name}`")
        };
        let mut msg = format!("could not {what} {target}: {}{detail}", reply.status);
        if reply.status == 403 {
            msg.push_str(&format!(
                "; {} with an account that may do this",
                self.http.login_hint()
            ));
        }
        if reply.status == 404 && detail.contains("NAME_UNKNOWN") {
            msg = "no such repository (NAME_UNKNOWN; deleted while the clean-up ran?)".into();
        }
        msg
    }
}

#[derive(Deserialize)]
struct Errors {
    errors: Vec<ApiError>,
}

#[derive(Deserialize)]
struct ApiError {
    code: String,
    message: Option<String>,
}

/// The first entry of a distribution error body `{"errors":[{"code","message"}]}`.
fn first_error(reply: &Reply) -> Option<ApiError> {
    serde_json::from_slice::<Errors>(&reply.body)
        .ok()
        .and_then(|e| e.errors.into_iter().next())
}

pub(super) fn error_code(reply: &Reply) -> Option<String> {
    first_error(reply).map(|e| e.code)
}

impl Op {
    pub fn render(&self, base: &str) -> String {
        match self {
            Op::Delete { repo, digest } => format!("DELETE {base}/v2/{repo}/manifests/{digest}"),
            Op::Untag { repo, tag } => format!(
                "PUT {base}/v2/{repo}/manifests/{tag} (an empty OCI index), then DELETE {base}/v2/{repo}/manifests/<its digest>"
            ),
            Op::Point { repo, tag, digest } => format!(
                "GET {base}/v2/{repo}/manifests/{digest}, then PUT {base}/v2/{repo}/manifests/{tag} (the same bytes and Content-Type)"
            ),
            Op::DeleteTag { repo, tag } => format!("DELETE {base}/v2/{repo}/manifests/{tag}"),
            Op::AcrUntag { repo, tag } => format!("DELETE {base}/acr/v1/{repo}/_tags/{tag}"),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(""))
    }
}

/// A tiny empty index, unique per repository and tag, so deleting its digest removes only
/// the one tag just pointed at it.
pub fn throwaway(repo: &str, tag: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": INDEX,
        "manifests": [],
        "annotations": {"org.imagemk.untag": format!("{repo}:{tag}")},
    }))
    .expect("static JSON")
}
