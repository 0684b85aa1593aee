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
    if !ok {
        eprintln!("skipped: podman is not installed or does not answer (`apt-get install podman`)");
    }
    ok
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
        "ARG BASE\nFROM ${BASE}\nRUN echo app >> /id\n",
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
fn podman_builds_pushes_pulls_and_runs_the_example_images() {
    if !podman() {
        return;
    }
    let reg = Registry::start();
    let (t, _cleanup) = workspace(&reg.host());
    let ns = t.namespace();
    let out = t.run(&["build", "app", "--tag", "p1"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let app = format!("{ns}/app:p1");
    let built = image_id(&app);
    assert!(!built.is_empty(), "podman has no `{app}`");
    // A second build is a no-op: podman's listing (`localhost/…`) is matched to imagemk's names.
    let again = t.run(&["build", "app", "--tag", "p1", "--json"]);
    assert_eq!(again.status, 0, "{}", again.stderr);
    assert!(!again.stdout.contains("\"built\""), "{}", again.stdout);
    assert_eq!(image_id(&app), built);

    let push = t.run(&["push", "app", "--tag", "p1", "--registry", "local"]);
    assert_eq!(push.status, 0, "{}", push.stderr);
    let remote = format!("{}/e2e/{ns}/app:p1", reg.host());
    // The pushed tag was the run's own: it is gone locally, the image stays.
    assert_eq!(podman_out(&["image", "exists", &remote]).0, 1);

    assert_eq!(podman_out(&["image", "rm", &app]).0, 0);
    let pull = t.run(&["pull", "app", "--tag", "p1", "--registry", "local"]);
    assert_eq!(pull.status, 0, "{}", pull.stderr);
    assert_eq!(image_id(&app), built, "the pulled image is the pushed one");

    let run = t.run(&["run", "app", "--tag", "p1"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout, format!("{ns}\napp\n0\n"));
}
