//! The clean-up backend of a registry, chosen from its [`Kind`] here and nowhere else: listing
//! repositories and their manifests, and turning planned actions into steps (commands or HTTP
//! operations, printable for `--dry-run`) that it then performs.

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
}

/// A step and the actions (indices into the repository's plan) it carries out.
#[derive(Debug, Clone)]
pub struct Step {
    pub actions: Vec<usize>,
    pub op: Op,
}

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
        Ok(names)
    }

    /// `times`: creation times are needed (costs two requests per manifest on `oci`).
    pub fn list(&self, repo: &str, times: bool) -> anyhow::Result<Repo> {
        match self {
            Backend::Oci(c) => c.list(repo, times),
            Backend::Acr(a) => a.list(repo),
            Backend::Gcloud(g) => g.list(repo),
        }
    }

    /// The steps that carry out `actions` (all of one repository). Deletes run before untags
    /// so that a batch failure never leaves an image half-handled.
    pub fn steps(&self, repo: &str, actions: &[Action]) -> Vec<Step> {
        let of = |verb: Verb| -> Vec<usize> {
            (0..actions.len())
                .filter(|&i| actions[i].action == verb)
                .collect()
        };
        let (deletes, untags) = (of(Verb::Delete), of(Verb::Untag));
        let mut steps = Vec::new();
        match self {
            Backend::Oci(_) => {
                for &i in &deletes {
                    let op = oci::Op::Delete {
                        repo: repo.into(),
                        digest: actions[i].digest.clone(),
                    };
                    steps.push(Step {
                        actions: vec![i],
                        op: Op::Http(op),
                    });
                }
                for &i in &untags {
                    for tag in &actions[i].remove {
                        let op = oci::Op::Untag {
                            repo: repo.into(),
                            tag: tag.clone(),
                        };
                        steps.push(Step {
                            actions: vec![i],
                            op: Op::Http(op),
                        });
                    }
                }
            }
            Backend::Acr(a) => {
                for &i in &deletes {
                    steps.push(Step {
                        actions: vec![i],
                        op: Op::Cmd(a.delete(repo, &actions[i].digest)),
                    });
                }
                for &i in &untags {
                    for tag in &actions[i].remove {
                        steps.push(Step {
                            actions: vec![i],
                            op: Op::Cmd(a.untag(repo, tag)),
                        });
                    }
                }
            }
            Backend::Gcloud(g) => {
                let digests: Vec<String> =
                    deletes.iter().map(|&i| actions[i].digest.clone()).collect();
                let tags: Vec<(usize, String)> = untags
                    .iter()
                    .flat_map(|&i| actions[i].remove.iter().map(move |t| (i, t.clone())))
                    .collect();
                let batch = g.flavor == Flavor::Gcr;
                if !digests.is_empty() {
                    for (k, cmd) in g.delete(repo, &digests).into_iter().enumerate() {
                        let carried = if batch {
                            deletes.clone()
                        } else {
                            vec![deletes[k]]
                        };
                        steps.push(Step {
                            actions: carried,
                            op: Op::Cmd(cmd),
                        });
                    }
                }
                if !tags.is_empty() {
                    let names: Vec<String> = tags.iter().map(|(_, t)| t.clone()).collect();
                    for (k, cmd) in g.untag(repo, &names).into_iter().enumerate() {
                        let carried = if batch {
                            untags.clone()
                        } else {
                            vec![tags[k].0]
                        };
                        steps.push(Step {
                            actions: carried,
                            op: Op::Cmd(cmd),
                        });
                    }
                }
            }
        }
        steps
    }

    /// The line `--dry-run` prints for a step.
    pub fn render(&self, op: &Op) -> String {
        match (self, op) {
            (Backend::Oci(c), Op::Http(h)) => h.render(&c.http.url("")),
            (_, Op::Http(h)) => h.to_string(),
            (_, Op::Cmd(c)) => c.to_string(),
        }
    }

    pub fn apply(&self, op: &Op) -> anyhow::Result<()> {
        match (self, op) {
            (Backend::Oci(c), Op::Http(h)) => c.apply(h),
            (_, Op::Cmd(c)) => exec::capture(c).map(|_| ()),
            (_, Op::Http(_)) => anyhow::bail!("an HTTP step for a registry reached through a CLI"),
        }
    }
}
