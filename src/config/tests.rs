//! Table tests of `config::load`, in the style of rust-analyzer's `check(input, expect)`: a
//! workspace written as `=== path` sections, loaded in-process, and the result rendered as one
//! line per image (or the error, with `$ROOT` for the workspace directory). Most loading
//! behaviour is pinned here without running the binary.

use std::path::Path;

use super::{load, Env, Overrides, Workspace};

/// Writes the `=== path` sections of `spec` under a temporary root and loads it from `cwd`
/// (relative to the root) with `env` and `overrides`.
fn load_spec(spec: &str, cwd: &str, env: &[(&str, &str)], overrides: &Overrides) -> String {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    for section in spec.split("=== ").filter(|s| !s.trim().is_empty()) {
        let (path, body) = section.split_once('\n').unwrap();
        let file = root.join(path.trim());
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, body).unwrap();
    }
    let shown = root.display().to_string();
    match load(&root.join(cwd), overrides, &Env::from_pairs(env)) {
        Ok(ws) => summary(&ws, &root),
        Err(e) => format!("error: {e:#}").replace(&shown, "$ROOT"),
    }
}

/// The workspace of the `=== path` sections of `spec`, loaded from its root (for other
/// modules' table tests); the directory lives as long as the returned guard.
pub(crate) fn workspace(spec: &str) -> (tempfile::TempDir, Workspace) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    for section in spec.split("=== ").filter(|s| !s.trim().is_empty()) {
        let (path, body) = section.split_once('\n').unwrap();
        let file = root.join(path.trim());
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, body).unwrap();
    }
    let ws = load(&root, &Overrides::default(), &Env::from_pairs(&[])).unwrap();
    (dir, ws)
}

/// One line per image: id, name, Dockerfile and context (relative), dependencies, args.
fn summary(ws: &Workspace, root: &Path) -> String {
    let rel = |p: &Path| match p.strip_prefix(root) {
        Ok(r) if r.as_os_str().is_empty() => ".".to_string(),
        Ok(r) => r.display().to_string(),
        Err(_) => p.display().to_string(),
    };
    let mut out = format!("current: {}\n", ws.components[ws.current].name);
    for img in &ws.images {
        let depends: Vec<&str> = img
            .depends
            .iter()
            .map(|&d| ws.images[d].id.as_str())
            .collect();
        let args: Vec<String> = img.args.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!(
            "{} {} file={} context={} depends=[{}] args=[{}]\n",
            img.id,
            img.name,
            rel(&img.dockerfile),
            rel(&img.context),
            depends.join(","),
            args.join(",")
        ));
    }
    out
}

/// Each spec's load fails with a message that starts with its expected text.
fn check_errors(cases: &[(&str, &str)]) {
    for (spec, want) in cases {
        let got = load_spec(spec, "", &[], &Overrides::default());
        assert!(got.starts_with(want), "\n got: {got}\nwant: {want}");
    }
}

fn check(spec: &str, expected: &str) {
    check_with(spec, "", &[], &Overrides::default(), expected);
}

fn check_with(spec: &str, cwd: &str, env: &[(&str, &str)], ov: &Overrides, expected: &str) {
    let got = load_spec(spec, cwd, env, ov);
    assert_eq!(got.trim_end(), expected.trim(), "\n--- got ---\n{got}");
}

const TWO: &str = "\
=== images.yaml
workspace: {members: [payloads/*]}
defaults: {namespace: kontain, platform: linux}
component: km
images:
  buildenv: {}
  test:
    depends: [buildenv]
=== docker/buildenv-linux.dockerfile
FROM scratch
=== docker/test-linux.dockerfile
ARG IMAGE_TAG
FROM kontain/buildenv-km-linux:${IMAGE_TAG}
=== payloads/node/images.yaml
component: node
images:
  test:
    dockerfile: test.dockerfile
=== payloads/node/test.dockerfile
FROM kontain/test-km-linux:latest
";

#[test]
fn names_files_and_dependencies_follow_the_scheme() {
    check(
        TWO,
        "
current: km
km/buildenv kontain/buildenv-km-linux:latest file=docker/buildenv-linux.dockerfile context=. depends=[] args=[]
km/test kontain/test-km-linux:latest file=docker/test-linux.dockerfile context=. depends=[km/buildenv] args=[IMAGE_TAG=latest]
node/test kontain/test-node-linux:latest file=payloads/node/test.dockerfile context=payloads/node depends=[km/test] args=[]
",
    );
}

/// (No Dockerfile exists for `fedora`: names still resolve, no args are read, and the missing
/// file is reported only when such an image is built.)
#[test]
fn flags_beat_the_environment_which_beats_the_files() {
    let ov = Overrides {
        tag: Some("CI-42".into()),
        ..Overrides::default()
    };
    check_with(
        TWO,
        "payloads/node",
        &[("IMAGE_TAG", "env-tag"), ("PLATFORM", "fedora")],
        &ov,
        "
current: node
km/buildenv kontain/buildenv-km-fedora:CI-42 file=docker/buildenv-fedora.dockerfile context=. depends=[] args=[]
km/test kontain/test-km-fedora:CI-42 file=docker/test-fedora.dockerfile context=. depends=[km/buildenv] args=[]
node/test kontain/test-node-fedora:CI-42 file=payloads/node/test.dockerfile context=payloads/node depends=[] args=[]
",
    );
}

#[test]
fn errors_name_the_file_line_and_column() {
    let cases = [
        (
            "=== images.yaml\ncomponent: c\nimages:\n  a: {dockerfle: x}\n",
            "error: `$ROOT/images.yaml:3:7`: unknown key `dockerfle` in `images.a`; did you mean `dockerfile`? (valid keys: kind, dockerfile, context, args, labels, target, depends, stage, variants, run, artifacts, host, timeout)",
        ),
        (
            "=== images.yaml\ncomponent: c\nimages:\n  a: {depends: [b]}\n  b: {depends: [a]}\n",
            "error: dependency cycle: c/a → c/b → c/a",
        ),
        (
            "=== images.yaml\ncomponent: c\nimages:\n  a: {depends: [zz]}\n",
            "error: image `c/a` in `$ROOT/images.yaml` depends on `zz`: unknown image `zz` in component `c`; did you mean `a`? (images there: a)",
        ),
        (
            "=== images.yaml\ncomponent: c\nimages:\n  A: {}\n",
            "error: `$ROOT/images.yaml:3:3`: images: image key `A` is not a valid name: use lowercase letters and digits",
        ),
        (
            "=== images.yaml\nworkspace:\n  references: [../x]\ncomponent: c\nimages: {}\n",
            "error: `$ROOT/images.yaml:2:16`: workspace.references[0]: reference glob `../x` must be a path inside the workspace: it names the directory itself or leaves it",
        ),
    ];
    check_errors(&cases);
}

/// Values typed after parsing (`run:`, `artifacts:`, `workspace.publish`, registries) are
/// errors of the file at their key's line, for every command.
#[test]
fn values_typed_at_load_name_their_line() {
    let cases = [
        (
            "=== images.yaml\ncomponent: c\nimages:\n  a:\n    run:\n      init: true\n      devices: [kvm]\n",
            "error: `$ROOT/images.yaml:6`: `run.devices` of image `c/a` lists `kvm`: its host path `kvm` is not absolute; write a device as `HOST[:CONTAINER][:PERMISSIONS]` with absolute paths, e.g. `/dev/kvm` or `/dev/fuse:/dev/fuse:rw`",
        ),
        (
            "=== images.yaml\ncomponent: c\nimages:\n  a: {}\n  b: {run: {ulimits: [nofile]}}\n",
            "error: `$ROOT/images.yaml:4`: `run.ulimits` of image `c/b` lists `nofile`: it has no `=`; write a limit as `NAME=SOFT[:HARD]`, e.g. `nofile=1024:2048`",
        ),
        (
            "=== images.yaml\ncomponent: c\nimages:\n  a:\n    artifacts:\n      - {from: /ok, to: out}\n      - from: opt/x\n        to: out2\n",
            "error: `$ROOT/images.yaml:6`: images.a.artifacts[1].from: `opt/x` is not an absolute path in the image; write it as `/opt/x`",
        ),
        (
            "=== images.yaml\ncomponent: c\nimages:\n  a:\n    artifacts: [{from: /, to: out}]\n",
            "error: `$ROOT/images.yaml:4`: images.a.artifacts[0].from: `/` names no file or directory in the image; give the path of one",
        ),
        (
            "=== images.yaml\nworkspace:\n  publish:\n    force: [test]\n    also_tag: [\"{tag}\", \"{tg}\"]\ncomponent: c\nimages: {}\n",
            "error: `$ROOT/images.yaml:4`: workspace.publish.also_tag: template `{tg}` uses `{tg}`, which is not one of {revision}, {short_revision}, {tag}",
        ),
        (
            "=== images.yaml\nworkspace:\n  publish:\n    also_tag: [\"-{tag}\"]\ncomponent: c\nimages: {}\n",
            "error: `$ROOT/images.yaml:3`: workspace.publish.also_tag: `-{tag}` gives no valid tag whatever its values: tag `-0` is not a valid docker tag",
        ),
        (
            "=== images.yaml\nworkspace:\n  publish:\n    refuse_tags:\n      base: [prod]\n      test: [latest, 'bad tag']\ncomponent: c\nimages: {}\n",
            "error: `$ROOT/images.yaml:5`: workspace.publish.refuse_tags.test: tag `bad tag` is not a valid docker tag",
        ),
        (
            "=== images.yaml\nworkspace:\n  registries:\n    ok: {kind: oci, host: 'localhost:5000'}\n    g: {kind: gar}\ncomponent: c\nimages: {}\n",
            "error: `$ROOT/images.yaml:4`: registry `g` of kind `gar` needs `location`",
        ),
    ];
    check_errors(&cases);
}
