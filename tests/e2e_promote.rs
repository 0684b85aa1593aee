//! `promote` and `push --atomic` against a real registry (Debian's `docker-registry`), some
//! through tests/support/fault-proxy.py, which forwards to it and fails a chosen request:
//! promote moves a tag by digest with no engine call and no blob request, keeps an index an
//! index, refuses a locked tag that moved, and puts every tag back when the registry fails
//! part-way (or says exactly what is left when it cannot); `push --atomic` with one image the
//! registry refuses changes no real tag and leaves no staging tag.

mod support;

use support::{api, remove_images, FaultProxy, Registry, Test, BUSYBOX_BASE};

/// A workspace with images `a`, `b`, `c` (kinds a, b, c) whose registry `local` is `host`.
fn workspace(host: &str) -> Test {
    let t = Test::new();
    let ns = t.namespace();
    let mut yaml = format!(
        "workspace:\n  registries:\n    local: {{kind: oci, host: \"{host}\", path: e2e}}\n  publish:\n    refuse_tags: {{c: [prod]}}\ndefaults:\n  namespace: {ns}\ncomponent: app\nimages:\n"
    );
    for key in ["a", "b", "c"] {
        yaml.push_str(&format!("  {key}:\n    context: docker\n"));
        t.file(
            &format!("docker/{key}-linux.dockerfile"),
            &format!("{BUSYBOX_BASE}RUN echo {ns}-{key} > /id\n"),
        );
    }
    t.file("images.yaml", &yaml).busybox("docker");
    t
}

/// images.lock with `(image, repository, tag, digest)` entries, written by hand.
fn lock(t: &Test, host: &str, entries: &[(&str, &str, &str, &str)]) {
    let mut text = String::new();
    for (image, repo, tag, digest) in entries {
        text.push_str(&format!(
            "\"{host}/{repo}\":\n  image: \"{image}\"\n  tag: {tag}\n  digest: {digest}\n"
        ));
    }
    t.file("images.lock", &text);
}

fn json(out: &support::Output) -> serde_json::Value {
    assert_eq!(out.status, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

#[test]
fn promote_moves_the_tag_by_digest_without_the_engine() {
    if !support::engine() {
        return;
    }
    let reg = Registry::start();
    let proxy = FaultProxy::start(reg.port);
    let mut t = workspace(&proxy.host());
    let ns = t.namespace();
    t.run(&["build", "a", "--tag", "CI-1"]).ok();
    let pushed = json(&t.run(&["push", "a", "--tag", "CI-1", "--json"]));
    let digest = pushed[0]["digest"].as_str().unwrap().to_string();
    let repo = "e2e/a-app-linux".to_string();
    lock(&t, &proxy.host(), &[("app/a", &repo, "CI-1", &digest)]);
    // From here on any engine call would be logged by the fake, which pushes nothing.
    t.fake_docker();
    t.env("IMAGEMK_ENGINE", "docker");
    proxy.take_log();
    let out = json(&t.run(&["promote", "--to", "prod", "a", "--json"]));
    assert_eq!(
        out,
        serde_json::json!([{"image": "app/a", "remote": format!("{}/{repo}", proxy.host()),
            "from": "CI-1", "tag": "prod", "old": null, "new": digest, "changed": true}])
    );
    assert_eq!(
        api::digest(&reg.host(), &repo, "prod"),
        Some(digest.clone())
    );
    assert_eq!(t.docker_log(), Vec::<String>::new(), "no engine call");
    let calls = proxy.take_log();
    assert!(
        calls.iter().all(|c| c.contains("/manifests/")),
        "only manifest requests, no blob moved: {calls:#?}"
    );
    assert_eq!(
        calls.iter().filter(|c| c.starts_with("PUT")).count(),
        1,
        "{calls:#?}"
    );
    // Again: already there, nothing written.
    let out = t.run(&["promote", "--to", "prod", "a"]);
    out.ok();
    assert_eq!(
        out.stdout,
        format!("{}/{repo}:prod already at {digest}\n", proxy.host())
    );
    assert!(!proxy.take_log().iter().any(|c| c.starts_with("PUT")));
    remove_images(&ns);
}

#[test]
fn an_index_keeps_its_media_type_and_a_moved_source_is_refused() {
    let reg = Registry::start();
    let t = workspace(&reg.host());
    let h = reg.host();
    let (child, bytes) = api::image(&h, "e2e/a", "CI-1", "a1");
    for (repo, ctype, image) in [
        ("e2e/a", api::OCI_INDEX, "app/a"),
        ("e2e/b", api::DOCKER_LIST, "app/b"),
    ] {
        if repo == "e2e/b" {
            api::image(&h, repo, "CI-1", "a1");
        }
        let (index, body) = api::index(&h, repo, "CI-1", ctype, &child, bytes.len());
        lock(&t, &h, &[(image, repo, "CI-1", &index)]);
        t.run(&["promote", "--to", "prod", image]).ok();
        let (digest, got_type, got) = api::get(&h, repo, "prod").unwrap();
        assert_eq!((digest, got_type.as_str(), got), (index, ctype, body));
    }
    // The locked tag moved in the registry: refused, nothing changed; --force promotes.
    let (other, _) = api::image(&h, "e2e/a", "CI-2", "a2");
    let (index, _) = api::index(&h, "e2e/a", "CI-1", api::OCI_INDEX, &child, bytes.len());
    lock(&t, &h, &[("app/a", "e2e/a", "CI-1", &other)]);
    t.run(&["promote", "--to", "prod", "a"]).fails_with(&format!(
        "error: the registry no longer has what images.lock says, so nothing was promoted:\n  `{h}/e2e/a:CI-1` is at `{index}`; images.lock says `{other}`\nhint: pin again (`imagemk pin`) to promote what is there now, or pass `--force` to promote the locked digests\n"
    ));
    assert_eq!(api::digest(&h, "e2e/a", "prod"), Some(index.clone()));
    t.run(&["promote", "--to", "prod", "a", "--force"]).ok();
    assert_eq!(api::digest(&h, "e2e/a", "prod"), Some(other));
    // A tag the image's kind refuses.
    lock(&t, &h, &[("app/c", "e2e/c", "CI-1", &index)]);
    t.run(&["promote", "--to", "prod", "c"]).fails_with("error: image `app/c` may not be promoted to `prod`: images of kind `c` refuse tags `prod` (`workspace.publish.refuse_tags` in `$ROOT/images.yaml`)\n");
}

/// Three images in the registry, `prod` of `e2e/a` at an old digest, the others without it.
fn three(h: &str, lock_host: &str, t: &Test) -> (Vec<String>, String) {
    let mut digests = Vec::new();
    for key in ["a", "b", "c"] {
        digests.push(api::image(h, &format!("e2e/{key}"), "CI-1", key).0);
    }
    let (old, _) = api::image(h, "e2e/a", "prod", "old");
    let entries: Vec<(String, String, &str, &str)> = ["a", "b"]
        .iter()
        .zip(&digests)
        .map(|(k, d)| (format!("app/{k}"), format!("e2e/{k}"), "CI-1", d.as_str()))
        .collect();
    let refs: Vec<(&str, &str, &str, &str)> = entries
        .iter()
        .map(|(i, r, t, d)| (i.as_str(), r.as_str(), *t, *d))
        .collect();
    lock(t, lock_host, &refs);
    (digests, old)
}

#[test]
fn a_failure_mid_promote_puts_back_the_tags_already_moved() {
    let reg = Registry::start();
    let proxy = FaultProxy::start(reg.port);
    let t = workspace(&proxy.host());
    let (_, old) = three(&reg.host(), &proxy.host(), &t);
    proxy.set(serde_json::json!({"fail_put": 2}));
    let out = t.run(&["promote", "--to", "prod", "a", "b"]);
    let p = proxy.host();
    out.fails_with(&format!(
        "error: promote to `prod` failed: could not point `{p}/e2e/b:prod` at `{}`: could not point tag `prod` at `{}` in `e2e/b`: 500 INTERNAL_ERROR: internal_error\nnothing changed: the 1 tag(s) already moved were put back:\n  `{p}/e2e/a:prod` (was `{old}`)\n",
        api::digest(&reg.host(), "e2e/b", "CI-1").unwrap(),
        api::digest(&reg.host(), "e2e/b", "CI-1").unwrap(),
    ));
    assert_eq!(api::digest(&reg.host(), "e2e/a", "prod"), Some(old));
    assert_eq!(api::digest(&reg.host(), "e2e/b", "prod"), None);
}

#[test]
fn a_registry_down_mid_promote_says_what_moved_and_how_to_finish() {
    let reg = Registry::start();
    let proxy = FaultProxy::start(reg.port);
    let t = workspace(&proxy.host());
    let (digests, old) = three(&reg.host(), &proxy.host(), &t);
    proxy.set(serde_json::json!({"down_after_put": 1}));
    let out = t.run(&["promote", "--to", "prod", "a", "b"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    let p = proxy.host();
    for want in [
        format!("error: promote to `prod` failed: could not point `{p}/e2e/b:prod` at `{}`: registry `{p}` is unreachable", digests[1]),
        "these tags moved and could not be put back:".to_string(),
        format!("  `{p}/e2e/a:prod` now points at `{}` (was `{old}`): registry `{p}` is unreachable", digests[0]),
        format!("to put them back, run:\n  GET http://{p}/v2/e2e/a/manifests/{old}, then PUT http://{p}/v2/e2e/a/manifests/prod (the same bytes and Content-Type)\nor, to finish instead: run `imagemk promote --to prod app/a app/b` again\n"),
    ] {
        assert!(out.stderr.contains(&want), "missing {want:?} in\n{}", out.stderr);
    }
    assert_eq!(
        api::digest(&reg.host(), "e2e/a", "prod"),
        Some(digests[0].clone())
    );
    // The registry is back: running it again finishes the promotion.
    proxy.set(serde_json::json!({}));
    t.run(&["promote", "--to", "prod", "a", "b"]).ok();
    assert_eq!(
        api::digest(&reg.host(), "e2e/b", "prod"),
        Some(digests[1].clone())
    );
}

#[test]
fn push_atomic_with_one_refused_image_changes_no_tag() {
    if !support::engine() {
        return;
    }
    let reg = Registry::start();
    let proxy = FaultProxy::start(reg.port);
    let t = workspace(&proxy.host());
    let ns = t.namespace();
    let h = reg.host();
    for key in ["a", "b"] {
        t.run(&["build", key, "--tag", "v1"]).ok();
    }
    // The real tags exist, at other images.
    let olds: Vec<String> = ["a", "b"]
        .iter()
        .map(|k| api::image(&h, &format!("e2e/{k}-app-linux"), "v1", &format!("old-{k}")).0)
        .collect();
    proxy.set(serde_json::json!({"refuse_repo": "e2e/b-app-linux"}));
    let out = t.run(&["push", "a", "b", "--tag", "v1", "--atomic", "--keep-going"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("nothing was published (push --atomic): the real tags were not touched; pushed under `imagemk-stage-")
            && out.stderr.contains("` and rolled back: `app/a` (staging tags removed)"),
        "{}",
        out.stderr
    );
    for (k, old) in ["a", "b"].iter().zip(&olds) {
        let repo = format!("e2e/{k}-app-linux");
        assert_eq!(api::digest(&h, &repo, "v1").as_ref(), Some(old), "{repo}");
        assert_eq!(api::tags(&h, &repo), ["v1"], "no staging tag in {repo}");
    }
    // Nothing refused: both real tags move, only they remain.
    proxy.set(serde_json::json!({}));
    let pushed = json(&t.run(&["push", "a", "b", "--tag", "v1", "--atomic", "--json"]));
    for (i, k) in ["a", "b"].iter().enumerate() {
        let repo = format!("e2e/{k}-app-linux");
        let digest = pushed[i]["digest"].as_str().unwrap();
        assert_eq!(api::digest(&h, &repo, "v1").as_deref(), Some(digest));
        assert_ne!(Some(digest), olds.get(i).map(String::as_str));
        let tags = api::tags(&h, &repo);
        assert!(
            tags.iter().all(|t| t == "v1" || t.starts_with("in-")),
            "no staging tag in {repo}: {tags:?}"
        );
    }
    let (_, local) = support::docker(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(
        !local.contains("imagemk-stage-"),
        "a staging tag left locally:\n{local}"
    );
    remove_images(&ns);
}

#[test]
fn ctrl_c_mid_push_atomic_publishes_nothing_and_leaves_no_staging_tag() {
    use std::time::{Duration, Instant};
    let reg = Registry::start();
    let h = reg.host();
    let t = workspace(&h);
    let ns = t.namespace();
    let old = api::image(&h, "e2e/a-app-linux", "v1", "old").0;
    // The fake engine: `a` and `b` built; each push takes 30 s.
    let names: Vec<String> = ["a", "b"]
        .iter()
        .map(|k| format!("{ns}/{k}-app-linux:v1"))
        .collect();
    let store: Vec<String> = names
        .iter()
        .map(|n| format!("{n} {}\n", support::digest_of(n)))
        .collect();
    t.fake_docker();
    t.file("images", &(names.join("\n") + "\n"))
        .file("tags", &store.concat())
        .file("push-sleep", "30");
    let mut cmd = t.command(support::BIN, &["push", "a", "b", "--tag", "v1", "--atomic"]);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !t.docker_log().iter().any(|l| l.starts_with("docker push")) {
        assert!(Instant::now() < deadline, "no push started");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("nothing was published (push --atomic): the real tags were not touched; no image was pushed"),
        "{stderr}"
    );
    assert_eq!(api::digest(&h, "e2e/a-app-linux", "v1"), Some(old));
    assert_eq!(api::tags(&h, "e2e/a-app-linux"), ["v1"]);
    assert_eq!(api::tags(&h, "e2e/b-app-linux"), Vec::<String>::new());
    let left = std::fs::read_to_string(t.path("tags")).unwrap();
    assert_eq!(left, store.concat(), "a staging tag left in the engine");
}

/// On gcr and acr, promote goes through the registry API with one CLI token (the default):
/// one `gcloud auth print-access-token` / `az acr login --expose-token`, then a manifest GET
/// and PUT. The real registry stands in for the cloud's API (`IMAGEMK_TEST_API_URL`).
#[test]
fn cloud_registries_promote_through_the_api_with_one_cli_token() {
    let reg = Registry::start();
    let h = reg.host();
    for (registry, yaml, remote_host, repo, first_call) in [
        (
            "gc",
            "gc: {kind: gcr, project: proj}",
            "gcr.io",
            "proj/one",
            "gcloud auth print-access-token",
        ),
        (
            "az",
            "az: {kind: acr, name: myacr}",
            "myacr.azurecr.io",
            "one",
            "az acr login --name myacr --expose-token --output json",
        ),
    ] {
        let mut t = support::Test::new();
        t.file(
            "images.yaml",
            &format!("workspace:\n  registries:\n    {yaml}\ndefaults:\n  namespace: acme\ncomponent: app\nimages:\n  one: {{dockerfile: one.dockerfile}}\n"),
        );
        t.file("one.dockerfile", "FROM scratch\n");
        t.fake_cloud(&[]);
        t.env("IMAGEMK_CLOUD_API", "1");
        t.env("IMAGEMK_TEST_API_URL", &format!("http://{h}"));
        t.env("REGISTRY", registry);
        let (digest, _) = api::image(&h, repo, "CI-1", registry);
        t.file(
            "images.lock",
            &format!(
                "\"{remote_host}/{repo}\":\n  image: app/one\n  tag: CI-1\n  digest: {digest}\n"
            ),
        );
        t.run(&["promote", "--to", "prod", "one"]).ok();
        assert_eq!(api::digest(&h, repo, "prod"), Some(digest), "{registry}");
        let calls = t.cloud_calls();
        assert_eq!(calls.len(), 1, "{registry}: {calls:?}");
        assert!(calls[0].starts_with(first_call), "{registry}: {calls:?}");
    }
}
