//! Content-addressed builds on the real engine, on a copy of the example workspace (a git
//! checkout, namespace of its own): built once, then a no-op (also after an empty commit: no
//! `docker build`, image IDs unchanged, well under a second); a changed payload file or
//! Dockerfile rebuilds only that image and its dependents and `--explain` names it; a changed
//! build arg rebuilds; `IMAGE_TAG=CI-42` after `latest` tags instead of building.

mod support;

use std::collections::BTreeMap;
use std::process::Command;

use support::{docker, engine, Test};

struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        support::remove_images(&format!("{}/", self.0));
    }
}

/// The example workspace in a git checkout, with a logging `docker` wrapper on PATH.
fn example() -> (Test, Cleanup) {
    let t = Test::new();
    let src = env!("CARGO_MANIFEST_DIR");
    for item in ["images.yaml", "docker", "core", "payloads"] {
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
    for dir in ["core/out", "payloads/node/blank", "payloads/node/out"] {
        let _ = std::fs::remove_dir_all(t.path(dir));
    }
    let ns = t.namespace();
    let yaml = std::fs::read_to_string(t.path("images.yaml")).unwrap();
    t.file(
        "images.yaml",
        &yaml.replace("namespace: kontain", &format!("namespace: {ns}")),
    );
    let real = which_docker();
    t.fake(
        "docker",
        &format!(
            "#!/bin/sh\necho \"$*\" >> \"$(dirname \"$0\")/../calls.log\"\nexec {real} \"$@\"\n"
        ),
    );
    git(&t, &["init", "-q"]);
    git(&t, &["add", "-A"]);
    git(&t, &["commit", "-q", "-m", "example"]);
    (t, Cleanup(ns))
}

fn which_docker() -> String {
    let out = Command::new("sh")
        .args(["-c", "command -v docker"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn git(t: &Test, args: &[&str]) {
    let mut c = t.command("git", args);
    c.env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t");
    assert!(c.status().unwrap().success(), "git {args:?}");
}

/// The docker calls since the last look (the wrapper's log, emptied).
fn calls(t: &Test) -> Vec<String> {
    let path = t.path("calls.log");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_file(&path);
    text.lines().map(str::to_string).collect()
}

fn builds(calls: &[String]) -> Vec<String> {
    calls
        .iter()
        .filter(|l| l.starts_with("build "))
        .map(|l| {
            l.split("--tag ")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

const IMAGES: [&str; 6] = [
    "buildenv-km",
    "test-km",
    "buildenv-node",
    "test-node",
    "buildenv-python",
    "test-python",
];

fn ids(ns: &str, tag: &str) -> BTreeMap<String, String> {
    IMAGES
        .iter()
        .map(|i| {
            let name = format!("{ns}/{i}-busybox:{tag}");
            let (s, id) = docker(&["image", "inspect", "--format", "{{.Id}}", &name]);
            assert_eq!(s, 0, "{name} missing");
            (i.to_string(), id)
        })
        .collect()
}

/// A no-op build: one `docker image inspect`, no `docker build`, exit 0 (its speed is
/// bench/inputs.sh's to show, not a timed test's).
fn no_op(t: &Test) {
    let out = t.run(&["build", "--all"]);
    out.ok();
    assert!(
        out.stderr.ends_with("summary: 0 built; 6 up to date\n"),
        "{}",
        out.stderr
    );
    let calls = calls(t);
    assert!(builds(&calls).is_empty(), "{calls:?}");
    assert_eq!(calls.len(), 1, "one docker call: {calls:?}");
    assert!(calls[0].starts_with("image inspect "), "{calls:?}");
}

#[test]
fn the_example_rebuilds_only_what_changed() {
    if !engine() {
        return;
    }
    let (t, guard) = example();
    let ns = guard.0.clone();
    t.run(&["build", "--all"]).ok();
    assert_eq!(builds(&calls(&t)).len(), 6);
    let first = ids(&ns, "latest");
    // Each image's labels are applied in one step, and carry its input digest.
    let log = std::fs::read_to_string(t.path(".imagemk/logs/km/test.log")).unwrap();
    assert_eq!(log.matches(": LABEL ").count(), 1, "{log}");
    no_op(&t);
    git(&t, &["commit", "-q", "--allow-empty", "-m", "nothing"]);
    no_op(&t);
    assert_eq!(ids(&ns, "latest"), first);

    // A payload's test file: only that image rebuilds, and --explain names the file.
    t.file("payloads/node/tests/run.sh", "#!/bin/sh\necho changed\n");
    let out = t.run(&["build", "--all", "--explain"]);
    out.ok();
    assert_eq!(
        builds(&calls(&t)),
        [format!("{ns}/test-node-busybox:latest")]
    );
    assert!(
        out.stderr
            .contains("node/test: build: payloads/node/tests/run.sh changed\n"),
        "{}",
        out.stderr
    );
    // A Dockerfile: that image and its dependent.
    let df = "payloads/node/docker/buildenv-busybox.dockerfile";
    let text = std::fs::read_to_string(t.path(df)).unwrap();
    t.file(
        df,
        &format!("{text}RUN echo more > /opt/kontain/node/MORE\n"),
    );
    let out = t.run(&["build", "--all", "--explain"]);
    out.ok();
    assert_eq!(
        builds(&calls(&t)),
        [
            format!("{ns}/buildenv-node-busybox:latest"),
            format!("{ns}/test-node-busybox:latest")
        ]
    );
    assert!(
        out.stderr
            .contains(&format!("node/buildenv: build: {df} changed\n")),
        "{}",
        out.stderr
    );
    // node/test's context holds the node Dockerfiles too: it names both.
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with("node/test: build: ")
                && l.contains("parent node/buildenv rebuilt")),
        "{}",
        out.stderr
    );
    let now = ids(&ns, "latest");
    for same in ["buildenv-km", "test-km", "buildenv-python", "test-python"] {
        assert_eq!(now[same], first[same], "{same} changed");
    }
    // `why` says the same without building.
    let out = t.run(&["why", "node/test"]);
    out.ok();
    assert!(
        out.stdout.contains("node/test: up to date (inputs "),
        "{}",
        out.stdout
    );

    // A build arg: the image whose Dockerfile uses it, and everything built on it.
    let yaml = std::fs::read_to_string(t.path("images.yaml")).unwrap();
    t.file(
        "images.yaml",
        &yaml.replace("TOOLCHAIN: \"busybox-sh\"", "TOOLCHAIN: \"busybox-ash\""),
    );
    let out = t.run(&["build", "km/buildenv", "--explain"]);
    out.ok();
    assert_eq!(
        builds(&calls(&t)),
        [format!("{ns}/buildenv-km-busybox:latest")]
    );
    assert!(
        out.stderr
            .contains("km/buildenv: build: build arg TOOLCHAIN: busybox-sh → busybox-ash\n"),
        "{}",
        out.stderr
    );
    t.file("images.yaml", &yaml);
    t.run(&["build", "--all"]).ok();
    calls(&t);

    // Another tag of the same inputs: tagged, not built.
    let mut t = t;
    t.env("IMAGE_TAG", "CI-42");
    let out = t.run(&["build", "--all", "--json"]);
    out.ok();
    let calls = calls(&t);
    assert!(builds(&calls).is_empty(), "{calls:?}");
    assert_eq!(
        calls.iter().filter(|c| c.starts_with("tag ")).count(),
        6,
        "{calls:?}"
    );
    assert_eq!(ids(&ns, "CI-42"), ids(&ns, "latest"));
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    for row in json["images"].as_array().unwrap() {
        assert_eq!(row["outcome"], "tagged", "{row}");
        assert!(row["id"].as_str().unwrap().starts_with("sha256:"), "{row}");
    }
}
