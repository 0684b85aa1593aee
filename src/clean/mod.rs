//! Clean-up as data: what a registry holds ([`Repo`], [`Manifest`]) and what to do to it
//! ([`Action`]). `policy` turns the first into the second without IO; `commands::clean` lists,
//! plans, prints and executes.

pub mod policy;

use serde::Serialize;

/// One manifest of a repository with every tag pointing at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub digest: String,
    pub tags: Vec<String>,
    /// Creation time, when the registry says (or when it was asked for).
    pub created: Option<jiff::Timestamp>,
}

/// A repository (its path under the registry host) and its manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub name: String,
    pub manifests: Vec<Manifest>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    /// Remove some tags; the manifest and its other tags stay.
    Untag,
    /// Delete the manifest (every tag on it is one the policy removes).
    Delete,
    /// Matched the tag selection but a policy keeps it.
    Keep,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Untag => "untag",
            Verb::Delete => "delete",
            Verb::Keep => "keep",
        }
    }
}

/// What to do to one manifest, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    pub repository: String,
    pub digest: String,
    /// Every tag on the manifest.
    pub tags: Vec<String>,
    /// The tags this action removes (all of them for a delete; none for keep).
    pub remove: Vec<String>,
    pub action: Verb,
    pub reason: String,
}

impl Action {
    /// `untag  repo@sha256:0123456789ab  [CI-42 latest]  remove CI-42: reason`.
    pub fn line(&self) -> String {
        let short = match self.digest.split_once(':') {
            Some((alg, hex)) => format!("{alg}:{}", &hex[..hex.len().min(12)]),
            None => self.digest.clone(),
        };
        format!(
            "{:<6} {}@{}  [{}]  {}",
            self.action.as_str(),
            self.repository,
            short,
            self.tags.join(" "),
            self.reason
        )
    }
}
