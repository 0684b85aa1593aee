//! Clean-up as data: what a registry holds ([`Repo`], [`Manifest`]) and what to do to it
//! ([`Action`]), and what became of each action ([`Status`]). `policy` turns the first into the
//! second without IO; `commands::clean` lists, plans, prints and executes.

pub mod policy;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
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

/// The OCI digest grammar (`algorithm:encoded`): nothing in it can change a URL path or a
/// command's meaning.
static DIGEST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{1,256}$").expect("static regex")
});
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$").expect("static regex"));

impl Repo {
    /// The listing as the planner needs it: one manifest per digest (a listing may show one
    /// digest in several rows; their tags are merged, so no row hides a tag from the plan),
    /// tags sorted and unique, the oldest known creation time. Refuses a digest or tag that
    /// is not valid by the reference grammar: such text from a registry is never planned,
    /// printed as a target, or put into a URL or a command.
    pub fn merged(&self) -> anyhow::Result<Repo> {
        let mut by_digest: BTreeMap<&str, Manifest> = BTreeMap::new();
        for m in &self.manifests {
            if !DIGEST.is_match(&m.digest) {
                anyhow::bail!(
                    "the registry listed `{}` in `{}`, which is not a digest; nothing was changed in this repository",
                    m.digest.escape_debug(),
                    self.name
                );
            }
            if let Some(bad) = m.tags.iter().find(|t| !TAG.is_match(t)) {
                anyhow::bail!(
                    "the registry listed tag `{}` on `{}@{}`, which is not a valid docker tag; nothing was changed in this repository",
                    bad.escape_debug(),
                    self.name,
                    m.digest
                );
            }
            let e = by_digest.entry(&m.digest).or_insert_with(|| Manifest {
                digest: m.digest.clone(),
                tags: Vec::new(),
                created: m.created,
            });
            e.tags.extend(m.tags.iter().cloned());
            e.created = match (e.created, m.created) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let manifests = by_digest
            .into_values()
            .map(|mut m| {
                m.tags.sort();
                m.tags.dedup();
                m
            })
            .collect();
        Ok(Repo {
            name: self.name.clone(),
            manifests,
        })
    }
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

/// What became of an action. Only what happened is reported: an action the run never
/// reached (Ctrl-C) is `NotStarted`, never `Done`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// A dry run: planned, nothing done.
    Planned,
    /// A keep: nothing to do.
    Kept,
    Done,
    Failed(String),
    NotStarted,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Planned => "planned",
            Status::Kept => "kept",
            Status::Done => "done",
            Status::Failed(_) => "failed",
            Status::NotStarted => "not started",
        }
    }
}

/// At most `n` characters of `s` (never cuts inside a character).
pub fn prefix_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

impl Action {
    /// `untag  repo@sha256:0123456789ab  [CI-42 latest]  remove CI-42: reason`.
    pub fn line(&self) -> String {
        let short = match self.digest.split_once(':') {
            Some((alg, hex)) => format!("{alg}:{}", prefix_chars(hex, 12)),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn m(digest: &str, tags: &[&str]) -> Manifest {
        Manifest {
            digest: digest.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            created: None,
        }
    }

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn rows_of_one_digest_are_merged() {
        let repo = Repo {
            name: "app".into(),
            manifests: vec![m(D1, &["CI-42"]), m(D2, &[]), m(D1, &["latest", "CI-42"])],
        };
        let merged = repo.merged().unwrap();
        assert_eq!(
            merged.manifests,
            vec![m(D1, &["CI-42", "latest"]), m(D2, &[])]
        );
    }

    #[test]
    fn text_that_is_no_digest_or_tag_is_refused_not_sliced() {
        let bad = |digest: &str, tags: &[&str]| {
            Repo {
                name: "app".into(),
                manifests: vec![m(digest, tags)],
            }
            .merged()
            .unwrap_err()
            .to_string()
        };
        assert_eq!(
            bad("sha256:ééééééééééééééééééééééééééééééééé", &[]),
            "the registry listed `sha256:ééééééééééééééééééééééééééééééééé` in `app`, which is not a digest; nothing was changed in this repository"
        );
        assert_eq!(
            bad(D1, &["../x"]),
            format!("the registry listed tag `../x` on `app@{D1}`, which is not a valid docker tag; nothing was changed in this repository")
        );
        assert_eq!(bad(D1, &[""]).split('`').nth(1), Some(""));
        let long = format!("a{}", "é".repeat(70));
        assert!(bad(D1, &[&long]).contains("not a valid docker tag"));
    }

    #[test]
    fn lines_never_cut_inside_a_character() {
        let a = Action {
            repository: "app".into(),
            digest: "sha256:éééééééééééééé".into(),
            tags: vec![],
            remove: vec![],
            action: Verb::Delete,
            reason: "no tag".into(),
        };
        assert_eq!(a.line(), "delete app@sha256:éééééééééééé  []  no tag");
        assert_eq!(prefix_chars("ab", 12), "ab");
        assert_eq!(prefix_chars("", 3), "");
    }
}
