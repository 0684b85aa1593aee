//! End-to-end on the real Docker engine: FROM-scratch busybox images built in dependency
//! order and in parallel, named and labelled as configured; a failure stops its dependents
//! and leaves no staged file; a signal mid-build leaves nothing behind.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{docker, engine, remove_images, Test, BUSYBOX_BASE};

/// Five images: chains a1 → a2 and b1 → b2, and `top` needing a2 and b2.
fn five(t: &Test, ns: &str) {
    t.busybox("ctx");
    t.file(
        "images.yaml",
        &format!(
            "defaults:\n  namespace: {ns}\n  platform: bb\ncomponent: e2e\nimages:\n  a1: {{dockerfile: a1.dockerfile, context: ctx}}\n  a2: {{dockerfile: a2.dockerfile, context: ctx, labels: {{team: a}}}}\n  b1: {{dockerfile: b1.dockerfile, context: ctx}}\n  b2: {{dockerfile: b2.dockerfile, context: ctx}}\n  top:\n    dockerfile: top.dockerfile\n    context: ctx\n    stage: [{{from: payload.txt, to: staged/payload.txt}}]\n"
        ),
    );
    t.file("payload.txt", "staged content\n");
    t.file(
        "a1.dockerfile",
        &format!("{BUSYBOX_BASE}RUN echo a1 > /a1\n"),
    );
    t.file(
        "b1.dockerfile",
        &format!("{BUSYBOX_BASE}RUN echo b1 > /b1\n"),
    );
    t.file(
        "a2.dockerfile",
        &format!("FROM {ns}/a1-e2e-bb:latest\nRUN echo a2 > /a2\n"),
    );
    t.file(
        "b2.dockerfile",
        &format!("FROM {ns}/b1-e2e-bb:latest\nRUN echo b2 > /b2\n"),
    );
    t.file(
        "top.dockerfile",
        &format!("ARG NAMESPACE\nFROM ${{NAMESPACE}}/a2-e2e-bb:latest\nCOPY --from={ns}/b2-e2e-bb:latest /b2 /b2\nCOPY staged/payload.txt /payload.txt\nRUN cat /a1 /a2 /b2 /payload.txt > /all\n"),
    );
}

fn label(name: &str, key: &str) -> String {
    docker(&[
        "image",
        "inspect",
        "--format",
        &format!("{{{{index .Config.Labels \"{key}\"}}}}"),
        name,
    ])
    .1
}

#[test]
fn five_images_build_in_order_with_names_and_labels() {
    if !engine() {
        return;
    }
    let t = Test::new();
    let ns = t.namespace();
    five(&t, &ns);
    let out = t.run(&["build", "-j", "2"]);
    remove_on_exit(&ns, || {
        out.ok();
        for img in ["a1", "a2", "b1", "b2", "top"] {
            let name = format!("{ns}/{img}-e2e-bb:latest");
            assert_eq!(label(&name, "io.imagemk.image"), format!("e2e/{img}"));
            let inputs = label(&name, "io.imagemk.inputs");
            assert!(imagemk::inputs::is_digest(&inputs), "{name}: {inputs}");
        }
        assert_eq!(label(&format!("{ns}/a2-e2e-bb:latest"), "team"), "a");
        let (status, all) = docker(&[
            "run",
            "--rm",
            &format!("{ns}/top-e2e-bb:latest"),
            "cat",
            "/all",
        ]);
        assert_eq!((status, all.as_str()), (0, "a1\na2\nb2\nstaged content"));
        assert!(!t.exists("ctx/staged"), "staged file left in the context");
        // Order: every image starts after what it needs has finished.
        let pos = |s: &str| {
            out.stderr
                .find(s)
                .unwrap_or_else(|| panic!("{s} not in {}", out.stderr))
        };
        assert!(pos("e2e/a1 | ✓ built") < pos("e2e/a2 | building"));
        assert!(pos("e2e/b1 | ✓ built") < pos("e2e/b2 | building"));
        assert!(pos("e2e/a2 | ✓ built") < pos("e2e/top | building"));
        assert!(pos("e2e/b2 | ✓ built") < pos("e2e/top | building"));
        assert!(out.stderr.ends_with("summary: 5 built\n"), "{}", out.stderr);
    });
}

#[test]
fn a_failure_stops_dependents_and_leaves_no_staged_file() {
    if !engine() {
        return;
    }
    let t = Test::new();
    let ns = t.namespace();
    five(&t, &ns);
    t.file(
        "b2.dockerfile",
        &format!("FROM {ns}/b1-e2e-bb:latest\nRUN echo failing on purpose; exit 7\n"),
    );
    let out = t.run(&["build", "-j", "2"]);
    remove_on_exit(&ns, || {
        assert_eq!(out.status, 1, "{}", out.stderr);
        // `e2e/a2` needs `e2e/a1`, which builds beside the failing chain: whether it started
        // before `e2e/b2` failed is a race, and after the failure no job starts.
        let summary = out
            .stderr
            .lines()
            .find(|l| l.starts_with("summary: "))
            .unwrap();
        assert!(
            [
                "summary: 3 built; 1 failed: e2e/b2; 1 skipped: e2e/top (needs e2e/b2)",
                "summary: 2 built; 1 failed: e2e/b2; 2 skipped: e2e/a2 (not started), e2e/top (needs e2e/b2)",
            ]
            .contains(&summary),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("  | failing on purpose\n"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr
                .contains("full log: $ROOT/.imagemk/logs/e2e/b2.log"),
            "{}",
            out.stderr
        );
        assert_eq!(
            docker(&["image", "inspect", &format!("{ns}/top-e2e-bb:latest")]).0,
            1
        );
        assert_eq!(
            docker(&["image", "inspect", &format!("{ns}/b1-e2e-bb:latest")]).0,
            0
        );
        assert!(!t.exists("ctx/staged"), "staged file left in the context");
        // `--force-rm`: the failed step's container is gone too.
        let (_, left) = docker(&["ps", "-a", "--format", "{{.Command}}"]);
        assert!(
            !left.contains("failing on purpose"),
            "a build container was left: {left}"
        );
    });
}

/// Every path under `root` but imagemk's own `.imagemk/`, with contents and mode.
fn snapshot(root: &Path) -> BTreeMap<String, (Vec<u8>, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if rel == ".imagemk" {
                continue;
            }
            let meta = fs::symlink_metadata(&p).unwrap();
            let body = if meta.is_file() {
                fs::read(&p).unwrap()
            } else {
                Vec::new()
            };
            out.insert(rel, (body, meta.permissions().mode()));
            if meta.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

/// Waits until this run's log of `image` (a `.part` file) holds `text`.
fn wait_for_log(t: &Test, image: &str, text: &str) {
    let dir = t.path(".imagemk/logs/e2e");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let found = fs::read_dir(&dir).into_iter().flatten().any(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(&format!("{image}.log."))
                && name.ends_with(".part")
                && fs::read_to_string(e.path())
                    .unwrap_or_default()
                    .contains(text)
        });
        if found {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("`{text}` never appeared in the log of {image}");
}

/// Containers (any state) whose command mentions `marker`.
fn containers_with(marker: &str) -> String {
    let (_, all) = docker(&["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Command}}"]);
    all.lines()
        .filter(|l| l.contains(marker))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Starts `imagemk build top`, waits for `text` in its log, sends `signal`, and checks: exit
/// 130, no image, no container of the test, the tree as it was.
fn interrupt_build(t: &Test, ns: &str, text: &str, signal: i32) {
    let before = snapshot(&t.root);
    let child = t
        .command(support::BIN, &["build", "top"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_log(t, "top", text);
    unsafe { libc_kill(child.id() as i32, signal) };
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20), "{stderr}");
    assert!(
        stderr.ends_with("summary: 0 built; 1 stopped: e2e/top\nerror: interrupted; everything imagemk had started was stopped and cleaned up\n"),
        "{stderr}"
    );
    // The build's own line agrees with the summary: stopped, not failed.
    assert!(stderr.contains("e2e/top | ✗ stopped in "), "{stderr}");
    assert!(!stderr.contains("✗ failed"), "{stderr}");
    // The daemon removes the build's container once the client is gone; give it a moment.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !containers_with(ns).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(containers_with(ns), "", "a build container was left");
    assert_eq!(
        docker(&["image", "inspect", &format!("{ns}/top-e2e-bb:latest")]).0,
        1,
        "the build ran to the end: {stderr}"
    );
    assert_eq!(snapshot(&t.root), before, "the tree changed");
}

#[test]
fn a_signal_mid_build_stops_it_and_leaves_nothing() {
    if !engine() {
        return;
    }
    let t = Test::new();
    let ns = t.namespace();
    five(&t, &ns);
    t.file(
        "top.dockerfile",
        &format!("{BUSYBOX_BASE}COPY staged/payload.txt /p\nRUN echo {ns} && sleep 30\n"),
    );
    // The signal comes once the RUN step's container prints (it is running): the daemon then
    // kills and removes it when the client goes away.
    remove_on_exit(&ns, || {
        interrupt_build(&t, &ns, &format!("\n{ns}\n"), 15);
        interrupt_build(&t, &ns, &format!("\n{ns}\n"), 2);
    });
}

#[test]
fn a_signal_while_the_context_is_sent_stops_before_the_build_runs() {
    if !engine() {
        return;
    }
    let t = Test::new();
    let ns = t.namespace();
    five(&t, &ns);
    // A large staged file (sparse on disk) keeps the context streaming for a while.
    let big = fs::File::create(t.path("big")).unwrap();
    big.set_len(1 << 30).unwrap();
    t.file(
        "images.yaml",
        &format!("defaults:\n  namespace: {ns}\n  platform: bb\ncomponent: e2e\nimages:\n  top:\n    dockerfile: top.dockerfile\n    context: ctx\n    stage: [{{from: big, to: big}}]\n"),
    );
    t.file(
        "top.dockerfile",
        &format!("{BUSYBOX_BASE}RUN echo {ns} && sleep 30\n"),
    );
    remove_on_exit(&ns, || interrupt_build(&t, &ns, "$ docker build", 15));
}

/// A signal at a range of moments after start (engine query, listing a context of many
/// files, streaming it, the build itself): never a build that runs on, never a leftover.
#[test]
fn a_signal_at_any_moment_stops_everything() {
    if !engine() {
        return;
    }
    let t = Test::new();
    let ns = t.namespace();
    five(&t, &ns);
    for i in 0..3000 {
        t.file(&format!("many/d{}/f{i}", i % 30), "x");
    }
    t.file(
        "images.yaml",
        &format!("defaults:\n  namespace: {ns}\n  platform: bb\ncomponent: e2e\nimages:\n  top:\n    dockerfile: top.dockerfile\n    context: ctx\n    stage: [{{from: many, to: many}}]\n"),
    );
    t.file(
        "top.dockerfile",
        &format!("{BUSYBOX_BASE}RUN echo {ns} && sleep 30\n"),
    );
    let before = snapshot(&t.root);
    remove_on_exit(&ns, || {
        for delay in [0, 20, 50, 100, 200, 400, 800, 1500] {
            let child = t
                .command(support::BIN, &["build", "top"])
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(delay));
            unsafe { libc_kill(child.id() as i32, 2) };
            let started = Instant::now();
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            // Before the handler is installed SIGINT's default action ends the process.
            assert!(
                matches!(out.status.code(), Some(130) | None),
                "after {delay} ms: {:?}\n{stderr}",
                out.status
            );
            assert!(started.elapsed() < Duration::from_secs(20), "{stderr}");
            // A client that goes away while the daemon creates a RUN step's container can
            // leave that container running to the step's end (20.10's legacy builder), after
            // which `--force-rm` removes it: allow for the 30 s step.
            let deadline = Instant::now() + Duration::from_secs(45);
            while !containers_with(&ns).is_empty() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(200));
            }
            assert_eq!(
                containers_with(&ns),
                "",
                "after {delay} ms: a container was left"
            );
            assert_eq!(
                docker(&["image", "inspect", &format!("{ns}/top-e2e-bb:latest")]).0,
                1,
                "after {delay} ms the build ran to the end: {stderr}"
            );
            assert_eq!(
                snapshot(&t.root),
                before,
                "after {delay} ms the tree changed"
            );
        }
    });
}

#[test]
fn kill_9_mid_build_leaves_nothing_in_the_tree() {
    if !engine() {
        return;
    }
    let t = Test::new();
    let ns = t.namespace();
    five(&t, &ns);
    t.file(
        "top.dockerfile",
        &format!("{BUSYBOX_BASE}COPY staged/payload.txt /p\nRUN echo {ns} && sleep 5\n"),
    );
    remove_on_exit(&ns, || {
        interrupt_build_killed(&t, &ns);
        // The next run is not disturbed by the killed one.
        t.run(&["build", "top"]).ok();
    });
}

fn interrupt_build_killed(t: &Test, ns: &str) {
    let before = snapshot(&t.root);
    let mut child = t.command(support::BIN, &["build", "top"]).spawn().unwrap();
    wait_for_log(t, "top", &format!("echo {ns}"));
    unsafe { libc_kill(child.id() as i32, 9) };
    assert_eq!(child.wait().unwrap().code(), None);
    assert_eq!(snapshot(&t.root), before, "the tree changed");
}

/// Two images of one context staging the same path, built in parallel, and two runs at once
/// on one workspace: all succeed and the tree is byte-identical afterwards.
#[test]
fn builds_sharing_a_context_and_concurrent_runs_do_not_collide() {
    if !engine() {
        return;
    }
    let t = Test::new();
    let ns = t.namespace();
    t.file(
        "images.yaml",
        &format!("defaults:\n  namespace: {ns}\n  platform: bb\ncomponent: e2e\nimages:\n  one:\n    dockerfile: one.dockerfile\n    context: docker\n    stage: [{{from: out/busybox, to: busybox}}]\n  two:\n    dockerfile: docker/two.dockerfile\n    context: docker\n    stage: [{{from: out/busybox, to: busybox}}]\n"),
    );
    fs::create_dir_all(t.path("out")).unwrap();
    fs::copy(support::BUSYBOX, t.path("out/busybox")).unwrap();
    t.file(
        "one.dockerfile",
        &format!("{BUSYBOX_BASE}RUN echo one > /id\nCOPY . /ctx/\n"),
    );
    t.file(
        "docker/two.dockerfile",
        &format!("{BUSYBOX_BASE}RUN echo two > /id\nCOPY . /ctx/\n"),
    );
    t.file("docker/.dockerignore", "*.tmp\n");
    t.file("docker/scratch.tmp", "ignored\n");
    let before = snapshot(&t.root);
    remove_on_exit(&ns, || {
        t.run(&["build", "-j", "2"]).ok();
        assert_eq!(snapshot(&t.root), before, "the tree changed");
        let runs: Vec<_> = (0..2)
            .map(|_| {
                t.command(support::BIN, &["build", "-j", "2"])
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for r in runs {
            let out = r.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(snapshot(&t.root), before, "the tree changed");
        for (img, id) in [("one", "one"), ("two", "two")] {
            let name = format!("{ns}/{img}-e2e-bb:latest");
            assert_eq!(
                docker(&["run", "--rm", &name, "cat", "/id"]),
                (0, id.to_string())
            );
            // The ignored file is not sent; the Dockerfile from outside the context is
            // dropped by the daemon after reading, as with docker's CLI.
            let (_, listing) = docker(&["run", "--rm", &name, "sh", "-c", "ls -A /ctx 2>&1"]);
            assert_eq!(listing, ".dockerignore\nbusybox\ntwo.dockerfile");
        }
    });
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// Runs the assertions, then removes the test's images whatever happened.
fn remove_on_exit(ns: &str, f: impl FnOnce()) {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    remove_images(&format!("{ns}/"));
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
