//! The clean-up backend of a registry, chosen from its [`Kind`] here and nowhere else: listing
//! repositories and their manifests, and turning planned actions into steps (commands or HTTP
//! operations, printable for `--dry-run`) that it then performs.
//!
//! Deleting a manifest deletes every tag on it, including tags added after the listing or
//! never shown by it (gar shows at most 100 tags per version). So deletion runs in two
//! phases: [`Backend::untag_steps`] removes selected tags alone; then, per backend, either the
//! delete itself refuses a manifest that still carries a tag (gcloud without
//! `--force-delete-tags` / `--delete-tags`), or the repository is listed again right before
//! the delete and a manifest carrying a tag the plan did not select is not deleted (oci, acr:
//! their deletes take every tag with them).
//!
//! gar, gcr and acr go through the registry HTTP API with one CLI token per run
//! (`registry::token`) wherever their API serves the operation, and through their CLI only
//! where it does not (gar's repository list) or when `IMAGEMK_CLOUD_API=0` asks for it.

use super::acr::Acr;
use super::gcloud::Gcloud;
use super::oci::{self, Oci};
use super::{token, Kind, Registry};
use crate::clean::{Action, Repo, Verb};
use crate::config::Env;
use crate::exec::{self, Cmd};

pub enum Backend {
    /// The registry HTTP API: `oci` registries, and gar, gcr and acr with a CLI token.
    /// `lister` lists the repositories where the API does not (gar).
    Api {
        api: Box<Oci>,
        lister: Option<Gcloud>,
    },
    /// Every operation through `az`.
    Acr(Acr),
    /// Every operation through `gcloud`.
    Gcloud(Gcloud),
}

/// One thing to do, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Cmd(Cmd),
    Http(oci::Op),
    /// List the repository again and keep only deletes whose manifest carries no tag the
    /// plan did not select (rendered with the listing it runs).
    Recheck(String),
}

/// A step and the actions (indices into the repository's plan) it carries out.
#[derive(Debug, Clone)]
pub struct Step {
    pub actions: Vec<usize>,
    pub op: Op,
}

/// A listing that found no repository: nothing to clean (a repository with blobs but no
/// manifest, one deleted meanwhile, a name given with `--repository` that does not exist).
#[derive(Debug)]
pub struct NotFound(pub String);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for NotFound {}

impl Backend {
    pub fn new(reg: &Registry, env: &Env) -> anyhow::Result<Backend> {
        if token::uses_api(&reg.kind, env) {
            return Self::api(reg, env);
        }
        if let Some(cli) = reg.kind.cli() {
            exec::require(cli)?;
        }
        Ok(match &reg.kind {
            Kind::Acr { name } => Backend::Acr(Acr {
                name: name.clone(),
                path: reg.path.clone(),
            }),
            Kind::Gar { .. } | Kind::Gcr { .. } => Backend::Gcloud(gcloud_cli(reg)),
            // No CLI stands in front of oci: its API is all there is.
            Kind::Oci => return Self::api(reg, env),
        })
    }

    /// The registry API, with gcloud listing the repositories where the API does not.
    fn api(reg: &Registry, env: &Env) -> anyhow::Result<Backend> {
        let lister = match reg.kind.api_lists_repositories() {
            true => None,
            false => Some(gcloud_cli(reg)),
        };
        let api = Box::new(token::oci_for(reg, env)?);
        Ok(Backend::Api { api, lister })
    }

    pub fn repositories(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        let mut names = match self {
            Backend::Api {
                lister: Some(g), ..
            } => g.repositories()?,
            Backend::Api { api, .. } => api.repositories(prefix)?,
            Backend::Acr(a) => a.repositories()?,
            Backend::Gcloud(g) => g.repositories()?,
        };
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// `times`: creation times are needed (costs two requests per manifest on `oci`). A
    /// repository that does not exist fails with [`NotFound`].
    pub fn list(&self, repo: &str, times: bool) -> anyhow::Result<Repo> {
        match self {
            Backend::Api { api, .. } => api.list(repo, times),
            Backend::Acr(a) => a.list(repo),
            Backend::Gcloud(g) => g.list(repo),
        }
    }

    /// The manifest digest `repo:reference` has in the registry as the registry reports it,
    /// or None when the tag (or the repository) is not there. oci: `Docker-Content-Digest` of
    /// a manifest HEAD with every `Accept` type; gar, gcr, acr: the repository's listing (one
    /// CLI call), the manifest that carries the tag.
    pub fn digest(&self, repo: &str, reference: &str) -> anyhow::Result<Option<String>> {
        if let Backend::Api { api, .. } = self {
            return api.digest(repo, reference);
        }
        match self.list(repo, false) {
            Ok(listing) => Ok(listing
                .manifests
                .into_iter()
                .find(|m| m.tags.iter().any(|t| t == reference))
                .map(|m| m.digest)),
            Err(e) if e.is::<NotFound>() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// What [`Backend::digest`] asks, for `--dry-run`.
    pub fn digest_call(&self, repo: &str, reference: &str) -> String {
        match self {
            Backend::Api { api, .. } => format!(
                "HEAD {} (Accept: every manifest type; read Docker-Content-Digest)",
                api.http.url(&format!("/v2/{repo}/manifests/{reference}"))
            ),
            Backend::Acr(a) => format!(
                "{} (the digest of the manifest tagged `{reference}`)",
                a.list_cmd(repo)
            ),
            Backend::Gcloud(g) => format!(
                "list the manifests of `{}/{repo}` with gcloud (the digest of the one tagged `{reference}`)",
                g.host
            ),
        }
    }

    /// Whether a delete by digest refuses by itself a manifest that carries a tag (then no
    /// re-check is needed, and the selected tags must be removed first).
    fn delete_refuses_tagged(&self) -> bool {
        matches!(self, Backend::Gcloud(_))
    }

    /// Whether the tags of a manifest to delete are removed before it (gcloud's delete
    /// refuses a tagged manifest; Google's registry API may too).
    fn untags_before_delete(&self) -> bool {
        match self {
            Backend::Api { api, .. } => api.dialect.untags_before_delete(),
            Backend::Acr(_) => false,
            Backend::Gcloud(_) => true,
        }
    }

    /// Phase 1: remove the selected tags alone. Every backend untags the tags of untag
    /// actions; gcloud (and Google's API) also those of delete actions.
    pub fn untag_steps(&self, repo: &str, actions: &[Action]) -> Vec<Step> {
        let also_deletes = self.untags_before_delete();
        let tags: Vec<(usize, String)> = (0..actions.len())
            .filter(|&i| {
                actions[i].action == Verb::Untag
                    || (also_deletes && actions[i].action == Verb::Delete)
            })
            .flat_map(|i| actions[i].remove.iter().map(move |t| (i, t.clone())))
            .collect();
        if tags.is_empty() {
            return Vec::new();
        }
        let one = |(i, op): (usize, Op)| Step {
            actions: vec![i],
            op,
        };
        match self {
            Backend::Api { api, .. } => tags
                .into_iter()
                .map(|(i, tag)| (i, Op::Http(api.dialect.untag(repo, &tag))))
                .map(one)
                .collect(),
            Backend::Acr(a) => tags
                .into_iter()
                .map(|(i, tag)| (i, Op::Cmd(a.untag(repo, &tag))))
                .map(one)
                .collect(),
            Backend::Gcloud(g) => {
                let names: Vec<String> = tags.iter().map(|(_, t)| t.clone()).collect();
                let cmds = g.untag(repo, &names);
                batched(cmds, &tags.iter().map(|(i, _)| *i).collect::<Vec<_>>())
            }
        }
    }

    /// The re-check before deleting, when the delete itself does not refuse tagged manifests.
    pub fn recheck_step(&self, repo: &str, deletes: &[usize]) -> Option<Step> {
        if deletes.is_empty() || self.delete_refuses_tagged() {
            return None;
        }
        let listing = match self {
            Backend::Api { api, .. } => api.dialect.listing(&api.http.url(""), repo),
            Backend::Acr(a) => a.list_cmd(repo).to_string(),
            Backend::Gcloud(_) => return None,
        };
        Some(Step {
            actions: deletes.to_vec(),
            op: Op::Recheck(listing),
        })
    }

    /// Phase 2: delete the manifests of `which` (delete actions whose untag steps succeeded
    /// and that passed the re-check).
    pub fn delete_steps(&self, repo: &str, actions: &[Action], which: &[usize]) -> Vec<Step> {
        if which.is_empty() {
            return Vec::new();
        }
        let digests: Vec<String> = which.iter().map(|&i| actions[i].digest.clone()).collect();
        match self {
            Backend::Api { .. } => which
                .iter()
                .zip(digests)
                .map(|(&i, digest)| Step {
                    actions: vec![i],
                    op: Op::Http(oci::Op::Delete {
                        repo: repo.into(),
                        digest,
                    }),
                })
                .collect(),
            Backend::Acr(a) => which
                .iter()
                .zip(digests)
                .map(|(&i, d)| Step {
                    actions: vec![i],
                    op: Op::Cmd(a.delete(repo, &d)),
                })
                .collect(),
            Backend::Gcloud(g) => batched(g.delete(repo, &digests), which),
        }
    }

    /// The line `--dry-run` prints for a step.
    pub fn render(&self, op: &Op) -> String {
        match (self, op) {
            (Backend::Api { api, .. }, Op::Http(h)) => h.render(&api.http.url("")),
            (_, Op::Http(h)) => h.to_string(),
            (_, Op::Cmd(c)) => c.to_string(),
            (_, Op::Recheck(listing)) => format!(
                "{listing} (re-check: a manifest that now carries a tag not selected is not deleted)"
            ),
        }
    }

    /// Performs a step (a re-check is done by the caller, with [`Backend::list`]).
    pub fn apply(&self, op: &Op) -> anyhow::Result<()> {
        self.apply_with(op, exec::capture)
    }

    /// [`Backend::apply`] running commands through `run` (clean-up and rollback pass
    /// [`exec::capture_cleanup`], which still runs after Ctrl-C).
    pub fn apply_with(
        &self,
        op: &Op,
        run: fn(&Cmd) -> anyhow::Result<exec::Captured>,
    ) -> anyhow::Result<()> {
        match (self, op) {
            (Backend::Api { api, .. }, Op::Http(h)) => api.apply(h),
            (Backend::Acr(_), Op::Cmd(c)) => run(c).map(|_| ()).map_err(super::acr::explain),
            (Backend::Gcloud(g), Op::Cmd(c)) => run(c)
                .map(|_| ())
                .map_err(|e| super::gcloud::explain(e, &g.host, &g.kind)),
            (_, Op::Cmd(c)) => run(c).map(|_| ()),
            (_, Op::Http(_)) => anyhow::bail!("an HTTP step for a registry reached through a CLI"),
            (_, Op::Recheck(_)) => Ok(()),
        }
    }
}

/// The gcloud CLI backend of a gar or gcr registry.
fn gcloud_cli(reg: &Registry) -> Gcloud {
    Gcloud {
        kind: reg.kind.clone(),
        host: reg.host.clone(),
        path: reg.path.clone(),
    }
}

/// Steps for gcloud commands: one per item (gar) or one for all (gcr batches a repository).
fn batched(cmds: Vec<Cmd>, items: &[usize]) -> Vec<Step> {
    let single = cmds.len() == 1 && items.len() > 1;
    cmds.into_iter()
        .enumerate()
        .map(|(k, cmd)| {
            let mut actions = if single {
                items.to_vec()
            } else {
                vec![items[k]]
            };
            actions.dedup();
            Step {
                actions,
                op: Op::Cmd(cmd),
            }
        })
        .collect()
}
