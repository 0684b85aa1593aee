//! End-to-end on the real Docker engine: FROM-scratch busybox images built in dependency
//! order and in parallel, named and labelled as configured; a failure stops its dependents
//! and leaves no staged file; a signal mid-build leaves nothing behind.

mod support;

use std::time::Duration;

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
            assert_eq!(
                label(&name, "io.imagemk.version"),
                env!("CARGO_PKG_VERSION")
            );
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
        assert!(
            out.stderr
                .contains("1 failed: e2e/b2; 1 skipped: e2e/top (needs e2e/b2)"),
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

#[test]
fn a_signal_mid_build_stops_it_and_unstages() {
    if !engine() {
        return;
    }
    let t = Test::new();
    let ns = t.namespace();
    five(&t, &ns);
    t.file(
        "top.dockerfile",
        &format!("{BUSYBOX_BASE}COPY staged/payload.txt /p\nRUN sleep 30\n"),
    );
    let mut child = t.command(support::BIN, &["build", "top"]).spawn().unwrap();
    // Wait until the staged file exists (the build has started), then interrupt.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !t.exists("ctx/staged/payload.txt") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(2));
    unsafe { libc_kill(child.id() as i32, 15) };
    let status = child.wait().unwrap();
    remove_on_exit(&ns, || {
        assert_eq!(status.code(), Some(130));
        assert!(!t.exists("ctx/staged"), "staged file left in the context");
        assert_eq!(
            docker(&["image", "inspect", &format!("{ns}/top-e2e-bb:latest")]).0,
            1
        );
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
