//! Variants asked for on the command line (`--variant debug`, or several at once:
//! `--variant plain,debug`, `VARIANT=plain,debug`; `plain` is the image without a variant).
//! Several variants load the workspace once per variant (each load resolves names, args and
//! dependencies within its own variant, as a single-variant run does) and merge the loads
//! into one [`Workspace`]: an image that is the same in two loads (same local name: it has
//! no such variant) is kept once, and every other one is added with its dependencies pointing
//! into the merged list. So one plan builds, and one push pushes, every variant of every
//! selected image, in parallel where the graph allows.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::bail;

use super::{check, error, Env, Index, Overrides, Workspace};

/// The variant name that means "no variant".
pub const PLAIN: &str = "plain";

/// Loads the workspace for the variant(s) asked for (flag, else `VARIANT`).
pub fn load(cwd: &Path, overrides: &Overrides, env: &Env) -> anyhow::Result<Workspace> {
    let Some((given, list)) = requested(overrides.variant.as_deref(), env)? else {
        return super::load(cwd, overrides, env);
    };
    let mut merged: Option<Workspace> = None;
    for v in &list {
        let one = Overrides {
            variant: Some(v.clone()),
            ..overrides.clone()
        };
        let ws = super::load(cwd, &one, env)?;
        check_known(&ws, v, &given)?;
        merged = Some(match merged {
            None => ws,
            Some(m) => merge(m, ws),
        });
    }
    let mut ws = merged.expect("a variant list has an item");
    ws.variants = list;
    Ok(ws)
}

/// `(what the user wrote, the variants)` when any variant is asked for; a list is checked
/// here (empty items, names, duplicates); a single name is checked by the load as before.
fn requested(flag: Option<&str>, env: &Env) -> anyhow::Result<Option<(String, Vec<String>)>> {
    let (text, given) = match (flag, env.get(&["VARIANT"])) {
        (Some(f), _) => (f, format!("--variant {f}")),
        (None, Some(v)) if !v.is_empty() => (v, format!("VARIANT={v}")),
        _ => return Ok(None),
    };
    let given = crate::reference::shorten(&given, 80);
    if !text.contains(',') {
        return Ok(Some((given, vec![text.to_string()])));
    }
    let mut list: Vec<String> = Vec::new();
    for item in text.split(',') {
        if item.is_empty() {
            bail!("`{given}` has an empty item; list variants separated by single commas, e.g. `plain,debug`");
        }
        check::name("variant", item).map_err(anyhow::Error::msg)?;
        if list.iter().any(|v| v == item) {
            bail!("`{given}` names `{item}` twice; name each variant once");
        }
        list.push(item.to_string());
    }
    Ok(Some((given, list)))
}

/// A variant no image of the workspace defines is a mistake (`plain` always exists).
fn check_known(ws: &Workspace, v: &str, given: &str) -> anyhow::Result<()> {
    let defined: BTreeSet<&str> = ws
        .images
        .iter()
        .flat_map(|i| i.variants.iter().map(String::as_str))
        .chain([PLAIN])
        .collect();
    if defined.contains(v) {
        return Ok(());
    }
    let names: Vec<&str> = defined.into_iter().collect();
    let hint = error::did_you_mean(v, &names);
    bail!(
        "unknown variant `{v}` in `{given}`{hint} (variants: {}); define it under an image's `variants:`",
        names.join(", ")
    )
}

/// `other`'s images added to `into`, except those `into` already has by name; dependencies
/// are renumbered into the merged list.
fn merge(mut into: Workspace, other: Workspace) -> Workspace {
    let mut at = Vec::with_capacity(other.images.len());
    let mut added = Vec::new();
    for (j, img) in other.images.iter().enumerate() {
        match into.index.by_name.get(&img.name.to_string()) {
            Some(&i) => at.push(i),
            None => {
                at.push(into.images.len() + added.len());
                added.push(j);
            }
        }
    }
    for j in added {
        let mut img = other.images[j].clone();
        img.depends = img.depends.iter().map(|&d| at[d]).collect();
        into.images.push(img);
    }
    into.index = Index::new(&into.images);
    into
}
