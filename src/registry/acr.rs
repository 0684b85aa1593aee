//! Azure Container Registry through `az acr … --output json`: one listing call per repository
//! (`az acr manifest list-metadata`), `untag` for a tag alone, `delete --yes` by digest.

use serde::Deserialize;

use super::cli_json;
use crate::clean::{Manifest, Repo};
use crate::exec::Cmd;

pub struct Acr {
    pub name: String,
    /// Path under the host that repositories must be in (may be empty).
    pub path: String,
}

impl Acr {
    fn login(&self) -> String {
        format!("az acr login --name {}", self.name)
    }

    pub fn repositories(&self) -> anyhow::Result<Vec<String>> {
        let cmd = Cmd::new("az").args([
            "acr",
            "repository",
            "list",
            "--name",
            &self.name,
            "--output",
            "json",
        ]);
        let names: Vec<String> = cli_json::run(&cmd, &self.login())?;
        let under = |n: &String| self.path.is_empty() || n.starts_with(&format!("{}/", self.path));
        Ok(names.into_iter().filter(under).collect())
    }

    pub fn list(&self, repo: &str) -> anyhow::Result<Repo> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Row {
            digest: String,
            tags: Option<Vec<String>>,
            created_time: Option<String>,
        }
        let cmd = Cmd::new("az").args([
            "acr",
            "manifest",
            "list-metadata",
            "--registry",
            &self.name,
            "--name",
            repo,
            "--output",
            "json",
        ]);
        let rows: Vec<Row> = cli_json::run(&cmd, &self.login())?;
        Ok(Repo {
            name: repo.to_string(),
            manifests: rows
                .into_iter()
                .map(|r| Manifest {
                    digest: r.digest,
                    tags: r.tags.unwrap_or_default(),
                    created: r.created_time.as_deref().and_then(cli_json::time),
                })
                .collect(),
        })
    }

    /// `az acr repository untag` removes only the tag; the manifest stays.
    pub fn untag(&self, repo: &str, tag: &str) -> Cmd {
        Cmd::new("az").args([
            "acr",
            "repository",
            "untag",
            "--name",
            &self.name,
            "--image",
            &format!("{repo}:{tag}"),
        ])
    }

    /// Deletes the manifest and every tag on it, without a prompt.
    pub fn delete(&self, repo: &str, digest: &str) -> Cmd {
        Cmd::new("az").args([
            "acr",
            "repository",
            "delete",
            "--name",
            &self.name,
            "--image",
            &format!("{repo}@{digest}"),
            "--yes",
        ])
    }
}
