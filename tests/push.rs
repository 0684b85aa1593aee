//! push and pull wiring against the fake `docker`: docker's documented push output read for the
//! digest, a real SIGTERM during a push, `-j` bounding parallel pushes, and the make targets.
//! The order of commands, remote names, guards, faults, Ctrl-C between steps and login are
//! tested in-process in `src/commands/{push,pull,login}_tests.rs`.

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
