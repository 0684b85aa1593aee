//! `extract` on the real engine: docker cp's destination rules (an existing directory receives
//! the copy, `SRC/.` copies a directory's contents), refusal of the workspace, and DEST left
//! exactly as it was after a failure or a SIGINT/SIGTERM at each phase, with no container and
//! no temporary file left.

mod support;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::{docker, Test, BIN, BUSYBOX_BASE};

/// Removes the test's images and containers when dropped.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let (_, ids) = docker(&["ps", "-aq", "--filter", &format!("name={}", self.0)]);
        for id in ids.lines() {
            docker(&["rm", "-f", id]);
        }
        support::remove_images(&format!("{}/", self.0));
    }
}

/// An image with `/opt/art/{file,a,sub/b}` and, when `big_mb` > 0, `/opt/big/big` of that
/// size (so that `docker cp` takes a moment).
fn built(big_mb: u32, artifacts: &str) -> Option<(Test, Cleanup)> {
    if !support::engine() {
        return None;
    }
    let t = Test::new();
    let ns = t.namespace();
    let big = match big_mb {
        0 => String::new(),
        n => format!(
            " && mkdir -p /opt/big && dd if=/dev/zero of=/opt/big/big bs=1M count={n} 2>/dev/null"
        ),
    };
    t.file(
        "images.yaml",
        &format!("defaults: {{namespace: {ns}, platform: busybox}}\ncomponent: km\nimages:\n  app:\n    dockerfile: docker/app.dockerfile\n    context: docker\n{artifacts}"),
    )
    .file(
        "docker/app.dockerfile",
        &format!("{BUSYBOX_BASE}RUN mkdir -p /opt/art/sub && echo file-v1 > /opt/art/file && echo a-v1 > /opt/art/a && echo b-v1 > /opt/art/sub/b{big}\n"),
    )
    .file("sub/out/old", "mine\n")
    .busybox("docker");
    let guard = Cleanup(ns);
    t.run(&["build"]).ok();
    Some((t, guard))
}

fn read(t: &Test, rel: &str) -> String {
    std::fs::read_to_string(t.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every entry under `dir`, relative, sorted, with file contents: a snapshot to compare.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            if p.is_dir() {
                out.push(format!("{rel}/"));
                stack.push(p);
            } else {
                out.push(format!(
                    "{rel}={}",
                    std::fs::read_to_string(&p).unwrap_or_default()
                ));
            }
        }
    }
    out.sort();
    out
}

fn containers_named(name: &str) -> String {
    docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Names}}",
    ])
    .1
}

#[test]
fn extract_follows_docker_cp_and_a_failure_leaves_dest_untouched() {
    let Some((mut t, _guard)) = built(0, "") else {
        return;
    };
    let name = format!("{}-x", t.namespace());
    let extract =
        |t: &Test, from: &str, to: &str| t.run(&["extract", "app", from, to, "--name", &name]);

    // Item 1: `.` and `DIR/` receive the file inside them; the workspace root is refused.
    let before = tree(&t.root);
    extract(&t, "/opt/art/file", ".").fails_with("error: `.` (`$ROOT`) is the workspace root; imagemk never extracts onto the workspace, a component directory or above them\nhint: give a path inside one, e.g. `out/`\n");
    assert_eq!(tree(&t.root), before);
    t.cd("sub");
    extract(&t, "/opt/art/file", ".").ok();
    assert_eq!(read(&t, "sub/file"), "file-v1\n");
    extract(&t, "/opt/art/file", "out/").ok();
    assert_eq!(tree(&t.path("sub/out")), ["file=file-v1\n", "old=mine\n"]);
    extract(&t, "/opt/art/file", "nodir/").fails_with("error: `/opt/art/file` is a file in the image, and `nodir/` names a directory that does not exist; create the directory first (the file then goes inside it), or drop the trailing `/`\n");
    assert!(!t.exists("sub/nodir"));

    // Item 3: `SRC/.` copies the contents: into a new directory, or entry by entry into an
    // existing one (the user's other files stay).
    extract(&t, "/opt/art/.", "x").ok();
    assert_eq!(
        tree(&t.path("sub/x")),
        ["a=a-v1\n", "file=file-v1\n", "sub/", "sub/b=b-v1\n"]
    );
    extract(&t, "/opt/art/.", "out").ok();
    assert_eq!(
        tree(&t.path("sub/out")),
        [
            "a=a-v1\n",
            "file=file-v1\n",
            "old=mine\n",
            "sub/",
            "sub/b=b-v1\n"
        ]
    );

    // A failure after the copy (a file where the image has a directory) and a missing path:
    // DEST is untouched, nothing is left behind.
    std::fs::remove_dir_all(t.path("sub/x/sub")).unwrap();
    std::fs::write(t.path("sub/x/sub"), "a file\n").unwrap();
    std::fs::write(t.path("sub/x/a"), "a-mine\n").unwrap();
    let before = tree(&t.path("sub"));
    extract(&t, "/opt/art/.", "x").fails_with("error: `$ROOT/sub/x/sub` is a file, and `/opt/art/.` in the image is a directory; remove `$ROOT/sub/x/sub` first or give another destination\n");
    extract(&t, "/opt/nosuch/.", "x").fails_with(&format!("error: `/opt/nosuch/.` does not exist in image `km/app` (`{}/app-km-busybox:latest`); nothing was written to `$ROOT/sub/x`\n", t.namespace()));
    assert_eq!(tree(&t.path("sub")), before);
    assert_eq!(containers_named(&name), "");
}

/// Starts `extract`, waits until `ready` holds, sends `sig`, and checks the run stopped with
/// 130 leaving DEST, the tree and the engine as they were.
fn interrupt_at(t: &Test, name: &str, sig: i32, ready: impl Fn() -> bool, phase: &str) {
    let before = tree(&t.root);
    let mut child: Child = t
        .command(BIN, &["extract", "app", "--name", name])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "{phase}: imagemk ended before the phase"
        );
        assert!(Instant::now() < deadline, "{phase}: never reached");
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: kill(2) on the child we spawned.
    unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{phase}: {out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: interrupted; everything imagemk had started was stopped and cleaned up\n",
        "{phase}"
    );
    assert_eq!(tree(&t.root), before, "{phase}: the tree changed");
    assert_eq!(containers_named(name), "", "{phase}: the container is left");
}

#[test]
fn a_signal_at_any_phase_of_extract_leaves_everything_as_it_was() {
    let artifacts = "    artifacts:\n      - {from: /opt/art/file, to: out/file}\n      - {from: /opt/big, to: out/big}\n";
    let Some((t, _guard)) = built(700, artifacts) else {
        return;
    };
    t.file("out/file", "old file\n")
        .file("out/big/old", "old big\n");
    let name = format!("{}-sig", t.namespace());
    let staged = |i: usize| t.path(&format!("out/.imagemk-extract-{name}-{i}/copy"));
    let created = || !containers_named(&name).is_empty();
    for sig in [libc::SIGINT, libc::SIGTERM] {
        interrupt_at(&t, &name, sig, created, "after docker create");
        // The first copy is staged, the second (700 MB) is being written.
        interrupt_at(&t, &name, sig, || staged(1).exists(), "during docker cp");
    }
    // Undisturbed, the same run replaces both.
    t.run(&["extract", "app", "--name", &name]).ok();
    assert_eq!(read(&t, "out/file"), "file-v1\n");
    assert!(!t.exists("out/big/old"));
    assert_eq!(
        std::fs::metadata(t.path("out/big/big")).unwrap().len(),
        700 << 20
    );
}
