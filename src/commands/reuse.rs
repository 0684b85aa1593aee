//! The seam for reuse from the registry (issue 10, item 5): images the plan would build are
//! offered here first, by input digest; one that the registry has is pulled and tagged
//! instead of built. Not implemented yet: nothing is ever found, so the plan is unchanged.

use std::collections::BTreeMap;

use super::Ctx;
use crate::plan::{self, Action, BuildRequest, Facts};

/// An image found in the registry under its input digest and pulled (its local image ID).
#[derive(Debug, Clone)]
pub struct Pulled {
    pub id: String,
}

/// Looks up `wanted` (`(image index, input digest)` of every image the plan builds for want
/// of a local image with its inputs, not forced) in the registry; returns the ones pulled and
/// tagged with their local names. Called once per run, so look-ups may run in parallel.
pub fn reuse_from_registry(
    _ctx: &Ctx,
    _wanted: &[(usize, String)],
) -> anyhow::Result<BTreeMap<usize, Pulled>> {
    Ok(BTreeMap::new())
}

/// Offers the images the plan would build to [`reuse_from_registry`]; the ones found go
/// into `facts.pulled`, so the plan then decides `pulled` for them instead of a build.
pub fn apply(ctx: &Ctx, req: &BuildRequest, facts: &mut Facts) -> anyhow::Result<()> {
    let wanted: Vec<(usize, String)> = plan::decide(&ctx.ws, req, facts)
        .into_iter()
        .filter(|d| d.action == Action::Build && d.reasons.iter().all(|r| r != "forced"))
        .filter_map(|d| d.digest.map(|g| (d.image, g)))
        .collect();
    if ctx.dry_run || wanted.is_empty() {
        return Ok(());
    }
    for (i, p) in reuse_from_registry(ctx, &wanted)? {
        facts.pulled.insert(i, p.id);
    }
    Ok(())
}
