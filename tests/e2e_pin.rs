//! images.lock on the real engine and a real registry (distribution 2.8): `push --lock` writes
//! the digests the registry serves (`Docker-Content-Digest` of a manifest HEAD with every
//! Accept type); `pin --check` passes, then fails naming `images.lock:LINE` once another push
//! moved the tag; `pin` locks what the registry has (and refuses, writing nothing, an image the
//! registry lacks); `build --locked` pulls the parent by its locked digest and builds the child
//! on it without building the parent.

mod support;

use support::{api, docker, remove_images, Registry, Test, BUSYBOX_BASE};

/// Registry `local` at `host` (path `e2e`), images `app/base` and `app/child` (FROM base) and
/// `app/extra` (never pushed).
fn workspace(host: &str) -> (Test, String) {
    let t = Test::new();
    let ns = t.namespace();
    t.file(
        "images.yaml",
        &format!(
            "workspace:\n  registries:\n    local: {{kind: oci, host: \"{host}\", path: e2e}}\ndefaults:\n  namespace: {ns}\ncomponent: app\nimages:\n  base: {{dockerfile: docker/base.dockerfile, context: docker}}\n  child: {{dockerfile: docker/child.dockerfile, context: docker}}\n  extra: {{dockerfile: docker/extra.dockerfile, context: docker}}\n"
        ),
    )
    .file("docker/base.dockerfile", &format!("{BUSYBOX_BASE}RUN echo {ns} one > /id\n"))
    .file(
        "docker/child.dockerfile",
        &format!("FROM {ns}/base-app-linux:latest\nRUN cat /id > /child\n"),
    )
    .file("docker/extra.dockerfile", "FROM scratch\nCOPY busybox /x\n")
    .busybox("docker");
    (t, ns)
}

fn lock_text(t: &Test) -> String {
    std::fs::read_to_string(t.path("images.lock")).unwrap_or_default()
}

/// The locked digest of `remote` and the line its group starts on.
fn locked(t: &Test, remote: &str) -> (String, usize) {
    let text = lock_text(t);
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| *l == format!("\"{remote}\":"))
        .unwrap_or_else(|| panic!("{remote} not in\n{text}"));
    let digest = lines[at + 3].trim().strip_prefix("digest: ").unwrap();
    (digest.to_string(), at + 1)
}

#[test]
fn push_lock_check_drift_pin_and_build_locked() {
    if !support::engine() {
        return;
    }
    let reg = Registry::start();
    let host = reg.host();
    let (t, ns) = workspace(&host);
    let base = format!("{host}/e2e/base-app-linux");
    let child = format!("{host}/e2e/child-app-linux");
    t.run(&["build", "child"]).ok();

    // push --lock: the lock holds what the registry serves.
    t.run(&["push", "base", "child", "--lock"]).ok();
    for (remote, repo) in [
        (&base, "e2e/base-app-linux"),
        (&child, "e2e/child-app-linux"),
    ] {
        let (digest, _) = locked(&t, remote);
        assert_eq!(Some(digest), api::digest(&host, repo, "latest"), "{remote}");
    }
    assert!(lock_text(&t).contains("  image: \"app/base\"\n  tag: latest\n"));
    t.run(&["pin", "--check"]).is(0, "", "");

    // Another push moves `base:latest`: the check names the file and line, exit 1.
    let (old, line) = locked(&t, &base);
    t.file(
        "docker/base.dockerfile",
        &format!("{BUSYBOX_BASE}RUN echo {ns} two > /id\n"),
    );
    t.run(&["build", "base"]).ok();
    t.run(&["push", "base"]).ok();
    let new = api::digest(&host, "e2e/base-app-linux", "latest").unwrap();
    assert_ne!(old, new);
    t.run(&["pin", "--check"]).is(
        1,
        &format!("images.lock:{line}: {base}:latest locked {old} but the registry has {new}\n"),
        "error: 1 of 2 locked images differ from the registry; run `imagemk pin` (`make pin-images`) to lock what the registry has, or push the locked images again\n",
    );
    // Only the named image is checked.
    t.run(&["pin", "--check", "child"]).is(0, "", "");

    // pin: an image missing from the registry writes nothing.
    let before = lock_text(&t);
    t.run(&["pin", "base", "extra"]).is(1, "", &format!(
        "error: registry `local` has no `{host}/e2e/extra-app-linux:latest` (image `app/extra`); nothing was written to images.lock; push it first (`imagemk push`)\n"
    ));
    assert_eq!(lock_text(&t), before);
    let dry = t.run(&["pin", "base", "--dry-run"]);
    dry.ok();
    assert!(
        dry.stdout.starts_with(&format!(
            "HEAD http://{host}/v2/e2e/base-app-linux/manifests/latest ("
        )),
        "{}",
        dry.stdout
    );
    assert_eq!(lock_text(&t), before);

    // pin from the registry: locks the new digest; the check passes.
    let out = t.run(&["pin", "base", "--json"]);
    out.ok();
    let rows: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(rows[0]["remote"], base.as_str());
    assert_eq!(rows[0]["digest"], new.as_str());
    assert_eq!(rows[0]["image"], "app/base");
    assert_eq!(locked(&t, &base).0, new);
    t.run(&["pin", "--check"]).is(0, "", "");

    build_locked(&t, &ns, &base, &new);
    remove_images(&ns);
    remove_images(&format!("{host}/e2e/"));
}

/// `build child --locked` with base's source changed again and no local base: base is pulled
/// by its locked digest (not built), the child is built on it.
fn build_locked(t: &Test, ns: &str, base: &str, digest: &str) {
    let local_base = format!("{ns}/base-app-linux:latest");
    t.file(
        "docker/base.dockerfile",
        &format!("{BUSYBOX_BASE}RUN echo {ns} three > /id\n"),
    );
    docker(&[
        "image",
        "rm",
        &format!("{ns}/child-app-linux:latest"),
        &local_base,
    ]);
    let dry = t.run(&["build", "child", "--locked", "--dry-run"]);
    dry.ok();
    assert!(
        dry.stdout.starts_with(&format!("docker pull {base}@{digest}\ndocker tag <the image ID of {base}@{digest}> {local_base}\ndocker build ")),
        "{}",
        dry.stdout
    );
    assert_eq!(
        dry.stdout.matches("docker build ").count(),
        1,
        "{}",
        dry.stdout
    );

    let out = t.run(&["build", "child", "--locked", "--json"]);
    out.ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let text = v.to_string();
    assert!(
        text.contains(&format!("locked: pulled {base}@{digest}")),
        "{text}"
    );
    assert!(out.stderr.contains("summary: 1 built"), "{}", out.stderr);
    let id = |name: &str| docker(&["image", "inspect", "--format", "{{.Id}}", name]).1;
    assert_eq!(id(&local_base), id(&format!("{base}@{digest}")));
    // The child is built on the locked base: its /child holds the pushed base's /id.
    let (_, inside) = docker(&[
        "run",
        "--rm",
        &format!("{ns}/child-app-linux:latest"),
        "cat",
        "/child",
    ]);
    assert_eq!(inside, format!("{ns} two"));
    // No remote-named tag is left (docker lists the pulled digest as `REPO:<none>`); a second
    // locked build is up to date.
    let (_, tags) = docker(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
    let stray = |l: &&str| l.starts_with(base) && *l != format!("{base}:<none>");
    assert!(!tags.lines().any(|l| stray(&l)), "{tags}");
    let again = t.run(&["build", "child", "--locked"]);
    again.ok();
    assert!(
        again.stderr.contains("summary: 0 built"),
        "{}",
        again.stderr
    );
}
