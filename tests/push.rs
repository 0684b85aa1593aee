//! push, pull and login against fake `docker`, `gcloud` and `az`: the exact commands and their
//! order, remote names per registry kind and channel, guards, faults and their messages.

mod support;

use std::time::{Duration, Instant};

use support::{digest_of, Output, Test};

/// A workspace: component `km` with a `test` and a shared `buildenv` image, registries of
/// every kind, a `stable` channel and publish rules.
fn workspace(extra_ws: &str) -> Test {
    let mut t = Test::new();
    // Its own engine, so parallel tests never wait on each other's remote-name locks.
    let engine = format!("unix://{}/docker.sock", t.root.display());
    t.env("DOCKER_HOST", &engine);
    t.file(
        "images.yaml",
        &format!(
            r#"workspace:
  registry: local
  registries:
    local: {{kind: oci, host: "registry.example.com:5000", path: team}}
    azure: {{kind: acr, name: kube}}
    google: {{kind: gar, location: us, project: proj, repository: ci}}
    old: {{kind: gcr, project: lattice-dev}}
  channels:
    stable: "stable-"
  publish:
    refuse_tags:
      test: [latest]
    force: [buildenv]
{extra_ws}
defaults:
  namespace: kontain
component: km
images:
  buildenv: {{}}
  test:
    variants:
      debug: {{args: {{DEBUG: "1"}}}}
"#
        ),
    )
    .file("docker/buildenv-linux.dockerfile", "FROM scratch\n")
    .file("docker/test-linux.dockerfile", "FROM scratch\n")
    .file("tags", "")
    .fake_docker();
    t
}

/// The local images: `docker image ls` lists them, and the fake's tag store knows their IDs
/// (`sha256(name)`).
fn built(t: &Test, names: &[&str]) {
    t.file("images", &(names.join("\n") + "\n"));
    let tags: Vec<String> = names
        .iter()
        .map(|n| format!("{n} {}\n", digest_of(n)))
        .collect();
    t.file("tags", &tags.concat());
}

const PUSH_NOTE: &str = "# a remote name is tagged (with the image's ID) only when it does not exist yet, and removed only when this run tagged it; one that exists as another image stops the push\n";
const PULL_NOTE: &str = "# the pulled image's ID gets the local name; the remote name is removed only when this run's pull created it, and put back on its image when it was yours and the pull moved it\n";
const TEST_CI42: &str = "kontain/test-km-linux:CI-42";
const REMOTE_CI42: &str = "registry.example.com:5000/team/test-km-linux:CI-42";

/// Asserts like `Output::is`, with every task's ` in 1.2s` written ` in _s`.
fn check(out: &Output, status: i32, stdout: &str, stderr: &str) {
    let timing = regex::Regex::new(r" in \d+\.\ds").unwrap();
    let untimed = Output {
        status: out.status,
        stdout: out.stdout.clone(),
        stderr: timing.replace_all(&out.stderr, " in _s").into_owned(),
    };
    untimed.is(status, stdout, stderr);
}

fn log(t: &Test) -> Vec<String> {
    // The read of the input-digest label is pinned by `tests/reuse.rs`.
    t.docker_log()
        .into_iter()
        .filter(|l| !l.contains("io.imagemk.inputs"))
        .collect()
}

/// The fake engine's tags now (`name id` lines, sorted; dangling images left out).
fn tags(t: &Test) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_to_string(t.path("tags"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("<none> "))
        .map(String::from)
        .collect();
    v.sort();
    v
}

/// The fake docker's log line for `docker image inspect --format {{.Id}} NAME`.
fn inspect(name: &str) -> String {
    format!("docker image inspect --format \\{{\\{{.Id\\}}\\}} {name}")
}

/// The log lines of a push of `local` to `remote`, which does not exist before: the local
/// image's ID, the check that `remote` is free, the tag, the push, the removal.
fn push_lines(local: &str, remote: &str) -> Vec<String> {
    vec![
        inspect(local),
        inspect(remote),
        inspect(local),
        inspect(remote),
        format!("docker tag {} {remote}", digest_of(local)),
        format!("docker push {remote}"),
        inspect(remote),
        format!("docker image rm --no-prune {remote}"),
    ]
}

#[test]
fn push_tags_pushes_then_removes_the_remote_tag() {
    let t = workspace("");
    built(&t, &[TEST_CI42]);
    let d = digest_of(REMOTE_CI42);
    check(
        &t.run(&["push", "test", "--tag", "CI-42"]),
        0,
        &format!("{REMOTE_CI42}@{d}\n"),
        &format!(
            "km/test | pushing {REMOTE_CI42}\n\
             km/test | The push refers to repository [registry.example.com:5000/team/test-km-linux]\n\
             km/test | 5f70bf18a086: Pushed\n\
             km/test | CI-42: digest: {d} size: 528\n\
             km/test | ✓ pushed {REMOTE_CI42} in _s\n"
        ),
    );
    assert_eq!(
        log(&t)[0],
        "docker image ls --format \\{\\{.Repository\\}\\}:\\{\\{.Tag\\}\\}"
    );
    assert_eq!(log(&t)[1..], push_lines(TEST_CI42, REMOTE_CI42));
    assert_eq!(tags(&t), [format!("{TEST_CI42} {}", digest_of(TEST_CI42))]);
}

#[test]
fn push_json_and_extra_tags_from_config_and_flags() {
    let t = workspace("    # extra tags\n");
    let t = {
        let yaml = std::fs::read_to_string(t.path("images.yaml"))
            .unwrap()
            .replace(
                "    force: [buildenv]\n",
                "    force: [buildenv]\n    also_tag: [\"{tag}-x\"]\n",
            );
        t.file("images.yaml", &yaml);
        t
    };
    built(&t, &[TEST_CI42]);
    let out = t.run(&[
        "push",
        "test",
        "--tag",
        "CI-42",
        "--also-tag",
        "nightly",
        "--json",
    ]);
    let x = REMOTE_CI42.replace(":CI-42", ":CI-42-x");
    let n = REMOTE_CI42.replace(":CI-42", ":nightly");
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!(
            "[\n  {{\n    \"also\": [\n      \"{x}\",\n      \"{n}\"\n    ],\n    \"digest\": \"{}\",\n    \"image\": \"km/test\",\n    \"name\": \"{TEST_CI42}\",\n    \"remote\": \"{REMOTE_CI42}\"\n  }}\n]\n",
            digest_of(REMOTE_CI42)
        )
    );
    let id = digest_of(TEST_CI42);
    let mut expected = vec![inspect(TEST_CI42)];
    expected.extend([REMOTE_CI42, &x, &n].map(inspect));
    expected.push(inspect(TEST_CI42));
    for r in [REMOTE_CI42, &x, &n] {
        expected.extend([inspect(r), format!("docker tag {id} {r}")]);
    }
    for r in [REMOTE_CI42, &x, &n] {
        expected.push(format!("docker push {r}"));
    }
    for r in [REMOTE_CI42, &x, &n] {
        expected.extend([inspect(r), format!("docker image rm --no-prune {r}")]);
    }
    assert_eq!(log(&t)[1..], expected);
}

#[test]
fn dry_run_prints_every_command_and_changes_nothing() {
    let t = workspace("");
    built(&t, &[TEST_CI42]);
    check(
        &t.run(&["push", "test", "--tag", "CI-42", "--dry-run"]),
        0,
        &format!(
            "docker tag {TEST_CI42} {REMOTE_CI42}\ndocker push {REMOTE_CI42}\ndocker image rm --no-prune {REMOTE_CI42}\n{PUSH_NOTE}"
        ),
        "",
    );
    check(
        &t.run(&["pull", "test", "--tag", "CI-42", "--dry-run"]),
        0,
        &format!(
            "docker pull {REMOTE_CI42}\ndocker tag {REMOTE_CI42} {TEST_CI42}\ndocker image rm --no-prune {REMOTE_CI42}\n{PULL_NOTE}# record each pulled digest in $ROOT/.imagemk/pulled.json\n"
        ),
        "",
    );
    check(
        &t.run(&["login", "--dry-run"]),
        0,
        "docker login registry.example.com:5000\n",
        "",
    );
    // Only read-only queries ran: what exists locally, and whether the remote name does.
    assert_eq!(log(&t)[1..], [inspect(TEST_CI42), inspect(REMOTE_CI42)]);
    assert!(log(&t)[0].starts_with("docker image ls"));
}

#[test]
fn remote_names_per_registry_kind_and_channel() {
    let t = workspace("");
    built(&t, &[TEST_CI42, "kontain/test-km-linux-debug:CI-42"]);
    let first = |args: &[&str]| {
        let out = t.run(args);
        assert_eq!(out.status, 0, "{}", out.stderr);
        out.stdout.lines().next().unwrap().to_string()
    };
    let push = ["push", "test", "--tag", "CI-42", "--dry-run"];
    fn with<'a>(push: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [push, extra].concat()
    }
    assert_eq!(
        first(&with(&push, &["--registry", "azure"])),
        "docker tag kontain/test-km-linux:CI-42 kube.azurecr.io/test-km-linux:CI-42"
    );
    assert_eq!(
        first(&with(&push, &["--registry", "google"])),
        "docker tag kontain/test-km-linux:CI-42 us-docker.pkg.dev/proj/ci/test-km-linux:CI-42"
    );
    assert_eq!(
        first(&with(&push, &["--registry", "old", "--channel", "stable"])),
        "docker tag kontain/test-km-linux:CI-42 gcr.io/lattice-dev/stable-test-km-linux:CI-42"
    );
    // The user channel: the login name, and `-debug` for the debug variant.
    assert_eq!(
        first(&with(&push, &["--registry", "old", "--channel", "user", "--variant", "debug"])),
        "docker tag kontain/test-km-linux-debug:CI-42 gcr.io/lattice-dev/tester-debug-test-km-linux-debug:CI-42"
    );
    let mut t3 = workspace("");
    t3.env("CLOUD", "azure");
    let out = t3.run(&["pull", "buildenv", "--dry-run"]);
    assert_eq!(
        out.stdout.lines().next().unwrap(),
        "docker pull kube.azurecr.io/buildenv-km-linux:latest"
    );
    let mut t2 = workspace("");
    t2.env("CHANNEL", "user")
        .env("REGISTRY", "google")
        .env("USER", "Alice");
    let out = t2.run(&["pull", "buildenv", "--dry-run"]);
    assert_eq!(
        out.stdout.lines().next().unwrap(),
        "docker pull us-docker.pkg.dev/proj/ci/alice-buildenv-km-linux:latest"
    );
}

#[test]
fn pull_pulls_tags_untags_and_records_the_digest() {
    let t = workspace("");
    let remote = "registry.example.com:5000/team/buildenv-km-linux:latest";
    let local = "kontain/buildenv-km-linux:latest";
    let out = t.run(&["pull", "buildenv"]);
    check(
        &out,
        0,
        &format!("{local} {}\n", digest_of(remote)),
        &format!(
            "km/buildenv | pulling {remote}\n\
             km/buildenv | latest: Pulling from registry.example.com:5000/team/buildenv-km-linux\n\
             km/buildenv | Digest: {d}\n\
             km/buildenv | Status: Downloaded newer image for {remote}\n\
             km/buildenv | {remote}\n\
             km/buildenv | ✓ pulled {remote} in _s\n",
            d = digest_of(remote)
        ),
    );
    let id = digest_of(&format!("pulled:{remote}"));
    assert_eq!(
        log(&t)[1..],
        [
            inspect(remote),
            format!("docker pull {remote}"),
            inspect(remote),
            format!("docker tag {id} {local}"),
            inspect(remote),
            format!("docker image rm --no-prune {remote}"),
        ]
    );
    assert_eq!(tags(&t), [format!("{local} {id}")]);
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path(".imagemk/pulled.json")).unwrap())
            .unwrap();
    assert_eq!(
        record,
        serde_json::json!({ local: {
            "remote": remote,
            "digest": digest_of(remote),
            "id": id,
        }})
    );
}

#[test]
fn pull_failure_says_how_to_log_in_and_leaves_no_tag() {
    let t = workspace("");
    t.file(
        "pull-fail",
        "Error response from daemon: unauthorized: authentication required\n",
    );
    let remote = "kube.azurecr.io/buildenv-km-linux:latest";
    check(
        &t.run(&["pull", "buildenv", "--registry", "azure"]),
        1,
        "",
        &format!(
            "km/buildenv | pulling {remote}\n\
             km/buildenv | latest: Pulling from kube.azurecr.io/buildenv-km-linux\n\
             km/buildenv | Error response from daemon: unauthorized: authentication required\n\
             km/buildenv | ✗ failed in _s\n\
             error: the pull of `km/buildenv` failed: `docker pull {remote}` exited with status 1\n  \
             | latest: Pulling from kube.azurecr.io/buildenv-km-linux\n  \
             | Error response from daemon: unauthorized: authentication required\n\
             hint: registry `azure` refused the credentials docker has for `kube.azurecr.io`; log in with `imagemk login --registry azure` (`make login REGISTRY=azure`), which runs `az acr login --name kube` (and needs `az login` first)\n"
        ),
    );
    // No hint to remove a tag: the failed pull created none.
    assert_eq!(
        log(&t)[1..],
        [
            inspect(remote),
            format!("docker pull {remote}"),
            inspect(remote)
        ]
    );
    assert!(!t.exists(".imagemk/pulled.json"));
}

#[test]
fn push_failure_still_removes_the_temporary_tag() {
    let t = workspace("");
    built(&t, &[TEST_CI42]);
    t.file(
        "push-fail",
        "Get \"http://registry.example.com:5000/v2/\": dial tcp 10.0.0.1:5000: connect: connection refused\n",
    );
    let out = t.run(&["push", "test", "--tag", "CI-42"]);
    check(
        &out,
        1,
        "",
        &format!(
            "km/test | pushing {REMOTE_CI42}\n\
             km/test | The push refers to repository [registry.example.com:5000/team/test-km-linux]\n\
             km/test | Get \"http://registry.example.com:5000/v2/\": dial tcp 10.0.0.1:5000: connect: connection refused\n\
             km/test | ✗ failed in _s\n\
             error: the push of `km/test` failed: `docker push {REMOTE_CI42}` exited with status 1\n  \
             | The push refers to repository [registry.example.com:5000/team/test-km-linux]\n  \
             | Get \"http://registry.example.com:5000/v2/\": dial tcp 10.0.0.1:5000: connect: connection refused\n\
             hint: registry `local` does not answer at `registry.example.com:5000`; check that it is running and that its host in `images.yaml` is right\n"
        ),
    );
    assert_eq!(log(&t)[1..], push_lines(TEST_CI42, REMOTE_CI42));
    assert_eq!(tags(&t), [format!("{TEST_CI42} {}", digest_of(TEST_CI42))]);
}

/// Runs imagemk with `args`, sends SIGTERM once the fake docker logged a line starting with
/// `when`, and asserts it stopped promptly with status 130.
fn terminate(t: &Test, args: &[&str], when: &str) {
    let mut cmd = t.command(support::BIN, args);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !log(t).iter().any(|l| l.starts_with(when)) {
        assert!(Instant::now() < deadline, "`{when}` never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "imagemk did not stop `{when}`"
    );
    assert_eq!(out.status.code(), Some(130));
    assert!(String::from_utf8_lossy(&out.stderr).ends_with(
        "error: interrupted; everything imagemk had started was stopped and cleaned up\n"
    ));
}

#[test]
fn sigterm_during_a_pull_removes_the_remote_tag_and_records_nothing() {
    let t = workspace("");
    t.file("pull-sleep", "30");
    terminate(&t, &["pull", "buildenv"], "docker pull");
    let remote = "registry.example.com:5000/team/buildenv-km-linux:latest";
    // The pull never finished, so it created no tag, and none is removed.
    assert_eq!(
        log(&t)[1..],
        [
            inspect(remote),
            format!("docker pull {remote}"),
            inspect(remote)
        ]
    );
    assert_eq!(tags(&t), Vec::<String>::new());
    assert!(!t.exists(".imagemk/pulled.json"));
}

#[test]
fn a_local_name_equal_to_the_remote_one_is_pushed_but_never_untagged() {
    let mut t = workspace("");
    t.env("IMAGE_NAMESPACE", "registry.example.com:5000/team");
    let name = "registry.example.com:5000/team/test-km-linux:CI-42";
    built(&t, &[name]);
    t.run(&["push", "test", "--tag", "CI-42", "--also-tag", "v2"])
        .ok();
    let v2 = name.replace(":CI-42", ":v2");
    let id = digest_of(name);
    assert_eq!(
        log(&t)[1..],
        [
            inspect(name),
            inspect(&v2),
            inspect(name),
            inspect(&v2),
            format!("docker tag {id} {v2}"),
            format!("docker push {name}"),
            format!("docker push {v2}"),
            inspect(&v2),
            format!("docker image rm --no-prune {v2}"),
        ]
    );
    assert_eq!(tags(&t), [format!("{name} {id}")]);
}

#[test]
fn sigterm_during_a_push_removes_the_temporary_tag() {
    let t = workspace("");
    built(&t, &[TEST_CI42]);
    t.file("push-sleep", "30");
    terminate(&t, &["push", "test", "--tag", "CI-42"], "docker push");
    assert_eq!(log(&t)[1..], push_lines(TEST_CI42, REMOTE_CI42));
    assert_eq!(tags(&t), [format!("{TEST_CI42} {}", digest_of(TEST_CI42))]);
}

#[test]
fn parallel_pushes_are_bounded() {
    let t = workspace("");
    let names = [
        "kontain/test-km-linux:CI-42",
        "kontain/buildenv-km-linux:CI-42",
    ];
    built(&t, &names);
    // Each push waits until two have started: with -j 2 both run at once.
    t.file("push-barrier", "2");
    let out = t.run(&["push", "--tag", "CI-42", "--force", "-j", "2"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 2);
    // With -j 1 one push ends before the next starts.
    std::fs::remove_file(t.path("push-barrier")).unwrap();
    t.file("push-events", "");
    t.run(&["push", "--tag", "CI-42", "--force", "-j", "1"])
        .ok();
    let events = std::fs::read_to_string(t.path("push-events")).unwrap();
    let kinds: Vec<&str> = events
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(kinds, ["start", "end", "start", "end"], "{events}");
}

#[test]
fn refusals_before_anything_runs() {
    let t = workspace("");
    built(
        &t,
        &[
            "kontain/test-km-linux:latest",
            "kontain/buildenv-km-linux:latest",
        ],
    );
    let cases: &[(&[&str], &str)] = &[
        (
            &["push", "test"],
            "error: image `km/test` may not be pushed with tag `latest`: images of kind `test` refuse tags `latest` (`workspace.publish.refuse_tags` in `$ROOT/images.yaml`); push it with another `IMAGE_TAG`\n",
        ),
        (
            &["push", "test", "--tag", "CI-1", "--also-tag", "latest"],
            "error: image `km/test` may not be pushed with tag `latest`: images of kind `test` refuse tags `latest` (`workspace.publish.refuse_tags` in `$ROOT/images.yaml`); push it with another `IMAGE_TAG`\n",
        ),
        (
            &["push", "buildenv"],
            "error: image `km/buildenv` is shared (`buildenv` is listed in `workspace.publish.force` in `$ROOT/images.yaml`); pushing it to `registry.example.com:5000/team/buildenv-km-linux:latest` needs `--force` (`FORCE=1` with make)\n",
        ),
        (
            &["push", "test", "--registry", "azrue"],
            "error: unknown registry `azrue`; did you mean `azure`? (registries: azure, google, local, old)\n",
        ),
        (
            &["pull", "test", "--channel", "stabel"],
            "error: unknown channel `stabel`; did you mean `stable`? (channels: stable, user); define it under `workspace.channels`\n",
        ),
        (
            &["push", "test", "--tag", "CI-1", "--also-tag", "{revision}"],
            "error: extra tag `{revision}` needs the source revision, but `{revision}` is unknown here (not a git checkout with a commit); drop that tag or push from a git checkout\n",
        ),
        (
            &["push", "test", "--tag", "CI-1", "--also-tag=-bad"],
            "error: extra tag: tag `-bad` is not a valid docker tag: use letters, digits, `_`, `.` and `-`, not starting with `.` or `-`\n",
        ),
    ];
    for (args, stderr) in cases {
        t.run(args).fails_with(stderr);
    }
    assert_eq!(log(&t), Vec::<String>::new());
}

#[test]
fn an_image_never_built_names_the_make_target() {
    let mut t = workspace("");
    t.file(
        "payloads/node/images.yaml",
        "component: node\nimages:\n  test: {}\n",
    )
    .file(
        "payloads/node/docker/test-linux.dockerfile",
        "FROM scratch\n",
    );
    let yaml = std::fs::read_to_string(t.path("images.yaml"))
        .unwrap()
        .replace("workspace:\n", "workspace:\n  members: [\"payloads/*\"]\n");
    t.file("images.yaml", &yaml);
    built(&t, &[]);
    t.run(&["push", "test", "--tag", "CI-42"]).fails_with(
        "error: image `km/test` was never built: there is no local `kontain/test-km-linux:CI-42`; build it with `make test-image IMAGE_TAG=CI-42`\n",
    );
    t.cd("payloads/node");
    t.run(&["push", "km/test", "node/test", "--tag", "CI-42", "--variant", "debug"]).fails_with(
        "error: image `km/test` was never built: there is no local `kontain/test-km-linux-debug:CI-42`; build it with `make -C ../.. test-image IMAGE_TAG=CI-42 VARIANT=debug` (1 more images are missing too)\n",
    );
    assert!(log(&t).iter().all(|l| l.starts_with("docker image ls")));
}

#[test]
fn bad_registry_hosts_are_refused() {
    let t = workspace("");
    let yaml = std::fs::read_to_string(t.path("images.yaml"))
        .unwrap()
        .replace("registry.example.com:5000", "myregistry");
    t.file("images.yaml", &yaml);
    t.run(&["push", "test", "--tag", "CI-1", "--dry-run"]).fails_with(
        "error: `$ROOT/images.yaml:4`: registry `local`: `myregistry` would be read by docker as a Docker Hub namespace, not a registry host; write it with a port or a domain (e.g. `localhost:5000`, `myregistry.example.com`)\n",
    );
}

#[test]
fn login_per_registry_kind() {
    let t = workspace("");
    t.fake_gcloud().fake_az();
    t.run(&["login", "--registry", "azure"]).is(0, "", "");
    t.run(&["login", "--registry", "google"]).is(0, "", "");
    t.run(&["login", "--registry", "old"]).is(0, "", "");
    t.run(&["login"]).is(0, "", "");
    assert_eq!(t.log("az"), ["az acr login --name kube"]);
    assert_eq!(
        t.log("gcloud"),
        [
            "gcloud auth configure-docker us-docker.pkg.dev --quiet",
            "gcloud auth configure-docker gcr.io --quiet"
        ]
    );
    assert_eq!(log(&t), ["docker login registry.example.com:5000"]);
    t.file("az-status", "1").file(
        "az-stderr",
        "ERROR: Please run 'az login' to setup account.\n",
    );
    t.run(&["login", "--registry", "azure"]).fails_with(
        "ERROR: Please run 'az login' to setup account.\nerror: logging in to registry `azure` failed: `az acr login --name kube` exited with status 1\n",
    );
}

#[test]
fn login_without_the_cloud_cli_says_what_to_install() {
    let mut t = workspace("");
    t.without("az");
    t.run(&["login", "--registry", "azure"]).fails_with(
        "error: `az` is not installed or not on PATH; install the Azure CLI (`pip install azure-cli`), or choose another registry with `REGISTRY=…`\n",
    );
}

#[test]
fn make_targets_pass_tag_registry_channel_and_force() {
    let t = workspace("");
    built(&t, &["kontain/buildenv-km-linux:v1", TEST_CI42]);
    t.file(
        "Makefile",
        &format!("include {}/make/images.mk\n", env!("CARGO_MANIFEST_DIR")),
    );
    let out = t.make(&[
        "-s",
        "push-test-image",
        "IMAGE_TAG=CI-42",
        "REGISTRY=azure",
        "DRY_RUN=1",
    ]);
    out.is(
        0,
        &format!("docker tag kontain/test-km-linux:CI-42 kube.azurecr.io/test-km-linux:CI-42\ndocker push kube.azurecr.io/test-km-linux:CI-42\ndocker image rm --no-prune kube.azurecr.io/test-km-linux:CI-42\n{PUSH_NOTE}"),
        "",
    );
    let out = t.make(&[
        "-s",
        "push-images",
        "IMAGE_TAG=v1",
        "CHANNEL=stable",
        "DRY_RUN=1",
    ]);
    assert_eq!(out.status, 2);
    assert!(
        out.stderr.contains("error: image `km/buildenv` is shared"),
        "{}",
        out.stderr
    );
    let out = t.make(&[
        "-s",
        "push-buildenv-image",
        "IMAGE_TAG=v1",
        "CHANNEL=stable",
        "FORCE=1",
        "DRY_RUN=1",
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout.lines().nth(1),
        Some("docker push registry.example.com:5000/team/stable-buildenv-km-linux:v1")
    );
    let out = t.make(&["-s", "pull-buildenv-image", "REGISTRY=google", "DRY_RUN=1"]);
    assert_eq!(
        out.stdout.lines().next(),
        Some("docker pull us-docker.pkg.dev/proj/ci/buildenv-km-linux:latest")
    );
    let out = t.make(&["-s", "pull-images", "IMAGE_TAG=v1", "DRY_RUN=1"]);
    assert_eq!(
        out.stdout
            .lines()
            .filter(|l| l.starts_with("docker pull"))
            .count(),
        2
    );
    t.make(&["-s", "login", "REGISTRY=old", "DRY_RUN=1"]).is(
        0,
        "gcloud auth configure-docker gcr.io --quiet\n",
        "",
    );
}

#[test]
fn engine_down_dry_run_notes_it_and_a_real_push_explains_it() {
    let t = workspace("");
    t.file("engine-down", "");
    let out = t.run(&["push", "test", "--tag", "CI-42", "--dry-run"]);
    check(
        &out,
        0,
        &format!(
            "docker tag {TEST_CI42} {REMOTE_CI42}\ndocker push {REMOTE_CI42}\ndocker image rm --no-prune {REMOTE_CI42}\n{PUSH_NOTE}"
        ),
        "note: cannot ask the engine which images exist (the docker engine is not reachable; start it (e.g. `sudo systemctl start docker`) or point `DOCKER_HOST` at a running one); assuming every image was built\n",
    );
    let out = t.run(&["push", "test", "--tag", "CI-42"]);
    out.fails_with("error: the docker engine is not reachable; start it (e.g. `sudo systemctl start docker`) or point `DOCKER_HOST` at a running one\n  caused by: `docker image ls --format '{{.Repository}}:{{.Tag}}'` failed with exit status 1\n  | Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n");
    // Nothing but the two queries ran.
    assert_eq!(log(&t).len(), 2);
}

#[test]
fn no_registry_configured_or_chosen() {
    let t = Test::new();
    t.file("images.yaml", "component: km\nimages:\n  test: {}\n")
        .file("docker/test-linux.dockerfile", "FROM scratch\n")
        .fake_docker();
    t.run(&["push", "--dry-run"]).fails_with(
        "error: no registry is configured; add one under `workspace.registries` in the root images.yaml\n",
    );
    t.file(
        "images.yaml",
        "workspace:\n  registries:\n    a: {kind: oci, host: \"a.example\"}\n    b: {kind: oci, host: \"b.example\"}\ncomponent: km\nimages:\n  test: {}\n",
    );
    t.run(&["pull", "--dry-run"]).fails_with(
        "error: no registry chosen; pass `--registry NAME` or `REGISTRY=NAME` (registries: a, b), or set `workspace.registry`\n",
    );
}

#[test]
fn publish_keys_are_checked() {
    let t = workspace("");
    let yaml = std::fs::read_to_string(t.path("images.yaml"))
        .unwrap()
        .replace("    refuse_tags:\n", "    refuse_tag:\n");
    t.file("images.yaml", &yaml);
    t.run(&["push", "--dry-run"]).fails_with(
        "error: `$ROOT/images.yaml:11:5`: unknown key `refuse_tag` in `workspace.publish`; did you mean `refuse_tags`? (valid keys: refuse_tags, force, also_tag)\n",
    );
}

#[test]
fn a_remote_named_tag_the_user_had_on_the_same_image_is_pushed_and_kept() {
    let t = workspace("");
    built(&t, &[TEST_CI42]);
    let id = digest_of(TEST_CI42);
    t.file("tags", &format!("{TEST_CI42} {id}\n{REMOTE_CI42} {id}\n"));
    t.run(&["push", "test", "--tag", "CI-42"]).ok();
    assert_eq!(
        log(&t)[1..],
        [
            inspect(TEST_CI42),
            inspect(REMOTE_CI42),
            inspect(TEST_CI42),
            inspect(REMOTE_CI42),
            format!("docker push {REMOTE_CI42}"),
        ]
    );
    assert_eq!(
        tags(&t),
        [format!("{TEST_CI42} {id}"), format!("{REMOTE_CI42} {id}")]
    );
}

#[test]
fn a_remote_named_tag_on_another_image_is_never_pushed_nor_moved() {
    let t = workspace("");
    built(&t, &[TEST_CI42]);
    let (id, other) = (digest_of(TEST_CI42), digest_of("other"));
    let store = format!("{TEST_CI42} {id}\n{REMOTE_CI42} {other}\n");
    t.file("tags", &store);
    let refused = format!(
        "error: image `km/test` cannot be pushed: `{REMOTE_CI42}` already exists in the engine and is another image (`{}`) than `{TEST_CI42}`; pushing it would publish that image, and imagemk never moves a tag it did not create\n\
         hint: if `{REMOTE_CI42}` is an old tag of yours, remove it with `docker image rm --no-prune {REMOTE_CI42}` and push again; if another imagemk run is pushing a different build under that name, wait for it\n",
        &other[7..19]
    );
    t.run(&["push", "test", "--tag", "CI-42", "--dry-run"])
        .fails_with(&refused);
    t.run(&["push", "test", "--tag", "CI-42"])
        .fails_with(&refused);
    assert!(log(&t)
        .iter()
        .all(|l| l.starts_with("docker image ls") || l.starts_with("docker image inspect")));
    assert_eq!(
        tags(&t),
        [
            format!("{TEST_CI42} {id}"),
            format!("{REMOTE_CI42} {other}")
        ]
    );
}

#[test]
fn pull_keeps_a_remote_named_tag_the_user_had_and_puts_it_back_if_moved() {
    let t = workspace("");
    let remote = "registry.example.com:5000/team/buildenv-km-linux:latest";
    let local = "kontain/buildenv-km-linux:latest";
    let pulled = digest_of(&format!("pulled:{remote}"));
    // `docker pull REMOTE` by hand earlier: the same image as the registry has now. The
    // local name named an older build: pulling replaces it, as asked.
    let older = digest_of("older build");
    t.file("tags", &format!("{remote} {pulled}\n{local} {older}\n"));
    t.run(&["pull", "buildenv"]).ok();
    assert_eq!(
        tags(&t),
        [format!("{local} {pulled}"), format!("{remote} {pulled}")]
    );
    assert!(!log(&t).iter().any(|l| l.contains("image rm")));
    // An older pull by hand: the pull moves the tag, imagemk puts it back.
    let old = digest_of("old");
    t.file("tags", &format!("{remote} {old}\n"));
    t.run(&["pull", "buildenv"]).ok();
    assert_eq!(
        tags(&t),
        [format!("{local} {pulled}"), format!("{remote} {old}")]
    );
    assert!(log(&t).contains(&format!("docker tag {old} {remote}")));
}

#[test]
fn pull_with_the_engine_down_says_so_and_runs_nothing_else() {
    let t = workspace("");
    t.file("engine-down", "");
    t.run(&["pull", "buildenv"]).fails_with("error: the docker engine is not reachable; start it (e.g. `sudo systemctl start docker`) or point `DOCKER_HOST` at a running one\n  caused by: `docker image ls --format '{{.Repository}}:{{.Tag}}'` failed with exit status 1\n  | Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n");
    assert_eq!(log(&t).len(), 1);
}

#[test]
fn a_push_whose_tag_vanished_makes_it_again_and_retries() {
    // Another machine's imagemk removed the tag between `docker tag` and `docker push`: the
    // fake's first push finds no tag (it removes it itself, once).
    let t = workspace("");
    built(&t, &[TEST_CI42]);
    t.fake(
        "docker",
        "#!/usr/bin/env bash\nroot=\"$(cd \"$(dirname \"$0\")/..\" && pwd)\"\nif [ \"$1\" = push ] && [ ! -e \"$root/vanished\" ]; then\n  touch \"$root/vanished\"\n  grep -v \"^$2 \" \"$root/tags\" > \"$root/tags.new\"; mv \"$root/tags.new\" \"$root/tags\"\nfi\nexec bash \"$root/.bin/real-fake\" \"$@\"\n",
    );
    std::fs::write(
        t.path(".bin/real-fake"),
        include_str!("support/fake-docker"),
    )
    .unwrap();
    t.run(&["push", "test", "--tag", "CI-42"]).ok();
    let id = digest_of(TEST_CI42);
    let pushes = log(&t)
        .iter()
        .filter(|l| l.starts_with("docker push") || l.starts_with("docker tag"))
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(
        pushes,
        [
            format!("docker tag {id} {REMOTE_CI42}"),
            format!("docker push {REMOTE_CI42}"),
            format!("docker tag {id} {REMOTE_CI42}"),
            format!("docker push {REMOTE_CI42}"),
        ]
    );
    assert_eq!(tags(&t), [format!("{TEST_CI42} {id}")]);
}
