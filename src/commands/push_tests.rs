//! push in-process (`runner::Recorder`): the exact engine commands and their order, what is
//! printed, and what is left after a failure or a Ctrl-C between two steps; remote names per
//! registry kind and channel, the publish guards and the refusals before anything runs. The
//! workspace and engine helpers here are shared with `pull_tests` and `login_tests`.

use std::sync::Arc;

use crate::runner::{imagemk, Outcome, Recorder, Reply};

/// Component `km` with a `test` and a shared `buildenv` image, registries of every kind, a
/// `stable` channel and publish rules.
pub(super) const YAML: &str = r#"workspace:
  registry: local
  registries:
    local: {kind: oci, host: "registry.example.com:5000", path: team}
    azure: {kind: acr, name: kube}
    google: {kind: gar, location: us, project: proj, repository: ci}
    old: {kind: gcr, project: lattice-dev}
  channels:
    stable: "stable-"
  publish:
    refuse_tags:
      test: [latest]
    force: [buildenv]
defaults:
  namespace: kontain
component: km
images:
  buildenv: {}
  test:
    variants:
      debug: {args: {DEBUG: "1"}}
"#;

pub(super) const LOCAL: &str = "kontain/test-km-linux:CI-42";
pub(super) const REMOTE: &str = "registry.example.com:5000/team/test-km-linux:CI-42";
pub(super) const ID: &str =
    "sha256:1111111111111111111111111111111111111111111111111111111111111111";
/// The digest the registry gives a push.
const DIGEST: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const OTHER: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";
pub(super) const PUSH_NOTE: &str = "# a remote name is tagged (with the image's ID) only when it does not exist yet, and removed only when this run tagged it; one that exists as another image stops the push\n";
pub(super) const ENGINE_DOWN: &str =
    "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n";

pub(super) fn workspace() -> tempfile::TempDir {
    workspace_with(YAML)
}

pub(super) fn workspace_with(yaml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(&dir, "images.yaml", yaml);
    write(&dir, "docker/test-linux.dockerfile", "FROM scratch\n");
    write(&dir, "docker/buildenv-linux.dockerfile", "FROM scratch\n");
    dir
}

pub(super) fn write(dir: &tempfile::TempDir, path: &str, text: &str) {
    let path = dir.path().join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

pub(super) fn inspect(name: &str) -> String {
    format!("docker image inspect --format '{{{{.Id}}}}' {name}")
}

pub(super) fn labels(name: &str) -> String {
    format!(
        "docker image inspect --format '{{{{index .Config.Labels \"io.imagemk.inputs\"}}}}' {name}"
    )
}

pub(super) const IMAGE_LS: &str = "docker image ls --format '{{.Repository}}:{{.Tag}}'";

/// `Error: No such image: NAME`, as `docker image inspect` fails for a name it does not have.
pub(super) fn no_such(name: &str) -> Reply {
    Reply::Fail(1, format!("Error: No such image: {name}\n"))
}

/// The engine lists `names` as built, each with its ID.
pub(super) fn built(rec: Recorder, names: &[(&str, &str)]) -> Recorder {
    let ls: String = names.iter().map(|(n, _)| format!("{n}\n")).collect();
    let rec = rec.on("image ls", Reply::Out(ls));
    names.iter().fold(rec, |rec, (name, id)| {
        rec.on(&inspect(name), Reply::Out(format!("{id}\n")))
    })
}

/// `remote` does not exist until this run tags it with `id`: its first two look-ups fail.
/// Add the rules of a name before those of a name that is a prefix of it.
pub(super) fn fresh(rec: Recorder, remote: &str, id: &str) -> Recorder {
    rec.once(&inspect(remote), no_such(remote))
        .once(&inspect(remote), no_such(remote))
        .on(&inspect(remote), Reply::Out(format!("{id}\n")))
}

/// The script is complete: a name no rule knows is not in the engine.
pub(super) fn finish(rec: Recorder) -> Arc<Recorder> {
    Arc::new(rec.on(
        "docker image inspect --format '{{.Id}}'",
        Reply::Fail(1, "Error: No such image\n".into()),
    ))
}

/// The push's own output for `remote`, with `digest`.
fn pushed(remote: &str, digest: &str) -> Reply {
    let (repo, tag) = remote.rsplit_once(':').unwrap();
    Reply::Out(format!(
        "The push refers to repository [{repo}]\n5f70bf18a086: Pushed\n{tag}: digest: {digest} size: 528\n"
    ))
}

/// Runs `imagemk -C DIR ARGS…` as the user `tester`; in what it printed the workspace's
/// path is `$ROOT` and every ` in 1.2s` is ` in _s`. (`runner::imagemk` names an engine of
/// the workspace's own, so tests side by side never wait on each other's remote-name locks.)
pub(super) fn run(rec: &Arc<Recorder>, dir: &std::path::Path, args: &[&str]) -> Outcome {
    run_with(rec, dir, args, &[])
}

pub(super) fn run_with(
    rec: &Arc<Recorder>,
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Outcome {
    let mut pairs = vec![("USER", "tester")];
    pairs.extend_from_slice(env);
    let out = imagemk(rec, dir, args, &pairs);
    let timing = regex::Regex::new(r" in \d+\.\ds").unwrap();
    let root = dir.to_str().unwrap();
    let clean = |s: &str| {
        timing
            .replace_all(&s.replace(root, "$ROOT"), " in _s")
            .into_owned()
    };
    Outcome {
        status: out.status,
        stdout: clean(&out.stdout),
        stderr: clean(&out.stderr),
    }
}

/// The engine as the push finds it: `LOCAL` built, `REMOTE` not there until tagged, and the
/// push's own answer.
fn engine(push: Reply) -> Recorder {
    fresh(built(Recorder::new(), &[(LOCAL, ID)]), REMOTE, ID).on("docker push", push)
}

/// The commands of a push of `local` (with ID `id`) to `remote`, which does not exist before:
/// the local image's ID, the check that `remote` is free, the tag, the push, the removal.
fn push_lines(local: &str, remote: &str, id: &str) -> Vec<String> {
    vec![
        inspect(local),
        inspect(remote),
        inspect(local),
        inspect(remote),
        format!("docker tag {id} {remote}"),
        format!("docker push {remote}"),
        format!("(cleanup) {}", inspect(remote)),
        format!("(cleanup) docker image rm --no-prune {remote}"),
    ]
}

/// Every engine command of a push of `LOCAL` to `REMOTE` that ran to the tag's removal.
fn all_push_lines() -> Vec<String> {
    let mut lines = vec![IMAGE_LS.to_string(), labels(LOCAL)];
    lines.extend(push_lines(LOCAL, REMOTE, ID));
    lines
}

fn push(rec: &Arc<Recorder>) -> Outcome {
    run(rec, workspace().path(), &["push", "test", "--tag", "CI-42"])
}

const INTERRUPTED: &str =
    "error: interrupted; everything imagemk had started was stopped and cleaned up\n";

#[test]
fn push_tags_pushes_then_removes_the_remote_tag() {
    let rec = Arc::new(engine(pushed(REMOTE, DIGEST)));
    push(&rec).is(
        0,
        &format!("{REMOTE}@{DIGEST}\n"),
        &format!(
            "km/test | pushing {REMOTE}\n\
             km/test | The push refers to repository [registry.example.com:5000/team/test-km-linux]\n\
             km/test | 5f70bf18a086: Pushed\n\
             km/test | CI-42: digest: {DIGEST} size: 528\n\
             km/test | ✓ pushed {REMOTE} in _s\n"
        ),
    );
    assert_eq!(rec.lines(), all_push_lines());
}

#[test]
fn a_failed_push_still_removes_the_temporary_tag() {
    let refused = "The push refers to repository [registry.example.com:5000/team/test-km-linux]\nGet \"http://registry.example.com:5000/v2/\": dial tcp 10.0.0.1:5000: connect: connection refused\n";
    let rec = Arc::new(engine(Reply::Fail(1, refused.to_string())));
    push(&rec).is(
        1,
        "",
        &format!(
            "km/test | pushing {REMOTE}\n\
             km/test | The push refers to repository [registry.example.com:5000/team/test-km-linux]\n\
             km/test | Get \"http://registry.example.com:5000/v2/\": dial tcp 10.0.0.1:5000: connect: connection refused\n\
             km/test | ✗ failed in _s\n\
             error: the push of `km/test` failed: `docker push {REMOTE}` exited with status 1\n  \
             | The push refers to repository [registry.example.com:5000/team/test-km-linux]\n  \
             | Get \"http://registry.example.com:5000/v2/\": dial tcp 10.0.0.1:5000: connect: connection refused\n\
             hint: registry `local` does not answer at `registry.example.com:5000`; check that it is running and that its host in `images.yaml` is right\n"
        ),
    );
    assert_eq!(rec.lines(), all_push_lines());
}

#[test]
fn ctrl_c_during_the_push_removes_the_temporary_tag() {
    let rec = Arc::new(engine(Reply::Interrupt));
    let out = push(&rec);
    assert_eq!(out.status, 130);
    assert!(out.stderr.ends_with(INTERRUPTED), "{}", out.stderr);
    assert_eq!(rec.lines(), all_push_lines());
}

#[test]
fn ctrl_c_between_the_tag_and_the_push_pushes_nothing_and_removes_the_tag() {
    let rec = Recorder::new().on("docker tag", Reply::OutThenInterrupt(String::new()));
    let rec = Arc::new(fresh(built(rec, &[(LOCAL, ID)]), REMOTE, ID));
    let out = push(&rec);
    assert_eq!(out.status, 130);
    assert!(out.stderr.ends_with(INTERRUPTED), "{}", out.stderr);
    let mut want = all_push_lines();
    want.retain(|l| !l.starts_with("docker push"));
    assert_eq!(rec.lines(), want);
}

#[test]
fn push_json_and_extra_tags_from_config_and_flags() {
    let yaml = YAML.replace(
        "    force: [buildenv]\n",
        "    force: [buildenv]\n    also_tag: [\"{tag}-x\"]\n",
    );
    let x = REMOTE.replace(":CI-42", ":CI-42-x");
    let n = REMOTE.replace(":CI-42", ":nightly");
    let rec = fresh(built(Recorder::new(), &[(LOCAL, ID)]), &x, ID);
    let rec = fresh(fresh(rec, &n, ID), REMOTE, ID)
        .on(&format!("docker push {x}"), pushed(&x, OTHER))
        .on(&format!("docker push {n}"), pushed(&n, OTHER))
        .on("docker push", pushed(REMOTE, DIGEST));
    let rec = Arc::new(rec);
    let dir = workspace_with(&yaml);
    let out = run(
        &rec,
        dir.path(),
        &[
            "push",
            "test",
            "--tag",
            "CI-42",
            "--also-tag",
            "nightly",
            "--json",
        ],
    );
    out.ok();
    assert_eq!(
        out.stdout,
        format!(
            "[\n  {{\n    \"also\": [\n      \"{x}\",\n      \"{n}\"\n    ],\n    \"digest\": \"{DIGEST}\",\n    \"image\": \"km/test\",\n    \"name\": \"{LOCAL}\",\n    \"remote\": \"{REMOTE}\"\n  }}\n]\n"
        )
    );
    let mut want = vec![IMAGE_LS.to_string(), labels(LOCAL), inspect(LOCAL)];
    want.extend([REMOTE, &x, &n].map(inspect));
    want.push(inspect(LOCAL));
    for r in [REMOTE, &x, &n] {
        want.extend([inspect(r), format!("docker tag {ID} {r}")]);
    }
    for r in [REMOTE, &x, &n] {
        want.push(format!("docker push {r}"));
    }
    for r in [REMOTE, &x, &n] {
        want.extend([
            format!("(cleanup) {}", inspect(r)),
            format!("(cleanup) docker image rm --no-prune {r}"),
        ]);
    }
    assert_eq!(rec.lines(), want);
}

#[test]
fn dry_run_prints_every_command_and_changes_nothing() {
    let rec = finish(built(Recorder::new(), &[(LOCAL, ID)]));
    let dir = workspace();
    run(&rec, dir.path(), &["push", "test", "--tag", "CI-42", "--dry-run"]).is(
        0,
        &format!(
            "docker tag {LOCAL} {REMOTE}\ndocker push {REMOTE}\ndocker image rm --no-prune {REMOTE}\n{PUSH_NOTE}"
        ),
        "",
    );
    // Only read-only queries ran: what exists locally, and whether the remote name does.
    assert_eq!(
        rec.lines(),
        [
            IMAGE_LS.to_string(),
            labels(LOCAL),
            inspect(LOCAL),
            inspect(REMOTE)
        ]
    );
}

#[test]
fn remote_names_per_registry_kind_and_channel() {
    let debug = "kontain/test-km-linux-debug:CI-42";
    let dir = workspace();
    let first = |args: &[&str], env: &[(&str, &str)]| {
        let rec = finish(built(Recorder::new(), &[(LOCAL, ID), (debug, OTHER)]));
        let out = run_with(&rec, dir.path(), args, env);
        out.ok();
        out.stdout.lines().next().unwrap().to_string()
    };
    let push = |extra: &[&str]| {
        let mut args = vec!["push", "test", "--tag", "CI-42", "--dry-run"];
        args.extend(extra);
        first(&args, &[])
    };
    assert_eq!(
        push(&["--registry", "azure"]),
        "docker tag kontain/test-km-linux:CI-42 kube.azurecr.io/test-km-linux:CI-42"
    );
    assert_eq!(
        push(&["--registry", "google"]),
        "docker tag kontain/test-km-linux:CI-42 us-docker.pkg.dev/proj/ci/test-km-linux:CI-42"
    );
    assert_eq!(
        push(&["--registry", "old", "--channel", "stable"]),
        "docker tag kontain/test-km-linux:CI-42 gcr.io/lattice-dev/stable-test-km-linux:CI-42"
    );
    // The user channel: the login name, and `-debug` for the debug variant.
    assert_eq!(
        push(&["--registry", "old", "--channel", "user", "--variant", "debug"]),
        "docker tag kontain/test-km-linux-debug:CI-42 gcr.io/lattice-dev/tester-debug-test-km-linux-debug:CI-42"
    );
    let pull = ["pull", "buildenv", "--dry-run"];
    assert_eq!(
        first(&pull, &[("CLOUD", "azure")]),
        "docker pull kube.azurecr.io/buildenv-km-linux:latest"
    );
    assert_eq!(
        first(
            &pull,
            &[
                ("CHANNEL", "user"),
                ("REGISTRY", "google"),
                ("USER", "Alice")
            ]
        ),
        "docker pull us-docker.pkg.dev/proj/ci/alice-buildenv-km-linux:latest"
    );
}

#[test]
fn a_local_name_equal_to_the_remote_one_is_pushed_but_never_untagged() {
    let name = REMOTE;
    let v2 = name.replace(":CI-42", ":v2");
    let rec = fresh(built(Recorder::new(), &[(name, ID)]), &v2, ID);
    let rec = rec
        .on(&format!("docker push {v2}"), pushed(&v2, OTHER))
        .on("docker push", pushed(name, DIGEST));
    let rec = Arc::new(rec);
    let dir = workspace();
    run_with(
        &rec,
        dir.path(),
        &["push", "test", "--tag", "CI-42", "--also-tag", "v2"],
        &[("IMAGE_NAMESPACE", "registry.example.com:5000/team")],
    )
    .ok();
    assert_eq!(
        rec.lines(),
        [
            IMAGE_LS.to_string(),
            labels(name),
            inspect(name),
            inspect(&v2),
            inspect(name),
            inspect(&v2),
            format!("docker tag {ID} {v2}"),
            format!("docker push {name}"),
            format!("docker push {v2}"),
            format!("(cleanup) {}", inspect(&v2)),
            format!("(cleanup) docker image rm --no-prune {v2}"),
        ]
    );
}

#[test]
fn a_remote_named_tag_the_user_had_on_the_same_image_is_pushed_and_kept() {
    let rec = built(Recorder::new(), &[(LOCAL, ID), (REMOTE, ID)]);
    let rec = Arc::new(rec.on("docker push", pushed(REMOTE, DIGEST)));
    push(&rec).ok();
    // Pushed as it is: never tagged, never removed.
    assert_eq!(
        rec.lines(),
        [
            IMAGE_LS.to_string(),
            labels(LOCAL),
            inspect(LOCAL),
            inspect(REMOTE),
            inspect(LOCAL),
            inspect(REMOTE),
            format!("docker push {REMOTE}"),
        ]
    );
}

#[test]
fn a_remote_named_tag_on_another_image_is_never_pushed_nor_moved() {
    let refused = format!(
        "error: image `km/test` cannot be pushed: `{REMOTE}` already exists in the engine and is another image (`{}`) than `{LOCAL}`; pushing it would publish that image, and imagemk never moves a tag it did not create\n\
         hint: if `{REMOTE}` is an old tag of yours, remove it with `docker image rm --no-prune {REMOTE}` and push again; if another imagemk run is pushing a different build under that name, wait for it\n",
        &OTHER[7..19]
    );
    for dry in [true, false] {
        let rec = Arc::new(built(Recorder::new(), &[(LOCAL, ID), (REMOTE, OTHER)]));
        let mut args = vec!["push", "test", "--tag", "CI-42"];
        if dry {
            args.push("--dry-run");
        }
        run(&rec, workspace().path(), &args).is(1, "", &refused);
        // Only reads: nothing tagged, pushed or removed.
        assert!(
            rec.lines()
                .iter()
                .all(|l| l == IMAGE_LS || l.starts_with("docker image inspect")),
            "{:#?}",
            rec.lines()
        );
    }
}

#[test]
fn a_push_whose_tag_vanished_makes_it_again_and_retries() {
    // Another machine's imagemk removed the tag between `docker tag` and `docker push`.
    let vanished = Reply::Fail(
        1,
        format!("The push refers to repository [registry.example.com:5000/team/test-km-linux]\ntag does not exist: {REMOTE}\n"),
    );
    let rec = built(Recorder::new(), &[(LOCAL, ID)]).once("docker push", vanished);
    // Not there before the tag, and not after the failed push: three look-ups fail.
    let rec = rec.once(&inspect(REMOTE), no_such(REMOTE));
    let rec = fresh(rec, REMOTE, ID).on("docker push", pushed(REMOTE, DIGEST));
    let rec = Arc::new(rec);
    push(&rec).ok();
    let (tag, push) = (
        format!("docker tag {ID} {REMOTE}"),
        format!("docker push {REMOTE}"),
    );
    let mut want = vec![IMAGE_LS.to_string(), labels(LOCAL)];
    want.extend(push_lines(LOCAL, REMOTE, ID));
    // After the refused push: the tag is gone, so it is made again and pushed again.
    want.splice(8..8, [inspect(REMOTE), tag, push]);
    assert_eq!(rec.lines(), want);
}

#[test]
fn refusals_before_anything_runs() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["push", "test"],
            "error: image `km/test` may not be pushed with tag `latest`: images of kind `test` refuse tags `latest` (`workspace.publish.refuse_tags` in `$ROOT/images.yaml`); push it with another `IMAGE_TAG`\n",
        ),
        (
            &["push", "test", "--tag", "CI-1", "--also-tag", "latest"],
            "error: image `km/test` may not be pushed with tag `latest`: images of kind `test` refuse tags `latest` (`workspace.publish.refuse_tags` in `$ROOT/images.yaml`); push it with another `IMAGE_TAG`\n",
        ),
        (
            &["push", "buildenv"],
            "error: image `km/buildenv` is shared (`buildenv` is listed in `workspace.publish.force` in `$ROOT/images.yaml`); pushing it to `registry.example.com:5000/team/buildenv-km-linux:latest` needs `--force` (`FORCE=1` with make)\n",
        ),
        (
            &["push", "test", "--registry", "azrue"],
            "error: unknown registry `azrue`; did you mean `azure`? (registries: azure, google, local, old)\n",
        ),
        (
            &["pull", "test", "--channel", "stabel"],
            "error: unknown channel `stabel`; did you mean `stable`? (channels: stable, user); define it under `workspace.channels`\n",
        ),
        (
            &["push", "test", "--tag", "CI-1", "--also-tag", "{revision}"],
            "error: extra tag `{revision}` needs the source revision, but `{revision}` is unknown here (not a git checkout with a commit); drop that tag or push from a git checkout\n",
        ),
        (
            &["push", "test", "--tag", "CI-1", "--also-tag=-bad"],
            "error: extra tag: tag `-bad` is not a valid docker tag: use letters, digits, `_`, `.` and `-`, not starting with `.` or `-`\n",
        ),
    ];
    let dir = workspace();
    for (args, stderr) in cases {
        let not_git = Reply::Fail(128, "fatal: not a git repository\n".into());
        let rec = finish(built(
            Recorder::new().on("git ", not_git),
            &[
                ("kontain/test-km-linux:latest", ID),
                ("kontain/buildenv-km-linux:latest", OTHER),
            ],
        ));
        run(&rec, dir.path(), args).is(1, "", stderr);
        // No engine command ran (`{revision}` asks git).
        assert!(
            rec.lines().iter().all(|l| l.starts_with("git ")),
            "{args:?}: {:#?}",
            rec.lines()
        );
    }
}

#[test]
fn an_image_never_built_names_the_make_target() {
    let dir =
        workspace_with(&YAML.replace("workspace:\n", "workspace:\n  members: [\"payloads/*\"]\n"));
    write(
        &dir,
        "payloads/node/images.yaml",
        "component: node\nimages:\n  test: {}\n",
    );
    write(
        &dir,
        "payloads/node/docker/test-linux.dockerfile",
        "FROM scratch\n",
    );
    let rec = finish(built(Recorder::new(), &[]));
    run(&rec, dir.path(), &["push", "test", "--tag", "CI-42"]).is(
        1,
        "",
        "error: image `km/test` was never built: there is no local `kontain/test-km-linux:CI-42`; build it with `make test-image IMAGE_TAG=CI-42`\n",
    );
    run(
        &rec,
        &dir.path().join("payloads/node"),
        &["push", "km/test", "node/test", "--tag", "CI-42", "--variant", "debug"],
    )
    .is(
        1,
        "",
        "error: image `km/test` was never built: there is no local `kontain/test-km-linux-debug:CI-42`; build it with `make -C ../.. test-image IMAGE_TAG=CI-42 VARIANT=debug` (1 more images are missing too)\n",
    );
    assert_eq!(rec.lines(), [IMAGE_LS, IMAGE_LS]);
}

#[test]
fn bad_registry_hosts_are_refused() {
    let dir = workspace_with(&YAML.replace("registry.example.com:5000", "myregistry"));
    let rec = finish(Recorder::new());
    run(&rec, dir.path(), &["push", "test", "--tag", "CI-1", "--dry-run"]).is(
        1,
        "",
        "error: `$ROOT/images.yaml:4`: registry `local`: `myregistry` would be read by docker as a Docker Hub namespace, not a registry host; write it with a port or a domain (e.g. `localhost:5000`, `myregistry.example.com`)\n",
    );
    assert!(rec.lines().is_empty());
}

#[test]
fn engine_down_dry_run_notes_it_and_a_real_push_explains_it() {
    let rec = finish(Recorder::new().on("docker", Reply::Fail(1, ENGINE_DOWN.into())));
    let dir = workspace();
    run(&rec, dir.path(), &["push", "test", "--tag", "CI-42", "--dry-run"]).is(
        0,
        &format!(
            "docker tag {LOCAL} {REMOTE}\ndocker push {REMOTE}\ndocker image rm --no-prune {REMOTE}\n{PUSH_NOTE}"
        ),
        "note: cannot ask the engine which images exist (the docker engine is not reachable; start it (e.g. `sudo systemctl start docker`) or point `DOCKER_HOST` at a running one); assuming every image was built\n",
    );
    run(&rec, dir.path(), &["push", "test", "--tag", "CI-42"]).is(1, "", &format!("error: the docker engine is not reachable; start it (e.g. `sudo systemctl start docker`) or point `DOCKER_HOST` at a running one\n  caused by: `{IMAGE_LS}` failed with exit status 1\n  | {ENGINE_DOWN}"));
    // Nothing but the two queries ran.
    assert_eq!(rec.lines(), [IMAGE_LS, IMAGE_LS]);
}

#[test]
fn no_registry_configured_or_chosen() {
    let rec = finish(Recorder::new());
    let dir = workspace_with("component: km\nimages:\n  test: {}\n");
    run(&rec, dir.path(), &["push", "--dry-run"]).is(
        1,
        "",
        "error: no registry is configured; add one under `workspace.registries` in the root images.yaml\n",
    );
    let dir = workspace_with("workspace:\n  registries:\n    a: {kind: oci, host: \"a.example\"}\n    b: {kind: oci, host: \"b.example\"}\ncomponent: km\nimages:\n  test: {}\n");
    run(&rec, dir.path(), &["pull", "--dry-run"]).is(
        1,
        "",
        "error: no registry chosen; pass `--registry NAME` or `REGISTRY=NAME` (registries: a, b), or set `workspace.registry`\n",
    );
    assert!(rec.lines().is_empty());
}

#[test]
fn publish_keys_are_checked() {
    let rec = finish(Recorder::new());
    let dir = workspace_with(&YAML.replace("    refuse_tags:\n", "    refuse_tag:\n"));
    run(&rec, dir.path(), &["push", "--dry-run"]).is(
        1,
        "",
        "error: `$ROOT/images.yaml:11:5`: unknown key `refuse_tag` in `workspace.publish`; did you mean `refuse_tags`? (valid keys: refuse_tags, force, also_tag)\n",
    );
    assert!(rec.lines().is_empty());
}

const INPUTS: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const IN_TAG: &str = "registry.example.com:5000/team/test-km-linux:in-0123456789abcdef";

/// `LOCAL` built with the input-digest label `label`, both remote names free.
fn labelled(label: &str) -> Arc<Recorder> {
    let rec = Recorder::new().on(&labels(LOCAL), Reply::Out(format!("{label}\n")));
    let rec = fresh(fresh(built(rec, &[(LOCAL, ID)]), REMOTE, ID), IN_TAG, ID)
        .on(&format!("docker push {IN_TAG}"), pushed(IN_TAG, OTHER))
        .on("docker push", pushed(REMOTE, DIGEST));
    finish(rec)
}

#[test]
fn push_adds_the_input_digest_tag_of_a_labelled_image_and_removes_only_its_own_tags() {
    let rec = labelled(INPUTS);
    let dir = workspace();
    let out = run(&rec, dir.path(), &["push", "test", "--tag", "CI-42"]);
    out.ok();
    assert_eq!(out.stdout, format!("{REMOTE}@{DIGEST}\n{IN_TAG}@{OTHER}\n"));
    let (tag, rm) = (
        |r: &str| format!("docker tag {ID} {r}"),
        |r: &str| format!("(cleanup) docker image rm --no-prune {r}"),
    );
    let cleanup = |r: &str| format!("(cleanup) {}", inspect(r));
    assert_eq!(
        rec.lines(),
        [
            IMAGE_LS.to_string(),
            labels(LOCAL),
            inspect(LOCAL),
            inspect(REMOTE),
            inspect(IN_TAG),
            inspect(LOCAL),
            inspect(REMOTE),
            tag(REMOTE),
            inspect(IN_TAG),
            tag(IN_TAG),
            format!("docker push {REMOTE}"),
            format!("docker push {IN_TAG}"),
            cleanup(REMOTE),
            rm(REMOTE),
            cleanup(IN_TAG),
            rm(IN_TAG),
        ]
    );
    // The dry run shows the input-digest tag too.
    let rec = labelled(INPUTS);
    let dry = run(
        &rec,
        dir.path(),
        &["push", "test", "--tag", "CI-42", "--dry-run"],
    );
    assert!(
        dry.stdout
            .starts_with(&format!("docker tag {LOCAL} {REMOTE}\ndocker tag {LOCAL} {IN_TAG}\ndocker push {REMOTE}\ndocker push {IN_TAG}\n")),
        "{}",
        dry.stdout
    );
}

#[test]
fn push_without_the_label_is_unchanged_and_a_bad_label_is_a_warning() {
    let dir = workspace();
    let pushed = format!(
        "km/test | pushing {REMOTE}\n\
         km/test | The push refers to repository [registry.example.com:5000/team/test-km-linux]\n\
         km/test | 5f70bf18a086: Pushed\n\
         km/test | CI-42: digest: {DIGEST} size: 528\n\
         km/test | ✓ pushed {REMOTE} in _s\n"
    );
    let warning = format!("warning: `{LOCAL}` carries the label `io.imagemk.inputs` but input digest `sha256:abc` is not `sha256:` and 64 lowercase hex digits; it is pushed without an input-digest tag\n");
    for (label, warned) in [("<no value>", ""), ("sha256:abc", warning.as_str())] {
        let rec = labelled(label);
        let out = run(&rec, dir.path(), &["push", "test", "--tag", "CI-42"]);
        out.is(
            0,
            &format!("{REMOTE}@{DIGEST}\n"),
            &format!("{warned}{pushed}"),
        );
        assert_eq!(rec.lines(), all_push_lines());
    }
}

#[test]
fn the_input_digest_tag_passes_no_publish_guard() {
    // `latest` is refused for kind `test`; the image's own push is refused, and so nothing runs.
    let dir = workspace();
    let rec = labelled(INPUTS);
    run(&rec, dir.path(), &["push", "test"]).is(1, "", "error: image `km/test` may not be pushed with tag `latest`: images of kind `test` refuse tags `latest` (`workspace.publish.refuse_tags` in `$ROOT/images.yaml`); push it with another `IMAGE_TAG`\n");
    assert!(rec.lines().is_empty());
    // With a tag the guard allows, the `in-` tag goes along although no rule names it.
    let rec = labelled(INPUTS);
    run(&rec, dir.path(), &["push", "test", "--tag", "CI-42"]).ok();
    assert!(rec.lines().contains(&format!("docker push {IN_TAG}")));
}
