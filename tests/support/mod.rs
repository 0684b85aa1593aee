//! The test harness every integration test uses: a temporary workspace that writes files and
//! fake executables, runs the real `imagemk` binary in it with a controlled environment, and
//! pins stdout, stderr and status. Also: the real-engine check and a real registry.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_imagemk");

/// A temporary workspace. `root` is canonical, and `$ROOT` stands for it in expected output.
pub struct Test {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub cwd: PathBuf,
    env: BTreeMap<String, String>,
}

#[derive(Debug)]
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Test {
    pub fn new() -> Test {
        let dir = tempfile::Builder::new()
            .prefix("imagemk-test")
            .tempdir()
            .unwrap();
        let root = dir.path().canonicalize().unwrap();
        fs::create_dir_all(root.join(".bin")).unwrap();
        let mut env = BTreeMap::new();
        let tools = toolbox(&root.join(".tools"), &[BASIC_TOOLS, DRIVEN_TOOLS], "");
        let path = format!("{}:{}", root.join(".bin").display(), tools.display());
        env.insert("PATH".into(), path);
        env.insert(
            "HOME".into(),
            std::env::var("HOME").unwrap_or("/root".into()),
        );
        env.insert("USER".into(), "tester".into());
        env.insert("CI".into(), "true".into());
        Test {
            cwd: root.clone(),
            root,
            dir,
            env,
        }
    }

    /// Writes `path` (relative to the root), creating parent directories.
    pub fn file(&self, path: &str, contents: &str) -> &Self {
        let p = self.root.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, contents).unwrap();
        self
    }

    /// Puts an executable `name` on PATH, ahead of the real one.
    pub fn fake(&self, name: &str, script: &str) -> &Self {
        let p = self.root.join(".bin").join(name);
        fs::write(&p, script).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        self
    }

    /// The standard fake `docker` (tests/support/fake-docker): logs argv to `$ROOT/docker.log`.
    pub fn fake_docker(&self) -> &Self {
        self.fake("docker", include_str!("fake-docker"))
    }

    /// A fake `gcloud` (tests/support/fake-gcloud): logs argv to `$ROOT/gcloud.log`.
    pub fn fake_gcloud(&self) -> &Self {
        self.fake("gcloud", include_str!("fake-gcloud"))
    }

    /// A fake `az` (tests/support/fake-az): logs argv to `$ROOT/az.log`.
    pub fn fake_az(&self) -> &Self {
        self.fake("az", include_str!("fake-az"))
    }

    /// Makes `program` unavailable: a PATH with only the basic tools (no fakes, no engine).
    pub fn without(&mut self, program: &str) -> &mut Self {
        let dir = toolbox(&self.root.join(".nobin"), &[BASIC_TOOLS], program);
        self.env.insert("PATH".into(), dir.display().to_string());
        self
    }

    pub fn env(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.insert(key.into(), value.into());
        self
    }

    pub fn cd(&mut self, rel: &str) -> &mut Self {
        self.cwd = self.root.join(rel);
        self
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(&self.cwd)
            .env_clear()
            .envs(&self.env)
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.output(self.command(BIN, args))
    }

    pub fn make(&self, args: &[&str]) -> Output {
        let mut cmd = self.command("make", args);
        cmd.env("IMAGEMK", BIN);
        self.output(cmd)
    }

    pub fn output(&self, mut cmd: Command) -> Output {
        let out = cmd.output().unwrap();
        let clean = |b: &[u8]| {
            String::from_utf8_lossy(b).replace(&self.root.display().to_string(), "$ROOT")
        };
        Output {
            status: out.status.code().unwrap_or(-1),
            stdout: clean(&out.stdout),
            stderr: clean(&out.stderr),
        }
    }

    /// The commands the fake docker received, one per line, `$ROOT` for the root.
    pub fn docker_log(&self) -> Vec<String> {
        self.log("docker")
    }

    /// The commands the fake `program` received (`$ROOT/<program>.log`), one per line.
    pub fn log(&self, program: &str) -> Vec<String> {
        fs::read_to_string(self.root.join(format!("{program}.log")))
            .unwrap_or_default()
            .replace(&self.root.display().to_string(), "$ROOT")
            .lines()
            .map(String::from)
            .collect()
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.root.join(rel).symlink_metadata().is_ok()
    }
}

impl Output {
    /// Asserts status, stdout and stderr exactly.
    pub fn is(&self, status: i32, stdout: &str, stderr: &str) {
        assert_eq!(
            (self.status, self.stdout.as_str(), self.stderr.as_str()),
            (status, stdout, stderr),
            "\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
    }

    pub fn ok(&self) -> &Self {
        assert_eq!(
            self.status, 0,
            "\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn fails_with(&self, stderr: &str) {
        self.is(1, "", stderr);
    }
}

/// The digest (and image id) the fake docker reports for `name`: `sha256:` + sha256(name).
pub fn digest_of(name: &str) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(name.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let hex = String::from_utf8_lossy(&out.stdout);
    format!("sha256:{}", hex.split_whitespace().next().unwrap())
}

/// The basic tools the fakes and the make layer use: what every test's PATH has.
#[rustfmt::skip]
pub const BASIC_TOOLS: &[&str] = &[
    "sh", "bash", "env", "cat", "sleep", "date", "printf", "echo", "true", "false", "test",
    "[", "mkdir", "rm", "rmdir", "cp", "mv", "ls", "ln", "touch", "chmod", "grep", "sed", "awk",
    "head", "tail", "wc", "sort", "uniq", "tr", "cut", "seq", "tee", "mktemp", "dirname",
    "basename", "readlink", "realpath", "id", "stat", "find", "xargs", "kill", "timeout",
    "sha256sum", "tar", "gzip", "od", "dd", "cmp", "diff", "uname", "nproc", "whoami",
    "hostname", "flock", "nohup", "setsid", "ps", "pgrep", "pkill", "git", "make", "python3",
];

/// The real programs tests drive, on a test's PATH unless it asks for a machine without one
/// ([`Test::without`] keeps only [`BASIC_TOOLS`]).
#[rustfmt::skip]
pub const DRIVEN_TOOLS: &[&str] = &[
    "docker", "podman", "docker-registry", "curl", "setpriv", "script", "sudo", "apt-get",
    "dpkg", "dpkg-query", "gcloud", "az",
    // what podman runs from PATH (the docker CLI leaves all of this to its daemon)
    "iptables", "ip6tables", "nft", "runc", "crun", "conmon", "slirp4netns", "fuse-overlayfs",
    "newuidmap", "newgidmap", "mount", "umount", "ip", "modprobe",
];

/// `dir` filled with links to `tools` as found on the real PATH, except `except`. This, and
/// the fakes' `.bin`, is all the imagemk binary under test finds on its PATH: a developer's
/// own wrappers or a second docker never leak in.
pub fn toolbox(dir: &Path, tools: &[&[&str]], except: &str) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    for tool in tools
        .iter()
        .flat_map(|t| t.iter())
        .filter(|t| **t != except)
    {
        // A version manager's shim (pyenv) needs the manager on PATH: take the next real one.
        let found = std::env::var("PATH")
            .unwrap_or_default()
            .split(':')
            .filter(|d| !d.ends_with("/shims"))
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.is_file());
        if let Some(p) = found {
            let _ = std::os::unix::fs::symlink(p, dir.join(tool));
        }
    }
    dir.to_path_buf()
}

pub fn which(program: &str) -> Result<PathBuf, ()> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
        .ok_or(())
}

/// True when the real engine answers. Off CI a missing engine skips the test (with a line
/// saying so); on CI (`CI` set) it fails, because there these tests must run.
pub fn engine() -> bool {
    let ok = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let why = if !ok {
        "no docker engine"
    } else if !Path::new(BUSYBOX).is_file() {
        "busybox-static is not installed"
    } else if !Path::new(REGISTRY_BIN).is_file() {
        "docker-registry is not installed"
    } else {
        return true;
    };
    if std::env::var_os("CI").is_some() {
        panic!("{why}: the end-to-end tests must run on CI (run `bash .ci/run` to install what they need)");
    }
    skipped(why);
    false
}

/// The file every skipped test (or part of one) adds a line to, so that `.ci/run` can count
/// the skips in its totals line: `target/tmp/imagemk-skips.log`.
pub const SKIPS: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/imagemk-skips.log");

/// Says on stderr that the calling test (or part) is skipped and why, and records it in
/// [`SKIPS`].
pub fn skipped(why: &str) {
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("?").to_string();
    eprintln!("SKIPPED: {why}");
    if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(SKIPS) {
        let _ = writeln!(f, "{test}: {why}");
    }
}

pub const BUSYBOX: &str = "/bin/busybox";

/// A FROM-scratch Dockerfile body that gives an image a busybox shell. The build context
/// must contain `busybox` (see [`Test::busybox`]).
pub const BUSYBOX_BASE: &str = "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n";

impl Test {
    /// Copies the static busybox into `rel` (a build context).
    pub fn busybox(&self, rel: &str) -> &Self {
        let dst = self.root.join(rel).join("busybox");
        fs::create_dir_all(dst.parent().unwrap()).unwrap();
        fs::copy(BUSYBOX, &dst).unwrap();
        self
    }

    /// A namespace unique to this test, so parallel tests never share image names.
    pub fn namespace(&self) -> String {
        let base = self
            .root
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_lowercase();
        base.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
            .trim_matches('-')
            .to_string()
    }
}

/// Docker runs `docker` for real and returns (status, stdout).
pub fn docker(args: &[&str]) -> (i32, String) {
    let out = Command::new("docker").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

/// Every local `repository:tag` of the real engine containing `ns`, sorted.
pub fn local_tags(ns: &str) -> Vec<String> {
    let (_, list) = docker(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
    let mut v: Vec<String> = list
        .lines()
        .filter(|l| l.contains(ns))
        .map(String::from)
        .collect();
    v.sort();
    v
}

/// The image id of the local image `name` (empty when there is none).
pub fn image_id(name: &str) -> String {
    docker(&["image", "inspect", "--format", "{{.Id}}", name]).1
}

/// Removes every local image whose repository starts with `prefix` (test clean-up).
pub fn remove_images(prefix: &str) {
    let (_, list) = docker(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
    let names: Vec<&str> = list.lines().filter(|l| l.contains(prefix)).collect();
    if !names.is_empty() {
        let mut args = vec!["image", "rm", "-f"];
        args.extend(names);
        docker(&args);
    }
}

/// A real registry (Debian's `docker-registry`, distribution 2.8) on a free 127.0.0.1 port,
/// deletes enabled, storage in a temp dir; stopped when dropped.
pub struct Registry {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

impl Registry {
    /// Starts the registry on port 0 and reads the port it bound from its own log line
    /// (`listening on 127.0.0.1:PORT`, written once the socket listens): no port is bound and
    /// released first, so no other process can take it in between.
    pub fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: 127.0.0.1:0\n  secret: imagemk-test\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let mut child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker-registry is installed (apt-get install docker-registry)");
        let port = listening_port(child.stderr.take().unwrap(), dir.path().join("log"));
        match port {
            Some(port) => Registry { child, port, dir },
            None => {
                let _ = child.kill();
                let log = fs::read_to_string(dir.path().join("log")).unwrap_or_default();
                panic!("the test registry exited before listening:\n{log}");
            }
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the registry (to test a registry that is down).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A small registry for the fake `gcloud` and `az`: `(repository, [(digest, tags, created)])`.
pub type CloudRepo<'a> = (&'a str, &'a [(&'a str, &'a [&'a str], &'a str)]);

impl Test {
    /// Installs the fake `gcloud` and `az` (tests/support/fake-cloud.py) over a registry held
    /// in `$ROOT/cloud.json`; calls are logged to `$ROOT/cloud.log`.
    pub fn fake_cloud(&mut self, repos: &[CloudRepo]) -> &mut Self {
        let mut map = serde_json::Map::new();
        for (name, manifests) in repos {
            let list: Vec<serde_json::Value> = manifests
                .iter()
                .map(|(d, tags, created)| {
                    serde_json::json!({"digest": format!("sha256:{d}"), "tags": tags, "created": created})
                })
                .collect();
            map.insert(name.to_string(), list.into());
        }
        self.file(
            "cloud.json",
            &serde_json::json!({ "repos": map }).to_string(),
        );
        self.fake("gcloud", include_str!("fake-cloud.py"));
        self.fake("az", include_str!("fake-cloud.py"));
        let state = self.path("cloud.json").display().to_string();
        let log = self.path("cloud.log").display().to_string();
        // Every operation through the fake CLIs; `fake_cloud_api` serves the HTTP side.
        self.env("FAKE_STATE", &state)
            .env("FAKE_LOG", &log)
            .env("IMAGEMK_CLOUD_API", "0")
    }

    /// After [`Test::fake_cloud`]: the same registry's HTTP API (`dialect`: gcr, gar or acr)
    /// on a free port, which imagemk then uses (`IMAGEMK_TEST_API_URL`) with one token from
    /// the fake CLI. Requests are logged to `$ROOT/cloud-http.log`; set fault variables
    /// (`FAKE_FAIL`, `FAKE_ADD_TAG`, …) before calling this.
    pub fn fake_cloud_api(&mut self, dialect: &str) -> CloudApi {
        let log = self.path("cloud-http.log").display().to_string();
        let mut cmd = self.command("python3", &[]);
        cmd.arg(self.path(".bin/gcloud"))
            .args(["serve", dialect, &log]);
        let (child, port) = spawn_printing_port(cmd, "the fake cloud API");
        self.env.remove("IMAGEMK_CLOUD_API");
        self.env("IMAGEMK_TEST_API_URL", &format!("http://127.0.0.1:{port}"));
        CloudApi { child }
    }

    /// The base URL of the fake cloud API (`http://127.0.0.1:PORT`).
    pub fn http_base(&self) -> String {
        self.env
            .get("IMAGEMK_TEST_API_URL")
            .cloned()
            .unwrap_or_default()
    }

    /// The fake cloud API's requests (`METHOD PATH`), in order.
    pub fn http_calls(&self) -> Vec<String> {
        fs::read_to_string(self.root.join("cloud-http.log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    /// The fake cloud's calls, one per line, in order.
    pub fn cloud_calls(&self) -> Vec<String> {
        fs::read_to_string(self.root.join("cloud.log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    /// The fake registry now: `repository digest tag,tag` lines, sorted.
    pub fn cloud_state(&self) -> Vec<String> {
        let v: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(self.root.join("cloud.json")).unwrap())
                .unwrap();
        let mut lines = Vec::new();
        for (repo, manifests) in v["repos"].as_object().unwrap() {
            for m in manifests.as_array().unwrap() {
                let tags: Vec<&str> = m["tags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_str().unwrap())
                    .collect();
                lines.push(format!(
                    "{repo} {} {}",
                    &m["digest"].as_str().unwrap()[7..],
                    tags.join(",")
                ));
            }
        }
        lines.sort();
        lines
    }
}

/// Copies the registry's log lines from `stderr` into `log` (in a thread, for as long as the
/// registry runs) and returns the port of its `listening on 127.0.0.1:PORT` line, or `None`
/// when it exits first.
fn listening_port(stderr: std::process::ChildStderr, log: PathBuf) -> Option<u16> {
    use std::io::{BufRead, Write};
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut file = fs::File::create(log).unwrap();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = writeln!(file, "{line}");
            if let Some(rest) = line.split("listening on 127.0.0.1:").nth(1) {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                let _ = tx.send(digits.parse::<u16>().ok());
            }
        }
        let _ = tx.send(None);
    });
    rx.recv_timeout(Duration::from_secs(60)).ok().flatten()
}

/// Starts `cmd` (a server of ours that prints the port it bound as its first line) and reads
/// that port.
fn spawn_printing_port(mut cmd: Command, what: &str) -> (Child, u16) {
    use std::io::BufRead;
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what} does not start: {e}"));
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{what} printed no port: {line:?}"));
    (child, port)
}

/// tests/support/fake-registry.py on a free port: the bearer token flow, a paged catalog and
/// strict `Accept` checks that the real registry does not show. Stopped when dropped.
pub struct FakeRegistry {
    child: Child,
    pub port: u16,
    pub state: PathBuf,
    pub log: PathBuf,
}

impl FakeRegistry {
    /// `state`: `{"repos": {"ns/app": {"tags": {"t": "sha256:.."}}}}`; `creds`: `user:password`.
    pub fn start(t: &Test, state: &serde_json::Value, creds: &str) -> FakeRegistry {
        let script = t.path("fake-registry.py");
        fs::write(&script, include_str!("fake-registry.py")).unwrap();
        let (state_file, log) = (t.path("registry.json"), t.path("registry.log"));
        fs::write(&state_file, state.to_string()).unwrap();
        let mut cmd = Command::new("python3");
        cmd.arg(&script).arg(&state_file).arg(&log).arg(creds);
        let (child, port) = spawn_printing_port(cmd, "the fake registry");
        FakeRegistry {
            child,
            port,
            state: state_file,
            log,
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Repository → tag → digest, now.
    pub fn tags(&self) -> serde_json::Value {
        let v: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&self.state).unwrap()).unwrap();
        let mut out = serde_json::Map::new();
        for (repo, r) in v["repos"].as_object().unwrap() {
            out.insert(repo.clone(), r["tags"].clone());
        }
        out.into()
    }

    /// `(client port, "METHOD PATH")` of every request, in order.
    pub fn requests(&self) -> Vec<(String, String)> {
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let (port, rest) = l.split_once(' ').unwrap();
                (port.to_string(), rest.to_string())
            })
            .collect()
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// tests/support/fault-proxy.py in front of `upstream` (a registry port): forwards every
/// request, logs `METHOD PATH`, and injects the faults written with [`FaultProxy::set`].
pub struct FaultProxy {
    child: Child,
    pub port: u16,
    knobs: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl FaultProxy {
    pub fn start(upstream: u16) -> FaultProxy {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("fault-proxy.py");
        fs::write(&script, include_str!("fault-proxy.py")).unwrap();
        let (knobs, log) = (dir.path().join("knobs.json"), dir.path().join("proxy.log"));
        let mut cmd = Command::new("python3");
        cmd.arg(&script)
            .arg(upstream.to_string())
            .arg(&knobs)
            .arg(&log);
        let (child, port) = spawn_printing_port(cmd, "the fault proxy");
        FaultProxy {
            child,
            port,
            knobs,
            log,
            _dir: dir,
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Sets the faults (see fault-proxy.py), e.g. `{"fail_put": 2}`.
    pub fn set(&self, knobs: serde_json::Value) {
        fs::write(&self.knobs, knobs.to_string()).unwrap();
    }

    /// `METHOD PATH` of every request so far; clears the log.
    pub fn take_log(&self) -> Vec<String> {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let _ = fs::remove_file(&self.log);
        text.lines().map(String::from).collect()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The fake cloud API server of [`Test::fake_cloud_api`]; stopped when dropped.
pub struct CloudApi {
    child: Child,
}

impl Drop for CloudApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The registry HTTP API, for tests that put or read manifests without an engine.
pub mod api {
    use sha2::{Digest, Sha256};

    pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

    pub fn sha(bytes: &[u8]) -> String {
        format!("sha256:{:x}", Sha256::digest(bytes))
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into()
    }

    /// Uploads a blob (monolithic: POST, then PUT with the digest); returns its digest.
    pub fn blob(host: &str, repo: &str, bytes: &[u8]) -> String {
        let digest = sha(bytes);
        let a = agent();
        let r = a
            .post(&format!("http://{host}/v2/{repo}/blobs/uploads/"))
            .send_empty()
            .unwrap();
        assert_eq!(r.status(), 202, "blob upload start");
        let loc = r.headers()["Location"].to_str().unwrap().to_string();
        let url = if loc.starts_with('/') {
            format!("http://{host}{loc}")
        } else {
            loc
        };
        let sep = if url.contains('?') { '&' } else { '?' };
        let r = a
            .put(&format!("{url}{sep}digest={digest}"))
            .header("Content-Type", "application/octet-stream")
            .send(bytes)
            .unwrap();
        assert_eq!(r.status(), 201, "blob upload");
        digest
    }

    /// PUTs `body` as a manifest of type `ctype` under `reference`; returns its digest.
    pub fn put(host: &str, repo: &str, reference: &str, ctype: &str, body: &[u8]) -> String {
        let r = agent()
            .put(&format!("http://{host}/v2/{repo}/manifests/{reference}"))
            .header("Content-Type", ctype)
            .send(body)
            .unwrap();
        assert_eq!(r.status(), 201, "manifest PUT of {repo}:{reference}");
        sha(body)
    }

    /// A small image (config and one layer of `content`) as a docker v2 manifest under `tag`.
    pub fn image(host: &str, repo: &str, tag: &str, content: &str) -> (String, Vec<u8>) {
        let config = format!(
            "{{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{{}},\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[]}},\"created\":\"2026-01-01T00:00:00Z\",\"comment\":\"{content}\"}}"
        );
        let layer = format!("layer of {content}");
        let (c, l) = (
            blob(host, repo, config.as_bytes()),
            blob(host, repo, layer.as_bytes()),
        );
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": config.len(), "digest": c},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": layer.len(), "digest": l}],
        }))
        .unwrap();
        (put(host, repo, tag, DOCKER_MANIFEST, &manifest), manifest)
    }

    /// An index of type `ctype` over the image manifest `child` (`size` bytes), under `tag`.
    pub fn index(
        host: &str,
        repo: &str,
        tag: &str,
        ctype: &str,
        child: &str,
        size: usize,
    ) -> (String, Vec<u8>) {
        let body = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": ctype,
            "manifests": [{"mediaType": DOCKER_MANIFEST, "size": size, "digest": child,
                           "platform": {"architecture": "amd64", "os": "linux"}}],
        }))
        .unwrap();
        (put(host, repo, tag, ctype, &body), body)
    }

    /// `(Docker-Content-Digest, Content-Type, body)` of a GET with every Accept type; None
    /// when the registry has no such manifest.
    pub fn get(host: &str, repo: &str, reference: &str) -> Option<(String, String, Vec<u8>)> {
        let mut r = agent()
            .get(&format!("http://{host}/v2/{repo}/manifests/{reference}"))
            .header("Accept", ACCEPT)
            .call()
            .unwrap();
        if r.status() == 404 {
            return None;
        }
        assert_eq!(r.status(), 200, "GET {repo}:{reference}");
        let h = |n: &str| r.headers()[n].to_str().unwrap().to_string();
        let (d, t) = (h("Docker-Content-Digest"), h("Content-Type"));
        Some((d, t, r.body_mut().read_to_vec().unwrap()))
    }

    /// The digest `repo:reference` points at, if any.
    pub fn digest(host: &str, repo: &str, reference: &str) -> Option<String> {
        get(host, repo, reference).map(|(d, _, _)| d)
    }

    /// The tags of `repo`.
    pub fn tags(host: &str, repo: &str) -> Vec<String> {
        let mut r = agent()
            .get(&format!("http://{host}/v2/{repo}/tags/list"))
            .call()
            .unwrap();
        if r.status() == 404 {
            return Vec::new();
        }
        let v: serde_json::Value =
            serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap();
        let mut tags: Vec<String> = v["tags"]
            .as_array()
            .map(|a| a.iter().map(|t| t.as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        tags.sort();
        tags
    }
}
