//! The make layer as a new user types it, on a copy of the example workspace (real engine):
//! `make buildenv-image`, `make images`, `make help`, `make -C payloads/node test-image`, and
//! a failing imagemk call failing the make target.

mod support;

use std::path::Path;

use support::{docker, engine, remove_images, Test};

/// Copies the example workspace (the repository's own images.yaml, Makefiles, make/, docker/,
/// core/, payloads/) into a temp dir, under a tag unique to the test.
fn example() -> (Test, String) {
    let t = Test::new();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for entry in [
        "images.yaml",
        "Makefile",
        "make",
        "docker",
        "core",
        "payloads",
    ] {
        copy(&repo.join(entry), &t.path(entry));
    }
    let tag = t.namespace();
    (t, tag)
}

fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            copy(&e.path(), &to.join(e.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}

fn exists(name: &str) -> bool {
    docker(&["image", "inspect", name]).0 == 0
}

fn cleanup(tag: &str) {
    let (_, list) = docker(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
    let names: Vec<&str> = list
        .lines()
        .filter(|l| l.ends_with(&format!(":{tag}")))
        .collect();
    if !names.is_empty() {
        let mut args = vec!["image", "rm"];
        args.extend(names);
        docker(&args);
    }
}

#[test]
fn help_lists_targets_and_images() {
    let (t, _) = example();
    let out = t.make(&["help"]);
    out.ok();
    for want in [
        "  %-image                    build this component's images of kind % (and what they lack)",
        "  images                     build every image of this component",
        "  help                       show these targets and this component's images",
        "  doctor                     check the engine, registries, cloud CLIs, workspace and host files",
        "  host-deps                  install the Debian packages of missing host files the images stage (HOST_DEPS)",
        "  node/test        kontain/test-node-busybox:latest        payloads/node/docker/test-busybox.dockerfile        node/buildenv",
    ] {
        assert!(out.stdout.contains(want), "missing {want:?} in\n{}", out.stdout);
    }
}

#[test]
fn make_targets_build_the_example_workspace() {
    if !engine() {
        return;
    }
    let (t, tag) = example();
    let result = std::panic::catch_unwind(|| {
        let name = |kind: &str, comp: &str| format!("kontain/{kind}-{comp}-busybox:{tag}");
        t.make(&["buildenv-image", &format!("IMAGE_TAG={tag}")])
            .ok();
        assert!(exists(&name("buildenv", "km")));
        assert!(!exists(&name("test", "km")));
        assert!(
            !t.exists("docker/busybox"),
            "staged busybox left in the context"
        );

        t.make(&[
            "-C",
            "payloads/node",
            "test-image",
            &format!("IMAGE_TAG={tag}"),
        ])
        .ok();
        assert!(exists(&name("buildenv", "node")) && exists(&name("test", "node")));
        assert!(!exists(&name("buildenv", "python")));

        t.make(&["images", &format!("IMAGE_TAG={tag}")]).ok();
        assert!(exists(&name("test", "km")));

        // `make -j` across components.
        let mut cmd = t.command(
            "make",
            &[
                "-j",
                "2",
                "-C",
                "payloads/python",
                "images",
                &format!("IMAGE_TAG={tag}"),
            ],
        );
        cmd.env("IMAGEMK", support::BIN);
        let other = t.command(
            "make",
            &["-C", "payloads/node", "images", &format!("IMAGE_TAG={tag}")],
        );
        let mut other = other;
        other.env("IMAGEMK", support::BIN);
        let a = cmd.spawn().unwrap();
        let b = other.spawn().unwrap();
        assert!(a.wait_with_output().unwrap().status.success());
        assert!(b.wait_with_output().unwrap().status.success());
        assert!(exists(&name("test", "python")));

        // A dry run prints the commands and builds nothing new: the images of this tag
        // have the same inputs, so they would be tagged, not built.
        let out = t.make(&["test-image", "DRY_RUN=1", "IMAGE_TAG=never-built"]);
        out.ok();
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with("docker tag kontain/buildenv-km-busybox:")
                    && l.ends_with(" kontain/buildenv-km-busybox:never-built")),
            "{}",
            out.stdout
        );
        let out = t.make(&[
            "test-image",
            "DRY_RUN=1",
            "FORCE=1",
            "IMAGE_TAG=never-built",
        ]);
        out.ok();
        assert!(out.stdout.contains("docker build --force-rm --file .imagemk-dockerfile --tag kontain/test-km-busybox:never-built"), "{}", out.stdout);
        assert!(!exists("kontain/test-km-busybox:never-built"));
    });
    cleanup(&tag);
    remove_images("kontain/never-built");
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn a_failing_imagemk_call_fails_the_target() {
    let (t, _) = example();
    t.fake_docker();
    let out = t.make(&["tset-image"]);
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("error: component `km` (`$ROOT/images.yaml`) has no image of kind `tset`; did you mean `test`? (kinds there: buildenv, test)\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("make: *** [$ROOT/make/images.mk:"),
        "{}",
        out.stderr
    );
}

/// Issue 3's flow in the example workspace: start the local registry, push a CI test image
/// and the shared build environment, remove the local one, pull it back.
#[test]
fn push_and_pull_through_the_local_registry() {
    if !engine() {
        return;
    }
    let (t, tag) = example();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let yaml = std::fs::read_to_string(t.path("images.yaml")).unwrap();
    assert!(
        yaml.contains("localhost:5000"),
        "the example's local registry moved"
    );
    t.file(
        "images.yaml",
        &yaml.replace("localhost:5000", &format!("localhost:{port}")),
    );
    let port_var = format!("LOCAL_REGISTRY_PORT={port}");
    let tag_var = format!("IMAGE_TAG={tag}");
    let result = std::panic::catch_unwind(|| {
        t.make(&["local-registry", &port_var]).ok();
        t.make(&["test-image", &tag_var]).ok();
        let out = t.make(&["push-test-image", &tag_var, "REGISTRY=local"]);
        out.ok();
        let remote = format!("localhost:{port}/kontain/test-km-busybox:{tag}@sha256:");
        assert!(out.stdout.contains(&remote), "{}", out.stdout);

        // buildenv is shared: it needs FORCE=1, and says so before anything runs.
        let out = t.make(&["push-buildenv-image", &tag_var, "REGISTRY=local"]);
        assert_ne!(out.status, 0);
        assert!(out.stderr.contains("--force"), "{}", out.stderr);
        t.make(&["push-buildenv-image", &tag_var, "REGISTRY=local", "FORCE=1"])
            .ok();

        let local = format!("kontain/buildenv-km-busybox:{tag}");
        // The test image depends on it; remove both, then pull the build environment back.
        docker(&[
            "image",
            "rm",
            &format!("kontain/test-km-busybox:{tag}"),
            &local,
        ]);
        assert!(!exists(&local));
        t.make(&["pull-buildenv-image", &tag_var, "REGISTRY=local"])
            .ok();
        assert!(exists(&local));
        let (_, names) = docker(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
        assert!(
            !names.contains(&format!("localhost:{port}/")),
            "a remote-named tag was left: {names}"
        );

        // The end of a CI run: remove the run's tag from every repository of the registry.
        let tags = |repo: &str| {
            let url = format!("http://127.0.0.1:{port}/v2/kontain/{repo}/tags/list");
            let out = std::process::Command::new("curl")
                .args(["-s", &url])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        assert!(tags("test-km-busybox").contains(&tag));
        t.make(&["image-cleanup", &tag_var, "REGISTRY=local", "DRY_RUN=1"])
            .ok();
        assert!(
            tags("test-km-busybox").contains(&tag),
            "a dry run removed the tag"
        );
        t.make(&["image-cleanup", &tag_var, "REGISTRY=local"]).ok();
        for repo in ["test-km-busybox", "buildenv-km-busybox"] {
            assert!(!tags(repo).contains(&tag), "{repo}: {}", tags(repo));
        }
    });
    t.make(&["stop-local-registry", &port_var]);
    cleanup(&tag);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// Issue 8 item 10: a make variable (a branch name in CI, say) is never shell text. Each
/// value reaches imagemk raw as one environment entry or argument, where it is checked: the
/// injected command never runs, imagemk says what is wrong, and docker is never called.
#[test]
fn make_variables_never_reach_a_shell() {
    let (t, _) = example();
    t.fake_docker();
    let tag_error = |shown: &str| {
        format!("error: invalid image tag: tag `{shown}` is not a valid docker tag: use letters, digits, `_`, `.` and `-`, not starting with `.` or `-`\n")
    };
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["images", "IMAGE_TAG=x;touch pwned"], tag_error("x;touch pwned")),
        (vec!["image-cleanup", "IMAGE_TAG=CI-1 --match CI-.* --yes"], tag_error("CI-1 --match CI-.* --yes")),
        (vec!["images", "IMAGE_TAG=$(shell touch pwned)"], tag_error("$(shell touch pwned)")),
        (vec!["images", "IMAGE_TAG=`touch pwned`"], tag_error("`touch pwned`")),
        (vec!["images", "IMAGE_TAG=$$(touch pwned)"], tag_error("$$(touch pwned)")),
        (vec!["images", "IMAGE_TAG=a'b;touch pwned"], tag_error("a'b;touch pwned")),
        (vec!["images", "IMAGE_TAG=a\"b"], tag_error("a\"b")),
        (vec!["images", "IMAGE_TAG=a b"], tag_error("a b")),
        (vec!["push-images", "REGISTRY=x;touch pwned"], "error: unknown registry `x;touch pwned` (registries: local)\n".into()),
        (vec!["images", "PLATFORM=$(shell touch pwned)"], "error: platform `$(shell touch pwned)` is not a valid name: use lowercase letters and digits, separated by `.`, `_`, `__` or `-` (no `/`, at most 128 characters)\n".into()),
        (vec!["images", "CHANNEL=x;touch pwned"], "error: channel `x;touch pwned` is not a valid name: use lowercase letters and digits, separated by `.`, `_`, `__` or `-` (no `/`, at most 128 characters)\n".into()),
        (vec!["images", "JOBS=1;touch pwned"], "error: environment variable `JOBS`: `1;touch pwned` is not a number of jobs; give a whole number from 1 up\n".into()),
        (vec!["x;touch pwned-image"], "error: component `km` (`$ROOT/images.yaml`) has no image of kind `x;touch pwned` (kinds there: buildenv, test)\n".into()),
    ];
    for (args, expected) in cases {
        let out = t.make(&args);
        assert_eq!(out.status, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.starts_with(&expected),
            "{args:?}:\n{}",
            out.stderr
        );
        assert!(!t.exists("pwned"), "{args:?} ran the injected command");
        assert_eq!(
            t.docker_log(),
            Vec::<String>::new(),
            "{args:?} called docker"
        );
    }
    // Refused by make itself, before imagemk: a line break, a bad yes/no, a bad port.
    for (args, expected) in [
        (vec!["images", "IMAGE_TAG=a\ntouch pwned #"], "a make value contains a line break: `a\ntouch pwned #`; imagemk values are one line.  Stop.\n"),
        (vec!["images", "DRY_RUN=$(shell touch pwned)"], "DRY_RUN must be 1 or 0 (or yes/no, true/false); got `$(shell touch pwned)`.  Stop.\n"),
        (vec!["local-registry", "LOCAL_REGISTRY_PORT=1;touch pwned"], "LOCAL_REGISTRY_PORT must be a port number; got `1;touch pwned`.  Stop.\n"),
    ] {
        let out = t.make(&args);
        assert_eq!(out.status, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.ends_with(expected), "{args:?}:\n{}", out.stderr);
        assert!(!t.exists("pwned"), "{args:?} ran the injected command");
        assert_eq!(t.docker_log(), Vec::<String>::new(), "{args:?} called docker");
    }
}

/// TARGET (withdocker) and CMD (run-…-image) are split into words by imagemk, as a shell
/// would but evaluating nothing: a `;` is part of a make target name inside the container,
/// never a shell separator on the host; quotes still group.
#[test]
fn target_and_cmd_are_words_not_shell() {
    let (t, _) = example();
    t.fake_docker();
    t.file(
        "images",
        "kontain/buildenv-km-busybox:latest\nkontain/test-km-busybox:latest\n",
    );
    t.make(&["withdocker", "TARGET=all; touch pwned $(shell touch pwned)"])
        .ok();
    t.make(&["run-test-image", "CMD=sh -c 'touch pwned'"]).ok();
    let out = t.make(&["run-test-image", "CMD=sh -c 'unclosed"]);
    assert_eq!(out.status, 2);
    assert!(
        out.stderr
            .starts_with("error: command `sh -c 'unclosed` has a `'` with no closing `'`\n"),
        "{}",
        out.stderr
    );
    assert!(!t.exists("pwned"));
    let runs: Vec<String> = t
        .docker_log()
        .into_iter()
        .filter(|l| l.starts_with("docker run"))
        .map(|l| l.split(":latest ").nth(1).unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        runs,
        [
            "make all\\; touch pwned \\$\\(shell touch pwned\\)",
            "sh -c touch\\ pwned"
        ]
    );
}

/// `make host-deps` with fake `id`, `sudo` and `apt-get` ahead on PATH: `$ROOT/uid` is the uid
/// `id -u` prints, `$ROOT/sudo-ok` lets `sudo -n` through; both log to `$ROOT/<program>.log`.
fn host_deps_test() -> Test {
    let (t, _) = example();
    t.fake(
        "id",
        "#!/bin/sh\ncat \"$(dirname \"$0\")/../uid\" 2>/dev/null || echo 1000\n",
    );
    t.fake(
        "sudo",
        "#!/bin/sh\nroot=\"$(dirname \"$0\")/..\"\necho \"sudo $*\" >> \"$root/sudo.log\"\n[ -e \"$root/sudo-ok\" ] || exit 1\n[ \"$1\" = -n ] && exit 0\nexec \"$@\"\n",
    );
    t.fake(
        "apt-get",
        "#!/bin/sh\necho \"apt-get $*\" >> \"$(dirname \"$0\")/../apt-get.log\"\n",
    );
    t.fake_docker();
    t
}

const MISSING: &str = "HOST_DEPS=/nonexistent/busybox=busybox-static /bin/sh=dash";

#[test]
fn host_deps_names_the_install_command_without_root_or_sudo() {
    let t = host_deps_test();
    let out = t.make(&["-s", "all-images", MISSING]);
    assert_eq!(out.status, 2, "{out:?}");
    assert!(
        out.stderr.starts_with("error: this machine lacks /nonexistent/busybox, which the images stage; install them with `sudo apt-get install -y busybox-static` (as root: `apt-get install -y busybox-static`)\n"),
        "{}",
        out.stderr
    );
    assert_eq!(t.log("sudo"), ["sudo -n true"]);
    assert!(t.log("apt-get").is_empty());
    assert!(t.docker_log().is_empty(), "{:?}", t.docker_log());
}

#[test]
fn host_deps_says_what_it_runs_then_installs_as_root_or_with_sudo() {
    let t = host_deps_test();
    t.file("uid", "0\n");
    let out = t.make(&["-s", "host-deps", MISSING]);
    // The fake apt-get installs nothing, so the file is still missing afterwards.
    assert_eq!(out.status, 2, "{out:?}");
    assert_eq!(out.stdout, "host-deps: this machine lacks /nonexistent/busybox; running: apt-get update && apt-get install -y busybox-static\n");
    assert!(out.stderr.starts_with("error: `/nonexistent/busybox` is still missing after installing busybox-static; install what provides it by hand\n"), "{}", out.stderr);
    assert_eq!(
        t.log("apt-get"),
        ["apt-get update", "apt-get install -y busybox-static"]
    );
    assert!(t.log("sudo").is_empty());

    let t = host_deps_test();
    t.file("sudo-ok", "");
    let out = t.make(&["-s", "host-deps", MISSING]);
    assert!(
        out.stdout
            .contains("running: sudo apt-get update && sudo apt-get install -y busybox-static\n"),
        "{out:?}"
    );
    assert_eq!(
        t.log("apt-get"),
        ["apt-get update", "apt-get install -y busybox-static"]
    );
    assert_eq!(
        t.log("sudo"),
        [
            "sudo -n true",
            "sudo apt-get update",
            "sudo apt-get install -y busybox-static"
        ]
    );

    // DRY_RUN=1 prints the commands and runs none.
    let t = host_deps_test();
    t.file("uid", "0\n");
    let out = t.make(&["-s", "host-deps", MISSING, "DRY_RUN=1"]);
    assert_eq!(out.status, 0, "{out:?}");
    assert!(
        out.stdout.ends_with("(DRY_RUN=1: nothing was run)\n"),
        "{out:?}"
    );
    assert!(t.log("apt-get").is_empty());
}

#[test]
fn host_deps_is_silent_when_nothing_is_missing_and_refuses_shell_text() {
    let t = host_deps_test();
    t.make(&["-s", "host-deps", "HOST_DEPS=/bin/sh=dash"])
        .is(0, "", "");
    // The example's own list: everything is on this machine (the tests need busybox-static).
    t.make(&["-s", "host-deps"]).is(0, "", "");
    let out = t.make(&["-s", "host-deps", "HOST_DEPS=/x=a;touch${IFS}pwned"]);
    assert_eq!(out.status, 2);
    assert!(
        out.stderr
            .starts_with("error: `a;touch${IFS}pwned` in HOST_DEPS is not a Debian package name\n"),
        "{}",
        out.stderr
    );
    let out = t.make(&["-s", "host-deps", "HOST_DEPS=$(shell touch pwned)"]);
    assert_eq!(out.status, 2);
    assert!(!t.exists("pwned"));
    assert!(t.log("apt-get").is_empty() && t.log("sudo").is_empty());
}

#[test]
fn local_registry_names_a_missing_curl() {
    let (mut t, _) = example();
    let dir = t.path(".only");
    std::fs::create_dir_all(&dir).unwrap();
    for tool in ["make", "sh"] {
        let p = support::which(tool).unwrap();
        std::os::unix::fs::symlink(p, dir.join(tool)).unwrap();
    }
    t.env("PATH", &dir.display().to_string());
    let out = t.make(&["-s", "local-registry"]);
    assert_eq!(out.status, 2, "{out:?}");
    assert!(out.stderr.starts_with("error: `curl` is not installed (it checks that the registry answers); install it (`apt-get install curl`)\n"), "{}", out.stderr);
}

/// A command-line LOCAL_REGISTRY_DIR or LOCAL_REGISTRY_PORT is never expanded: make would
/// evaluate `$(shell …)` in it when exporting it to the recipe.
#[test]
fn local_registry_values_never_reach_a_shell() {
    let (t, _) = example();
    for value in [
        "LOCAL_REGISTRY_DIR=x$(shell touch pwned)",
        "LOCAL_REGISTRY_PORT=1$(shell touch pwned)",
    ] {
        t.make(&["-s", "stop-local-registry", value]).is(
            0,
            "no registry was started by `make local-registry`\n",
            "",
        );
        assert!(!t.exists("pwned"), "{value}");
    }
}
