//! The facts a build plan is made from, gathered before planning: which images exist locally
//! (one `docker image ls`), their IDs and input-digest labels (one `docker image inspect` of
//! every name concerned, external bases included), and the input digest of every image of
//! the closure (Dockerfiles read, contexts walked and hashed, with the file-hash cache).

use std::collections::{BTreeMap, BTreeSet};

use super::{engine, Ctx};
use crate::config::Workspace;
use crate::engine::image;
use crate::exec;
use crate::inputs::{self, Given, HashCache};
use crate::plan::{self, BuildRequest, Facts, LocalImage};
use crate::reference::ImageRef;

/// Everything planning needs for `req`. Bad input (an unreadable context file, a bad
/// `.dockerignore`) fails here, before any build.
pub fn gather(ctx: &Ctx, req: &BuildRequest) -> anyhow::Result<Facts> {
    let ws = &ctx.ws;
    let closure = plan::closure(ws, req);
    let mut facts = Facts::default();
    let built: Vec<usize> = (closure.iter().copied())
        .filter(|i| !req.locked.contains_key(i))
        .collect();
    let own = own_inputs(ws, &built, &mut facts)?;
    let bases: BTreeMap<String, String> = own
        .values()
        .flat_map(|o| o.bases.iter())
        .filter_map(|r| ImageRef::parse(r).ok().map(|n| (r.clone(), n.to_string())))
        .collect();
    // The no-op path: one `docker image inspect` of the closure's names and bases; when it
    // finds them all and every image is up to date, nothing more is asked. The CLI asks the
    // daemon once per name, so a huge closure lists the local images first instead.
    if closure.len() <= QUICK_MAX && exec::require(crate::engine::program()).is_ok() {
        let mut names: BTreeSet<String> = closure
            .iter()
            .map(|&i| ws.images[i].name.to_string())
            .collect();
        names.extend(bases.values().cloned());
        if let Some(local) = inspect(&names.into_iter().collect::<Vec<_>>()) {
            let quick = digests(ws, &closure, &own, &bases, Some(local), &req.locked);
            let fresh = closure.iter().all(|i| {
                let name = ws.images[*i].name.to_string();
                let local = quick.local.as_ref().and_then(|l| l.get(&name));
                let digest = quick.inputs.get(i).map(|(d, _)| d.as_str());
                digest.is_some() && local.and_then(|l| l.inputs.as_deref()) == digest
            });
            if fresh {
                return Ok(Facts {
                    appendable: facts.appendable,
                    ..quick
                });
            }
        }
    }
    let present = engine::local_images(ctx, "planning every image as out of date")?;
    let local = present.map(|p| local_images(ws, &closure, &p, &bases));
    let mut full = digests(ws, &closure, &own, &bases, local, &req.locked);
    full.appendable = facts.appendable;
    record_current(ws, &full);
    full.recorded = recorded(ws, &full);
    Ok(full)
}

/// Keeps the inputs of the images whose local image already carries the digest computed now
/// (what a later change is explained against), so planning writes nothing for images that are
/// not built yet.
fn record_current(ws: &Workspace, facts: &Facts) {
    let Some(local) = facts.local.as_ref() else {
        return;
    };
    for (&i, (digest, found)) in &facts.inputs {
        let name = ws.images[i].name.to_string();
        if local.get(&name).and_then(|l| l.inputs.as_deref()) == Some(digest.as_str()) {
            inputs::record(&ws.root, digest, found);
        }
    }
}

/// Keeps the inputs of every digest `facts` computed under `.imagemk/inputs/`, so a later run
/// can explain what changed since. Only a build that runs does this: `plan`, `why` and dry
/// runs write nothing.
pub fn record(ws: &Workspace, facts: &Facts) {
    for (digest, found) in facts.inputs.values() {
        inputs::record(&ws.root, digest, found);
    }
}

/// The largest closure asked about name by name before listing the local images (`docker
/// image inspect` costs about 0.3 ms per name; `docker image ls` is one request).
const QUICK_MAX: usize = 500;

/// The input digest of every closure image, in dependency order, from its own inputs, its
/// parents' digests and the local IDs of its bases.
fn digests(
    ws: &Workspace,
    closure: &[usize],
    own: &BTreeMap<usize, inputs::Own>,
    bases: &BTreeMap<String, String>,
    local: Option<BTreeMap<String, LocalImage>>,
    locked: &BTreeMap<usize, crate::lock::Entry>,
) -> Facts {
    let mut facts = Facts::default();
    let mut base_ids = BTreeMap::new();
    if let Some(local) = &local {
        for (raw, name) in bases {
            if let Some(l) = local.get(name) {
                base_ids.insert(raw.clone(), l.id.clone());
            }
        }
    }
    facts.local = local;
    for &i in closure {
        // A locked parent's inputs are its locked manifest: what its children are built on.
        if let Some(e) = locked.get(&i) {
            let found = inputs::Inputs::from([("locked".to_string(), e.pinned())]);
            facts.inputs.insert(i, (e.digest.to_string(), found));
            continue;
        }
        let Some(o) = own.get(&i) else { continue };
        let parents: Vec<(String, String)> = ws.images[i]
            .depends
            .iter()
            .filter_map(|d| {
                let (dg, _) = facts.inputs.get(d)?;
                Some((ws.images[*d].id.clone(), dg.clone()))
            })
            .collect();
        let found = inputs::complete(o, &parents, &base_ids);
        facts.inputs.insert(i, (inputs::digest(&found), found));
    }
    facts
}

/// The inputs of every closure image that need no engine (files hashed with the cache),
/// before any docker command: bad input fails here. An image without a Dockerfile is left
/// out (its problem is reported if it must be built).
fn own_inputs(
    ws: &Workspace,
    closure: &[usize],
    facts: &mut Facts,
) -> anyhow::Result<BTreeMap<usize, inputs::Own>> {
    let cache = HashCache::load(&ws.root);
    let mut out = BTreeMap::new();
    for &i in closure {
        let img = &ws.images[i];
        // An image with a known problem (a missing host file, …) has no inputs to read: the
        // plan reports the problem, with its hint, if the image has to be built.
        if !img.problems.is_empty() {
            continue;
        }
        let Some(text) = crate::dockerfile::read_text(&img.dockerfile) else {
            continue;
        };
        let appendable = inputs::dockerfile_facts(&text).appendable;
        facts.appendable.insert(i, appendable);
        let mut spec = plan::context_spec(ws, img)?;
        if plan::one_label_step(img, appendable, &plan::build_labels(img, None)) {
            spec.append = Some(String::new());
        }
        let given = Given {
            ws,
            image: img,
            spec: &spec,
        };
        out.insert(i, inputs::own_inputs(&given, &cache)?);
    }
    cache.save();
    Ok(out)
}

/// The ID and label of every local name that matters, in one `docker image inspect`: the
/// closure's images, other tags of their repositories (an image carrying the same inputs
/// under another tag is tagged, not built), and external bases.
fn local_images(
    ws: &Workspace,
    closure: &[usize],
    present: &BTreeSet<String>,
    bases: &BTreeMap<String, String>,
) -> BTreeMap<String, LocalImage> {
    let repos: BTreeSet<&str> = closure
        .iter()
        .map(|&i| ws.images[i].name.repository.as_str())
        .collect();
    let base_names: BTreeSet<&String> = bases.values().collect();
    let names: Vec<String> = present
        .iter()
        .filter(|n| {
            base_names.contains(n)
                || ImageRef::parse(n).is_ok_and(|r| repos.contains(r.repository.as_str()))
        })
        .cloned()
        .collect();
    if names.is_empty() {
        return BTreeMap::new();
    }
    inspect(&names).unwrap_or_default()
}

/// One `docker image inspect` of `names` (one per `INSPECT_BYTES` of names, so a huge
/// workspace never exceeds the argument limit): `None` unless every name was found.
fn inspect(names: &[String]) -> Option<BTreeMap<String, LocalImage>> {
    let mut out = BTreeMap::new();
    for batch in batches(names, INSPECT_BYTES) {
        let lines: Vec<String> = exec::capture(&image::inspect_inputs(batch))
            .ok()?
            .stdout
            .lines()
            .map(str::to_string)
            .collect();
        if lines.len() != batch.len() {
            return None;
        }
        out.extend(
            batch
                .iter()
                .cloned()
                .zip(lines.iter().map(|l| parse_inspect(l))),
        );
    }
    Some(out)
}

/// The bytes of names one `docker image inspect` takes (Linux allows 2 MiB of arguments and
/// environment together).
const INSPECT_BYTES: usize = 256 * 1024;

/// `names` cut into consecutive runs of at most `limit` bytes (at least one name each).
fn batches(names: &[String], limit: usize) -> Vec<&[String]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, n) in names.iter().enumerate() {
        if i > start && bytes + n.len() + 1 > limit {
            out.push(&names[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += n.len() + 1;
    }
    if start < names.len() {
        out.push(&names[start..]);
    }
    out
}

fn parse_inspect(line: &str) -> LocalImage {
    let (id, label) = line.split_once(' ').unwrap_or((line, ""));
    let label = label.trim();
    LocalImage {
        id: id.to_string(),
        inputs: (!label.is_empty() && label != "<no value>").then(|| label.to_string()),
    }
}

/// The recorded inputs of the digests the closure's local images carry.
fn recorded(ws: &Workspace, facts: &Facts) -> BTreeMap<String, inputs::Inputs> {
    let Some(local) = &facts.local else {
        return BTreeMap::new();
    };
    local
        .values()
        .filter_map(|l| l.inputs.clone())
        .filter_map(|d| inputs::recorded(&ws.root, &d).map(|r| (d, r)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_batches_cut_by_bytes() {
        let names: Vec<String> = ["aaa", "bbb", "ccc"].map(String::from).to_vec();
        assert_eq!(batches(&names, 1000).len(), 1);
        assert_eq!(batches(&names, 8), [&names[0..2], &names[2..3]]);
        assert_eq!(
            batches(&names, 1),
            [&names[0..1], &names[1..2], &names[2..3]]
        );
        assert!(batches(&[], 8).is_empty());
    }

    #[test]
    fn inspect_lines_give_the_id_and_label() {
        let l = parse_inspect("sha256:1 sha256:2");
        assert_eq!(
            (l.id.as_str(), l.inputs.as_deref()),
            ("sha256:1", Some("sha256:2"))
        );
        assert_eq!(parse_inspect("sha256:1 <no value>").inputs, None);
        assert_eq!(parse_inspect("sha256:1 ").inputs, None);
        assert_eq!(
            parse_inspect("sha256:1 not a digest").inputs.as_deref(),
            Some("not a digest")
        );
    }
}
