//! What `run`, `withdocker` and `extract` share: picking the one image, checking it exists
//! locally (imagemk never pulls behind the user's back), gathering the host facts, and running
//! a container so that its exit status becomes imagemk's and Ctrl-C leaves nothing behind.

use super::Ctx;
use crate::config::Image;
use crate::container::{self, facts, run::Planned, Engine, Facts};
use crate::{exec, signal, ExitStatus};

/// Resolves `spec`: an alias or image key (`test`, `node/test`), else an image kind of the current
/// component (what the make targets pass).
pub fn pick_one(ctx: &Ctx, spec: &str) -> anyhow::Result<usize> {
    let ws = &ctx.ws;
    let by_key = super::select::find(ws, spec);
    if by_key.is_ok() || spec.contains('/') {
        return by_key;
    }
    let of_kind: Vec<usize> = (0..ws.images.len())
        .filter(|&i| ws.images[i].component == ws.current && ws.images[i].kind == spec)
        .collect();
    match of_kind.as_slice() {
        [one] => Ok(*one),
        [] => by_key,
        many => anyhow::bail!(
            "component `{}` has several images of kind `{spec}` ({}); name one",
            ws.components[ws.current].name,
            many.iter()
                .map(|&i| format!("`{}`", ws.images[i].id))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Fails unless the image is in the local engine, saying how to get it. In a dry run an
/// unreachable engine is only a note.
pub fn ensure_present(ctx: &Ctx, image: &Image) -> anyhow::Result<()> {
    let assumed = format!("assuming `{}` exists", image.name);
    let Some(present) = super::engine::local_images(ctx, &assumed)? else {
        return Ok(());
    };
    if present.contains(&image.name.to_string()) {
        return Ok(());
    }
    let comp = &ctx.ws.components[image.component];
    let here = image.component == ctx.ws.current;
    let make = if here {
        "make".to_string()
    } else {
        let rel = comp.dir.strip_prefix(&ctx.ws.root).unwrap_or(&comp.dir);
        format!("make -C {}", rel.display())
    };
    anyhow::bail!(
        "image `{}` (`{}`) is not in the local engine; build it with `{make} {kind}-image` or get it with `{make} pull-{kind}-image` (imagemk never pulls it by itself)",
        image.id,
        image.name,
        kind = image.kind
    )
}

/// The host facts for `image`; the engine is asked whether it is rootless (a dry run with no
/// engine assumes it is not).
pub fn gather(ctx: &Ctx, image: &Image) -> anyhow::Result<Facts> {
    let engine = match facts::engine() {
        Ok(e) => e,
        Err(e) if ctx.dry_run => {
            ctx.progress.println(&format!(
                "note: cannot ask the engine whether it is rootless ({e:#}); assuming it is not"
            ));
            Engine::Rootful
        }
        Err(e) => return Err(e),
    };
    Ok(Facts::gather(&image.run.devices, engine))
}

/// The container name: `--name`, else one unique to this process.
pub fn name(given: Option<&str>, image: &Image, ctx: &Ctx) -> anyhow::Result<String> {
    match given {
        Some(n) => container::check_name(n).map(|_| n.to_string()),
        None => Ok(container::default_name(
            &ctx.ws.components[image.component].name,
            &image.kind,
        )),
    }
}

/// Prints the plan (dry run) or runs it; the container's exit status is returned, with a line
/// of explanation for the statuses docker itself uses.
pub fn execute(ctx: &Ctx, planned: &Planned, name: &str, image: &Image) -> anyhow::Result<i32> {
    for w in &planned.warnings {
        ctx.progress.println(w);
    }
    if ctx.dry_run {
        crate::console::outln!("{}", planned.cmd);
        return Ok(0);
    }
    // A signal while the engine was being asked: the container is never started.
    if signal::interrupted() {
        return Err(signal::Interrupted.into());
    }
    let remove = crate::engine::container::remove(name);
    let code = exec::interactive_with_stop(&planned.cmd, &remove)?;
    if signal::interrupted() {
        let _ = exec::capture_cleanup(&remove);
        return Err(signal::Interrupted.into());
    }
    explain_status(code, &image.name.to_string())
}

fn explain_status(code: i32, image: &str) -> anyhow::Result<i32> {
    let message = match code {
        125 => format!(
            "{engine} could not start a container of `{image}` (exit status 125); see {engine}'s message above",
            engine = crate::engine::program()
        ),
        126 => format!(
            "the command could not be run in `{image}` (exit status 126); is it executable?{}",
            crate::engine::current().status_126_hint()
        ),
        127 => format!(
            "the command was not found in `{image}` (exit status 127); check its name and the image's PATH"
        ),
        _ => return Ok(code),
    };
    Err(ExitStatus {
        code,
        message: Some(message),
    }
    .into())
}

/// What `run` and `withdocker` share: pick the image, name the container, check it exists,
/// gather the host facts, let `plan` render the `docker run`, then run it.
pub fn launch(
    ctx: &Ctx,
    spec: &str,
    given_name: Option<&str>,
    command: &[String],
    plan: impl FnOnce(&crate::container::run::Request, &Facts) -> anyhow::Result<Planned>,
) -> anyhow::Result<i32> {
    let image = &ctx.ws.images[pick_one(ctx, spec)?];
    let name = name(given_name, image, ctx)?;
    crate::container::run::check_devices(&image.run, &image.id)?;
    ensure_present(ctx, image)?;
    let facts = gather(ctx, image)?;
    let image_name = image.name.to_string();
    let request = crate::container::run::Request {
        name: &name,
        image_name: &image_name,
        image_id: &image.id,
        options: &image.run,
        command,
    };
    let planned = plan(&request, &facts)?;
    execute(ctx, &planned, &name, image)
}
