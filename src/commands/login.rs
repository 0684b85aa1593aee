//! `imagemk login`: runs the chosen registry's login command on the terminal (it may prompt).

use anyhow::bail;

use super::Ctx;
use crate::exec;
use crate::registry;

pub fn run(ctx: &Ctx) -> anyhow::Result<i32> {
    let reg = registry::choose(&ctx.ws.registries, ctx.ws.registry.as_deref())?;
    let cmd = reg.login();
    if ctx.dry_run {
        crate::console::outln!("{cmd}");
        return Ok(0);
    }
    exec::require(&cmd.program)?;
    let code = exec::interactive(&cmd)?;
    if crate::signal::interrupted() {
        return Err(crate::signal::Interrupted.into());
    }
    if code != 0 {
        bail!(
            "logging in to registry `{}` failed: `{cmd}` exited with status {code}",
            reg.name
        );
    }
    Ok(0)
}
