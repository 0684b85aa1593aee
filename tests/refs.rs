//! `imagemk refs` through the real binary: references in `workspace.references` files checked
//! against and rewritten to `images.lock`, byte for byte, with nothing else touched; bad locks,
//! globs and files fail before anything is written, and no docker command ever runs.

mod support;

use std::fs;

use support::Test;

const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn workspace(t: &Test, references: &str) {
    t.fake_docker();
    t.file(
        "images.yaml",
        &format!("workspace:\n  references: {references}\ndefaults: {{namespace: k, platform: p}}\ncomponent: c\nimages:\n  km:\n    dockerfile: km.dockerfile\n    context: ctx\n  km-debug:\n    dockerfile: km.dockerfile\n    context: ctx\n"),
    );
    t.file("ctx/keep", "k\n");
    t.file("km.dockerfile", "FROM scratch\n");
    t.file(
        "images.lock",
        &format!("\"reg.io:5000/k/km-c-p\":\n  image: c/km\n  tag: CI-1\n  digest: {A}\n\"reg.io:5000/k/km-debug-c-p\":\n  image: c/km-debug\n  tag: CI-1\n  digest: {B}\n"),
    );
}

const CI: &str = "jobs:\n  test:\n    image: reg.io:5000/k/km-c-p:CI-0\r\n    debug: \"reg.io:5000/k/km-debug-c-p\"\r\n    other: reg.io:5000/k/km-c-p-extra:1\r\n";
const DOCKERFILE: &str = "FROM reg.io:5000/k/km-c-p@sha256:0000000000000000000000000000000000000000000000000000000000000000 AS base\nRUN true";

#[test]
fn check_lists_drift_write_rewrites_and_check_passes_after() {
    let t = Test::new();
    workspace(&t, "[ci/*.yml, docker/*.dockerfile]");
    t.file("ci/main.yml", CI);
    t.file("docker/app.dockerfile", DOCKERFILE);
    fs::set_permissions(
        t.path("docker/app.dockerfile"),
        std::os::unix::fs::PermissionsExt::from_mode(0o640),
    )
    .unwrap();

    let out = t.run(&["refs", "--check"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!("ci/main.yml:3: reg.io:5000/k/km-c-p:CI-0 → reg.io:5000/k/km-c-p:CI-0@{A}\nci/main.yml:4: reg.io:5000/k/km-debug-c-p → reg.io:5000/k/km-debug-c-p@{B}\ndocker/app.dockerfile:1: reg.io:5000/k/km-c-p@sha256:0000000000000000000000000000000000000000000000000000000000000000 → reg.io:5000/k/km-c-p@{A}\n")
    );
    assert!(
        out.stderr
            .contains("3 reference(s) differ from images.lock; run `imagemk refs --write`"),
        "{}",
        out.stderr
    );

    // A dry run prints the diff and writes nothing.
    let out = t.run(&["--dry-run", "refs", "--write"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stdout.contains(&format!("--- a/ci/main.yml\n+++ b/ci/main.yml\n@@ -1,5 +1,5 @@\n jobs:\n   test:\n-    image: reg.io:5000/k/km-c-p:CI-0\n+    image: reg.io:5000/k/km-c-p:CI-0@{A}\n")), "{}", out.stdout);
    assert!(
        out.stdout.contains("\\ No newline at end of file"),
        "{}",
        out.stdout
    );
    assert_eq!(fs::read_to_string(t.path("ci/main.yml")).unwrap(), CI);
    assert_eq!(
        fs::read_to_string(t.path("docker/app.dockerfile")).unwrap(),
        DOCKERFILE
    );

    let out = t.run(&["refs", "--write"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        fs::read_to_string(t.path("ci/main.yml")).unwrap(),
        CI.replace("km-c-p:CI-0\r", &format!("km-c-p:CI-0@{A}\r"))
            .replace("km-debug-c-p\"", &format!("km-debug-c-p@{B}\""))
    );
    assert_eq!(
        fs::read_to_string(t.path("docker/app.dockerfile")).unwrap(),
        format!("FROM reg.io:5000/k/km-c-p@{A} AS base\nRUN true")
    );
    let mode = fs::metadata(t.path("docker/app.dockerfile")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o640
    );

    let out = t.run(&["refs", "--check", "--json"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"schema": 1, "drift": [], "warnings": []})
    );
    assert!(t.docker_log().is_empty(), "{:?}", t.docker_log());
}

#[test]
fn files_that_are_not_text_are_skipped_with_a_warning() {
    let t = Test::new();
    workspace(&t, "[\"bin/*\"]");
    fs::create_dir_all(t.path("bin")).unwrap();
    let bytes = b"reg.io:5000/k/km-c-p \xff\xfe\n".to_vec();
    fs::write(t.path("bin/blob"), &bytes).unwrap();
    let out = t.run(&["refs", "--write"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("warning: `bin/blob` is not UTF-8 text; skipped, left as it is"),
        "{}",
        out.stderr
    );
    assert_eq!(fs::read(t.path("bin/blob")).unwrap(), bytes);
}

#[test]
fn bad_locks_globs_and_files_fail_before_anything_is_written() {
    let cases: &[(&str, Option<String>, &str)] = &[
        ("[../x.yml]", None, "error: `$ROOT/images.yaml:2:16`: workspace.references[0]: reference glob `../x.yml` must be a path inside the workspace: it names the directory itself or leaves it\n"),
        ("[/etc/passwd]", None, "error: `$ROOT/images.yaml:2:16`: workspace.references[0]: reference glob `/etc/passwd` must be a path inside the workspace: it is absolute\n"),
        ("[\"ci/[x\"]", None, "error: `$ROOT/images.yaml:2:16`: workspace.references[0]: reference glob `ci/[x` is not a valid glob: Pattern syntax error near position 3: invalid range pattern\n"),
        ("[]", None, "error: `workspace.references` in `$ROOT/images.yaml` lists no files; add globs of the files that refer to images (e.g. `references: [\"docker/*.dockerfile\", \".github/workflows/*.yml\"]`)\n"),
        ("[ci/*.yml]", Some(String::new()), "error: `$ROOT/images.lock` is missing or empty; run `imagemk pin` (or `imagemk push --lock`) first\n"),
        ("[ci/*.yml]", Some(format!("\"reg.io/k/x\":\n  image: c/kmm\n  tag: t\n  digest: {A}\n")), "error: `$ROOT/images.lock:1`: `reg.io/k/x` is locked for image `c/kmm`, which is not in the workspace: run `imagemk pin` again or remove the entry; did you mean `c/km`?\n"),
        ("[ci/*.yml]", Some("\"reg.io/k/x\":\n  image: c/km\n  tag: t\n  digest: sha256:abc\n".into()), "error: `$ROOT/images.lock:2:3`: reg.io/k/x: `sha256:abc` is not a sha256 digest (`sha256:` and 64 lowercase hex digits)\n"),
    ];
    for (globs, lock, want) in cases {
        let t = Test::new();
        workspace(&t, globs);
        if let Some(lock) = lock {
            t.file("images.lock", lock);
        }
        t.file("ci/main.yml", CI);
        let out = t.run(&["refs", "--write"]);
        assert_eq!(
            out.stderr.replace(&t.root.display().to_string(), "$ROOT"),
            *want,
            "{globs} {lock:?}"
        );
        assert_eq!(out.status, 1, "{globs}");
        assert_eq!(fs::read_to_string(t.path("ci/main.yml")).unwrap(), CI);
        assert!(t.docker_log().is_empty());
    }
}

#[test]
fn a_reference_file_outside_the_workspace_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("x.yml"), CI).unwrap();
    let t = Test::new();
    workspace(&t, "[ci/*.yml]");
    fs::create_dir_all(t.path("ci")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("x.yml"), t.path("ci/x.yml")).unwrap();
    let out = t.run(&["refs", "--write"]);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr.contains("outside the workspace"),
        "{}",
        out.stderr
    );
    assert_eq!(
        fs::read_to_string(outside.path().join("x.yml")).unwrap(),
        CI
    );
}
