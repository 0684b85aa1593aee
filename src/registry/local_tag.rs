//! The remote-named tags that `push` and `pull` make in the local engine, and who owns them.
//! A run owns a remote-named tag only when the tag did not exist before the run made it; it
//! removes only what it owns, and only while the tag still points at the image it tagged or
//! pulled; a tag the user had is never removed or left moved. `docker push` can only push by
//! name, so imagemk runs on one machine that transfer the same remote name take turns on it
//! ([`lock`]): without that, one run would take another's tag for the user's, or remove it
//! under the other's push.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::engine::{self, image};
use crate::exec;
use crate::job::Kind;
use crate::reference::ImageRef;
use crate::signal;

/// Where the per-name locks live: shared by every user of the machine (sticky, like /tmp).
pub const LOCK_DIR: &str = "/tmp/imagemk-locks";

/// The image ID `name` points at, or None when the engine has no such image or tag. Any other
/// failure (engine not reachable, …) is an error that says so.
pub fn image_id(name: &str) -> anyhow::Result<Option<String>> {
    image_id_by(name, exec::capture)
}

/// The registry digest of a pulled image (`.Digest`, podman's; docker prints it on pull).
pub fn manifest_digest(name: &str) -> Option<String> {
    // podman's store can refuse a read (or answer without the digest yet) while another pull
    // of the same run commits its layers: such an inspect is tried again a few times before the digest counts as absent.
    for attempt in 1..=5u64 {
        match exec::capture(&image::inspect(name, "{{.Digest}}")) {
            Ok(out) if out.stdout.trim().starts_with("sha256:") => {
                return Some(out.stdout.trim().to_string())
            }
            Err(e) if e.is::<crate::signal::Interrupted>() => return None,
            _ => std::thread::sleep(std::time::Duration::from_millis(100 * attempt)),
        }
    }
    None
}

/// [`image_id`] through `run`: clean-up paths pass [`exec::capture_cleanup`], which still runs
/// after a signal.
fn image_id_by(
    name: &str,
    run: fn(&exec::Cmd) -> anyhow::Result<exec::Captured>,
) -> anyhow::Result<Option<String>> {
    match run(&image::inspect(name, "{{.Id}}")) {
        Ok(out) => Ok(Some(out.stdout.trim().to_string())),
        Err(e) if no_such_image(&e) => Ok(None),
        Err(e) => Err(engine::explain(e)),
    }
}

/// The input digest label (`io.imagemk.inputs`) of the local image `name`: None when the
/// image has no such label (built before input digests) or does not exist.
pub fn inputs_label(name: &str) -> anyhow::Result<Option<String>> {
    let template = format!("{{{{index .Config.Labels \"{}\"}}}}", super::reuse::LABEL);
    match exec::capture(&image::inspect(name, &template)) {
        Ok(out) => {
            let v = out.stdout.trim();
            Ok((!v.is_empty() && v != "<no value>").then(|| v.to_string()))
        }
        Err(e) if no_such_image(&e) => Ok(None),
        Err(e) => Err(engine::explain(e)),
    }
}

/// True when a docker command failed because the image or tag does not exist.
pub fn no_such_image(err: &anyhow::Error) -> bool {
    engine::classify(&format!("{err:#}")) == Kind::NotFound
}

/// `docker tag ID NAME`: points `name` at the image `id` (never at a name that may move).
/// Run whole ([`exec::capture_whole`]): a tag cut off by Ctrl-C could land after the run's
/// clean-up looked for it.
pub fn tag_id(id: &str, name: &ImageRef) -> anyhow::Result<()> {
    tag_id_by(id, name, exec::capture_whole)
}

fn tag_id_by(
    id: &str,
    name: &ImageRef,
    run: fn(&exec::Cmd) -> anyhow::Result<exec::Captured>,
) -> anyhow::Result<()> {
    let cmd = image::tag_id(id, name);
    run(&cmd).map(|_| ()).map_err(engine::explain)
}

/// Removes `name`, which this run created, if it still points at `id` (any image when `id` is
/// None). Gone already is fine; pointing elsewhere means someone else moved it: it stays.
/// On failure the message says how to remove it by hand.
pub fn remove_created(name: &ImageRef, id: Option<&str>) -> Result<(), String> {
    let failed = |e: anyhow::Error| {
        format!(
            "could not remove the tag `{name}` this run created; remove it with `{}`: {e:#}",
            image::untag(name)
        )
    };
    let now = match image_id_by(&name.to_string(), exec::capture_cleanup) {
        Ok(now) => now,
        Err(e) => {
            return Err(format!(
                "could not check whether the tag `{name}` this run created is left behind: {e:#}"
            ))
        }
    };
    match now {
        None => Ok(()),
        Some(now) if id.is_some_and(|id| id != now) => Ok(()),
        Some(_) => match exec::capture_cleanup(&image::untag(name)) {
            Ok(_) => Ok(()),
            Err(e) if no_such_image(&e) => Ok(()),
            Err(e) => Err(failed(e)),
        },
    }
}

/// Puts the user's tag `name` back on `id` when something (a `docker pull`) moved it to
/// another image. A tag that is gone was removed by someone else: it is not made again.
pub fn restore(name: &ImageRef, id: &str) -> Result<(), String> {
    match image_id_by(&name.to_string(), exec::capture_cleanup) {
        Ok(Some(now)) if now != id => tag_id_by(id, name, exec::capture_cleanup).map_err(|e| {
            format!(
                "could not put your tag `{name}` back on `{id}`; run `{}`: {e:#}",
                image::tag_id(id, name)
            )
        }),
        Ok(_) => Ok(()),
        Err(e) => Err(format!(
            "could not check that your tag `{name}` still points at `{id}`: {e:#}"
        )),
    }
}

/// Exclusive locks on remote names, held while it lives. A run that ends removes its lock
/// files (so /tmp does not fill with one per tag ever pushed); a run killed outright leaves
/// its file, but the kernel releases the lock.
pub struct NameLock {
    held: Vec<(PathBuf, File)>,
}

impl Drop for NameLock {
    fn drop(&mut self) {
        // Unlinked while still locked: a run waiting on this file then finds, once it gets
        // the lock, that the path names another file (or none), and opens it again.
        for (path, _file) in self.held.drain(..).rev() {
            let _ = fs::remove_file(&path);
        }
    }
}

/// Locks every name in `names` (in a fixed order, so two runs never wait on each other), for
/// the engine `daemon` (`DOCKER_HOST`, or empty for the default). Waits while another run
/// holds one, calling `waiting` once; stops waiting on Ctrl-C.
pub fn lock(
    names: &[&ImageRef],
    daemon: &str,
    mut waiting: impl FnMut(&ImageRef),
) -> anyhow::Result<NameLock> {
    let mut sorted: Vec<&ImageRef> = names.to_vec();
    sorted.sort();
    sorted.dedup();
    let dir = Path::new(LOCK_DIR);
    lock_dir(dir)?;
    let mut lock = NameLock { held: Vec::new() };
    for name in sorted {
        let path = lock_path(dir, daemon, name);
        let mut told = false;
        let file = loop {
            let file = open(&path)?;
            wait_for(&file, || {
                if !told {
                    waiting(name);
                    told = true;
                }
            })?;
            if same_file(&file, &path) {
                break file;
            }
        };
        lock.held.push((path, file));
    }
    Ok(lock)
}

/// Takes the flock on `file`, polling so that Ctrl-C stops the wait.
fn wait_for(file: &File, mut waiting: impl FnMut()) -> anyhow::Result<()> {
    // SAFETY: flock(2) on a descriptor we own.
    while unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        if signal::interrupted() {
            return Err(signal::Interrupted.into());
        }
        waiting();
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// True when `path` still names the open `file` (its holder did not remove it meanwhile).
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Creates the shared lock directory (sticky and writable for all, like /tmp), or checks
/// that the existing one is a directory and not a symlink someone planted.
fn lock_dir(dir: &Path) -> anyhow::Result<()> {
    let hint = || {
        format!(
            "imagemk runs that share an engine take turns on a remote name through files in `{}`",
            dir.display()
        )
    };
    match fs::create_dir(dir) {
        Ok(()) => {
            let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o1777));
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            match fs::symlink_metadata(dir) {
                Ok(m) if m.is_dir() => Ok(()),
                _ => anyhow::bail!(
                    "`{}` exists but is not a directory; remove it\nhint: {}",
                    dir.display(),
                    hint()
                ),
            }
        }
        Err(e) => anyhow::bail!("cannot create `{}`: {e}\nhint: {}", dir.display(), hint()),
    }
}

/// Opens (creating) a lock file, never through a symlink; makes a new one usable by all.
fn open(path: &Path) -> anyhow::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .or_else(|_| {
            OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)
        })
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot open the lock `{}`: {e}\nhint: make `{LOCK_DIR}` writable for everyone (`chmod 1777 {LOCK_DIR}`)",
                path.display()
            )
        })?;
    // fchmod on the open file: only works on a file we own, which is the one we created.
    let _ = file.set_permissions(fs::Permissions::from_mode(0o666));
    Ok(file)
}

/// One file per (engine, remote name): a readable part and a stable hash of the whole.
fn lock_path(dir: &Path, daemon: &str, name: &ImageRef) -> PathBuf {
    let full = format!("{daemon}\n{name}");
    let readable: String = name
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(100)
        .collect();
    dir.join(format!("{readable}-{:016x}.lock", fnv1a(full.as_bytes())))
}

/// FNV-1a, 64 bits: stable across builds (std's hasher is not promised to be).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_removed_by_someone_else_is_gone_not_a_failure() {
        let gone = |stderr: &str| no_such_image(&anyhow::anyhow!("docker failed: {stderr}"));
        assert!(gone("Error: No such image: h/x:1"));
        assert!(gone("Error: No such object: h/x:1"));
        assert!(gone("Error response from daemon: reference does not exist"));
        assert!(!gone(
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock"
        ));
        assert!(!gone(
            "Error response from daemon: conflict: unable to remove repository reference"
        ));
    }

    #[test]
    fn lock_paths_are_per_engine_and_name() {
        let a = ImageRef::parse("h:5000/x/a:CI-42").unwrap();
        let b = ImageRef::parse("h:5000/x/a:CI-43").unwrap();
        let dir = Path::new("/d");
        assert_eq!(
            lock_path(dir, "", &a),
            lock_path(dir, "", &ImageRef::parse("h:5000/x/a:CI-42").unwrap())
        );
        assert_ne!(lock_path(dir, "", &a), lock_path(dir, "", &b));
        assert_ne!(
            lock_path(dir, "", &a),
            lock_path(dir, "tcp://other:2375", &a)
        );
        let p = lock_path(dir, "", &a).display().to_string();
        assert!(p.starts_with("/d/h_5000_x_a_CI_42-"), "{p}");
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
    }

    #[test]
    fn a_symlink_planted_as_a_lock_file_is_not_followed() {
        let name = ImageRef::parse(&format!("imagemk-unit/link-{}:t", std::process::id())).unwrap();
        let target =
            std::env::temp_dir().join(format!("imagemk-unit-target-{}", std::process::id()));
        fs::write(&target, "mine").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o600)).unwrap();
        lock_dir(Path::new(LOCK_DIR)).unwrap();
        let link = lock_path(Path::new(LOCK_DIR), "unit", &name);
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = lock(&[&name], "unit", |_| {}).err().unwrap().to_string();
        assert!(err.starts_with("cannot open the lock"), "{err}");
        let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        fs::remove_file(&link).unwrap();
        fs::remove_file(&target).unwrap();
    }

    #[test]
    fn a_held_lock_makes_the_second_wait() {
        let name = ImageRef::parse(&format!("imagemk-unit/lock-{}:t", std::process::id())).unwrap();
        let first = lock(&[&name], "unit", |_| panic!("the first does not wait")).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = {
            let name = name.clone();
            std::thread::spawn(move || {
                let _second = lock(&[&name], "unit", |_| tx.send(()).unwrap()).unwrap();
            })
        };
        rx.recv_timeout(Duration::from_secs(5))
            .expect("the second run waits");
        drop(first);
        waiter.join().unwrap();
        assert!(!lock_path(Path::new(LOCK_DIR), "unit", &name).exists());
    }
}
