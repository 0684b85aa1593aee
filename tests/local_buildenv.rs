//! `imagemk local-buildenv` wiring against the fake docker, with fake `apt-get`, `sudo` and `id`
//! on a PATH that has no real package manager or sudo (so no test can install anything): one
//! real run (the fake's `docker cp` output swapped into place, the install commands run
//! through sudo) and the make target's quoting. The order of the commands, dry runs, root and
//! sudo, unsupported hosts, existing destinations, pull and login, and the `host:` checks at
//! load are in-process tests in src/commands/local_buildenv_tests.rs.

mod support;

use std::path::Path;

use support::Test;

/// A buildenv with `host:` packages and two artifacts (shared with
/// src/commands/local_buildenv_tests.rs).
const YAML: &str = include_str!("support/local-buildenv.yaml");

const NAME: &str = "acme/buildenv-km-linux:latest";

/// A PATH of `.bin` (the fakes) and `.sys`: links to the basic tools only, so no package
/// manager and no sudo (linking all of /usr/bin took over a second per workspace).
fn isolated(t: &mut Test) {
    let sys = support::toolbox(&t.path(".sys"), &[support::BASIC_TOOLS], "");
    let path = format!("{}:{}", t.path(".bin").display(), sys.display());
    t.env("PATH", &path);
}

/// The workspace with the image present, `id -u` printing `$ROOT/uid` (default 1000), and a
/// logging `apt-get` and `sudo`.
fn workspace() -> Test {
    let mut t = Test::new();
    isolated(&mut t);
    t.fake_docker();
    t.file("images.yaml", YAML);
    t.file("buildenv.dockerfile", "FROM scratch\n");
    t.file("images", &format!("{NAME}\n"));
    std::fs::create_dir(t.path("sys")).unwrap();
    t.fake(
        "id",
        "#!/bin/sh\ncat \"$(dirname \"$0\")/../uid\" 2>/dev/null || echo 1000\n",
    );
    t.fake(
        "apt-get",
        "#!/bin/sh\necho \"apt-get $*\" >> \"$(dirname \"$0\")/../apt-get.log\"\nexit \"$(cat \"$(dirname \"$0\")/../apt-status\" 2>/dev/null || echo 0)\"\n",
    );
    t.fake(
        "sudo",
        "#!/bin/sh\necho \"sudo $*\" >> \"$(dirname \"$0\")/../sudo.log\"\nexec \"$@\"\n",
    );
    t
}

const ARGS: &[&str] = &["local-buildenv", "--name", "lb1", "--root", "sys"];

fn extraction_log() -> Vec<String> {
    [
        "docker image ls --format \\{\\{.Repository\\}\\}:\\{\\{.Tag\\}\\}",
        "docker create --pull never --name lb1 acme/buildenv-km-linux:latest true",
        "docker cp lb1:/opt/kontain/TOOLCHAIN ./.imagemk-extract-lb1-0/copy",
        "docker cp lb1:/opt/kontain/lib/libstdc++.so.6 ./.imagemk-extract-lb1-1/copy",
        "docker rm --force lb1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn a_run_extracts_then_installs_printing_each_command_first() {
    let t = workspace();
    let out = t.run(ARGS);
    out.is(0, "", "extracted km/buildenv:/opt/kontain/TOOLCHAIN -> $ROOT/sys/opt/kontain/TOOLCHAIN\nextracted km/buildenv:/opt/kontain/lib/libstdc++.so.6 -> $ROOT/sys/opt/kontain/lib/libstdc++.so.6\nrunning: sudo apt-get update\nrunning: sudo apt-get install -y make busybox-static\n");
    assert_eq!(t.docker_log(), extraction_log());
    let read = |p: &str| std::fs::read_to_string(t.path(p)).unwrap();
    assert_eq!(
        read("sys/opt/kontain/TOOLCHAIN"),
        "copied from /opt/kontain/TOOLCHAIN\n"
    );
    assert_eq!(
        std::fs::read_dir(t.path("sys/opt/kontain"))
            .unwrap()
            .count(),
        2,
        "no staging directory is left"
    );
    assert_eq!(
        t.log("sudo"),
        [
            "sudo apt-get update",
            "sudo apt-get install -y make busybox-static"
        ]
    );
    assert_eq!(t.log("apt-get").len(), 2);
}

#[test]
fn the_make_target_passes_values_raw() {
    let t = workspace();
    t.file("Makefile", "include make/images.mk\n");
    t.file("make/images.mk", include_str!("../make/images.mk"));
    let out = t.make(&[
        "-s",
        "local-buildenv",
        "DRY_RUN=1",
        "FORCE=1",
        "LOCAL_BUILDENV_ROOT=sys/$(shell touch pwned)",
    ]);
    assert_eq!(out.status, 2);
    assert!(out.stderr.starts_with("error: `--root sys/$(shell touch pwned)` is not an existing directory; create it first\n"), "{}", out.stderr);
    assert!(!t.exists("pwned"));
    let out = t.make(&[
        "-s",
        "local-buildenv",
        "DRY_RUN=1",
        "FORCE=1",
        "LOCAL_BUILDENV_ROOT=sys",
    ]);
    out.ok();
    assert!(
        out.stdout.contains(&format!(
            "cd {} && docker cp",
            Path::new("$ROOT/sys/opt/kontain").display()
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("one that differs is replaced (--force)\n"),
        "{}",
        out.stdout
    );
}
