//! build and list in-process (`runner::Recorder`): the exact engine commands and their order,
//! the decisions and progress lines, a failure that stops its dependents, and every bad-input
//! message with nothing run.

use std::sync::Arc;

use super::push_tests::{run, run_with, write, ENGINE_DOWN, IMAGE_LS};
use crate::runner::{Recorder, Reply};

/// A workspace: root component `core` with `base`; member `app` with `lib` (FROM base) and
/// `tool` (depends on lib in config); member `web` with `site` (FROM base).
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in [
        ("images.yaml", "workspace:\n  members: [\"comp/*\"]\ndefaults:\n  namespace: acme\n  platform: tiny\ncomponent: core\nimages:\n  base:\n    dockerfile: docker/base.dockerfile\n    context: docker\n"),
        ("docker/base.dockerfile", "FROM scratch\n"),
        ("comp/app/images.yaml", "images:\n  lib:\n    dockerfile: lib.dockerfile\n    args: {B: \"2\", A: \"1\"}\n    labels: {team: core}\n    target: final\n  tool:\n    kind: tool\n    dockerfile: tool-{platform}.dockerfile\n    depends: [lib]\n"),
        ("comp/app/lib.dockerfile", "ARG NAMESPACE\nARG IMAGE_TAG=latest\nFROM ${NAMESPACE}/base-core-tiny:${IMAGE_TAG} AS final\n"),
        ("comp/app/tool-tiny.dockerfile", "FROM scratch\n"),
        ("comp/web/images.yaml", "images:\n  site:\n    dockerfile: Dockerfile\n"),
        ("comp/web/Dockerfile", "FROM acme/base-core-tiny:latest\n"),
    ] {
        write(&dir, path, text);
    }
    dir
}

/// The one read of every image's ID and input label before a build.
const LOOKUP: &str = "docker image inspect --format '{{.Id}} {{index .Config.Labels \"io.imagemk.inputs\"}}' acme/base-core-tiny:latest acme/lib-app-tiny:latest acme/site-web-tiny:latest acme/tool-app-tiny:latest";

/// An engine without any image.
fn empty() -> Recorder {
    Recorder::new().on(
        "docker image inspect",
        Reply::Fail(
            1,
            "Error: No such image: acme/base-core-tiny:latest\n".into(),
        ),
    )
}

/// The commands `rec` was given, with the workspace's path as `$ROOT` and every digest as
/// `sha256:D`.
fn lines(rec: &Recorder, dir: &tempfile::TempDir) -> Vec<String> {
    let root = dir.path().to_str().unwrap();
    rec.lines()
        .iter()
        .map(|l| masked(&l.replace(root, "$ROOT")))
        .collect()
}

/// `text` with every input digest shown as `sha256:D`.
fn masked(text: &str) -> String {
    regex::Regex::new("sha256:[0-9a-f]{64}")
        .unwrap()
        .replace_all(text, "sha256:D")
        .into_owned()
}

/// A build whose labels go into one `LABEL` line appended to the Dockerfile, which is then
/// always sent as `.imagemk-dockerfile` (the context's own copy, if any, unchanged).
fn build_line(file: &str, name: &str, extra: &str, ctx: &str) -> String {
    format!(
        "docker build --force-rm --file .imagemk-dockerfile --tag {name}{extra} - < (tar of context $ROOT/{ctx} + $ROOT/{file} and a LABEL line as .imagemk-dockerfile)"
    )
}

/// `lib`'s build: its labels go as `--label` flags (it has a `target:`, where an appended
/// line would land in the last stage).
fn lib_line() -> String {
    "docker build --force-rm --file lib.dockerfile --tag acme/lib-app-tiny:latest --target final --build-arg A=1 --build-arg B=2 --build-arg IMAGE_TAG=latest --build-arg NAMESPACE=acme --label io.imagemk.image=app/lib --label io.imagemk.inputs=sha256:D --label team=core - < (tar of context $ROOT/comp/app/.)".to_string()
}

fn all_builds() -> [String; 4] {
    [
        build_line(
            "docker/base.dockerfile",
            "acme/base-core-tiny:latest",
            "",
            "docker",
        ),
        lib_line(),
        build_line(
            "comp/app/tool-tiny.dockerfile",
            "acme/tool-app-tiny:latest",
            "",
            "comp/app/.",
        ),
        build_line(
            "comp/web/Dockerfile",
            "acme/site-web-tiny:latest",
            "",
            "comp/web/.",
        ),
    ]
}

#[test]
fn dry_run_prints_every_build_in_dependency_order() {
    let dir = workspace();
    let rec = Arc::new(empty());
    let out = run(&rec, dir.path(), &["build", "--all", "--dry-run"]);
    out.ok();
    let root = dir.path().to_str().unwrap();
    assert_eq!(
        masked(&out.stdout.replace(root, "$ROOT")),
        all_builds().join("\n") + "\n"
    );
    // The decisions go to stderr.
    assert_eq!(
        out.stderr,
        "core/base: build: no local image\napp/lib: build: no local image\napp/tool: build: no local image\nweb/site: build: no local image\n"
    );
    // Only the read-only queries ran: one inspect of every name (all present and up to date
    // would end the look-up there), then the list of local images.
    assert_eq!(lines(&rec, &dir), [LOOKUP, IMAGE_LS]);
}

#[test]
fn builds_run_in_dependency_order_with_their_flags() {
    let dir = workspace();
    let rec = Arc::new(empty());
    run(&rec, dir.path(), &["build", "--all", "-j", "1"]).ok();
    let mut want = vec![LOOKUP.to_string(), IMAGE_LS.to_string()];
    want.extend(all_builds());
    assert_eq!(lines(&rec, &dir), want);
    assert!(rec.calls()[2..].iter().all(|c| c.how == "stream"));
}

#[test]
fn a_failing_build_stops_dependents_and_unstages_files() {
    let dir = workspace();
    write(&dir, "comp/app/bin/tool", "binary");
    write(
        &dir,
        "comp/app/images.yaml",
        "images:\n  lib:\n    dockerfile: lib.dockerfile\n    stage:\n      - {from: bin/tool, to: staged/tool}\n  tool:\n    kind: tool\n    dockerfile: tool-{platform}.dockerfile\n    depends: [lib]\n",
    );
    let failed = "Step 1/2 : FROM scratch\nStep 2/2 : RUN false\nThe command '/bin/sh -c false' returned a non-zero code: 1\n";
    let rec = Arc::new(empty().on("--tag acme/lib", Reply::Fail(1, failed.into())));
    let out = run(&rec, dir.path(), &["build", "--all", "-j", "1"]);
    assert_eq!(out.status, 1);
    assert!(
        !dir.path().join("comp/app/staged").exists(),
        "staged files were left behind"
    );
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
        out.stderr,
        format!(
            "core/base | building\n\
             core/base | ✓ built in _s\n\
             app/lib | building\n\
             app/lib | Step 1/2 : FROM scratch\n\
             app/lib | Step 2/2 : RUN false\n\
             app/lib | The command '/bin/sh -c false' returned a non-zero code: 1\n\
             app/lib | ✗ failed in _s\n\
             summary: 1 built; 1 failed: app/lib; 2 skipped: app/tool (needs app/lib), web/site (not started)\n\
             error: the build of `app/lib` failed: `{line}` exited with status 1\n  \
             | Step 1/2 : FROM scratch\n  \
             | Step 2/2 : RUN false\n  \
             | The command '/bin/sh -c false' returned a non-zero code: 1\n  \
             full log: $ROOT/.imagemk/logs/app/lib.log\n"
        )
    );
    // Nothing after the failure was started.
    let built = lines(&rec, &dir);
    assert_eq!(built[2..], [all_builds()[0].clone(), line]);
}

#[test]
fn keep_going_builds_everything_that_does_not_depend_on_the_failure() {
    let dir = workspace();
    let rec = Arc::new(empty().on("--tag acme/lib", Reply::Fail(1, "boom\n".into())));
    let out = run(
        &rec,
        dir.path(),
        &["build", "--all", "-j", "1", "--keep-going"],
    );
    assert_eq!(out.status, 1);
    assert!(
        out.stderr
            .contains("summary: 2 built; 1 failed: app/lib; 1 skipped: app/tool (needs app/lib)\n"),
        "{}",
        out.stderr
    );
    let b = all_builds();
    assert_eq!(
        lines(&rec, &dir)[2..],
        [b[0].clone(), b[1].clone(), b[3].clone()]
    );
}

#[test]
fn tag_and_platform_come_from_flags_then_environment() {
    let dir = workspace();
    let rec = Arc::new(empty());
    let dry = |args: &[&str], env: &[(&str, &str)]| run_with(&rec, dir.path(), args, env).stdout;
    let out = dry(&["build", "base", "--dry-run"], &[("IMAGE_TAG", "CI-42")]);
    assert!(out.contains("--tag acme/base-core-tiny:CI-42 "), "{out}");
    let out = dry(
        &["build", "base", "--dry-run", "--tag", "v2"],
        &[("IMAGE_TAG", "CI-42")],
    );
    assert!(out.contains("--tag acme/base-core-tiny:v2 "), "{out}");
    let out = dry(&["list"], &[("IMAGE_TAG", "CI-42"), ("DTYPE", "huge")]);
    assert!(out.contains("acme/base-core-huge:CI-42"), "{out}");
}

#[test]
fn list_shows_names_dockerfiles_and_dependencies() {
    let dir = workspace();
    let rec = Arc::new(Recorder::new());
    run(&rec, dir.path(), &["list"]).is(
        0,
        "IMAGE      NAME                        DOCKERFILE                     DEPENDS
core/base  acme/base-core-tiny:latest  docker/base.dockerfile         -
app/lib    acme/lib-app-tiny:latest    comp/app/lib.dockerfile        core/base
app/tool   acme/tool-app-tiny:latest   comp/app/tool-tiny.dockerfile  app/lib
web/site   acme/site-web-tiny:latest   comp/web/Dockerfile            core/base
",
        "",
    );
    run(&rec, dir.path(), &["list", "--json", "app/tool"]).is(
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
    assert!(rec.lines().is_empty());
}

#[test]
fn variants_add_args_and_a_name_suffix() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir, "images.yaml", "component: c\nimages:\n  envoy:\n    dockerfile: Dockerfile\n    variants:\n      debug: {args: {DEBUG: \"1\"}}\n");
    write(&dir, "Dockerfile", "FROM scratch\n");
    let rec = Arc::new(empty());
    let out = run(
        &rec,
        dir.path(),
        &["build", "--variant", "debug", "--dry-run"],
    );
    assert!(
        out.stdout.starts_with("docker build --force-rm --file .imagemk-dockerfile --tag local/envoy-c-linux-debug:latest --build-arg DEBUG=1 "),
        "{}",
        out.stdout
    );
}

#[test]
fn component_defaults_override_the_workspace_and_lose_to_the_environment() {
    let dir = workspace();
    write(
        &dir,
        "comp/web/images.yaml",
        "defaults:\n  platform: web-only\n  tag: v9\nimages:\n  site:\n    dockerfile: Dockerfile\n",
    );
    let rec = Arc::new(Recorder::new());
    let names = |env: &[(&str, &str)]| {
        run_with(&rec, dir.path(), &["list", "--json"], env)
            .stdout
            .lines()
            .filter(|l| l.contains("\"name\""))
            .map(|l| l.trim().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&[]),
        [
            "\"name\": \"acme/base-core-tiny:latest\",",
            "\"name\": \"acme/lib-app-tiny:latest\",",
            "\"name\": \"acme/tool-app-tiny:latest\",",
            "\"name\": \"acme/site-web-web-only:v9\","
        ]
    );
    assert_eq!(
        names(&[("IMAGE_TAG", "CI-1"), ("PLATFORM", "p")])[3],
        "\"name\": \"acme/site-web-p:CI-1\","
    );
}

#[test]
fn docker_not_installed() {
    let rec = Arc::new(Recorder::new().without("docker").without("podman"));
    run(&rec, workspace().path(), &["build", "base"]).is(
        1,
        "",
        "error: `docker` is not installed or not on PATH; install Docker Engine (https://docs.docker.com/engine/install/) and make sure `docker` is on PATH\n",
    );
    assert!(rec.lines().is_empty());
}

#[test]
fn engine_not_reachable() {
    let rec = Arc::new(Recorder::new().on("docker", Reply::Fail(1, ENGINE_DOWN.into())));
    let dir = workspace();
    run(&rec, dir.path(), &["build", "base"]).is(
        1,
        "",
        &format!("error: the docker engine is not reachable; start it (e.g. `sudo systemctl start docker`) or point `DOCKER_HOST` at a running one\n  caused by: `{IMAGE_LS}` failed with exit status 1\n  | {ENGINE_DOWN}"),
    );
    // The one-call look-up of the images failed, then the probe said why.
    assert_eq!(
        lines(&rec, &dir),
        [
            "docker image inspect --format '{{.Id}} {{index .Config.Labels \"io.imagemk.inputs\"}}' acme/base-core-tiny:latest",
            IMAGE_LS
        ]
    );
}

// ---- bad input: one clear message, status 1, and no command run ----

/// `imagemk ARGS` in `dir` fails with `stderr` and runs nothing.
fn rejects(dir: &tempfile::TempDir, args: &[&str], env: &[(&str, &str)], stderr: &str) {
    let rec = Arc::new(Recorder::new());
    run_with(&rec, dir.path(), args, env).is(1, "", stderr);
    assert!(rec.lines().is_empty(), "ran: {:#?}", rec.lines());
}

#[test]
fn malformed_yaml_names_file_line_and_column() {
    let dir = workspace();
    write(
        &dir,
        "comp/web/images.yaml",
        "images:\n  site:\n\tdockerfile: Dockerfile\n",
    );
    rejects(
        &dir,
        &["build", "--all"],
        &[],
        "error: `$ROOT/comp/web/images.yaml:3:1`: found character that cannot start any token\n",
    );
    write(
        &dir,
        "comp/web/images.yaml",
        "images:\n  site:\n    dockerfile: [a]\n",
    );
    rejects(&dir, &["build", "--all"], &[], "error: `$ROOT/comp/web/images.yaml:3:17`: images.site.dockerfile: invalid type: sequence, expected a string\n");
}

#[test]
fn unknown_key_suggests_the_nearest() {
    let dir = workspace();
    write(
        &dir,
        "comp/web/images.yaml",
        "images:\n  site:\n    dockerfiel: Dockerfile\n",
    );
    rejects(&dir, &["build"], &[], "error: `$ROOT/comp/web/images.yaml:3:5`: unknown key `dockerfiel` in `images.site`; did you mean `dockerfile`? (valid keys: kind, dockerfile, context, args, labels, target, depends, stage, variants, run, artifacts, host, timeout)\n");
}

#[test]
fn unknown_dependency() {
    let dir = workspace();
    write(
        &dir,
        "comp/web/images.yaml",
        "images:\n  site:\n    dockerfile: Dockerfile\n    depends: [core/bsae]\n",
    );
    rejects(&dir, &["build"], &[], "error: image `web/site` in `$ROOT/comp/web/images.yaml` depends on `core/bsae`: unknown image `bsae` in component `core`; did you mean `base`? (images there: base)\n");
}

#[test]
fn unknown_image_on_the_command_line() {
    let dir = workspace();
    rejects(&dir, &["build", "app/tol"], &[], "error: unknown image `tol` in component `app`; did you mean `tool`? (images there: lib, tool)\n");
    rejects(&dir, &["build", "ap/tool"], &[], "error: unknown component `ap` in `ap/tool`; did you mean `app`? (components: core, app, web)\n");
    rejects(&dir, &["build", "--kind", "tset"], &[], "error: component `core` (`$ROOT/images.yaml`) has no image of kind `tset` (kinds there: base)\n");
}

#[test]
fn dependency_cycle_is_printed() {
    let dir = workspace();
    write(&dir, "docker/base.dockerfile", "FROM acme/site-web-tiny\n");
    rejects(&dir, &["build", "--all"], &[], "error: dependency cycle: core/base → web/site → core/base (from `depends:` and `FROM` lines); remove one of these dependencies\n");
}

#[test]
fn missing_dockerfile_or_context() {
    let dir = workspace();
    std::fs::remove_file(dir.path().join("comp/app/tool-tiny.dockerfile")).unwrap();
    rejects(&dir, &["build", "app/tool"], &[], "error: image `app/tool` has no Dockerfile at `$ROOT/comp/app/tool-tiny.dockerfile`; create it or set `dockerfile:` in `$ROOT/comp/app/images.yaml`\n");
    write(
        &dir,
        "comp/web/images.yaml",
        "images:\n  site:\n    dockerfile: Dockerfile\n    context: nowhere\n",
    );
    rejects(&dir, &["build", "web/site"], &[], "error: image `web/site` has no build context directory `$ROOT/comp/web/nowhere`; create it or fix `context:` in `$ROOT/comp/web/images.yaml`\n");
}

#[test]
fn invalid_tags_and_names() {
    let dir = workspace();
    rejects(&dir, &["build", "--tag", &"a".repeat(129)], &[], "error: invalid image tag: tag `aaaaaaaaaaaaaaaaaaaa…` is 129 characters long; a docker tag has at most 128\n");
    rejects(&dir, &["build"], &[("IMAGE_TAG", "CI/42")], "error: invalid image tag: tag `CI/42` is not a valid docker tag: use letters, digits, `_`, `.` and `-`, not starting with `.` or `-`\n");
    write(
        &dir,
        "comp/web/images.yaml",
        "images:\n  Site:\n    dockerfile: Dockerfile\n",
    );
    rejects(&dir, &["build"], &[], "error: `$ROOT/comp/web/images.yaml:2:3`: images: image key `Site` is not a valid name: use lowercase letters and digits, separated by `.`, `_`, `__` or `-` (no `/`, at most 128 characters)\n");
}

#[test]
fn two_images_with_the_same_name() {
    let dir = workspace();
    write(&dir, "comp/web/images.yaml", "images:\n  site:\n    dockerfile: Dockerfile\n  other:\n    kind: site\n    dockerfile: Dockerfile\n");
    rejects(&dir, &["build"], &[], "error: images `web/other` (in `$ROOT/comp/web/images.yaml`) and `web/site` (in `$ROOT/comp/web/images.yaml`) both get the name `acme/site-web-tiny:latest`; give one another `kind` or change the name template\n");
}

#[test]
fn no_workspace_file() {
    let dir = tempfile::tempdir().unwrap();
    rejects(&dir, &["build"], &[], "error: no `images.yaml` in `$ROOT` or any directory above it; imagemk needs a workspace file (see the README's configuration reference)\n");
}

#[test]
fn an_input_digest_tag_cannot_be_protected() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir,
        "images.yaml",
        "workspace:\n  protected_tags: [latest, in-0123456789abcdef]\ncomponent: app\n",
    );
    rejects(&dir, &["list"], &[], "error: `workspace.protected_tags` in `$ROOT/images.yaml` lists `in-0123456789abcdef`, an input-digest tag: those name an image's inputs, not a release, and clean-up must be able to age them out (`--match '^in-' --older-than 14d`); remove it from the list\n");
}
