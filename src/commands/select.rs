//! Turns `IMAGE…` (aliases included), `--all` and `--kind` into image indices.

use anyhow::bail;

use crate::cli::Selection;
use crate::config::Workspace;

/// An image name on the command line: an alias (`workspace.aliases`), `key` or
/// `component/key`.
pub fn find(ws: &Workspace, spec: &str) -> anyhow::Result<usize> {
    match ws.aliases.get(spec) {
        Some(&i) => Ok(i),
        None => ws.find(spec),
    }
}

pub fn select(ws: &Workspace, sel: &Selection) -> anyhow::Result<Vec<usize>> {
    if sel.all {
        return Ok((0..ws.images.len()).collect());
    }
    let mut out = named(ws, &sel.images)?;
    let here: Vec<usize> = (0..ws.images.len())
        .filter(|&i| ws.images[i].component == ws.current)
        .collect();
    for kind in &sel.kind {
        out.extend(of_kind(ws, &here, kind)?);
    }
    if sel.images.is_empty() && sel.kind.is_empty() {
        if here.is_empty() {
            let comp = &ws.components[ws.current];
            bail!(
                "component `{}` (`{}`) defines no images; name some, or use `--all`",
                comp.name,
                comp.file.display()
            );
        }
        out = here;
    }
    out.sort();
    out.dedup();
    Ok(with_variants(ws, out))
}

/// [`select`] for commands that build: the first problem of a selected image (a missing
/// Dockerfile or context) and bad staged inputs are refused before any command runs.
pub fn buildable(ws: &Workspace, sel: &Selection) -> anyhow::Result<Vec<usize>> {
    let selected = select(ws, sel)?;
    if let Some(problem) = selected.iter().flat_map(|&i| &ws.images[i].problems).next() {
        bail!("{problem}");
    }
    crate::plan::check_inputs(ws, &selected)?;
    Ok(selected)
}

/// The images named on the command line, in order; an image named twice through an alias is
/// refused (it is ambiguous which name was meant).
fn named(ws: &Workspace, specs: &[String]) -> anyhow::Result<Vec<usize>> {
    let mut out = Vec::new();
    let mut by: std::collections::BTreeMap<usize, &str> = std::collections::BTreeMap::new();
    for spec in specs {
        let i = find(ws, spec)?;
        if let Some(first) = by.insert(i, spec) {
            let aliased = ws.aliases.contains_key(first) || ws.aliases.contains_key(spec);
            if first != spec && aliased {
                bail!(
                    "`{first}` and `{spec}` both name image `{}`; name it once",
                    ws.images[i].id
                );
            }
        }
        out.push(i);
    }
    Ok(out)
}

/// The images of `kind` among `here` (the current component's); none is an error.
fn of_kind(ws: &Workspace, here: &[usize], kind: &str) -> anyhow::Result<Vec<usize>> {
    let found: Vec<usize> = here
        .iter()
        .copied()
        .filter(|&i| ws.images[i].kind == kind)
        .collect();
    if found.is_empty() {
        let mut kinds: Vec<&str> = here.iter().map(|&i| ws.images[i].kind.as_str()).collect();
        kinds.dedup();
        let comp = &ws.components[ws.current];
        let hint = crate::config::error::did_you_mean(kind, &kinds);
        bail!(
            "component `{}` (`{}`) has no image of kind `{kind}`{hint} (kinds there: {})",
            comp.name,
            comp.file.display(),
            if kinds.is_empty() {
                "none".to_string()
            } else {
                kinds.join(", ")
            }
        );
    }
    Ok(found)
}

/// With several variants (`--variant plain,debug`): `chosen` and every other variant of the
/// same images (same id), in index order; otherwise `chosen` as it is.
pub fn with_variants(ws: &Workspace, chosen: Vec<usize>) -> Vec<usize> {
    if ws.variants.len() < 2 {
        return chosen;
    }
    let ids: std::collections::BTreeSet<&str> =
        chosen.iter().map(|&i| ws.images[i].id.as_str()).collect();
    (0..ws.images.len())
        .filter(|&i| ids.contains(ws.images[i].id.as_str()))
        .collect()
}
