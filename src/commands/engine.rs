//! What the commands ask the engine before they plan: which images exist locally.

use std::collections::BTreeSet;

use super::Ctx;
use crate::engine::{self, image};
use crate::exec;

/// The `repository:tag` of every local image. In a dry run an unreachable engine is not an
/// error: the answer is then `None` (unknown), and a note says what is assumed.
/// `assumed` ends the note, e.g. `planning every dependency`.
pub fn local_images(ctx: &Ctx, assumed: &str) -> anyhow::Result<Option<BTreeSet<String>>> {
    let query = exec::require(engine::program())
        .and_then(|_| exec::capture(&image::image_list()))
        .map_err(engine::explain);
    match query {
        Ok(out) => {
            let engine = engine::current();
            Ok(Some(
                out.stdout.lines().map(|l| engine.local_name(l)).collect(),
            ))
        }
        Err(e) if ctx.dry_run => {
            ctx.progress.println(&format!(
                "note: cannot ask the engine which images exist ({e}); {assumed}"
            ));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The engine imagemk talks to (`DOCKER_HOST`, `DOCKER_CONTEXT`; empty parts for the
/// defaults), for locks that must be shared by every run on the same engine.
pub fn daemon_key(ctx: &Ctx) -> String {
    let get = |k: &str| ctx.env.get(&[k]).unwrap_or_default().to_string();
    let key = format!("{}|{}", get("DOCKER_HOST"), get("DOCKER_CONTEXT"));
    format!("{}{key}", crate::engine::current().lock_prefix())
}
