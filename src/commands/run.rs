//! `imagemk run IMAGE [-- CMD…]`: a container of the image with its configured devices,
//! ulimits, init, user, env names, working directory and command; its status is ours.

use super::container::launch;
use super::Ctx;
use crate::cli::RunArgs;
use crate::container::run;

pub fn run(ctx: &Ctx, args: &RunArgs) -> anyhow::Result<i32> {
    launch(
        ctx,
        &args.image,
        args.name.as_deref(),
        &args.command,
        run::run,
    )
}
