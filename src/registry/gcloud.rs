//! Google registries through `gcloud … --format=json`: Artifact Registry (`gcloud artifacts
//! docker`) and Container Registry (`gcloud container images`). One listing call per
//! repository; mutations always `--quiet` (they prompt otherwise); gcr batches every tag and
//! digest of a repository into one call. Deletes never pass `--force-delete-tags` or
//! `--delete-tags`: gcloud then refuses a manifest that still carries a tag. [`classify`]
//! reads gcloud's stderr, in one place.

use serde::Deserialize;

use super::backend::NotFound;
use super::{cli_json, Kind};
use crate::clean::{Manifest, Repo};
use crate::exec::Cmd;

/// What a failed gcloud call means, from its stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trouble {
    /// The network or the API host did not answer.
    Network,
    /// No active account, or its credentials expired.
    NoAccount,
    /// The registry's API is not enabled in the project.
    ApiDisabled,
    /// The account may not do this.
    Denied,
    /// The repository or image does not exist.
    NotFound,
}

/// Classifies gcloud's stderr (texts of Google Cloud SDK 528).
pub fn classify(stderr: &str) -> Option<Trouble> {
    let first: &[(Trouble, &[&str])] = &[
        (
            Trouble::Network,
            &[
                "Failed to connect",
                "Unable to find the server",
                "Connection refused",
                "ConnectionError",
                "Max retries exceeded",
                "Temporary failure in name resolution",
                "Name or service not known",
                "timed out",
            ],
        ),
        (
            Trouble::NoAccount,
            &[
                "You do not currently have an active account selected",
                "does not have any valid credentials",
                "Reauthentication failed",
                "problem refreshing your current auth tokens",
            ],
        ),
        (
            Trouble::ApiDisabled,
            &[
                "SERVICE_DISABLED",
                "has not been used in project",
                "API has not been",
            ],
        ),
    ];
    let rest: &[(Trouble, &[&str])] = &[
        (
            Trouble::Denied,
            &[
                "PERMISSION_DENIED",
                "does not have permission",
                "Permission denied",
            ],
        ),
        (
            Trouble::NotFound,
            &["Not found: ", "NOT_FOUND", "NAME_UNKNOWN"],
        ),
    ];
    // "… API … is disabled" comes in several wordings: both parts, in that precedence.
    let api_disabled = stderr.contains("API") && stderr.contains("is disabled");
    cli_json::classify_by(stderr, first)
        .or_else(|| api_disabled.then_some(Trouble::ApiDisabled))
        .or_else(|| cli_json::classify_by(stderr, rest))
}

/// A failed gcloud call, explained: not found becomes [`NotFound`]; known troubles get the
/// hint that fixes them.
pub fn explain(e: anyhow::Error, host: &str, kind: &Kind) -> anyhow::Error {
    let Some(trouble) = cli_json::stderr_of(&e).and_then(classify) else {
        return e;
    };
    let api = kind
        .service_api()
        .unwrap_or("containerregistry.googleapis.com");
    let hint = match trouble {
        Trouble::NotFound => return NotFound(format!("{e:#}")).into(),
        Trouble::Network => "gcloud could not reach Google Cloud; check the network (and a proxy: `gcloud config get proxy/address`), then run again".to_string(),
        Trouble::NoAccount => "gcloud has no usable account: run `gcloud auth login` (in CI: `gcloud auth activate-service-account --key-file=KEY_FILE`); `gcloud auth configure-docker` alone does not log in".to_string(),
        Trouble::ApiDisabled => format!("the registry API is disabled in this project: run `gcloud services enable {api}` (or ask a project owner to)"),
        Trouble::Denied => format!("the active gcloud account may not do this on `{host}`; check it with `gcloud config get account` and ask for a role that may list and delete images"),
    };
    cli_json::with_hint(e, &hint)
}

/// The gcloud CLI in front of a gar or gcr registry; what differs between them is asked of
/// the [`Kind`].
pub struct Gcloud {
    pub kind: Kind,
    pub host: String,
    /// `project[/repository][/path]`: where this workspace's repositories live.
    pub path: String,
}

impl Gcloud {
    fn explain(&self) -> impl Fn(anyhow::Error) -> anyhow::Error + '_ {
        |e| explain(e, &self.host, &self.kind)
    }

    fn strip<'a>(&self, full: &'a str) -> &'a str {
        full.strip_prefix(&format!("{}/", self.host))
            .unwrap_or(full)
    }

    pub fn repositories(&self) -> anyhow::Result<Vec<String>> {
        let root = format!("{}/{}", self.host, self.path);
        let mut names: Vec<String> = match self.kind.gcloud_artifacts() {
            false => {
                #[derive(Deserialize)]
                struct Row {
                    name: String,
                }
                let cmd = Cmd::new("gcloud").args([
                    "container",
                    "images",
                    "list",
                    &format!("--repository={root}"),
                    "--format=json",
                ]);
                let rows: Vec<Row> = cli_json::run(&cmd, self.explain())?;
                rows.into_iter()
                    .map(|r| self.strip(&r.name).to_string())
                    .collect()
            }
            true => {
                #[derive(Deserialize)]
                struct Row {
                    package: String,
                }
                let cmd = Cmd::new("gcloud").args([
                    "artifacts",
                    "docker",
                    "images",
                    "list",
                    &root,
                    "--format=json",
                ]);
                let rows: Vec<Row> = cli_json::run(&cmd, self.explain())?;
                rows.into_iter()
                    .map(|r| self.strip(&r.package).to_string())
                    .collect()
            }
        };
        names.sort();
        names.dedup();
        Ok(names)
    }

    pub fn list(&self, repo: &str) -> anyhow::Result<Repo> {
        let manifests = match self.kind.gcloud_artifacts() {
            false => self.list_gcr(repo)?,
            true => self.list_gar(repo)?,
        };
        Ok(Repo {
            name: repo.to_string(),
            manifests,
        })
    }

    /// `gcloud container images list-tags`: one row per manifest.
    fn list_gcr(&self, repo: &str) -> anyhow::Result<Vec<Manifest>> {
        #[derive(Deserialize)]
        struct Time {
            datetime: String,
        }
        #[derive(Deserialize)]
        struct Row {
            digest: String,
            tags: Vec<String>,
            timestamp: Option<Time>,
        }
        let rows: Vec<Row> = cli_json::run(&self.list_cmd(repo), self.explain())?;
        Ok(rows
            .into_iter()
            .map(|r| Manifest {
                digest: r.digest,
                tags: r.tags,
                created: r.timestamp.and_then(|t| cli_json::time(&t.datetime)),
            })
            .collect())
    }

    /// `gcloud artifacts docker images list --include-tags`: one row per manifest, nested
    /// packages included.
    fn list_gar(&self, repo: &str) -> anyhow::Result<Vec<Manifest>> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Tags {
            List(Vec<String>),
            Text(#[allow(dead_code)] String),
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Row {
            package: String,
            version: String,
            tags: Tags,
            create_time: Option<String>,
        }
        let image = format!("{}/{repo}", self.host);
        let cmd = self.list_cmd(repo);
        let rows: Vec<Row> = cli_json::run(&cmd, self.explain())?;
        let mut manifests = Vec::new();
        // Rows of nested packages (`image/sub`) are other repositories.
        for r in rows.into_iter().filter(|r| r.package == image) {
            // With `--include-tags` the tags are a list; the string form means
            // "not asked for", and taking it as "no tags" would make a tagged
            // image look untagged.
            let Tags::List(tags) = r.tags else {
                anyhow::bail!("`{cmd}` printed the tags of `{image}@{}` as text, not as a list, so they are unknown; nothing was changed", r.version);
            };
            manifests.push(Manifest {
                digest: r.version,
                tags,
                created: r.create_time.as_deref().and_then(cli_json::time),
            });
        }
        Ok(manifests)
    }

    /// The listing of one repository's manifests with their tags.
    pub fn list_cmd(&self, repo: &str) -> Cmd {
        let image = format!("{}/{repo}", self.host);
        match self.kind.gcloud_artifacts() {
            false => Cmd::new("gcloud").args([
                "container",
                "images",
                "list-tags",
                &image,
                "--format=json",
            ]),
            true => Cmd::new("gcloud").args([
                "artifacts",
                "docker",
                "images",
                "list",
                &image,
                "--include-tags",
                "--format=json",
            ]),
        }
    }

    /// Commands that remove `tags` (manifests stay): one for all where the kind batches.
    pub fn untag(&self, repo: &str, tags: &[String]) -> Vec<Cmd> {
        let image = format!("{}/{repo}", self.host);
        let names: Vec<String> = tags.iter().map(|t| format!("{image}:{t}")).collect();
        let words: &[&str] = match self.kind.gcloud_artifacts() {
            true => &["artifacts", "docker", "tags", "delete", "--quiet"],
            false => &["container", "images", "untag", "--quiet"],
        };
        self.per_call(words, names)
    }

    /// `gcloud WORDS NAMES…`: one command for every name where the kind batches deletes,
    /// else one per name.
    fn per_call(&self, words: &[&str], names: Vec<String>) -> Vec<Cmd> {
        let cmd = |names: &[String]| {
            Cmd::new("gcloud")
                .args(words.iter().copied())
                .args(names.iter().cloned())
        };
        match self.kind.batches_deletes() {
            true => vec![cmd(&names)],
            false => names.chunks(1).map(cmd).collect(),
        }
    }

    /// Points `repo:tag` at the manifest `digest` on the server (gar: `tags add`, which
    /// replaces an existing tag; gcr: `add-tag`, which prompts without `--quiet`).
    pub fn add_tag(&self, repo: &str, tag: &str, digest: &str) -> Cmd {
        let image = format!("{}/{repo}", self.host);
        let (src, dst) = (format!("{image}@{digest}"), format!("{image}:{tag}"));
        match self.kind.gcloud_artifacts() {
            true => Cmd::new("gcloud").args([
                "artifacts",
                "docker",
                "tags",
                "add",
                &src,
                &dst,
                "--quiet",
            ]),
            false => {
                Cmd::new("gcloud").args(["container", "images", "add-tag", &src, &dst, "--quiet"])
            }
        }
    }

    /// Commands that delete `digests`, untagged first: without `--force-delete-tags` (gcr) or
    /// `--delete-tags` (gar) gcloud refuses a manifest that carries any tag, including one
    /// added after the listing or one the listing did not show.
    pub fn delete(&self, repo: &str, digests: &[String]) -> Vec<Cmd> {
        let image = format!("{}/{repo}", self.host);
        let names: Vec<String> = digests.iter().map(|d| format!("{image}@{d}")).collect();
        let words: &[&str] = match self.kind.gcloud_artifacts() {
            true => &["artifacts", "docker", "images", "delete", "--quiet"],
            false => &["container", "images", "delete", "--quiet"],
        };
        self.per_call(words, names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real texts of Google Cloud SDK 528 (offline runs, REFERENCE.md, the SDK's sources).
    #[test]
    fn stderr_is_classified() {
        let cases = [
            ("ERROR: (gcloud.container.images.list-tags) You do not currently have an active account selected.\nPlease run:\n\n  $ gcloud auth login\n", Some(Trouble::NoAccount)),
            ("ERROR: (gcloud.container.images.list-tags) Not found: gcr.io/proj/app", Some(Trouble::NotFound)),
            ("ERROR: (gcloud.artifacts.docker.images.list) PERMISSION_DENIED: Artifact Registry API has not been used in project 123 before or it is disabled.", Some(Trouble::ApiDisabled)),
            ("ERROR: (gcloud.artifacts.docker.images.delete) PERMISSION_DENIED: Permission 'artifactregistry.versions.delete' denied", Some(Trouble::Denied)),
            ("ERROR: gcloud crashed (ConnectionError): HTTPSConnectionPool(host='oauth2.googleapis.com', port=443): Max retries exceeded", Some(Trouble::Network)),
            ("ERROR: There was a problem refreshing your current auth tokens: Failed to connect", Some(Trouble::Network)),
            ("ERROR: (gcloud.artifacts.docker.images.delete) Cannot delete image x@sha256:aa because it is tagged.", None),
        ];
        cli_json::assert_classified(classify, &cases);
    }

    #[test]
    fn hints_fit_the_trouble() {
        let err = |stderr: &str| -> anyhow::Error {
            crate::exec::CmdError {
                line: "gcloud x".into(),
                status: Some(1),
                stderr: stderr.into(),
            }
            .into()
        };
        let gcr = Kind::Gcr {
            project: "p".into(),
        };
        let gar = Kind::Gar {
            location: "us".into(),
            project: "p".into(),
            repository: "r".into(),
        };
        let hint = |stderr: &str, kind: &Kind| {
            format!("{:#}", explain(err(stderr), "host", kind))
                .lines()
                .last()
                .unwrap()
                .to_string()
        };
        assert_eq!(hint("ERROR: (gcloud.x) You do not currently have an active account selected.", &gcr),
            "hint: gcloud has no usable account: run `gcloud auth login` (in CI: `gcloud auth activate-service-account --key-file=KEY_FILE`); `gcloud auth configure-docker` alone does not log in");
        assert_eq!(hint("ERROR: SERVICE_DISABLED", &gar),
            "hint: the registry API is disabled in this project: run `gcloud services enable artifactregistry.googleapis.com` (or ask a project owner to)");
        assert!(explain(
            err("ERROR: (gcloud.container.images.list-tags) Not found: gcr.io/p/a"),
            "gcr.io",
            &gcr
        )
        .is::<NotFound>());
        assert_eq!(
            hint("ERROR: something else", &gcr),
            "  | ERROR: something else"
        );
    }
}
