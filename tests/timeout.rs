//! Build timeouts (issue 12 item 3) through the real binary with the fake docker: `timeout:`
//! and `--timeout` stop a build past its deadline (SIGTERM to its client), report `timed out
//! after …` with the log tail, skip its dependents, exit 1; `--keep-going` still builds the
//! independent images; make's TIMEOUT= is one raw, single-quoted argument. Bad durations and a
//! build within its deadline are tested in-process in `src/commands/build_timeout_tests.rs`.

mod support;

use std::time::{Duration, Instant};

use support::Test;

/// `slow` (30 s in the fake docker unless stopped), `after` FROM slow, and `other`.
fn workspace(slow_timeout: &str) -> Test {
    let t = Test::new();
    t.fake_docker();
    t.file("slow-build", "km/slow\n");
    t.file(
        "images.yaml",
        &format!(
            "defaults:\n  namespace: km\ncomponent: c\nimages:\n  slow:\n    dockerfile: slow.dockerfile\n{slow_timeout}  after:\n    dockerfile: after.dockerfile\n    depends: [slow]\n  other:\n    dockerfile: other.dockerfile\n"
        ),
    );
    t.file("slow.dockerfile", "FROM scratch\n");
    t.file("after.dockerfile", "FROM scratch\n");
    t.file("other.dockerfile", "FROM scratch\n");
    t
}

fn builds(t: &Test) -> Vec<String> {
    t.docker_log()
        .into_iter()
        .filter(|l| l.starts_with("docker build "))
        .collect()
}

#[test]
fn a_build_past_its_timeout_is_stopped_and_its_dependents_skipped() {
    let t = workspace("    timeout: 1s\n");
    let start = Instant::now();
    let out = t.run(&["build", "slow", "after", "-j", "1"]);
    let took = start.elapsed();
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(took < Duration::from_secs(8), "took {took:?}");
    assert!(
        out.stderr
            .contains("error: the build of `c/slow` timed out after 1s: `docker build"),
        "{}",
        out.stderr
    );
    // The log tail is shown, and the client got SIGTERM (it recorded it).
    assert!(
        out.stderr.contains("  | Step 1/2 : FROM scratch"),
        "{}",
        out.stderr
    );
    let times = std::fs::read_to_string(t.path("build-times")).unwrap();
    assert!(times.contains("terminated km/slow"), "{times}");
    assert!(
        out.stderr.contains("1 skipped: c/after (needs c/slow)"),
        "{}",
        out.stderr
    );
    assert_eq!(builds(&t).len(), 1, "{:?}", builds(&t));
}

#[test]
fn the_run_timeout_overrides_and_keep_going_builds_the_independent_image() {
    let t = workspace("    timeout: 2h\n");
    let start = Instant::now();
    let out = t.run(&["build", "--all", "--keep-going", "--timeout", "1s"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(start.elapsed() < Duration::from_secs(8));
    assert!(
        out.stderr
            .contains("the build of `c/slow` timed out after 1s"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("summary: 1 built; 1 failed: c/slow; 1 skipped: c/after (needs c/slow)"),
        "{}",
        out.stderr
    );
    let built = builds(&t);
    assert!(built.iter().any(|l| l.contains("km/other-")), "{built:?}");
    // No interrupt: a timeout is a failure (exit 1, not 130) and says `failed`, not `stopped`.
    assert!(!out.stderr.contains("stopped:"), "{}", out.stderr);
}

#[test]
fn without_keep_going_a_timeout_stops_the_run_like_a_failure() {
    let t = workspace("    timeout: 1s\n");
    let out = t.run(&["build", "--all", "-j", "1"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(out.stderr.contains("timed out after 1s"), "{}", out.stderr);
    // With -j1 `other` (which sorts after `slow` or before it) either built first or never
    // started; in no case did the run go on past the timed-out build.
    let after_slow = builds(&t)
        .into_iter()
        .skip_while(|l| !l.contains("km/slow"))
        .count();
    assert_eq!(after_slow, 1, "{:?}", builds(&t));
}

#[test]
fn make_timeout_is_one_raw_argument() {
    let t = Test::new();
    t.file(
        "Makefile",
        &format!("include {}/make/images.mk\n", env!("CARGO_MANIFEST_DIR")),
    );
    t.file(
        "argv.sh",
        "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done\n",
    );
    let script = t.path("argv.sh");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let make = |arg: &str| {
        let mut cmd = t.command("make", &["-s", "test-image", arg]);
        cmd.env("IMAGEMK", &script);
        t.output(cmd)
    };
    let out = make("TIMEOUT=80m");
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "build\n--kind\ntest\n--timeout\n80m\n");
    let out = make("TIMEOUT=1m $(shell touch pwned)'x");
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "build\n--kind\ntest\n--timeout\n1m $(shell touch pwned)'x\n"
    );
    assert!(!t.exists("pwned"));
}
