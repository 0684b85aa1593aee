//! A build's context, assembled as a tar stream instead of files written into the user's tree:
//! the context directory's files minus what `.dockerignore` excludes (docker's own walk), the
//! Dockerfile when it lives outside the context (under [`DOCKERFILE_NAME`], as docker's CLI
//! does with a random name), and the staged files overlaid at their `to` paths. [`Spec`] is
//! what the plan knows (no IO); [`walk`] lists the entries in a stable order (each directory's
//! names sorted, depth first) and [`write`] streams them, uid/gid 0 like docker's CLI.

use std::collections::BTreeSet;
use std::fs::{self, Metadata};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, Context as _};

use crate::dockerignore::Matcher;
use crate::fsx;
use crate::signal;

/// The Dockerfile's name in the archive when it lives outside the context.
pub const DOCKERFILE_NAME: &str = ".imagemk-dockerfile";

/// One staged file or directory: read from `from`, placed at `to` in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    pub from: PathBuf,
    pub to: String,
}

/// What one build's archive is made of, known without IO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub dir: PathBuf,
    pub dockerfile: PathBuf,
    pub staged: Vec<Staged>,
    /// A directory never sent (imagemk's own `.imagemk/` state when the context holds it).
    pub skip: Option<PathBuf>,
    /// Text appended to the Dockerfile (imagemk's labels as one `LABEL` line). When set, the
    /// Dockerfile is always sent as [`DOCKERFILE_NAME`] (dropped by the daemon), so the
    /// context's own copy of it, if any, is sent unchanged.
    pub append: Option<String>,
}

impl Spec {
    /// The Dockerfile's path inside the archive: its own when it is inside the context.
    pub fn dockerfile_in_archive(&self) -> String {
        if self.append.is_some() {
            return DOCKERFILE_NAME.to_string();
        }
        match fsx::lexical(&self.dockerfile).strip_prefix(fsx::lexical(&self.dir)) {
            Ok(rel) if rel.components().next().is_some() => slash(rel),
            _ => DOCKERFILE_NAME.to_string(),
        }
    }

    fn dockerfile_outside(&self) -> bool {
        self.dockerfile_in_archive() == DOCKERFILE_NAME
    }

    /// How `--dry-run` and messages show the archive on the build's stdin.
    pub fn describe(&self, quote: impl Fn(&str) -> String) -> String {
        let q = |p: &Path| quote(&p.to_string_lossy());
        let mut out = format!("(tar of context {}", q(&self.dir));
        if self.append.as_ref().is_some_and(|a| !a.is_empty()) {
            out += &format!(
                " + {} and a LABEL line as {DOCKERFILE_NAME}",
                q(&self.dockerfile)
            );
        } else if self.dockerfile_outside() {
            out += &format!(" + {} as {DOCKERFILE_NAME}", q(&self.dockerfile));
        }
        for s in &self.staged {
            out += &format!(" + {} as {}", q(&s.from), quote(&s.to));
        }
        out + ")"
    }
}

/// The archive path of a `stage:` `to` (already joined to the context by the loader): it
/// must stay inside the context, so an absolute path or one with `..` is refused.
pub fn staged_path(image: &str, context: &Path, to: &Path) -> anyhow::Result<String> {
    let refuse = |shown: &Path| {
        anyhow!(
            "image `{image}`: `stage` `to: {}` must be a relative path inside the build context (no `..`, not absolute); fix `stage:` in its images.yaml",
            shown.display()
        )
    };
    let rel = to.strip_prefix(context).map_err(|_| refuse(to))?;
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => return Err(refuse(rel)),
        }
    }
    if parts.is_empty() {
        return Err(refuse(Path::new(".")));
    }
    if parts[0] == DOCKERFILE_NAME {
        bail!(
            "image `{image}`: `stage` `to: {}` is the name imagemk gives a Dockerfile from outside the context; choose another path",
            rel.display()
        );
    }
    Ok(parts.join("/"))
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink(PathBuf),
    /// A fifo or device node: sent as a header, as docker does.
    Special,
}

#[derive(Debug, Clone)]
enum Source {
    Disk(PathBuf, Box<Metadata>),
    Bytes(Vec<u8>),
    /// A parent directory of a staged path that the context lacks.
    Made,
}

/// One archive entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: String,
    pub kind: Kind,
    /// Permission bits, setuid/setgid/sticky included.
    pub mode: u32,
    pub size: u64,
    source: Source,
}

/// Where an entry's bytes come from, for hashing (see `inputs.rs`).
pub enum Content<'a> {
    /// A regular file on disk, with the metadata the walk saw.
    Disk(&'a Path, &'a Metadata),
    Bytes(&'a [u8]),
    /// No bytes: a directory, symlink or special file.
    None,
}

impl Entry {
    pub fn content(&self) -> Content<'_> {
        match &self.source {
            Source::Disk(path, meta) if self.kind == Kind::File => Content::Disk(path, meta),
            Source::Bytes(bytes) => Content::Bytes(bytes),
            _ => Content::None,
        }
    }
}

/// The entries of one build's archive, in the order they are sent.
#[derive(Debug)]
pub struct Archive {
    pub entries: Vec<Entry>,
}

/// Lists everything the archive will hold and checks that it can be read, before any docker
/// command starts: a missing staged file, an unreadable file or a symlink loop is an error
/// naming the file. Stops with `Interrupted` on a signal.
pub fn walk(spec: &Spec) -> anyhow::Result<Archive> {
    let ignore_file = spec.dir.join(".dockerignore");
    let mut ignore_text = match fs::read_to_string(&ignore_file) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => bail!("cannot read `{}`: {e}", ignore_file.display()),
    };
    let mut matcher = Matcher::parse(ignore_text.as_deref().unwrap_or(""))
        .map_err(|e| anyhow!("`{}`: {e}", ignore_file.display()))?;
    matcher.keep(".dockerignore");
    let outside = spec.dockerfile_outside();
    if !outside {
        matcher.keep(&spec.dockerfile_in_archive());
    }
    let skip = spec.skip.as_deref().map(fsx::lexical);
    let key = WalkKey {
        // Normalized, so that `skip` is recognised whatever the spelling of `context:`.
        dir: fsx::lexical(&spec.dir),
        skip,
        ignore: ignore_text.clone(),
        dockerfile: (!outside).then(|| spec.dockerfile_in_archive()),
    };
    let mut entries = memo::entries(&key, |out| {
        let mut walker = Walker {
            skip: key.skip.as_deref(),
            matcher: &matcher,
            out,
        };
        walker.dir(&key.dir, "")
    })?;
    if outside {
        let mut text = crate::dockerfile::read(&spec.dockerfile)
            .with_context(|| format!("cannot read `{}`", spec.dockerfile.display()))?
            .to_vec();
        if let Some(extra) = &spec.append {
            if !text.is_empty() && !text.ends_with(b"\n") {
                text.push(b'\n');
            }
            text.extend_from_slice(extra.as_bytes());
        }
        entries.retain(|e| e.path != DOCKERFILE_NAME && e.path != ".dockerignore");
        entries.push(bytes_entry(DOCKERFILE_NAME, text));
        // docker's CLI adds the name to `.dockerignore` so the daemon drops it after reading.
        let mut ignore = ignore_text.take().unwrap_or_else(|| ".dockerignore".into());
        ignore += &format!("\n{DOCKERFILE_NAME}\n");
        entries.push(bytes_entry(".dockerignore", ignore.into_bytes()));
    }
    for s in &spec.staged {
        overlay(&mut entries, s)?;
    }
    Ok(Archive { entries })
}

/// What a walk of a context directory depends on besides the files themselves.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct WalkKey {
    dir: PathBuf,
    skip: Option<PathBuf>,
    ignore: Option<String>,
    /// The Dockerfile's path in the archive, kept whatever `.dockerignore` says.
    dockerfile: Option<String>,
}

/// Walks of context directories remembered for the rest of the process, when the command
/// asks for it ([`memoize_walks`]): many images often share one context directory, and
/// planning walks each image's context. Off by default, so that a library caller that changes
/// a context between two walks sees the change.
mod memo {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex, OnceLock};

    use super::{Entry, WalkKey};

    static ON: AtomicBool = AtomicBool::new(false);
    type Memo = Mutex<HashMap<WalkKey, Arc<Vec<Entry>>>>;
    static MEMO: OnceLock<Memo> = OnceLock::new();

    pub fn enable() {
        ON.store(true, Ordering::Relaxed);
    }

    /// The entries of the walk `key` names, from `walk` the first time.
    pub fn entries(
        key: &WalkKey,
        walk: impl FnOnce(&mut Vec<Entry>) -> anyhow::Result<()>,
    ) -> anyhow::Result<Vec<Entry>> {
        if !ON.load(Ordering::Relaxed) {
            let mut out = Vec::new();
            walk(&mut out)?;
            return Ok(out);
        }
        let memo = MEMO.get_or_init(Default::default);
        if let Some(found) = memo.lock().unwrap().get(key) {
            return Ok(found.as_ref().clone());
        }
        let mut out = Vec::new();
        walk(&mut out)?;
        memo.lock()
            .unwrap()
            .insert(key.clone(), Arc::new(out.clone()));
        Ok(out)
    }
}

/// From now on, this process walks each context directory once (see `memo`): for the
/// command-line process, which plans from one look at the tree.
pub fn memoize_walks() {
    memo::enable();
}

fn bytes_entry(path: &str, bytes: Vec<u8>) -> Entry {
    Entry {
        path: path.to_string(),
        kind: Kind::File,
        mode: 0o644,
        size: bytes.len() as u64,
        source: Source::Bytes(bytes),
    }
}

struct Walker<'a> {
    skip: Option<&'a Path>,
    matcher: &'a Matcher,
    out: &'a mut Vec<Entry>,
}

impl Walker<'_> {
    /// Adds the entries below `dir` (archive path `rel`, "" for the root) that the matcher
    /// keeps, walking into an excluded directory only when an exception may reach inside.
    fn dir(&mut self, dir: &Path, rel: &str) -> anyhow::Result<()> {
        for (name, path) in sorted_children(dir)? {
            if signal::interrupted() {
                return Err(signal::Interrupted.into());
            }
            if self.skip == Some(path.as_path()) {
                continue;
            }
            let child = join(rel, &name);
            let meta = fs::symlink_metadata(&path)
                .with_context(|| format!("cannot read `{}`", path.display()))?;
            let excluded = self.matcher.excludes(&child);
            if meta.is_dir() {
                if !excluded {
                    self.out.push(disk_entry(&child, &path, meta)?);
                    self.dir(&path, &child)?;
                } else if self.matcher.may_keep_inside(&child) {
                    self.dir(&path, &child)?;
                }
            } else if !excluded {
                if let Some(e) = disk_entry_checked(&child, &path, meta)? {
                    self.out.push(e);
                }
            }
        }
        Ok(())
    }
}

fn sorted_children(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let read = |e: io::Error| anyhow!("cannot read the directory `{}`: {e}", dir.display());
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(read)? {
        let entry = entry.map_err(read)?;
        let name = entry.file_name().into_string().map_err(|n| {
            anyhow!(
                "`{}` has a name that is not UTF-8; rename it or add it to `.dockerignore`",
                dir.join(n).display()
            )
        })?;
        out.push((name, entry.path()));
    }
    out.sort();
    Ok(out)
}

fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_string()
    } else {
        format!("{rel}/{name}")
    }
}

/// A context entry (symlinks kept as symlinks); `None` for a socket, which docker skips.
/// A regular file is opened once here so that an unreadable one fails before the build.
fn disk_entry_checked(rel: &str, path: &Path, meta: Metadata) -> anyhow::Result<Option<Entry>> {
    use std::os::unix::fs::FileTypeExt;
    if meta.file_type().is_socket() {
        return Ok(None);
    }
    if meta.is_file() {
        fs::File::open(path).map_err(|e| unreadable(path, e))?;
    }
    disk_entry(rel, path, meta).map(Some)
}

fn unreadable(path: &Path, e: io::Error) -> anyhow::Error {
    anyhow!(
        "cannot read `{}`: {e}; fix its permissions or exclude it in `.dockerignore`",
        path.display()
    )
}

fn disk_entry(rel: &str, path: &Path, meta: Metadata) -> anyhow::Result<Entry> {
    let ft = meta.file_type();
    let kind = if ft.is_dir() {
        Kind::Dir
    } else if ft.is_file() {
        Kind::File
    } else if ft.is_symlink() {
        Kind::Symlink(
            fs::read_link(path).with_context(|| format!("cannot read `{}`", path.display()))?,
        )
    } else {
        Kind::Special
    };
    Ok(Entry {
        path: rel.to_string(),
        size: if kind == Kind::File { meta.len() } else { 0 },
        mode: meta.permissions().mode() & 0o7777,
        kind,
        source: Source::Disk(path.to_path_buf(), Box::new(meta)),
    })
}

/// Puts a staged file or tree at `s.to`, replacing whatever the context had there; its
/// parent directories are added when the context lacks them.
fn overlay(entries: &mut Vec<Entry>, s: &Staged) -> anyhow::Result<()> {
    if !s.from.exists() {
        bail!(
            "cannot stage `{}`: it does not exist (build it first, or fix `stage:`)",
            s.from.display()
        );
    }
    let below = format!("{}/", s.to);
    entries.retain(|e| e.path != s.to && !e.path.starts_with(&below));
    let mut parent = String::new();
    for part in s.to.split('/').take(s.to.split('/').count() - 1) {
        parent = join(&parent, part);
        match entries.iter().find(|e| e.path == parent) {
            Some(e) if e.kind == Kind::Dir => {}
            Some(_) => bail!(
                "cannot stage `{}` as `{}`: `{parent}` in the build context is not a directory",
                s.from.display(),
                s.to
            ),
            None => entries.push(Entry {
                path: parent.clone(),
                kind: Kind::Dir,
                mode: 0o755,
                size: 0,
                source: Source::Made,
            }),
        }
    }
    let mut seen = BTreeSet::new();
    staged_tree(entries, &s.from, &s.to, &mut seen)
}

/// A staged source, symlinks followed (the file they point at is what is staged); a loop or a
/// dangling link is an error naming it.
fn staged_tree(
    entries: &mut Vec<Entry>,
    from: &Path,
    to: &str,
    seen: &mut BTreeSet<(u64, u64)>,
) -> anyhow::Result<()> {
    let meta = fs::metadata(from).with_context(|| format!("cannot stage `{}`", from.display()))?;
    if meta.is_file() {
        fs::File::open(from).map_err(|e| unreadable(from, e))?;
    } else if !meta.is_dir() {
        bail!(
            "cannot stage `{}`: only files and directories can be staged",
            from.display()
        );
    }
    let id = (meta.dev(), meta.ino());
    if meta.is_dir() && !seen.insert(id) {
        bail!("cannot stage `{}`: it is a symlink loop", from.display());
    }
    let is_dir = meta.is_dir();
    entries.push(disk_entry(to, from, meta)?);
    if is_dir {
        for (name, path) in sorted_children(from)? {
            if signal::interrupted() {
                return Err(signal::Interrupted.into());
            }
            staged_tree(entries, &path, &join(to, &name), seen)?;
        }
        seen.remove(&id);
    }
    Ok(())
}

/// Writes the archive to `out`. A file that shrank since [`walk`] is an error naming it; a
/// signal stops the stream (the build then fails on the cut archive).
pub fn write(archive: &Archive, out: impl Write) -> anyhow::Result<()> {
    let mut tar = tar::Builder::new(out);
    for e in &archive.entries {
        if signal::interrupted() {
            return Err(signal::Interrupted.into());
        }
        let mut header = header(e)?;
        match &e.source {
            Source::Disk(path, _) if e.kind == Kind::File => {
                let file = fs::File::open(path).map_err(|err| unreadable(path, err))?;
                let exact = Exact {
                    inner: file,
                    left: e.size,
                    path,
                };
                tar.append_data(&mut header, &e.path, exact)
                    .with_context(|| format!("sending `{}` to the build", path.display()))?;
            }
            _ if matches!(e.kind, Kind::Symlink(_)) => {
                let Kind::Symlink(target) = &e.kind else {
                    unreachable!()
                };
                tar.append_link(&mut header, &e.path, target)
                    .with_context(|| format!("sending the symlink `{}`", e.path))?;
            }
            Source::Bytes(bytes) => tar
                .append_data(&mut header, &e.path, bytes.as_slice())
                .context("sending the build context")?,
            _ => tar
                .append_data(&mut header, &e.path, io::empty())
                .context("sending the build context")?,
        }
    }
    tar.into_inner()
        .context("sending the build context")?
        .flush()?;
    Ok(())
}

fn header(e: &Entry) -> anyhow::Result<tar::Header> {
    let mut h = tar::Header::new_gnu();
    if let Source::Disk(_, meta) = &e.source {
        h.set_mtime(meta.mtime().max(0) as u64);
        if e.kind == Kind::Special {
            use std::os::unix::fs::FileTypeExt;
            let ft = meta.file_type();
            h.set_entry_type(if ft.is_fifo() {
                tar::EntryType::Fifo
            } else if ft.is_char_device() {
                tar::EntryType::Char
            } else {
                tar::EntryType::Block
            });
            h.set_device_major(libc::major(meta.rdev()))?;
            h.set_device_minor(libc::minor(meta.rdev()))?;
        }
    }
    match &e.kind {
        Kind::Dir => h.set_entry_type(tar::EntryType::Directory),
        Kind::File => h.set_entry_type(tar::EntryType::Regular),
        Kind::Symlink(_) => h.set_entry_type(tar::EntryType::Symlink),
        Kind::Special => {}
    }
    h.set_mode(e.mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(e.size);
    Ok(h)
}

/// Reads the `left` bytes the walk saw: a file that shrank since is an error naming it; one
/// that grew (a log being written) is sent as it was when listed.
struct Exact<'a> {
    inner: fs::File,
    left: u64,
    path: &'a Path,
}

impl Read for Exact<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let changed = || {
            io::Error::other(format!(
                "`{}` changed while it was being sent",
                self.path.display()
            ))
        };
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(changed());
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn slash(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn spec(root: &Path, dockerfile: &str, staged: &[(&str, &str)]) -> Spec {
        Spec {
            dir: root.join("ctx"),
            dockerfile: root.join(dockerfile),
            staged: staged
                .iter()
                .map(|(f, t)| Staged {
                    from: root.join(f),
                    to: t.to_string(),
                })
                .collect(),
            skip: Some(root.join("ctx/.imagemk")),
            append: None,
        }
    }

    /// (path, type, mode, uid, gid, link or contents) of every entry of the written archive.
    fn listing(spec: &Spec) -> Vec<String> {
        let mut bytes = Vec::new();
        write(&walk(spec).unwrap(), &mut bytes).unwrap();
        let mut ar = tar::Archive::new(bytes.as_slice());
        ar.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let h = e.header().clone();
                let mut body = String::new();
                e.read_to_string(&mut body).unwrap();
                let link = h
                    .link_name()
                    .unwrap()
                    .map(|l| format!(" -> {}", l.display()));
                format!(
                    "{} {:?} {:o} {}:{}{}{}",
                    e.path().unwrap().display(),
                    h.entry_type(),
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                    h.gid().unwrap(),
                    link.unwrap_or_default(),
                    if body.is_empty() {
                        String::new()
                    } else {
                        format!(" {body:?}")
                    }
                )
            })
            .collect()
    }

    fn tree(root: &Path) {
        for (p, body) in [
            ("ctx/Dockerfile", "FROM scratch\n"),
            ("ctx/app/main.sh", "run"),
            ("ctx/app/notes.md", "n"),
            ("ctx/README.md", "r"),
            ("ctx/.imagemk/logs/x.log", "log"),
            ("out/tool", "binary"),
            ("out/dir/sub/f", "f"),
            ("other.dockerfile", "FROM other\n"),
        ] {
            fs::create_dir_all(root.join(p).parent().unwrap()).unwrap();
            fs::write(root.join(p), body).unwrap();
        }
        fs::set_permissions(
            root.join("ctx/app/main.sh"),
            fs::Permissions::from_mode(0o4755),
        )
        .unwrap();
        symlink("main.sh", root.join("ctx/app/link")).unwrap();
    }

    #[test]
    fn archive_holds_the_context_with_modes_symlinks_and_staged_files() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        tree(root);
        fs::write(
            root.join("ctx/.dockerignore"),
            "*.md\n!README.md\nDockerfile\n",
        )
        .unwrap();
        let s = spec(
            root,
            "ctx/Dockerfile",
            &[("out/tool", "bin/tool"), ("out/dir", "app/dir")],
        );
        assert_eq!(s.dockerfile_in_archive(), "Dockerfile");
        assert_eq!(
            listing(&s),
            [
                ".dockerignore Regular 644 0:0 \"*.md\\n!README.md\\nDockerfile\\n\"",
                "Dockerfile Regular 644 0:0 \"FROM scratch\\n\"",
                "README.md Regular 644 0:0 \"r\"",
                "app Directory 755 0:0",
                "app/link Symlink 777 0:0 -> main.sh",
                "app/main.sh Regular 4755 0:0 \"run\"",
                // docker's `*.md` is anchored at the root: `app/notes.md` stays.
                "app/notes.md Regular 644 0:0 \"n\"",
                "bin Directory 755 0:0",
                "bin/tool Regular 644 0:0 \"binary\"",
                "app/dir Directory 755 0:0",
                "app/dir/sub Directory 755 0:0",
                "app/dir/sub/f Regular 644 0:0 \"f\"",
            ]
        );
        // Nothing was written into the tree.
        assert!(!root.join("ctx/bin").exists() && !root.join("ctx/app/dir").exists());
    }

    #[test]
    fn a_dockerfile_outside_the_context_gets_a_name_the_daemon_drops() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        tree(root);
        fs::write(root.join("ctx/.dockerignore"), "app\n").unwrap();
        let s = spec(root, "other.dockerfile", &[]);
        assert_eq!(s.dockerfile_in_archive(), DOCKERFILE_NAME);
        let list = listing(&s);
        assert_eq!(
            list[list.len() - 2..],
            [
                ".imagemk-dockerfile Regular 644 0:0 \"FROM other\\n\"",
                ".dockerignore Regular 644 0:0 \"app\\n\\n.imagemk-dockerfile\\n\"",
            ]
        );
        assert!(!list.iter().any(|l| l.starts_with("app")), "{list:?}");
        assert_eq!(
            s.describe(|w| w.to_string()),
            format!(
                "(tar of context {} + {} as .imagemk-dockerfile)",
                root.join("ctx").display(),
                root.join("other.dockerfile").display()
            )
        );
    }

    #[test]
    fn imagemks_own_directory_is_never_sent() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        tree(root);
        let mut s = spec(root, "ctx/Dockerfile", &[]);
        s.dir = root.join("ctx/app/..");
        let paths: Vec<String> = walk(&s)
            .unwrap()
            .entries
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert!(
            !paths.iter().any(|p| p.starts_with(".imagemk")),
            "{paths:?}"
        );
        assert!(paths.contains(&"README.md".to_string()), "{paths:?}");
    }

    #[test]
    fn staged_paths_must_stay_inside_the_context() {
        let ctx = Path::new("/ws/comp/ctx");
        let ok = |to: &str| staged_path("c/app", ctx, &ctx.join(to)).unwrap();
        assert_eq!(ok("bin/tool"), "bin/tool");
        assert_eq!(ok("./a/./b"), "a/b");
        let err = staged_path("c/app", ctx, &ctx.join(".imagemk-dockerfile")).unwrap_err();
        assert!(err.to_string().contains("choose another path"), "{err}");
        for (to, shown) in [
            ("../../x", "../../x"),
            ("/abs", "/abs"),
            ("a/../../b", "a/../../b"),
            (".", "."),
        ] {
            let err = staged_path("c/app", ctx, &ctx.join(to))
                .unwrap_err()
                .to_string();
            assert_eq!(
                err,
                format!("image `c/app`: `stage` `to: {shown}` must be a relative path inside the build context (no `..`, not absolute); fix `stage:` in its images.yaml")
            );
        }
    }

    #[test]
    fn loops_missing_and_unreadable_files_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        tree(root);
        symlink("..", root.join("out/dir/sub/up")).unwrap();
        let err = walk(&spec(root, "ctx/Dockerfile", &[("out/dir", "d")])).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            format!(
                "cannot stage `{}`: it is a symlink loop",
                root.join("out/dir/sub/up").display()
            )
        );
        let err = walk(&spec(root, "ctx/Dockerfile", &[("out/none", "d")])).unwrap_err();
        assert!(format!("{err:#}").contains("it does not exist"), "{err:#}");
        let err = walk(&spec(
            root,
            "ctx/Dockerfile",
            &[("out/tool", "README.md/x")],
        ))
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("`README.md` in the build context is not a directory"),
            "{err:#}"
        );
        if unsafe { libc::geteuid() } != 0 {
            fs::set_permissions(
                root.join("ctx/README.md"),
                fs::Permissions::from_mode(0o000),
            )
            .unwrap();
            let err = walk(&spec(root, "ctx/Dockerfile", &[])).unwrap_err();
            assert!(format!("{err:#}").starts_with(&format!(
                "cannot read `{}`",
                root.join("ctx/README.md").display()
            )));
        }
    }
}
