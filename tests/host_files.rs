//! `stage:` files taken from this machine (an absolute `from:`, or one with a `hint:`) are
//! checked before any docker command when their image is built; the error names the file and
//! the workspace's hint. Files inside the workspace stay lazy (a build may make them).

mod support;

use support::Test;

fn ws(stage: &str) -> Test {
    let t = Test::new();
    t.fake_docker();
    t.file(
        "images.yaml",
        &format!("component: c\nimages:\n  a:\n    dockerfile: Dockerfile\n    stage:\n{stage}  b:\n    dockerfile: Dockerfile\n    depends: [a]\n"),
    )
    .file("Dockerfile", "FROM scratch\n");
    t
}

#[test]
fn a_missing_host_file_names_its_hint_before_any_docker_command() {
    let t = ws("      - {from: /nonexistent/busybox, to: busybox, hint: \"`apt-get install busybox-static` (or `make host-deps`)\"}\n");
    t.run(&["build", "a"]).fails_with(
        "error: image `c/a` stages `/nonexistent/busybox` from this machine, which does not have it; install it or fix `stage:`\nhint: `apt-get install busybox-static` (or `make host-deps`)\n",
    );
    assert!(t.docker_log().is_empty(), "{:?}", t.docker_log());
    // Through a dependency: `b` needs `a`, which is not built yet (only `image ls` ran).
    let out = t.run(&["build", "b"]);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr
            .starts_with("error: image `c/a` stages `/nonexistent/busybox`"),
        "{}",
        out.stderr
    );
    assert!(
        !t.docker_log().iter().any(|l| l.starts_with("docker build")),
        "{:?}",
        t.docker_log()
    );
    // Other commands still load the workspace.
    assert_eq!(t.run(&["list"]).status, 0);
}

#[test]
fn without_a_hint_an_absolute_file_is_still_checked_early() {
    let t = ws("      - {from: /nonexistent/tool, to: tool}\n");
    t.run(&["build", "a", "--dry-run"]).fails_with(
        "error: image `c/a` stages `/nonexistent/tool` from this machine, which does not have it; install it or fix `stage:`\n",
    );
    assert!(t.docker_log().is_empty());
}

#[test]
fn a_relative_file_with_a_hint_is_a_host_file_too() {
    let t = ws("      - {from: out/tool, to: tool, hint: \"run `make tool` first\"}\n");
    t.run(&["build", "a"]).fails_with(
        "error: image `c/a` stages `$ROOT/out/tool` from this machine, which does not have it; install it or fix `stage:`\nhint: run `make tool` first\n",
    );
    t.file("out/tool", "x");
    t.run(&["build", "a"]).ok();
}
