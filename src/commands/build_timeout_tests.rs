//! Build timeouts in-process (`runner::Recorder`): bad durations in `images.yaml` or
//! `--timeout` are refused before any command, and a build within its deadline is not touched.
//! A build stopped at its deadline (SIGTERM to a real client) is tested in `tests/timeout.rs`.

use std::sync::Arc;

use super::push_tests::{run, write};
use crate::runner::{Recorder, Reply};

/// `slow`, `after` (depends on slow) and `other`; `slow_timeout` is slow's `timeout:` line.
fn workspace(slow_timeout: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir,
        "images.yaml",
        &format!(
            "defaults:\n  namespace: km\ncomponent: c\nimages:\n  slow:\n    dockerfile: slow.dockerfile\n{slow_timeout}  after:\n    dockerfile: after.dockerfile\n    depends: [slow]\n  other:\n    dockerfile: other.dockerfile\n"
        ),
    );
    for file in ["slow", "after", "other"] {
        write(&dir, &format!("{file}.dockerfile"), "FROM scratch\n");
    }
    dir
}

fn builds(rec: &Recorder) -> Vec<String> {
    rec.lines()
        .into_iter()
        .filter(|l| l.starts_with("docker build "))
        .collect()
}

#[test]
fn bad_timeouts_are_refused_before_any_command() {
    for (yaml, message) in [
        ("10x", "error: `$ROOT/images.yaml:7:14`: images.slow.timeout: timeout `10x` has an unknown unit `x` (use `h`, `m` or `s`); hint: write a positive whole number of hours, minutes or seconds, e.g. `90s`, `80m`, `2h`, `1h30m`"),
        ("0s", "error: `$ROOT/images.yaml:7:14`: images.slow.timeout: timeout `0s` is zero: a build would be stopped at once; hint:"),
        ("\"-5m\"", "error: `$ROOT/images.yaml:7:14`: images.slow.timeout: timeout `-5m` is negative"),
        ("99999999999h", "error: `$ROOT/images.yaml:7:14`: images.slow.timeout: timeout `99999999999h` is too long (at most 366 days)"),
    ] {
        let rec = Arc::new(Recorder::new());
        let out = run(&rec, workspace(&format!("    timeout: {yaml}\n")).path(), &["build", "--all"]);
        assert_eq!(out.status, 1, "{yaml}: {}", out.stderr);
        assert!(out.stderr.starts_with(message), "{yaml}: {}", out.stderr);
        assert!(rec.lines().is_empty(), "{yaml}");
    }
    for (flag, message) in [
        (
            "10x",
            "timeout `10x` has an unknown unit `x` (use `h`, `m` or `s`)",
        ),
        ("0", "timeout `0` has no unit"),
        (
            "0m",
            "timeout `0m` is zero: a build would be stopped at once",
        ),
    ] {
        let rec = Arc::new(Recorder::new());
        let out = run(
            &rec,
            workspace("").path(),
            &["build", "--all", "--timeout", flag],
        );
        assert_eq!(out.status, 2, "{flag}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{flag}: {}", out.stderr);
        assert!(
            out.stderr.contains("hint: write a positive whole number"),
            "{}",
            out.stderr
        );
        assert!(rec.lines().is_empty(), "{flag}");
    }
}

#[test]
fn a_build_within_its_timeout_is_not_touched() {
    let rec = Arc::new(Recorder::new().on(
        "docker image inspect",
        Reply::Fail(1, "Error: No such image: km/slow-c-linux:latest\n".into()),
    ));
    let dir = workspace("    timeout: 1h30m\n");
    let out = run(
        &rec,
        dir.path(),
        &["build", "--all", "--timeout", "20s", "-j", "1"],
    );
    out.ok();
    assert!(out.stderr.ends_with("summary: 3 built\n"), "{}", out.stderr);
    let tags: Vec<String> = builds(&rec)
        .iter()
        .map(|l| {
            l.split("--tag ")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        tags,
        [
            "km/other-c-linux:latest",
            "km/slow-c-linux:latest",
            "km/after-c-linux:latest"
        ]
    );
}
