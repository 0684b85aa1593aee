//! `imagemk build` through the real binary, with the fake docker on PATH: up-to-date decisions
//! from the labels the engine reports, the plain progress lines and the build log, the job
//! limit on real processes, and a real git checkout. The order and flags of every command, a
//! failure that stops dependents, `list`, and every bad-input message are tested in-process
//! in `src/commands/build_tests.rs`.

mod support;

use support::Test;

/// A workspace: root component `core` with `base`; member `app` with `lib` (FROM base) and
/// `tool` (depends on lib in config); member `web` with `site` (FROM base).
fn workspace() -> Test {
    let t = Test::new();
    t.fake_docker();
    t.file(
        "images.yaml",
        "workspace:\n  members: [\"comp/*\"]\ndefaults:\n  namespace: acme\n  platform: tiny\ncomponent: core\nimages:\n  base:\n    dockerfile: docker/base.dockerfile\n    context: docker\n",
    );
    t.file("docker/base.dockerfile", "FROM scratch\n");
    t.file(
        "comp/app/images.yaml",
        "images:\n  lib:\n    dockerfile: lib.dockerfile\n    args: {B: \"2\", A: \"1\"}\n    labels: {team: core}\n    target: final\n  tool:\n    kind: tool\n    dockerfile: tool-{platform}.dockerfile\n    depends: [lib]\n",
    );
    t.file(
        "comp/app/lib.dockerfile",
        "ARG NAMESPACE\nARG IMAGE_TAG=latest\nFROM ${NAMESPACE}/base-core-tiny:${IMAGE_TAG} AS final\n",
    );
    t.file("comp/app/tool-tiny.dockerfile", "FROM scratch\n");
    t.file(
        "comp/web/images.yaml",
        "images:\n  site:\n    dockerfile: Dockerfile\n",
    );
    t.file("comp/web/Dockerfile", "FROM acme/base-core-tiny:latest\n");
    t
}

/// The input digest `build` computes for `image` (from `why --json`).
fn inputs_of(t: &Test, image: &str) -> String {
    let out = t.run(&["why", "--json", image]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let rows: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["image"] == image)
        .unwrap();
    row["inputs"].as_str().unwrap().to_string()
}

#[test]
fn selection_builds_dependencies_that_are_not_up_to_date() {
    let mut t = workspace();
    t.file("images", "acme/base-core-tiny:latest\n");
    let base = inputs_of(&t, "core/base");
    t.file(
        "labels",
        &format!("acme/base-core-tiny:latest sha256:1 {base}\n"),
    );
    t.cd("comp/app");
    // `tool` needs `lib` (missing), which needs `base` (up to date): base is not built.
    let out = t.run(&["build", "tool", "--dry-run"]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(lines[0].contains("--tag acme/lib-app-tiny:latest"));
    assert!(lines[1].contains("--tag acme/tool-app-tiny:latest"));
    // --deps rebuilds them all.
    let out = t.run(&["build", "tool", "--deps", "--dry-run"]);
    assert_eq!(out.stdout.lines().count(), 3, "{}", out.stdout);
    // A real run says which dependency is up to date.
    let out = t.run(&["build", "tool", "-j", "1"]);
    out.ok();
    let short: String = base[7..19].to_string();
    assert!(
        out.stderr
            .starts_with(&format!("core/base: up to date (inputs {short}…)\n")),
        "{}",
        out.stderr
    );
    // A dependency whose inputs changed is rebuilt although it exists (the stale
    // dependency), and says why; a label that is not a digest is out of date, said so.
    t.file("labels", "acme/base-core-tiny:latest sha256:1 latest\n");
    let out = t.run(&["build", "tool", "--dry-run"]);
    assert_eq!(out.stdout.lines().count(), 3, "{}", out.stdout);
    assert!(
        out.stderr.contains("core/base: build: the local image's `io.imagemk.inputs` label is not a digest (`latest`): treated as out of date\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn kind_selection_and_plain_progress_lines() {
    let mut t = workspace();
    t.file(
        "images",
        "acme/base-core-tiny:latest\nacme/lib-app-tiny:latest\n",
    );
    let (base, lib) = (inputs_of(&t, "core/base"), inputs_of(&t, "app/lib"));
    t.file(
        "labels",
        &format!(
            "acme/base-core-tiny:latest sha256:1 {base}\nacme/lib-app-tiny:latest sha256:2 {lib}\n"
        ),
    );
    t.cd("comp/app");
    let out = t.run(&["build", "--kind", "tool"]);
    out.ok();
    let stderr: Vec<&str> = out.stderr.lines().collect();
    assert!(
        stderr[0].starts_with("core/base: up to date (inputs "),
        "{}",
        out.stderr
    );
    assert!(
        stderr[1].starts_with("app/lib: up to date (inputs "),
        "{}",
        out.stderr
    );
    let stderr = &stderr[1..];
    assert_eq!(stderr[1], "app/tool | building");
    assert_eq!(stderr[2], "app/tool | Step 1/2 : FROM scratch");
    assert_eq!(
        stderr[3],
        "app/tool | Successfully tagged acme/tool-app-tiny:latest"
    );
    assert!(
        stderr[4].starts_with("app/tool | ✓ built in "),
        "{}",
        stderr[4]
    );
    assert_eq!(stderr[5], "summary: 1 built; 2 up to date");
    assert_eq!(stderr.len(), 6);
    assert_eq!(
        std::fs::read_to_string(t.path(".imagemk/logs/app/tool.log"))
            .unwrap()
            .lines()
            .skip(1)
            .collect::<Vec<_>>(),
        [
            "Step 1/2 : FROM scratch",
            "Successfully tagged acme/tool-app-tiny:latest"
        ]
    );
}

#[test]
fn parallel_builds_overlap_up_to_the_job_limit() {
    let t = Test::new();
    t.fake_docker();
    t.file("build-sleep", "0.6");
    let mut yaml = String::from("component: c\nimages:\n");
    for name in ["a", "b", "c"] {
        yaml.push_str(&format!("  {name}:\n    dockerfile: Dockerfile\n"));
    }
    t.file("images.yaml", &yaml);
    t.file("Dockerfile", "FROM scratch\n");
    let peak = |t: &Test| {
        let times = std::fs::read_to_string(t.path("build-times")).unwrap();
        let mut events: Vec<(f64, i32)> = times
            .lines()
            .map(|l| {
                let parts: Vec<&str> = l.split(' ').collect();
                (
                    parts[2].parse().unwrap(),
                    if parts[0] == "start" { 1 } else { -1 },
                )
            })
            .collect();
        events.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let (mut now, mut max) = (0, 0);
        for (_, d) in events {
            now += d;
            max = max.max(now);
        }
        std::fs::remove_file(t.path("build-times")).unwrap();
        max
    };
    // `-j` reaches the scheduler: two of three builds overlap, never three. The limit itself
    // (1, 2, 3) is tested on the scheduler (`scheduler::tests`).
    t.run(&["build", "-j", "2"]).ok();
    assert_eq!(peak(&t), 2);
}

#[test]
fn the_source_revision_is_neither_a_label_nor_an_input() {
    let t = workspace();
    let git = |args: &[&str]| {
        let mut c = t.command("git", args);
        c.env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t");
        assert!(c.status().unwrap().success());
    };
    git(&["init", "-q", "-b", "feature"]);
    git(&["add", "images.yaml"]);
    git(&["commit", "-q", "-m", "x"]);
    let before = inputs_of(&t, "core/base");
    git(&["commit", "-q", "--allow-empty", "-m", "y"]);
    assert_eq!(inputs_of(&t, "core/base"), before);
    let out = t.run(&["build", "lib", "-C", "comp/app", "--dry-run"]);
    assert!(
        !out.stdout.contains("revision") && !out.stdout.contains("branch"),
        "{}",
        out.stdout
    );
    assert!(!t.docker_log().iter().any(|l| l.contains("git")));
}
