//! `run`, `withdocker` and `extract` against the fake docker: the exact commands rendered by
//! `--dry-run` (terminal or not, rootful or rootless engine, devices, ulimits, env by name),
//! exit statuses passed through, and the errors for bad input.

mod support;

use std::process::Command;

use support::{Output, Test, BIN};

const IMAGES_YAML: &str = r#"
defaults: {namespace: ns, platform: busybox}
component: km
images:
  buildenv:
    dockerfile: docker/buildenv.dockerfile
    run:
      init: true
      env: [TOKEN]
      ulimits: ["nofile=1024:2048"]
      devices: [/dev/null, "/dev/imagemk-absent:/dev/kvm"]
    artifacts:
      - {from: /opt/blank/bin, to: blank/bin}
      - {from: /opt/blank/VERSION, to: blank/VERSION}
  test:
    dockerfile: docker/test.dockerfile
    run:
      user: "1000"
      workdir: /src
      network: none
      command: [sh, /opt/tests/run.sh]
"#;

const BUILDENV: &str = "ns/buildenv-km-busybox:latest";
const TEST: &str = "ns/test-km-busybox:latest";
const ABSENT: &str = "warning: device `/dev/imagemk-absent` of image `km/buildenv` is not on this host; running without it\n";

fn uid_gid() -> String {
    // SAFETY: getuid and getgid have no preconditions.
    unsafe { format!("{}:{}", libc::getuid(), libc::getgid()) }
}

fn workspace() -> Test {
    let t = Test::new();
    t.file("images.yaml", IMAGES_YAML)
        .file("docker/buildenv.dockerfile", "FROM scratch\n")
        .file(
            "docker/test.dockerfile",
            "FROM ns/buildenv-km-busybox:latest\n",
        )
        .file("sub/dir/.keep", "")
        .file("images", &format!("{BUILDENV}\n{TEST}\n"))
        .fake_docker();
    t
}

fn check(t: &Test, args: &[&str], stdout: &str, stderr: &str) {
    t.run(args).is(0, stdout, stderr);
}

#[test]
fn run_renders_the_configured_options() {
    let t = workspace();
    check(
        &t,
        &["--dry-run", "run", "test", "--name", "c1"],
        &format!("docker run --rm --name c1 --pull never --user 1000 --workdir /src --network none {TEST} sh /opt/tests/run.sh\n"),
        "",
    );
    // Devices that exist are passed, absent ones warned about; ulimits; env by name only.
    let mut t = workspace();
    t.env("TOKEN", "s3cret-value");
    check(
        &t,
        &["-n", "run", "buildenv", "--name", "c1", "--", "sh", "-c", "echo $TOKEN"],
        &format!("docker run --rm --name c1 --pull never --init --env TOKEN --device /dev/null --ulimit nofile=1024:2048 {BUILDENV} sh -c 'echo $TOKEN'\n"),
        ABSENT,
    );
    // A dry run asks the engine only what exists and what kind it is; it runs nothing.
    assert_eq!(
        t.docker_log(),
        [
            "docker image ls --format \\{\\{.Repository\\}\\}:\\{\\{.Tag\\}\\}",
            "docker info --format \\{\\{json\\ .SecurityOptions\\}\\}",
        ]
    );
}

#[test]
fn a_kind_or_a_component_key_names_the_image() {
    let mut t = workspace();
    t.file(
        "payloads/node/images.yaml",
        "component: node\nimages:\n  env:\n    kind: buildenv\n    dockerfile: d\n",
    );
    t.file(
        "images.yaml",
        &IMAGES_YAML.replace(
            "component: km",
            "workspace: {members: [\"payloads/*\"]}\ncomponent: km",
        ),
    );
    t.file(
        "images",
        &format!("{BUILDENV}\n{TEST}\nns/buildenv-node-busybox:latest\n"),
    );
    check(
        &t,
        &["-n", "run", "node/env", "--name", "c1"],
        "docker run --rm --name c1 --pull never ns/buildenv-node-busybox:latest\n",
        "",
    );
    t.cd("payloads/node");
    check(
        &t,
        &["-n", "run", "buildenv", "--name", "c1"],
        "docker run --rm --name c1 --pull never ns/buildenv-node-busybox:latest\n",
        "",
    );
}

/// Runs imagemk under `script`, so that stdin, stdout and stderr are all terminals.
fn on_a_terminal(t: &Test, args: &str) -> Output {
    let line = format!("{BIN} {args}");
    let mut cmd: Command = t.command("script", &["-qec", &line, "/dev/null"]);
    cmd.env("TERM", "dumb");
    let mut out = t.output(cmd);
    out.stdout = out.stdout.replace('\r', "");
    out
}

#[test]
fn a_terminal_gets_dash_i_and_dash_t() {
    if support::which("script").is_err() {
        support::skipped("`script` (util-linux) is not installed");
        assert!(std::env::var_os("CI").is_none(), "`script` is needed on CI");
        return;
    }
    let t = workspace();
    on_a_terminal(&t, "-n run test --name c1").is(
        0,
        &format!("docker run --rm --name c1 --pull never -i -t --user 1000 --workdir /src --network none {TEST} sh /opt/tests/run.sh\n"),
        "",
    );
    on_a_terminal(&t, "-n withdocker --name c1 -- make").is(
        0,
        &format!("{ABSENT}docker run --rm --name c1 --pull never -i -t --init --user {} --mount type=bind,source=$ROOT,target=$ROOT --workdir $ROOT --env MAKEFLAGS --env TOKEN --device /dev/null --ulimit nofile=1024:2048 {BUILDENV} make\n", uid_gid()),
        "",
    );
}

#[test]
fn withdocker_on_a_rootful_engine_runs_as_you() {
    let mut t = workspace();
    t.cd("sub/dir");
    check(
        &t,
        &["-n", "withdocker", "--name", "c1", "--", "make", "all"],
        &format!("docker run --rm --name c1 --pull never --init --user {} --mount type=bind,source=$ROOT,target=$ROOT --workdir $ROOT/sub/dir --env MAKEFLAGS --env TOKEN --device /dev/null --ulimit nofile=1024:2048 {BUILDENV} make all\n", uid_gid()),
        ABSENT,
    );
}

#[test]
fn withdocker_on_a_rootless_engine_passes_no_user() {
    let t = workspace();
    t.file("rootless", "");
    check(
        &t,
        &["-n", "withdocker", "--image", "test", "--name", "c1", "--", "make"],
        &format!("docker run --rm --name c1 --pull never --mount type=bind,source=$ROOT,target=$ROOT --workdir $ROOT --env MAKEFLAGS --network none {TEST} make\n"),
        "",
    );
}

/// The uid and gid come from the invoking process: run imagemk as another user.
#[test]
fn withdocker_uses_the_invoking_uid_and_gid() {
    if support::which("setpriv").is_err() || unsafe { libc::getuid() } != 0 {
        support::skipped("needs root and `setpriv` to run as another user");
        return;
    }
    let t = workspace();
    for dir in ["", "sub", "sub/dir"] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(t.path(dir), std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    std::fs::write(t.path("docker.log"), "").unwrap();
    std::fs::set_permissions(
        t.path("docker.log"),
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .unwrap();
    let cmd = t.command(
        "setpriv",
        &[
            "--reuid",
            "4321",
            "--regid",
            "4322",
            "--clear-groups",
            BIN,
            "-n",
            "withdocker",
            "--image",
            "test",
            "--name",
            "c1",
            "--",
            "id",
        ],
    );
    t.output(cmd).is(
        0,
        &format!("docker run --rm --name c1 --pull never --user 4321:4322 --mount type=bind,source=$ROOT,target=$ROOT --workdir $ROOT --env MAKEFLAGS --network none {TEST} id\n"),
        "",
    );
}

#[test]
fn the_container_status_is_imagemks() {
    let t = workspace();
    t.file("run-status", "3\n");
    t.run(&["run", "test", "--name", "c1"]).is(3, "", "");
    t.file("run-status", "127\n");
    t.run(&["withdocker", "--image", "test", "--name", "c1", "--", "nosuch"]).is(
        127,
        "",
        &format!("docker: Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"nosuch\": executable file not found in $PATH: unknown.\nerror: the command was not found in `{TEST}` (exit status 127); check its name and the image's PATH\n"),
    );
    t.file("run-status", "125\n");
    t.run(&["run", "test", "--name", "c1"]).is(
        125,
        "",
        &format!("error: docker could not start a container of `{TEST}` (exit status 125); see docker's message above\n"),
    );
}

#[test]
fn bad_input_is_reported_before_anything_runs() {
    let t = workspace();
    t.run(&["run", "tset"]).fails_with(
        "error: unknown image `tset` in component `km`; did you mean `test`? (images there: buildenv, test)\n",
    );
    t.file("images", "");
    t.run(&["withdocker", "--", "make"]).fails_with(&format!(
        "error: image `km/buildenv` (`{BUILDENV}`) is not in the local engine; build it with `make buildenv-image` or get it with `make pull-buildenv-image` (imagemk never pulls it by itself)\n"
    ));
    t.run(&["run", "test", "--name", "bad/name"]).fails_with(
        "error: `bad/name` is not a valid container name; use letters, digits, `_`, `.` and `-`, starting with a letter or digit\n",
    );
    assert!(!t.docker_log().iter().any(|l| l.starts_with("docker run")));
}

#[test]
fn a_configured_device_that_is_not_a_device_is_an_error() {
    let t = workspace();
    t.file(
        "images.yaml",
        &IMAGES_YAML.replace("/dev/null,", "/etc/passwd,"),
    );
    t.run(&["run", "buildenv"]).fails_with(
        "error: `/etc/passwd`, listed in `run.devices` of image `km/buildenv`, is not a device; fix `run.devices` in its images.yaml\n",
    );
    assert_eq!(t.docker_log(), Vec::<String>::new());
}

#[test]
fn extract_renders_create_copy_move_remove() {
    let t = workspace();
    check(
        &t,
        &["-n", "extract", "buildenv", "--name", "x1"],
        &format!(
            "docker create --pull never --name x1 {BUILDENV} true\n\
             cd $ROOT/blank && docker cp x1:/opt/blank/bin ./.imagemk-extract-x1-0/copy\n\
             # then the copy replaces $ROOT/blank/bin\n\
             cd $ROOT/blank && docker cp x1:/opt/blank/VERSION ./.imagemk-extract-x1-1/copy\n\
             # then the copy replaces $ROOT/blank/VERSION\n\
             docker rm --force x1\n"
        ),
        "",
    );
    let mut t = t;
    t.file("out/.keep", "");
    t.cd("sub");
    check(
        &t,
        &[
            "-n",
            "extract",
            "test",
            "/etc/os-release",
            "../out/os",
            "--name",
            "x1",
        ],
        &format!(
            "docker create --pull never --name x1 {TEST} true\n\
             cd $ROOT/out && docker cp x1:/etc/os-release ./.imagemk-extract-x1-0/copy\n\
             # then the copy replaces $ROOT/out/os\n\
             docker rm --force x1\n"
        ),
        "",
    );
}

#[test]
fn extract_copies_the_artifacts_into_place() {
    let t = workspace();
    t.file("blank/VERSION", "old\n");
    t.run(&["extract", "buildenv", "--name", "x1"]).is(
        0,
        "",
        "extracted km/buildenv:/opt/blank/bin -> $ROOT/blank/bin\nextracted km/buildenv:/opt/blank/VERSION -> $ROOT/blank/VERSION\n",
    );
    assert_eq!(
        std::fs::read_to_string(t.path("blank/bin")).unwrap(),
        "copied from /opt/blank/bin\n"
    );
    assert_eq!(
        std::fs::read_to_string(t.path("blank/VERSION")).unwrap(),
        "copied from /opt/blank/VERSION\n"
    );
    let mut left: Vec<String> = std::fs::read_dir(t.path("blank"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["VERSION", "bin"]);
    assert_eq!(t.docker_log().last().unwrap(), "docker rm --force x1");
}

#[test]
fn extract_of_a_missing_path_writes_nothing_and_removes_the_container() {
    let t = workspace();
    t.file("cp-missing", "");
    t.file("blank/VERSION", "old\n");
    t.run(&["extract", "buildenv", "--name", "x1"]).fails_with(&format!(
        "error: `/opt/blank/bin` does not exist in image `km/buildenv` (`{BUILDENV}`); nothing was written to `$ROOT/blank/bin`\n"
    ));
    assert_eq!(
        std::fs::read_to_string(t.path("blank/VERSION")).unwrap(),
        "old\n"
    );
    let left: Vec<_> = std::fs::read_dir(t.path("blank"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["VERSION"]);
    assert_eq!(t.docker_log().last().unwrap(), "docker rm --force x1");
}

#[test]
fn extract_needs_artifacts_or_a_path() {
    let t = workspace();
    t.run(&["extract", "test"]).fails_with(
        "error: image `km/test` has no `artifacts:` in `$ROOT/images.yaml`; list some, or give a path: `imagemk extract test PATH DEST`\n",
    );
    t.run(&["extract", "test", "opt/x", "d"])
        .fails_with("error: `opt/x` is not an absolute path in the image; write it as `/opt/x`\n");
}

#[test]
fn a_dry_run_with_no_engine_notes_it_and_still_prints_the_command() {
    let t = workspace();
    t.file("engine-down", "");
    let out = t.run(&["--dry-run", "run", "test", "--name", "c1"]);
    out.ok();
    assert!(
        out.stdout
            .starts_with("docker run --rm --name c1 --pull never "),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.starts_with(&format!(
            "note: cannot ask the engine which images exist (the docker engine is not reachable; start it (e.g. `sudo systemctl start docker`) or point `DOCKER_HOST` at a running one); assuming `{TEST}` exists\n"
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn an_env_value_in_run_env_never_reaches_docker() {
    let t = workspace();
    t.file(
        "images.yaml",
        &IMAGES_YAML.replace("env: [TOKEN]", "env: [\"KM_TOKEN=hunter2\"]"),
    );
    for args in [
        &["-n", "run", "buildenv"][..],
        &["run", "buildenv"],
        &["-n", "withdocker", "--image", "buildenv", "--", "true"],
    ] {
        let out = t.run(args);
        assert_eq!(out.status, 1, "{args:?}: {}", out.stderr);
        assert!(!out.stdout.contains("hunter2"), "{}", out.stdout);
        assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
        assert_eq!(t.docker_log(), Vec::<String>::new(), "{args:?}");
    }
}
