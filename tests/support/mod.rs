//! The test harness every integration test uses: a temporary workspace that writes files and
//! fake executables, runs the real `imagemk` binary in it with a controlled environment, and
//! pins stdout, stderr and status. Also: the real-engine check and a real registry.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
        let path = format!(
            "{}:{}",
            root.join(".bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
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

    /// Makes `docker` unavailable (a PATH with only the fakes dir and basic tools).
    pub fn without(&mut self, program: &str) -> &mut Self {
        let dir = self.root.join(".nobin");
        fs::create_dir_all(&dir).unwrap();
        for tool in ["sh", "bash", "git", "cat", "sleep", "date", "printf", "env"] {
            if let Ok(p) = which(tool) {
                if tool != program {
                    let _ = std::os::unix::fs::symlink(p, dir.join(tool));
                }
            }
        }
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
    let busybox = Path::new(BUSYBOX).is_file();
    if ok && busybox {
        return true;
    }
    let why = if ok {
        "busybox-static is not installed"
    } else {
        "no docker engine"
    };
    if std::env::var_os("CI").is_some() {
        panic!("{why}: the end-to-end tests must run on CI (run `bash .ci/run` to install what they need)");
    }
    eprintln!("SKIPPED: {why}");
    false
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
    pub fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.path().join("config.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: imagemk-test\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.path().join("log")).unwrap())
            .spawn()
            .expect("docker-registry is installed (apt-get install docker-registry)");
        let reg = Registry { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return reg;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the test registry did not start on port {port}");
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
        use std::io::BufRead;
        let log = self.path("cloud-http.log").display().to_string();
        let mut cmd = self.command("python3", &[]);
        cmd.arg(self.path(".bin/gcloud"))
            .args(["serve", dialect, &log])
            .stdout(Stdio::piped());
        let mut child = cmd.spawn().expect("python3 runs the fake cloud API");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line.trim().parse().expect("the fake API prints its port");
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
        use std::io::BufRead;
        let script = t.path("fake-registry.py");
        fs::write(&script, include_str!("fake-registry.py")).unwrap();
        let (state_file, log) = (t.path("registry.json"), t.path("registry.log"));
        fs::write(&state_file, state.to_string()).unwrap();
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(&state_file)
            .arg(&log)
            .arg(creds)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the fake registry");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .expect("the fake registry prints its port");
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
