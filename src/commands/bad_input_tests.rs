//! Bad input in-process (`runner::Recorder`), as one table: config files, flags and
//! environment values (non-UTF-8 bytes included). Each case pins the exact message on stderr,
//! nothing on stdout, exit status 1, and that no command ran at all (`rec.lines()` empty):
//! imagemk refuses before it starts any. What only the binary shows stays in
//! tests/bad_input.rs: clap's usage errors (status 2), make's variables, and `--engine podman`
//! (the engine is chosen once per process, so an in-process run would fix it for every test).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::runner::{imagemk_os, Outcome, Recorder};

/// The base workspace's root and member images.yaml, shared with tests/bad_input.rs.
const ROOT_YAML: &str = include_str!("../../tests/support/bad-input/root.yaml");
const APP_YAML: &str = include_str!("../../tests/support/bad-input/app.yaml");

/// One bad input: files written over the base workspace, imagemk's arguments (`$ROOT` for the
/// workspace; `-C $ROOT` is added unless they start with `-C`), environment, and the message.
struct Case {
    name: &'static str,
    args: Vec<&'static str>,
    files: Vec<(&'static str, Vec<u8>)>,
    env: Vec<(&'static str, Vec<u8>)>,
    stderr: String,
}

/// A case that fails with status 1 printing `stderr` (all of them: the usage errors of
/// status 2 are the binary's).
fn case(name: &'static str, args: &[&'static str], stderr: &str) -> Case {
    Case {
        name,
        args: args.to_vec(),
        files: Vec::new(),
        env: Vec::new(),
        stderr: stderr.to_string(),
    }
}

impl Case {
    fn file(mut self, path: &'static str, text: impl Into<Vec<u8>>) -> Case {
        self.files.push((path, text.into()));
        self
    }
    /// The member component's images.yaml.
    fn app(self, text: &str) -> Case {
        self.file("comp/app/images.yaml", text)
    }
    fn env(mut self, key: &'static str, value: impl Into<Vec<u8>>) -> Case {
        self.env.push((key, value.into()));
        self
    }
}

/// The base workspace: a root component `core` with `base`, a member `app` with `lib`.
fn workspace() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    for (path, text) in [
        ("images.yaml", ROOT_YAML),
        ("docker/base.dockerfile", "FROM scratch\n"),
        ("comp/app/images.yaml", APP_YAML),
        ("comp/app/lib.dockerfile", "FROM scratch\n"),
    ] {
        write(&root.join(path), text.as_bytes());
    }
    (dir, root)
}

fn write(path: &std::path::Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Runs imagemk in `root` with `args` (`$ROOT` replaced, `-C $ROOT` first unless given) and
/// `env` plus `CI=true`; `$ROOT` in what it printed.
fn run(
    rec: &Arc<Recorder>,
    root: &std::path::Path,
    args: &[&str],
    env: &[(&str, Vec<u8>)],
) -> Outcome {
    let shown = root.display().to_string();
    let mut argv: Vec<OsString> = Vec::new();
    if args.first() != Some(&"-C") {
        argv.extend(["-C".into(), root.into()]);
    }
    argv.extend(args.iter().map(|a| a.replace("$ROOT", &shown).into()));
    let mut pairs = vec![(OsString::from("CI"), OsString::from("true"))];
    pairs.extend(
        env.iter()
            .map(|(k, v)| (k.into(), OsString::from_vec(v.clone()))),
    );
    let out = imagemk_os(rec, argv, pairs);
    Outcome {
        status: out.status,
        stdout: out.stdout.replace(&shown, "$ROOT"),
        stderr: out.stderr.replace(&shown, "$ROOT"),
    }
}

fn check(c: &Case) {
    let (_dir, root) = workspace();
    for (path, text) in &c.files {
        write(&root.join(path), text);
    }
    let rec = Arc::new(Recorder::new());
    let out = run(&rec, &root, &c.args, &c.env);
    assert_eq!(
        (out.status, out.stdout.as_str(), out.stderr.as_str()),
        (1, "", c.stderr.as_str()),
        "case `{}`",
        c.name
    );
    assert_eq!(
        rec.lines(),
        Vec::<String>::new(),
        "case `{}` ran a command",
        c.name
    );
}

/// Runs every case; the failures are listed together.
fn check_all(cases: Vec<Case>) {
    assert!(!cases.is_empty());
    let failed: Vec<&str> = cases
        .iter()
        .filter(|c| std::panic::catch_unwind(|| check(c)).is_err())
        .map(|c| c.name)
        .collect();
    assert!(failed.is_empty(), "failed cases: {failed:?}");
}

const NAME_RULE: &str = "use lowercase letters and digits, separated by `.`, `_`, `__` or `-` (no `/`, at most 128 characters)";
const TAG_RULE: &str =
    "is not a valid docker tag: use letters, digits, `_`, `.` and `-`, not starting with `.` or `-`";

fn e(text: &str) -> String {
    format!("error: {text}\n")
}

fn flag_cases() -> Vec<Case> {
    let long = "a".repeat(129);
    let multi = format!("a{}", "é".repeat(70));
    vec![
        case("tag too long", &["list", "--tag", Box::leak(long.into_boxed_str())],
            &e("invalid image tag: tag `aaaaaaaaaaaaaaaaaaaa…` is 129 characters long; a docker tag has at most 128")),
        case("tag of multi-byte characters", &["list", "--tag", Box::leak(multi.into_boxed_str())],
            &e(&format!("invalid image tag: tag `a{}…` {TAG_RULE}", "é".repeat(39)))),
        case("tag with a slash", &["build", "--tag", "CI/42"], &e(&format!("invalid image tag: tag `CI/42` {TAG_RULE}"))),
        case("empty tag flag", &["build", "--tag", ""], &e("invalid image tag: the tag is empty")),
        case("tag starting with a dot", &["build", "--tag", ".x"], &e(&format!("invalid image tag: tag `.x` {TAG_RULE}"))),
        case("tag with a line break", &["build", "--tag", "a\nb"], &e(&format!("invalid image tag: tag `a\\nb` {TAG_RULE}"))),
        case("-C a missing directory", &["-C", "/nonexistent/x", "list"],
            &e("directory `/nonexistent/x` does not exist; give an existing directory to `-C`")),
        case("-C a file", &["-C", "$ROOT/images.yaml", "list"],
            &e("directory `$ROOT/images.yaml` is not a directory; give an existing directory to `-C`")),
        case("unknown image", &["build", "nosuch"],
            &e("unknown image `nosuch` in component `core` (images there: base)")),
        case("unknown component", &["build", "zz/base"],
            &e("unknown component `zz` in `zz/base` (components: core, app)")),
        case("unknown kind", &["build", "--kind", "bse"],
            &e("component `core` (`$ROOT/images.yaml`) has no image of kind `bse`; did you mean `base`? (kinds there: base)")),
        case("unclosed quote in --command-line", &["run", "base", "--command-line", "sh -c 'x"],
            &e("command `sh -c 'x` has a `'` with no closing `'`")),
        case("empty --command-line", &["withdocker", "--command-line", " "],
            &e("`--command-line` is empty; give the command to run")),
        // The engine is the run's (its scope's), so podman here leaves the other cases docker.
        case("--builder with podman", &["--engine", "podman", "build", "--builder", "ci"],
            &e("`--builder ci`: podman has no BuildKit builders (`docker buildx`); build with docker (`--engine docker`) or drop `--builder` to build with `podman build`")),
        case("--shard without a registry", &["build", "--shard", "1/2"],
            &e("`--shard 1/2` passes images between shards through a registry: no registry is configured; add one under `workspace.registries` in the root images.yaml")),
    ]
}

fn env_cases() -> Vec<Case> {
    vec![
        case("IMAGE_TAG injection", &["build"], &e(&format!("invalid image tag: tag `x;touch pwned` {TAG_RULE}")))
            .env("IMAGE_TAG", "x;touch pwned"),
        case("IMAGE_TAG not UTF-8", &["list"],
            &e("environment variable `IMAGE_TAG` is not valid UTF-8; imagemk reads it, so set it to UTF-8 text or unset it"))
            .env("IMAGE_TAG", b"caf\xe9".to_vec()),
        case("HOME not UTF-8", &["list"],
            &e("environment variable `HOME` is not valid UTF-8; imagemk reads it, so set it to UTF-8 text or unset it"))
            .env("HOME", b"/home/caf\xe9".to_vec()),
        case("JOBS not a number", &["build"],
            &e("environment variable `JOBS`: `abc` is not a number of jobs; give a whole number from 1 up"))
            .env("JOBS", "abc"),
        case("IMAGEMK_REUSE_TIMEOUT not a duration", &["list"],
            &e("environment variable `IMAGEMK_REUSE_TIMEOUT`: timeout `soon` has no number before `s`\nhint: write a positive whole number of hours, minutes or seconds, e.g. `90s`, `80m`, `2h`, `1h30m`"))
            .env("IMAGEMK_REUSE_TIMEOUT", "soon"),
        case("JOBS zero", &["list"],
            &e("environment variable `JOBS`: `0` jobs would run nothing; give a number from 1 up"))
            .env("JOBS", "0"),
        case("PLATFORM uppercase", &["build"], &e(&format!("platform `Fedora` is not a valid name: {NAME_RULE}")))
            .env("PLATFORM", "Fedora"),
        case("DTYPE with a path", &["build"], &e(&format!("platform `../x` is not a valid name: {NAME_RULE}")))
            .env("DTYPE", "../x"),
        case("VARIANT with a slash", &["build"], &e(&format!("variant `a/b` is not a valid name: {NAME_RULE}")))
            .env("VARIANT", "a/b"),
        case("CHANNEL with a space", &["build"], &e(&format!("channel `x y` is not a valid name: {NAME_RULE}")))
            .env("CHANNEL", "x y"),
        case("IMAGE_NAMESPACE uppercase", &["build"],
            &e("namespace `Kontain` must be lowercase: docker repository names are lowercase"))
            .env("IMAGE_NAMESPACE", "Kontain"),
        case("IMAGE_NAMESPACE empty component", &["build"],
            &e("invalid namespace: `a//b` is not a valid repository name: it has an empty path component"))
            .env("IMAGE_NAMESPACE", "a//b"),
        case("REGISTRY unknown", &["push"], &e("unknown registry `nope;touch pwned` (registries: none)"))
            .env("REGISTRY", "nope;touch pwned"),
    ]
}

fn yaml_cases() -> Vec<Case> {
    vec![
        case("malformed YAML", &["list"], &e("`$ROOT/comp/app/images.yaml:2:1`: found character that cannot start any token"))
            .app("images:\n\tlib: {}\n"),
        case("not UTF-8", &["list"],
            "error: reading `$ROOT/comp/app/images.yaml`\n  caused by: stream did not contain valid UTF-8\n")
            .file("comp/app/images.yaml", b"images:\n  lib: {kind: caf\xe9}\n".to_vec()),
        case("unknown key", &["list"],
            &e("`$ROOT/comp/app/images.yaml:3:5`: unknown key `dockerfle` in `images.lib`; did you mean `dockerfile`? (valid keys: kind, dockerfile, context, args, labels, target, depends, stage, variants, run, artifacts, host, timeout)"))
            .app("images:\n  lib:\n    dockerfle: x\n"),
        case("unknown top key", &["list"],
            &e("`$ROOT/comp/app/images.yaml:1:1`: unknown key `image`; did you mean `images`? (valid keys: workspace, defaults, component, images)"))
            .app("image: {}\n"),
        case("duplicate image key", &["list"],
            &e("`$ROOT/comp/app/images.yaml:4:3`: key `lib` is given twice, first at `$ROOT/comp/app/images.yaml:2:3`; remove one (YAML keeps only the last)"))
            .app("images:\n  lib:\n    dockerfile: lib.dockerfile\n  lib:\n    dockerfile: other\n"),
        case("duplicate field", &["list"],
            &e("`$ROOT/comp/app/images.yaml:4:5`: key `dockerfile` is given twice, first at `$ROOT/comp/app/images.yaml:3:5`; remove one (YAML keeps only the last)"))
            .app("images:\n  lib:\n    dockerfile: lib.dockerfile\n    dockerfile: other\n"),
        case("duplicate top-level key", &["list"],
            &e("`$ROOT/comp/app/images.yaml:3:1`: key `images` is given twice, first at `$ROOT/comp/app/images.yaml:1:1`; remove one (YAML keeps only the last)"))
            .app("images: {}\ncomponent: app\nimages: {}\n"),
        case("duplicate in a flow mapping", &["list"],
            &e("`$ROOT/comp/app/images.yaml:2:22`: key `A` is given twice, first at `$ROOT/comp/app/images.yaml:2:16`; remove one (YAML keeps only the last)"))
            .app("images:\n  lib: {args: {A: 1, A: 2}}\n"),
        case("image key with a slash", &["list"],
            &e(&format!("`$ROOT/comp/app/images.yaml:2:3`: images: image key `a/lib` is not a valid name: {NAME_RULE}")))
            .app("images:\n  a/lib:\n    dockerfile: lib.dockerfile\n"),
        case("image key uppercase", &["list"],
            &e(&format!("`$ROOT/comp/app/images.yaml:2:3`: images: image key `Lib` is not a valid name: {NAME_RULE}")))
            .app("images:\n  Lib:\n    dockerfile: lib.dockerfile\n"),
        case("kind with a space", &["list"],
            &e(&format!("`$ROOT/comp/app/images.yaml:3:11`: images.lib.kind: kind `my kind` is not a valid name: {NAME_RULE}")))
            .app("images:\n  lib:\n    kind: my kind\n"),
        case("component name", &["list"],
            &e(&format!("`$ROOT/comp/app/images.yaml:1:12`: component: component `App` is not a valid name: {NAME_RULE}")))
            .app("component: App\n"),
        case("variant name", &["list"],
            &e(&format!("`$ROOT/comp/app/images.yaml:3:16`: images.lib.variants: variant `De bug` is not a valid name: {NAME_RULE}")))
            .app("images:\n  lib:\n    variants: {De bug: {}}\n"),
        case("run.env with a value", &["list"],
            &e("`$ROOT/comp/app/images.yaml:5:16`: images.lib.run.env[1]: `run.env` entry `KM_TOKEN=…` sets a value; list the name only (`KM_TOKEN`) and set the value in the environment (values in images.yaml show in `ps`, logs and --dry-run)"))
            .app("images:\n  lib:\n    dockerfile: lib.dockerfile\n    run:\n      env: [A, \"KM_TOKEN=hunter2\"]\n"),
        case("run.env starting with a digit", &["list"],
            &e("`$ROOT/comp/app/images.yaml:3:17`: images.lib.run.env[0]: `run.env` entry `1X` is not a variable name: use letters, digits and `_`, not starting with a digit"))
            .app("images:\n  lib:\n    run: {env: [\"1X\"]}\n"),
        case("run.env empty", &["list"],
            &e("`$ROOT/comp/app/images.yaml:3:17`: images.lib.run.env[0]: `run.env` entry `` is not a variable name: use letters, digits and `_`, not starting with a digit"))
            .app("images:\n  lib:\n    run: {env: [\"\"]}\n"),
        case("relative workdir", &["list"],
            &e("`$ROOT/comp/app/images.yaml:3:20`: images.lib.run.workdir: `run.workdir` `src` must be an absolute path in the container"))
            .app("images:\n  lib:\n    run: {workdir: src}\n"),
        case("build arg name", &["list"],
            &e("`$ROOT/comp/app/images.yaml:3:12`: images.lib.args: build arg `A B` is not a variable name: use letters, digits and `_`, not starting with a digit"))
            .app("images:\n  lib:\n    args: {A B: x}\n"),
        case("label key", &["list"],
            &e("`$ROOT/comp/app/images.yaml:3:14`: images.lib.labels: label key `a=b` is not valid: it must be non-empty, with no `=`, spaces or control characters"))
            .app("images:\n  lib:\n    labels: {\"a=b\": x}\n"),
        artifact("."), artifact(""), artifact(".."), artifact("/"), artifact("a/../.."),
        artifact("out/../"), artifact("./"), artifact("../app"),
        case("artifact onto another component", &["list"],
            &e("image `core/base` in `$ROOT/images.yaml`: artifact destination `comp/app` would replace `$ROOT/comp/app`, a component directory or the workspace; pick a path inside the component directory"))
            .file("images.yaml", format!("{ROOT_YAML}    artifacts: [{{from: /x, to: comp/app}}]\n")),
        case("artifact onto a parent of a component", &["list"],
            &e("image `core/base` in `$ROOT/images.yaml`: artifact destination `comp/` would replace `$ROOT/comp/app`, a component directory or the workspace; pick a path inside the component directory"))
            .file("images.yaml", format!("{ROOT_YAML}    artifacts: [{{from: /x, to: comp/}}]\n")),
        case("stage above the context", &["list"],
            &e("`$ROOT/comp/app/images.yaml:3:27`: images.lib.stage[0].to: stage destination `../x` must be a path inside the build context: it names the directory itself or leaves it"))
            .app("images:\n  lib:\n    stage: [{from: a, to: ../x}]\n"),
        case("stage absolute", &["list"],
            &e("`$ROOT/comp/app/images.yaml:3:27`: images.lib.stage[0].to: stage destination `/abs` must be a path inside the build context: it is absolute"))
            .app("images:\n  lib:\n    stage: [{from: a, to: /abs}]\n"),
    ]
}

fn artifact(to: &'static str) -> Case {
    let why = match to {
        "" => "it is empty",
        "/" => "it is absolute",
        _ => "it names the directory itself or leaves it",
    };
    let yaml =
        format!("images:\n  lib:\n    artifacts:\n      - from: /opt/x\n        to: \"{to}\"\n");
    case("artifact destination", &["list"],
        &e(&format!("`$ROOT/comp/app/images.yaml:5:13`: images.lib.artifacts[0].to: artifact destination `{to}` must be a path inside the component directory: {why}")))
        .app(&yaml)
}

fn resolve_cases() -> Vec<Case> {
    vec![
        case("template without {tag}", &["list"],
            &e("name template `{namespace}/{kind}` has no `{tag}`, so `IMAGE_TAG` and `--tag` would be ignored; end it with `:{tag}`"))
            .app("defaults:\n  name: \"{namespace}/{kind}\"\n"),
        case("variant without {variant}", &["list"],
            &e("image `lib` in `$ROOT/comp/app/images.yaml`: variant `debug` gets the same name as the plain image, `acme/lib:latest`, so one build would overwrite the other; put `{variant}` in the name template or give the variant a distinct `suffix`"))
            .app("defaults:\n  name: \"{namespace}/{kind}:{tag}\"\nimages:\n  lib:\n    dockerfile: lib.dockerfile\n    variants: {debug: {}}\n"),
        case("variant with an empty suffix", &["build"],
            &e("image `lib` in `$ROOT/comp/app/images.yaml`: variant `debug` gets the same name as the plain image, `acme/lib-app-tiny:latest`, so one build would overwrite the other; put `{variant}` in the name template or give the variant a distinct `suffix`"))
            .app("images:\n  lib:\n    dockerfile: lib.dockerfile\n    variants: {debug: {suffix: \"\"}}\n"),
        case("two variants with one suffix", &["build"],
            &e("image `lib` in `$ROOT/comp/app/images.yaml`: variant `b` gets the same name as variant `a`, `acme/lib-app-tiny-x:latest`, so one build would overwrite the other; put `{variant}` in the name template or give the variant a distinct `suffix`"))
            .app("images:\n  lib:\n    dockerfile: lib.dockerfile\n    variants: {a: {suffix: \"-x\"}, b: {suffix: \"-x\"}}\n"),
        case("unknown placeholder", &["list"],
            &e("image `lib` in `$ROOT/comp/app/images.yaml`: the local name is invalid: template `{namespace}/{knd}:{tag}` uses `{knd}`, which is not one of {component}, {image}, {kind}, {namespace}, {platform}, {tag}, {variant}"))
            .app("defaults:\n  name: \"{namespace}/{knd}:{tag}\"\nimages:\n  lib: {dockerfile: lib.dockerfile}\n"),
        case("unclosed placeholder", &["list"],
            &e("image `lib` in `$ROOT/comp/app/images.yaml`: the local name is invalid: template `{namespace/{kind}:{tag}` uses `{namespace/{kind}`, which is not one of {component}, {image}, {kind}, {namespace}, {platform}, {tag}, {variant}"))
            .app("defaults:\n  name: \"{namespace/{kind}:{tag}\"\nimages:\n  lib: {dockerfile: lib.dockerfile}\n"),
        case("uppercase namespace in yaml", &["list"],
            &e("namespace `Acme` must be lowercase: docker repository names are lowercase"))
            .app("defaults:\n  namespace: Acme\n"),
        case("bad tag in yaml", &["list"], &e(&format!("invalid image tag: tag `v 1` {TAG_RULE}")))
            .app("defaults:\n  tag: v 1\n"),
        case("depends on an unknown image", &["list"],
            &e("image `app/lib` in `$ROOT/comp/app/images.yaml` depends on `bsae`: unknown image `bsae` in component `app` (images there: lib)"))
            .app("images:\n  lib:\n    dockerfile: lib.dockerfile\n    depends: [bsae]\n"),
        case("dependency cycle", &["list"],
            &e("dependency cycle: app/lib → app/tool → app/lib (from `depends:` and `FROM` lines); remove one of these dependencies"))
            .app("images:\n  lib:\n    dockerfile: lib.dockerfile\n    depends: [tool]\n  tool:\n    dockerfile: lib.dockerfile\n    depends: [lib]\n"),
        case("two images with one name", &["list"],
            &e("images `app/lib` (in `$ROOT/comp/app/images.yaml`) and `app/other` (in `$ROOT/comp/app/images.yaml`) both get the name `acme/lib-app-tiny:latest`; give one another `kind` or change the name template"))
            .app("images:\n  lib:\n    dockerfile: lib.dockerfile\n  other:\n    kind: lib\n    dockerfile: lib.dockerfile\n"),
        case("component defined twice", &["list"],
            &e("component `core` is defined twice: in `$ROOT/images.yaml` and `$ROOT/comp/app/images.yaml`; give one a different `component:` name"))
            .app("component: core\n"),
        case("member pattern matching nothing", &["list"],
            &e("member pattern `nothing/*` in `$ROOT/images.yaml` matches no directory with an `images.yaml`"))
            .file("images.yaml", ROOT_YAML.replace("comp/*", "nothing/*")),
        case("images as a list", &["list"],
            &e("`$ROOT/comp/app/images.yaml:2:3`: images: invalid type: sequence, expected a map"))
            .app("images:\n  - lib\n"),
        case("missing Dockerfile", &["build", "app/lib"],
            &e("image `app/lib` has no Dockerfile at `$ROOT/comp/app/nope.dockerfile`; create it or set `dockerfile:` in `$ROOT/comp/app/images.yaml`"))
            .app("images:\n  lib:\n    dockerfile: nope.dockerfile\n"),
        case("missing context", &["build", "app/lib"],
            &e("image `app/lib` has no build context directory `$ROOT/comp/app/nope`; create it or fix `context:` in `$ROOT/comp/app/images.yaml`"))
            .app("images:\n  lib:\n    dockerfile: lib.dockerfile\n    context: nope\n"),
        case("COPY --from with a variable", &["build", "app/lib"],
            &e("`$ROOT/comp/app/lib.dockerfile`: `COPY --from=${SRC}` uses a variable, which docker's legacy builder does not expand (\"invalid from flag value\"); name the stage or image literally, or add `FROM ${SRC} AS <stage>` and copy `--from=<stage>`"))
            .file("comp/app/lib.dockerfile", "ARG SRC=acme/base-core-tiny\nFROM scratch\nCOPY --from=${SRC} /a /a\n"),
    ]
}

const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

/// One images.lock group for `remote`.
fn locked(remote: &str, image: &str, digest: &str) -> String {
    format!("\"{remote}\":\n  image: \"{image}\"\n  tag: latest\n  digest: {digest}\n")
}

fn lock_cases() -> Vec<Case> {
    let ok = locked("reg.example.com/acme/base", "core/base", D1);
    let child = "FROM acme/base-core-tiny:latest\n";
    vec![
        case("malformed images.lock", &["pin", "--check"],
            &e("`$ROOT/images.lock:2:28`: reg.example.com/acme/base: invalid type: sequence, expected a mapping"))
            .file("images.lock", "# x\nreg.example.com/acme/base: [1]\n"),
        case("images.lock digest not sha256", &["pin", "--check"],
            &e("`$ROOT/images.lock:6:3`: reg.example.com/acme/lib: `sha256:ABC` is not a sha256 digest (`sha256:` and 64 lowercase hex digits)"))
            .file("images.lock", format!("{ok}{}", locked("reg.example.com/acme/lib", "app/lib", "sha256:ABC"))),
        case("images.lock entry for an unknown image", &["pin", "--check"],
            &e("`$ROOT/images.lock:5`: `reg.example.com/acme/lib` is locked for image `app/lbi`, which is not in the workspace: run `imagemk pin` again or remove the entry; did you mean `app/lib`?"))
            .file("images.lock", format!("{ok}{}", locked("reg.example.com/acme/lib", "app/lbi", D1))),
        case("build --locked, entry for an unknown image", &["build", "app/lib", "--locked"],
            &e("`$ROOT/images.lock:5`: `reg.example.com/acme/lib` is locked for image `app/lbi`, which is not in the workspace: run `imagemk pin` again or remove the entry; did you mean `app/lib`?"))
            .file("comp/app/lib.dockerfile", child)
            .file("images.lock", format!("{ok}{}", locked("reg.example.com/acme/lib", "app/lbi", D1))),
        case("build --locked, parent not locked", &["build", "app/lib", "--locked"],
            &e("`--locked`: parent image `core/base` (of `app/lib`) has no entry in `$ROOT/images.lock`; lock it with `imagemk pin core/base` (or `imagemk push --lock`), or build without `--locked`"))
            .file("comp/app/lib.dockerfile", child),
        case("build --locked, images.lock malformed", &["build", "app/lib", "--locked"],
            &e("`$ROOT/images.lock:2:3`: reg.example.com/acme/base: missing field `digest`"))
            .file("comp/app/lib.dockerfile", child)
            .file("images.lock", "reg.example.com/acme/base:\n  image: core/base\n  tag: latest\n"),
        case("pin --check of an image without an entry", &["pin", "--check", "app/lib"],
            &e("image `app/lib` has no entry in images.lock; lock it with `imagemk pin app/lib` (or `imagemk push --lock`)"))
            .file("images.lock", ok.clone()),
    ]
}

/// The base workspace with a registry `r` and `prod` refused for kind `base`.
fn with_registry() -> String {
    ROOT_YAML.replace(
        "workspace:\n",
        "workspace:\n  registries:\n    r: {kind: oci, host: \"127.0.0.1:9\"}\n  publish:\n    refuse_tags: {base: [prod]}\n",
    )
}

fn promote_cases() -> Vec<Case> {
    let digest = format!("sha256:{}", "1".repeat(64));
    let entry = |image: &str, digest: &str| {
        format!("\"127.0.0.1:9/x\":\n  image: {image}\n  tag: CI-1\n  digest: {digest}\n")
    };
    vec![
        case("promote to an invalid tag", &["promote", "--to", "x;touch pwned", "base"],
            &e(&format!("`--to`: tag `x;touch pwned` {TAG_RULE}"))).file("images.yaml", with_registry()),
        case("promote with no lock entry", &["promote", "--to", "stable", "base"],
            &e("image `core/base` has no entry for registry `r` in `$ROOT/images.lock`; pin it first (`imagemk pin core/base`)"))
            .file("images.yaml", with_registry()),
        case("promote to a tag the kind refuses", &["promote", "--to", "prod", "base"],
            &e("image `core/base` may not be promoted to `prod`: images of kind `base` refuse tags `prod` (`workspace.publish.refuse_tags` in `$ROOT/images.yaml`)"))
            .file("images.yaml", with_registry()).file("images.lock", entry("core/base", &digest)),
        case("promote with a digest that is not sha256", &["promote", "--to", "stable", "base"],
            &e("`$ROOT/images.lock:2:3`: 127.0.0.1:9/x: `sha256:12` is not a sha256 digest (`sha256:` and 64 lowercase hex digits)"))
            .file("images.yaml", with_registry()).file("images.lock", entry("core/base", "sha256:12")),
        case("promote with a lock entry for an unknown image", &["promote", "--to", "stable", "base"],
            &e("`$ROOT/images.lock:1`: `127.0.0.1:9/x` is locked for image `core/bsae`, which is not in the workspace: run `imagemk pin` again or remove the entry; did you mean `core/base`?"))
            .file("images.yaml", with_registry()).file("images.lock", entry("core/bsae", &digest)),
    ]
}

/// `--builder`, `--platform-arch` (issue 12 item 6).
fn builder_cases() -> Vec<Case> {
    let hint = "hint: create a BuildKit builder (`docker buildx create --name multi --driver docker-container`) and pass `--builder multi` (make: `BUILDER=multi`)";
    vec![
        case("--builder with the legacy builder forced", &["build", "--builder", "ci"],
            &e("`--builder ci` builds with BuildKit, but `DOCKER_BUILDKIT=0` forces the legacy builder; unset `DOCKER_BUILDKIT` or drop `--builder`"))
            .env("DOCKER_BUILDKIT", "0"),
        case("--platform-arch without --builder", &["build", "--platform-arch", "linux/arm64,linux/amd64"],
            &e(&format!("`--platform-arch linux/arm64,linux/amd64` needs `--builder NAME`: the legacy builder and `--load` into the engine build one platform only\n{hint}"))),
        case("--platform-arch with an empty item", &["build", "--builder", "ci", "--platform-arch", "linux/arm64,,linux/amd64"],
            &e("`--platform-arch linux/arm64,,linux/amd64` has an empty item; list platforms separated by single commas, e.g. `linux/arm64,linux/amd64`")),
        case("--platform-arch twice the same", &["build", "--builder", "ci", "--platform-arch", "linux/arm64,linux/arm64"],
            &e("`--platform-arch linux/arm64,linux/arm64` names `linux/arm64` twice; name each platform once")),
        case("--platform-arch not os/arch", &["build", "--builder", "ci", "--platform-arch", "arm64"],
            &e("platform `arm64` in `--platform-arch` is not `os/arch[/variant]` (e.g. `linux/arm64`, `linux/arm/v7`)")),
        case("--builder with a bad name", &["build", "--builder=1;touch pwned"],
            &e("builder name `1;touch pwned` is not valid: buildx names start with a letter and use letters, digits, `.`, `_` and `-`")),
    ]
}

/// `--variant a,b` / `VARIANT=a,b` (issue 12 item 7).
fn variant_cases() -> Vec<Case> {
    let debug = "images:\n  lib:\n    dockerfile: lib.dockerfile\n    variants: {debug: {}}\n";
    vec![
        case("--variant with an empty item", &["build", "--variant", "plain,,debug"],
            &e("`--variant plain,,debug` has an empty item; list variants separated by single commas, e.g. `plain,debug`")),
        case("--variant twice the same", &["build", "--variant", "plain,debug,plain"],
            &e("`--variant plain,debug,plain` names `plain` twice; name each variant once")).app(debug),
        case("VARIANT twice the same", &["push"],
            &e("`VARIANT=debug,debug` names `debug` twice; name each variant once")).env("VARIANT", "debug,debug"),
        case("--variant unknown", &["build", "--variant", "plain,debgu"],
            &e("unknown variant `debgu` in `--variant plain,debgu`; did you mean `debug`? (variants: debug, plain); define it under an image's `variants:`")).app(debug),
        case("--variant unknown alone", &["list", "--variant", "dbg"],
            &e("unknown variant `dbg` in `--variant dbg` (variants: plain); define it under an image's `variants:`")),
        case("--variant with an invalid name", &["build", "--variant", "plain,De bug"],
            &e(&format!("variant `De bug` is not a valid name: {NAME_RULE}"))),
        case("several variants for one image", &["run", "lib", "--variant", "plain,debug"],
            &e("`run` acts on one image, but several variants were asked for (`plain,debug`); give one variant (`--variant plain`) or none")).app(debug),
    ]
}

/// A registry its kind cannot use is an error of images.yaml, with its line, for any command.
fn registry_cases() -> Vec<Case> {
    let yaml = |reg: &str| {
        ROOT_YAML.replace(
            "workspace:\n",
            &format!("workspace:\n  registries:\n    {reg}\n"),
        )
    };
    vec![
        case("gar registry without location", &["list"],
            &e("`$ROOT/images.yaml:3`: registry `g` of kind `gar` needs `location`"))
            .file("images.yaml", yaml("g: {kind: gar, project: p, repository: r}")),
        case("oci registry host read as a Docker Hub namespace", &["build"],
            &e("`$ROOT/images.yaml:3`: registry `r`: `myregistry` would be read by docker as a Docker Hub namespace, not a registry host; write it with a port or a domain (e.g. `localhost:5000`, `myregistry.example.com`)"))
            .file("images.yaml", yaml("r: {kind: oci, host: myregistry}")),
    ]
}

#[test]
fn bad_flags() {
    check_all(flag_cases());
}

#[test]
fn bad_environment_values() {
    check_all(env_cases());
}

#[test]
fn bad_images_yaml() {
    check_all(yaml_cases());
}

#[test]
fn workspaces_that_do_not_resolve() {
    check_all(resolve_cases());
}

#[test]
fn bad_images_lock() {
    check_all(lock_cases());
}

#[test]
fn bad_promotions() {
    check_all(promote_cases());
}

#[test]
fn bad_builder_flags() {
    check_all(builder_cases());
}

#[test]
fn bad_variants() {
    check_all(variant_cases());
}

#[test]
fn registries_their_kind_cannot_use() {
    check_all(registry_cases());
}

/// A variable imagemk does not read may hold any bytes (issue 8 item 14).
#[test]
fn unread_non_utf8_variables_are_ignored() {
    let (_dir, root) = workspace();
    let rec = Arc::new(Recorder::new());
    let out = run(
        &rec,
        &root,
        &["list", "base"],
        &[("OLDPWD", b"/tmp/caf\xe9".to_vec())],
    );
    out.ok();
    assert!(out.stdout.contains("core/base"), "{}", out.stdout);
}

/// A workspace whose path is not UTF-8: its members cannot be globbed; said plainly. A
/// workspace whose path has glob characters (`[1]`) finds its members all the same.
#[test]
fn workspace_paths_with_odd_bytes() {
    let (_dir, root) = workspace();
    let odd = root.join(OsString::from_vec(b"caf\xe9".to_vec()));
    let glob = root.join("ws[1]");
    for dir in [&odd, &glob] {
        write(&dir.join("images.yaml"), ROOT_YAML.as_bytes());
        write(&dir.join("comp/app/images.yaml"), APP_YAML.as_bytes());
    }
    let rec = Arc::new(Recorder::new());
    let out = imagemk_os(&rec, vec!["list".into(), "-C".into(), odd.into()], vec![]);
    let shown = root.display().to_string();
    assert_eq!(
        (out.status, out.stdout.as_str(), out.stderr.replace(&shown, "$ROOT").as_str()),
        (1, "", "error: the workspace path `$ROOT/caf\u{fffd}` is not valid UTF-8, so `workspace.members` cannot be matched in it; move the workspace to a UTF-8 path\n")
    );
    let out = run(&rec, &root, &["-C", "$ROOT/ws[1]/comp/app", "list"], &[]);
    out.ok();
    assert!(out.stdout.contains("app/lib"), "{}", out.stdout);
    assert_eq!(rec.lines(), Vec::<String>::new());
}
