//! End-to-end on the real Docker engine (issue 12 item 3): a build whose RUN step sleeps 30 s
//! with `timeout: 3s` is stopped within ~10 s; the daemon removes the step's container, no
//! image is produced, its dependent is skipped, the run fails (exit 1, not 130), and the tree
//! is unchanged.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use support::{docker, engine, remove_images, Test, BUSYBOX_BASE};

/// Every path under `root` but imagemk's own `.imagemk/`, with its contents.
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if rel == ".imagemk" {
                continue;
            }
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.insert(rel, fs::read(&p).unwrap_or_default());
        }
    }
    out
}

/// Containers (any state) whose command mentions `marker` (this test's namespace).
fn containers_with(marker: &str) -> String {
    let (_, all) = docker(&["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Command}}"]);
    all.lines()
        .filter(|l| l.contains(marker))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_build_past_its_timeout_is_stopped_and_leaves_nothing() {
    if !engine() {
        return;
    }
    let t = Test::new();
    let ns = t.namespace();
    t.busybox("ctx");
    t.file(
        "images.yaml",
        &format!("defaults:\n  namespace: {ns}\n  platform: bb\ncomponent: e2e\nimages:\n  base: {{dockerfile: base.dockerfile, context: ctx}}\n  slow:\n    dockerfile: slow.dockerfile\n    context: ctx\n    timeout: 3s\n  after: {{dockerfile: after.dockerfile, context: ctx, depends: [slow]}}\n"),
    );
    t.file("base.dockerfile", BUSYBOX_BASE);
    t.file(
        "slow.dockerfile",
        &format!("FROM {ns}/base-e2e-bb:latest\nRUN echo {ns}-slow && sleep 30\n"),
    );
    t.file(
        "after.dockerfile",
        &format!("FROM {ns}/slow-e2e-bb:latest\n"),
    );
    let result = std::panic::catch_unwind(|| {
        // The base is built first, untimed, so the deadline falls inside the sleeping RUN.
        let out = t.run(&["build", "base"]);
        assert_eq!(out.status, 0, "{}", out.stderr);
        let before = snapshot(&t.root);
        let started = Instant::now();
        let out = t.run(&["build", "after"]);
        let took = started.elapsed();
        assert_eq!(out.status, 1, "{}", out.stderr);
        assert!(
            took < Duration::from_secs(10),
            "took {took:?}: {}",
            out.stderr
        );
        assert!(
            out.stderr
                .contains("error: the build of `e2e/slow` timed out after 3s: `docker build"),
            "{}",
            out.stderr
        );
        // The log tail shows where it was.
        assert!(
            out.stderr.contains(&format!("  | {ns}-slow")),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr
                .contains("; 1 failed: e2e/slow; 1 skipped: e2e/after (needs e2e/slow)\n"),
            "{}",
            out.stderr
        );
        // The daemon removes the RUN step's container once the client is gone.
        let deadline = Instant::now() + Duration::from_secs(20);
        while !containers_with(&ns).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        assert_eq!(containers_with(&ns), "", "a build container was left");
        for image in ["slow", "after"] {
            let name = format!("{ns}/{image}-e2e-bb:latest");
            assert_eq!(docker(&["image", "inspect", &name]).0, 1, "{name} exists");
        }
        assert_eq!(snapshot(&t.root), before, "the tree changed");
    });
    remove_images(&format!("{ns}/"));
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
