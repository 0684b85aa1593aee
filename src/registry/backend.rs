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

use super::acr::Acr;
use super::gcloud::{Flavor, Gcloud};
use super::oci::{self, Oci};
use super::{Kind, Registry};
use crate::clean::{Action, Repo, Verb};
use crate::config::Env;
use crate::exec::{self, Cmd};

pub enum Backend {
    Oci(Oci),
    Acr(Acr),
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
        Ok(match &reg.kind {
            Kind::Oci => Backend::Oci(Oci::new(&reg.host, env)?),
            Kind::Acr { name } => {
                exec::require("az")?;
                Backend::Acr(Acr {
                    name: name.clone(),
                    path: reg.path.clone(),
                })
            }
            Kind::Gar { .. } | Kind::Gcr { .. } => {
                exec::require("gcloud")?;
                let flavor = if matches!(reg.kind, Kind::Gar { .. }) {
                    Flavor::Gar
                } else {
                    Flavor::Gcr
                };
                Backend::Gcloud(Gcloud {
                    flavor,
                    host: reg.host.clone(),
                    path: reg.path.clone(),
                })
            }
        })
    }

    pub fn repositories(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        let mut names = match self {
            Backend::Oci(c) => c.repositories(prefix)?,
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
            Backend::Oci(c) => c.list(repo, times),
            Backend::Acr(a) => a.list(repo),
            Backend::Gcloud(g) => g.list(repo),
        }
    }

    /// The manifest digest `repo:reference` has in the registry as the registry reports it,
    /// or None when the tag (or the repository) is not there. oci: `Docker-Content-Digest` of
    /// a manifest HEAD with every `Accept` type; gar, gcr, acr: the repository's listing (one
    /// CLI call), the manifest that carries the tag.
    pub fn digest(&self, repo: &str, reference: &str) -> anyhow::Result<Option<String>> {
        if let Backend::Oci(c) = self {
            return c.digest(repo, reference);
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
            Backend::Oci(c) => format!(
                "HEAD {} (Accept: every manifest type; read Docker-Content-Digest)",
                c.http.url(&format!("/v2/{repo}/manifests/{reference}"))
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

    /// Phase 1: remove the selected tags alone. Every backend untags the tags of untag
    /// actions; gcloud also those of delete actions (its delete refuses a tagged manifest).
    pub fn untag_steps(&self, repo: &str, actions: &[Action]) -> Vec<Step> {
        let also_deletes = self.delete_refuses_tagged();
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
            Backend::Oci(_) => tags
                .into_iter()
                .map(|(i, tag)| {
                    (
                        i,
                        Op::Http(oci::Op::Untag {
                            repo: repo.into(),
                            tag,
                        }),
                    )
                })
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
            Backend::Oci(c) => format!(
                "GET {} and HEAD each tag",
                c.http.url(&format!("/v2/{repo}/tags/list"))
            ),
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
            Backend::Oci(_) => which
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
            (Backend::Oci(c), Op::Http(h)) => h.render(&c.http.url("")),
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
            (Backend::Oci(c), Op::Http(h)) => c.apply(h),
            (Backend::Acr(_), Op::Cmd(c)) => run(c).map(|_| ()).map_err(super::acr::explain),
            (Backend::Gcloud(g), Op::Cmd(c)) => run(c)
                .map(|_| ())
                .map_err(|e| super::gcloud::explain(e, &g.host)),
            (_, Op::Cmd(c)) => run(c).map(|_| ()),
            (_, Op::Http(_)) => anyhow::bail!("an HTTP step for a registry reached through a CLI"),
            (_, Op::Recheck(_)) => Ok(()),
        }
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
