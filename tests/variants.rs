//! Several variants in one call (issue 12 item 7): `--variant plain,debug` builds, pushes and
//! lists every variant of each image, each under its own name, dependencies resolved within
//! the variant; `list` shows remote names and channels when a registry is asked for. Fake
//! docker for the plans and argv, the real engine for a two-variant FROM-scratch build.

mod support;

use support::{docker, engine, remove_images, Test, BUSYBOX_BASE};

/// `base` (no variants), `envoy` (FROM base; `debug`: DEBUG=1), `app` (depends on envoy;
/// `debug` with the default suffix).
fn workspace() -> Test {
    let mut t = Test::new();
    let engine = format!("unix://{}/docker.sock", t.root.display());
    t.env("DOCKER_HOST", &engine);
    t.fake_docker()
        .file(
            "images.yaml",
            "workspace:\n  registries:\n    local: {kind: oci, host: \"registry.example.com:5000\", path: team}\ndefaults:\n  namespace: acme\ncomponent: core\nimages:\n  base: {context: docker}\n  envoy:\n    context: docker\n    variants:\n      debug: {args: {DEBUG: \"1\"}}\n  app:\n    context: docker\n    depends: [envoy]\n    variants:\n      debug: {}\n",
        )
        .file("docker/base-linux.dockerfile", "FROM scratch\n")
        .file(
            "docker/envoy-linux.dockerfile",
            "ARG DEBUG=0\nFROM acme/base-core-linux:latest\n",
        )
        .file("docker/app-linux.dockerfile", "FROM scratch\n")
        .file("tags", "");
    t
}

fn build_line(name: &str, file: &str, extra: &str) -> String {
    format!("docker build --force-rm --file .imagemk-dockerfile --tag {name}{extra} - < (tar of context $ROOT/docker + $ROOT/docker/{file} and a LABEL line as .imagemk-dockerfile)\n")
}

#[test]
fn build_plans_every_variant_once_with_dependencies_in_its_variant() {
    let t = workspace();
    for args in [
        &["build", "--all", "--variant", "plain,debug", "--dry-run"][..],
        &["build", "app", "--variant", "plain,debug", "--dry-run"],
    ] {
        let out = t.run(args);
        // `base` has no debug variant: both variants of envoy share it, and it is built once.
        out.is(
            0,
            &[
                build_line("acme/base-core-linux:latest", "base-linux.dockerfile", ""),
                build_line("acme/envoy-core-linux:latest", "envoy-linux.dockerfile", ""),
                build_line("acme/envoy-core-linux-debug:latest", "envoy-linux.dockerfile", " --build-arg DEBUG=1"),
                build_line("acme/app-core-linux:latest", "app-linux.dockerfile", ""),
                build_line("acme/app-core-linux-debug:latest", "app-linux.dockerfile", ""),
            ]
            .concat(),
            "core/base: build: no local image\ncore/envoy: build: no local image\ncore/envoy+debug: build: no local image\ncore/app: build: no local image\ncore/app+debug: build: no local image\n",
        );
    }
    // The environment (make's `VARIANT=debug,plain`) works the same; one variant alone as before.
    let mut t = t;
    t.env("VARIANT", "debug");
    let out = t.run(&["build", "envoy", "--dry-run"]);
    out.ok();
    assert!(
        out.stdout
            .contains("--tag acme/envoy-core-linux-debug:latest --build-arg DEBUG=1"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("--tag acme/envoy-core-linux:latest"),
        "{}",
        out.stdout
    );
    t.env("VARIANT", "debug,plain");
    let out = t.run(&["build", "envoy", "--dry-run"]);
    out.ok();
    assert_eq!(out.stdout.lines().count(), 3, "{}", out.stdout);
}

#[test]
fn build_runs_every_variant_with_its_own_log() {
    let t = workspace();
    let out = t.run(&["build", "envoy", "--variant", "plain,debug"]);
    out.ok();
    assert!(out.stderr.ends_with("summary: 3 built\n"), "{}", out.stderr);
    for log in ["core/envoy.log", "core/envoy+debug.log", "core/base.log"] {
        assert!(t.exists(&format!(".imagemk/logs/{log}")), "{log}");
    }
    let debug = std::fs::read_to_string(t.path(".imagemk/logs/core/envoy+debug.log")).unwrap();
    assert!(
        debug.contains("--tag acme/envoy-core-linux-debug:latest"),
        "{debug}"
    );
}

#[test]
fn push_pushes_every_variant_under_its_channel_name() {
    let mut t = workspace();
    t.env("USER", "alice");
    let built = [
        "acme/envoy-core-linux:latest",
        "acme/envoy-core-linux-debug:latest",
    ];
    t.file("images", &(built.join("\n") + "\n"));
    let tags: Vec<String> = built
        .iter()
        .map(|n| format!("{n} {}\n", support::digest_of(n)))
        .collect();
    t.file("tags", &tags.concat());
    let out = t.run(&[
        "push",
        "envoy",
        "--variant",
        "plain,debug",
        "--registry",
        "local",
        "--channel",
        "user",
        "--dry-run",
    ]);
    let plain = "registry.example.com:5000/team/alice-envoy-core-linux:latest";
    let debug = "registry.example.com:5000/team/alice-debug-envoy-core-linux-debug:latest";
    out.is(
        0,
        &format!("docker tag acme/envoy-core-linux:latest {plain}\ndocker push {plain}\ndocker image rm --no-prune {plain}\ndocker tag acme/envoy-core-linux-debug:latest {debug}\ndocker push {debug}\ndocker image rm --no-prune {debug}\n# a remote name is tagged (with the image's ID) only when it does not exist yet, and removed only when this run tagged it; one that exists as another image stops the push\n"),
        "",
    );
    // A missing variant image is named with its variant.
    t.file("images", "acme/envoy-core-linux:latest\n");
    t.run(&["push", "envoy", "--variant", "plain,debug", "--registry", "local"]).fails_with(
        "error: image `core/envoy+debug` was never built: there is no local `acme/envoy-core-linux-debug:latest`; build it with `make envoy-image VARIANT=debug`\n",
    );
}

const LIST: &str = "\
IMAGE             NAME                                DOCKERFILE                     DEPENDS
core/app          acme/app-core-linux:latest          docker/app-linux.dockerfile    core/envoy
core/base         acme/base-core-linux:latest         docker/base-linux.dockerfile   -
core/envoy        acme/envoy-core-linux:latest        docker/envoy-linux.dockerfile  core/base
core/app+debug    acme/app-core-linux-debug:latest    docker/app-linux.dockerfile    core/envoy+debug
core/envoy+debug  acme/envoy-core-linux-debug:latest  docker/envoy-linux.dockerfile  core/base
";

#[test]
fn list_shows_one_row_per_variant_and_remote_names_when_a_registry_is_asked_for() {
    let mut t = workspace();
    t.run(&["list", "--variant", "plain,debug"]).is(0, LIST, "");
    t.env("USER", "alice");
    t.run(&["list", "envoy", "--variant", "plain,debug", "--registry", "local", "--channel", "user"]).is(
        0,
        "\
IMAGE             NAME                                REMOTE                                                                    CHANNEL  DOCKERFILE                     DEPENDS
core/envoy        acme/envoy-core-linux:latest        registry.example.com:5000/team/alice-envoy-core-linux:latest              user     docker/envoy-linux.dockerfile  core/base
core/envoy+debug  acme/envoy-core-linux-debug:latest  registry.example.com:5000/team/alice-debug-envoy-core-linux-debug:latest  user     docker/envoy-linux.dockerfile  core/base
",
        "",
    );
    t.env("REGISTRY", "local");
    let out = t.run(&["list", "base", "--json"]);
    out.ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v[0]["remote"],
        "registry.example.com:5000/team/base-core-linux:latest"
    );
    assert_eq!(v[0]["channel"], serde_json::Value::Null);
    let out = t.run(&[
        "list",
        "app",
        "--json",
        "--variant",
        "plain,debug",
        "--channel",
        "user",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let rows: Vec<(String, String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["variant"].to_string(),
                r["name"].to_string(),
                r["remote"].to_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "null".into(),
                "\"acme/app-core-linux:latest\"".into(),
                "\"registry.example.com:5000/team/alice-app-core-linux:latest\"".into()
            ),
            (
                "\"debug\"".into(),
                "\"acme/app-core-linux-debug:latest\"".into(),
                "\"registry.example.com:5000/team/alice-debug-app-core-linux-debug:latest\"".into()
            ),
        ]
    );
    assert!(v[1]["channel"] == "user");
    // Without a registry asked for, the rows have no remote keys.
    let mut t = workspace();
    t.env("USER", "alice");
    let out = t.run(&["list", "base", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(v[0].get("remote").is_none(), "{}", out.stdout);
}

#[test]
fn make_passes_several_variants() {
    let t = workspace();
    let mk = concat!(env!("CARGO_MANIFEST_DIR"), "/make/images.mk");
    t.file("Makefile", &format!("include {mk}\n"));
    let out = t.make(&["-s", "images", "DRY_RUN=1", "VARIANT=plain,debug"]);
    out.ok();
    assert_eq!(
        out.stdout.matches("docker build ").count(),
        5,
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("--tag acme/app-core-linux-debug:latest"),
        "{}",
        out.stdout
    );
}

#[test]
fn one_image_commands_refuse_several_variants() {
    let t = workspace();
    t.run(&["run", "envoy", "--variant", "plain,debug"]).fails_with(
        "error: `run` acts on one image, but several variants were asked for (`plain,debug`); give one variant (`--variant plain`) or none\n",
    );
    assert_eq!(t.docker_log(), Vec::<String>::new());
}

/// Two variants of a FROM-scratch busybox workspace on the real engine: each variant is its
/// own image with its own build arg, and each variant's child is built FROM its own parent.
#[test]
fn two_variants_build_on_the_real_engine() {
    if !engine() {
        return;
    }
    let reg = support::Registry::start();
    let t = Test::new();
    let ns = t.namespace();
    t.busybox("ctx");
    t.file(
        "images.yaml",
        &format!("workspace:\n  registries:\n    local: {{kind: oci, host: \"{}\", path: e2e}}\ndefaults:\n  namespace: {ns}\n  platform: bb\ncomponent: v\nimages:\n  base:\n    context: ctx\n    dockerfile: base.dockerfile\n    variants:\n      debug: {{args: {{MODE: debug}}}}\n  app:\n    context: ctx\n    dockerfile: app.dockerfile\n    variants:\n      debug: {{args: {{SUFFIX: \"-debug\"}}}}\n", reg.host()),
    );
    t.file(
        "base.dockerfile",
        &format!("{BUSYBOX_BASE}ARG MODE=plain\nRUN echo $MODE > /mode\n"),
    );
    t.file(
        "app.dockerfile",
        &format!("ARG SUFFIX=\nFROM {ns}/base-v-bb${{SUFFIX}}:latest\nRUN cat /mode > /app-mode\n"),
    );
    let out = t.run(&["build", "app", "--variant", "plain,debug", "-j", "2"]);
    let result = std::panic::catch_unwind(|| {
        out.ok();
        assert!(out.stderr.ends_with("summary: 4 built\n"), "{}", out.stderr);
        for (name, mode) in [("app-v-bb", "plain"), ("app-v-bb-debug", "debug")] {
            let (status, text) = docker(&[
                "run",
                "--rm",
                &format!("{ns}/{name}:latest"),
                "cat",
                "/app-mode",
            ]);
            assert_eq!((status, text.as_str()), (0, mode), "{name}");
        }
        // A second call finds all four up to date: one engine query, nothing built.
        let again = t.run(&["build", "app", "--variant", "plain,debug"]);
        again.ok();
        assert!(
            again.stderr.ends_with("summary: 0 built; 4 up to date\n"),
            "{}",
            again.stderr
        );
        // Both variants pushed to the real registry under their own names, digests recorded.
        let out = t.run(&[
            "push",
            "app",
            "--variant",
            "plain,debug",
            "--registry",
            "local",
            "--json",
        ]);
        out.ok();
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let rows = v.as_array().unwrap();
        assert_eq!(rows.len(), 2, "{}", out.stdout);
        for (row, name) in rows.iter().zip(["app-v-bb", "app-v-bb-debug"]) {
            let remote = format!("{}/e2e/{name}:latest", reg.host());
            assert_eq!(row["remote"], remote.as_str());
            assert!(row["digest"].as_str().unwrap().starts_with("sha256:"));
            let (status, _) = docker(&["manifest", "inspect", "--insecure", &remote]);
            assert_eq!(status, 0, "{remote} is not in the registry");
        }
    });
    remove_images(&format!("{ns}/"));
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
