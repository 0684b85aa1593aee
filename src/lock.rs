//! `images.lock` at the workspace root: for every published repository, the manifest digest the
//! registry reported for it, the workspace image it was pinned for and the tag it was pinned
//! from. It is what `pin --check`, `refs`, `build --locked` and `promote` read.
//!
//! The file is YAML, one group of lines per repository, sorted by repository, so that a diff
//! shows one changed digest as one changed line and two branches pinning different images merge
//! without conflict:
//!
//! ```yaml
//! "127.0.0.1:5000/kontain/test-node-linux":
//!   image: node/test
//!   tag: CI-42
//!   digest: sha256:…
//! ```
//!
//! Writers merge their entries into the file under an exclusive lock on
//! `.imagemk/images.lock.flock` and replace it atomically.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Deserializer};

use crate::config::{error, Workspace};
use crate::reference;

pub const FILE: &str = "images.lock";

const HEADER: &str = "\
# images.lock: the manifest digest of every published image, as its registry reported it.
# Written by `imagemk pin` and `imagemk push --lock`; checked by `imagemk pin --check`.
";

/// A manifest digest: `sha256:` and 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(String);

impl Digest {
    pub fn parse(text: &str) -> Result<Digest, reference::RefError> {
        reference::check_digest(text)?;
        Ok(Digest(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let text = String::deserialize(d)?;
        Digest::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A repository name with its registry host and no tag (`host/path/name`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Repository(String);

impl<'de> Deserialize<'de> for Repository {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Repository, D::Error> {
        let text = String::deserialize(d)?;
        check_remote(&text).map_err(serde::de::Error::custom)?;
        Ok(Repository(text))
    }
}

/// A remote repository as the lock holds it: a valid repository name that starts with a
/// registry host and carries neither tag nor digest.
fn check_remote(text: &str) -> Result<(), String> {
    if text.contains('@') {
        return Err(format!(
            "`{text}` is a repository key and must not carry a digest"
        ));
    }
    reference::check_repository(text).map_err(|e| e.0)?;
    if reference::split_host(text).0.is_none() {
        return Err(format!(
            "`{text}` has no registry host; a locked repository is a remote name (`host/path/name`)"
        ));
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    image: String,
    tag: String,
    digest: Digest,
}

/// One locked repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `host/path/name`, no tag.
    pub remote: String,
    /// The workspace image id (`component/key`) it was pinned for.
    pub image: String,
    /// The tag it was pinned from.
    pub tag: String,
    pub digest: Digest,
}

impl Entry {
    /// `host/path/name@sha256:…`.
    pub fn pinned(&self) -> String {
        format!("{}@{}", self.remote, self.digest)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lock {
    /// By remote repository.
    pub entries: BTreeMap<String, Entry>,
    /// The line each repository's group starts on, for messages (read locks only).
    lines: BTreeMap<String, usize>,
}

pub fn path(root: &Path) -> PathBuf {
    root.join(FILE)
}

fn flock_path(root: &Path) -> PathBuf {
    root.join(".imagemk").join("images.lock.flock")
}

impl Lock {
    /// Reads `images.lock` under `root`; an absent file is an empty lock.
    pub fn load(root: &Path) -> anyhow::Result<Lock> {
        let file = path(root);
        match std::fs::read_to_string(&file) {
            Ok(text) => Lock::parse(&file, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Lock::default()),
            Err(e) => Err(e).with_context(|| format!("reading `{}`", file.display())),
        }
    }

    /// Parses the text of `file`; errors name the file, line and column.
    pub fn parse(file: &Path, text: &str) -> anyhow::Result<Lock> {
        let raw: BTreeMap<Repository, RawEntry> = error::parse_yaml(file, text)?;
        let mut lock = Lock::default();
        for (Repository(remote), e) in raw {
            reference::check_tag(&e.tag)
                .map_err(|err| anyhow::anyhow!("{}: {err}", place(file, text, &remote)))?;
            lock.lines.insert(remote.clone(), line_of(text, &remote));
            lock.entries.insert(
                remote.clone(),
                Entry {
                    remote,
                    image: e.image,
                    tag: e.tag,
                    digest: e.digest,
                },
            );
        }
        Ok(lock)
    }

    /// Every entry must name an image of `ws`: an error names the file, line, the unknown
    /// image and the nearest known one.
    pub fn check_images(&self, ws: &Workspace) -> anyhow::Result<()> {
        let file = path(&ws.root);
        for e in self.entries.values() {
            if ws.image(&e.image).is_some() {
                continue;
            }
            let ids: Vec<&str> = ws.images.iter().map(|i| i.id.as_str()).collect();
            let line = self.lines.get(&e.remote).copied().unwrap_or(1);
            anyhow::bail!(
                "`{}:{line}`: `{}` is locked for image `{}`, which is not in the workspace: run `imagemk pin` again or remove the entry{}",
                file.display(),
                e.remote,
                e.image,
                error::did_you_mean(&e.image, &ids)
            );
        }
        Ok(())
    }

    /// The line `remote`'s group starts on in the file read (1 when unknown).
    pub fn line(&self, remote: &str) -> usize {
        self.lines.get(remote).copied().unwrap_or(1)
    }

    /// The entries pinned for image `id`.
    pub fn for_image<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries.values().filter(move |e| e.image == id)
    }

    /// The file's text: a header, then one group per repository in order.
    pub fn render(&self) -> String {
        let mut out = String::from(HEADER);
        for e in self.entries.values() {
            out.push_str(&format!(
                "{}:\n  image: {}\n  tag: {}\n  digest: {}\n",
                serde_json::to_string(&e.remote).expect("a string serializes"),
                serde_json::to_string(&e.image).expect("a string serializes"),
                e.tag,
                e.digest
            ));
        }
        out
    }

    /// Merges `entries` into the lock file under `root` (replacing those of the same
    /// repositories, keeping the others) under an exclusive lock, written atomically. Returns
    /// the lock as written.
    pub fn update(root: &Path, entries: Vec<Entry>) -> anyhow::Result<Lock> {
        let _guard = crate::fsx::Flock::acquire(&flock_path(root))?;
        let mut lock = Lock::load(root)?;
        for e in entries {
            lock.entries.insert(e.remote.clone(), e);
        }
        let file = path(root);
        crate::fsx::write_atomic(&file, lock.render().as_bytes())
            .with_context(|| format!("writing `{}`", file.display()))?;
        Ok(lock)
    }
}

/// `file:line` of `remote`'s group.
fn place(file: &Path, text: &str, remote: &str) -> String {
    format!("`{}:{}`", file.display(), line_of(text, remote))
}

/// The 1-based line whose key is `remote` (quoted or not), or 1.
fn line_of(text: &str, remote: &str) -> usize {
    let quoted = serde_json::to_string(remote).unwrap_or_default();
    text.lines()
        .position(|l| {
            let key = l.trim_end().strip_suffix(':').unwrap_or("");
            key == remote || key == quoted || key == format!("'{remote}'")
        })
        .map_or(1, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn entry(remote: &str, image: &str, digest: &str) -> Entry {
        Entry {
            remote: remote.into(),
            image: image.into(),
            tag: "CI-42".into(),
            digest: Digest::parse(digest).unwrap(),
        }
    }

    fn parse(text: &str) -> anyhow::Result<Lock> {
        Lock::parse(Path::new("images.lock"), text)
    }

    #[test]
    fn renders_sorted_groups_and_reads_them_back() {
        let mut lock = Lock::default();
        for e in [
            entry("reg.example.com:5000/k/test-b", "core/b", D2),
            entry("reg.example.com:5000/k/test-a", "core/a", D1),
        ] {
            lock.entries.insert(e.remote.clone(), e);
        }
        let text = lock.render();
        let body: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            body,
            [
                "\"reg.example.com:5000/k/test-a\":",
                "  image: \"core/a\"",
                "  tag: CI-42",
                &format!("  digest: {D1}"),
                "\"reg.example.com:5000/k/test-b\":",
                "  image: \"core/b\"",
                "  tag: CI-42",
                &format!("  digest: {D2}"),
            ]
        );
        let back = parse(&text).unwrap();
        assert_eq!(back.entries, lock.entries);
        assert_eq!(back.lines["reg.example.com:5000/k/test-b"], 7);
        assert_eq!(
            back.entries["reg.example.com:5000/k/test-a"].pinned(),
            format!("reg.example.com:5000/k/test-a@{D1}")
        );
    }

    #[test]
    fn bad_files_name_line_and_column() {
        let cases = [
            (
                "x.io/a:\n  image: c/a\n  tag: t\n  digest: sha256:12\n",
                "`images.lock:2:3`: x.io/a: `sha256:12` is not a sha256 digest (`sha256:` and 64 lowercase hex digits)",
            ),
            (
                "x.io/a:\n  image: c/a\n  tag: t\n  digst: x\n",
                "`images.lock:4:3`: unknown key `digst` in `x.io/a`; did you mean `digest`? (valid keys: image, tag, digest)",
            ),
            (
                "k/a:\n  image: c/a\n  tag: t\n",
                "`images.lock:1:1`: `k/a` has no registry host; a locked repository is a remote name (`host/path/name`)",
            ),
            (
                &format!("x.io/A:\n  image: c/a\n  tag: t\n  digest: {D1}\n"),
                "`images.lock:1:1`: `x.io/A` is not a valid repository name: repository names must be lowercase",
            ),
            (
                &format!("x.io/a:\n  image: c/a\n  tag: -t\n  digest: {D1}\n"),
                "`images.lock:1`: tag `-t` is not a valid docker tag: use letters, digits, `_`, `.` and `-`, not starting with `.` or `-`",
            ),
            ("x.io/a: [1]\n", "`images.lock:1:9`: x.io/a: invalid type: sequence, expected a mapping"),
        ];
        for (text, want) in cases {
            let got = parse(text).unwrap_err().to_string();
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn empty_and_comment_only_files_are_empty_locks() {
        assert!(parse("").unwrap().entries.is_empty());
        assert!(parse(HEADER).unwrap().entries.is_empty());
    }

    #[test]
    fn update_merges_and_keeps_other_entries() {
        let dir = tempfile::tempdir().unwrap();
        Lock::update(dir.path(), vec![entry("x.io/k/a", "c/a", D1)]).unwrap();
        Lock::update(dir.path(), vec![entry("x.io/k/b", "c/b", D1)]).unwrap();
        let lock = Lock::update(dir.path(), vec![entry("x.io/k/a", "c/a", D2)]).unwrap();
        assert_eq!(lock.entries, Lock::load(dir.path()).unwrap().entries);
        assert_eq!(lock.entries["x.io/k/a"].digest.as_str(), D2);
        assert_eq!(lock.entries["x.io/k/b"].digest.as_str(), D1);
    }

    #[test]
    fn concurrent_updates_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let root = root.clone();
                std::thread::spawn(move || {
                    Lock::update(&root, vec![entry(&format!("x.io/k/i{i}"), "c/a", D1)]).unwrap()
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(Lock::load(&root).unwrap().entries.len(), 8);
    }
}
