//! push and pull on the real engine against a real registry, where they share the engine with
//! other runs and with the user's own tags: eight concurrent pushes and eight concurrent pulls
//! of one image all succeed and leave no remote-named tag; a remote-named tag the user had
//! stays; a signal at every phase of push and pull (after the tag, during the push, after the
//! push, during the pull, after the pull but before the local tag) exits 130 and leaves no
//! tag the run made, the user's tags and the local image as they were.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{docker, image_id, local_tags, remove_images, Registry, Test, BUSYBOX_BASE};

/// A workspace whose registry `local` is `host` with path `<namespace>`, so every remote name
/// of the test carries its unique namespace; one image `app/base`. Returns the test, the
/// namespace, the local name and the remote name of tag `v1`.
fn workspace(host: &str) -> (Test, String, String, String) {
    let t = Test::new();
    let ns = t.namespace();
    t.file(
        "images.yaml",
        &format!(
            "workspace:\n  registries:\n    local: {{kind: oci, host: \"{host}\", path: {ns}}}\ndefaults:\n  namespace: {ns}\ncomponent: app\nimages:\n  base:\n    context: docker\n"
        ),
    )
    .file(
        "docker/base-linux.dockerfile",
        &format!("{BUSYBOX_BASE}RUN echo {ns} > /id\n"),
    )
    .busybox("docker");
    let local = format!("{ns}/base-app-linux:v1");
    let remote = format!("{host}/{ns}/base-app-linux:v1");
    (t, ns, local, remote)
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

fn spawn(t: &Test, args: &[&str]) -> Child {
    t.command(support::BIN, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_ok(child: Child) {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn eight_concurrent_pushes_then_pulls_of_one_image_all_succeed_and_leave_no_tag() {
    if !support::engine() {
        return;
    }
    let reg = Registry::start();
    let (t, ns, local, remote) = workspace(&reg.host());
    t.run(&["build", "base", "--tag", "v1"]).ok();
    let id = image_id(&local);
    // The user's own tag in the same repository, which nothing may touch.
    let mine = format!("{}/{ns}/base-app-linux:mine", reg.host());
    assert_eq!(docker(&["tag", &local, &mine]).0, 0);
    let push = ["push", "base", "--tag", "v1"];
    let runs: Vec<Child> = (0..8).map(|_| spawn(&t, &push)).collect();
    runs.into_iter().for_each(wait_ok);
    assert_eq!(local_tags(&ns), sorted(&[local.clone(), mine.clone()]));
    // Besides `v1`, push publishes the image's input-digest tag (`in-<hex16>`).
    let listed = support::api::tags(&reg.host(), &format!("{ns}/base-app-linux"));
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(
        listed[0].starts_with("in-") && listed[1] == "v1",
        "{listed:?}"
    );

    assert_eq!(docker(&["image", "rm", "--no-prune", &local]).0, 0);
    let pull = ["pull", "base", "--tag", "v1"];
    let runs: Vec<Child> = (0..8).map(|_| spawn(&t, &pull)).collect();
    runs.into_iter().for_each(wait_ok);
    assert_eq!(local_tags(&ns), sorted(&[local.clone(), mine.clone()]));
    assert_eq!(image_id(&local), id);
    assert_eq!(image_id(&mine), id);
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path(".imagemk/pulled.json")).unwrap())
            .unwrap();
    assert_eq!(record[&local]["id"], id.as_str());

    // The user had the remote-named tag itself: eight pushes and eight pulls keep it.
    assert_eq!(docker(&["tag", &local, &remote]).0, 0);
    let runs: Vec<Child> = (0..8)
        .map(|i| spawn(&t, if i % 2 == 0 { &push } else { &pull }))
        .collect();
    runs.into_iter().for_each(wait_ok);
    assert_eq!(
        local_tags(&ns),
        sorted(&[local.clone(), mine, remote.clone()])
    );
    assert_eq!(image_id(&remote), id);
    remove_images(&ns);
}

/// A TCP proxy to the registry that holds every connection until opened.
struct Gate {
    port: u16,
    open: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
}

impl Gate {
    fn start(target: u16) -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (flag, count) = (open.clone(), accepted.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                let flag = flag.clone();
                std::thread::spawn(move || forward(client, target, &flag));
            }
        });
        Gate {
            port,
            open,
            accepted,
        }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

fn forward(client: TcpStream, target: u16, open: &AtomicBool) {
    while !open.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
        return;
    };
    let pipe = |mut from: TcpStream, mut to: TcpStream| {
        std::thread::spawn(move || {
            let mut buf = [0u8; 16384];
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 || to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(std::net::Shutdown::Write);
        })
    };
    pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
    pipe(server, client);
}

/// Puts a `docker` on PATH that runs the real one and, at `phase` (`after-tag`, `after-push`,
/// `after-pull`; once per test), touches `held` and waits for `release` before going on.
fn hold_at(t: &Test, phase: &str) {
    let real = support::which("docker").unwrap();
    t.file("hold", phase);
    t.fake(
        "docker",
        &format!(
            "#!/usr/bin/env bash\nroot=\"$(cd \"$(dirname \"$0\")/..\" && pwd)\"\necho \"$*\" >> \"$root/docker.log\"\n{} \"$@\"; rc=$?\nif [ \"after-$1\" = \"$(cat \"$root/hold\")\" ] && [ ! -e \"$root/held\" ]; then\n  touch \"$root/held\"\n  for _ in $(seq 600); do [ -e \"$root/release\" ] && break; sleep 0.1; done\nfi\nexit $rc\n",
            real.display()
        ),
    );
}

/// Waits until `cond`, then sends SIGTERM to `child`, releases a held docker, and returns the
/// child's status and stderr.
fn terminate_when(t: &Test, child: Child, what: &str, cond: impl Fn() -> bool) -> (i32, String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(200));
    t.file("release", "");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(sent.elapsed() < Duration::from_secs(20), "{stderr}");
    (out.status.code().unwrap_or(-1), stderr)
}

/// One signal case: an image `v1` built, the user's own tag `mine` in the remote repository;
/// for a pull, the registry has `v1` and the local name is gone. Runs `args`, sends SIGTERM at
/// `phase` (held by the docker wrapper, or, when `gated`, while docker waits on the registry
/// behind a closed [`Gate`]), and checks: exit 130, the engine's tags exactly as before, the
/// user's tag on its image, the local image intact.
fn signal_case(phase: &str, args: &[&str], gated: bool) {
    let reg = Registry::start();
    let gate = Gate::start(reg.port);
    let host = if gated { gate.host() } else { reg.host() };
    let (t, ns, local, remote) = workspace(&host);
    t.run(&["build", "base", "--tag", "v1"]).ok();
    let id = image_id(&local);
    let mine = format!("{host}/{ns}/base-app-linux:mine");
    assert_eq!(docker(&["tag", &local, &mine]).0, 0);
    let pulling = args[0] == "pull";
    if pulling {
        // Pushed by hand straight to the registry (not through the gate).
        let direct = format!("{}/{ns}/base-app-linux:v1", reg.host());
        assert_eq!(docker(&["tag", &local, &direct]).0, 0);
        assert_eq!(docker(&["push", &direct]).0, 0);
        assert_eq!(docker(&["image", "rm", "--no-prune", &direct]).0, 0);
        assert_eq!(docker(&["image", "rm", "--no-prune", &local]).0, 0);
    }
    let before = local_tags(&ns);
    if !gated {
        hold_at(&t, phase);
    }
    let child = spawn(&t, args);
    let (status, stderr) = if gated {
        terminate_when(&t, child, phase, || {
            gate.accepted.load(Ordering::SeqCst) > 0
        })
    } else {
        terminate_when(&t, child, phase, || t.exists("held"))
    };
    assert_eq!(status, 130, "{phase}: {stderr}");
    assert!(stderr.contains("error: interrupted"), "{phase}: {stderr}");
    assert_eq!(
        local_tags(&ns),
        before,
        "{phase}: the tags are as they were"
    );
    assert!(!local_tags(&ns).contains(&remote));
    assert_eq!(
        image_id(&mine),
        id,
        "{phase}: the user's tag is on its image"
    );
    if !pulling {
        assert_eq!(image_id(&local), id, "{phase}: the local image is intact");
        let repo = format!("{ns}/base-app-linux");
        let pushed = support::api::tags(&reg.host(), &repo);
        assert!(
            phase == "after-push" || pushed.is_empty(),
            "{phase}: {pushed:?}"
        );
    }
    // Let the held connections drain to the registry, now that the run is over.
    gate.open.store(true, Ordering::SeqCst);
    remove_images(&ns);
}

#[test]
fn a_signal_after_the_tag_stops_before_the_push_and_removes_the_tag() {
    if support::engine() {
        signal_case("after-tag", &["push", "base", "--tag", "v1"], false);
    }
}

#[test]
fn a_signal_during_the_push_removes_the_tag() {
    if support::engine() {
        signal_case("during-push", &["push", "base", "--tag", "v1"], true);
    }
}

#[test]
fn a_signal_after_the_push_still_removes_the_tag() {
    if support::engine() {
        signal_case("after-push", &["push", "base", "--tag", "v1"], false);
    }
}

#[test]
fn a_signal_during_the_pull_leaves_no_tag() {
    if support::engine() {
        signal_case("during-pull", &["pull", "base", "--tag", "v1"], true);
    }
}

#[test]
fn a_signal_after_the_pull_removes_the_pulled_tag_and_tags_nothing() {
    if support::engine() {
        signal_case("after-pull", &["pull", "base", "--tag", "v1"], false);
    }
}
