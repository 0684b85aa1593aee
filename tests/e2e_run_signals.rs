//! `run` and `withdocker` on the real engine: SIGINT and SIGTERM at each phase (while the
//! engine is asked about the image, once the `docker run` client started, while the container
//! runs) end with status 130 and leave no container; and `withdocker` over a workspace whose
//! path holds `:`, `,` and `"` (bind-mounted with `--mount`, never `-v`).

mod support;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::{docker, Test, BIN, BUSYBOX_BASE};

struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let (_, ids) = docker(&["ps", "-aq", "--filter", &format!("name={}", self.0)]);
        for id in ids.lines() {
            docker(&["rm", "-f", id]);
        }
        support::remove_images(&format!("{}/", self.0));
    }
}

/// A busybox image in a workspace at `t.root/dir`.
fn built(dir: &str) -> Option<(Test, Cleanup)> {
    if !support::engine() {
        return None;
    }
    let mut t = Test::new();
    let ns = t.namespace();
    t.file(
        &format!("{dir}/images.yaml"),
        &format!("defaults: {{namespace: {ns}, platform: busybox}}\ncomponent: km\nimages:\n  buildenv:\n    dockerfile: docker/buildenv.dockerfile\n    context: docker\n    run:\n      env: [KM_TOKEN]\n"),
    )
    .file(
        &format!("{dir}/docker/buildenv.dockerfile"),
        &format!("{BUSYBOX_BASE}RUN mkdir -p /tmp && chmod 1777 /tmp\n"),
    )
    .busybox(&format!("{dir}/docker"));
    t.cd(dir);
    let guard = Cleanup(ns);
    t.run(&["build"]).ok();
    Some((t, guard))
}

fn containers_named(name: &str) -> String {
    docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("name=^{name}$"),
        "--format",
        "{{.Names}}",
    ])
    .1
}

/// Whether a child process of `pid` has `word` among its arguments.
fn child_runs(pid: u32, word: &str) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|task| {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        children.split_whitespace().any(|child| {
            std::fs::read(format!("/proc/{child}/cmdline"))
                .unwrap_or_default()
                .split(|b| *b == 0)
                .any(|a| a == word.as_bytes())
        })
    })
}

/// Whether `phase` (or, with `or_later`, a later one) has been reached by imagemk `pid`.
fn reached(pid: u32, name: &str, phase: &str, or_later: bool) -> bool {
    let running = || !containers_named(name).is_empty();
    match phase {
        "asking the engine" if or_later => child_runs(pid, "run") || running(),
        "asking the engine" => child_runs(pid, "info"),
        "docker run started" if or_later => running(),
        "docker run started" => child_runs(pid, "run"),
        _ => running(),
    }
}

/// Starts imagemk with `args` until `phase` is caught (a run that passes it unseen is stopped
/// and checked too), signals it, and checks 130 and no container.
fn interrupt(t: &Test, args: &[&str], name: &str, sig: i32, phase: &str) {
    for _attempt in 0..20 {
        let since = docker(&["info", "--format", "{{.SystemTime}}"]).1;
        let mut child: Child = t
            .command(BIN, args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(60);
        let caught = loop {
            if reached(pid, name, phase, false) {
                break true;
            }
            if reached(pid, name, phase, true) {
                break false;
            }
            assert!(
                child.try_wait().unwrap().is_none(),
                "{phase}: imagemk ended first"
            );
            assert!(Instant::now() < deadline, "{phase}: never reached");
        };
        // SAFETY: kill(2) on the child we spawned.
        unsafe { libc::kill(pid as libc::pid_t, sig) };
        check_stopped(child, name, sig, phase);
        if !caught {
            continue;
        }
        if phase == "asking the engine" {
            // No container was even created: nothing starts after a signal.
            let until = docker(&["info", "--format", "{{.SystemTime}}"]).1;
            let filter = format!("container={name}");
            let events = docker(&[
                "events", "--since", &since, "--until", &until, "--filter", &filter,
            ]);
            assert_eq!(events.1, "", "{phase} {sig}: a container was created");
        }
        return;
    }
    panic!("{phase}: never caught in 20 attempts");
}

fn check_stopped(child: Child, name: &str, sig: i32, phase: &str) {
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{phase}: too slow to stop"
    );
    assert_eq!(out.status.code(), Some(130), "{phase} {sig}: {out:?}");
    // imagemk's own last word; before it only what `docker run` itself printed when it was
    // stopped while starting the container (it shares the terminal's stderr), e.g. `docker:
    // Error response from daemon: container is marked for removal and cannot be started`.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (docker_said, imagemk_said) = stderr
        .rsplit_once("error: interrupted")
        .unwrap_or_else(|| panic!("{phase}: {stderr}"));
    assert_eq!(
        imagemk_said, "; everything imagemk had started was stopped and cleaned up\n",
        "{phase}"
    );
    assert!(
        docker_said.lines().all(|l| l.is_empty()
            || l.starts_with("docker: ")
            || l.starts_with("Run 'docker run --help'")),
        "{phase}: {stderr}"
    );
    assert_eq!(
        containers_named(name),
        "",
        "{phase} {sig}: a container is left"
    );
}

#[test]
fn a_signal_at_each_phase_of_run_and_withdocker_leaves_no_container() {
    let Some((t, _guard)) = built("ws") else {
        return;
    };
    let name = format!("{}-sig", t.namespace());
    for sig in [libc::SIGINT, libc::SIGTERM] {
        for phase in [
            "asking the engine",
            "docker run started",
            "container running",
        ] {
            for cmd in ["run", "withdocker"] {
                let args = [cmd, "--name", &name, "--", "sleep", "60"];
                let args: Vec<&str> = match cmd {
                    "run" => [&["run", "buildenv"][..], &args[1..]].concat(),
                    _ => args.to_vec(),
                };
                interrupt(&t, &args, &name, sig, phase);
            }
        }
    }
}

#[test]
fn withdocker_mounts_a_workspace_whose_path_holds_colons_commas_and_quotes() {
    let dir = "w:1,x\"y é";
    let Some((mut t, _guard)) = built(dir) else {
        return;
    };
    let ws = t.root.join(dir);
    t.cd(&format!("{dir}/docker"))
        .env("KM_TOKEN", "hunter2")
        .env("MAKEFLAGS", "-k");
    let out = t.run(&[
        "withdocker",
        "--",
        "sh",
        "-c",
        "pwd; echo $KM_TOKEN; echo made > made",
    ]);
    out.is(0, &format!("$ROOT/{dir}/docker\nhunter2\n"), "");
    assert_eq!(
        std::fs::read_to_string(ws.join("docker/made")).unwrap(),
        "made\n"
    );
    let dry = t.run(&["--dry-run", "withdocker", "--", "true"]);
    dry.ok();
    assert!(dry.stdout.contains(" --mount "), "{}", dry.stdout);
    assert!(!dry.stdout.contains("hunter2") && !dry.stdout.contains("--volume"));
    assert!(Path::new(&ws).is_dir());
}
