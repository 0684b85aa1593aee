//! `--builder NAME` and `--platform-arch` (issue 12 item 6): the exact `docker buildx build`
//! argv of build (`--load`) and push (`--push`, digest from `--metadata-file`) against the
//! fake docker, which replays buildx's texts; the checks that run before anything (buildx
//! missing, unknown builder) with the fake and with the machine's real docker CLI, which has
//! no buildx plugin.

mod support;

use support::{digest_of, Test};

/// `base` (FROM scratch) and `app` (FROM base), registry `local` with a path.
fn workspace() -> Test {
    let mut t = Test::new();
    let engine = format!("unix://{}/docker.sock", t.root.display());
    t.env("DOCKER_HOST", &engine);
    t.fake_docker()
        .file(
            "images.yaml",
            "workspace:\n  registries:\n    local: {kind: oci, host: \"registry.example.com:5000\", path: team}\ndefaults:\n  namespace: acme\ncomponent: core\nimages:\n  base: {context: docker}\n  app: {context: docker}\n",
        )
        .file("docker/base-linux.dockerfile", "FROM scratch\n")
        .file(
            "docker/app-linux.dockerfile",
            "ARG IMAGE_TAG=latest\nFROM acme/base-core-linux:${IMAGE_TAG}\n",
        )
        .file("tags", "");
    t
}

fn masked(text: &str) -> String {
    let pid = regex::Regex::new(r"imagemk-metadata-\d+-").unwrap();
    let text = pid.replace_all(text, "imagemk-metadata-PID-");
    regex::Regex::new("sha256:[0-9a-f]{64}")
        .unwrap()
        .replace_all(&text, "sha256:D")
        .into_owned()
}

const BASE_CTX: &str = "- < (tar of context $ROOT/docker + $ROOT/docker/base-linux.dockerfile and a LABEL line as .imagemk-dockerfile)";
const APP_CTX: &str = "- < (tar of context $ROOT/docker + $ROOT/docker/app-linux.dockerfile and a LABEL line as .imagemk-dockerfile)";

#[test]
fn build_dry_run_prints_the_buildx_argv() {
    let t = workspace();
    let out = t.run(&["build", "--builder", "ci", "--dry-run"]);
    out.ok();
    assert_eq!(
        out.stdout,
        format!("docker buildx build --builder ci --load --file .imagemk-dockerfile --tag acme/base-core-linux:latest {BASE_CTX}\ndocker buildx build --builder ci --load --file .imagemk-dockerfile --tag acme/app-core-linux:latest --build-arg IMAGE_TAG=latest {APP_CTX}\n")
    );
    // A dry run asks buildx nothing (it runs nothing), so it works where buildx is missing.
    assert!(
        !t.docker_log().iter().any(|l| l.contains("buildx")),
        "{:?}",
        t.docker_log()
    );
    let out = t.run(&[
        "build",
        "base",
        "--builder",
        "ci",
        "--platform-arch",
        "linux/arm64,linux/amd64",
        "--no-cache",
        "--dry-run",
    ]);
    out.ok();
    assert_eq!(
        out.stdout,
        format!("docker buildx build --builder ci --platform linux/arm64,linux/amd64 --load --no-cache --file .imagemk-dockerfile --tag acme/base-core-linux:latest {BASE_CTX}\n")
    );
}

#[test]
fn build_runs_buildx_after_checking_it_and_the_builder() {
    let t = workspace();
    t.file("buildx", "");
    let out = t.run(&["build", "base", "--builder", "ci"]);
    out.ok();
    let log = t.docker_log();
    assert_eq!(
        &log[..2],
        ["docker buildx version", "docker buildx inspect ci"]
    );
    assert_eq!(
        log.last().unwrap(),
        "docker buildx build --builder ci --load --file .imagemk-dockerfile --tag acme/base-core-linux:latest -"
    );
    // The context went to buildx on stdin as a tar, as with `docker build`.
    assert!(t.exists(".imagemk/contexts/acme_base-core-linux_latest.tar"));
    let log = std::fs::read_to_string(t.path(".imagemk/logs/core/base.log")).unwrap();
    assert!(
        log.contains("#0 building with \"ci\" instance using docker-container driver"),
        "{log}"
    );
}

#[test]
fn push_builds_and_pushes_with_buildx_and_reads_the_metadata_digest() {
    let t = workspace();
    t.file("buildx", "");
    let out = t.run(&[
        "push",
        "--builder",
        "ci",
        "--platform-arch",
        "linux/arm64,linux/amd64",
        "--tag",
        "CI-42",
    ]);
    out.ok();
    let base = "registry.example.com:5000/team/base-core-linux:CI-42";
    let app = "registry.example.com:5000/team/app-core-linux:CI-42";
    assert_eq!(
        out.stdout,
        format!("{base}@{}\n{app}@{}\n", digest_of(base), digest_of(app))
    );
    let log: Vec<String> = t.docker_log().iter().map(|l| masked(l)).collect();
    // No local image is needed, made, tagged or removed: buildx pushes straight away.
    assert_eq!(
        log,
        [
            "docker buildx version".to_string(),
            "docker buildx inspect ci".to_string(),
            format!("docker buildx build --builder ci --platform linux/arm64\\,linux/amd64 --push --metadata-file /tmp/imagemk-metadata-PID-0.json --file base-linux.dockerfile --tag {base} --label io.imagemk.image=core/base -"),
            format!("docker buildx build --builder ci --platform linux/arm64\\,linux/amd64 --push --metadata-file /tmp/imagemk-metadata-PID-1.json --build-context acme/base-core-linux:CI-42=docker-image://{base} --file app-linux.dockerfile --tag {app} --build-arg IMAGE_TAG=CI-42 --label io.imagemk.image=core/app -"),
        ]
    );
}

#[test]
fn push_dry_run_prints_the_buildx_argv_with_extra_tags_and_parents() {
    let t = workspace();
    let out = t.run(&[
        "push",
        "app",
        "--builder",
        "ci",
        "--also-tag",
        "stable",
        "--dry-run",
        "--json",
    ]);
    out.ok();
    let app = "registry.example.com:5000/team/app-core-linux";
    assert_eq!(
        masked(&out.stdout),
        format!("docker buildx build --builder ci --push --metadata-file /tmp/imagemk-metadata-PID-0.json --build-context acme/base-core-linux:latest=docker-image://registry.example.com:5000/team/base-core-linux:latest --file app-linux.dockerfile --tag {app}:latest --tag {app}:stable --build-arg IMAGE_TAG=latest --label io.imagemk.image=core/app - < (tar of context $ROOT/docker)\n")
    );
    assert_eq!(t.docker_log(), Vec::<String>::new());
}

#[test]
fn push_json_reports_the_metadata_digest() {
    let t = workspace();
    t.file("buildx", "");
    let out = t.run(&["push", "base", "--builder", "ci", "--json"]);
    out.ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let remote = "registry.example.com:5000/team/base-core-linux:latest";
    assert_eq!(v[0]["remote"], remote);
    assert_eq!(v[0]["digest"], digest_of(remote));
    assert_eq!(v[0]["image"], "core/base");
}

#[test]
fn a_failing_buildx_push_says_so() {
    let t = workspace();
    t.file("buildx", "").file("fail-build", "base-core\n");
    let out = t.run(&["push", "base", "--builder", "ci"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("error: the build of `core/base` failed"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("ERROR: failed to solve: process \"/bin/sh -c false\" did not complete successfully: exit code: 1"), "{}", out.stderr);
}

#[test]
fn missing_buildx_or_builder_is_an_error_before_anything_runs() {
    let t = workspace();
    for args in [
        &["build", "--builder", "ci"][..],
        &["push", "--builder", "ci"],
    ] {
        t.run(args).fails_with(
            "error: buildx is not installed: `docker buildx version` failed (docker: unknown command: docker buildx); `--builder` builds through `docker buildx build`\nhint: install the buildx plugin (Docker's `docker-buildx-plugin` package, Debian's `docker-buildx`, or https://github.com/docker/buildx#installing), or drop `--builder` to build with the legacy builder\n",
        );
    }
    assert_eq!(
        t.docker_log(),
        ["docker buildx version", "docker buildx version"]
    );
    t.file("buildx", "").file("no-builder", "gone\n");
    t.run(&["build", "--builder", "gone"]).fails_with(
        "error: builder `gone` cannot be used: `docker buildx inspect gone` failed (ERROR: no builder \"gone\" found)\nhint: list the builders with `docker buildx ls`, or create this one with `docker buildx create --name gone --driver docker-container` (or `--driver kubernetes`, `remote`)\n",
    );
}

/// The machine's own docker CLI (28.2 without the buildx plugin) answers `docker buildx
/// version` with its own error, which the message quotes.
#[test]
fn the_real_cli_without_buildx_gives_the_clear_error() {
    if !support::engine() {
        return;
    }
    let t = Test::new();
    t.file(
        "images.yaml",
        "defaults:\n  namespace: imagemk-builder-test\ncomponent: core\nimages:\n  base: {context: docker}\n",
    )
    .file("docker/base-linux.dockerfile", "FROM scratch\n");
    let (status, _) = support::docker(&["buildx", "version"]);
    assert_ne!(status, 0, "this test expects a docker CLI without buildx");
    t.run(&["build", "--builder", "ci"]).fails_with(
        "error: buildx is not installed: `docker buildx version` failed (docker: unknown command: docker buildx); `--builder` builds through `docker buildx build`\nhint: install the buildx plugin (Docker's `docker-buildx-plugin` package, Debian's `docker-buildx`, or https://github.com/docker/buildx#installing), or drop `--builder` to build with the legacy builder\n",
    );
    let (_, images) = support::docker(&["image", "ls", "--format", "{{.Repository}}"]);
    assert!(!images.contains("imagemk-builder-test"));
}

#[test]
fn make_passes_builder_and_platforms_as_flags() {
    let t = workspace();
    let mk = concat!(env!("CARGO_MANIFEST_DIR"), "/make/images.mk");
    t.file("Makefile", &format!("include {mk}\n"));
    let out = t.make(&[
        "DRY_RUN=1",
        "images",
        "BUILDER=ci",
        "PLATFORM_ARCH=linux/arm64,linux/amd64",
    ]);
    out.ok();
    assert!(
        out.stdout.contains("docker buildx build --builder ci --platform linux/arm64,linux/amd64 --load --file .imagemk-dockerfile --tag acme/base-core-linux:latest"),
        "{}",
        out.stdout
    );
    let out = t.make(&["-n", "-s", "push-images", "IMAGEMK=/bin/true", "BUILDER=ci"]);
    assert_eq!(
        out.stdout.lines().last().unwrap().trim_end(),
        "/bin/true push   --builder 'ci'"
    );
}

#[test]
fn plan_json_shows_the_buildx_argv() {
    let t = workspace();
    let out = t.run(&[
        "plan",
        "base",
        "--builder",
        "ci",
        "--platform-arch",
        "linux/arm64",
        "--json",
    ]);
    out.ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let argv: Vec<&str> = v["images"][0]["command"]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        argv,
        [
            "docker",
            "buildx",
            "build",
            "--builder",
            "ci",
            "--platform",
            "linux/arm64",
            "--load",
            "--file",
            ".imagemk-dockerfile",
            "--tag",
            "acme/base-core-linux:latest",
            "-"
        ]
    );
}
