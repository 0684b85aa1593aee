//! Pure plans for `push` and `pull`: which local image goes to which remote names, checked
//! against the publish guards and what exists locally before anything runs; the docker
//! commands of each job; and the digests read back from docker's output.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::LazyLock;

use anyhow::bail;
use regex::Regex;

use super::{channel, Registry};
use crate::config::{Image, Workspace};
use crate::engine::image;
use crate::exec::Cmd;
use crate::reference::{self, ImageRef};

/// What `push` was asked for, beyond the selection.
#[derive(Debug, Clone, Default)]
pub struct PushRequest {
    pub selected: Vec<usize>,
    /// `--also-tag` values (templates, like `workspace.publish.also_tag`).
    pub also_tag: Vec<String>,
    pub force: bool,
    /// The source revision, for `{revision}` in extra tags.
    pub revision: Option<String>,
}

/// One image to push: tag every remote name, push each, then untag them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushJob {
    pub image: usize,
    pub id: String,
    pub local: ImageRef,
    /// The remote name first, then the same repository with each extra tag.
    pub remotes: Vec<ImageRef>,
}

impl PushJob {
    /// The remote names that are temporary tags: all but one equal to the local name (a
    /// namespace that is the registry's path), which is never tagged nor removed.
    pub fn temporary(&self) -> Vec<&ImageRef> {
        self.remotes.iter().filter(|r| **r != self.local).collect()
    }

    pub fn tags(&self) -> Vec<Cmd> {
        self.temporary()
            .into_iter()
            .map(|r| image::tag(&self.local, r))
            .collect()
    }

    pub fn pushes(&self) -> Vec<Cmd> {
        let file = DigestFile::path(0);
        self.remotes
            .iter()
            .map(|r| image::push(r, file.as_deref()))
            .collect()
    }

    pub fn untags(&self) -> Vec<Cmd> {
        self.temporary().into_iter().map(image::untag).collect()
    }

    /// Adds the input-digest tag (`in-<hex16>` of `inputs`, see `registry::reuse`) of the
    /// first remote name, so later builds anywhere find the image by its inputs. It passes no
    /// publish guard: it names content, not a release, and clean-up ages it out.
    pub fn add_input_tag(&mut self, inputs: &str) -> anyhow::Result<()> {
        let tag = super::reuse::input_tag(inputs)?;
        let remote = self.remotes[0].with_tag(&tag);
        if !self.remotes.contains(&remote) {
            self.remotes.push(remote);
        }
        Ok(())
    }

    /// The lines `--dry-run` prints, in the order they run.
    pub fn lines(&self) -> Vec<String> {
        let all = [self.tags(), self.pushes(), self.untags()];
        all.iter().flatten().map(Cmd::to_string).collect()
    }
}

/// What `--dry-run` of `push` says after its commands: the steps that depend on the engine.
pub const PUSH_NOTE: &str = "# a remote name is tagged (with the image's ID) only when it does not exist yet, and removed only when this run tagged it; one that exists as another image stops the push";

/// What `--dry-run` of `pull` says after its commands.
pub const PULL_NOTE: &str = "# the pulled image's ID gets the local name; the remote name is removed only when this run's pull created it, and put back on its image when it was yours and the pull moved it";

/// One image to pull: pull the remote name, tag it with the local name, untag the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullJob {
    pub image: usize,
    pub id: String,
    pub local: ImageRef,
    pub remote: ImageRef,
}

impl PullJob {
    pub fn pull(&self) -> Cmd {
        image::pull(&self.remote)
    }

    pub fn tag(&self) -> Cmd {
        image::tag(&self.remote, &self.local)
    }

    pub fn untag(&self) -> Cmd {
        image::untag(&self.remote)
    }

    pub fn lines(&self) -> Vec<String> {
        [self.pull(), self.tag(), self.untag()]
            .iter()
            .map(Cmd::to_string)
            .collect()
    }
}

/// The remote name of `img` in `reg`, under the chosen channel.
pub fn remote_name(ws: &Workspace, reg: &Registry, img: &Image) -> anyhow::Result<ImageRef> {
    let settings = &ws.component_of(img).settings;
    let prefix = channel::prefix(
        &ws.channels,
        settings.channel.as_deref(),
        &settings.user,
        img.variant.as_deref(),
    )?;
    reg.remote(&img.name, &prefix)
}

/// Plans the push of the selected images. `present` is every local `repository:tag` (None:
/// unknown, e.g. a dry run without an engine; then nothing is reported missing).
pub fn plan_push(
    ws: &Workspace,
    reg: &Registry,
    req: &PushRequest,
    present: Option<&BTreeSet<String>>,
) -> anyhow::Result<Vec<PushJob>> {
    let mut jobs = Vec::new();
    for &i in &req.selected {
        let img = &ws.images[i];
        let remote = remote_name(ws, reg, img)?;
        let mut remotes = vec![remote.clone()];
        let templates = ws.publish.also_tag.iter().chain(&req.also_tag);
        for tag in extra_tags(templates, &img.name.tag, req.revision.as_deref())? {
            let r = remote.with_tag(&tag);
            if !remotes.contains(&r) {
                remotes.push(r);
            }
        }
        check_guards(ws, img, &remotes, req.force)?;
        jobs.push(PushJob {
            image: i,
            id: ws.shown_id(i),
            local: img.name.clone(),
            remotes,
        });
    }
    if let Some(present) = present {
        let missing: Vec<&PushJob> = jobs
            .iter()
            .filter(|j| !present.contains(&j.local.to_string()))
            .collect();
        if let Some(first) = missing.first() {
            let img = &ws.images[first.image];
            let others = match missing.len() {
                1 => String::new(),
                n => format!(" ({} more images are missing too)", n - 1),
            };
            bail!(
                "image `{}` was never built: there is no local `{}`; build it with `{}`{others}",
                first.id,
                img.name,
                make_target(ws, img)
            );
        }
    }
    Ok(jobs)
}

/// Renders the extra tags: `{tag}` is the image's tag, `{revision}` the source revision and
/// `{short_revision}` its first 12 characters.
fn extra_tags<'a>(
    templates: impl Iterator<Item = &'a String>,
    tag: &str,
    revision: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let mut vars: BTreeMap<&str, String> = BTreeMap::new();
    vars.insert("tag", tag.to_string());
    let mut out = Vec::new();
    for template in templates {
        if crate::config::typed::needs_revision(template) {
            let Some(rev) = revision else {
                bail!(
                    "extra tag `{template}` needs the source revision, but `{{revision}}` is unknown here (not a git checkout with a commit); drop that tag or push from a git checkout"
                );
            };
            vars.insert("revision", rev.to_string());
            vars.insert("short_revision", rev.chars().take(12).collect());
        }
        let rendered =
            reference::render(template, &vars).map_err(|e| anyhow::anyhow!("extra tag: {e}"))?;
        reference::check_tag(&rendered).map_err(|e| anyhow::anyhow!("extra tag: {e}"))?;
        out.push(rendered);
    }
    Ok(out)
}

fn check_guards(
    ws: &Workspace,
    img: &Image,
    remotes: &[ImageRef],
    force: bool,
) -> anyhow::Result<()> {
    let root_file = ws.root.join("images.yaml");
    if let Some(refused) = ws.publish.refused(&img.kind) {
        if let Some(r) = remotes.iter().find(|r| refused.contains(&r.tag)) {
            bail!(
                "image `{}` may not be pushed with tag `{}`: images of kind `{}` refuse tags {} (`workspace.publish.refuse_tags` in `{}`); push it with another `IMAGE_TAG`",
                img.id,
                r.tag,
                img.kind,
                refused.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", "),
                root_file.display()
            );
        }
    }
    let guarded = &ws.publish.force;
    if !force && (guarded.contains(&img.kind) || guarded.contains(&img.id)) {
        bail!(
            "image `{}` is shared (`{}` is listed in `workspace.publish.force` in `{}`); pushing it to `{}` needs `--force` (`FORCE=1` with make)",
            img.id,
            if guarded.contains(&img.id) { &img.id } else { &img.kind },
            root_file.display(),
            remotes[0]
        );
    }
    Ok(())
}

/// The make call that builds `img`, from the current component's directory.
pub fn make_target(ws: &Workspace, img: &Image) -> String {
    let here = &ws.components[ws.current].dir;
    let there = &ws.component_of(img).dir;
    let mut out = String::from("make");
    if here != there {
        out.push_str(&format!(" -C {}", relative(here, there).display()));
    }
    out.push_str(&format!(" {}-image", img.kind));
    if img.name.tag != crate::config::DEFAULT_TAG {
        out.push_str(&format!(" IMAGE_TAG={}", img.name.tag));
    }
    if let Some(v) = &img.variant {
        out.push_str(&format!(" VARIANT={v}"));
    }
    out
}

/// `to` as seen from `from` (both absolute).
fn relative(from: &Path, to: &Path) -> std::path::PathBuf {
    let common = from
        .components()
        .zip(to.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = std::path::PathBuf::new();
    for _ in from.components().skip(common) {
        out.push("..");
    }
    for c in to.components().skip(common) {
        out.push(c);
    }
    out
}

/// Plans the pull of the selected images.
pub fn plan_pull(
    ws: &Workspace,
    reg: &Registry,
    selected: &[usize],
) -> anyhow::Result<Vec<PullJob>> {
    selected
        .iter()
        .map(|&i| {
            let img = &ws.images[i];
            Ok(PullJob {
                image: i,
                id: ws.shown_id(i),
                local: img.name.clone(),
                remote: remote_name(ws, reg, img)?,
            })
        })
        .collect()
}

static PUSHED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\S+): digest: (sha256:[a-f0-9]{64}) size: (\d+)$").unwrap());
static PULLED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^Digest: (sha256:[a-f0-9]{64})$").unwrap());

/// The file podman writes a pushed digest to (`push --digestfile`; podman prints none): one
/// per process and job, in the temporary directory, removed when dropped.
pub struct DigestFile(std::path::PathBuf);

impl DigestFile {
    /// The path for job `index`, when the engine needs one.
    pub fn path(index: usize) -> Option<std::path::PathBuf> {
        crate::engine::current().push_digest_in_file().then(|| {
            let name = format!("imagemk-digest-{}-{index}", std::process::id());
            std::env::temp_dir().join(name)
        })
    }

    pub fn new(index: usize) -> Option<DigestFile> {
        DigestFile::path(index).map(DigestFile)
    }

    pub fn as_path(&self) -> &std::path::Path {
        &self.0
    }

    /// The digest written, when it is one.
    pub fn read(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.0).ok()?;
        let d = text.trim();
        let hex = d.strip_prefix("sha256:")?;
        (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| d.to_string())
    }
}

impl Drop for DigestFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The digest `docker push` reported for `tag` (`<tag>: digest: sha256:… size: N`).
pub fn pushed_digest(output: &str, tag: &str) -> Option<String> {
    output.lines().find_map(|l| {
        let c = PUSHED.captures(l.trim())?;
        (&c[1] == tag).then(|| c[2].to_string())
    })
}

/// The digest `docker pull` reported (`Digest: sha256:…`).
pub fn pulled_digest(output: &str) -> Option<String> {
    output
        .lines()
        .find_map(|l| Some(PULLED.captures(l.trim())?[1].to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_from_output() {
        let d = format!("sha256:{}", "ab".repeat(32));
        let push = format!("The push refers to repository [h/x]\n5f70bf18a086: Pushed\nCI-42: digest: {d} size: 528\n");
        assert_eq!(pushed_digest(&push, "CI-42"), Some(d.clone()));
        assert_eq!(pushed_digest(&push, "latest"), None);
        assert_eq!(
            pushed_digest("CI-42: digest: sha256:12 size: 1", "CI-42"),
            None
        );
        let pull = format!(
            "CI-42: Pulling from x\nDigest: {d}\nStatus: Downloaded newer image for h/x:CI-42\n"
        );
        assert_eq!(pulled_digest(&pull), Some(d));
        assert_eq!(pulled_digest("Status: Image is up to date"), None);
    }

    #[test]
    fn extra_tags_render() {
        let t = |v: &[&str], rev: Option<&str>| {
            let v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
            extra_tags(v.iter(), "CI-42", rev).map_err(|e| e.to_string())
        };
        assert_eq!(
            t(
                &["latest", "{tag}-x", "{short_revision}"],
                Some("0123456789abcdef")
            ),
            Ok(vec![
                "latest".into(),
                "CI-42-x".into(),
                "0123456789ab".into()
            ])
        );
        assert_eq!(t(&["{revision}"], None), Err("extra tag `{revision}` needs the source revision, but `{revision}` is unknown here (not a git checkout with a commit); drop that tag or push from a git checkout".into()));
        assert_eq!(t(&["a/b"], None), Err("extra tag: tag `a/b` is not a valid docker tag: use letters, digits, `_`, `.` and `-`, not starting with `.` or `-`".into()));
    }

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative(Path::new("/w"), Path::new("/w/payloads/node")),
            Path::new("payloads/node")
        );
        assert_eq!(
            relative(Path::new("/w/payloads/node"), Path::new("/w")),
            Path::new("../..")
        );
        assert_eq!(
            relative(
                Path::new("/w/payloads/node"),
                Path::new("/w/payloads/python")
            ),
            Path::new("../python")
        );
    }
}
