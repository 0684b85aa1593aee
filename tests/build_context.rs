//! The build context as a tar stream, through the real binary and the fake docker (which saves
//! the archive it reads on stdin): staged files reach the archive and never the user's tree,
//! parallel builds sharing a context do not collide, `stage: to:` cannot leave the context,
//! and logs are never shared between runs.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;

use support::Test;

/// Two images with one context, both staging files; a third file already in the context.
fn shared_context() -> Test {
    let t = Test::new();
    t.fake_docker();
    t.file(
        "images.yaml",
        "component: c\nimages:\n  one:\n    dockerfile: one.dockerfile\n    context: docker\n    stage: [{from: out/busybox, to: busybox}, {from: out/tree, to: lib/tree}]\n  two:\n    dockerfile: docker/two.dockerfile\n    context: docker\n    stage: [{from: out/busybox, to: busybox}]\n",
    );
    t.file("one.dockerfile", "FROM scratch\nCOPY busybox /\n");
    t.file("docker/two.dockerfile", "FROM scratch\nCOPY busybox /\n");
    t.file("docker/keep.txt", "user file\n");
    t.file("docker/.dockerignore", "*.log\n");
    t.file("docker/debug.log", "ignored\n");
    t.file("out/busybox", "pretend binary\n");
    t.file("out/tree/a/b.txt", "b\n");
    t
}

/// Every path under `root` (but imagemk's `.imagemk/` and the fake's own files) with its
/// contents and mode.
fn snapshot(root: &Path) -> BTreeMap<String, (Vec<u8>, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if [".imagemk", "docker.log", "build-times"].contains(&rel.as_str()) {
                continue;
            }
            let meta = fs::symlink_metadata(&p).unwrap();
            let body = if meta.is_file() {
                fs::read(&p).unwrap()
            } else {
                Vec::new()
            };
            out.insert(rel, (body, meta.permissions().mode()));
            if meta.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

/// `entries` with every input digest shown as `sha256:D`.
fn masked(entries: Vec<(String, String)>) -> Vec<(String, String)> {
    let re = regex::Regex::new("sha256:[0-9a-f]{64}").unwrap();
    entries
        .into_iter()
        .map(|(p, b)| (p, re.replace_all(&b, "sha256:D").into_owned()))
        .collect()
}

/// (path, contents) of the archive the fake docker received for `tag`.
fn archive(t: &Test, tag: &str) -> Vec<(String, String)> {
    let file = t.path(&format!(
        ".imagemk/contexts/{}.tar",
        tag.replace(['/', ':'], "_")
    ));
    let bytes = fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut ar = tar::Archive::new(bytes.as_slice());
    ar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let mut body = String::new();
            e.read_to_string(&mut body).unwrap();
            (e.path().unwrap().display().to_string(), body)
        })
        .collect()
}

#[test]
fn parallel_builds_of_one_context_get_their_staged_files_and_the_tree_is_untouched() {
    let t = shared_context();
    t.file("build-sleep", "0.3");
    let before = snapshot(&t.root);
    let out = t.run(&["build", "-j", "2"]);
    out.ok();
    assert_eq!(snapshot(&t.root), before, "the user's tree changed");
    let s = |a: &str, b: &str| (a.to_string(), b.to_string());
    let label = |id: &str| {
        format!("LABEL \"io.imagemk.image\"=\"{id}\" \"io.imagemk.inputs\"=\"sha256:D\"\n")
    };
    assert_eq!(
        masked(archive(&t, "local/one-c-linux:latest")),
        [
            s("keep.txt", "user file\n"),
            s("two.dockerfile", "FROM scratch\nCOPY busybox /\n"),
            // The Dockerfile from outside the context, and `.dockerignore` naming it so the
            // daemon drops it after reading (as docker's CLI does).
            // imagemk's labels as one `LABEL` line appended (one step on the legacy builder).
            s(
                ".imagemk-dockerfile",
                &format!("FROM scratch\nCOPY busybox /\n{}", label("c/one")),
            ),
            s(".dockerignore", "*.log\n\n.imagemk-dockerfile\n"),
            s("busybox", "pretend binary\n"),
            s("lib", ""),
            s("lib/tree", ""),
            s("lib/tree/a", ""),
            s("lib/tree/a/b.txt", "b\n"),
        ]
    );
    // A Dockerfile inside the context is sent as it is, and again with the labels as
    // `.imagemk-dockerfile`, which the daemon drops.
    assert_eq!(
        masked(archive(&t, "local/two-c-linux:latest")),
        [
            s("keep.txt", "user file\n"),
            s("two.dockerfile", "FROM scratch\nCOPY busybox /\n"),
            s(
                ".imagemk-dockerfile",
                &format!("FROM scratch\nCOPY busybox /\n{}", label("c/two")),
            ),
            s(".dockerignore", "*.log\n\n.imagemk-dockerfile\n"),
            s("busybox", "pretend binary\n"),
        ]
    );
    // The command reads its context on stdin and says so.
    let log = t.docker_log();
    assert!(
        log.iter().any(|l| l.starts_with(
            "docker build --force-rm --file .imagemk-dockerfile --tag local/one-c-linux:latest"
        ) && l.ends_with(" -")),
        "{log:?}"
    );
    // One finished log per image, no per-run part left.
    let mut logs: Vec<String> = fs::read_dir(t.path(".imagemk/logs/c"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    logs.sort();
    assert_eq!(logs, ["one.log", "two.log"]);
}

#[test]
fn dry_run_shows_the_archive_on_stdin() {
    let t = shared_context();
    let out = t.run(&["build", "two", "--dry-run"]);
    out.is(
        0,
        "docker build --force-rm --file .imagemk-dockerfile --tag local/two-c-linux:latest - < (tar of context $ROOT/docker + $ROOT/docker/two.dockerfile and a LABEL line as .imagemk-dockerfile + $ROOT/out/busybox as busybox)\n",
        "c/two: build: no local image\n",
    );
}

#[test]
fn two_concurrent_runs_on_one_workspace_both_succeed() {
    let t = shared_context();
    t.file("build-sleep", "0.5");
    let before = snapshot(&t.root);
    let children: Vec<_> = (0..2)
        .map(|_| {
            t.command(support::BIN, &["build", "-j", "2"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(snapshot(&t.root), before, "the user's tree changed");
}

#[test]
fn stage_to_outside_the_context_is_refused_before_any_docker_command() {
    for (to, shown) in [
        ("../../x", "../../x"),
        ("/abs/x", "/abs/x"),
        ("a/../../x", "a/../../x"),
    ] {
        let t = Test::new();
        t.fake_docker();
        t.file(
            "images.yaml",
            &format!("component: c\nimages:\n  app:\n    dockerfile: Dockerfile\n    context: docker\n    stage: [{{from: f, to: \"{to}\"}}]\n  top:\n    dockerfile: Dockerfile\n    depends: [app]\n"),
        );
        t.file("Dockerfile", "FROM scratch\n");
        t.file("docker/x", "");
        t.file("f", "");
        // Through a dependency too: `top` needs `app`.
        let out = t.run(&["build", "top"]);
        // Refused when the workspace loads, with the value's position; `plan::check_inputs`
        // refuses the same again before planning (unit-tested there).
        assert_eq!(out.status, 1, "{out:?}");
        assert!(
            out.stderr.starts_with("error: `$ROOT/images.yaml:6:")
                && out.stderr.contains(&format!(
                    "stage destination `{shown}` must be a path inside the build context"
                )),
            "{}",
            out.stderr
        );
        assert!(t.docker_log().is_empty(), "{:?}", t.docker_log());
    }
}

#[test]
fn a_missing_staged_file_fails_the_build_before_docker_starts() {
    let t = shared_context();
    fs::remove_file(t.path("out/busybox")).unwrap();
    let out = t.run(&["build", "two"]);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr.contains("error: cannot stage `$ROOT/out/busybox`: it does not exist (build it first, or fix `stage:`)"),
        "{}",
        out.stderr
    );
    assert!(!t.docker_log().iter().any(|l| l.starts_with("docker build")));
}

#[test]
fn a_build_that_stops_reading_its_context_reports_its_own_failure() {
    // docker exits without reading stdin (e.g. a bad flag): no hang on the full pipe, and the
    // error is the build's, not "broken pipe".
    let t = shared_context();
    t.file("build-no-read", "");
    t.file("fail-build", "two\n");
    let big = "x".repeat(4 << 20);
    t.file("docker/big", &big);
    let out = t.run(&["build", "two"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("error: the build of `c/two` failed: `docker build"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("pipe"), "{}", out.stderr);
}
