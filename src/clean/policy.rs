//! The clean-up policy: which tags and manifests go, checked once from the flags, and
//! [`Policy::plan`], which turns a repository's state into actions with reasons. Pure: no IO,
//! the current time is a parameter.

use anyhow::bail;
use jiff::{SignedDuration, Timestamp};
use regex::Regex;

use super::{Action, Manifest, Repo, Verb};

/// The flags as typed.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub tag: Option<String>,
    pub matches: Option<String>,
    pub exclude: Option<String>,
    pub older_than: Option<String>,
    pub keep: Option<usize>,
    pub untagged: bool,
    pub protected: Vec<String>,
}

/// A checked policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub tag: Option<String>,
    matches: Option<Regex>,
    exclude: Option<Regex>,
    older_than: Option<(String, SignedDuration)>,
    keep: Option<usize>,
    pub untagged: bool,
    protected: Vec<String>,
}

impl Policy {
    pub fn new(r: &Request) -> anyhow::Result<Policy> {
        if let Some(tag) = &r.tag {
            if tag.is_empty() {
                bail!("the tag to clean is empty; pass `--tag T` (or `IMAGE_TAG=T`)");
            }
            crate::reference::check_tag(tag)
                .map_err(|e| anyhow::anyhow!("invalid tag to clean: {e}"))?;
            if r.protected.contains(tag) {
                bail!(
                    "tag `{tag}` is protected and is never cleaned (protected tags: {}); change `workspace.protected_tags` in images.yaml to clean it",
                    r.protected.join(", ")
                );
            }
        }
        let regex = |flag: &str, v: &Option<String>| -> anyhow::Result<Option<Regex>> {
            v.as_deref()
                .map(|p| {
                    Regex::new(&anchored(p)).map_err(|e| {
                        anyhow::anyhow!(
                            "`{flag} {p}` is not a valid regular expression: {}",
                            last_line(&e.to_string())
                        )
                    })
                })
                .transpose()
        };
        let policy = Policy {
            tag: r.tag.clone(),
            matches: regex("--match", &r.matches)?,
            exclude: regex("--exclude", &r.exclude)?,
            older_than: r
                .older_than
                .as_deref()
                .map(|a| parse_age(a).map(|d| (a.to_string(), d)))
                .transpose()?,
            keep: r.keep,
            untagged: r.untagged,
            protected: r.protected.clone(),
        };
        if policy.tag.is_none()
            && policy.matches.is_none()
            && policy.older_than.is_none()
            && policy.keep.is_none()
            && !policy.untagged
        {
            bail!("nothing to clean: pass `--tag T` (or `IMAGE_TAG=T`), `--match REGEX`, `--older-than AGE`, `--keep N` or `--untagged`");
        }
        Ok(policy)
    }

    /// Anything wider than one exact tag runs only with `--yes`.
    pub fn is_wide(&self) -> bool {
        self.tag.is_none()
            || self.matches.is_some()
            || self.older_than.is_some()
            || self.keep.is_some()
            || self.untagged
    }

    /// Whether the plan needs creation times (listing them may cost extra requests).
    pub fn needs_time(&self) -> bool {
        self.older_than.is_some() || self.keep.is_some()
    }

    fn selects(&self, tag: &str) -> bool {
        !self.protected.iter().any(|p| p == tag)
            && self.tag.as_deref().is_none_or(|t| t == tag)
            && self.matches.as_ref().is_none_or(|m| m.is_match(tag))
            && !self.exclude.as_ref().is_some_and(|x| x.is_match(tag))
    }

    /// The actions for one repository, newest manifests first. The listing is merged by
    /// digest first ([`Repo::merged`]), so every tag of a manifest is seen at once.
    pub fn plan(&self, repo: &Repo, now: Timestamp) -> anyhow::Result<Vec<Action>> {
        let repo = repo.merged()?;
        let mut manifests: Vec<&Manifest> = repo.manifests.iter().collect();
        manifests.sort_by(|a, b| b.created.cmp(&a.created).then(a.digest.cmp(&b.digest)));
        // An age reaching before the representable range: nothing is that old.
        let cutoff = self
            .older_than
            .as_ref()
            .map(|(_, d)| now.checked_sub(*d).unwrap_or(Timestamp::MIN));
        let mut actions = Vec::new();
        let mut rank = 0;
        for m in manifests {
            let mut tags = m.tags.clone();
            tags.sort();
            let remove: Vec<String> = tags.iter().filter(|t| self.selects(t)).cloned().collect();
            let untagged = tags.is_empty();
            if remove.is_empty() && !(untagged && self.untagged) {
                continue;
            }
            if !untagged {
                rank += 1;
            }
            let (action, remove, reason) = match self.kept(m, untagged, rank, cutoff) {
                Some(reason) => (Verb::Keep, vec![], reason),
                None => removal(&tags, remove),
            };
            actions.push(Action {
                repository: repo.name.clone(),
                digest: m.digest.clone(),
                tags,
                remove,
                action,
                reason,
            });
        }
        Ok(actions)
    }

    /// Why a selected manifest stays all the same: one of the `--keep` newest (`rank` counts
    /// the tagged manifests so far, newest first), or not older than `--older-than` (`cutoff`).
    fn kept(
        &self,
        m: &Manifest,
        untagged: bool,
        rank: usize,
        cutoff: Option<Timestamp>,
    ) -> Option<String> {
        if !untagged {
            if let Some(n) = self.keep.filter(|&n| rank <= n) {
                return Some(format!("one of the {n} newest"));
            }
        }
        if let (Some(cut), Some((age, _))) = (cutoff, &self.older_than) {
            match m.created {
                None => return Some("creation time unknown".into()),
                Some(c) if c >= cut => return Some(format!("not older than {age}")),
                Some(_) => {}
            }
        }
        None
    }
}

/// How a manifest that goes loses the selected tags `remove` of its sorted `tags`: deleted
/// when it has no tag or they are all selected, untagged otherwise; and why.
fn removal(tags: &[String], remove: Vec<String>) -> (Verb, Vec<String>, String) {
    let rest: Vec<&String> = tags.iter().filter(|t| !remove.contains(t)).collect();
    if tags.is_empty() {
        (Verb::Delete, vec![], "no tag".into())
    } else if rest.is_empty() {
        let verb = plural(&remove, "is its only tag", "are its only tags");
        let reason = format!("{} {verb}", quoted(&remove));
        (Verb::Delete, remove, reason)
    } else {
        let reason = format!(
            "remove {}; {} stay{}",
            quoted(&remove),
            quoted(&rest),
            plural(&rest, "s", "")
        );
        (Verb::Untag, remove, reason)
    }
}

/// A `--match` / `--exclude` pattern as a regex over the whole tag (`CI-.*` does not match
/// `xCI-1`), except that a pattern anchored by its author (`^` first or `$` last) is taken as
/// written: `^in-` selects every tag starting with `in-`.
fn anchored(p: &str) -> String {
    let own_end = p.ends_with('$') && !p.ends_with("\\$");
    if p.starts_with('^') || own_end {
        p.to_string()
    } else {
        format!("^(?:{p})$")
    }
}

fn quoted<S: AsRef<str>>(tags: &[S]) -> String {
    tags.iter()
        .map(|t| format!("`{}`", t.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn plural<S>(items: &[S], one: &'static str, many: &'static str) -> &'static str {
    if items.len() == 1 {
        one
    } else {
        many
    }
}

fn last_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("")
        .to_string()
}

/// The largest age `--older-than` takes: 100 years (older is no image in any registry, and
/// far older reaches outside the timestamps the clock can represent).
pub const MAX_AGE_DAYS: i64 = 36_500;

/// `90s`, `15m`, `12h`, `3d`, `2w`, at most [`MAX_AGE_DAYS`].
pub fn parse_age(text: &str) -> anyhow::Result<SignedDuration> {
    let bad = || {
        anyhow::anyhow!(
            "`--older-than {text}` is not an age; write a whole number and a unit (`s`, `m`, `h`, `d`, `w`), e.g. `3d`"
        )
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = text.split_at(split);
    if n.is_empty() {
        return Err(bad());
    }
    let secs: i64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    // Only digits remain in `n`: a number too large for i64 is too long an age.
    match n.parse::<i64>().ok().and_then(|n| n.checked_mul(secs)) {
        Some(s) if s <= MAX_AGE_DAYS * 86_400 => Ok(SignedDuration::from_secs(s)),
        _ => anyhow::bail!(
            "`--older-than {text}` is longer than imagemk accepts; the largest age is `{MAX_AGE_DAYS}d` (100 years)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-11-22T12:00:00Z";

    /// `(digest, tags, days old)`; `None` age: unknown creation time.
    fn repo(manifests: &[(&str, &[&str], Option<i64>)]) -> Repo {
        let now: Timestamp = NOW.parse().unwrap();
        Repo {
            name: "app".into(),
            manifests: manifests
                .iter()
                .map(|(d, tags, age)| Manifest {
                    digest: digest(d),
                    tags: tags.iter().map(|t| t.to_string()).collect(),
                    created: age.map(|days| now - SignedDuration::from_hours(24 * days)),
                })
                .collect(),
        }
    }

    /// A valid digest for a short hex name (`a1` → `sha256:a1000…`); lines show the name.
    fn digest(name: &str) -> String {
        format!("sha256:{name:0<64}")
    }

    fn short(line: String, state: &Repo) -> String {
        state.manifests.iter().fold(line, |l, m| {
            let name = m.digest[7..].trim_end_matches('0');
            l.replace(
                &format!("sha256:{}", &m.digest[7..19]),
                &format!("sha256:{name}"),
            )
        })
    }

    fn req(f: impl FnOnce(&mut Request)) -> Request {
        let mut r = Request {
            protected: vec!["latest".into(), "prod".into()],
            ..Default::default()
        };
        f(&mut r);
        r
    }

    fn check(r: Request, state: Repo, expected: &[&str]) {
        let got: Vec<String> = Policy::new(&r)
            .unwrap()
            .plan(&state, NOW.parse().unwrap())
            .unwrap()
            .iter()
            .map(|a| short(a.line(), &state))
            .collect();
        assert_eq!(got, expected);
    }

    fn fails(r: Request, expected: &str) {
        assert_eq!(Policy::new(&r).unwrap_err().to_string(), expected);
    }

    #[test]
    fn one_tag() {
        let state = repo(&[
            ("aa", &["CI-42"], Some(3)),
            ("bb", &["CI-42", "latest"], Some(2)),
            ("cc", &["CI-41"], Some(1)),
        ]);
        check(
            req(|r| r.tag = Some("CI-42".into())),
            state.clone(),
            &[
                "untag  app@sha256:bb  [CI-42 latest]  remove `CI-42`; `latest` stays",
                "delete app@sha256:aa  [CI-42]  `CI-42` is its only tag",
            ],
        );
        check(req(|r| r.tag = Some("CI-40".into())), state, &[]);
    }

    #[test]
    fn regex_exclude_keep_and_age() {
        let state = repo(&[
            ("a1", &["CI-1"], Some(10)),
            ("a2", &["CI-2", "nightly"], Some(8)),
            ("a3", &["CI-3"], Some(5)),
            ("a4", &["CI-4", "prod"], Some(2)),
            ("a5", &["CI-5"], None),
            ("a6", &["v1"], Some(30)),
        ]);
        check(
            req(|r| r.matches = Some("CI-[0-9]+".into())),
            state.clone(),
            &[
                "untag  app@sha256:a4  [CI-4 prod]  remove `CI-4`; `prod` stays",
                "delete app@sha256:a3  [CI-3]  `CI-3` is its only tag",
                "untag  app@sha256:a2  [CI-2 nightly]  remove `CI-2`; `nightly` stays",
                "delete app@sha256:a1  [CI-1]  `CI-1` is its only tag",
                "delete app@sha256:a5  [CI-5]  `CI-5` is its only tag",
            ],
        );
        check(
            req(|r| {
                r.matches = Some("CI-.*".into());
                r.exclude = Some("CI-[12]".into());
                r.keep = Some(1);
            }),
            state.clone(),
            &[
                "keep   app@sha256:a4  [CI-4 prod]  one of the 1 newest",
                "delete app@sha256:a3  [CI-3]  `CI-3` is its only tag",
                "delete app@sha256:a5  [CI-5]  `CI-5` is its only tag",
            ],
        );
        check(
            req(|r| {
                r.matches = Some("CI-.*".into());
                r.older_than = Some("7d".into());
            }),
            state.clone(),
            &[
                "keep   app@sha256:a4  [CI-4 prod]  not older than 7d",
                "keep   app@sha256:a3  [CI-3]  not older than 7d",
                "untag  app@sha256:a2  [CI-2 nightly]  remove `CI-2`; `nightly` stays",
                "delete app@sha256:a1  [CI-1]  `CI-1` is its only tag",
                "keep   app@sha256:a5  [CI-5]  creation time unknown",
            ],
        );
        // An age alone selects every unprotected tag.
        check(
            req(|r| r.older_than = Some("20d".into())),
            state,
            &[
                "keep   app@sha256:a4  [CI-4 prod]  not older than 20d",
                "keep   app@sha256:a3  [CI-3]  not older than 20d",
                "keep   app@sha256:a2  [CI-2 nightly]  not older than 20d",
                "keep   app@sha256:a1  [CI-1]  not older than 20d",
                "delete app@sha256:a6  [v1]  `v1` is its only tag",
                "keep   app@sha256:a5  [CI-5]  creation time unknown",
            ],
        );
    }

    #[test]
    fn untagged_and_several_tags() {
        let state = repo(&[
            ("e1", &[], Some(3)),
            ("f1", &["CI-1", "CI-2"], Some(1)),
            ("fe", &["latest", "prod"], Some(9)),
        ]);
        check(
            req(|r| {
                r.matches = Some("CI-.*".into());
                r.untagged = true;
            }),
            state.clone(),
            &[
                "delete app@sha256:f1  [CI-1 CI-2]  `CI-1`, `CI-2` are its only tags",
                "delete app@sha256:e1  []  no tag",
            ],
        );
        // Protected tags are never selected, even by a regex that matches them.
        check(
            req(|r| r.matches = Some(".*".into())),
            state,
            &["delete app@sha256:f1  [CI-1 CI-2]  `CI-1`, `CI-2` are its only tags"],
        );
    }

    #[test]
    fn bad_input() {
        fails(
            req(|r| r.tag = Some("".into())),
            "the tag to clean is empty; pass `--tag T` (or `IMAGE_TAG=T`)",
        );
        fails(
            req(|r| r.tag = Some("latest".into())),
            "tag `latest` is protected and is never cleaned (protected tags: latest, prod); change `workspace.protected_tags` in images.yaml to clean it",
        );
        fails(
            req(|r| r.matches = Some("CI-(".into())),
            "`--match CI-(` is not a valid regular expression: error: unclosed group",
        );
        fails(
            req(|r| r.older_than = Some("3 days".into())),
            "`--older-than 3 days` is not an age; write a whole number and a unit (`s`, `m`, `h`, `d`, `w`), e.g. `3d`",
        );
        fails(
            req(|r| r.older_than = Some("d".into())),
            "`--older-than d` is not an age; write a whole number and a unit (`s`, `m`, `h`, `d`, `w`), e.g. `3d`",
        );
        for age in [
            "5000000d",
            "36501d",
            "99999999999999999999d",
            "9223372036854775807s",
        ] {
            fails(
                req(|r| r.older_than = Some(age.into())),
                &format!("`--older-than {age}` is longer than imagemk accepts; the largest age is `36500d` (100 years)"),
            );
        }
        for age in ["", "-3d", "+3d", "3", "3é", "é", "3 d", "3D"] {
            assert!(
                Policy::new(&req(|r| r.older_than = Some(age.into())))
                    .unwrap_err()
                    .to_string()
                    .ends_with("is not an age; write a whole number and a unit (`s`, `m`, `h`, `d`, `w`), e.g. `3d`"),
                "{age}"
            );
        }
        fails(req(|_| {}), "nothing to clean: pass `--tag T` (or `IMAGE_TAG=T`), `--match REGEX`, `--older-than AGE`, `--keep N` or `--untagged`");
    }

    /// Issue 8 item 16: the largest age plans without overflow, whatever `now` is.
    #[test]
    fn the_largest_age_never_overflows() {
        let p = Policy::new(&req(|r| {
            r.matches = Some("CI-.*".into());
            r.older_than = Some("36500d".into());
        }))
        .unwrap();
        let state = repo(&[("a1", &["CI-1"], Some(10))]);
        for now in [
            Timestamp::MIN,
            "0001-01-01T00:00:00Z".parse().unwrap(),
            Timestamp::MAX,
        ] {
            let got = p.plan(&state, now).unwrap();
            assert_eq!(got.len(), 1);
        }
        let got = p.plan(&state, Timestamp::MIN).unwrap();
        assert_eq!(got[0].action, Verb::Keep);
    }

    /// Issue 8 item 5: a digest listed in two rows is one manifest; `CI-42` is untagged and
    /// `latest` (in the other row) keeps the image.
    #[test]
    fn rows_of_one_digest_plan_as_one_manifest() {
        let state = repo(&[("d1", &["CI-42"], Some(3)), ("d1", &["latest"], Some(3))]);
        check(
            req(|r| r.tag = Some("CI-42".into())),
            state,
            &["untag  app@sha256:d1  [CI-42 latest]  remove `CI-42`; `latest` stays"],
        );
    }

    #[test]
    fn width() {
        let wide = |f: fn(&mut Request)| Policy::new(&req(f)).unwrap().is_wide();
        assert!(!wide(|r| r.tag = Some("CI-1".into())));
        assert!(wide(|r| r.matches = Some("CI-1".into())));
        assert!(wide(|r| {
            r.tag = Some("CI-1".into());
            r.keep = Some(2);
        }));
    }

    #[test]
    fn patterns_match_the_whole_tag_unless_anchored() {
        let m = |p: &str, tag: &str| Regex::new(&anchored(p)).unwrap().is_match(tag);
        assert!(m("CI-.*", "CI-1") && !m("CI-.*", "xCI-1"));
        assert!(!m("in-", "in-0123456789abcdef"));
        assert!(m("^in-", "in-0123456789abcdef") && !m("^in-", "xin-1"));
        assert!(m("-1$", "CI-1") && !m("-1$", "CI-12"));
        assert!(m("a|b", "a") && !m("a|b", "ab"));
        assert!(!m("a\\$", "xa$") && m("a\\$", "a$"));
    }
}
