//! make's build targets pass FORCE=1, EXPLAIN=1 and DEPENDENTS=1 through as flags (values
//! checked as yes/no, never shell text); `make test-image` needs no new variable.

mod support;

use support::Test;

/// Runs `make ARGS` in a component whose imagemk is a script printing its argv, one a line.
fn argv(args: &[&str]) -> support::Output {
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
    let mut cmd = t.command("make", args);
    cmd.env("IMAGEMK", &script);
    t.output(cmd)
}

#[test]
fn build_flags_pass_through() {
    let out = argv(&[
        "-s",
        "test-image",
        "FORCE=1",
        "EXPLAIN=yes",
        "DEPENDENTS=true",
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "build\n--kind\ntest\n--force\n--explain\n--dependents\n"
    );
    let out = argv(&["-s", "test-image"]);
    assert_eq!(out.stdout, "build\n--kind\ntest\n");
    let out = argv(&["-s", "images", "EXPLAIN=0"]);
    assert_eq!(out.stdout, "build\n");
    let out = argv(&["-s", "test-image", "FORCE=$(shell touch pwned)"]);
    assert_ne!(out.status, 0);
    assert!(
        out.stderr.contains("FORCE must be 1 or 0"),
        "{}",
        out.stderr
    );
}

#[test]
fn args_become_one_arg_flag_per_word_never_shell_text() {
    let out = argv(&[
        "-s",
        "images",
        "ARGS=cxx:GITREF=v1.2 go:GITREF=$(shell touch pwned)`x` 'q'",
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "build\n--arg=cxx:GITREF=v1.2\n--arg=go:GITREF=$(shell\n--arg=touch\n--arg=pwned)`x`\n--arg='q'\n"
    );
    let out = argv(&["-s", "test-image", "ARGS=X=-v --all"]);
    assert_eq!(out.stdout, "build\n--kind\ntest\n--arg=X=-v\n--arg=--all\n");
}

#[test]
fn no_cache_is_a_yes_no_flag() {
    let out = argv(&["-s", "images", "NO_CACHE=1"]);
    assert_eq!(out.stdout, "build\n--no-cache\n");
    let out = argv(&["-s", "images", "NO_CACHE=0"]);
    assert_eq!(out.stdout, "build\n");
    let out = argv(&["-s", "images", "NO_CACHE=cxx"]);
    assert_ne!(out.status, 0);
    assert!(
        out.stderr.contains("NO_CACHE must be 1 or 0"),
        "{}",
        out.stderr
    );
}
