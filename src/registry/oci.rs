//! The registry HTTP API (distribution / OCI) for `oci` registries: catalog and tags with
//! `Link` pagination, manifest HEAD with all four `Accept` types, DELETE by digest, and the
//! tag-only removal distribution 2.8 lacks. One `ureq` agent per run, so connections are
//! reused; Basic credentials and bearer tokens (cached per scope) from `registry::auth`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;

use super::auth::{self, Basic, Challenge};
use crate::clean::{Manifest, Repo};
use crate::config::Env;

/// Every manifest type: without one of them distribution 2.8 answers 404 for OCI content or
/// rewrites schema2 to schema1 (another digest).
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";

pub struct Client {
    agent: ureq::Agent,
    /// `http://host` on loopback (as docker does), `https://host` elsewhere.
    base: String,
    host: String,
    creds: Option<Basic>,
    /// Bearer tokens by scope; `None` under the key `basic` when the registry wants Basic.
    tokens: Mutex<HashMap<String, String>>,
}

/// A mutation, as data: `--dry-run` prints it, [`Client::apply`] performs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// DELETE the manifest (and so every tag on it).
    Delete { repo: String, digest: String },
    /// Point `tag` at an empty throwaway index, then delete that index: only `tag` goes.
    Untag { repo: String, tag: String },
}

pub struct Reply {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn is_loopback(host: &str) -> bool {
    let name = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    matches!(name, "localhost" | "[::1]") || name.starts_with("127.")
}

impl Client {
    pub fn new(host: &str, env: &Env) -> anyhow::Result<Client> {
        let scheme = if is_loopback(host) { "http" } else { "https" };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        Ok(Client {
            agent,
            base: format!("{scheme}://{host}"),
            host: host.to_string(),
            creds: auth::lookup(env, host)?,
            tokens: Mutex::new(HashMap::new()),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn raw(
        &self,
        method: &str,
        url: &str,
        authz: Option<&str>,
        accept: Option<&str>,
        body: Option<(&str, &[u8])>,
    ) -> anyhow::Result<Reply> {
        let mut req = ureq::http::Request::builder().method(method).uri(url);
        if let Some(a) = authz {
            req = req.header("Authorization", a);
        }
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        let result = match body {
            Some((ctype, bytes)) => self
                .agent
                .run(req.header("Content-Type", ctype).body(bytes.to_vec())?),
            None => self.agent.run(req.body(())?),
        };
        let mut resp = result.map_err(|e| {
            anyhow::anyhow!(
                "registry `{}` is unreachable ({e}); check that it runs and that its `host` in images.yaml is right",
                self.host
            )
        })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = if method == "HEAD" {
            Vec::new()
        } else {
            resp.body_mut()
                .with_config()
                .limit(64 << 20)
                .read_to_vec()
                .map_err(|e| anyhow::anyhow!("reading `{method} {url}`: {e}"))?
        };
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// Sends a request, answering a 401 challenge once (Basic or a bearer token for `scope`).
    pub fn call(
        &self,
        method: &str,
        url: &str,
        scope: &str,
        accept: Option<&str>,
        body: Option<(&str, &[u8])>,
    ) -> anyhow::Result<Reply> {
        let cached = self.tokens.lock().unwrap().get(scope).cloned();
        let reply = self.raw(method, url, cached.as_deref(), accept, body)?;
        if reply.status != 401 {
            return Ok(reply);
        }
        let challenge = reply
            .header("WWW-Authenticate")
            .and_then(auth::parse_challenge);
        let authz = match challenge {
            Some(Challenge::Basic) => match &self.creds {
                Some(c) => c.header(),
                None => bail!(self.unauthorized("no credentials")),
            },
            Some(Challenge::Bearer { realm, service, .. }) => {
                format!("Bearer {}", self.token(&realm, service.as_deref(), scope)?)
            }
            None => bail!(self.unauthorized("401 without a usable challenge")),
        };
        self.tokens
            .lock()
            .unwrap()
            .insert(scope.to_string(), authz.clone());
        let reply = self.raw(method, url, Some(&authz), accept, body)?;
        if reply.status == 401 {
            bail!(self.unauthorized("credentials refused"));
        }
        Ok(reply)
    }

    fn unauthorized(&self, why: &str) -> String {
        format!(
            "registry `{}` is unauthorized ({why}); run `docker login {}`",
            self.host, self.host
        )
    }

    fn token(&self, realm: &str, service: Option<&str>, scope: &str) -> anyhow::Result<String> {
        let mut url = format!("{realm}?scope={}", encode(scope));
        if let Some(s) = service {
            url.push_str(&format!("&service={}", encode(s)));
        }
        let basic = self.creds.as_ref().map(Basic::header);
        let reply = self.raw("GET", &url, basic.as_deref(), None, None)?;
        if reply.status != 200 {
            bail!(self.unauthorized(&format!(
                "token endpoint `{realm}` answered {}",
                reply.status
            )));
        }
        #[derive(Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let t: Token = serde_json::from_slice(&reply.body)
            .map_err(|e| anyhow::anyhow!("token endpoint `{realm}` sent unexpected JSON: {e}"))?;
        t.token
            .or(t.access_token)
            .ok_or_else(|| anyhow::anyhow!("token endpoint `{realm}` sent no token"))
    }

    /// GETs `path` and every `Link: <…>; rel="next"` page after it.
    fn pages(&self, path: &str, scope: &str) -> anyhow::Result<Vec<Reply>> {
        let mut url = self.url(path);
        let mut out = Vec::new();
        loop {
            let reply = self.call("GET", &url, scope, None, None)?;
            let next = reply.header("Link").and_then(next_link);
            if reply.status != 200 {
                out.push(reply);
                return Ok(out);
            }
            out.push(reply);
            match next {
                Some(n) if n.starts_with("http://") || n.starts_with("https://") => url = n,
                Some(n) => url = self.url(&n),
                None => return Ok(out),
            }
            if out.len() > 10_000 {
                bail!(
                    "registry `{}` keeps sending `Link` pages for `{path}`",
                    self.host
                );
            }
        }
    }

    /// Every repository under `prefix` (catalog with pagination).
    pub fn repositories(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Catalog {
            repositories: Option<Vec<String>>,
        }
        let mut names = Vec::new();
        for reply in self.pages("/v2/_catalog?n=100", "registry:catalog:*")? {
            if reply.status != 200 {
                bail!(
                    "{}; if it does not serve `/v2/_catalog`, name the repositories with `--repository`",
                    self.failure("list the repositories of", "", &reply)
                );
            }
            let c: Catalog = serde_json::from_slice(&reply.body).map_err(|e| {
                anyhow::anyhow!("registry `{}` sent an unexpected catalog: {e}", self.host)
            })?;
            names.extend(c.repositories.unwrap_or_default());
        }
        let under = |n: &String| prefix.is_empty() || n.starts_with(&format!("{prefix}/"));
        Ok(names.into_iter().filter(under).collect())
    }

    fn scope(repo: &str) -> String {
        format!("repository:{repo}:pull,push,delete")
    }

    /// The tags of `repo`, grouped by the digest each points at (and creation times if asked).
    pub fn list(&self, repo: &str, times: bool) -> anyhow::Result<Repo> {
        #[derive(Deserialize)]
        struct Tags {
            tags: Option<Vec<String>>,
        }
        let scope = Self::scope(repo);
        let mut tags = Vec::new();
        for reply in self.pages(&format!("/v2/{repo}/tags/list"), &scope)? {
            if reply.status != 200 {
                bail!(self.failure("list the tags of", repo, &reply));
            }
            let t: Tags = serde_json::from_slice(&reply.body).map_err(|e| {
                anyhow::anyhow!(
                    "registry `{}` sent an unexpected tag list for `{repo}`: {e}",
                    self.host
                )
            })?;
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

    /// `Docker-Content-Digest` of a HEAD with the full `Accept`; `None` when the tag is gone.
    pub fn digest(&self, repo: &str, reference: &str) -> anyhow::Result<Option<String>> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let reply = self.call("HEAD", &url, &Self::scope(repo), Some(ACCEPT), None)?;
        match reply.status {
            200 => match reply.header("Docker-Content-Digest") {
                Some(d) => Ok(Some(d.to_string())),
                None => bail!(
                    "registry `{}` sent no `Docker-Content-Digest` for `{repo}:{reference}`",
                    self.host
                ),
            },
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
        let url = self.url(&format!("/v2/{repo}/manifests/{digest}"));
        let reply = self.call("GET", &url, &scope, Some(ACCEPT), None)?;
        if reply.status != 200 {
            return Ok(None);
        }
        let Some(config) = serde_json::from_slice::<M>(&reply.body)
            .ok()
            .and_then(|m| m.config)
        else {
            return Ok(None);
        };
        let url = self.url(&format!("/v2/{repo}/blobs/{}", config.digest));
        let reply = self.call("GET", &url, &scope, None, None)?;
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
            Op::Untag { repo, tag } => {
                let body = throwaway(repo, tag);
                let url = self.url(&format!("/v2/{repo}/manifests/{tag}"));
                let reply =
                    self.call("PUT", &url, &Self::scope(repo), None, Some((INDEX, &body)))?;
                if reply.status != 201 {
                    bail!(self.failure("re-point tag", &format!("{repo}:{tag}"), &reply));
                }
                let digest = reply
                    .header("Docker-Content-Digest")
                    .map(String::from)
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "registry `{}` sent no digest for the placeholder of `{repo}:{tag}`",
                            self.host
                        )
                    })?;
                self.delete(repo, &digest)
            }
        }
    }

    fn delete(&self, repo: &str, digest: &str) -> anyhow::Result<()> {
        let url = self.url(&format!("/v2/{repo}/manifests/{digest}"));
        let reply = self.call("DELETE", &url, &Self::scope(repo), None, None)?;
        match reply.status {
            200 | 202 => Ok(()),
            405 => bail!(
                "registry `{}` does not allow deletes (405); enable `storage.delete.enabled` in its config",
                self.host
            ),
            _ => bail!(self.failure("delete", &format!("{repo}@{digest}"), &reply)),
        }
    }

    /// An error for an unexpected status, with the registry's own error code and message.
    fn failure(&self, what: &str, name: &str, reply: &Reply) -> String {
        #[derive(Deserialize)]
        struct Errors {
            errors: Vec<E>,
        }
        #[derive(Deserialize)]
        struct E {
            code: String,
            message: Option<String>,
        }
        let detail = serde_json::from_slice::<Errors>(&reply.body)
            .ok()
            .and_then(|e| e.errors.into_iter().next())
            .map(|e| format!(" {}: {}", e.code, e.message.unwrap_or_default()))
            .unwrap_or_default();
        let target = if name.is_empty() {
            format!("`{}`", self.host)
        } else {
            format!("`{name}`")
        };
        let mut msg = format!("could not {what} {target}: {}{detail}", reply.status);
        if reply.status == 403 {
            msg.push_str(&format!(
                "; run `docker login {}` with an account that may do this",
                self.host
            ));
        }
        if reply.status == 404 && detail.contains("NAME_UNKNOWN") {
            msg = "no such repository (NAME_UNKNOWN; deleted while the clean-up ran?)".into();
        }
        msg
    }
}

impl Op {
    pub fn render(&self, base: &str) -> String {
        match self {
            Op::Delete { repo, digest } => format!("DELETE {base}/v2/{repo}/manifests/{digest}"),
            Op::Untag { repo, tag } => format!(
                "PUT {base}/v2/{repo}/manifests/{tag} (an empty OCI index), then DELETE {base}/v2/{repo}/manifests/<its digest>"
            ),
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

/// The URL of `rel="next"` in a `Link` header.
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_loopback() {
        assert_eq!(
            next_link(r#"</v2/_catalog?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/_catalog?last=b&n=2")
        );
        assert_eq!(
            next_link(r#"<https://x/v2/_catalog?last=b>; rel="prev""#),
            None
        );
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost:5000"));
        assert!(!is_loopback("registry.example.com"));
        assert_eq!(
            encode("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
    }
}
