//! `imagemk withdocker [--image KIND] -- CMD…`: the command in the component's build
//! environment over the workspace tree (same path, same directory, your uid:gid, MAKEFLAGS).

use super::container::launch;
use super::Ctx;
use crate::cli::WithdockerArgs;
use crate::container::run;

pub fn run(ctx: &Ctx, args: &WithdockerArgs) -> anyhow::Result<i32> {
    launch(
        ctx,
        &args.image,
        args.name.as_deref(),
        &args.command,
        |req, facts| run::withdocker(req, facts, &ctx.ws.root, &ctx.cwd),
    )
}
