//! `imagemk local-buildenv [IMAGE]`: sets this host up to build without the container, from
//! the image's `host:` section. Everything is planned and checked first (the image, its
//! `host:`, the destinations, the package manager and the privilege to run it); then the
//! image is pulled when it is not local (`pull::pull_as`; on a refusal, the registry's login
//! and one more pull), its `host: artifacts:` are extracted through `extract`'s undoable swap
//! (an identical destination is skipped, a differing one needs `--force`), and the packages
//! are installed with the host's package manager, each command printed before it runs.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::container::{name, pick_one};
use super::extract::{execute_filtered, protected};
use super::{engine, login, pull, Ctx};
use crate::cli::LocalBuildenvArgs;
use crate::config::Host;
use crate::config::Image;
use crate::container::extract::{self, Request};
use crate::container::swap::Move;
use crate::exec::{self, Cmd};
use crate::host::packages;
use crate::host::same::same;
use crate::job::{JobError, Kind};
use crate::registry::{self, transfer};
use crate::ExitStatus;

/// How the packages get installed.
enum Install {
    /// Nothing to install.
    Nothing,
    /// These commands, in order.
    Run(Vec<Cmd>),
    /// The host cannot: this message (with the lists) is the final error, exit status 1.
    ByHand(String),
}

pub fn run(ctx: &Ctx, args: &LocalBuildenvArgs) -> anyhow::Result<i32> {
    let image = &ctx.ws.images[pick_one(ctx, &args.image)?];
    let host = host_of(ctx, image)?;
    let root = root(args.root.as_deref())?;
    let requests = requests(host, &root);
    let name = name(args.name.as_deref(), image, ctx)?;
    let plan = extract::plan(&name, &image.name.to_string(), &requests, &protected(ctx))?;
    let install = install(image, host)?;
    let present = engine::local_images(ctx, &format!("assuming `{}` exists", image.name))?;
    let must_pull = present
        .as_ref()
        .map(|p| !p.contains(&image.name.to_string()));
    if ctx.dry_run {
        print_plan(ctx, image, must_pull, &plan, args.force, &install)?;
    } else {
        if must_pull == Some(true) {
            pull_image(ctx, image)?;
        }
        if !plan.copies.is_empty() {
            extract_files(ctx, &plan, image, args.force)?;
        }
        run_install(ctx, &install)?;
    }
    match install {
        Install::ByHand(message) => Err(ExitStatus {
            code: 1,
            message: Some(message),
        }
        .into()),
        _ => Ok(0),
    }
}

fn host_of<'a>(ctx: &Ctx, image: &'a Image) -> anyhow::Result<&'a Host> {
    image.host.as_ref().ok_or_else(|| {
        anyhow::anyhow!(
            "image `{}` has no `host:` in `{}`, so there is nothing to set up on this host\nhint: list the packages its toolchain needs (`host: {{apt: […], dnf: […]}}`) and the files to copy out (`host: {{artifacts: [{{from: /opt/…, to: /opt/…}}]}}`)",
            image.id,
            ctx.ws.components[image.component].file.display()
        )
    })
}

/// `--root DIR`: an existing directory, canonical; `/` without it.
fn root(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let Some(dir) = given else {
        return Ok(PathBuf::from("/"));
    };
    match std::fs::canonicalize(dir) {
        Ok(p) if p.is_dir() => Ok(p),
        _ => bail!(
            "`--root {}` is not an existing directory; create it first",
            dir.display()
        ),
    }
}

/// Each `host: artifacts:` entry, its destination under `root`.
fn requests(host: &Host, root: &Path) -> Vec<Request> {
    host.artifacts
        .iter()
        .map(|a| {
            let to = root.join(a.to.trim_start_matches('/'));
            Request {
                from: a.from.clone(),
                shown: to.to_string_lossy().into_owned(),
                to,
                artifact: true,
            }
        })
        .collect()
}

/// The host's package manager and the commands for the image's list (with `sudo` when not
/// root); an error naming the commands when they need root and there is no `sudo`.
fn install(image: &Image, host: &Host) -> anyhow::Result<Install> {
    if !host.has_packages() {
        return Ok(Install::Nothing);
    }
    let os = packages::read_os_release(Path::new("/"));
    let Some(manager) = packages::detect(&os, exec::installed) else {
        return Ok(Install::ByHand(format!(
            "this host has no package manager imagemk knows (apt-get, dnf, yum, apk); install by hand what image `{}` needs:\n{}",
            image.id,
            packages::by_hand(host)
        )));
    };
    let list = manager.packages(host);
    if list.is_empty() {
        return Ok(Install::ByHand(format!(
            "image `{}` lists no `{}` packages in `host:` for this host's `{}`; install by hand the equivalents of:\n{}\nhint: add a `{}:` list to its `host:`",
            image.id,
            manager.key(),
            manager.program(),
            packages::by_hand(host),
            manager.key()
        )));
    }
    if is_root() {
        return Ok(Install::Run(manager.commands(list, false)));
    }
    if exec::installed("sudo") {
        return Ok(Install::Run(manager.commands(list, true)));
    }
    bail!(
        "installing the packages of image `{}` needs root, and `sudo` is not installed; run as root: `{}`, then `imagemk local-buildenv` again",
        image.id,
        joined(&manager.commands(list, false))
    )
}

fn joined(cmds: &[Cmd]) -> String {
    let lines: Vec<String> = cmds.iter().map(ToString::to_string).collect();
    lines.join(" && ")
}

/// Root per `id -u` (a program, so that tests can stand in for it); the process's own euid
/// when `id` cannot run.
fn is_root() -> bool {
    match exec::capture(&Cmd::new("id").arg("-u")) {
        Ok(out) => out.stdout.trim() == "0",
        // SAFETY: geteuid cannot fail and has no preconditions.
        Err(_) => (unsafe { libc::geteuid() }) == 0,
    }
}

fn print_plan(
    ctx: &Ctx,
    image: &Image,
    must_pull: Option<bool>,
    plan: &extract::Plan,
    force: bool,
    install: &Install,
) -> anyhow::Result<()> {
    if must_pull != Some(false) {
        let reg = pull_registry(ctx, image)?;
        let jobs = transfer::plan_pull(&ctx.ws, &reg, &[ctx.ws.image(&image.id).unwrap()])?;
        if must_pull.is_none() {
            crate::console::outln!("# when `{}` is not in the local engine:", image.name);
        }
        for line in jobs[0].lines() {
            crate::console::outln!("{line}");
        }
        crate::console::outln!("{}", transfer::PULL_NOTE);
        crate::console::outln!(
            "# if the registry refuses the credentials: {}, then the pull again",
            reg.login()
        );
    }
    if !plan.copies.is_empty() {
        for line in plan.lines() {
            crate::console::outln!("{line}");
        }
        crate::console::outln!(
            "# a destination that exists is skipped when identical; one that differs is {}",
            match force {
                true => "replaced (--force)",
                false => "an error (replace it with --force)",
            }
        );
    }
    if let Install::Run(cmds) = install {
        for c in cmds {
            crate::console::outln!("{c}");
        }
    }
    Ok(())
}

/// Pulls the image under its local name; when the registry refuses the credentials, runs its
/// login (on the terminal: it may prompt) and pulls once more.
fn pull_image(ctx: &Ctx, image: &Image) -> anyhow::Result<()> {
    let fail = |e: anyhow::Error| {
        anyhow::anyhow!(
            "{e:#}\nhint: or build it here with `make {}-image`; then run `imagemk local-buildenv` again",
            image.kind
        )
    };
    let reg = pull_registry(ctx, image)?;
    let remote = transfer::remote_name(&ctx.ws, &reg, image)?;
    let attempt = || {
        let task = ctx.progress.task(&image.id, &format!("pulling {remote}"));
        let r = pull::pull_as(ctx, &reg, &image.id, &remote, &image.name, &task);
        task.finish(r.is_ok(), if r.is_ok() { "pulled" } else { "failed" });
        r
    };
    match attempt() {
        Ok(_) => Ok(()),
        Err(e) if refused(&e) && !crate::signal::interrupted() => {
            ctx.progress.println(&format!(
                "registry `{}` refused the credentials; logging in: {}",
                reg.name,
                reg.login()
            ));
            login::run(ctx)?;
            attempt().map(|_| ()).map_err(fail)
        }
        Err(e) => Err(fail(e)),
    }
}

/// The registry to pull the missing image from; when there is none, an error that says so
/// and how to build the image instead.
fn pull_registry(ctx: &Ctx, image: &Image) -> anyhow::Result<registry::Registry> {
    registry::choose(&ctx.ws.registries, ctx.ws.registry.as_deref()).map_err(|e| {
        anyhow::anyhow!(
            "image `{}` (`{}`) is not in the local engine and must be pulled, but {e:#}\nhint: or build it here with `make {}-image`",
            image.id,
            image.name,
            image.kind
        )
    })
}

/// Whether a pull failed because the registry wants (other) credentials.
fn refused(e: &anyhow::Error) -> bool {
    e.downcast_ref::<JobError>()
        .is_some_and(|job| job.is(Kind::Unauthorized))
}

/// Extracts the host artifacts: identical destinations skipped, differing ones an error
/// unless `force`; a destination this user may not write is named with what to do.
fn extract_files(
    ctx: &Ctx,
    plan: &extract::Plan,
    image: &Image,
    force: bool,
) -> anyhow::Result<()> {
    let mut unchanged = Vec::new();
    let keep = |m: &Move| -> anyhow::Result<bool> {
        if std::fs::symlink_metadata(&m.target).is_err() {
            return Ok(true);
        }
        if same(&m.new, &m.target).with_context(|| format!("comparing `{}`", m.target.display()))? {
            unchanged.push(m.target.clone());
            return Ok(false);
        }
        if force {
            return Ok(true);
        }
        bail!(
            "`{}` exists on this host and differs from the copy in image `{}`; nothing was written\nhint: replace it with `imagemk local-buildenv --force` (`make local-buildenv FORCE=1`), or move it away first",
            m.target.display(),
            image.id
        )
    };
    execute_filtered(ctx, plan, image, keep).map_err(|e| match denied(&e) {
        true => e.context("copying the host artifacts failed: this user may not write there\nhint: run it as root (`sudo imagemk local-buildenv`), or put the files under a directory of yours with `--root DIR`"),
        false => e,
    })?;
    for path in unchanged {
        ctx.progress
            .println(&format!("unchanged (identical): {}", path.display()));
    }
    Ok(())
}

fn denied(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::PermissionDenied)
    })
}

/// Runs each install command on the terminal (it may prompt for a sudo password), printing
/// it first.
fn run_install(ctx: &Ctx, install: &Install) -> anyhow::Result<()> {
    let Install::Run(cmds) = install else {
        return Ok(());
    };
    for (i, cmd) in cmds.iter().enumerate() {
        ctx.progress.println(&format!("running: {cmd}"));
        exec::require(&cmd.program)?;
        let code = exec::interactive(cmd)?;
        if crate::signal::interrupted() {
            return Err(crate::signal::Interrupted.into());
        }
        if code != 0 {
            bail!(
                "`{cmd}` exited with status {code}; the files are in place, so run `{}` by hand (or fix what it reports and run `imagemk local-buildenv` again)",
                joined(&cmds[i..])
            );
        }
    }
    Ok(())
}
