//! podman for real (`--engine podman`): build FROM-scratch images with a static busybox, push
//! them to a real registry on 127.0.0.1 (`--tls-verify=false`) and pull them back, run and
//! withdocker. Skipped, saying so, when podman is not installed or cannot reach its storage.
//! `podman run` here needs `default_ulimits = []` in containers.conf (podman otherwise raises
//! RLIMIT_NOFILE and RLIMIT_NPROC, which this machine's runc may not do): the tests point
//! `CONTAINERS_CONF` at their own file, never at /etc.

mod support;

use std::process::Command;

use support::{Registry, Test, BUSYBOX_BASE};

/// Whether podman is installed and answers; otherwise the test says it skips.
fn podman() -> bool {
    let ok = Command::new("podman")
        .args(["info", "--format", "{{.Host.Security.Rootless}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    let busybox = std::path::Path::new(support::BUSYBOX).is_file();
    if ok && busybox {
        return true;
    }
    let why = if ok {
        "busybox-static is not installed"
    } else {
        "podman is not installed or does not answer (`apt-get install podman`)"
    };
    // As for docker (support::engine): on CI these tests must run, elsewhere they skip.
    if std::env::var_os("CI").is_some() {
        panic!("{why}: the podman end-to-end tests must run on CI (run `bash .ci/run`)");
    }
    support::skipped(why);
    false
}

fn podman_out(args: &[&str]) -> (i32, String) {
    let out = Command::new("podman").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

/// Removes every podman image whose name contains `ns` (this test's namespace only).
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let (_, list) = podman_out(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
        let names: Vec<&str> = list.lines().filter(|l| l.contains(&self.0)).collect();
        if !names.is_empty() {
            let mut args = vec!["image", "rm", "-f"];
            args.extend(names);
            podman_out(&args);
        }
    }
}

/// A workspace with `engine: podman`, registry `local` on `host`, a base image and an app
/// image FROM it (both FROM scratch at the bottom), and a `run:` command.
fn workspace(host: &str) -> (Test, Cleanup) {
    let mut t = Test::new();
    let ns = t.namespace();
    t.file(
        "images.yaml",
        &format!(
            "workspace:\n  engine: podman\n  registries:\n    local: {{kind: oci, host: \"{host}\", path: e2e}}\ndefaults:\n  namespace: {ns}\ncomponent: app\nimages:\n  base:\n    context: docker\n  app:\n    context: docker\n    depends: [base]\n    run:\n      command: [sh, -c, \"cat /id; id -u\"]\n"
        ),
    )
    .file(
        "docker/base-linux.dockerfile",
        &format!("{BUSYBOX_BASE}RUN echo {ns} > /id\n"),
    )
    .file(
        "docker/app-linux.dockerfile",
        "ARG NAMESPACE\nARG IMAGE_TAG\nFROM ${NAMESPACE}/base-app-linux:${IMAGE_TAG}\nRUN echo app >> /id\n",
    )
    .busybox("docker");
    let conf = t.path("containers.conf");
    std::fs::write(&conf, "[containers]\ndefault_ulimits = []\n").unwrap();
    t.env("CONTAINERS_CONF", &conf.display().to_string());
    (t, Cleanup(ns))
}

fn image_id(name: &str) -> String {
    podman_out(&["image", "inspect", "--format", "{{.Id}}", name]).1
}

#[test]
fn podman_builds_pushes_pulls_runs_and_extracts_the_images() {
    if !podman() {
        return;
    }
    let reg = Registry::start();
    let (t, _cleanup) = workspace(&reg.host());
    let ns = t.namespace();
    let out = t.run(&["build", "app", "--tag", "p1"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stderr.contains("summary: 2 built"), "{}", out.stderr);
    let app = format!("{ns}/app-app-linux:p1");
    let built = image_id(&app);
    assert!(!built.is_empty(), "podman has no `{app}`");
    // A second build is a no-op: podman's listing (`localhost/…`) is matched to imagemk's names.
    let again = t.run(&["build", "app", "--tag", "p1"]);
    assert_eq!(again.status, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("summary: 0 built; 2 up to date"),
        "{}",
        again.stderr
    );

    // Push (`--tls-verify=false` for 127.0.0.1): the remote-named tags were the run's own and
    // are gone; the digest came from `--digestfile`.
    let push = t.run(&["push", "app", "--tag", "p1", "--registry", "local"]);
    assert_eq!(push.status, 0, "{}", push.stderr);
    let remote = format!("{}/e2e/app-app-linux:p1", reg.host());
    assert!(
        push.stderr.contains(&format!("pushed {remote}")),
        "{}",
        push.stderr
    );
    assert_eq!(
        podman_out(&["image", "exists", &remote]).0,
        1,
        "{remote} left behind"
    );
    let pushed = push
        .stdout
        .lines()
        .find(|l| l.starts_with(&remote))
        .unwrap_or_default()
        .to_string();

    // Pull it back under the local name: the same image, the same digest.
    assert_eq!(podman_out(&["image", "rm", &app]).0, 0);
    let pull = t.run(&["pull", "app", "--tag", "p1", "--registry", "local"]);
    assert_eq!(pull.status, 0, "{}", pull.stderr);
    assert_eq!(image_id(&app), built, "the pulled image is the pushed one");
    assert_eq!(
        podman_out(&["image", "exists", &remote]).0,
        1,
        "{remote} left behind"
    );
    let digest = pushed.split('@').nth(1).unwrap_or("?");
    assert!(
        pull.stdout.contains(digest),
        "push said {pushed:?}, pull said {:?}",
        pull.stdout
    );

    // build --reuse: both images pushed (with their input-digest tags), removed locally, then
    // pulled back by their inputs instead of built.
    let push = t.run(&["push", "base", "--tag", "p1", "--registry", "local"]);
    assert_eq!(push.status, 0, "{}", push.stderr);
    let base = format!("{ns}/base-app-linux:p1");
    let base_id = image_id(&base);
    assert_eq!(podman_out(&["image", "rm", &app, &base]).0, 0);
    let reuse = t.run(&[
        "build",
        "app",
        "--tag",
        "p1",
        "--reuse",
        "--registry",
        "local",
    ]);
    assert_eq!(reuse.status, 0, "{}", reuse.stderr);
    assert!(
        reuse.stderr.contains("summary: 0 built"),
        "{}",
        reuse.stderr
    );
    assert_eq!((image_id(&app), image_id(&base)), (built.clone(), base_id));

    let run = t.run(&["run", "app", "--tag", "p1"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout, format!("{ns}\napp\n0\n"));

    let wd = t.run(&[
        "withdocker",
        "--image",
        "app",
        "--tag",
        "p1",
        "--",
        "sh",
        "-c",
        "pwd; touch made",
    ]);
    assert_eq!(wd.status, 0, "{}", wd.stderr);
    assert_eq!(wd.stdout, "$ROOT\n");
    assert!(t.exists("made"));

    let ex = t.run(&["extract", "app", "--tag", "p1", "/id", "id-out"]);
    assert_eq!(ex.status, 0, "{}", ex.stderr);
    assert_eq!(
        std::fs::read_to_string(t.path("id-out")).unwrap(),
        format!("{ns}\napp\n")
    );
}
