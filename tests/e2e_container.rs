//! `run`, `withdocker` and `extract` on the real engine, with a busybox FROM-scratch image
//! built per test under a namespace of its own: the uid, directory and MAKEFLAGS inside, file
//! ownership, exit statuses, SIGTERM mid-run, extraction, and ulimits.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::{Duration, Instant};

use support::{docker, Test, BIN, BUSYBOX_BASE};

/// Removes the test's images and containers when dropped.
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

fn built() -> Option<(Test, Cleanup)> {
    if !support::engine() {
        return None;
    }
    let t = Test::new();
    let ns = t.namespace();
    t.file(
        "images.yaml",
        &format!(
            "defaults: {{namespace: {ns}, platform: busybox}}\ncomponent: km\nimages:\n  buildenv:\n    dockerfile: docker/buildenv.dockerfile\n    context: docker\n    run:\n      ulimits: [\"nofile=512:1024\"]\n    artifacts:\n      - {{from: /opt/blank/tool, to: blank/tool}}\n"
        ),
    )
    .file(
        "docker/buildenv.dockerfile",
        &format!("{BUSYBOX_BASE}RUN mkdir -p /opt/blank /tmp && chmod 1777 /tmp && echo tool-v1 > /opt/blank/tool && chown -R 1234:1234 /opt/blank\n"),
    )
    .file("sub/.keep", "")
    .busybox("docker");
    let guard = Cleanup(ns);
    t.run(&["build"]).ok();
    Some((t, guard))
}

fn my_uid() -> u32 {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() }
}

/// Lets another user reach the workspace, for the runs under `setpriv`.
fn open_up(t: &Test) {
    for dir in ["", "sub"] {
        std::fs::set_permissions(t.path(dir), std::fs::Permissions::from_mode(0o777)).unwrap();
    }
}

/// `setpriv` arguments to run as uid 4321 with the docker socket's group, when possible.
fn as_other_user() -> Option<Vec<String>> {
    if my_uid() != 0 || support::which("setpriv").is_err() {
        support::skipped("(part) needs root and `setpriv` to run as another user");
        return None;
    }
    let sock = std::fs::metadata("/var/run/docker.sock").ok()?;
    Some(
        [
            "--reuid",
            "4321",
            "--regid",
            "4321",
            "--groups",
            &sock.gid().to_string(),
            BIN,
        ]
        .map(String::from)
        .to_vec(),
    )
}

#[test]
fn withdocker_runs_in_your_directory_as_you_with_makeflags() {
    let Some((mut t, _guard)) = built() else {
        return;
    };
    t.cd("sub").env("MAKEFLAGS", "-j2 -k");
    let script = "id -u; pwd; echo $MAKEFLAGS; echo made > made-inside";
    t.run(&["withdocker", "--", "sh", "-c", script]).is(
        0,
        &format!("{}\n$ROOT/sub\n-j2 -k\n", my_uid()),
        "",
    );
    let owner = std::fs::metadata(t.path("sub/made-inside")).unwrap().uid();
    assert_eq!(owner, my_uid());

    if let Some(mut args) = as_other_user() {
        open_up(&t);
        std::fs::remove_file(t.path("sub/made-inside")).unwrap();
        args.extend(["withdocker", "--", "sh", "-c", script].map(String::from));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = t.command("setpriv", &args);
        cmd.env("HOME", &t.root);
        t.output(cmd).is(0, "4321\n$ROOT/sub\n-j2 -k\n", "");
        let owner = std::fs::metadata(t.path("sub/made-inside")).unwrap().uid();
        assert_eq!(owner, 4321);
    }
}

#[test]
fn exit_statuses_pass_through() {
    let Some((t, _guard)) = built() else { return };
    t.run(&["withdocker", "--", "sh", "-c", "exit 3"])
        .is(3, "", "");
    let out = t.run(&["withdocker", "--", "imagemk-nosuch"]);
    assert_eq!(out.status, 127, "{out:?}");
    assert!(out.stderr.contains("executable file not found"), "{out:?}");
    let name = format!("{}/buildenv-km-busybox:latest", t.namespace());
    assert!(
        out.stderr.ends_with(&format!("error: the command was not found in `{name}` (exit status 127); check its name and the image's PATH\n")),
        "{out:?}"
    );
}

fn containers_named(name: &str) -> String {
    docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Names}}",
    ])
    .1
}

#[test]
fn sigterm_mid_run_leaves_no_container() {
    let Some((t, _guard)) = built() else { return };
    let name = format!("{}-sig", t.namespace());
    let child = t
        .command(BIN, &["withdocker", "--name", &name, "--", "sleep", "60"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while containers_named(&name).is_empty() {
        assert!(Instant::now() < deadline, "the container never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: kill(2) on the child we spawned.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "imagemk took too long to stop"
    );
    assert_eq!(out.status.code(), Some(130));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: interrupted; everything imagemk had started was stopped and cleaned up\n"
    );
    assert_eq!(containers_named(&name), "");
}

#[test]
fn extract_copies_files_out_as_yours_and_leaves_no_container() {
    let Some((mut t, _guard)) = built() else {
        return;
    };
    let name = format!("{}-x", t.namespace());
    t.run(&["extract", "buildenv", "--name", &name]).is(
        0,
        "",
        "extracted km/buildenv:/opt/blank/tool -> $ROOT/blank/tool\n",
    );
    assert_eq!(
        std::fs::read_to_string(t.path("blank/tool")).unwrap(),
        "tool-v1\n"
    );
    // The file is owned by 1234 in the image; on the host it is the invoking user's.
    assert_eq!(
        std::fs::metadata(t.path("blank/tool")).unwrap().uid(),
        my_uid()
    );
    assert_eq!(containers_named(&name), "");

    t.cd("sub");
    t.run(&["extract", "buildenv", "/opt/nosuch", "out", "--name", &name]).fails_with(&format!(
        "error: `/opt/nosuch` does not exist in image `km/buildenv` (`{}/buildenv-km-busybox:latest`); nothing was written to `$ROOT/sub/out`\n",
        t.namespace()
    ));
    assert_eq!(containers_named(&name), "");

    if let Some(mut args) = as_other_user() {
        open_up(&t);
        args.extend(["extract", "buildenv", "/opt/blank/tool", "theirs"].map(String::from));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = t.command("setpriv", &args);
        cmd.env("HOME", &t.root);
        t.output(cmd).ok();
        assert_eq!(std::fs::metadata(t.path("sub/theirs")).unwrap().uid(), 4321);
        std::fs::remove_file(t.path("sub/theirs")).unwrap();
    }
    let left: Vec<_> = std::fs::read_dir(t.path("sub"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [".keep"]);
}

#[test]
fn run_applies_the_configured_ulimit() {
    let Some((t, _guard)) = built() else { return };
    t.run(&["run", "buildenv", "--", "sh", "-c", "ulimit -n"])
        .is(0, "512\n", "");
}
