//! Azure Container Registry through `az acr … --output json`: one listing call per repository
//! (`az acr manifest list-metadata`), `untag` for a tag alone, `delete --yes` by digest (which
//! takes every tag with it, so the caller re-lists right before). [`classify`] reads az's
//! stderr, in one place.

use serde::Deserialize;

use super::backend::NotFound;
use super::cli_json;
use crate::clean::{Manifest, Repo};
use crate::exec::Cmd;

/// What a failed az call means, from its stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trouble {
    /// The registry's login server did not answer (az also warns about `az login` then).
    Network,
    /// `az login` was never run, or its session expired.
    NoLogin,
    /// Logged in, but the registry refused the account.
    Denied,
    /// The repository does not exist.
    NotFound,
}

/// Classifies az's stderr (texts of azure-cli 2.91).
pub fn classify(stderr: &str) -> Option<Trouble> {
    cli_json::classify_by(
        stderr,
        &[
            (
                Trouble::Network,
                &[
                    "Could not connect to the registry login server",
                    "Max retries exceeded",
                    "Failed to establish a new connection",
                ],
            ),
            (
                Trouble::NoLogin,
                &[
                    "Please run 'az login'",
                    "Unable to authenticate using AAD or admin login credentials",
                    "AADSTS",
                    "az login",
                ],
            ),
            (
                Trouble::NotFound,
                &["repository name not known to registry", "NAME_UNKNOWN"],
            ),
            (
                Trouble::Denied,
                &[
                    "authentication required",
                    "unauthorized",
                    "UNAUTHORIZED",
                    "DENIED",
                    "AuthorizationFailed",
                ],
            ),
        ],
    )
}

/// A failed az call, explained: not found becomes [`NotFound`]; known troubles get the hint
/// that fixes them.
pub fn explain(e: anyhow::Error) -> anyhow::Error {
    let Some(trouble) = cli_json::stderr_of(&e).and_then(classify) else {
        return e;
    };
    let hint = match trouble {
        Trouble::NotFound => return NotFound(format!("{e:#}")).into(),
        Trouble::Network => "the registry did not answer: check its `name` in images.yaml and the network (`az acr check-health --name NAME --yes` diagnoses it)",
        Trouble::NoLogin => "az is not logged in: run `az login` (in CI: `az login --service-principal …`); `az acr login` alone fails the same way",
        Trouble::Denied => "the account az uses may not do this on the registry: check it with `az account show` and ask for a role that may read and delete images (e.g. `AcrDelete`)",
    };
    cli_json::with_hint(e, hint)
}

pub struct Acr {
    pub name: String,
    /// Path under the host that repositories must be in (may be empty).
    pub path: String,
}

impl Acr {
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
        let names: Vec<String> = cli_json::run(&cmd, explain)?;
        let under = |n: &String| self.path.is_empty() || n.starts_with(&format!("{}/", self.path));
        Ok(names.into_iter().filter(under).collect())
    }

    pub fn list(&self, repo: &str) -> anyhow::Result<Repo> {
        let rows: Vec<Row> = cli_json::run(&self.list_cmd(repo), explain)?;
        Ok(Repo {
            name: repo.to_string(),
            manifests: rows.into_iter().map(Row::into_manifest).collect(),
        })
    }

    /// Lists the manifests of `repo`, untagged ones included.
    pub fn list_cmd(&self, repo: &str) -> Cmd {
        Cmd::new("az").args([
            "acr",
            "manifest",
            "list-metadata",
            "--registry",
            &self.name,
            "--name",
            repo,
            "--output",
            "json",
        ])
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

    /// Points `repo:tag` at the manifest `digest` of the same registry: an import from itself,
    /// which copies no layer; `--force` replaces an existing tag.
    pub fn import(&self, repo: &str, tag: &str, digest: &str) -> Cmd {
        Cmd::new("az").args([
            "acr",
            "import",
            "--name",
            &self.name,
            "--source",
            &format!("{}.azurecr.io/{repo}@{digest}", self.name),
            "--image",
            &format!("{repo}:{tag}"),
            "--force",
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

/// One manifest as ACR describes it, in `az acr manifest list-metadata` and in the
/// registry's own `/acr/v1/<repo>/_manifests` listing alike.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Row {
    digest: String,
    tags: Option<Vec<String>>,
    created_time: Option<String>,
}

impl Row {
    pub(super) fn into_manifest(self) -> Manifest {
        Manifest {
            digest: self.digest,
            tags: self.tags.unwrap_or_default(),
            created: self.created_time.as_deref().and_then(cli_json::time),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real texts of azure-cli 2.91 (offline runs and REFERENCE.md).
    #[test]
    fn stderr_is_classified() {
        let cases = [
            ("WARNING: Please run 'az login' to setup account.\nERROR: Unable to authenticate using AAD or admin login credentials. Please specify both username and password in non-interactive mode.", Some(Trouble::NoLogin)),
            // Unreachable: az warns about `az login` too, but the fix is elsewhere.
            ("WARNING: Please run 'az login' to setup account.\nUsing 'myacr.azurecr.io' as the default registry login server.\nERROR: Could not connect to the registry login server 'myacr.azurecr.io'. Please verify that the registry exists and the URL 'https://myacr.azurecr.io/v2/' is reachable from your environment.", Some(Trouble::Network)),
            ("ERROR: Error: repository name not known to registry.", Some(Trouble::NotFound)),
            ("ERROR: Error: authentication required, visit https://aka.ms/acr/authorization for more information.", Some(Trouble::Denied)),
            ("WARNING: Command group 'acr manifest' is in preview and under development.\nERROR: something else", None),
        ];
        cli_json::assert_classified(classify, &cases);
    }
}
