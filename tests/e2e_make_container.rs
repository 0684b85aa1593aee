//! The example workspace's container flows through `make`, on the real engine, in a temporary
//! copy with a namespace of its own: `make withdocker TARGET=all`, a payload's `make all` from
//! its blank and `make clean`, `make run-test-image`, `make test`.

mod support;

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use support::Test;

struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        support::remove_images(&format!("{}/", self.0));
    }
}

fn example() -> (Test, Cleanup) {
    let t = Test::new();
    let src = env!("CARGO_MANIFEST_DIR");
    for item in [
        "images.yaml",
        "Makefile",
        "make",
        "docker",
        "core",
        "payloads",
    ] {
        let ok = Command::new("cp")
            .args([
                "-r",
                &format!("{src}/{item}"),
                &t.root.display().to_string(),
            ])
            .status()
            .unwrap()
            .success();
        assert!(ok, "copying {item}");
    }
    // Leftovers of a developer's own runs in the source tree are not part of the example.
    for dir in ["core/out", "payloads/node/blank", "payloads/node/out"] {
        let _ = std::fs::remove_dir_all(t.path(dir));
    }
    let ns = t.namespace();
    let yaml = std::fs::read_to_string(t.path("images.yaml")).unwrap();
    assert!(yaml.contains("namespace: kontain"));
    t.file(
        "images.yaml",
        &yaml.replace("namespace: kontain", &format!("namespace: {ns}")),
    );
    (t, Cleanup(ns))
}

fn read(t: &Test, rel: &str) -> String {
    std::fs::read_to_string(t.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn example_workspace_container_flows() {
    if !support::engine() {
        return;
    }
    let (mut t, _guard) = example();
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };

    // A new user has no images yet: the error says what to run, and nothing is pulled.
    let out = t.make(&["withdocker", "TARGET=all"]);
    assert_ne!(out.status, 0);
    assert!(
        out.stderr.contains(
            "build it with `make buildenv-image` or get it with `make pull-buildenv-image`"
        ),
        "{out:?}"
    );

    t.make(&["buildenv-image"]).ok();
    let out = t.make(&["withdocker", "TARGET=all"]);
    out.ok();
    assert!(out.stdout.contains("built core/out/km.txt"), "{out:?}");
    assert_eq!(read(&t, "core/out/km.txt"), "toolchain: busybox-sh\n");
    assert_eq!(
        std::fs::metadata(t.path("core/out/km.txt")).unwrap().uid(),
        uid
    );

    // A payload builds from its blank: extracted, then built inside its build environment.
    let out = t.make(&["-C", "payloads/node", "all"]);
    out.ok();
    assert!(
        out.stderr.contains(
            "extracted node/buildenv:/opt/kontain/node/blank -> $ROOT/payloads/node/blank"
        ),
        "{out:?}"
    );
    assert_eq!(
        read(&t, "payloads/node/blank/libnode.txt"),
        "node runtime (prebuilt)\n"
    );
    assert_eq!(
        read(&t, "payloads/node/out/node-payload.txt"),
        "node runtime (prebuilt)\nnode payload main\n"
    );
    assert_eq!(
        std::fs::metadata(t.path("payloads/node/out/node-payload.txt"))
            .unwrap()
            .uid(),
        uid
    );
    t.make(&["-C", "payloads/node", "clean"]).ok();
    assert!(!t.exists("payloads/node/blank") && !t.exists("payloads/node/out"));

    // Tests in the test images: the core alone, then `make test` (core + node).
    t.make(&["test-image"]).ok();
    let out = t.make(&["run-test-image"]);
    out.ok();
    assert_eq!(
        out.stdout.lines().last(),
        Some("km core tests passed"),
        "{out:?}"
    );
    let out = t.make(&["test"]);
    out.ok();
    assert!(out.stdout.contains("km core tests passed\n"), "{out:?}");
    assert!(
        out.stdout.contains("node payload tests passed\n"),
        "{out:?}"
    );
    assert!(
        !out.stdout.contains("python payload tests passed"),
        "{out:?}"
    );

    // A failing test fails make and passes the status through.
    t.cd("payloads/node");
    let out = t.make(&["run-test-image", "CMD=sh -c 'exit 4'"]);
    assert_eq!(out.status, 2, "{out:?}");
    assert!(out.stderr.contains("run-test-image] Error 4"), "{out:?}");
}
