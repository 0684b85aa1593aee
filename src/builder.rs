//! A BuildKit builder (`--builder NAME`, `--platform-arch`): the checked request, the check
//! that `docker buildx` and the builder exist (before anything runs), and the metadata file
//! `buildx build --push` writes the pushed digest to. The argv itself is built in `docker.rs`;
//! whether the engine has builders at all is [`crate::engine::Engine::builder_support`].
//! The legacy builder (`docker build`) stays the default: nothing here runs without
//! `--builder`.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use anyhow::bail;
use regex::Regex;

use crate::config::Env;
use crate::engine::image;
use crate::exec;

/// A builder chosen for this run, with the platforms to build for (none: the builder's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Builder {
    pub name: String,
    pub platforms: Vec<String>,
}

/// buildx's own rule for builder names (docker/buildx `store/util.go`, `namePattern`).
static NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-zA-Z][a-zA-Z0-9._-]*$").unwrap());
/// `os/arch[/variant]`, as buildx's `--platform` takes them.
static PLATFORM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9_]+/[a-z0-9_]+(/[a-z0-9_.]+)?$").unwrap());

/// [`request`] from the `--builder`/`--platform-arch` flags of a command.
pub fn from_args(args: &crate::cli::BuilderArgs, env: &Env) -> anyhow::Result<Option<Builder>> {
    request(args.builder.as_deref(), &args.platform_arch, env)
}

/// The builder asked for by `--builder` and `--platform-arch` (clap has split the platforms
/// at commas), checked before anything runs: the engine must have builders, the legacy
/// builder must not be forced, and several platforms need a builder.
pub fn request(
    name: Option<&str>,
    platforms: &[String],
    env: &Env,
) -> anyhow::Result<Option<Builder>> {
    let Some(name) = name else {
        if !platforms.is_empty() {
            bail!(
                "`--platform-arch {}` needs `--builder NAME`: the legacy builder and `--load` into the engine build one platform only\nhint: create a BuildKit builder (`docker buildx create --name multi --driver docker-container`) and pass `--builder multi` (make: `BUILDER=multi`)",
                platforms.join(",")
            );
        }
        return Ok(None);
    };
    let engine = crate::engine::current();
    if let Err(why) = engine.builder_support() {
        bail!("`--builder {name}`: {why}");
    }
    if !NAME.is_match(name) {
        bail!(
            "builder name `{}` is not valid: buildx names start with a letter and use letters, digits, `.`, `_` and `-`",
            crate::reference::shorten(name, 60)
        );
    }
    if let Some(v) = env
        .get(&["DOCKER_BUILDKIT"])
        .filter(|v| matches!(v.to_ascii_lowercase().as_str(), "0" | "false"))
    {
        bail!(
            "`--builder {name}` builds with BuildKit, but `DOCKER_BUILDKIT={v}` forces the legacy builder; unset `DOCKER_BUILDKIT` or drop `--builder`"
        );
    }
    Ok(Some(Builder {
        name: name.to_string(),
        platforms: check_platforms(platforms)?,
    }))
}

fn check_platforms(platforms: &[String]) -> anyhow::Result<Vec<String>> {
    let given = platforms.join(",");
    let mut out: Vec<String> = Vec::new();
    for p in platforms {
        if p.is_empty() {
            bail!("`--platform-arch {given}` has an empty item; list platforms separated by single commas, e.g. `linux/arm64,linux/amd64`");
        }
        if !PLATFORM.is_match(p) {
            bail!(
                "platform `{}` in `--platform-arch` is not `os/arch[/variant]` (e.g. `linux/arm64`, `linux/arm/v7`)",
                crate::reference::shorten(p, 60)
            );
        }
        if out.contains(p) {
            bail!("`--platform-arch {given}` names `{p}` twice; name each platform once");
        }
        out.push(p.clone());
    }
    Ok(out)
}

/// Fails, before anything runs, when `docker buildx` is missing or the builder does not
/// exist: `docker buildx version`, then `docker buildx inspect NAME` (both read-only).
pub fn require(builder: &Builder) -> anyhow::Result<()> {
    exec::require(crate::engine::program())?;
    let version = image::buildx_version();
    if let Err(e) = exec::capture(&version) {
        bail!(
            "buildx is not installed: `{version}` failed ({}); `--builder` builds through `docker buildx build`\nhint: install the buildx plugin (Docker's `docker-buildx-plugin` package, Debian's `docker-buildx`, or https://github.com/docker/buildx#installing), or drop `--builder` to build with the legacy builder",
            first_line(&e)
        );
    }
    let inspect = image::buildx_inspect(&builder.name);
    if let Err(e) = exec::capture(&inspect) {
        bail!(
            "builder `{}` cannot be used: `{inspect}` failed ({})\nhint: list the builders with `docker buildx ls`, or create this one with `docker buildx create --name {} --driver docker-container` (or `--driver kubernetes`, `remote`)",
            builder.name,
            first_line(&e),
            builder.name
        );
    }
    Ok(())
}

/// The first line of a failed command's stderr (what buildx or the CLI said).
fn first_line(e: &anyhow::Error) -> String {
    match e.downcast_ref::<exec::CmdError>() {
        Some(c) => c
            .stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message")
            .trim()
            .to_string(),
        None => format!("{e:#}"),
    }
}

/// The file `buildx build --metadata-file` writes (a JSON object; `containerimage.digest` is
/// the pushed manifest or index digest): one per process and job in the temporary directory
/// (which exists, as buildx requires), removed when dropped.
pub struct MetadataFile(PathBuf);

impl MetadataFile {
    pub fn path(index: usize) -> PathBuf {
        let name = format!("imagemk-metadata-{}-{index}.json", std::process::id());
        std::env::temp_dir().join(name)
    }

    pub fn new(index: usize) -> MetadataFile {
        MetadataFile(MetadataFile::path(index))
    }

    pub fn as_path(&self) -> &Path {
        &self.0
    }

    /// `containerimage.digest`, when the file holds one that is a sha256 digest.
    pub fn digest(&self) -> Option<String> {
        digest_in(&std::fs::read_to_string(&self.0).ok()?)
    }
}

impl Drop for MetadataFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `containerimage.digest` of buildx's metadata JSON.
pub fn digest_in(text: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let d = v.get("containerimage.digest")?.as_str()?;
    let hex = d.strip_prefix("sha256:")?;
    let ok = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    ok.then(|| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: Option<&str>, platforms: &str, env: &[(&str, &str)]) -> String {
        let platforms: Vec<String> = if platforms.is_empty() {
            Vec::new()
        } else {
            platforms.split(',').map(String::from).collect()
        };
        match request(name, &platforms, &Env::from_pairs(env)) {
            Ok(Some(b)) => format!("{} {}", b.name, b.platforms.join(",")),
            Ok(None) => "legacy".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn requests() {
        assert_eq!(check(None, "", &[]), "legacy");
        assert_eq!(check(Some("ci"), "", &[]), "ci ");
        assert_eq!(
            check(Some("ci"), "linux/arm64,linux/amd64", &[]),
            "ci linux/arm64,linux/amd64"
        );
        assert_eq!(
            check(Some("ci"), "linux/arm/v7", &[("DOCKER_BUILDKIT", "1")]),
            "ci linux/arm/v7"
        );
        assert!(check(None, "linux/arm64", &[])
            .starts_with("`--platform-arch linux/arm64` needs `--builder NAME`"));
        assert!(check(Some("ci"), "linux/arm64,,linux/amd64", &[]).contains("has an empty item"));
        assert!(
            check(Some("ci"), "linux/arm64,linux/arm64", &[]).contains("names `linux/arm64` twice")
        );
        assert!(check(Some("ci"), "arm64", &[]).contains("is not `os/arch[/variant]`"));
        assert!(check(Some("-x"), "", &[]).starts_with("builder name `-x` is not valid"));
        assert_eq!(
            check(Some("ci"), "", &[("DOCKER_BUILDKIT", "0")]),
            "`--builder ci` builds with BuildKit, but `DOCKER_BUILDKIT=0` forces the legacy builder; unset `DOCKER_BUILDKIT` or drop `--builder`"
        );
    }

    #[test]
    fn metadata_digest() {
        // docker/buildx docs, `buildx build --metadata-file` example.
        let text = r#"{
  "buildx.build.provenance": {},
  "buildx.build.ref": "mybuilder/mybuilder0/0fjb6ubs52xx3vygf6fgdl611",
  "containerimage.config.digest": "sha256:2937f66a9722f7f4a2df583de2f8cb97fc9196059a410e7f00072fc918930e66",
  "containerimage.digest": "sha256:19ffeab6f8bc9293ac2c3fdf94ebe28396254c993aea0b5a542cfb02e0883fa3"
}"#;
        assert_eq!(
            digest_in(text).as_deref(),
            Some("sha256:19ffeab6f8bc9293ac2c3fdf94ebe28396254c993aea0b5a542cfb02e0883fa3")
        );
        assert_eq!(digest_in(r#"{"containerimage.digest": "sha256:12"}"#), None);
        assert_eq!(digest_in("{}"), None);
        assert_eq!(digest_in("not json"), None);
    }
}
