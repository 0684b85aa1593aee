//! The command line, as clap derive structs: flags only, no behaviour.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "imagemk",
    version,
    about = "Builds, pushes, pulls and runs a workspace's container images: the backend of its `make` image targets.",
    after_help = "Values come from, highest first: flags, environment (IMAGE_TAG, PLATFORM or DTYPE, VARIANT, REGISTRY or CLOUD, CHANNEL, IMAGE_NAMESPACE for `{namespace}`, JOBS), the component's images.yaml, the workspace's images.yaml, built-in defaults."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Act as if started in DIR (finds the nearest images.yaml from there).
    #[arg(short = 'C', long, global = true, value_name = "DIR")]
    pub directory: Option<PathBuf>,
    /// Image tag [env: IMAGE_TAG].
    #[arg(long, global = true, value_name = "TAG")]
    pub tag: Option<String>,
    /// Platform, e.g. `fedora` or `busybox` [env: PLATFORM, DTYPE].
    #[arg(long, global = true, value_name = "NAME")]
    pub platform: Option<String>,
    /// Image variant, e.g. `debug` [env: VARIANT].
    #[arg(long, global = true, value_name = "NAME")]
    pub variant: Option<String>,
    /// Registry name from images.yaml [env: REGISTRY, CLOUD].
    #[arg(long, global = true, value_name = "NAME")]
    pub registry: Option<String>,
    /// Channel name from images.yaml [env: CHANNEL].
    #[arg(long, global = true, value_name = "NAME")]
    pub channel: Option<String>,
    /// Print the exact commands, one shell line each, and run none of them.
    #[arg(short = 'n', long, global = true)]
    pub dry_run: bool,
    /// Container engine: `docker` or `podman` [env: IMAGEMK_ENGINE, CONTAINER_ENGINE;
    /// default: `workspace.engine`, else docker, or podman when only podman is installed].
    #[arg(long, global = true, value_name = "ENGINE")]
    pub engine: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build images whose inputs changed and the dependencies that are not up to date, in
    /// dependency order, in parallel; an image whose local image carries its input digest is
    /// skipped.
    Build(BuildArgs),
    /// Explain, per image, why `build` would build it, tag it or skip it (its inputs compared
    /// with those of its local image).
    Why(WhyArgs),
    /// List the workspace's images: names, Dockerfiles, dependencies.
    List(ListArgs),
    /// Push images under their remote names (temporary tags are always removed).
    Push(PushArgs),
    /// Pull images by their remote names and tag them with their local names.
    Pull(PullArgs),
    /// Give docker credentials for the registry (`az acr login`, `gcloud auth
    /// configure-docker` or `docker login`).
    Login,
    /// Run a container of an image with its configured devices, ulimits, init, user, env
    /// names, working directory and command; its exit status is imagemk's.
    Run(RunArgs),
    /// Run a command in the component's build-environment container over the workspace tree:
    /// same path, same directory, your uid:gid, MAKEFLAGS; its exit status is imagemk's.
    Withdocker(WithdockerArgs),
    /// Copy a path, or the image's `artifacts:`, out of a local image into the tree.
    Extract(ExtractArgs),
    /// Remove a tag (or tags by regex, age, keep-N) from every repository of a registry:
    /// untag where the image has other tags, delete where it has none; protected tags stay.
    Clean(CleanArgs),
    /// Check what the workspace needs: the engine (version, builder, rootless, storage), each
    /// registry (reachable, credentials), the cloud CLIs, the workspace and its host files.
    Doctor(DoctorArgs),
    /// Print the JSON Schema of images.yaml (`schema/images.schema.json`, for editors).
    Schema,
    /// Print a shell completion script, e.g. `imagemk completions bash`.
    Completions(CompletionsArgs),
    /// Print the man page (roff), e.g. `imagemk man > imagemk.1`.
    Man,
    /// Set this host up to build without the container: pull the build environment when it
    /// is not local (logging in if the registry asks), copy its `host: artifacts:` to their
    /// host paths, and install its `host:` packages with the host's package manager.
    LocalBuildenv(LocalBuildenvArgs),
    /// Print the build plan without building anything: per image its names, Dockerfile,
    /// context, args, dependencies, input digest, decision with reasons and the exact command
    /// (`--json`: a versioned schema, see docs/plan.md).
    Plan(PlanArgs),
    /// Rewrite (`--write`) or check (`--check`, the default) the references to workspace images
    /// in the files of `workspace.references` against the digests of `images.lock`.
    Refs(RefsArgs),
    /// Record in images.lock the manifest digest the registry has for each image's remote
    /// name (`--check`: compare the lock with the registry instead, exit 1 on any drift).
    Pin(PinArgs),
    /// Point a tag (e.g. `prod`) at each image's digest in images.lock, on the registry:
    /// nothing is pulled or pushed; all tags move or none do.
    Promote(PromoteArgs),
}

/// Which images a command acts on.
#[derive(Debug, Args, Default)]
pub struct Selection {
    /// Images: `KEY` in the current component or `COMPONENT/KEY`. Default: the current
    /// component's images.
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,
    /// Every image of the workspace.
    #[arg(long, conflicts_with = "images")]
    pub all: bool,
    /// Every image of this kind in the current component (repeatable).
    #[arg(long, value_name = "KIND", conflicts_with = "all")]
    pub kind: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Rebuild the dependencies too, even those that exist locally.
    #[arg(long)]
    pub deps: bool,
    /// Images built at once (default: the number of cores) [env: JOBS].
    #[arg(short = 'j', long, value_name = "N", value_parser = crate::config::env::parse_jobs)]
    pub jobs: Option<usize>,
    /// After a failure, go on building every image that does not depend on it.
    #[arg(short = 'k', long)]
    pub keep_going: bool,
    /// Print JSON: with --dry-run the plan, otherwise the outcome per image (built, up to
    /// date, tagged, pulled, failed, skipped, with reasons and image IDs).
    #[arg(long)]
    pub json: bool,
    /// Build even when the local image carries the same inputs (docker's cache still applies).
    #[arg(long)]
    pub force: bool,
    /// Build without docker's cache, and even when up to date (a Dockerfile that clones a
    /// moving ref: the input digest cannot see it). Alone: every image of the build (the
    /// selected ones are rebuilt); `--no-cache=a,b` (or repeated): those images only [make:
    /// NO_CACHE=1].
    #[arg(long, value_name = "IMAGE", num_args = 0..=1, require_equals = true, value_delimiter = ',', default_missing_value = "")]
    pub no_cache: Option<Vec<String>>,
    /// Print, per image, why it is built, tagged or up to date.
    #[arg(long)]
    pub explain: bool,
    /// Also build every image that depends on the selected ones, transitively (those whose
    /// inputs turn out unchanged are skipped).
    #[arg(long)]
    pub dependents: bool,
    /// Pull an image that another run pushed with the same inputs instead of building it
    /// [env: REUSE=1; images.yaml: `workspace.reuse: registry`].
    #[arg(long, conflicts_with = "no_reuse")]
    pub reuse: bool,
    /// Build locally even when `workspace.reuse` or `REUSE` asks for reuse [env: REUSE=0].
    #[arg(long)]
    pub no_reuse: bool,
    /// Stop and fail any build that takes longer (`90s`, `80m`, `2h`, `1h30m`); overrides each
    /// image's `timeout:` [make: TIMEOUT=].
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse)]
    pub timeout: Option<std::time::Duration>,
    /// Build arg for this run, `[IMAGE:]NAME=VALUE` (repeatable): without `IMAGE:` for every
    /// image of the build whose Dockerfile declares `ARG NAME`. Wins over images.yaml `args:`,
    /// counts in the input digest and is recorded as label `io.imagemk.arg.NAME`
    /// [make: ARGS="cxx:GITREF=v1.2 GITREF=master"].
    #[arg(long = "arg", value_name = "[IMAGE:]NAME=VALUE", value_parser = crate::commands::parse_run_arg)]
    pub arg: Vec<crate::commands::RunArg>,
    /// Parents this build does not build (dependencies of the selected images that are not
    /// selected) are pulled by their images.lock digest (`name@sha256:…`) and given their
    /// local names instead of being built; a parent with no lock entry is an error [make:
    /// LOCKED=1].
    #[arg(long, conflicts_with = "deps")]
    pub locked: bool,
    /// Build only shard I of N (`1/4` … `4/4`): a fixed, dependency-respecting part of the
    /// images (see `plan --shards N`); images it needs from earlier shards come from the
    /// registry, by their input digest (waiting for them up to `--shard-wait`), and the images
    /// it builds are pushed there for the later shards [make: SHARD=I/N].
    #[arg(long, value_name = "I/N", value_parser = crate::shard::parse)]
    pub shard: Option<crate::shard::Shard>,
    /// With `--shard`: how long to wait for an image another shard builds (`30m`, `2h`).
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse, requires = "shard", default_value = "30m")]
    pub shard_wait: std::time::Duration,
    #[command(flatten)]
    pub buildkit: BuilderArgs,
}

/// A BuildKit builder for the builds (build, push).
#[derive(Debug, Args, Default)]
pub struct BuilderArgs {
    /// Build through this BuildKit builder (`docker buildx build --builder NAME`): `--load`
    /// into the engine for `build`, `--push` straight to the registry for `push`; a builder on
    /// another machine or in Kubernetes does the work. Default: the legacy `docker build`
    /// [make: BUILDER=].
    #[arg(long, value_name = "NAME")]
    pub builder: Option<String>,
    /// Platforms to build for, comma-separated (`linux/arm64,linux/amd64`); needs `--builder`
    /// [make: PLATFORM_ARCH=].
    #[arg(long, value_name = "OS/ARCH,…", value_delimiter = ',')]
    pub platform_arch: Vec<String>,
}

#[derive(Debug, Args)]
pub struct WhyArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Also push under this tag (repeatable; may use `{tag}`, `{revision}`,
    /// `{short_revision}`).
    #[arg(long, value_name = "TAG")]
    pub also_tag: Vec<String>,
    /// Push images listed in `workspace.publish.force` (shared ones) [make: FORCE=1].
    #[arg(long)]
    pub force: bool,
    /// Images pushed at once (default 4) [env: JOBS].
    #[arg(short = 'j', long, value_name = "N", value_parser = crate::config::env::parse_jobs)]
    pub jobs: Option<usize>,
    /// Print name, remote name and digest per image as JSON.
    #[arg(long)]
    pub json: bool,
    /// Record each pushed image's digest (the one the registry reported to the push) in
    /// images.lock [make: LOCK=1].
    #[arg(long)]
    pub lock: bool,
    /// All or nothing: push every image under a run-unique staging tag first, then point the
    /// real tags at those digests only when every push succeeded; staging tags are removed
    /// [make: ATOMIC=1].
    #[arg(long)]
    pub atomic: bool,
    /// After a failed push, go on pushing the others and report (with `--atomic`: nothing is
    /// published still) [make: KEEP_GOING=1].
    #[arg(short = 'k', long)]
    pub keep_going: bool,
    #[command(flatten)]
    pub buildkit: BuilderArgs,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Images pulled at once (default 4) [env: JOBS].
    #[arg(short = 'j', long, value_name = "N", value_parser = crate::config::env::parse_jobs)]
    pub jobs: Option<usize>,
    /// Print name, remote name and digest per image as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The image: `KEY` or `COMPONENT/KEY`, or a kind of the current component.
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// Container name (default: `imagemk-COMPONENT-KIND-PID`).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The command to run instead of the configured one (after `--`).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
    /// The command as one line, split into words like a shell would but never evaluated
    /// (make's `CMD=`).
    #[arg(long, value_name = "LINE", conflicts_with = "command")]
    pub command_line: Option<String>,
}

#[derive(Debug, Args)]
pub struct WithdockerArgs {
    /// The image: a kind of the current component, `KEY` or `COMPONENT/KEY`.
    #[arg(long, value_name = "KIND", default_value = "buildenv")]
    pub image: String,
    /// Container name (default: `imagemk-COMPONENT-KIND-PID`).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The command to run (after `--`), e.g. `-- make test`.
    #[arg(
        last = true,
        required_unless_present = "command_line",
        value_name = "CMD"
    )]
    pub command: Vec<String>,
    /// The command as one line, split into words like a shell would but never evaluated
    /// (make's `TARGET=`).
    #[arg(long, value_name = "LINE", conflicts_with = "command")]
    pub command_line: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The image: `KEY` or `COMPONENT/KEY`, or a kind of the current component.
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// Absolute path inside the image (default: the image's `artifacts:`).
    #[arg(value_name = "PATH", requires = "dest")]
    pub path: Option<String>,
    /// Destination on the host, with docker cp's rules: an existing directory receives the
    /// copy inside it; anything else is replaced whole, and only once the copy is complete.
    #[arg(value_name = "DEST")]
    pub dest: Option<PathBuf>,
    /// Name of the temporary container (default: `imagemk-COMPONENT-KIND-PID`).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Only this repository, as a path under the registry's path (repeatable).
    #[arg(long = "repository", value_name = "NAME")]
    pub repositories: Vec<String>,
    /// Tags matching this regex (whole tag; `^in-` or `-rc$`, anchored by you, as written) [wide:
    /// needs --yes].
    #[arg(long = "match", value_name = "REGEX")]
    pub matches: Option<String>,
    /// Never tags matching this regex (whole tag, unless anchored with `^` or `$`).
    #[arg(long, value_name = "REGEX")]
    pub exclude: Option<String>,
    /// Only images created longer ago than AGE: `90s`, `15m`, `12h`, `3d`, `2w` [wide].
    #[arg(long, value_name = "AGE")]
    pub older_than: Option<String>,
    /// Keep the N newest matching images of each repository [wide].
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
    /// Also delete manifests that have no tag (acr, gar, gcr) [wide].
    #[arg(long)]
    pub untagged: bool,
    /// Apply a policy wider than one exact tag (otherwise it is a dry run).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Print the plan and the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Repositories handled at once (default 8) [env: JOBS].
    #[arg(short = 'j', long, value_name = "N", value_parser = crate::config::env::parse_jobs)]
    pub jobs: Option<usize>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print `{"schema":1,"checks":[{"name","ok","detail","fix"}…]}`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct LocalBuildenvArgs {
    /// The image: a kind of the current component, `KEY` or `COMPONENT/KEY`.
    #[arg(value_name = "IMAGE", default_value = "buildenv")]
    pub image: String,
    /// Replace host files that exist and differ from the image's (identical ones are
    /// always skipped) [make: FORCE=1].
    #[arg(long)]
    pub force: bool,
    /// Put the artifacts under DIR instead of `/` (a sysroot; packages still go to the
    /// host) [make: LOCAL_BUILDENV_ROOT].
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Name of the temporary container (default: `imagemk-COMPONENT-KIND-PID`).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Print JSON (`"schema": 1`, documented in docs/plan.md).
    #[arg(long)]
    pub json: bool,
    /// Plan the dependencies as rebuilt too, as `build --deps` would.
    #[arg(long)]
    pub deps: bool,
    /// Plan the selected images as built even when up to date, as `build --force` would.
    #[arg(long)]
    pub force: bool,
    /// Also plan every image that depends on the selected ones, as `build --dependents`.
    #[arg(long)]
    pub dependents: bool,
    /// Split the images into N shards for `build --shard I/N`: each entry gets its `shard`
    /// (from 1), and the JSON a `shards` list.
    #[arg(long, value_name = "N", value_parser = crate::shard::parse_shards)]
    pub shards: Option<usize>,
    /// Build arg for this run, as `build --arg` takes it: the plan shows the values, digests
    /// and commands that build would use.
    #[arg(long = "arg", value_name = "[IMAGE:]NAME=VALUE", value_parser = crate::commands::parse_run_arg)]
    pub arg: Vec<crate::commands::RunArg>,
    #[command(flatten)]
    pub buildkit: BuilderArgs,
}

#[derive(Debug, clap::Args)]
pub struct RefsArgs {
    /// Rewrite every drifting reference to its locked `name[:tag]@sha256:…` (with `--dry-run`:
    /// print the unified diff instead).
    #[arg(long, conflicts_with = "check")]
    pub write: bool,
    /// Rewrite nothing; list each drifting `file:line: found → locked` and exit 1 when there is
    /// one (the default).
    #[arg(long)]
    pub check: bool,
    /// Print the drifting references as JSON (`"schema": 1`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PinArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Compare images.lock with the registry and write nothing: exit 1 listing every entry
    /// whose tag now has another digest or is gone. Without IMAGE, `--all` or `--kind`:
    /// every entry of the lock.
    #[arg(long)]
    pub check: bool,
    /// Print the entries (remote, image, tag, digest) as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// The tag to point at each image's locked digest, e.g. `prod` [make: PROMOTE_TO].
    #[arg(long, value_name = "TAG")]
    pub to: String,
    /// Promote even when the registry's digest for the locked tag differs from images.lock
    /// (the locked digest is promoted).
    #[arg(long)]
    pub force: bool,
    /// Print, per tag, the old and the new digest as JSON.
    #[arg(long)]
    pub json: bool,
}
