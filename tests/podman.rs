//! podman as the engine, against a fake `podman` (the fake docker, logging to `podman.log`,
//! answering podman's `info` query and writing `--digestfile`): how the engine is chosen
//! (`--engine` > `IMAGEMK_ENGINE` / `CONTAINER_ENGINE` > `workspace.engine` > auto), the exact
//! commands of build, push, pull, run, withdocker and extract, and the bad input (an unknown
//! engine, podman asked for but missing) reported before anything runs.

mod support;

use support::{Output, Test};

const IMAGES_YAML: &str = r#"
workspace:
  registry: local
  registries:
    local: {kind: oci, host: "localhost:5000", path: team}
    remote: {kind: oci, host: "registry.example.com", path: team}
defaults: {namespace: ns, platform: busybox}
component: km
images:
  buildenv:
    dockerfile: docker/buildenv.dockerfile
    artifacts:
      - {from: /opt/blank/VERSION, to: blank/VERSION}
  test:
    dockerfile: docker/test.dockerfile
    run:
      command: [sh, /opt/tests/run.sh]
"#;

const BUILDENV: &str = "ns/buildenv-km-busybox:latest";
const TEST: &str = "ns/test-km-busybox:latest";

/// The fake docker as `podman`: logs to `podman.log`, answers `info` of
/// `.Host.Security.Rootless` (`true` when the `rootless` knob exists), writes the digest
/// (sha256 of the pushed name) to `--digestfile`.
fn fake_podman() -> String {
    let docker = include_str!("support/fake-docker");
    let log = "line=$(printf '%q ' docker \"$@\")\necho \"${line% }\" >> \"$root/docker.log\"\n";
    assert!(docker.contains(log), "the fake docker's log lines changed");
    let body = docker.replacen(log, "", 1);
    let prelude = r#"
root="$(cd "$(dirname "$0")/.." && pwd)"
line=$(printf '%q ' podman "$@")
echo "${line% }" >> "$root/podman.log"
if [ "$1" = info ] && [[ "$3" == *Host.Security.Rootless* ]]; then
  if [ -e "$root/rootless" ]; then echo true; else echo false; fi
  exit 0
fi
if [ "$1 $2 $3" = "info --format json" ]; then
  r=false; [ -e "$root/rootless" ] && r=true
  echo '{"host":{"security":{"rootless":'$r'}},"store":{"graphDriverName":"overlay"},"version":{"Version":"4.3.1"}}'
  exit 0
fi
# podman's own flags: `--digestfile F` gets the digest (sha256 of the name), then both
# flags are dropped so that the fake docker sees docker's argv.
args=()
while (($#)); do
  case "$1" in
    --digestfile) printf 'sha256:%s\n' "$(printf %s "${@: -1}" | sha256sum | cut -c1-64)" > "$2"; shift 2 ;;
    --tls-verify=false) shift ;;
    *) args+=("$1"); shift ;;
  esac
done
set -- "${args[@]}"
"#;
    let (shebang, rest) = body.split_once('\n').unwrap();
    format!("{shebang}\n{prelude}{rest}")
}

/// A workspace with the fake docker and the fake podman on PATH.
fn workspace() -> Test {
    let mut t = Test::new();
    t.env(
        "DOCKER_HOST",
        &format!("unix://{}/docker.sock", t.root.display()),
    );
    t.file("images.yaml", IMAGES_YAML)
        .file("docker/buildenv.dockerfile", "FROM scratch\n")
        .file("docker/test.dockerfile", &format!("FROM {BUILDENV}\n"))
        .file("images", &format!("{BUILDENV}\n{TEST}\n"))
        .fake_docker()
        .fake("podman", &fake_podman());
    t
}

fn stdout_of(out: Output) -> String {
    assert_eq!(out.status, 0, "{}", out.stderr);
    out.stdout
}

/// `--digestfile` names a per-process file: its pid is replaced by `PID`.
fn no_pid(s: &str) -> String {
    let re = regex::Regex::new(r"imagemk-digest-\d+-").unwrap();
    re.replace_all(s, "imagemk-digest-PID-").into_owned()
}

#[test]
fn the_engine_is_chosen_by_flag_then_environment_then_file() {
    let mut t = workspace();
    let first = |out: Output| stdout_of(out).split(' ').next().unwrap_or("").to_string();
    assert_eq!(first(t.run(&["-n", "run", "test"])), "docker");
    assert_eq!(
        first(t.run(&["-n", "--engine", "podman", "run", "test"])),
        "podman"
    );
    t.env("CONTAINER_ENGINE", "podman");
    assert_eq!(first(t.run(&["-n", "run", "test"])), "podman");
    t.env("IMAGEMK_ENGINE", "docker");
    assert_eq!(first(t.run(&["-n", "run", "test"])), "docker");
    assert_eq!(
        first(t.run(&["-n", "--engine", "podman", "run", "test"])),
        "podman"
    );
    let mut t = workspace();
    t.file(
        "images.yaml",
        &IMAGES_YAML.replace("workspace:\n", "workspace:\n  engine: podman\n"),
    );
    assert_eq!(first(t.run(&["-n", "run", "test"])), "podman");
    t.env("IMAGEMK_ENGINE", "docker");
    assert_eq!(first(t.run(&["-n", "run", "test"])), "docker");
}

#[test]
fn podman_is_chosen_when_docker_is_absent() {
    let mut t = workspace();
    let podman = t.path(".bin/podman");
    t.without("docker");
    // `without` leaves only basic tools on PATH: add the fake podman and what it needs.
    for tool in [
        "dirname",
        "awk",
        "sha256sum",
        "cut",
        "mkdir",
        "tee",
        "head",
        "cp",
        "rm",
    ] {
        if let Ok(p) = support::which(tool) {
            let _ = std::os::unix::fs::symlink(p, t.path(".nobin").join(tool));
        }
    }
    std::os::unix::fs::symlink(&podman, t.path(".nobin/podman")).unwrap();
    let out = stdout_of(t.run(&["-n", "run", "test"]));
    assert_eq!(
        out,
        format!(
            "podman run --rm --name imagemk-km-test-PID --pull never {TEST} sh /opt/tests/run.sh\n"
        )
        .replace(
            "PID",
            out.split("imagemk-km-test-")
                .nth(1)
                .unwrap_or("")
                .split(' ')
                .next()
                .unwrap_or("")
        )
    );
}

#[test]
fn build_runs_podman_build_with_the_context_on_stdin_and_never_docker() {
    let t = workspace();
    t.file("images", "");
    let out = t.run(&["--engine", "podman", "build", "buildenv"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let log = t.log("podman");
    assert!(
        log.iter().any(|l| l.starts_with(&format!(
            "podman build --force-rm --file .imagemk-dockerfile --tag {BUILDENV} -"
        ))),
        "{log:#?}"
    );
    assert!(log.iter().all(|l| l.starts_with("podman ")), "{log:#?}");
    assert_eq!(t.docker_log(), Vec::<String>::new());
    // The context went in as a tar on stdin, as with docker.
    assert!(t.exists(".imagemk/contexts"));
}

#[test]
fn push_and_pull_to_a_loopback_registry_skip_tls_verification() {
    let t = workspace();
    t.file("tags", &format!("{TEST} sha256:{}\n", "1".repeat(64)));
    let push = no_pid(&stdout_of(
        t.run(&["-n", "--engine", "podman", "push", "test"]),
    ));
    let remote = "localhost:5000/team/test-km-busybox:latest";
    assert!(
        push.contains(&format!(
            "podman push --tls-verify=false --digestfile /tmp/imagemk-digest-PID-0 {remote}\n"
        )),
        "{push}"
    );
    assert!(
        push.contains(&format!("podman tag {TEST} {remote}\n")),
        "{push}"
    );
    let pull = stdout_of(t.run(&["-n", "--engine", "podman", "pull", "test"]));
    assert!(
        pull.contains(&format!("podman pull --tls-verify=false {remote}\n")),
        "{pull}"
    );
    let login = stdout_of(t.run(&["-n", "--engine", "podman", "login"]));
    assert_eq!(login, "podman login --tls-verify=false localhost:5000\n");
    // Another host is verified; docker never gets the flag.
    let pull = stdout_of(t.run(&[
        "-n",
        "--engine",
        "podman",
        "--registry",
        "remote",
        "pull",
        "test",
    ]));
    assert!(
        pull.contains("podman pull registry.example.com/team/test-km-busybox:latest\n"),
        "{pull}"
    );
    let pull = stdout_of(t.run(&["-n", "pull", "test"]));
    assert!(pull.contains(&format!("docker pull {remote}\n")), "{pull}");
    assert_eq!(
        t.docker_log(),
        t.docker_log()
            .into_iter()
            .filter(|l| !l.contains("push") && !l.contains("pull"))
            .collect::<Vec<_>>()
    );
    assert!(t
        .log("podman")
        .iter()
        .all(|l| !l.contains(" push ") && !l.contains(" pull ")));
}

#[test]
fn push_reads_podmans_digest_from_the_digest_file_and_removes_it() {
    let t = workspace();
    t.file("tags", &format!("{TEST} sha256:{}\n", "1".repeat(64)));
    let out = t.run(&["--engine", "podman", "push", "test"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let log = t.log("podman");
    let push = log
        .iter()
        .find(|l| l.starts_with("podman push"))
        .expect("a push");
    let file = push.split(' ').nth(4).unwrap();
    assert!(file.starts_with("/tmp/imagemk-digest-"), "{push}");
    assert!(!std::path::Path::new(file).exists(), "{file} left behind");
    let remote = "localhost:5000/team/test-km-busybox:latest";
    assert!(
        out.stdout.contains(&format!("{remote}@sha256:")),
        "{}",
        out.stdout
    );
    assert_eq!(t.docker_log(), Vec::<String>::new());
}

#[test]
fn withdocker_on_rootless_podman_keeps_the_users_id() {
    let t = workspace();
    let line = |t: &Test| {
        stdout_of(t.run(&[
            "-n",
            "--engine",
            "podman",
            "withdocker",
            "--image",
            "test",
            "--name",
            "c1",
            "--",
            "make",
        ]))
    };
    // Rootful podman: like rootful docker, `--user UID:GID`.
    // SAFETY: getuid and getgid have no preconditions.
    let ids = unsafe { format!("{}:{}", libc::getuid(), libc::getgid()) };
    assert_eq!(line(&t), format!("podman run --rm --name c1 --pull never --user {ids} --mount type=bind,source=$ROOT,target=$ROOT --workdir $ROOT --env MAKEFLAGS {TEST} make\n"));
    t.file("rootless", "");
    assert_eq!(line(&t), format!("podman run --rm --name c1 --pull never --userns keep-id --mount type=bind,source=$ROOT,target=$ROOT --workdir $ROOT --env MAKEFLAGS {TEST} make\n"));
    assert!(t
        .log("podman")
        .iter()
        .any(|l| l.starts_with("podman info") && l.contains("Host.Security.Rootless")));
    assert_eq!(t.docker_log(), Vec::<String>::new());
}

#[test]
fn extract_creates_copies_and_removes_with_podman() {
    let t = workspace();
    let out = t.run(&["--engine", "podman", "extract", "buildenv", "--name", "x1"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(t.path("blank/VERSION")).unwrap(),
        "copied from /opt/blank/VERSION\n"
    );
    let log = t.log("podman");
    assert!(
        log.contains(&format!(
            "podman create --pull never --name x1 {BUILDENV} true"
        )),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("podman cp x1:/opt/blank/VERSION ")),
        "{log:#?}"
    );
    assert_eq!(log.last().unwrap(), "podman rm --force x1");
    assert_eq!(t.docker_log(), Vec::<String>::new());
}

#[test]
fn an_unknown_engine_lists_the_known_ones_and_runs_nothing() {
    let mut t = workspace();
    let known =
        "known engines: `docker`, `podman`\nhint: pass `--engine docker` or `--engine podman`";
    t.run(&["--engine", "rkt", "build", "buildenv"])
        .fails_with(&format!("error: unknown engine `rkt`; {known}\n"));
    t.env("IMAGEMK_ENGINE", "Podman");
    t.run(&["build", "buildenv"]).fails_with(&format!(
        "error: unknown engine `Podman` in `IMAGEMK_ENGINE`; {known}\n"
    ));
    let t = workspace();
    t.file(
        "images.yaml",
        &IMAGES_YAML.replace("workspace:\n", "workspace:\n  engine: rkt\n"),
    );
    t.run(&["build", "buildenv"]).fails_with(
        "error: `$ROOT/images.yaml:3:11`: workspace.engine: unknown variant `rkt`, expected `docker` or `podman`\n",
    );
    assert_eq!(t.docker_log(), Vec::<String>::new());
    assert_eq!(t.log("podman"), Vec::<String>::new());
}

#[test]
fn podman_asked_for_but_missing_names_the_install_command_and_runs_nothing() {
    let mut t = workspace();
    std::fs::remove_file(t.path(".bin/podman")).unwrap();
    t.without("podman");
    let hint = "hint: install podman (`sudo apt-get install -y podman` on Debian and Ubuntu, `sudo dnf install -y podman` on Fedora) or choose docker with `--engine docker`";
    t.run(&["--engine", "podman", "build", "buildenv"])
        .fails_with(&format!(
        "error: engine `podman` (asked for by `--engine`) is not installed or not on PATH\n{hint}\n"
    ));
    t.env("CONTAINER_ENGINE", "podman");
    t.run(&["-n", "pull", "test"]).fails_with(&format!(
        "error: engine `podman` (asked for by the environment (`IMAGEMK_ENGINE` / `CONTAINER_ENGINE`)) is not installed or not on PATH\n{hint}\n"
    ));
    assert_eq!(t.docker_log(), Vec::<String>::new());
}

#[test]
fn doctor_reads_podman_info_and_honours_workspace_engine() {
    let t = workspace();
    t.file(
        "images.yaml",
        &IMAGES_YAML.replace("workspace:\n", "workspace:\n  engine: podman\n"),
    );
    let out = t.run(&["doctor"]);
    let head: Vec<&str> = out.stdout.lines().take(4).collect();
    assert_eq!(
        head,
        [
            "✓ engine: podman 4.3.1",
            "✓ rootless: rootful podman",
            "✓ storage driver: overlay",
            "✓ builder: podman's own (buildah)"
        ],
        "{}",
        out.stderr
    );
    t.file("rootless", "");
    let out = t.run(&["doctor"]);
    assert!(
        out.stdout.contains(
            "✓ rootless: rootless podman (containers get your uid with `--userns keep-id`)"
        ),
        "{}",
        out.stdout
    );
    assert!(
        t.log("podman").iter().all(|l| l.starts_with("podman info")),
        "{:#?}",
        t.log("podman")
    );
    assert!(t.docker_log().is_empty(), "{:#?}", t.docker_log());
}

#[test]
fn a_podman_run_that_exits_126_says_what_podman_means_by_it() {
    let t = workspace();
    t.file("run-status", "126");
    let hint = "hint: podman also exits 126 when its runtime cannot start the container (see its message above); for `error setting rlimit`, set `default_ulimits = []` under `[containers]` in containers.conf (or a file named by `CONTAINERS_CONF`)";
    let out = t.run(&["--engine", "podman", "run", "test"]);
    assert_eq!(out.status, 126, "{}", out.stderr);
    assert!(
        out.stderr
            .ends_with(&format!("is it executable?\n{hint}\n")),
        "{}",
        out.stderr
    );
    // docker's 126 is only the command's.
    let out = t.run(&["run", "test"]);
    assert!(
        out.stderr.ends_with("is it executable?\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unreachable_podman_is_explained_as_podman() {
    let t = workspace();
    t.file("engine-down", "");
    let out = t.run(&["--engine", "podman", "pull", "test"]);
    assert_ne!(out.status, 0);
    assert!(
        out.stderr.contains("the podman service is not reachable; start it (e.g. `systemctl --user start podman.socket`) or unset `CONTAINER_HOST` to run podman locally"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("docker engine"), "{}", out.stderr);
}
