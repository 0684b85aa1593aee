//! `build --arg [IMAGE:]NAME=VALUE`: per-run build-arg values, checked and applied to the
//! workspace's images before planning, so they are resolved args like `images.yaml` `args:`
//! (input digest, `--explain`, `--build-arg`) and are recorded as `io.imagemk.arg.NAME` labels.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;

use super::{select::select, Ctx};
use crate::cli::BuildArgs;
use crate::config::Workspace;
use crate::dockerfile::Dockerfile;

/// One `--arg` as given: an optional image spec, a checked name and a raw value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunArg {
    pub image: Option<String>,
    pub name: String,
    pub value: String,
}

/// clap's parser for `--arg`: `[IMAGE:]NAME=VALUE`.
pub fn parse(text: &str) -> Result<RunArg, String> {
    let shown = crate::reference::shorten(text, 60);
    let Some((left, value)) = text.split_once('=') else {
        return Err(format!(
            "`{shown}` has no `=`; give `NAME=VALUE` or `IMAGE:NAME=VALUE`"
        ));
    };
    let (image, name) = match left.rsplit_once(':') {
        Some((i, n)) => (Some(i.to_string()), n),
        None => (None, left),
    };
    if image.as_deref() == Some("") {
        return Err(format!(
            "`{shown}` has an empty image before `:`; give `IMAGE:NAME=VALUE` or drop the `:`"
        ));
    }
    if name.is_empty() {
        return Err(format!(
            "`{shown}` has an empty name; give `NAME=VALUE` or `IMAGE:NAME=VALUE`"
        ));
    }
    crate::config::check::env_name("build arg", name)?;
    Ok(RunArg {
        image,
        name: name.to_string(),
        value: value.to_string(),
    })
}

/// Applies `args.arg` to the images the request builds; bad input fails here, before the
/// engine is asked anything.
pub fn apply(ctx: Ctx, args: &BuildArgs) -> anyhow::Result<Ctx> {
    apply_to(ctx, &args.selection, args.dependents, &args.arg)
}

/// [`apply`] for any command that plans a build (`build`, `plan`): the values of `given` set
/// on the images of the selection's closure.
pub fn apply_to(
    mut ctx: Ctx,
    selection: &crate::cli::Selection,
    dependents: bool,
    given: &[RunArg],
) -> anyhow::Result<Ctx> {
    if given.is_empty() {
        return Ok(ctx);
    }
    let req = crate::plan::BuildRequest {
        selected: select(&ctx.ws, selection)?,
        dependents,
        ..Default::default()
    };
    let closure = crate::plan::closure(&ctx.ws, &req).into_iter().collect();
    let set = resolve(&ctx.ws, &closure, given)?;
    let mut before = Vec::new();
    for (i, values) in set {
        let img = &mut ctx.ws.images[i];
        before.push((i, img.args.clone()));
        for (k, v) in values {
            img.args.insert(k.clone(), v.clone());
            img.run_args.insert(k, v);
        }
    }
    for (i, args) in &before {
        same_parents(&ctx.ws, *i, args)?;
    }
    Ok(ctx)
}

/// A run value may not change what an image is built `FROM`: dependencies are resolved from
/// the FROM lines when the workspace loads, so a parent named by a run value would be built
/// on without being built first or counted in the input digest.
fn same_parents(ws: &Workspace, i: usize, before: &BTreeMap<String, String>) -> anyhow::Result<()> {
    let img = &ws.images[i];
    let Some(text) = crate::dockerfile::read_text(&img.dockerfile) else {
        return Ok(());
    };
    let df = crate::dockerfile::Dockerfile::parse(&text);
    // The workspace images the FROM lines name (external bases may change: their local image
    // ID is part of the input digest).
    let named = |args: &BTreeMap<String, String>| -> Vec<String> {
        df.expanded_refs(args)
            .into_iter()
            .filter(|r| {
                crate::reference::ImageRef::parse(r)
                    .is_ok_and(|r| ws.image_named(&r.to_string()).is_some_and(|d| d != i))
            })
            .collect()
    };
    let (old, new) = (named(before), named(&img.args));
    if old == new {
        return Ok(());
    }
    let changed: Vec<String> = img
        .run_args
        .keys()
        .filter(|k| before.get(*k) != img.args.get(*k))
        .map(|k| format!("`{k}`"))
        .collect();
    anyhow::bail!(
        "`--arg` {} would change what image `{}` is built from ({} instead of {}); imagemk resolves parents when images.yaml loads, so set the value under the image's `args:` in images.yaml instead",
        changed.join(", "),
        img.id,
        shown(&new),
        shown(&old)
    )
}

fn shown(refs: &[String]) -> String {
    match refs.is_empty() {
        true => "no workspace image".to_string(),
        false => refs.join(", "),
    }
}

/// Which image gets which value: an `IMAGE:` value goes to that image, the others to every
/// image the build concerns (selected, dependents with `--dependents`, dependencies) that declares the arg. A later value for one image and name
/// wins over an earlier one (as repeated flags do).
fn resolve(
    ws: &Workspace,
    closure: &BTreeSet<usize>,
    given: &[RunArg],
) -> anyhow::Result<BTreeMap<usize, BTreeMap<String, String>>> {
    let declared: BTreeMap<usize, BTreeSet<String>> =
        closure.iter().map(|&i| (i, declared_args(ws, i))).collect();
    let mut out: BTreeMap<usize, BTreeMap<String, String>> = BTreeMap::new();
    for a in given {
        let targets: Vec<usize> = match &a.image {
            Some(spec) => {
                super::select::with_variants(ws, vec![one_image(ws, closure, spec, &a.name)?])
                    .into_iter()
                    .filter(|i| closure.contains(i))
                    .collect()
            }
            None => closure
                .iter()
                .copied()
                .filter(|i| declared[i].contains(&a.name))
                .collect(),
        };
        let targets: Vec<usize> = targets
            .into_iter()
            .filter(|i| declared[i].contains(&a.name))
            .collect();
        if targets.is_empty() {
            bail!("{}", undeclared(ws, a, &declared));
        }
        for t in targets {
            out.entry(t)
                .or_default()
                .insert(a.name.clone(), a.value.clone());
        }
    }
    Ok(out)
}

/// The image an `IMAGE:` prefix names; it must be one the request builds.
fn one_image(
    ws: &Workspace,
    closure: &BTreeSet<usize>,
    spec: &str,
    name: &str,
) -> anyhow::Result<usize> {
    let i = super::select::find(ws, spec)
        .map_err(|e| anyhow::anyhow!("`--arg {spec}:{name}=…`: {e}"))?;
    if !closure.contains(&i) {
        let built: Vec<&str> = closure.iter().map(|&i| ws.images[i].id.as_str()).collect();
        bail!(
            "`--arg {spec}:{name}=…`: image `{}` is not built by this request (built: {}); select it too, or drop the `{spec}:` prefix",
            ws.images[i].id,
            built.join(", ")
        );
    }
    Ok(i)
}

/// The `ARG` names an image's Dockerfile declares (none when it cannot be read: a missing
/// Dockerfile is reported by the build itself).
fn declared_args(ws: &Workspace, i: usize) -> BTreeSet<String> {
    std::fs::read_to_string(&ws.images[i].dockerfile)
        .map(|t| Dockerfile::parse(&t).args.into_keys().collect())
        .unwrap_or_default()
}

fn undeclared(ws: &Workspace, a: &RunArg, declared: &BTreeMap<usize, BTreeSet<String>>) -> String {
    let listing: Vec<String> = declared
        .iter()
        .map(|(&i, names)| {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let names = if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            };
            format!("  {}: {names}", ws.images[i].id)
        })
        .collect();
    let whom = match &a.image {
        Some(spec) => format!("image `{spec}` does not declare"),
        None => "no image this request builds declares".to_string(),
    };
    format!(
        "`--arg {}{}=…`: {whom} `ARG {}`; the args each image declares:\n{}\nhint: add `ARG {}` to the Dockerfile, or check the name",
        a.image.as_deref().map(|s| format!("{s}:")).unwrap_or_default(),
        a.name,
        a.name,
        listing.join("\n"),
        a.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_image_name_and_value() {
        let a = parse("cxx:GITREF=v1.2=x:y").unwrap();
        assert_eq!(a.image.as_deref(), Some("cxx"));
        assert_eq!(a.name, "GITREF");
        assert_eq!(a.value, "v1.2=x:y");
        let a = parse("comp/go:GITREF=").unwrap();
        assert_eq!(a.image.as_deref(), Some("comp/go"));
        assert_eq!(a.value, "");
        assert_eq!(parse("X=a:b").unwrap().image, None);
    }

    #[test]
    fn refuses_bad_words() {
        assert!(parse("GITREF").unwrap_err().contains("has no `=`"));
        assert!(parse("=v").unwrap_err().contains("empty name"));
        assert!(parse("cxx:=v").unwrap_err().contains("empty name"));
        assert!(parse(":X=v").unwrap_err().contains("empty image"));
        assert!(parse("1X=v")
            .unwrap_err()
            .contains("is not a variable name"));
        assert!(parse("a-b=v")
            .unwrap_err()
            .contains("is not a variable name"));
    }
}
