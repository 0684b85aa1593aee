//! The one primitive of publishing by digest: point tag T of repository R at digest D, on the
//! registry itself (no pull, no push, no layer moved), as a step `--dry-run` prints. Also its
//! inverse for a rollback (point back at the old digest, or remove a tag that did not exist)
//! and the read of the digest a tag points at now. `promote` and the last step of
//! `push --atomic` use it through [`super::moves`].
//!
//! - oci: GET `manifests/<D>` with every `Accept` type, PUT the exact bytes under `T` with the
//!   `Content-Type` the GET returned (so an index stays an index); a tag is removed alone by
//!   the throwaway-manifest untag of clean-up.
//! - gar: `gcloud artifacts docker tags add R@D R:T`; gcr: `gcloud container images add-tag
//!   R@D R:T`; acr: `az acr import` from the registry itself with `--force`. Tags are removed
//!   with the untag commands of clean-up. Reads are one listing per repository.

use std::collections::BTreeMap;

use super::backend::{Backend, NotFound, Op};
use super::oci;

impl Backend {
    /// The step that points `repo:tag` at the manifest `digest` of `repo`.
    pub fn point(&self, repo: &str, tag: &str, digest: &str) -> Op {
        match self {
            Backend::Api { .. } => Op::Http(oci::Op::Point {
                repo: repo.into(),
                tag: tag.into(),
                digest: digest.into(),
            }),
            Backend::Acr(a) => Op::Cmd(a.import(repo, tag, digest)),
            Backend::Gcloud(g) => Op::Cmd(g.add_tag(repo, tag, digest)),
        }
    }

    /// The step that removes `repo:tag` alone; its manifest and other tags stay.
    pub fn remove(&self, repo: &str, tag: &str) -> Op {
        match self {
            Backend::Api { api, .. } => Op::Http(api.dialect.untag(repo, tag)),
            Backend::Acr(a) => Op::Cmd(a.untag(repo, tag)),
            Backend::Gcloud(g) => {
                let mut cmds = g.untag(repo, &[tag.to_string()]);
                Op::Cmd(cmds.remove(0))
            }
        }
    }

    /// The calls [`Backend::current`] makes, as `--dry-run` prints them.
    pub fn read_lines(&self, repo: &str, tags: &[String]) -> Vec<String> {
        match self {
            Backend::Api { api: c, .. } => tags
                .iter()
                .map(|t| format!("HEAD {}", c.http.url(&format!("/v2/{repo}/manifests/{t}"))))
                .collect(),
            Backend::Acr(a) => vec![a.list_cmd(repo).to_string()],
            Backend::Gcloud(g) => vec![g.list_cmd(repo).to_string()],
        }
    }

    /// The digest each of `tags` of `repo` points at now (absent: no such tag, or no such
    /// repository). One HEAD per tag on oci, one listing of the repository elsewhere.
    pub fn current(
        &self,
        repo: &str,
        tags: &[String],
    ) -> anyhow::Result<BTreeMap<String, Option<String>>> {
        let mut out: BTreeMap<String, Option<String>> =
            tags.iter().map(|t| (t.clone(), None)).collect();
        if let Backend::Api { api: c, .. } = self {
            for tag in tags {
                out.insert(tag.clone(), c.digest(repo, tag)?);
            }
            return Ok(out);
        }
        let listed = match self.list(repo, false) {
            Ok(r) => r,
            Err(e) if e.is::<NotFound>() => return Ok(out),
            Err(e) => return Err(e),
        };
        for m in listed.manifests {
            for t in m.tags {
                if let Some(slot) = out.get_mut(&t) {
                    *slot = Some(m.digest.clone());
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::acr::Acr;
    use crate::registry::gcloud::Gcloud;
    use crate::registry::Kind;

    const D: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn line(b: &Backend, op: &Op) -> String {
        b.render(op)
    }

    #[test]
    fn the_primitive_per_kind() {
        let gar = Backend::Gcloud(Gcloud {
            kind: Kind::Gar {
                location: "us".into(),
                project: "p".into(),
                repository: "r".into(),
            },
            host: "us-docker.pkg.dev".into(),
            path: "p/r".into(),
        });
        assert_eq!(
            line(&gar, &gar.point("p/r/img", "prod", D)),
            format!("gcloud artifacts docker tags add us-docker.pkg.dev/p/r/img@{D} us-docker.pkg.dev/p/r/img:prod --quiet")
        );
        assert_eq!(
            line(&gar, &gar.remove("p/r/img", "prod")),
            "gcloud artifacts docker tags delete --quiet us-docker.pkg.dev/p/r/img:prod"
        );
        let gcr = Backend::Gcloud(Gcloud {
            kind: Kind::Gcr {
                project: "p".into(),
            },
            host: "gcr.io".into(),
            path: "p".into(),
        });
        assert_eq!(
            line(&gcr, &gcr.point("p/img", "prod", D)),
            format!("gcloud container images add-tag gcr.io/p/img@{D} gcr.io/p/img:prod --quiet")
        );
        let acr = Backend::Acr(Acr {
            name: "myacr".into(),
            path: String::new(),
        });
        assert_eq!(
            line(&acr, &acr.point("k/img", "prod", D)),
            format!("az acr import --name myacr --source myacr.azurecr.io/k/img@{D} --image k/img:prod --force")
        );
        assert_eq!(
            line(&acr, &acr.remove("k/img", "prod")),
            "az acr repository untag --name myacr --image k/img:prod"
        );
    }
}
