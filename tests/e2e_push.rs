//! push and pull on the real engine against a real registry (Debian's `docker-registry` on a
//! free 127.0.0.1 port): the round trip keeps the digest, no remote-named tag is ever left
//! behind (after success, a registry that is down, or SIGTERM mid-push), and pushes of two
//! tags in parallel do not interfere. Images are FROM scratch with a static busybox.

mod support;

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{docker, image_id, remove_images, Registry, Test, BUSYBOX_BASE};

/// A workspace whose `local` registry is `host`, with one image `app/base` (unique content).
fn workspace(host: &str) -> (Test, String) {
    let t = Test::new();
    let ns = t.namespace();
    t.file(
        "images.yaml",
        &format!(
            "workspace:\n  registries:\n    local: {{kind: oci, host: \"{host}\", path: e2e}}\ndefaults:\n  namespace: {ns}\ncomponent: app\nimages:\n  base:\n    context: docker\n"
        ),
    )
    .file(
        "docker/base-linux.dockerfile",
        &format!("{BUSYBOX_BASE}RUN echo {ns} > /id\n"),
    )
    .busybox("docker");
    (t, ns)
}

fn build(t: &Test, tag: &str) {
    t.run(&["build", "base", "--tag", tag]).ok();
}

/// Every local `repository:tag` under `host/`.
fn remote_named(host: &str) -> Vec<String> {
    let (_, list) = docker(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
    list.lines()
        .filter(|l| l.starts_with(&format!("{host}/")))
        .map(String::from)
        .collect()
}

fn json(out: &support::Output) -> serde_json::Value {
    assert_eq!(out.status, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

#[test]
fn push_remove_pull_gives_back_the_same_image() {
    if !support::engine() {
        return;
    }
    let reg = Registry::start();
    let (t, ns) = workspace(&reg.host());
    build(&t, "CI-42");
    let local = format!("{ns}/base-app-linux:CI-42");
    let remote = format!("{}/e2e/base-app-linux:CI-42", reg.host());
    let id = image_id(&local);

    let pushed = json(&t.run(&["push", "base", "--tag", "CI-42", "--json"]));
    assert_eq!(pushed[0]["name"], local.as_str());
    assert_eq!(pushed[0]["remote"], remote.as_str());
    let digest = pushed[0]["digest"].as_str().unwrap().to_string();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    assert_eq!(remote_named(&reg.host()), Vec::<String>::new());
    assert_eq!(image_id(&local), id, "the local image is intact");

    assert_eq!(docker(&["image", "rm", &local]).0, 0);
    let pulled = json(&t.run(&["pull", "base", "--tag", "CI-42", "--json"]));
    assert_eq!(pulled[0]["digest"], digest.as_str());
    assert_eq!(pulled[0]["remote"], remote.as_str());
    assert_eq!(
        image_id(&local),
        id,
        "the local name is back on the same image"
    );
    assert_eq!(remote_named(&reg.host()), Vec::<String>::new());
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path(".imagemk/pulled.json")).unwrap())
            .unwrap();
    assert_eq!(record[&local]["digest"], digest.as_str());
    assert_eq!(record[&local]["id"], id.as_str());
    remove_images(&ns);
}

#[test]
fn a_registry_that_is_down_fails_cleanly() {
    if !support::engine() {
        return;
    }
    let mut reg = Registry::start();
    let host = reg.host();
    reg.stop();
    let (t, ns) = workspace(&host);
    build(&t, "v1");
    let local = format!("{ns}/base-app-linux:v1");
    let id = image_id(&local);
    let out = t.run(&["push", "base", "--tag", "v1"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "error: the push of `app/base` failed: `docker push {host}/e2e/base-app-linux:v1` exited with status 1"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.ends_with(&format!("hint: registry `local` does not answer at `{host}`; check that it is running and that its host in `images.yaml` is right\n")),
        "{}",
        out.stderr
    );
    assert_eq!(remote_named(&host), Vec::<String>::new());
    assert_eq!(image_id(&local), id);
    let out = t.run(&["pull", "base", "--tag", "v1"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert_eq!(remote_named(&host), Vec::<String>::new());
    remove_images(&ns);
}

#[test]
fn two_tags_pushed_in_parallel_do_not_interfere() {
    if !support::engine() {
        return;
    }
    let reg = Registry::start();
    let (t, ns) = workspace(&reg.host());
    build(&t, "a");
    let local_a = format!("{ns}/base-app-linux:a");
    assert_eq!(
        docker(&["tag", &local_a, &format!("{ns}/base-app-linux:b")]).0,
        0
    );
    let spawn = |tag: &str| {
        t.command(support::BIN, &["push", "base", "--tag", tag, "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("a"), spawn("b"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for out in [&a, &b] {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let digest = |out: &std::process::Output| {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v[0]["digest"].as_str().unwrap().to_string()
    };
    assert_eq!(digest(&a), digest(&b), "one image under two tags");
    let tags = Command::new("curl")
        .args([
            "-sf",
            &format!("http://{}/v2/e2e/base-app-linux/tags/list", reg.host()),
        ])
        .output()
        .unwrap();
    let mut listed: Vec<String> = serde_json::from_slice::<serde_json::Value>(&tags.stdout)
        .unwrap()["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    listed.sort();
    // Both pushes also push the image's input-digest tag (`in-<hex16>`): one image, one tag.
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert_eq!(listed[..2], ["a", "b"]);
    assert!(
        listed[2].starts_with("in-") && listed[2].len() == 19,
        "{listed:?}"
    );
    assert_eq!(remote_named(&reg.host()), Vec::<String>::new());
    remove_images(&ns);
}

#[test]
fn sigterm_mid_push_leaves_no_remote_tag() {
    if !support::engine() {
        return;
    }
    // A "registry" that accepts connections and never answers, so the push is in flight.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let (t, ns) = workspace(&host);
    build(&t, "v1");
    let local = format!("{ns}/base-app-linux:v1");
    let id = image_id(&local);
    let child = t
        .command(support::BIN, &["push", "base", "--tag", "v1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while remote_named(&host).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the temporary tag never appeared"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1000));
    let stopped = Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stopped.elapsed() < Duration::from_secs(15), "{stderr}");
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert_eq!(remote_named(&host), Vec::<String>::new());
    assert_eq!(image_id(&local), id, "the local image is intact");
    remove_images(&ns);
}
