//! `imagemk pin [IMAGE…]`: reads from the registry the manifest digest of each selected
//! image's remote name (`Docker-Content-Digest` on oci, the repository's listing on gar, gcr
//! and acr; never a local `RepoDigests` guess) and writes them all to `images.lock` in one
//! update. An image the registry does not have is an error and nothing is written.
//!
//! `imagemk pin --check [IMAGE…]` writes nothing: it reads the registry's digest of every
//! locked `remote:tag` and exits 1 listing, as `images.lock:LINE: …`, each one that moved or
//! is gone.

use std::path::Path;

use anyhow::bail;
use serde_json::json;

use super::{parallel, select::select, Ctx};
use crate::cli::PinArgs;
use crate::lock::{self, Digest, Entry, Lock};
use crate::reference::ImageRef;
use crate::registry::backend::Backend;
use crate::registry::{self, transfer, Registry};
use crate::ExitStatus;

pub fn run(ctx: &Ctx, args: &PinArgs) -> anyhow::Result<i32> {
    if args.check {
        return super::pin_check::run(ctx, args);
    }
    let ws = &ctx.ws;
    // A malformed lock stops here, before the registry is asked anything.
    Lock::load(&ws.root)?;
    let selected = select(ws, &args.selection)?;
    let reg = registry::choose(&ws.registries, ws.registry.as_deref())?;
    let wanted = selected
        .iter()
        .map(|&i| {
            Ok((
                ws.images[i].id.clone(),
                transfer::remote_name(ws, &reg, &ws.images[i])?,
            ))
        })
        .collect::<anyhow::Result<Vec<(String, ImageRef)>>>()?;
    let backend = Backend::new(&reg, &ctx.env)?;
    if ctx.dry_run {
        print_calls(ws.root.as_path(), &backend, &reg, &wanted);
        return Ok(0);
    }
    let refs: Vec<&ImageRef> = wanted.iter().map(|(_, r)| r).collect();
    let found = read_digests(ctx, &backend, &reg, &refs)?;
    let entries = entries(&reg, wanted, found)?;
    Lock::update(&ws.root, entries.clone())?;
    print_entries(&entries, args.json)?;
    Ok(0)
}

/// `--dry-run`: the registry call per wanted image, then where the digests would go.
fn print_calls(root: &Path, backend: &Backend, reg: &Registry, wanted: &[(String, ImageRef)]) {
    for (_, remote) in wanted {
        crate::console::outln!(
            "{}",
            backend.digest_call(repo_path(reg, remote), &remote.tag)
        );
    }
    crate::console::outln!(
        "# then write each digest to {} (nothing is written when one is missing)",
        lock::path(root).display()
    );
}

/// The lock entries of `wanted` (`(image id, remote name)`) with the digests `found`; one
/// missing digest is an error naming every missing one.
fn entries(
    reg: &Registry,
    wanted: Vec<(String, ImageRef)>,
    found: Vec<Option<Digest>>,
) -> anyhow::Result<Vec<Entry>> {
    let missing: Vec<String> = wanted
        .iter()
        .zip(&found)
        .filter(|(_, d)| d.is_none())
        .map(|((id, r), _)| format!("`{r}` (image `{id}`)"))
        .collect();
    if !missing.is_empty() {
        bail!(
            "registry `{}` has no {}; nothing was written to images.lock; push {} first (`imagemk push`)",
            reg.name,
            missing.join(", "),
            if missing.len() == 1 { "it" } else { "them" }
        );
    }
    Ok(wanted
        .into_iter()
        .zip(found)
        .map(|((image, remote), digest)| Entry {
            remote: remote.repository,
            image,
            tag: remote.tag,
            digest: digest.expect("checked above"),
        })
        .collect())
}

/// `remote`'s repository as the registry's API names it: without the host.
pub fn repo_path<'a>(reg: &Registry, remote: &'a ImageRef) -> &'a str {
    remote
        .repository
        .strip_prefix(&format!("{}/", reg.host))
        .unwrap_or(&remote.repository)
}

/// The registry's digest of each of `refs` (None: no such tag), read a few at a time. A
/// registry that fails (down, refused, not a digest) is an error naming the name.
pub fn read_digests(
    ctx: &Ctx,
    backend: &Backend,
    reg: &Registry,
    refs: &[&ImageRef],
) -> anyhow::Result<Vec<Option<Digest>>> {
    let deps = parallel::independent(refs.len());
    let jobs = parallel::jobs(ctx, None, parallel::TRANSFERS);
    let (results, states) = parallel::run_jobs(&deps, jobs, true, parallel::by_index, |i| {
        let r = refs[i];
        let failed = |e: String| {
            format!(
                "reading the digest of `{r}` from registry `{}` failed: {e}",
                reg.name
            )
        };
        let found = backend
            .digest(repo_path(reg, r), &r.tag)
            .map_err(|e| failed(format!("{e:#}")))?;
        match found {
            Some(d) => Ok(Some(Digest::parse(&d).map_err(|e| failed(e.0))?)),
            None => Ok(None),
        }
    });
    if crate::signal::interrupted() {
        return Err(crate::signal::Interrupted.into());
    }
    parallel::fail_on(&states, "read")?;
    Ok(results
        .into_iter()
        .map(|d| d.expect("every job succeeded"))
        .collect())
}

fn print_entries(entries: &[Entry], as_json: bool) -> anyhow::Result<()> {
    if as_json {
        let rows: Vec<_> = entries.iter().map(entry_json).collect();
        crate::console::outln!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for e in entries {
            crate::console::outln!("{}:{} {}", e.remote, e.tag, e.digest);
        }
    }
    Ok(())
}

pub fn entry_json(e: &Entry) -> serde_json::Value {
    json!({
        "remote": e.remote,
        "image": e.image,
        "tag": e.tag,
        "digest": e.digest.as_str(),
    })
}

/// The lock file as the user sees it: relative to the directory imagemk acts in when under it.
pub fn shown_path(ctx: &Ctx) -> String {
    let file = lock::path(&ctx.ws.root);
    match file.strip_prefix(&ctx.cwd) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => relative_up(&ctx.cwd, &file),
    }
}

fn relative_up(from: &Path, file: &Path) -> String {
    let up = from
        .ancestors()
        .position(|a| file.starts_with(a))
        .unwrap_or(0);
    match from
        .ancestors()
        .nth(up)
        .and_then(|a| file.strip_prefix(a).ok())
    {
        Some(rest) if up > 0 => format!("{}{}", "../".repeat(up), rest.display()),
        _ => file.display().to_string(),
    }
}

/// The exit of a check that found drift: the lines were printed; one summary line.
pub fn drifted(count: usize, total: usize) -> anyhow::Error {
    ExitStatus {
        code: 1,
        message: Some(format!(
            "{count} of {total} locked images differ from the registry; run `imagemk pin` (`make pin-images`) to lock what the registry has, or push the locked images again"
        )),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::relative_up;
    use std::path::Path;

    #[test]
    fn the_lock_is_shown_from_the_directory_imagemk_acts_in() {
        let lock = Path::new("/w/images.lock");
        assert_eq!(
            relative_up(Path::new("/w/payloads/node"), lock),
            "../../images.lock"
        );
        assert_eq!(relative_up(Path::new("/w/a"), lock), "../images.lock");
        assert_eq!(
            relative_up(Path::new("/elsewhere"), Path::new("/w/images.lock")),
            "../w/images.lock"
        );
    }
}
