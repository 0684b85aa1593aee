//! `imagemk local-buildenv` in-process (`runner::Recorder`): the exact commands and their
//! order (the dry run's, root and sudo, an unsupported host, existing destinations skipped
//! when identical, an error when different, replaced with --force; pull before extract, and
//! login after a refusal), and the `host:` checks at load, with no command run. `docker cp`
//! writes `copied from PATH` as the fake docker does. The make target and one real run against
//! the fake docker stay in tests/local_buildenv.rs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::exec::Cmd;
use crate::runner::{imagemk, Outcome, Recorder, Reply};

/// A buildenv with `host:` packages and two artifacts (shared with tests/local_buildenv.rs).
const YAML: &str = include_str!("../../tests/support/local-buildenv.yaml");

const NAME: &str = "acme/buildenv-km-linux:latest";
const REMOTE: &str = "localhost:5000/kontain/buildenv-km-linux:latest";
const LS: &str = "docker image ls --format '{{.Repository}}:{{.Tag}}'";

/// A workspace (canonical path) with images.yaml, the Dockerfile and an empty `sys/`.
struct Ws {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Ws {
    fn new(yaml: &str) -> Ws {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("images.yaml"), yaml).unwrap();
        std::fs::write(root.join("buildenv.dockerfile"), "FROM scratch\n").unwrap();
        std::fs::create_dir(root.join("sys")).unwrap();
        Ws { _dir: dir, root }
    }

    fn file(&self, rel: &str, text: &str) {
        let p = self.root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).unwrap()
    }

    fn count(&self, rel: &str) -> usize {
        std::fs::read_dir(self.root.join(rel)).unwrap().count()
    }

    fn exists(&self, rel: &str) -> bool {
        self.root.join(rel).exists()
    }

    /// `imagemk local-buildenv --name lb1 --root $ROOT/sys EXTRA…`, `$ROOT` in its output.
    fn run(&self, rec: &Arc<Recorder>, extra: &[&str]) -> Outcome {
        let sys = self.root.join("sys");
        let mut args = vec!["local-buildenv", "--name", "lb1", "--root"];
        args.push(sys.to_str().unwrap());
        args.extend(extra);
        let out = imagemk(rec, &self.root, &args, &[]);
        Outcome {
            status: out.status,
            stdout: self.clean(&out.stdout),
            stderr: self.clean(&out.stderr),
        }
    }

    fn clean(&self, text: &str) -> String {
        text.replace(&self.root.display().to_string(), "$ROOT")
    }

    /// The commands run, `$ROOT` for the root.
    fn lines(&self, rec: &Recorder) -> Vec<String> {
        rec.lines().iter().map(|l| self.clean(l)).collect()
    }
}

fn starts(text: &str, prefix: &str) {
    assert!(text.starts_with(prefix), "{text}");
}

fn ends(text: &str, suffix: &str) {
    assert!(text.ends_with(suffix), "{text}");
}

fn has(text: &str, part: &str) {
    assert!(text.contains(part), "{text}");
}

/// `docker cp NAME:SRC DEST` (run in its directory) writes `copied from SRC`, as the fake.
fn copy(cmd: &Cmd) {
    let src = cmd.args[1].split_once(':').unwrap().1;
    let mut dest = cmd.cwd.clone().unwrap_or_default().join(&cmd.args[2]);
    if dest.is_dir() {
        dest = dest.join(Path::new(src).file_name().unwrap());
    }
    std::fs::write(dest, format!("copied from {src}\n")).unwrap();
}

/// The engine with `images` local (`docker image ls`), a user who is not root and has sudo.
fn engine(images: &str) -> Recorder {
    Recorder::new()
        .on("image ls", Reply::Out(images.to_string()))
        .on("id -u", Reply::Out("1000\n".into()))
        .does("docker cp", copy)
}

fn present() -> Recorder {
    engine(&format!("{NAME}\n"))
}

const ID: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const DIGEST: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

/// What `docker pull REMOTE` prints.
fn pulled() -> String {
    format!("latest: Pulling from localhost:5000/kontain/buildenv-km-linux\nDigest: {DIGEST}\nStatus: Downloaded newer image for {REMOTE}\n{REMOTE}\n")
}

/// `id -u` and the look at the local images, then the extraction, in order.
fn extraction() -> Vec<String> {
    [
        "id -u",
        LS,
        "docker create --pull never --name lb1 acme/buildenv-km-linux:latest true",
        "cd $ROOT/sys/opt/kontain && docker cp lb1:/opt/kontain/TOOLCHAIN ./.imagemk-extract-lb1-0/copy",
        "cd $ROOT/sys/opt/kontain/lib && docker cp lb1:/opt/kontain/lib/libstdc++.so.6 ./.imagemk-extract-lb1-1/copy",
        "(cleanup) docker rm --force lb1",
    ]
    .map(String::from)
    .to_vec()
}

const INSTALL: [&str; 2] = [
    "sudo apt-get update",
    "sudo apt-get install -y make busybox-static",
];

fn with_install(mut lines: Vec<String>) -> Vec<String> {
    lines.extend(INSTALL.map(String::from));
    lines
}

const PLAN: &str = "docker create --pull never --name lb1 acme/buildenv-km-linux:latest true
cd $ROOT/sys/opt/kontain && docker cp lb1:/opt/kontain/TOOLCHAIN ./.imagemk-extract-lb1-0/copy
# then the copy replaces $ROOT/sys/opt/kontain/TOOLCHAIN
cd $ROOT/sys/opt/kontain/lib && docker cp lb1:/opt/kontain/lib/libstdc++.so.6 ./.imagemk-extract-lb1-1/copy
# then the copy replaces $ROOT/sys/opt/kontain/lib/libstdc++.so.6
docker rm --force lb1
# a destination that exists is skipped when identical; one that differs is an error (replace it with --force)
";

#[test]
fn dry_run_prints_the_exact_commands_with_sudo_or_as_root() {
    let ws = Ws::new(YAML);
    let rec = Arc::new(present());
    let out = ws.run(&rec, &["--dry-run"]);
    out.is(
        0,
        &format!("{PLAN}sudo apt-get update\nsudo apt-get install -y make busybox-static\n"),
        "",
    );
    assert_eq!(ws.lines(&rec), ["id -u", LS]);
    assert!(!ws.exists("sys/opt"));

    let rec = Arc::new(
        Recorder::new()
            .on("id -u", Reply::Out("0\n".into()))
            .on("image ls", Reply::Out(format!("{NAME}\n"))),
    );
    let out = ws.run(&rec, &["--dry-run"]);
    out.is(
        0,
        &format!("{PLAN}apt-get update\napt-get install -y make busybox-static\n"),
        "",
    );
    assert_eq!(ws.lines(&rec), ["id -u", LS]);
}

#[test]
fn a_run_extracts_then_installs_printing_each_command_first() {
    let ws = Ws::new(YAML);
    let rec = Arc::new(present());
    let out = ws.run(&rec, &[]);
    out.is(0, "", "extracted km/buildenv:/opt/kontain/TOOLCHAIN -> $ROOT/sys/opt/kontain/TOOLCHAIN\nextracted km/buildenv:/opt/kontain/lib/libstdc++.so.6 -> $ROOT/sys/opt/kontain/lib/libstdc++.so.6\nrunning: sudo apt-get update\nrunning: sudo apt-get install -y make busybox-static\n");
    assert_eq!(ws.lines(&rec), with_install(extraction()));
    let how: Vec<&str> = rec.calls().iter().map(|c| c.how).collect();
    assert_eq!(&how[6..], ["interactive", "interactive"]);
    assert_eq!(
        ws.read("sys/opt/kontain/TOOLCHAIN"),
        "copied from /opt/kontain/TOOLCHAIN\n"
    );
    assert_eq!(
        ws.read("sys/opt/kontain/lib/libstdc++.so.6"),
        "copied from /opt/kontain/lib/libstdc++.so.6\n"
    );
    assert_eq!(
        ws.count("sys/opt/kontain"),
        2,
        "no staging directory is left"
    );
}

#[test]
fn a_failed_install_says_what_to_run_by_hand() {
    let ws = Ws::new(YAML);
    let rec = Arc::new(present().on("apt-get update", Reply::Fail(100, String::new())));
    let out = ws.run(&rec, &[]);
    assert_eq!(out.status, 1);
    ends(&out.stderr, "running: sudo apt-get update\nerror: `sudo apt-get update` exited with status 100; the files are in place, so run `sudo apt-get update && sudo apt-get install -y make busybox-static` by hand (or fix what it reports and run `imagemk local-buildenv` again)\n");
    let mut want = extraction();
    want.push(INSTALL[0].into());
    assert_eq!(ws.lines(&rec), want);
}

#[test]
fn not_root_without_sudo_names_the_command_and_runs_nothing() {
    let ws = Ws::new(YAML);
    let rec = Arc::new(present().without("sudo"));
    ws.run(&rec, &[]).is(1, "", "error: installing the packages of image `km/buildenv` needs root, and `sudo` is not installed; run as root: `apt-get update && apt-get install -y make busybox-static`, then `imagemk local-buildenv` again\n");
    assert_eq!(ws.lines(&rec), ["id -u"]);
}

#[test]
fn an_unsupported_host_gets_the_list_after_the_files() {
    let ws = Ws::new(YAML);
    let rec = Arc::new(present().without("apt-get"));
    let out = ws.run(&rec, &[]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    ends(&out.stderr, "error: this host has no package manager imagemk knows (apt-get, dnf, yum, apk); install by hand what image `km/buildenv` needs:\n  apt: make busybox-static\n  dnf: make busybox\n");
    assert!(ws.exists("sys/opt/kontain/TOOLCHAIN"));
    assert_eq!(ws.lines(&rec), extraction()[1..]);

    // A host whose manager the image gives no list for.
    let ws = Ws::new(&YAML.replace("      apt: [make, busybox-static]\n", ""));
    let rec = Arc::new(present());
    let out = ws.run(&rec, &["--dry-run"]);
    assert_eq!(out.status, 1);
    assert!(!out.stdout.contains("apt-get"), "{}", out.stdout);
    assert_eq!(out.stderr, "error: image `km/buildenv` lists no `apt` packages in `host:` for this host's `apt-get`; install by hand the equivalents of:\n  dnf: make busybox\nhint: add a `apt:` list to its `host:`\n");
    assert_eq!(ws.lines(&rec), [LS]);
}

#[test]
fn an_existing_destination_is_skipped_when_identical_refused_when_different_replaced_with_force() {
    let ws = Ws::new(YAML);
    ws.file(
        "sys/opt/kontain/TOOLCHAIN",
        "copied from /opt/kontain/TOOLCHAIN\n",
    );
    ws.file("sys/opt/kontain/lib/libstdc++.so.6", "the user's own\n");
    let rec = Arc::new(present());
    ws.run(&rec, &[]).is(1, "", "error: `$ROOT/sys/opt/kontain/lib/libstdc++.so.6` exists on this host and differs from the copy in image `km/buildenv`; nothing was written\nhint: replace it with `imagemk local-buildenv --force` (`make local-buildenv FORCE=1`), or move it away first\n");
    assert_eq!(
        ws.read("sys/opt/kontain/lib/libstdc++.so.6"),
        "the user's own\n"
    );
    let left = || (ws.count("sys/opt/kontain"), ws.count("sys/opt/kontain/lib"));
    assert_eq!(left(), (2, 1));
    assert_eq!(ws.lines(&rec), extraction(), "no install after the refusal");

    let rec = Arc::new(present());
    let out = ws.run(&rec, &["--force"]);
    out.is(0, "", "extracted km/buildenv:/opt/kontain/lib/libstdc++.so.6 -> $ROOT/sys/opt/kontain/lib/libstdc++.so.6\nunchanged (identical): $ROOT/sys/opt/kontain/TOOLCHAIN\nrunning: sudo apt-get update\nrunning: sudo apt-get install -y make busybox-static\n");
    assert_eq!(
        ws.read("sys/opt/kontain/lib/libstdc++.so.6"),
        "copied from /opt/kontain/lib/libstdc++.so.6\n"
    );
    assert_eq!(left(), (2, 1));
    assert_eq!(ws.lines(&rec), with_install(extraction()));
}

fn inspect_remote() -> String {
    format!("docker image inspect --format '{{{{.Id}}}}' {REMOTE}")
}

/// The engine without the image, `docker pull` answering `pull`; the remote name is local
/// only once a pull succeeded.
fn missing(pull: Reply) -> Recorder {
    let no_such = Reply::Fail(1, format!("Error: No such image: {REMOTE}\n"));
    let rec = engine("").once(&inspect_remote(), no_such.clone());
    match pull {
        Reply::Out(_) => rec.on(&inspect_remote(), Reply::Out(format!("{ID}\n"))),
        _ => rec.on(&inspect_remote(), no_such),
    }
    .on("docker pull", pull)
}

#[test]
fn a_missing_image_is_pulled_first_and_a_refusal_logs_in_once() {
    let ws = Ws::new(YAML);
    let rec = Arc::new(missing(Reply::Out(pulled())));
    let out = ws.run(&rec, &[]);
    out.ok();
    starts(
        &out.stderr,
        &format!("km/buildenv | pulling {REMOTE}\nkm/buildenv | latest: Pulling from"),
    );
    let pull = [
        "id -u".to_string(),
        LS.to_string(),
        inspect_remote(),
        format!("docker pull {REMOTE}"),
        inspect_remote(),
        format!("docker tag {ID} {NAME}"),
        format!("(cleanup) {}", inspect_remote()),
        format!("(cleanup) docker image rm --no-prune {REMOTE}"),
    ];
    let mut want = pull.to_vec();
    want.extend(extraction().into_iter().skip(2));
    assert_eq!(ws.lines(&rec), with_install(want));

    let ws = Ws::new(YAML);
    let refusal = "Error response from daemon: Head \"https://localhost:5000/v2/kontain/buildenv-km-linux/manifests/latest\": unauthorized: authentication required\n";
    let rec = Arc::new(missing(Reply::Fail(1, refusal.into())));
    let out = ws.run(&rec, &[]);
    assert_eq!(out.status, 1);
    has(
        &out.stderr,
        "registry `local` refused the credentials; logging in: docker login localhost:5000\n",
    );
    ends(&out.stderr, "hint: or build it here with `make buildenv-image`; then run `imagemk local-buildenv` again\n");
    let attempt = [
        inspect_remote(),
        format!("docker pull {REMOTE}"),
        format!("(cleanup) {}", inspect_remote()),
    ];
    let mut want = vec!["id -u".to_string(), LS.to_string()];
    want.extend(attempt.clone());
    want.push("docker login localhost:5000".into());
    want.extend(attempt);
    assert_eq!(ws.lines(&rec), want);
    assert_eq!(rec.calls()[5].how, "interactive");
    assert!(!ws.exists("sys/opt"));
}

#[test]
fn the_dry_run_of_a_missing_image_prints_the_pull_and_the_login() {
    let ws = Ws::new(YAML);
    let rec = Arc::new(engine(""));
    let out = ws.run(&rec, &["--dry-run"]);
    out.ok();
    starts(
        &out.stdout,
        &format!("docker pull {REMOTE}\ndocker tag {REMOTE} {NAME}\n"),
    );
    has(&out.stdout, "\n# if the registry refuses the credentials: docker login localhost:5000, then the pull again\ndocker create");
    assert_eq!(ws.lines(&rec), ["id -u", LS]);
}

/// A `host:` section that load refuses, with the exact message; no command runs.
fn refused(host: &str, message: &str) {
    let yaml = YAML.split("    host:\n").next().unwrap().to_string() + "    host:\n" + host;
    let ws = Ws::new(&yaml);
    let rec = Arc::new(present());
    ws.run(&rec, &["--dry-run"])
        .is(1, "", &format!("error: `$ROOT/images.yaml:{message}\n"));
    assert!(rec.lines().is_empty());
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
fn an_image_without_host_and_a_missing_root_are_refused_before_any_command() {
    let ws = Ws::new(YAML.split("    host:\n").next().unwrap());
    let rec = Arc::new(present());
    ws.run(&rec, &[]).is(1, "", "error: image `km/buildenv` has no `host:` in `$ROOT/images.yaml`, so there is nothing to set up on this host\nhint: list the packages its toolchain needs (`host: {apt: […], dnf: […]}`) and the files to copy out (`host: {artifacts: [{from: /opt/…, to: /opt/…}]}`)\n");
    assert!(rec.lines().is_empty());

    let ws = Ws::new(YAML);
    let rec = Arc::new(present());
    let nope = ws.root.join("nope");
    let out = imagemk(
        &rec,
        &ws.root,
        &["local-buildenv", "--root", nope.to_str().unwrap()],
        &[],
    );
    assert_eq!(
        (out.status, ws.clean(&out.stderr).as_str()),
        (
            1,
            "error: `--root $ROOT/nope` is not an existing directory; create it first\n"
        )
    );
    assert!(rec.lines().is_empty());
}

#[test]
fn a_missing_image_with_no_registry_says_how_to_build_it() {
    let ws = Ws::new(&YAML.replace("  registry: local\n  registries:\n    local: {kind: oci, host: \"localhost:5000\", path: kontain}\n", "  members: []\n"));
    for extra in [&[][..], &["--dry-run"][..]] {
        let rec = Arc::new(engine(""));
        let out = ws.run(&rec, extra);
        assert_eq!(out.status, 1);
        starts(&out.stderr, "error: image `km/buildenv` (`acme/buildenv-km-linux:latest`) is not in the local engine and must be pulled, but ");
        ends(
            &out.stderr,
            "\nhint: or build it here with `make buildenv-image`\n",
        );
        assert_eq!(ws.lines(&rec), ["id -u", LS]);
    }
}
