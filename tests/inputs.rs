//! Input digests through the real binary (fake docker): stable across runs, copies and file
//! orders; changed by each kind of input and by nothing else; bad input (a `.dockerignore`
//! pattern docker rejects) refused before any docker command.

mod support;

use support::Test;

/// `app` (context `ctx`, a staged file, a build arg) FROM `base`, FROM an external image.
fn workspace(t: &Test, order: &[&str]) {
    t.fake_docker();
    t.file(
        "images.yaml",
        "defaults: {namespace: ns, platform: p}\ncomponent: c\nimages:\n  base:\n    dockerfile: base.dockerfile\n    context: basectx\n  app:\n    dockerfile: app.dockerfile\n    context: ctx\n    args: {MODE: fast}\n    stage: [{from: out/tool, to: bin/tool}]\n    variants:\n      debug: {args: {DEBUG: \"1\"}}\n",
    );
    t.file("base.dockerfile", "FROM fedora:38\nRUN true\n");
    t.file("basectx/keep", "k\n");
    t.file(
        "app.dockerfile",
        "ARG NAMESPACE\nARG IMAGE_TAG=latest\nFROM ${NAMESPACE}/base-c-p:${IMAGE_TAG}\nARG MODE\nCOPY . /app\n",
    );
    t.file("out/tool", "tool v1\n");
    t.file("ctx/.dockerignore", "*.md\n!README.md\n**/*.tmp\n");
    for f in order {
        t.file(&format!("ctx/{f}"), &format!("{f}\n"));
    }
}

const FILES: [&str; 5] = ["a.txt", "sub/b.txt", "README.md", "NOTES.md", "sub/x.tmp"];

fn digest(t: &Test, image: &str) -> String {
    let out = t.run(&["why", "--json", image]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let rows: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["image"] == image)
        .unwrap_or_else(|| panic!("{image} in {rows}"));
    row["inputs"].as_str().unwrap().to_string()
}

#[test]
fn digests_are_stable_across_runs_copies_and_file_orders() {
    let a = Test::new();
    workspace(&a, &FILES);
    let mut reversed = FILES;
    reversed.reverse();
    let b = Test::new();
    workspace(&b, &reversed);
    let first = digest(&a, "c/app");
    assert!(first.starts_with("sha256:") && first.len() == 71, "{first}");
    assert_eq!(digest(&a, "c/app"), first, "second run (warm cache)");
    assert_eq!(
        digest(&b, "c/app"),
        first,
        "another copy, files made in another order"
    );
}

#[test]
fn each_kind_of_input_changes_the_digest_and_nothing_else_does() {
    let mut t = Test::new();
    workspace(&t, &FILES);
    let mut last = digest(&t, "c/app");
    let mut check = |t: &Test, what: &str, changes: bool| {
        let now = digest(t, "c/app");
        if changes {
            assert_ne!(now, last, "{what} did not change the digest");
        } else {
            assert_eq!(now, last, "{what} changed the digest");
        }
        last = now;
    };
    // Not inputs: excluded files (docker's `.dockerignore`: root `*.md`, `**`), imagemk's
    // own directory, the tag (a meta arg naming the parent, whose digest is an input).
    t.file("ctx/NOTES.md", "changed\n");
    t.file("ctx/sub/x.tmp", "changed\n");
    t.file("ctx/sub/y.tmp", "new\n");
    t.file(".imagemk/whatever", "x\n");
    check(&t, "ignored files", false);
    t.env("IMAGE_TAG", "CI-42");
    check(&t, "IMAGE_TAG", false);
    // Inputs.
    t.file("ctx/README.md", "changed\n");
    check(&t, "an `!` exception's file", true);
    t.file("ctx/sub/b.txt", "changed\n");
    check(&t, "a context file", true);
    t.file("ctx/new.txt", "new\n");
    check(&t, "an added file", true);
    std::fs::set_permissions(
        t.path("ctx/new.txt"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    check(&t, "a file mode", true);
    std::os::unix::fs::symlink("a.txt", t.path("ctx/link")).unwrap();
    check(&t, "a symlink", true);
    t.file("out/tool", "tool v2\n");
    check(&t, "a staged file", true);
    t.file(
        "app.dockerfile",
        "ARG NAMESPACE\nARG IMAGE_TAG=latest\nFROM ${NAMESPACE}/base-c-p:${IMAGE_TAG}\nARG MODE\nCOPY . /app/\n",
    );
    check(&t, "the Dockerfile", true);
    let yaml = std::fs::read_to_string(t.path("images.yaml")).unwrap();
    t.file("images.yaml", &yaml.replace("MODE: fast", "MODE: slow"));
    check(&t, "a build arg", true);
    t.env("VARIANT", "debug");
    check(&t, "the variant", true);
    t.file("basectx/keep", "changed\n");
    check(&t, "a parent's input", true);
    // An external base: its local image ID when the engine has it.
    t.file("images", "fedora:38\n");
    t.file("labels", "fedora:38 sha256:f1\n");
    check(&t, "the base's local image", true);
    t.file("labels", "fedora:38 sha256:f2\n");
    check(&t, "another base image ID", true);
}

#[test]
fn the_target_changes_the_digest_and_labels_go_as_flags_then() {
    let t = Test::new();
    workspace(&t, &FILES);
    let before = digest(&t, "c/base");
    let yaml = std::fs::read_to_string(t.path("images.yaml")).unwrap();
    t.file(
        "images.yaml",
        &yaml.replace(
            "context: basectx\n",
            "context: basectx\n    target: final\n",
        ),
    );
    assert_ne!(digest(&t, "c/base"), before);
    let out = t.run(&["build", "base", "--dry-run"]);
    assert!(
        out.stdout
            .contains(" --label io.imagemk.image=c/base --label io.imagemk.inputs=sha256:"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_dockerignore_pattern_docker_rejects_is_refused_before_any_docker_command() {
    let t = Test::new();
    workspace(&t, &FILES);
    t.file("ctx/.dockerignore", "[\n");
    let out = t.run(&["build", "app"]);
    assert_eq!(out.status, 1);
    assert_eq!(
        out.stderr,
        "error: `$ROOT/ctx/.dockerignore`: bad pattern `[`\n"
    );
    assert!(t.docker_log().is_empty(), "{:?}", t.docker_log());
}

#[test]
fn the_file_hash_cache_is_written_atomically_and_used() {
    let t = Test::new();
    workspace(&t, &FILES);
    // Files older than two seconds are cached.
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    for f in FILES {
        let file = std::fs::File::options()
            .write(true)
            .open(t.path(&format!("ctx/{f}")))
            .unwrap();
        file.set_modified(old).unwrap();
    }
    let first = digest(&t, "c/app");
    let cache = t.path(".imagemk/cache/file-hashes.json");
    let text = std::fs::read_to_string(&cache).unwrap();
    assert!(text.contains("ctx/a.txt"), "{text}");
    // A damaged cache is ignored, never trusted.
    std::fs::write(&cache, "{not json").unwrap();
    assert_eq!(digest(&t, "c/app"), first);
    let leftovers: Vec<_> = std::fs::read_dir(t.path(".imagemk/cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, ["file-hashes.json"]);
}

/// Marks `names` (image `name` → digest of `id`) as local images carrying their digests.
fn local(t: &Test, images: &[(&str, &str)]) {
    let mut ls = String::new();
    let mut labels = String::new();
    for (n, (name, id)) in images.iter().enumerate() {
        let d = digest(t, id);
        ls += &format!("{name}\n");
        labels += &format!("{name} sha256:{n} {d}\n");
    }
    t.file("images", &ls);
    t.file("labels", &labels);
}

#[test]
fn dependents_are_selected_and_skipped_when_unchanged() {
    let t = Test::new();
    workspace(&t, &FILES);
    local(
        &t,
        &[
            ("ns/base-c-p:latest", "c/base"),
            ("ns/app-c-p:latest", "c/app"),
        ],
    );
    let out = t.run(&["build", "base", "--dependents", "--dry-run"]);
    out.ok();
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("c/app: up to date (inputs "),
        "{}",
        out.stderr
    );
    // Without --dependents only `base` is looked at.
    let out = t.run(&["build", "base", "--dry-run"]);
    assert!(!out.stderr.contains("c/app"), "{}", out.stderr);
    // A changed dependent is built; --force builds the selected image regardless, and
    // what is built on it follows; --no-cache reaches docker.
    t.file("ctx/a.txt", "changed\n");
    let out = t.run(&["build", "base", "--dependents", "--dry-run"]);
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    assert!(
        out.stdout.contains("--tag ns/app-c-p:latest"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("c/app: build: ctx/a.txt changed\n"),
        "{}",
        out.stderr
    );
    let out = t.run(&[
        "build",
        "base",
        "--dependents",
        "--force",
        "--no-cache",
        "--dry-run",
    ]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(lines[0].starts_with("docker build --force-rm --no-cache --file .imagemk-dockerfile --tag ns/base-c-p:latest"), "{}", lines[0]);
    assert!(
        out.stderr.contains("c/base: build: forced\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn build_json_prints_the_outcome_per_image_and_why_explains() {
    let t = Test::new();
    workspace(&t, &FILES);
    local(&t, &[("ns/base-c-p:latest", "c/base")]);
    let out = t.run(&["build", "app", "--json"]);
    out.ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let rows = v["images"].as_array().unwrap();
    let got: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["image"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(got, [("c/base", "up to date"), ("c/app", "built")]);
    assert_eq!(rows[1]["reasons"][0], "no local image");
    assert!(rows[1]["inputs"].as_str().unwrap().starts_with("sha256:"));
    std::fs::remove_file(t.path("docker.log")).unwrap();
    let out = t.run(&["why", "app"]);
    out.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with("c/base: up to date (inputs "),
        "{}",
        out.stdout
    );
    assert_eq!(&lines[1..], ["c/app: build", "  no local image"]);
    // `why` ran no build.
    assert!(!t
        .docker_log()
        .iter()
        .skip(4)
        .any(|l| l.starts_with("docker build")));
}
