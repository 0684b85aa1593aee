//! Google registries through `gcloud … --format=json`: Artifact Registry (`gcloud artifacts
//! docker`) and Container Registry (`gcloud container images`). One listing call per
//! repository; mutations always `--quiet` (they prompt otherwise); gcr batches every tag and
//! digest of a repository into one call.

use serde::Deserialize;

use super::cli_json;
use crate::clean::{Manifest, Repo};
use crate::exec::Cmd;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Gar,
    Gcr,
}

pub struct Gcloud {
    pub flavor: Flavor,
    pub host: String,
    /// `project[/repository][/path]`: where this workspace's repositories live.
    pub path: String,
}

impl Gcloud {
    fn login(&self) -> String {
        format!("gcloud auth configure-docker {}", self.host)
    }

    fn strip<'a>(&self, full: &'a str) -> &'a str {
        full.strip_prefix(&format!("{}/", self.host))
            .unwrap_or(full)
    }

    pub fn repositories(&self) -> anyhow::Result<Vec<String>> {
        let root = format!("{}/{}", self.host, self.path);
        let mut names: Vec<String> = match self.flavor {
            Flavor::Gcr => {
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
                let rows: Vec<Row> = cli_json::run(&cmd, &self.login())?;
                rows.into_iter()
                    .map(|r| self.strip(&r.name).to_string())
                    .collect()
            }
            Flavor::Gar => {
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
                let rows: Vec<Row> = cli_json::run(&cmd, &self.login())?;
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
        let image = format!("{}/{repo}", self.host);
        let manifests = match self.flavor {
            Flavor::Gcr => {
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
                let cmd = Cmd::new("gcloud").args([
                    "container",
                    "images",
                    "list-tags",
                    &image,
                    "--format=json",
                ]);
                let rows: Vec<Row> = cli_json::run(&cmd, &self.login())?;
                rows.into_iter()
                    .map(|r| Manifest {
                        digest: r.digest,
                        tags: r.tags,
                        created: r.timestamp.and_then(|t| cli_json::time(&t.datetime)),
                    })
                    .collect()
            }
            Flavor::Gar => {
                #[derive(Deserialize)]
                #[serde(untagged)]
                enum Tags {
                    List(Vec<String>),
                    Empty(String),
                }
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct Row {
                    package: String,
                    version: String,
                    tags: Tags,
                    create_time: Option<String>,
                }
                let cmd = Cmd::new("gcloud").args([
                    "artifacts",
                    "docker",
                    "images",
                    "list",
                    &image,
                    "--include-tags",
                    "--format=json",
                ]);
                let rows: Vec<Row> = cli_json::run(&cmd, &self.login())?;
                rows.into_iter()
                    .filter(|r| r.package == image)
                    .map(|r| Manifest {
                        digest: r.version,
                        tags: match r.tags {
                            Tags::List(t) => t,
                            Tags::Empty(s) => s
                                .split(',')
                                .filter(|t| !t.is_empty())
                                .map(String::from)
                                .collect(),
                        },
                        created: r.create_time.as_deref().and_then(cli_json::time),
                    })
                    .collect()
            }
        };
        Ok(Repo {
            name: repo.to_string(),
            manifests,
        })
    }

    /// Commands that remove `tags` (manifests stay): gcr takes them all at once.
    pub fn untag(&self, repo: &str, tags: &[String]) -> Vec<Cmd> {
        let image = format!("{}/{repo}", self.host);
        match self.flavor {
            Flavor::Gcr => vec![Cmd::new("gcloud")
                .args(["container", "images", "untag", "--quiet"])
                .args(tags.iter().map(|t| format!("{image}:{t}")))],
            Flavor::Gar => tags
                .iter()
                .map(|t| {
                    Cmd::new("gcloud").args([
                        "artifacts",
                        "docker",
                        "tags",
                        "delete",
                        "--quiet",
                        &format!("{image}:{t}"),
                    ])
                })
                .collect(),
        }
    }

    /// Commands that delete `digests` with their tags (the plan checked every tag may go).
    pub fn delete(&self, repo: &str, digests: &[String]) -> Vec<Cmd> {
        let image = format!("{}/{repo}", self.host);
        match self.flavor {
            Flavor::Gcr => vec![Cmd::new("gcloud")
                .args([
                    "container",
                    "images",
                    "delete",
                    "--quiet",
                    "--force-delete-tags",
                ])
                .args(digests.iter().map(|d| format!("{image}@{d}")))],
            Flavor::Gar => digests
                .iter()
                .map(|d| {
                    Cmd::new("gcloud").args([
                        "artifacts",
                        "docker",
                        "images",
                        "delete",
                        "--quiet",
                        "--delete-tags",
                        &format!("{image}@{d}"),
                    ])
                })
                .collect(),
        }
    }
}
