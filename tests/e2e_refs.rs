//! The digest workflow end to end on the real engine and a real registry: build, `push --lock`,
//! `refs --write` pins the deployment files to the registry's digests and `refs --check`
//! passes; a changed image pushed with `--lock` makes `refs --check` fail naming `file:line`,
//! and `refs --write` follows it.

mod support;

use support::{api, remove_images, Registry, Test, BUSYBOX_BASE};

fn workspace(host: &str) -> (Test, String) {
    let t = Test::new();
    let ns = t.namespace();
    t.file(
        "images.yaml",
        &format!(
            "workspace:\n  references: [\"deploy/*.yml\", \"docker/*.dockerfile\"]\n  registries:\n    local: {{kind: oci, host: \"{host}\", path: e2e}}\ndefaults:\n  namespace: {ns}\ncomponent: app\nimages:\n  base: {{dockerfile: docker/base.dockerfile, context: docker}}\n  base-debug: {{dockerfile: docker/base.dockerfile, context: docker}}\n"
        ),
    )
    .file("docker/base.dockerfile", &format!("{BUSYBOX_BASE}RUN echo {ns} one > /id\n"))
    .busybox("docker");
    (t, ns)
}

#[test]
fn refs_follow_the_lock_and_check_names_drift() {
    if !support::engine() {
        return;
    }
    let reg = Registry::start();
    let host = reg.host();
    let (t, ns) = workspace(&host);
    let base = format!("{host}/e2e/base-app-linux");
    let debug = format!("{host}/e2e/base-debug-app-linux");
    let deploy = format!("# base and its debug build\nimage: {base}:latest\ndebug: {debug}\n");
    t.file("deploy/app.yml", &deploy);
    t.run(&["build", "base"]).ok();
    t.run(&["push", "base", "--lock"]).ok();
    let one = api::digest(&host, "e2e/base-app-linux", "latest").unwrap();

    // Only `base` is locked: its reference drifts, the debug one is not a workspace lock's.
    t.run(&["refs", "--check"]).is(
        1,
        &format!("deploy/app.yml:2: {base}:latest → {base}:latest@{one}\n"),
        "error: 1 reference(s) differ from images.lock; run `imagemk refs --write` to rewrite them\n",
    );
    t.run(&["refs", "--write"]).ok();
    assert_eq!(
        std::fs::read_to_string(t.path("deploy/app.yml")).unwrap(),
        deploy.replace(&format!("{base}:latest"), &format!("{base}:latest@{one}"))
    );
    t.run(&["refs", "--check"]).ok();

    // A changed image pushed with --lock: the check names the file and line.
    t.file(
        "docker/base.dockerfile",
        &format!("{BUSYBOX_BASE}RUN echo {ns} two > /id\n"),
    );
    t.run(&["build", "base"]).ok();
    t.run(&["push", "base", "--lock"]).ok();
    let two = api::digest(&host, "e2e/base-app-linux", "latest").unwrap();
    assert_ne!(one, two);
    let out = t.run(&["refs", "--check"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!("deploy/app.yml:2: {base}:latest@{one} → {base}:latest@{two}\n")
    );
    t.run(&["refs", "--write"]).ok();
    t.run(&["refs", "--check"]).ok();
    assert!(std::fs::read_to_string(t.path("deploy/app.yml"))
        .unwrap()
        .contains(&format!("image: {base}:latest@{two}\ndebug: {debug}\n")));
    remove_images(&ns);
    remove_images(&format!("{host}/e2e/"));
}
