//! `imagemk build` and `list` through the real binary, with the fake docker on PATH: the order
//! and flags of every command, staging, concurrency, and every bad-input message.

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

/// A build whose labels go into one `LABEL` line appended to the Dockerfile, which is then
/// always sent as `.imagemk-dockerfile` (the context's own copy, if any, unchanged).
fn build_line(file: &str, name: &str, extra: &str, ctx: &str) -> String {
    format!(
        "docker build --force-rm --file .imagemk-dockerfile --tag {name}{extra} - < (tar of context $ROOT/{ctx} + $ROOT/{file} and a LABEL line as .imagemk-dockerfile)"
    )
}

/// A build whose labels go as `--label` flags (an image with a `target:`, whose appended
/// line would land in the last stage); digests shown as `sha256:D` (see [`masked`]).
fn build_line_with(
    file: &str,
    name: &str,
    extra: &str,
    id: &str,
    ctx: &str,
    labels: &str,
) -> String {
    // The context goes to docker as a tar on stdin; a Dockerfile outside it is added under
    // `.imagemk-dockerfile`, one inside keeps its path in the context.
    let dir = ctx.trim_end_matches("/.");
    let (in_archive, note) = match file.strip_prefix(&format!("{dir}/")) {
        Some(rel) => (rel.to_string(), String::new()),
        None => (
            ".imagemk-dockerfile".to_string(),
            format!(" + $ROOT/{file} as .imagemk-dockerfile"),
        ),
    };
    format!(
        "docker build --force-rm --file {in_archive} --tag {name}{extra} --label io.imagemk.image={id} --label io.imagemk.inputs=sha256:D{labels} - < (tar of context $ROOT/{ctx}{note})"
    )
}

/// `text` with every input digest shown as `sha256:D`.
fn masked(text: &str) -> String {
    regex::Regex::new("sha256:[0-9a-f]{64}")
        .unwrap()
        .replace_all(text, "sha256:D")
        .into_owned()
}

#[test]
fn dry_run_prints_every_build_in_dependency_order() {
    let t = workspace();
    let out = t.run(&["build", "--all", "--dry-run"]);
    let expected = [
        build_line("docker/base.dockerfile", "acme/base-core-tiny:latest", "", "docker"),
        build_line_with(
            "comp/app/lib.dockerfile",
            "acme/lib-app-tiny:latest",
            " --target final --build-arg A=1 --build-arg B=2 --build-arg IMAGE_TAG=latest --build-arg NAMESPACE=acme",
            "app/lib",
            "comp/app/.",
            " --label team=core",
        ),
        build_line("comp/app/tool-tiny.dockerfile", "acme/tool-app-tiny:latest", "", "comp/app/."),
        build_line("comp/web/Dockerfile", "acme/site-web-tiny:latest", "", "comp/web/."),
    ];
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(masked(&out.stdout), expected.join("\n") + "\n");
    // The decisions go to stderr.
    assert_eq!(
        out.stderr,
        "core/base: build: no local image\napp/lib: build: no local image\napp/tool: build: no local image\nweb/site: build: no local image\n"
    );
    // The fake logs argv with bash's `printf %q`; only the read-only queries ran: one
    // inspect of every name (all present and up to date would end the look-up there), then
    // the list of local images.
    assert_eq!(
        t.docker_log(),
        [
            "docker image inspect --format \\{\\{.Id\\}\\}\\ \\{\\{index\\ .Config.Labels\\ \\\"io.imagemk.inputs\\\"\\}\\} acme/base-core-tiny:latest acme/lib-app-tiny:latest acme/site-web-tiny:latest acme/tool-app-tiny:latest",
            "docker image ls --format \\{\\{.Repository\\}\\}:\\{\\{.Tag\\}\\}"
        ]
    );
}

#[test]
fn builds_run_in_dependency_order_with_their_flags() {
    let t = workspace();
    t.run(&["build", "--all", "-j", "1"]).ok();
    let log = t.docker_log();
    let builds: Vec<&str> = log
        .iter()
        .filter(|l| l.starts_with("docker build"))
        .map(|l| l.split("--tag ").nth(1).unwrap().split(' ').next().unwrap())
        .collect();
    assert_eq!(
        builds,
        [
            "acme/base-core-tiny:latest",
            "acme/lib-app-tiny:latest",
            "acme/tool-app-tiny:latest",
            "acme/site-web-tiny:latest"
        ]
    );
    assert_eq!(
        log[1],
        "docker image ls --format \\{\\{.Repository\\}\\}:\\{\\{.Tag\\}\\}"
    );
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
fn tag_and_platform_come_from_flags_then_environment() {
    let mut t = workspace();
    t.env("IMAGE_TAG", "CI-42");
    let out = t.run(&["build", "base", "--dry-run"]);
    assert!(
        out.stdout.contains("--tag acme/base-core-tiny:CI-42 "),
        "{}",
        out.stdout
    );
    let out = t.run(&["build", "base", "--dry-run", "--tag", "v2"]);
    assert!(
        out.stdout.contains("--tag acme/base-core-tiny:v2 "),
        "{}",
        out.stdout
    );
    t.env("DTYPE", "huge");
    let out = t.run(&["list"]);
    assert!(
        out.stdout.contains("acme/base-core-huge:CI-42"),
        "{}",
        out.stdout
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
    t.run(&["build", "-j", "3"]).ok();
    assert_eq!(peak(&t), 3);
    t.run(&["build", "-j", "2"]).ok();
    assert_eq!(peak(&t), 2);
    t.run(&["build", "-j", "1"]).ok();
    assert_eq!(peak(&t), 1);
}

#[test]
fn a_failing_build_stops_dependents_and_unstages_files() {
    let t = workspace();
    t.file("fail-build", "lib-app\n");
    t.file("comp/app/bin/tool", "binary");
    t.file(
        "comp/app/images.yaml",
        "images:\n  lib:\n    dockerfile: lib.dockerfile\n    stage:\n      - {from: bin/tool, to: staged/tool}\n  tool:\n    kind: tool\n    dockerfile: tool-{platform}.dockerfile\n    depends: [lib]\n",
    );
    let out = t.run(&["build", "--all", "-j", "1"]);
    assert_eq!(out.status, 1);
    assert!(
        !t.exists("comp/app/staged"),
        "staged files were left behind"
    );
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .skip_while(|l| !l.starts_with("summary:"))
        .collect();
    let line = build_line(
        "comp/app/lib.dockerfile",
        "acme/lib-app-tiny:latest",
        " --build-arg IMAGE_TAG=latest --build-arg NAMESPACE=acme",
        "comp/app/.",
    )
    .replace(
        "as .imagemk-dockerfile)",
        "as .imagemk-dockerfile + $ROOT/comp/app/bin/tool as staged/tool)",
    );
    assert_eq!(
        errors,
        [
            "summary: 1 built; 1 failed: app/lib; 2 skipped: app/tool (needs app/lib), web/site (not started)",
            &format!("error: the build of `app/lib` failed: `{line}` exited with status 1"),
            "  | Step 1/2 : FROM scratch",
            "  | Step 2/2 : RUN false",
            "  | The command '/bin/sh -c false' returned a non-zero code: 1",
            "  full log: $ROOT/.imagemk/logs/app/lib.log",
        ]
    );
}

#[test]
fn keep_going_builds_everything_that_does_not_depend_on_the_failure() {
    let t = workspace();
    t.file("fail-build", "lib-app\n");
    let out = t.run(&["build", "--all", "-j", "1", "--keep-going"]);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr
            .contains("summary: 2 built; 1 failed: app/lib; 1 skipped: app/tool (needs app/lib)\n"),
        "{}",
        out.stderr
    );
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

#[test]
fn list_shows_names_dockerfiles_and_dependencies() {
    let t = workspace();
    t.run(&["list"]).is(
        0,
        "IMAGE      NAME                        DOCKERFILE                     DEPENDS
core/base  acme/base-core-tiny:latest  docker/base.dockerfile         -
app/lib    acme/lib-app-tiny:latest    comp/app/lib.dockerfile        core/base
app/tool   acme/tool-app-tiny:latest   comp/app/tool-tiny.dockerfile  app/lib
web/site   acme/site-web-tiny:latest   comp/web/Dockerfile            core/base
",
        "",
    );
    let out = t.run(&["list", "--json", "app/tool"]);
    out.is(
        0,
        r#"[
  {
    "component": "app",
    "context": "comp/app",
    "depends": [
      "app/lib"
    ],
    "dockerfile": "comp/app/tool-tiny.dockerfile",
    "id": "app/tool",
    "key": "tool",
    "kind": "tool",
    "name": "acme/tool-app-tiny:latest",
    "problems": [],
    "variant": null
  }
]
"#,
        "",
    );
    assert!(t.docker_log().is_empty());
}

#[test]
fn variants_add_args_and_a_name_suffix() {
    let t = Test::new();
    t.fake_docker();
    t.file(
        "images.yaml",
        "component: c\nimages:\n  envoy:\n    dockerfile: Dockerfile\n    variants:\n      debug: {args: {DEBUG: \"1\"}}\n",
    );
    t.file("Dockerfile", "FROM scratch\n");
    let out = t.run(&["build", "--variant", "debug", "--dry-run"]);
    assert!(
        out.stdout.starts_with("docker build --force-rm --file .imagemk-dockerfile --tag local/envoy-c-linux-debug:latest --build-arg DEBUG=1 "),
        "{}",
        out.stdout
    );
}

// ---- bad input: one clear message, status 1, and no docker command run ----

fn rejects(t: &Test, args: &[&str], stderr: &str) {
    t.run(args).fails_with(stderr);
    assert!(
        t.docker_log().is_empty(),
        "docker ran: {:?}",
        t.docker_log()
    );
}

#[test]
fn malformed_yaml_names_file_line_and_column() {
    let t = workspace();
    t.file(
        "comp/web/images.yaml",
        "images:\n  site:\n\tdockerfile: Dockerfile\n",
    );
    rejects(
        &t,
        &["build", "--all"],
        "error: `$ROOT/comp/web/images.yaml:3:1`: found character that cannot start any token\n",
    );
    t.file(
        "comp/web/images.yaml",
        "images:\n  site:\n    dockerfile: [a]\n",
    );
    rejects(&t, &["build", "--all"], "error: `$ROOT/comp/web/images.yaml:3:17`: images.site.dockerfile: invalid type: sequence, expected a string\n");
}

#[test]
fn unknown_key_suggests_the_nearest() {
    let t = workspace();
    t.file(
        "comp/web/images.yaml",
        "images:\n  site:\n    dockerfiel: Dockerfile\n",
    );
    rejects(&t, &["build"], "error: `$ROOT/comp/web/images.yaml:3:5`: unknown key `dockerfiel` in `images.site`; did you mean `dockerfile`? (valid keys: kind, dockerfile, context, args, labels, target, depends, stage, variants, run, artifacts, host, timeout)\n");
}

#[test]
fn unknown_dependency() {
    let t = workspace();
    t.file(
        "comp/web/images.yaml",
        "images:\n  site:\n    dockerfile: Dockerfile\n    depends: [core/bsae]\n",
    );
    rejects(&t, &["build"], "error: image `web/site` in `$ROOT/comp/web/images.yaml` depends on `core/bsae`: unknown image `bsae` in component `core`; did you mean `base`? (images there: base)\n");
}

#[test]
fn unknown_image_on_the_command_line() {
    let t = workspace();
    rejects(&t, &["build", "app/tol"], "error: unknown image `tol` in component `app`; did you mean `tool`? (images there: lib, tool)\n");
    rejects(&t, &["build", "ap/tool"], "error: unknown component `ap` in `ap/tool`; did you mean `app`? (components: core, app, web)\n");
    rejects(&t, &["build", "--kind", "tset"], "error: component `core` (`$ROOT/images.yaml`) has no image of kind `tset` (kinds there: base)\n");
}

#[test]
fn dependency_cycle_is_printed() {
    let t = workspace();
    t.file("docker/base.dockerfile", "FROM acme/site-web-tiny\n");
    rejects(&t, &["build", "--all"], "error: dependency cycle: core/base → web/site → core/base (from `depends:` and `FROM` lines); remove one of these dependencies\n");
}

#[test]
fn missing_dockerfile_or_context() {
    let t = workspace();
    std::fs::remove_file(t.path("comp/app/tool-tiny.dockerfile")).unwrap();
    rejects(&t, &["build", "app/tool"], "error: image `app/tool` has no Dockerfile at `$ROOT/comp/app/tool-tiny.dockerfile`; create it or set `dockerfile:` in `$ROOT/comp/app/images.yaml`\n");
    t.file(
        "comp/web/images.yaml",
        "images:\n  site:\n    dockerfile: Dockerfile\n    context: nowhere\n",
    );
    rejects(&t, &["build", "web/site"], "error: image `web/site` has no build context directory `$ROOT/comp/web/nowhere`; create it or fix `context:` in `$ROOT/comp/web/images.yaml`\n");
}

#[test]
fn invalid_tags_and_names() {
    let mut t = workspace();
    rejects(&t, &["build", "--tag", &"a".repeat(129)], "error: invalid image tag: tag `aaaaaaaaaaaaaaaaaaaa…` is 129 characters long; a docker tag has at most 128\n");
    t.env("IMAGE_TAG", "CI/42");
    rejects(&t, &["build"], "error: invalid image tag: tag `CI/42` is not a valid docker tag: use letters, digits, `_`, `.` and `-`, not starting with `.` or `-`\n");
    let t = workspace();
    t.file(
        "comp/web/images.yaml",
        "images:\n  Site:\n    dockerfile: Dockerfile\n",
    );
    rejects(&t, &["build"], "error: `$ROOT/comp/web/images.yaml:2:3`: images: image key `Site` is not a valid name: use lowercase letters and digits, separated by `.`, `_`, `__` or `-` (no `/`, at most 128 characters)\n");
}

#[test]
fn two_images_with_the_same_name() {
    let t = workspace();
    t.file("comp/web/images.yaml", "images:\n  site:\n    dockerfile: Dockerfile\n  other:\n    kind: site\n    dockerfile: Dockerfile\n");
    rejects(&t, &["build"], "error: images `web/other` (in `$ROOT/comp/web/images.yaml`) and `web/site` (in `$ROOT/comp/web/images.yaml`) both get the name `acme/site-web-tiny:latest`; give one another `kind` or change the name template\n");
}

#[test]
fn no_workspace_file() {
    let t = Test::new();
    t.fake_docker();
    rejects(&t, &["build"], "error: no `images.yaml` in `$ROOT` or any directory above it; imagemk needs a workspace file (see the README's configuration reference)\n");
}

#[test]
fn docker_not_installed() {
    let mut t = workspace();
    t.without("docker");
    t.run(&["build", "base"]).fails_with(
        "error: `docker` is not installed or not on PATH; install Docker Engine (https://docs.docker.com/engine/install/) and make sure `docker` is on PATH\n",
    );
}

#[test]
fn engine_not_reachable() {
    let t = workspace();
    t.file("engine-down", "");
    t.run(&["build", "base"]).fails_with(
        "error: the docker engine is not reachable; start it (e.g. `sudo systemctl start docker`) or point `DOCKER_HOST` at a running one
  caused by: `docker image ls --format '{{.Repository}}:{{.Tag}}'` failed with exit status 1
  | Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?
",
    );
    // The one-call look-up of the images failed, then the probe said why.
    let log = t.docker_log();
    assert_eq!(log.len(), 2, "only the read-only queries ran: {log:?}");
    assert!(
        log[0].starts_with("docker image inspect --format "),
        "{log:?}"
    );
}

#[test]
fn component_defaults_override_the_workspace_and_lose_to_the_environment() {
    let mut t = workspace();
    t.file(
        "comp/web/images.yaml",
        "defaults:\n  platform: web-only\n  tag: v9\nimages:\n  site:\n    dockerfile: Dockerfile\n",
    );
    let names = |t: &Test| {
        t.run(&["list", "--json"])
            .stdout
            .lines()
            .filter(|l| l.contains("\"name\""))
            .map(|l| l.trim().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&t),
        [
            "\"name\": \"acme/base-core-tiny:latest\",",
            "\"name\": \"acme/lib-app-tiny:latest\",",
            "\"name\": \"acme/tool-app-tiny:latest\",",
            "\"name\": \"acme/site-web-web-only:v9\","
        ]
    );
    t.env("IMAGE_TAG", "CI-1");
    t.env("PLATFORM", "p");
    assert_eq!(names(&t)[3], "\"name\": \"acme/site-web-p:CI-1\",");
}
