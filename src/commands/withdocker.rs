//! `imagemk withdocker [--image KIND] -- CMD…`: the command in the component's build
//! environment over the workspace tree (same path, same directory, your uid:gid, MAKEFLAGS).

use super::container::{ensure_present, execute, gather, name, pick_one};
use super::Ctx;
use crate::cli::WithdockerArgs;
use crate::container::run::{self, Request};

pub fn run(ctx: &Ctx, args: &WithdockerArgs) -> anyhow::Result<i32> {
    let image = &ctx.ws.images[pick_one(ctx, &args.image)?];
    let name = name(args.name.as_deref(), image, ctx)?;
    ensure_present(ctx, image)?;
    let facts = gather(ctx, image)?;
    let image_name = image.name.to_string();
    let planned = run::withdocker(
        &Request {
            name: &name,
            image_name: &image_name,
            image_id: &image.id,
            options: &image.run,
            command: &args.command,
        },
        &facts,
        &ctx.ws.root,
        &ctx.cwd,
    )?;
    execute(ctx, &planned, &name, image)
}
