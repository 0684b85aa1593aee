//! Where the registry HTTP API of Artifact Registry, Container Registry and ACR differs from
//! plain distribution, for the clean-up: how a repository is listed (with untagged manifests
//! and creation times), how a tag alone is removed, which token scope a change needs. Sources
//! are in docs/registries.md ("Registry API with a CLI token").

use std::collections::BTreeMap;

use serde::Deserialize;

use super::oci::{Oci, Op};
use crate::clean::{Manifest, Repo};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// The distribution API alone (`oci` registries).
    Distribution,
    /// Container Registry and Artifact Registry: `tags/list` also carries `manifest` (every
    /// manifest, untagged ones included, with its tags and times) and `child`; a tag is
    /// removed with `DELETE /v2/<repo>/manifests/<tag>` (what `gcloud container images untag`
    /// sends).
    Google,
    /// ACR: `/acr/v1/<repo>/_manifests` lists every manifest with tags and times; a tag is
    /// removed with `DELETE /acr/v1/<repo>/_tags/<tag>` (what `az acr repository untag` sends).
    Acr,
}

impl Dialect {
    /// The step that removes `tag` alone from `repo`.
    pub fn untag(self, repo: &str, tag: &str) -> Op {
        let (repo, tag) = (repo.to_string(), tag.to_string());
        match self {
            Dialect::Distribution => Op::Untag { repo, tag },
            Dialect::Google => Op::DeleteTag { repo, tag },
            Dialect::Acr => Op::AcrUntag { repo, tag },
        }
    }

    /// Whether listings show untagged manifests (`clean --untagged`).
    pub fn lists_untagged(self) -> bool {
        self != Dialect::Distribution
    }

    /// Whether the tags of a manifest to delete are removed first: Google's registries may
    /// refuse to delete a manifest a tag still points at, and gcloud deletes tags first too.
    pub fn untags_before_delete(self) -> bool {
        self == Dialect::Google
    }

    /// The token scope of a DELETE in `repo`.
    pub fn delete_scope(self, repo: &str) -> String {
        match self {
            Dialect::Acr => format!("repository:{repo}:delete"),
            Dialect::Distribution | Dialect::Google => Oci::scope(repo),
        }
    }

    /// The requests that list `repo` (the re-check before deleting, as `--dry-run` shows it).
    pub fn listing(self, base: &str, repo: &str) -> String {
        match self {
            Dialect::Distribution => format!("GET {base}/v2/{repo}/tags/list and HEAD each tag"),
            Dialect::Google => format!("GET {base}/v2/{repo}/tags/list"),
            Dialect::Acr => format!("GET {base}/acr/v1/{repo}/_manifests"),
        }
    }
}

/// One page of Google's `tags/list`.
#[derive(Deserialize)]
struct GoogleTags {
    #[serde(default)]
    child: Vec<String>,
    manifest: Option<BTreeMap<String, GoogleManifest>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GoogleManifest {
    #[serde(default)]
    tag: Vec<String>,
    time_created_ms: Option<String>,
    time_uploaded_ms: Option<String>,
}

/// Milliseconds since the epoch as text; `0` or less (Artifact Registry sends `"0"` for
/// `timeCreatedMs`) or unreadable is no time.
fn millis(text: Option<&str>) -> Option<jiff::Timestamp> {
    let ms: i64 = text?.parse().ok()?;
    (ms > 0)
        .then(|| jiff::Timestamp::from_millisecond(ms).ok())
        .flatten()
}

impl Oci {
    fn google_pages(&self, repo: &str) -> anyhow::Result<Vec<GoogleTags>> {
        let mut pages = Vec::new();
        for reply in self
            .http
            .pages(&format!("/v2/{repo}/tags/list"), &Oci::scope(repo))?
        {
            self.check_listing(repo, &reply)?;
            pages.push(self.http.json(&reply, &format!("tag list for `{repo}`"))?);
        }
        Ok(pages)
    }

    /// Google's listing: one request per repository, untagged manifests and times included.
    pub(super) fn list_google(&self, repo: &str) -> anyhow::Result<Repo> {
        let mut manifests = Vec::new();
        for page in self.google_pages(repo)? {
            // Without the map the tags alone would hide untagged manifests and times.
            let Some(map) = page.manifest else {
                anyhow::bail!("registry `{}` answered `tags/list` of `{repo}` without the `manifest` map Google's registries send; nothing was changed (IMAGEMK_CLOUD_API=0 uses gcloud instead)", self.http.host);
            };
            for (digest, m) in map {
                let created = millis(m.time_created_ms.as_deref())
                    .or_else(|| millis(m.time_uploaded_ms.as_deref()));
                manifests.push(Manifest {
                    digest,
                    tags: m.tag,
                    created,
                });
            }
        }
        Ok(Repo {
            name: repo.to_string(),
            manifests,
        })
    }

    /// The repositories directly under `prefix` on Google's registries.
    pub(super) fn children(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        let mut names = Vec::new();
        for page in self.google_pages(prefix)? {
            names.extend(page.child.into_iter().map(|c| format!("{prefix}/{c}")));
        }
        Ok(names)
    }

    /// ACR's listing: `/acr/v1/<repo>/_manifests`, untagged manifests and times included.
    pub(super) fn list_acr(&self, repo: &str) -> anyhow::Result<Repo> {
        #[derive(Deserialize)]
        struct Page {
            manifests: Option<Vec<super::acr::Row>>,
        }
        let scope = format!("repository:{repo}:metadata_read");
        let mut manifests = Vec::new();
        for reply in self
            .http
            .pages(&format!("/acr/v1/{repo}/_manifests"), &scope)?
        {
            self.check_listing(repo, &reply)?;
            let page: Page = self
                .http
                .json(&reply, &format!("manifest list for `{repo}`"))?;
            manifests.extend(
                page.manifests
                    .unwrap_or_default()
                    .into_iter()
                    .map(super::acr::Row::into_manifest),
            );
        }
        Ok(Repo {
            name: repo.to_string(),
            manifests,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_removal_and_listing_per_dialect() {
        let check = |d: Dialect, untag: &str, listing: &str, untagged: bool, first: bool| {
            assert_eq!(d.untag("ns/app", "CI-1").render("https://r"), untag);
            assert_eq!(d.listing("https://r", "ns/app"), listing);
            assert_eq!(d.lists_untagged(), untagged);
            assert_eq!(d.untags_before_delete(), first);
        };
        check(
            Dialect::Distribution,
            "PUT https://r/v2/ns/app/manifests/CI-1 (an empty OCI index), then DELETE https://r/v2/ns/app/manifests/<its digest>",
            "GET https://r/v2/ns/app/tags/list and HEAD each tag",
            false,
            false,
        );
        check(
            Dialect::Google,
            "DELETE https://r/v2/ns/app/manifests/CI-1",
            "GET https://r/v2/ns/app/tags/list",
            true,
            true,
        );
        check(
            Dialect::Acr,
            "DELETE https://r/acr/v1/ns/app/_tags/CI-1",
            "GET https://r/acr/v1/ns/app/_manifests",
            true,
            false,
        );
        assert_eq!(Dialect::Acr.delete_scope("a"), "repository:a:delete");
        assert_eq!(
            Dialect::Google.delete_scope("a"),
            "repository:a:pull,push,delete"
        );
    }

    #[test]
    fn google_times() {
        let t = |s: &str| millis(Some(s)).map(|t| t.to_string());
        assert_eq!(
            t("1605063108339").as_deref(),
            Some("2020-11-11T02:51:48.339Z")
        );
        assert_eq!(t("0"), None);
        assert_eq!(t("-62135596800000"), None);
        assert_eq!(t("soon"), None);
    }
}
