//! `imagemk run IMAGE [-- CMD…]`: a container of the image with its configured devices,
//! ulimits, init, user, env names, working directory and command; its status is ours.

use super::container::{ensure_present, execute, gather, name, pick_one};
use super::Ctx;
use crate::cli::RunArgs;
use crate::container::run::{self, Request};

pub fn run(ctx: &Ctx, args: &RunArgs) -> anyhow::Result<i32> {
    let image = &ctx.ws.images[pick_one(ctx, &args.image)?];
    let name = name(args.name.as_deref(), image, ctx)?;
    ensure_present(ctx, image)?;
    let facts = gather(ctx, image)?;
    let image_name = image.name.to_string();
    let planned = run::run(
        &Request {
            name: &name,
            image_name: &image_name,
            image_id: &image.id,
            options: &image.run,
            command: &args.command,
        },
        &facts,
    )?;
    execute(ctx, &planned, &name, image)
}
