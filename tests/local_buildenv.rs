//! `imagemk local-buildenv` against the fake docker, with fake `apt-get`, `sudo` and `id` on a
//! PATH that has no real package manager or sudo (so no test can install anything): the
//! exact dry-run commands, root and sudo, an unsupported host, existing destinations (skipped
//! when identical, an error when different, replaced with --force), pull before extract (and
//! login after a refusal), the `host:` checks at load, and the make target's quoting.

mod support;

use std::path::Path;

use support::Test;

const YAML: &str = "workspace:
  registry: local
  registries:
    local: {kind: oci, host: \"localhost:5000\", path: kontain}
defaults:
  namespace: acme
component: km
images:
  buildenv:
    dockerfile: buildenv.dockerfile
    host:
      apt: [make, busybox-static]
      dnf: [make, busybox]
      artifacts:
        - {from: /opt/kontain/TOOLCHAIN, to: /opt/kontain/TOOLCHAIN}
        - {from: /opt/kontain/lib/libstdc++.so.6, to: /opt/kontain/lib/libstdc++.so.6}
";

const NAME: &str = "acme/buildenv-km-linux:latest";

/// A PATH of `.bin` (the fakes) and `.sys`: links to the basic tools only, so no package
/// manager and no sudo (linking all of /usr/bin took over a second per workspace).
fn isolated(t: &mut Test) {
    let sys = support::toolbox(&t.path(".sys"), &[support::BASIC_TOOLS], "");
    let path = format!("{}:{}", t.path(".bin").display(), sys.display());
    t.env("PATH", &path);
}

/// The workspace with the image present, `id -u` printing `$ROOT/uid` (default 1000), and a
/// logging `apt-get`; `sudo` only when `sudo` is true.
fn workspace(sudo: bool) -> Test {
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
    if sudo {
        t.fake(
            "sudo",
            "#!/bin/sh\necho \"sudo $*\" >> \"$(dirname \"$0\")/../sudo.log\"\nexec \"$@\"\n",
        );
    }
    t
}

const ARGS: &[&str] = &["local-buildenv", "--name", "lb1", "--root", "sys"];

fn args(extra: &[&'static str]) -> Vec<&'static str> {
    let mut v = ARGS.to_vec();
    v.extend(extra);
    v
}

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
fn dry_run_prints_the_exact_commands_with_sudo_or_as_root() {
    let t = workspace(true);
    let out = t.run(&args(&["--dry-run"]));
    let plan = "docker create --pull never --name lb1 acme/buildenv-km-linux:latest true
cd $ROOT/sys/opt/kontain && docker cp lb1:/opt/kontain/TOOLCHAIN ./.imagemk-extract-lb1-0/copy
# then the copy replaces $ROOT/sys/opt/kontain/TOOLCHAIN
cd $ROOT/sys/opt/kontain/lib && docker cp lb1:/opt/kontain/lib/libstdc++.so.6 ./.imagemk-extract-lb1-1/copy
# then the copy replaces $ROOT/sys/opt/kontain/lib/libstdc++.so.6
docker rm --force lb1
# a destination that exists is skipped when identical; one that differs is an error (replace it with --force)
";
    out.is(
        0,
        &format!("{plan}sudo apt-get update\nsudo apt-get install -y make busybox-static\n"),
        "",
    );
    assert_eq!(t.docker_log(), extraction_log()[..1]);
    assert!(t.log("apt-get").is_empty() && t.log("sudo").is_empty());
    assert!(!t.exists("sys/opt"));

    t.file("uid", "0\n");
    let out = t.run(&args(&["--dry-run"]));
    out.is(
        0,
        &format!("{plan}apt-get update\napt-get install -y make busybox-static\n"),
        "",
    );
}

#[test]
fn a_run_extracts_then_installs_printing_each_command_first() {
    let t = workspace(true);
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
fn a_failed_install_says_what_to_run_by_hand() {
    let t = workspace(true);
    t.file("apt-status", "100\n");
    let out = t.run(ARGS);
    assert_eq!(out.status, 1);
    assert!(out.stderr.ends_with("running: sudo apt-get update\nerror: `sudo apt-get update` exited with status 100; the files are in place, so run `sudo apt-get update && sudo apt-get install -y make busybox-static` by hand (or fix what it reports and run `imagemk local-buildenv` again)\n"), "{}", out.stderr);
}

#[test]
fn not_root_without_sudo_names_the_command_and_runs_nothing() {
    let t = workspace(false);
    t.run(ARGS).fails_with("error: installing the packages of image `km/buildenv` needs root, and `sudo` is not installed; run as root: `apt-get update && apt-get install -y make busybox-static`, then `imagemk local-buildenv` again\n");
    assert!(t.docker_log().is_empty() && t.log("apt-get").is_empty());
}

#[test]
fn an_unsupported_host_gets_the_list_after_the_files() {
    let t = workspace(true);
    std::fs::remove_file(t.path(".bin/apt-get")).unwrap();
    let out = t.run(ARGS);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(out.stderr.ends_with("error: this host has no package manager imagemk knows (apt-get, dnf, yum, apk); install by hand what image `km/buildenv` needs:\n  apt: make busybox-static\n  dnf: make busybox\n"), "{}", out.stderr);
    assert!(t.exists("sys/opt/kontain/TOOLCHAIN"));

    // A host whose manager the image gives no list for.
    let t = workspace(true);
    t.file(
        "images.yaml",
        &YAML.replace("      apt: [make, busybox-static]\n", ""),
    );
    let out = t.run(&args(&["--dry-run"]));
    assert_eq!(out.status, 1);
    assert!(!out.stdout.contains("apt-get"), "{}", out.stdout);
    assert_eq!(out.stderr, "error: image `km/buildenv` lists no `apt` packages in `host:` for this host's `apt-get`; install by hand the equivalents of:\n  dnf: make busybox\nhint: add a `apt:` list to its `host:`\n");
}

#[test]
fn an_existing_destination_is_skipped_when_identical_refused_when_different_replaced_with_force() {
    let t = workspace(true);
    t.file(
        "sys/opt/kontain/TOOLCHAIN",
        "copied from /opt/kontain/TOOLCHAIN\n",
    );
    t.file("sys/opt/kontain/lib/libstdc++.so.6", "the user's own\n");
    let out = t.run(ARGS);
    out.fails_with("error: `$ROOT/sys/opt/kontain/lib/libstdc++.so.6` exists on this host and differs from the copy in image `km/buildenv`; nothing was written\nhint: replace it with `imagemk local-buildenv --force` (`make local-buildenv FORCE=1`), or move it away first\n");
    let read = |p: &str| std::fs::read_to_string(t.path(p)).unwrap();
    assert_eq!(
        read("sys/opt/kontain/lib/libstdc++.so.6"),
        "the user's own\n"
    );
    let left = |d: &str| std::fs::read_dir(t.path(d)).unwrap().count();
    assert_eq!(
        (left("sys/opt/kontain"), left("sys/opt/kontain/lib")),
        (2, 1)
    );
    assert!(t.log("apt-get").is_empty());
    assert!(t
        .docker_log()
        .last()
        .unwrap()
        .starts_with("docker rm --force lb1"));

    let out = t.run(&args(&["--force"]));
    out.is(0, "", "extracted km/buildenv:/opt/kontain/lib/libstdc++.so.6 -> $ROOT/sys/opt/kontain/lib/libstdc++.so.6\nunchanged (identical): $ROOT/sys/opt/kontain/TOOLCHAIN\nrunning: sudo apt-get update\nrunning: sudo apt-get install -y make busybox-static\n");
    assert_eq!(
        read("sys/opt/kontain/lib/libstdc++.so.6"),
        "copied from /opt/kontain/lib/libstdc++.so.6\n"
    );
    assert_eq!(
        (left("sys/opt/kontain"), left("sys/opt/kontain/lib")),
        (2, 1)
    );
}

#[test]
fn a_missing_image_is_pulled_first_and_a_refusal_logs_in_once() {
    let t = workspace(true);
    t.file("images", "");
    t.run(ARGS).ok();
    let log = t.docker_log();
    let at = |prefix: &str| log.iter().position(|l| l.starts_with(prefix)).unwrap();
    let pull = at("docker pull localhost:5000/kontain/buildenv-km-linux:latest");
    assert!(
        pull < at("docker tag") && at("docker tag") < at("docker create"),
        "{log:#?}"
    );

    let t = workspace(true);
    t.file("images", "");
    t.file("pull-fail", "Error response from daemon: Head \"https://localhost:5000/v2/kontain/buildenv-km-linux/manifests/latest\": unauthorized: authentication required\n");
    let out = t.run(ARGS);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr.contains(
            "registry `local` refused the credentials; logging in: docker login localhost:5000\n"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.ends_with("hint: or build it here with `make buildenv-image`; then run `imagemk local-buildenv` again\n"), "{}", out.stderr);
    let log = t.docker_log();
    let calls: Vec<&str> = log
        .iter()
        .map(String::as_str)
        .filter(|l| l.starts_with("docker pull") || l.starts_with("docker login"))
        .collect();
    assert_eq!(
        calls,
        [
            "docker pull localhost:5000/kontain/buildenv-km-linux:latest",
            "docker login localhost:5000",
            "docker pull localhost:5000/kontain/buildenv-km-linux:latest"
        ]
    );
    assert!(!t.exists("sys/opt") && t.log("apt-get").is_empty());
}

#[test]
fn the_dry_run_of_a_missing_image_prints_the_pull_and_the_login() {
    let t = workspace(true);
    t.file("images", "");
    let out = t.run(&args(&["--dry-run"]));
    out.ok();
    assert!(out.stdout.starts_with("docker pull localhost:5000/kontain/buildenv-km-linux:latest\ndocker tag localhost:5000/kontain/buildenv-km-linux:latest acme/buildenv-km-linux:latest\n"), "{}", out.stdout);
    assert!(out.stdout.contains("\n# if the registry refuses the credentials: docker login localhost:5000, then the pull again\ndocker create"), "{}", out.stdout);
    assert_eq!(t.docker_log().len(), 1);
}

/// A `host:` section that load refuses, with the exact message; docker never runs.
fn refused(host: &str, message: &str) {
    let t = workspace(true);
    let yaml = YAML.split("    host:\n").next().unwrap().to_string() + "    host:\n" + host;
    t.file("images.yaml", &yaml);
    t.run(&args(&["--dry-run"]))
        .fails_with(&format!("error: `$ROOT/images.yaml:{message}\n"));
    assert!(t.docker_log().is_empty());
}

#[test]
fn bad_host_sections_are_refused_at_load() {
    refused("      apt: [make, \"-y\"]\n", "12:19`: images.buildenv.host.apt[1]: package `-y` in `host:` is not a package name: use letters, digits, `.`, `_`, `+`, `:` and `-`, starting with a letter or digit (one package per entry)");
    refused("      dnf: [\"make; rm -rf /\"]\n", "12:13`: images.buildenv.host.dnf[0]: package `make; rm -rf /` in `host:` is not a package name: use letters, digits, `.`, `_`, `+`, `:` and `-`, starting with a letter or digit (one package per entry)");
    refused(
        "      yum: [make]\n",
        "12:7`: unknown key `yum` in `images.buildenv.host` (valid keys: apt, dnf, apk, artifacts)",
    );
    refused("      artifacts: [{from: /a, to: /usr/}]\n", "12:34`: images.buildenv.host.artifacts[0].to: host artifact destination `/usr/` is a system directory, which the copy would replace whole; name the file or directory below it, e.g. `/usr/NAME`");
    refused("      artifacts: [{from: /a, to: opt/x}]\n", "12:34`: images.buildenv.host.artifacts[0].to: host artifact destination `opt/x` must be an absolute path on the host without `..`, e.g. `/opt/kontain/lib/libstdc++.so.6`");
    refused("      artifacts: [{from: a, to: /opt/x}]\n", "12:26`: images.buildenv.host.artifacts[0].from: host artifact source `a` must be an absolute path in the image naming a file or directory, e.g. `/opt/kontain/lib/libstdc++.so.6`");
}

#[test]
fn an_image_without_host_and_a_missing_root_are_refused_before_docker() {
    let t = workspace(true);
    t.file("images.yaml", YAML.split("    host:\n").next().unwrap());
    t.run(ARGS).fails_with("error: image `km/buildenv` has no `host:` in `$ROOT/images.yaml`, so there is nothing to set up on this host\nhint: list the packages its toolchain needs (`host: {apt: […], dnf: […]}`) and the files to copy out (`host: {artifacts: [{from: /opt/…, to: /opt/…}]}`)\n");
    let t = workspace(true);
    t.run(&["local-buildenv", "--root", "nope"])
        .fails_with("error: `--root nope` is not an existing directory; create it first\n");
    assert!(t.docker_log().is_empty());
}

#[test]
fn the_make_target_passes_values_raw() {
    let t = workspace(true);
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

#[test]
fn a_missing_image_with_no_registry_says_how_to_build_it() {
    let t = workspace(true);
    t.file("images", "");
    let yaml = YAML.replace("  registry: local\n  registries:\n    local: {kind: oci, host: \"localhost:5000\", path: kontain}\n", "  members: []\n");
    t.file("images.yaml", &yaml);
    for extra in [&[][..], &["--dry-run"][..]] {
        let out = t.run(&args(extra));
        assert_eq!(out.status, 1);
        assert!(out.stderr.starts_with("error: image `km/buildenv` (`acme/buildenv-km-linux:latest`) is not in the local engine and must be pulled, but "), "{}", out.stderr);
        assert!(
            out.stderr
                .ends_with("\nhint: or build it here with `make buildenv-image`\n"),
            "{}",
            out.stderr
        );
    }
    assert!(t
        .docker_log()
        .iter()
        .all(|l| l.starts_with("docker image ls")));
}
