//! The input digest of an image: everything that decides what its `docker build` produces,
//! hashed before anything runs. The inputs are a sorted map (`key → value`) so that the
//! digest does not depend on the order files are found in, and so that two input lists can be
//! compared to explain a rebuild. The context's entries come from `context::walk`, the same
//! listing the archive is written from, so the digest and the archive cannot disagree.
//! File hashes are cached by (path, size, mtime, inode) in `.imagemk/cache/`; the inputs of
//! every digest are recorded in `.imagemk/inputs/` for explanations.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{anyhow, Context as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::config::{Image, Workspace};
use crate::context::{self, Content, Kind, Spec};
use crate::signal;

/// The label an image's input digest is recorded under.
pub const LABEL: &str = "io.imagemk.inputs";

/// Bumped when the meaning of the inputs changes, so older digests never match.
const SCHEME: &str = "imagemk-inputs/1";

/// An image's inputs: `dockerfile`, `file:<archive path>`, `arg:<NAME>`, `parent:<image>`,
/// `base:<reference>`, `label:<key>`, `target`, `platform`, `variant`, `image`.
pub type Inputs = BTreeMap<String, String>;

/// `sha256:<64 hex>` of the inputs.
pub fn digest(inputs: &Inputs) -> String {
    let mut h = Sha256::new();
    h.update(SCHEME.as_bytes());
    h.update(b"\n");
    for (k, v) in inputs {
        // Length-prefixed, so no key or value can imitate another.
        h.update(format!("{}:{k}{}:{v}\n", k.len(), v.len()).as_bytes());
    }
    format!("sha256:{}", hex(&h.finalize()))
}

/// Whether a label value is a digest imagemk could have written.
pub fn is_digest(value: &str) -> bool {
    value
        .strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The first 12 hex digits and `…`, for messages.
pub fn short(digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    let cut: String = hex.chars().take(12).collect();
    format!("{cut}…")
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The parts of a Dockerfile that decide which build args matter and what it starts from.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DockerfileFacts {
    /// Args declared only before the first `FROM` and never mentioned after it: they can only
    /// change the `FROM` lines, whose resolved images are inputs themselves.
    pub meta_only: BTreeSet<String>,
    /// `AS name` stage names (not images).
    pub stages: BTreeSet<String>,
    /// Whether one `LABEL` line can be appended: no `escape` directive, no trailing `\`.
    pub appendable: bool,
}

pub fn dockerfile_facts(text: &str) -> DockerfileFacts {
    let mut facts = DockerfileFacts::default();
    let mut meta = BTreeSet::new();
    let mut after = String::new();
    let mut seen_from = false;
    for line in text.lines() {
        let t = line.trim();
        let mut words = t.split_whitespace();
        let first = words.next().unwrap_or("").to_ascii_uppercase();
        if first == "FROM" {
            seen_from = true;
            let rest: Vec<&str> = words.collect();
            if let Some(pos) = rest.iter().position(|w| w.eq_ignore_ascii_case("as")) {
                if let Some(name) = rest.get(pos + 1) {
                    facts.stages.insert(name.to_ascii_lowercase());
                }
            }
        } else if !seen_from && first == "ARG" {
            for decl in words {
                meta.insert(decl.split('=').next().unwrap_or(decl).to_string());
            }
        } else if seen_from {
            after.push_str(t);
            after.push('\n');
        }
    }
    facts.meta_only = meta.into_iter().filter(|a| !after.contains(a)).collect();
    let directive = text
        .lines()
        .take_while(|l| l.trim_start().starts_with('#'))
        .any(|l| {
            l.trim_start()[1..]
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("escape")
        });
    let last = text.lines().rev().map(str::trim).find(|l| !l.is_empty());
    facts.appendable = !directive && !last.is_some_and(|l| l.ends_with('\\'));
    facts
}

/// A label value that can go into an appended `LABEL "k"="v"` line unchanged: nothing the
/// Dockerfile parser would expand or unescape.
pub fn plain_label(text: &str) -> bool {
    !text
        .chars()
        .any(|c| matches!(c, '"' | '\\' | '$' | '`') || c.is_control())
}

/// What one image's digest is computed from: its own inputs (read from disk before the
/// engine is asked anything, so bad input fails before any docker command), then its
/// parents' digests and its external bases' local IDs.
pub struct Given<'a> {
    pub ws: &'a Workspace,
    pub image: &'a Image,
    pub spec: &'a Spec,
}

/// An image's own inputs and the external images its `FROM` lines name.
pub struct Own {
    pub inputs: Inputs,
    pub bases: Vec<String>,
}

/// The inputs of one image that need no engine. Reads its Dockerfile and walks its context
/// (an unreadable file, a bad `.dockerignore` or a symlink loop is an error naming it).
pub fn own_inputs(g: &Given, cache: &HashCache) -> anyhow::Result<Own> {
    let img = g.image;
    let text = crate::dockerfile::read(&img.dockerfile)
        .with_context(|| format!("cannot read `{}`", img.dockerfile.display()))?;
    let mut inputs = Inputs::new();
    inputs.insert("dockerfile".into(), sha256_hex(&text));
    let text = String::from_utf8_lossy(&text);
    let facts = dockerfile_facts(&text);
    for (k, v) in &img.args {
        if !facts.meta_only.contains(k) {
            inputs.insert(format!("arg:{k}"), v.clone());
        }
    }
    let df = crate::dockerfile::Dockerfile::parse(&text);
    let mut bases = Vec::new();
    for r in df.expanded_refs(&img.args) {
        let full = crate::reference::ImageRef::parse(&r).map(|n| n.to_string());
        let workspace = full.as_ref().is_ok_and(|f| g.ws.image_named(f).is_some());
        // `scratch` is no image: nothing to ask the engine about.
        let stage = facts.stages.contains(&r.to_ascii_lowercase()) || r == "scratch";
        if !workspace && !stage {
            bases.push(r);
        }
    }
    for (k, v) in &img.labels {
        inputs.insert(format!("label:{k}"), v.clone());
    }
    inputs.insert("image".into(), img.id.clone());
    let settings = &g.ws.component_of(img).settings;
    inputs.insert("platform".into(), settings.platform.clone());
    if let Some(t) = &img.target {
        inputs.insert("target".into(), t.clone());
    }
    if let Some(v) = &img.variant {
        inputs.insert("variant".into(), v.clone());
    }
    let archive = context::walk(g.spec)?;
    inputs.extend(entry_inputs(&archive.entries, cache)?);
    Ok(Own { inputs, bases })
}

/// Completes `own` with the parents' digests (`(image id, digest)`) and the external bases'
/// local IDs (`base_ids`; a base the engine lacks counts by its reference).
pub fn complete(
    own: &Own,
    parents: &[(String, String)],
    base_ids: &BTreeMap<String, String>,
) -> Inputs {
    let mut inputs = own.inputs.clone();
    for r in &own.bases {
        let id = base_ids
            .get(r)
            .cloned()
            .unwrap_or_else(|| "not local".into());
        inputs.insert(format!("base:{r}"), id);
    }
    for (id, d) in parents {
        inputs.insert(format!("parent:{id}"), d.clone());
    }
    inputs
}

/// `file:<path>` → kind, mode and content hash of every archive entry but the Dockerfile
/// imagemk adds (its original bytes are the `dockerfile` input). Files are hashed in parallel.
fn entry_inputs(entries: &[context::Entry], cache: &HashCache) -> anyhow::Result<Inputs> {
    let keep: Vec<&context::Entry> = entries
        .iter()
        .filter(|e| e.path != context::DOCKERFILE_NAME)
        .collect();
    let hashes = parallel_hashes(&keep, cache)?;
    Ok(keep
        .iter()
        .zip(hashes)
        .map(|(e, h)| {
            let what = match &e.kind {
                Kind::Dir => "dir".to_string(),
                Kind::File => format!("file {}", h.unwrap_or_default()),
                Kind::Symlink(t) => format!("link {}", t.display()),
                Kind::Special => "special".to_string(),
            };
            (format!("file:{}", e.path), format!("{:o} {what}", e.mode))
        })
        .collect())
}

fn parallel_hashes(
    entries: &[&context::Entry],
    cache: &HashCache,
) -> anyhow::Result<Vec<Option<String>>> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<String>>> = Mutex::new(vec![None; entries.len()]);
    let work = || -> anyhow::Result<()> {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(e) = entries.get(i) else {
                return Ok(());
            };
            if signal::interrupted() {
                return Err(signal::Interrupted.into());
            }
            let h = match e.content() {
                Content::Disk(path, meta) => Some(cache.hash(path, meta)?),
                Content::Bytes(b) => Some(sha256_hex(b)),
                Content::None => None,
            };
            out.lock().unwrap()[i] = h;
        }
    };
    // A thread per `PER_THREAD` entries at most: a small context is hashed on this thread
    // (spawning threads for each of 10,000 small contexts cost more than the hashing).
    let threads = hash_threads().min(entries.len().div_ceil(PER_THREAD));
    if threads <= 1 {
        work()?;
        return Ok(out.into_inner().unwrap());
    }
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().map_err(|_| anyhow!("hashing a file panicked"))?)
    })?;
    Ok(out.into_inner().unwrap())
}

/// Context entries one hashing thread takes on before another is worth starting.
const PER_THREAD: usize = 16;

/// The threads that hash files: the cores, at most 8 (asked once: the answer reads cgroup
/// files).
fn hash_threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(8)))
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Cached {
    size: u64,
    mtime: i64,
    mtime_ns: i64,
    ino: u64,
    hash: String,
}

/// File hashes by path, valid while size, mtime and inode are unchanged. A file modified in
/// the last two seconds is hashed but not cached (its mtime may not change on the next write).
pub struct HashCache {
    file: PathBuf,
    old: HashMap<String, Cached>,
    new: Mutex<HashMap<String, Cached>>,
}

impl HashCache {
    /// Reads `<root>/.imagemk/cache/file-hashes.json`; a missing or damaged one is empty.
    pub fn load(root: &Path) -> HashCache {
        let file = root.join(".imagemk/cache/file-hashes.json");
        let old = fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        HashCache {
            file,
            old,
            new: Mutex::new(HashMap::new()),
        }
    }

    /// An empty cache that is never saved.
    pub fn none() -> HashCache {
        HashCache {
            file: PathBuf::new(),
            old: HashMap::new(),
            new: Mutex::new(HashMap::new()),
        }
    }

    fn hash(&self, path: &Path, meta: &fs::Metadata) -> anyhow::Result<String> {
        let key = path.to_string_lossy().into_owned();
        let now = Cached {
            size: meta.len(),
            mtime: meta.mtime(),
            mtime_ns: meta.mtime_nsec(),
            ino: meta.ino(),
            hash: String::new(),
        };
        let same = |c: &Cached| {
            (c.size, c.mtime, c.mtime_ns, c.ino) == (now.size, now.mtime, now.mtime_ns, now.ino)
        };
        if let Some(c) = self.old.get(&key).filter(|c| same(c)) {
            return Ok(c.hash.clone());
        }
        let hash = hash_file(path)?;
        let settled = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
            > now.mtime + 2;
        if settled {
            let entry = Cached {
                hash: hash.clone(),
                ..now
            };
            self.new.lock().unwrap().insert(key, entry);
        }
        Ok(hash)
    }

    /// Writes the cache atomically (a file of this run renamed into place), merged with what
    /// was read; concurrent runs each write a complete, valid cache. Errors are ignored: the
    /// cache only saves time.
    pub fn save(self) {
        let new = self.new.into_inner().unwrap();
        if new.is_empty() || self.file.as_os_str().is_empty() {
            return;
        }
        let mut all = self.old;
        all.extend(new);
        let _ = crate::fsx::write_atomic(&self.file, &serde_json::to_vec(&all).unwrap_or_default());
    }
}

fn hash_file(path: &Path) -> anyhow::Result<String> {
    let unreadable = |e: io::Error| {
        anyhow!(
            "cannot read `{}`: {e}; fix its permissions or exclude it in `.dockerignore`",
            path.display()
        )
    };
    let mut file = fs::File::open(path).map_err(unreadable)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(unreadable)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn record_path(root: &Path, digest: &str) -> PathBuf {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    root.join(".imagemk/inputs").join(format!("{hex}.json"))
}

/// Keeps the inputs of `digest` under `.imagemk/inputs/` (once), for later explanations.
pub fn record(root: &Path, digest: &str, inputs: &Inputs) {
    let path = record_path(root, digest);
    if !path.exists() {
        let _ = crate::fsx::write_atomic(
            &path,
            &serde_json::to_vec_pretty(inputs).unwrap_or_default(),
        );
    }
}

/// The recorded inputs of `digest`, if this workspace computed them before.
pub fn recorded(root: &Path, digest: &str) -> Option<Inputs> {
    if !is_digest(digest) {
        return None;
    }
    let bytes = fs::read(record_path(root, digest)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// How an input is named in explanations: `dockerfile` and file paths are shown relative to
/// the workspace root.
pub struct Shown {
    /// The Dockerfile, as shown.
    pub dockerfile: String,
    /// The context directory, as shown (`.` for the root).
    pub context: String,
}

/// Why `new` differs from `old`, one line per changed input (at most 10, then a count).
pub fn diff(old: &Inputs, new: &Inputs, shown: &Shown) -> Vec<String> {
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut out = Vec::new();
    for k in keys {
        let line = match (old.get(k), new.get(k)) {
            (Some(a), Some(b)) if a == b => continue,
            (a, b) => describe(k, a.map(String::as_str), b.map(String::as_str), shown),
        };
        // A Dockerfile inside the context is also one of its files: said once.
        if !out.contains(&line) {
            out.push(line);
        }
    }
    if out.len() > 10 {
        let more = out.len() - 10;
        out.truncate(10);
        out.push(format!("and {more} more changed inputs"));
    }
    out
}

fn describe(key: &str, old: Option<&str>, new: Option<&str>, shown: &Shown) -> String {
    let change = match (old, new) {
        (None, _) => "added",
        (_, None) => "removed",
        _ => "changed",
    };
    if key == "dockerfile" {
        return format!("{} changed", shown.dockerfile);
    }
    if let Some(p) = key.strip_prefix("file:") {
        let path = if shown.context == "." {
            p.to_string()
        } else {
            format!("{}/{p}", shown.context)
        };
        return format!("{path} {change}");
    }
    if let Some(a) = key.strip_prefix("arg:") {
        return match (old, new) {
            (Some(o), Some(n)) => format!("build arg {a}: {o} → {n}"),
            (None, Some(n)) => format!("build arg {a}={n} added"),
            _ => format!("build arg {a} removed"),
        };
    }
    if let Some(p) = key.strip_prefix("parent:") {
        return match change {
            "changed" => format!("parent {p} rebuilt"),
            c => format!("parent {p} {c}"),
        };
    }
    if let Some(b) = key.strip_prefix("base:") {
        return format!("base image {b} {change}");
    }
    match (old, new) {
        (Some(o), Some(n)) => format!("{key}: {o} → {n}"),
        _ => format!("{key} {change}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> Inputs {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_digest_is_stable_and_order_free() {
        let a = map(&[
            ("dockerfile", "1"),
            ("file:a", "644 file x"),
            ("arg:A", "1"),
        ]);
        let b = map(&[
            ("arg:A", "1"),
            ("file:a", "644 file x"),
            ("dockerfile", "1"),
        ]);
        assert_eq!(digest(&a), digest(&b));
        assert!(is_digest(&digest(&a)));
        // Keys and values cannot run into each other.
        assert_ne!(digest(&map(&[("ab", "c")])), digest(&map(&[("a", "bc")])));
    }

    #[test]
    fn labels_that_are_not_digests_are_recognised() {
        assert!(!is_digest("sha256:abc"));
        assert!(!is_digest("latest"));
        assert!(!is_digest(&format!("md5:{}", "0".repeat(64))));
        assert!(is_digest(&format!("sha256:{}", "0".repeat(64))));
    }

    #[test]
    fn meta_args_are_found_and_labels_can_be_appended() {
        let f = dockerfile_facts(
            "ARG TAG=latest\nARG TOOL\nFROM base:${TAG} AS build\nARG TOOL\nRUN make\n",
        );
        assert_eq!(f.meta_only, ["TAG".to_string()].into());
        assert_eq!(f.stages, ["build".to_string()].into());
        assert!(f.appendable);
        assert!(!dockerfile_facts("# escape=`\nFROM x\n").appendable);
        assert!(!dockerfile_facts("FROM x\nRUN a \\\n").appendable);
        assert!(plain_label("sha256:00") && !plain_label("a$b") && !plain_label("a\"b"));
    }

    #[test]
    fn explanations_name_each_change() {
        let shown = Shown {
            dockerfile: "docker/test.dockerfile".into(),
            context: "core".into(),
        };
        let old = map(&[
            ("dockerfile", "1"),
            ("file:tests/a.sh", "644 file 1"),
            ("arg:TOOLCHAIN", "gcc"),
            ("parent:km/buildenv", "sha256:1"),
        ]);
        let new = map(&[
            ("dockerfile", "2"),
            ("file:tests/run.sh", "644 file 1"),
            ("arg:TOOLCHAIN", "clang"),
            ("parent:km/buildenv", "sha256:2"),
        ]);
        assert_eq!(
            diff(&old, &new, &shown),
            [
                "build arg TOOLCHAIN: gcc → clang",
                "docker/test.dockerfile changed",
                "core/tests/a.sh removed",
                "core/tests/run.sh added",
                "parent km/buildenv rebuilt",
            ]
        );
    }
}
