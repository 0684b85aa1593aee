//! End to end: `imagemk clean` against a real registry (Debian's docker-registry, deletes
//! enabled), filled with FROM-scratch busybox images pushed by the real docker engine.

mod support;

use std::collections::BTreeMap;

use support::{docker, engine, remove_images, Registry, Test, BUSYBOX_BASE};

/// A workspace whose only registry is `reg`, repositories under this test's namespace.
fn workspace(reg: &Registry) -> (Test, String) {
    let t = Test::new();
    let ns = t.namespace();
    t.file(
        "images.yaml",
        &format!(
            "workspace:\n  registry: local\n  registries:\n    local:\n      kind: oci\n      host: \"{}\"\n      path: {ns}\ncomponent: app\n",
            reg.host()
        ),
    );
    t.busybox("ctx");
    t.file("ctx/Dockerfile", BUSYBOX_BASE);
    (t, ns)
}

/// Builds a distinct image (its own label) and pushes it to `repo` under every tag.
fn push(t: &Test, reg: &Registry, ns: &str, repo: &str, tags: &[&str], label: &str) {
    let local = format!("{ns}/local:{label}");
    let ctx = t.path("ctx");
    let (s, _) = docker(&[
        "build",
        "-q",
        "--label",
        &format!("n={label}"),
        "-t",
        &local,
        ctx.to_str().unwrap(),
    ]);
    assert_eq!(s, 0, "docker build {label}");
    for tag in tags {
        let remote = format!("{}/{ns}/{repo}:{tag}", reg.host());
        assert_eq!(docker(&["tag", &local, &remote]).0, 0);
        assert_eq!(
            docker(&["push", "-q", &remote]).0,
            0,
            "docker push {remote}"
        );
    }
}

/// Tag → digest for `repo`, read straight from the registry.
fn state(reg: &Registry, ns: &str, repo: &str) -> BTreeMap<String, String> {
    let agent = ureq::Agent::new_with_defaults();
    let base = format!("http://{}/v2/{ns}/{repo}", reg.host());
    let body = match agent.get(format!("{base}/tags/list")).call() {
        Ok(mut r) => r.body_mut().read_to_string().unwrap(),
        Err(_) => return BTreeMap::new(),
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let tags: Vec<String> = serde_json::from_value(v["tags"].clone()).unwrap_or_default();
    tags.into_iter()
        .map(|tag| {
            let r = agent
                .head(format!("{base}/manifests/{tag}"))
                .header("Accept", imagemk::registry::oci::ACCEPT)
                .call()
                .unwrap();
            let d = r
                .headers()
                .get("Docker-Content-Digest")
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            (tag, d)
        })
        .collect()
}

fn tags(s: &BTreeMap<String, String>) -> Vec<&str> {
    s.keys().map(String::as_str).collect()
}

#[test]
fn clean_tag_deletes_sole_tags_untags_shared_ones_and_leaves_others() {
    if !engine() {
        return;
    }
    let reg = Registry::start();
    let (t, ns) = workspace(&reg);
    push(&t, &reg, &ns, "one", &["CI-42"], "one");
    push(&t, &reg, &ns, "two", &["CI-42", "latest", "v1"], "two");
    push(&t, &reg, &ns, "three", &["CI-41"], "three");
    let before_two = state(&reg, &ns, "two");

    // A dry run prints the plan and the requests, and changes nothing.
    let out = t.run(&["clean", "--tag", "CI-42", "--dry-run"]);
    out.ok();
    assert!(
        out.stdout.contains(&format!("delete {ns}/one@sha256:")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("[CI-42]  `CI-42` is its only tag"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("[CI-42 latest v1]  remove `CI-42`; `latest`, `v1` stay"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.ends_with(
            "dry run, nothing changed: would untag 1, would delete 1, kept 0, failed 0\n"
        ),
        "{}",
        out.stdout
    );
    assert_eq!(tags(&state(&reg, &ns, "one")), ["CI-42"]);
    assert_eq!(state(&reg, &ns, "two"), before_two);

    let out = t.run(&["clean", "--tag", "CI-42"]);
    out.ok();
    assert!(
        out.stdout
            .ends_with("untagged 1, deleted 1, kept 0, failed 0\n"),
        "{}",
        out.stdout
    );
    assert_eq!(out.stderr, "");
    assert!(state(&reg, &ns, "one").is_empty());
    let after_two = state(&reg, &ns, "two");
    assert_eq!(tags(&after_two), ["latest", "v1"]);
    assert_eq!(
        after_two["latest"], before_two["latest"],
        "the image itself stays"
    );
    assert_eq!(tags(&state(&reg, &ns, "three")), ["CI-41"]);

    // Again: nothing left to do.
    t.run(&["clean", "--tag", "CI-42"])
        .is(0, "untagged 0, deleted 0, kept 0, failed 0\n", "");
    remove_images(&ns);
}

#[test]
fn keep_and_match_policies_need_yes_and_keep_the_newest() {
    if !engine() {
        return;
    }
    let reg = Registry::start();
    let (t, ns) = workspace(&reg);
    push(&t, &reg, &ns, "app", &["CI-1"], "1");
    push(&t, &reg, &ns, "app", &["CI-2", "prod"], "2");
    push(&t, &reg, &ns, "app", &["CI-3", "keepme"], "3");
    push(&t, &reg, &ns, "app", &["CI-4"], "4");
    let before = state(&reg, &ns, "app");

    // Wider than one exact tag: without --yes it is only a plan.
    let args = [
        "clean",
        "--match",
        "CI-[0-9]+",
        "--exclude",
        "CI-4",
        "--keep",
        "1",
    ];
    let out = t.run(&args);
    out.ok();
    assert_eq!(out.stderr, "note: this policy is wider than one exact tag, so nothing was changed; check the plan above and pass `--yes` to apply it\n");
    assert_eq!(state(&reg, &ns, "app"), before);

    let mut yes = args.to_vec();
    yes.push("--yes");
    let out = t.run(&yes);
    out.ok();
    // CI-3 is on the newest matching image (kept); CI-2 goes but `prod` keeps its image;
    // CI-1 was the only tag of its image; CI-4 is excluded.
    assert!(out.stdout.contains("one of the 1 newest"), "{}", out.stdout);
    assert!(
        out.stdout
            .ends_with("untagged 1, deleted 1, kept 1, failed 0\n"),
        "{}",
        out.stdout
    );
    let after = state(&reg, &ns, "app");
    assert_eq!(tags(&after), ["CI-3", "CI-4", "keepme", "prod"]);
    assert_eq!(after["prod"], before["prod"]);
    remove_images(&ns);
}

#[test]
fn unreachable_registry_names_it() {
    let mut reg = Registry::start();
    let (t, _) = workspace(&reg);
    let host = reg.host();
    reg.stop();
    let out = t.run(&["clean", "--tag", "CI-42"]);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr
            .starts_with(&format!("error: registry `{host}` is unreachable (")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .ends_with("); check that it runs and that its `host` in images.yaml is right\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn make_image_cleanup_and_age_policy_against_the_registry() {
    if !engine() {
        return;
    }
    let reg = Registry::start();
    let (t, ns) = workspace(&reg);
    let mk = concat!(env!("CARGO_MANIFEST_DIR"), "/make/images.mk");
    t.file("Makefile", &format!("include {mk}\n"));
    push(&t, &reg, &ns, "buildenv", &["CI-7", "latest"], "b");
    push(&t, &reg, &ns, "test", &["CI-7"], "t");
    push(&t, &reg, &ns, "test", &["CI-6"], "t6");

    let out = t.make(&["-s", "image-cleanup", "IMAGE_TAG=CI-7", "REGISTRY=local"]);
    out.ok();
    assert!(
        out.stdout
            .ends_with("untagged 1, deleted 1, kept 0, failed 0\n"),
        "{}",
        out.stdout
    );
    assert_eq!(tags(&state(&reg, &ns, "buildenv")), ["latest"]);
    assert_eq!(tags(&state(&reg, &ns, "test")), ["CI-6"]);

    // Every image was built seconds ago: an hour keeps them all, no age removes CI-6.
    let out = t.run(&["clean", "--match", "CI-.*", "--older-than", "1h", "--yes"]);
    out.ok();
    assert!(
        out.stdout.contains("[CI-6]  not older than 1h\n"),
        "{}",
        out.stdout
    );
    assert_eq!(tags(&state(&reg, &ns, "test")), ["CI-6"]);
    let out = t.run(&["clean", "--match", "CI-.*", "--older-than", "0s", "--yes"]);
    out.ok();
    assert!(
        out.stdout
            .ends_with("untagged 0, deleted 1, kept 0, failed 0\n"),
        "{}",
        out.stdout
    );
    assert!(state(&reg, &ns, "test").is_empty());
    remove_images(&ns);
}

/// Uploads one blob to `repo` by the raw distribution API and stores no manifest: what an
/// interrupted first push leaves behind.
fn upload_blob_only(reg: &Registry, repo: &str) {
    let agent = ureq::Agent::new_with_defaults();
    let base = format!("http://{}", reg.host());
    let r = agent
        .post(format!("{base}/v2/{repo}/blobs/uploads/"))
        .send_empty()
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let location = r
        .headers()
        .get("Location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let location = if location.starts_with("http") {
        location
    } else {
        format!("{base}{location}")
    };
    let body = b"a layer of an interrupted push";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blob"), body).unwrap();
    let sum = std::process::Command::new("sha256sum")
        .arg(dir.path().join("blob"))
        .output()
        .unwrap();
    let digest = format!("sha256:{}", &String::from_utf8(sum.stdout).unwrap()[..64]);
    let sep = if location.contains('?') { '&' } else { '?' };
    let r = agent
        .put(format!("{location}{sep}digest={digest}"))
        .header("Content-Type", "application/octet-stream")
        .send(&body[..])
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
}

/// Issue 8 item 21 on the real registry: a repository with blobs but no manifest is listed by
/// the catalog and answers NAME_UNKNOWN on `tags/list`; it is empty, and the run succeeds.
#[test]
fn a_repository_with_blobs_but_no_manifest_is_empty() {
    let reg = Registry::start();
    let (t, ns) = workspace(&reg);
    upload_blob_only(&reg, &format!("{ns}/halfpushed"));
    let out = t.run(&["clean", "--tag", "CI-42"]);
    out.is(
        0,
        "untagged 0, deleted 0, kept 0, failed 0\n",
        &format!("note: repository `{ns}/halfpushed` does not exist or holds no manifest; nothing to clean there\n"),
    );
    let out = t.run(&[
        "clean",
        "--match",
        "CI-.*",
        "--older-than",
        "3d",
        "--yes",
        "--repository",
        "halfpushed",
    ]);
    assert_eq!(out.status, 0, "{out:?}");
}
