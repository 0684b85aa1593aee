//! Bad input, as one table: config files, flags, environment values, make variables and
//! non-UTF-8 bytes. Each case pins the exact message and exit status, and checks that the
//! fake docker was never called and that no injected command ran.

mod support;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use support::Test;

const ROOT_YAML: &str = "workspace:\n  members: [\"comp/*\"]\ndefaults:\n  namespace: acme\n  platform: tiny\ncomponent: core\nimages:\n  base:\n    dockerfile: docker/base.dockerfile\n    context: docker\n";
const APP_YAML: &str = "images:\n  lib:\n    dockerfile: lib.dockerfile\n";

/// One bad input: files written over the base workspace, the command (imagemk's argv, or
/// make's with `make`), environment, and what must come out.
struct Case {
    name: &'static str,
    args: Vec<&'static str>,
    files: Vec<(&'static str, Vec<u8>)>,
    env: Vec<(&'static str, Vec<u8>)>,
    raw_arg: Option<Vec<u8>>,
    make: bool,
    status: i32,
    stderr: String,
}

fn case(name: &'static str, args: &[&'static str], status: i32, stderr: &str) -> Case {
    Case {
        name,
        args: args.to_vec(),
        files: Vec::new(),
        env: Vec::new(),
        raw_arg: None,
        make: false,
        status,
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
    fn raw_arg(mut self, arg: &[u8]) -> Case {
        self.raw_arg = Some(arg.to_vec());
        self
    }
    fn make(mut self) -> Case {
        self.make = true;
        self
    }
}

fn workspace() -> Test {
    let t = Test::new();
    t.fake_docker();
    t.file("images.yaml", ROOT_YAML);
    t.file("docker/base.dockerfile", "FROM scratch\n");
    t.file("comp/app/images.yaml", APP_YAML);
    t.file("comp/app/lib.dockerfile", "FROM scratch\n");
    t.file("Makefile", "include make/images.mk\n");
    t.file("make/images.mk", include_str!("../make/images.mk"));
    t
}

fn check(c: &Case) {
    let t = workspace();
    for (path, text) in &c.files {
        let p = t.path(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let mut cmd = if c.make {
        let mut cmd = t.command("make", &["-s"]);
        cmd.env("IMAGEMK", support::BIN);
        cmd
    } else {
        t.command(support::BIN, &[])
    };
    cmd.args(&c.args);
    if let Some(raw) = &c.raw_arg {
        cmd.arg(OsString::from_vec(raw.clone()));
    }
    for (k, v) in &c.env {
        cmd.env(k, OsString::from_vec(v.clone()));
    }
    let out = t.output(cmd);
    let stderr = regex_lite_replace(&out.stderr);
    assert_eq!(
        (out.status, out.stdout.as_str(), stderr.as_str()),
        (c.status, "", c.stderr.as_str()),
        "case `{}`",
        c.name
    );
    assert_eq!(
        t.docker_log(),
        Vec::<String>::new(),
        "case `{}` called docker",
        c.name
    );
    assert!(
        !t.exists("pwned"),
        "case `{}` ran an injected command",
        c.name
    );
}

/// make's `[make/images.mk:LINE: target]`, with the line number as `N`.
fn regex_lite_replace(text: &str) -> String {
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        match line.split_once("images.mk:") {
            Some((head, rest)) if rest.contains(": ") => {
                let digits = rest.chars().take_while(char::is_ascii_digit).count();
                out.push_str(&format!("{head}images.mk:N{}", &rest[digits..]));
            }
            _ => out.push_str(line),
        }
    }
    out
}

const NAME_RULE: &str = "use lowercase letters and digits, separated by `.`, `_`, `__` or `-` (no `/`, at most 128 characters)";
const TAG_RULE: &str =
    "is not a valid docker tag: use letters, digits, `_`, `.` and `-`, not starting with `.` or `-`";

fn e(text: &str) -> String {
    format!("error: {text}\n")
}

/// clap's message for a bad `--shard` value.
fn shard_error(value: &str, why: &str) -> String {
    format!("error: invalid value '{value}' for '--shard <I/N>': {why}\n\nFor more information, try '--help'.\n")
}

fn flag_cases() -> Vec<Case> {
    let long = "a".repeat(129);
    let multi = format!("a{}", "é".repeat(70));
    vec![
        case("tag too long", &["list", "--tag", Box::leak(long.into_boxed_str())], 1,
            &e("invalid image tag: tag `aaaaaaaaaaaaaaaaaaaa…` is 129 characters long; a docker tag has at most 128")),
        case("tag of multi-byte characters", &["list", "--tag", Box::leak(multi.into_boxed_str())], 1,
            &e(&format!("invalid image tag: tag `a{}…` {TAG_RULE}", "é".repeat(39)))),
        case("tag with a slash", &["build", "--tag", "CI/42"], 1, &e(&format!("invalid image tag: tag `CI/42` {TAG_RULE}"))),
        case("empty tag flag", &["build", "--tag", ""], 1, &e("invalid image tag: the tag is empty")),
        case("tag starting with a dot", &["build", "--tag", ".x"], 1, &e(&format!("invalid image tag: tag `.x` {TAG_RULE}"))),
        case("tag with a line break", &["build", "--tag", "a\nb"], 1, &e(&format!("invalid image tag: tag `a\\nb` {TAG_RULE}"))),
        case("-C a missing directory", &["-C", "/nonexistent/x", "list"], 1,
            &e("directory `/nonexistent/x` does not exist; give an existing directory to `-C`")),
        case("-C a file", &["-C", "images.yaml", "list"], 1,
            &e("directory `$ROOT/images.yaml` is not a directory; give an existing directory to `-C`")),
        case("-j 0", &["build", "-j", "0"], 2,
            "error: invalid value '0' for '--jobs <N>': `0` jobs would run nothing; give a number from 1 up\n\nFor more information, try '--help'.\n"),
        case("-j abc", &["push", "-j", "abc"], 2,
            "error: invalid value 'abc' for '--jobs <N>': `abc` is not a number of jobs; give a whole number from 1 up\n\nFor more information, try '--help'.\n"),
        case("unknown image", &["build", "nosuch"], 1,
            &e("unknown image `nosuch` in component `core` (images there: base)")),
        case("unknown component", &["build", "zz/base"], 1,
            &e("unknown component `zz` in `zz/base` (components: core, app)")),
        case("unknown kind", &["build", "--kind", "bse"], 1,
            &e("component `core` (`$ROOT/images.yaml`) has no image of kind `bse`; did you mean `base`? (kinds there: base)")),
        case("unknown subcommand", &["biuld"], 2,
            "error: unrecognized subcommand 'biuld'\n\n  tip: a similar subcommand exists: 'build'\n\nUsage: imagemk [OPTIONS] <COMMAND>\n\nFor more information, try '--help'.\n"),
        case("non-UTF-8 argument", &["list"], 2,
            "error: invalid UTF-8 was detected in one or more arguments\n\nUsage: imagemk list [OPTIONS] [IMAGE]...\n\nFor more information, try '--help'.\n")
            .raw_arg(b"caf\xe9"),
        case("non-UTF-8 tag flag", &["list", "--tag"], 2,
            "error: invalid UTF-8 was detected in one or more arguments\n\nUsage: imagemk list [OPTIONS] [IMAGE]...\n\nFor more information, try '--help'.\n")
            .raw_arg(b"\xff"),
        case("unclosed quote in --command-line", &["run", "base", "--command-line", "sh -c 'x"], 1,
            &e("command `sh -c 'x` has a `'` with no closing `'`")),
        case("empty --command-line", &["withdocker", "--command-line", " "], 1,
            &e("`--command-line` is empty; give the command to run")),
        case("--shard 0/2", &["build", "--shard", "0/2"], 2, &shard_error("0/2", "`0/2`: shard 0 does not exist; shards are numbered 1 to 2")),
        case("--shard 3/2", &["build", "--shard", "3/2"], 2, &shard_error("3/2", "`3/2`: shard 3 does not exist; shards are numbered 1 to 2")),
        case("--shard 1/0", &["build", "--shard", "1/0"], 2, &shard_error("1/0", "`1/0`: 0 shards would build nothing; give a number of shards from 1 up")),
        case("--shard 1/", &["build", "--shard", "1/"], 2, &shard_error("1/", "`1/` is not a shard; write `I/N`: shard I of N, from 1, e.g. `1/4` … `4/4`")),
        case("--shard a/b", &["build", "--shard", "a/b"], 2, &shard_error("a/b", "`a/b` is not a shard; write `I/N`: shard I of N, from 1, e.g. `1/4` … `4/4`")),
        case("plan --shards 0", &["plan", "--shards", "0"], 2,
            "error: invalid value '0' for '--shards <N>': 0 shards would build nothing; give a number of shards from 1 up\n\nFor more information, try '--help'.\n"),
        case("--shard-wait 10x", &["build", "--shard", "1/2", "--shard-wait", "10x"], 2,
            "error: invalid value '10x' for '--shard-wait <DURATION>': timeout `10x` has an unknown unit `x` (use `h`, `m` or `s`)\nhint: write a positive whole number of hours, minutes or seconds, e.g. `90s`, `80m`, `2h`, `1h30m`\n\nFor more information, try '--help'.\n"),
        case("--shard without a registry", &["build", "--shard", "1/2"], 1,
            &e("`--shard 1/2` passes images between shards through a registry: no registry is configured; add one under `workspace.registries` in the root images.yaml")),
        case("extract with a path and no destination", &["extract", "base", "/x"], 2,
            "error: the following required arguments were not provided:\n  <DEST>\n\nUsage: imagemk extract <IMAGE> <PATH> <DEST>\n\nFor more information, try '--help'.\n"),
    ]
}

fn env_cases() -> Vec<Case> {
    vec![
        case("IMAGE_TAG injection", &["build"], 1, &e(&format!("invalid image tag: tag `x;touch pwned` {TAG_RULE}")))
            .env("IMAGE_TAG", "x;touch pwned"),
        case("IMAGE_TAG not UTF-8", &["list"], 1,
            &e("environment variable `IMAGE_TAG` is not valid UTF-8; imagemk reads it, so set it to UTF-8 text or unset it"))
            .env("IMAGE_TAG", b"caf\xe9".to_vec()),
        case("HOME not UTF-8", &["list"], 1,
            &e("environment variable `HOME` is not valid UTF-8; imagemk reads it, so set it to UTF-8 text or unset it"))
            .env("HOME", b"/home/caf\xe9".to_vec()),
        case("JOBS not a number", &["build"], 1,
            &e("environment variable `JOBS`: `abc` is not a number of jobs; give a whole number from 1 up"))
            .env("JOBS", "abc"),
        case("JOBS zero", &["list"], 1,
            &e("environment variable `JOBS`: `0` jobs would run nothing; give a number from 1 up"))
            .env("JOBS", "0"),
        case("PLATFORM uppercase", &["build"], 1, &e(&format!("platform `Fedora` is not a valid name: {NAME_RULE}")))
            .env("PLATFORM", "Fedora"),
        case("DTYPE with a path", &["build"], 1, &e(&format!("platform `../x` is not a valid name: {NAME_RULE}")))
            .env("DTYPE", "../x"),
        case("VARIANT with a slash", &["build"], 1, &e(&format!("variant `a/b` is not a valid name: {NAME_RULE}")))
            .env("VARIANT", "a/b"),
        case("CHANNEL with a space", &["build"], 1, &e(&format!("channel `x y` is not a valid name: {NAME_RULE}")))
            .env("CHANNEL", "x y"),
        case("IMAGE_NAMESPACE uppercase", &["build"], 1,
            &e("namespace `Kontain` must be lowercase: docker repository names are lowercase"))
            .env("IMAGE_NAMESPACE", "Kontain"),
        case("IMAGE_NAMESPACE empty component", &["build"], 1,
            &e("invalid namespace: `a//b` is not a valid repository name: it has an empty path component"))
            .env("IMAGE_NAMESPACE", "a//b"),
        case("REGISTRY unknown", &["push"], 1, &e("unknown registry `nope;touch pwned` (registries: none)"))
            .env("REGISTRY", "nope;touch pwned"),
    ]
}

fn yaml_cases() -> Vec<Case> {
    vec![
        case("malformed YAML", &["list"], 1, &e("`$ROOT/comp/app/images.yaml:2:1`: found character that cannot start any token"))
            .app("images:\n\tlib: {}\n"),
        case("not UTF-8", &["list"], 1,
            "error: reading `$ROOT/comp/app/images.yaml`\n  caused by: stream did not contain valid UTF-8\n")
            .file("comp/app/images.yaml", b"images:\n  lib: {kind: caf\xe9}\n".to_vec()),
        case("unknown key", &["list"], 1,
            &e("`$ROOT/comp/app/images.yaml:3:5`: unknown key `dockerfle` in `images.lib`; did you mean `dockerfile`? (valid keys: kind, dockerfile, context, args, labels, target, depends, stage, variants, run, artifacts, host, timeout)"))
            .app("images:\n  lib:\n    dockerfle: x\n"),
        case("unknown top key", &["list"], 1,
            &e("`$ROOT/comp/app/images.yaml:1:1`: unknown key `image`; did you mean `images`? (valid keys: workspace, defaults, component, images)"))
            .app("image: {}\n"),
        case("duplicate image key", &["list"], 1,
            &e("`$ROOT/comp/app/images.yaml:4:3`: key `lib` is given twice, first at `$ROOT/comp/app/images.yaml:2:3`; remove one (YAML keeps only the last)"))
            .app("images:\n  lib:\n    dockerfile: lib.dockerfile\n  lib:\n    dockerfile: other\n"),
        case("duplicate field", &["list"], 1,
            &e("`$ROOT/comp/app/images.yaml:4:5`: key `dockerfile` is given twice, first at `$ROOT/comp/app/images.yaml:3:5`; remove one (YAML keeps only the last)"))
            .app("images:\n  lib:\n    dockerfile: lib.dockerfile\n    dockerfile: other\n"),
        case("duplicate top-level key", &["list"], 1,
            &e("`$ROOT/comp/app/images.yaml:3:1`: key `images` is given twice, first at `$ROOT/comp/app/images.yaml:1:1`; remove one (YAML keeps only the last)"))
            .app("images: {}\ncomponent: app\nimages: {}\n"),
        case("duplicate in a flow mapping", &["list"], 1,
            &e("`$ROOT/comp/app/images.yaml:2:22`: key `A` is given twice, first at `$ROOT/comp/app/images.yaml:2:16`; remove one (YAML keeps only the last)"))
            .app("images:\n  lib: {args: {A: 1, A: 2}}\n"),
        case("image key with a slash", &["list"], 1,
            &e(&format!("`$ROOT/comp/app/images.yaml:2:3`: images: image key `a/lib` is not a valid name: {NAME_RULE}")))
            .app("images:\n  a/lib:\n    dockerfile: lib.dockerfile\n"),
        case("image key uppercase", &["list"], 1,
            &e(&format!("`$ROOT/comp/app/images.yaml:2:3`: images: image key `Lib` is not a valid name: {NAME_RULE}")))
            .app("images:\n  Lib:\n    dockerfile: lib.dockerfile\n"),
        case("kind with a space", &["list"], 1,
            &e(&format!("`$ROOT/comp/app/images.yaml:3:11`: images.lib.kind: kind `my kind` is not a valid name: {NAME_RULE}")))
            .app("images:\n  lib:\n    kind: my kind\n"),
        case("component name", &["list"], 1,
            &e(&format!("`$ROOT/comp/app/images.yaml:1:12`: component: component `App` is not a valid name: {NAME_RULE}")))
            .app("component: App\n"),
        case("variant name", &["list"], 1,
            &e(&format!("`$ROOT/comp/app/images.yaml:3:16`: images.lib.variants: variant `De bug` is not a valid name: {NAME_RULE}")))
            .app("images:\n  lib:\n    variants: {De bug: {}}\n"),
        case("run.env with a value", &["list"], 1,
            &e("`$ROOT/comp/app/images.yaml:5:16`: images.lib.run.env[1]: `run.env` entry `KM_TOKEN=…` sets a value; list the name only (`KM_TOKEN`) and set the value in the environment (values in images.yaml show in `ps`, logs and --dry-run)"))
            .app("images:\n  lib:\n    dockerfile: lib.dockerfile\n    run:\n      env: [A, \"KM_TOKEN=hunter2\"]\n"),
        case("run.env starting with a digit", &["list"], 1,
            &e("`$ROOT/comp/app/images.yaml:3:17`: images.lib.run.env[0]: `run.env` entry `1X` is not a variable name: use letters, digits and `_`, not starting with a digit"))
            .app("images:\n  lib:\n    run: {env: [\"1X\"]}\n"),
        case("run.env empty", &["list"], 1,
            &e("`$ROOT/comp/app/images.yaml:3:17`: images.lib.run.env[0]: `run.env` entry `` is not a variable name: use letters, digits and `_`, not starting with a digit"))
            .app("images:\n  lib:\n    run: {env: [\"\"]}\n"),
        case("relative workdir", &["list"], 1,
            &e("`$ROOT/comp/app/images.yaml:3:20`: images.lib.run.workdir: `run.workdir` `src` must be an absolute path in the container"))
            .app("images:\n  lib:\n    run: {workdir: src}\n"),
        case("build arg name", &["list"], 1,
            &e("`$ROOT/comp/app/images.yaml:3:12`: images.lib.args: build arg `A B` is not a variable name: use letters, digits and `_`, not starting with a digit"))
            .app("images:\n  lib:\n    args: {A B: x}\n"),
        case("label key", &["list"], 1,
            &e("`$ROOT/comp/app/images.yaml:3:14`: images.lib.labels: label key `a=b` is not valid: it must be non-empty, with no `=`, spaces or control characters"))
            .app("images:\n  lib:\n    labels: {\"a=b\": x}\n"),
        artifact("."), artifact(""), artifact(".."), artifact("/"), artifact("a/../.."),
        artifact("out/../"), artifact("./"), artifact("../app"),
        case("artifact onto another component", &["list"], 1,
            &e("image `core/base` in `$ROOT/images.yaml`: artifact destination `comp/app` would replace `$ROOT/comp/app`, a component directory or the workspace; pick a path inside the component directory"))
            .file("images.yaml", format!("{ROOT_YAML}    artifacts: [{{from: /x, to: comp/app}}]\n")),
        case("artifact onto a parent of a component", &["list"], 1,
            &e("image `core/base` in `$ROOT/images.yaml`: artifact destination `comp/` would replace `$ROOT/comp/app`, a component directory or the workspace; pick a path inside the component directory"))
            .file("images.yaml", format!("{ROOT_YAML}    artifacts: [{{from: /x, to: comp/}}]\n")),
        case("stage above the context", &["list"], 1,
            &e("`$ROOT/comp/app/images.yaml:3:27`: images.lib.stage[0].to: stage destination `../x` must be a path inside the build context: it names the directory itself or leaves it"))
            .app("images:\n  lib:\n    stage: [{from: a, to: ../x}]\n"),
        case("stage absolute", &["list"], 1,
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
    case("artifact destination", &["list"], 1,
        &e(&format!("`$ROOT/comp/app/images.yaml:5:13`: images.lib.artifacts[0].to: artifact destination `{to}` must be a path inside the component directory: {why}")))
        .app(&yaml)
}

fn resolve_cases() -> Vec<Case> {
    vec![
        case("template without {tag}", &["list"], 1,
            &e("name template `{namespace}/{kind}` has no `{tag}`, so `IMAGE_TAG` and `--tag` would be ignored; end it with `:{tag}`"))
            .app("defaults:\n  name: \"{namespace}/{kind}\"\n"),
        case("variant without {variant}", &["list"], 1,
            &e("image `lib` in `$ROOT/comp/app/images.yaml`: variant `debug` gets the same name as the plain image, `acme/lib:latest`, so one build would overwrite the other; put `{variant}` in the name template or give the variant a distinct `suffix`"))
            .app("defaults:\n  name: \"{namespace}/{kind}:{tag}\"\nimages:\n  lib:\n    dockerfile: lib.dockerfile\n    variants: {debug: {}}\n"),
        case("variant with an empty suffix", &["build"], 1,
            &e("image `lib` in `$ROOT/comp/app/images.yaml`: variant `debug` gets the same name as the plain image, `acme/lib-app-tiny:latest`, so one build would overwrite the other; put `{variant}` in the name template or give the variant a distinct `suffix`"))
            .app("images:\n  lib:\n    dockerfile: lib.dockerfile\n    variants: {debug: {suffix: \"\"}}\n"),
        case("two variants with one suffix", &["build"], 1,
            &e("image `lib` in `$ROOT/comp/app/images.yaml`: variant `b` gets the same name as variant `a`, `acme/lib-app-tiny-x:latest`, so one build would overwrite the other; put `{variant}` in the name template or give the variant a distinct `suffix`"))
            .app("images:\n  lib:\n    dockerfile: lib.dockerfile\n    variants: {a: {suffix: \"-x\"}, b: {suffix: \"-x\"}}\n"),
        case("unknown placeholder", &["list"], 1,
            &e("image `lib` in `$ROOT/comp/app/images.yaml`: the local name is invalid: template `{namespace}/{knd}:{tag}` uses `{knd}`, which is not one of {component}, {image}, {kind}, {namespace}, {platform}, {tag}, {variant}"))
            .app("defaults:\n  name: \"{namespace}/{knd}:{tag}\"\nimages:\n  lib: {dockerfile: lib.dockerfile}\n"),
        case("unclosed placeholder", &["list"], 1,
            &e("image `lib` in `$ROOT/comp/app/images.yaml`: the local name is invalid: template `{namespace/{kind}:{tag}` uses `{namespace/{kind}`, which is not one of {component}, {image}, {kind}, {namespace}, {platform}, {tag}, {variant}"))
            .app("defaults:\n  name: \"{namespace/{kind}:{tag}\"\nimages:\n  lib: {dockerfile: lib.dockerfile}\n"),
        case("uppercase namespace in yaml", &["list"], 1,
            &e("namespace `Acme` must be lowercase: docker repository names are lowercase"))
            .app("defaults:\n  namespace: Acme\n"),
        case("bad tag in yaml", &["list"], 1, &e(&format!("invalid image tag: tag `v 1` {TAG_RULE}")))
            .app("defaults:\n  tag: v 1\n"),
        case("depends on an unknown image", &["list"], 1,
            &e("image `app/lib` in `$ROOT/comp/app/images.yaml` depends on `bsae`: unknown image `bsae` in component `app` (images there: lib)"))
            .app("images:\n  lib:\n    dockerfile: lib.dockerfile\n    depends: [bsae]\n"),
        case("dependency cycle", &["list"], 1,
            &e("dependency cycle: app/lib → app/tool → app/lib (from `depends:` and `FROM` lines); remove one of these dependencies"))
            .app("images:\n  lib:\n    dockerfile: lib.dockerfile\n    depends: [tool]\n  tool:\n    dockerfile: lib.dockerfile\n    depends: [lib]\n"),
        case("two images with one name", &["list"], 1,
            &e("images `app/lib` (in `$ROOT/comp/app/images.yaml`) and `app/other` (in `$ROOT/comp/app/images.yaml`) both get the name `acme/lib-app-tiny:latest`; give one another `kind` or change the name template"))
            .app("images:\n  lib:\n    dockerfile: lib.dockerfile\n  other:\n    kind: lib\n    dockerfile: lib.dockerfile\n"),
        case("component defined twice", &["list"], 1,
            &e("component `core` is defined twice: in `$ROOT/images.yaml` and `$ROOT/comp/app/images.yaml`; give one a different `component:` name"))
            .app("component: core\n"),
        case("member pattern matching nothing", &["list"], 1,
            &e("member pattern `nothing/*` in `$ROOT/images.yaml` matches no directory with an `images.yaml`"))
            .file("images.yaml", ROOT_YAML.replace("comp/*", "nothing/*")),
        case("images as a list", &["list"], 1,
            &e("`$ROOT/comp/app/images.yaml:2:3`: images: invalid type: sequence, expected a map"))
            .app("images:\n  - lib\n"),
        case("missing Dockerfile", &["build", "app/lib"], 1,
            &e("image `app/lib` has no Dockerfile at `$ROOT/comp/app/nope.dockerfile`; create it or set `dockerfile:` in `$ROOT/comp/app/images.yaml`"))
            .app("images:\n  lib:\n    dockerfile: nope.dockerfile\n"),
        case("missing context", &["build", "app/lib"], 1,
            &e("image `app/lib` has no build context directory `$ROOT/comp/app/nope`; create it or fix `context:` in `$ROOT/comp/app/images.yaml`"))
            .app("images:\n  lib:\n    dockerfile: lib.dockerfile\n    context: nope\n"),
        case("COPY --from with a variable", &["build", "app/lib"], 1,
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
        case("malformed images.lock", &["pin", "--check"], 1,
            &e("`$ROOT/images.lock:2:28`: reg.example.com/acme/base: invalid type: sequence, expected a mapping"))
            .file("images.lock", "# x\nreg.example.com/acme/base: [1]\n"),
        case("images.lock digest not sha256", &["pin", "--check"], 1,
            &e("`$ROOT/images.lock:6:3`: reg.example.com/acme/lib: `sha256:ABC` is not a sha256 digest (`sha256:` and 64 lowercase hex digits)"))
            .file("images.lock", format!("{ok}{}", locked("reg.example.com/acme/lib", "app/lib", "sha256:ABC"))),
        case("images.lock entry for an unknown image", &["pin", "--check"], 1,
            &e("`$ROOT/images.lock:5`: `reg.example.com/acme/lib` is locked for image `app/lbi`, which is not in the workspace: run `imagemk pin` again or remove the entry; did you mean `app/lib`?"))
            .file("images.lock", format!("{ok}{}", locked("reg.example.com/acme/lib", "app/lbi", D1))),
        case("build --locked, entry for an unknown image", &["build", "app/lib", "--locked"], 1,
            &e("`$ROOT/images.lock:5`: `reg.example.com/acme/lib` is locked for image `app/lbi`, which is not in the workspace: run `imagemk pin` again or remove the entry; did you mean `app/lib`?"))
            .file("comp/app/lib.dockerfile", child)
            .file("images.lock", format!("{ok}{}", locked("reg.example.com/acme/lib", "app/lbi", D1))),
        case("build --locked, parent not locked", &["build", "app/lib", "--locked"], 1,
            &e("`--locked`: parent image `core/base` (of `app/lib`) has no entry in `$ROOT/images.lock`; lock it with `imagemk pin core/base` (or `imagemk push --lock`), or build without `--locked`"))
            .file("comp/app/lib.dockerfile", child),
        case("build --locked, images.lock malformed", &["build", "app/lib", "--locked"], 1,
            &e("`$ROOT/images.lock:2:3`: reg.example.com/acme/base: missing field `digest`"))
            .file("comp/app/lib.dockerfile", child)
            .file("images.lock", "reg.example.com/acme/base:\n  image: core/base\n  tag: latest\n"),
        case("pin --check of an image without an entry", &["pin", "--check", "app/lib"], 1,
            &e("image `app/lib` has no entry in images.lock; lock it with `imagemk pin app/lib` (or `imagemk push --lock`)"))
            .file("images.lock", ok.clone()),
        case("build --locked with --deps", &["build", "--locked", "--deps"], 2,
            "error: the argument '--locked' cannot be used with '--deps'\n\nUsage: imagemk build --locked [IMAGE]...\n\nFor more information, try '--help'.\n"),
        case("make pin-images CHECK not yes/no", &["pin-images", "CHECK=maybe"], 2,
            "make/images.mk:N: *** CHECK must be 1 or 0 (or yes/no, true/false); got `maybe`.  Stop.\n").make(),
    ]
}

fn make_cases() -> Vec<Case> {
    let failed = |target: &str, text: &str| {
        format!("error: {text}\nmake: *** [make/images.mk:N: {target}] Error 1\n")
    };
    vec![
        case("make IMAGE_TAG injection", &["images", "IMAGE_TAG=x;touch pwned"], 2,
            &failed("images", &format!("invalid image tag: tag `x;touch pwned` {TAG_RULE}"))).make(),
        case("make clean-up widened by a tag", &["image-cleanup", "IMAGE_TAG=CI-1 --match CI-.* --yes"], 2,
            &failed("image-cleanup", &format!("invalid image tag: tag `CI-1 --match CI-.* --yes` {TAG_RULE}"))).make(),
        case("make $(shell)", &["images", "IMAGE_TAG=$(shell touch pwned)"], 2,
            &failed("images", &format!("invalid image tag: tag `$(shell touch pwned)` {TAG_RULE}"))).make(),
        case("make backticks", &["images", "PLATFORM=`touch pwned`"], 2,
            &failed("images", &format!("platform ``touch pwned`` is not a valid name: {NAME_RULE}"))).make(),
        case("make JOBS", &["images", "JOBS=2;touch pwned"], 2,
            &failed("images", "environment variable `JOBS`: `2;touch pwned` is not a number of jobs; give a whole number from 1 up")).make(),
        case("make target stem", &["x;touch pwned-image"], 2,
            "error: component `core` (`$ROOT/images.yaml`) has no image of kind `x;touch pwned` (kinds there: base)\nmake: *** [make/images.mk:N: x;touch pwned-image] Error 1\n").make(),
        case("make SHARD out of range", &["images", "SHARD=3/2"], 2,
            &format!("{}make: *** [make/images.mk:N: images] Error 2\n", shard_error("3/2", "`3/2`: shard 3 does not exist; shards are numbered 1 to 2"))).make(),
        case("make DRY_RUN not yes/no", &["images", "DRY_RUN=sure"], 2,
            "make/images.mk:N: *** DRY_RUN must be 1 or 0 (or yes/no, true/false); got `sure`.  Stop.\n").make(),
        case("make line break", &["images", "IMAGE_TAG=a\ntouch pwned"], 2,
            "make/images.mk:N: *** a make value contains a line break: `a\ntouch pwned`; imagemk values are one line.  Stop.\n").make(),
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
        case("promote to an invalid tag", &["promote", "--to", "x;touch pwned", "base"], 1,
            &e(&format!("`--to`: tag `x;touch pwned` {TAG_RULE}"))).file("images.yaml", with_registry()),
        case("promote with no lock entry", &["promote", "--to", "stable", "base"], 1,
            &e("image `core/base` has no entry for registry `r` in `$ROOT/images.lock`; pin it first (`imagemk pin core/base`)"))
            .file("images.yaml", with_registry()),
        case("promote to a tag the kind refuses", &["promote", "--to", "prod", "base"], 1,
            &e("image `core/base` may not be promoted to `prod`: images of kind `base` refuse tags `prod` (`workspace.publish.refuse_tags` in `$ROOT/images.yaml`)"))
            .file("images.yaml", with_registry()).file("images.lock", entry("core/base", &digest)),
        case("promote with a digest that is not sha256", &["promote", "--to", "stable", "base"], 1,
            &e("`$ROOT/images.lock:2:3`: 127.0.0.1:9/x: `sha256:12` is not a sha256 digest (`sha256:` and 64 lowercase hex digits)"))
            .file("images.yaml", with_registry()).file("images.lock", entry("core/base", "sha256:12")),
        case("promote with a lock entry for an unknown image", &["promote", "--to", "stable", "base"], 1,
            &e("`$ROOT/images.lock:1`: `127.0.0.1:9/x` is locked for image `core/bsae`, which is not in the workspace: run `imagemk pin` again or remove the entry; did you mean `core/base`?"))
            .file("images.yaml", with_registry()).file("images.lock", entry("core/bsae", &digest)),
        case("promote without --to", &["promote", "base"], 2,
            "error: the following required arguments were not provided:\n  --to <TAG>\n\nUsage: imagemk promote --to <TAG> <IMAGE>...\n\nFor more information, try '--help'.\n"),
        case("make PROMOTE_TO injection", &["promote-images", "PROMOTE_TO=x;touch pwned"], 2,
            &format!("error: `--to`: tag `x;touch pwned` {TAG_RULE}\nmake: *** [make/images.mk:N: promote-images] Error 1\n"))
            .file("images.yaml", with_registry()).make(),
        case("make PROMOTE_TO $(shell)", &["promote-images", "PROMOTE_TO=$(shell touch pwned)"], 2,
            &format!("error: `--to`: tag `$(shell touch pwned)` {TAG_RULE}\nmake: *** [make/images.mk:N: promote-images] Error 1\n"))
            .file("images.yaml", with_registry()).make(),
    ]
}

/// `--builder`, `--platform-arch` (issue 12 item 6).
fn builder_cases() -> Vec<Case> {
    let hint = "hint: create a BuildKit builder (`docker buildx create --name multi --driver docker-container`) and pass `--builder multi` (make: `BUILDER=multi`)";
    vec![
        case("--builder with the legacy builder forced", &["build", "--builder", "ci"], 1,
            &e("`--builder ci` builds with BuildKit, but `DOCKER_BUILDKIT=0` forces the legacy builder; unset `DOCKER_BUILDKIT` or drop `--builder`"))
            .env("DOCKER_BUILDKIT", "0"),
        case("--platform-arch without --builder", &["build", "--platform-arch", "linux/arm64,linux/amd64"], 1,
            &e(&format!("`--platform-arch linux/arm64,linux/amd64` needs `--builder NAME`: the legacy builder and `--load` into the engine build one platform only\n{hint}"))),
        case("--platform-arch with an empty item", &["build", "--builder", "ci", "--platform-arch", "linux/arm64,,linux/amd64"], 1,
            &e("`--platform-arch linux/arm64,,linux/amd64` has an empty item; list platforms separated by single commas, e.g. `linux/arm64,linux/amd64`")),
        case("--platform-arch twice the same", &["build", "--builder", "ci", "--platform-arch", "linux/arm64,linux/arm64"], 1,
            &e("`--platform-arch linux/arm64,linux/arm64` names `linux/arm64` twice; name each platform once")),
        case("--platform-arch not os/arch", &["build", "--builder", "ci", "--platform-arch", "arm64"], 1,
            &e("platform `arm64` in `--platform-arch` is not `os/arch[/variant]` (e.g. `linux/arm64`, `linux/arm/v7`)")),
        case("--builder with a bad name", &["build", "--builder=1;touch pwned"], 1,
            &e("builder name `1;touch pwned` is not valid: buildx names start with a letter and use letters, digits, `.`, `_` and `-`")),
        case("--builder with podman", &["--engine", "podman", "build", "--builder", "ci"], 1,
            &e("`--builder ci`: podman has no BuildKit builders (`docker buildx`); build with docker (`--engine docker`) or drop `--builder` to build with `podman build`")),
        case("make BUILDER injection", &["images", "BUILDER=x;touch pwned"], 2,
            &format!("{}make: *** [make/images.mk:N: images] Error 1\n", e("builder name `x;touch pwned` is not valid: buildx names start with a letter and use letters, digits, `.`, `_` and `-`"))).make(),
        case("make PLATFORM_ARCH without BUILDER", &["all-images", "PLATFORM_ARCH=linux/arm64"], 2,
            &format!("{}make: *** [make/images.mk:N: all-images] Error 1\n", e(&format!("`--platform-arch linux/arm64` needs `--builder NAME`: the legacy builder and `--load` into the engine build one platform only\n{hint}")))).make(),
    ]
}

/// `--variant a,b` / `VARIANT=a,b` (issue 12 item 7).
fn variant_cases() -> Vec<Case> {
    let debug = "images:\n  lib:\n    dockerfile: lib.dockerfile\n    variants: {debug: {}}\n";
    vec![
        case("--variant with an empty item", &["build", "--variant", "plain,,debug"], 1,
            &e("`--variant plain,,debug` has an empty item; list variants separated by single commas, e.g. `plain,debug`")),
        case("--variant twice the same", &["build", "--variant", "plain,debug,plain"], 1,
            &e("`--variant plain,debug,plain` names `plain` twice; name each variant once")).app(debug),
        case("VARIANT twice the same", &["push"], 1,
            &e("`VARIANT=debug,debug` names `debug` twice; name each variant once")).env("VARIANT", "debug,debug"),
        case("--variant unknown", &["build", "--variant", "plain,debgu"], 1,
            &e("unknown variant `debgu` in `--variant plain,debgu`; did you mean `debug`? (variants: debug, plain); define it under an image's `variants:`")).app(debug),
        case("--variant unknown alone", &["list", "--variant", "dbg"], 1,
            &e("unknown variant `dbg` in `--variant dbg` (variants: plain); define it under an image's `variants:`")),
        case("--variant with an invalid name", &["build", "--variant", "plain,De bug"], 1,
            &e(&format!("variant `De bug` is not a valid name: {NAME_RULE}"))),
        case("several variants for one image", &["run", "lib", "--variant", "plain,debug"], 1,
            &e("`run` acts on one image, but several variants were asked for (`plain,debug`); give one variant (`--variant plain`) or none")).app(debug),
        case("make VARIANT with a trailing comma", &["images", "VARIANT=plain,"], 2,
            &format!("{}make: *** [make/images.mk:N: images] Error 1\n", e("`VARIANT=plain,` has an empty item; list variants separated by single commas, e.g. `plain,debug`"))).make(),
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
        case("gar registry without location", &["list"], 1,
            &e("`$ROOT/images.yaml:3`: registry `g` of kind `gar` needs `location`"))
            .file("images.yaml", yaml("g: {kind: gar, project: p, repository: r}")),
        case("oci registry host read as a Docker Hub namespace", &["build"], 1,
            &e("`$ROOT/images.yaml:3`: registry `r`: `myregistry` would be read by docker as a Docker Hub namespace, not a registry host; write it with a port or a domain (e.g. `localhost:5000`, `myregistry.example.com`)"))
            .file("images.yaml", yaml("r: {kind: oci, host: myregistry}")),
    ]
}

#[test]
fn bad_inputs() {
    let cases: Vec<Case> = [
        promote_cases(),
        flag_cases(),
        env_cases(),
        yaml_cases(),
        resolve_cases(),
        make_cases(),
        lock_cases(),
        builder_cases(),
        variant_cases(),
        registry_cases(),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    // Every case runs; the failures are listed together.
    let failed: Vec<&str> = cases
        .iter()
        .filter(|c| std::panic::catch_unwind(|| check(c)).is_err())
        .map(|c| c.name)
        .collect();
    assert!(failed.is_empty(), "failed cases: {failed:?}");
}

/// A variable imagemk does not read may hold any bytes (issue 8 item 14).
#[test]
fn unread_non_utf8_variables_are_ignored() {
    let t = workspace();
    let mut cmd = t.command(support::BIN, &["list", "base"]);
    cmd.env("OLDPWD", OsString::from_vec(b"/tmp/caf\xe9".to_vec()));
    let out = t.output(cmd);
    out.ok();
    assert!(out.stdout.contains("core/base"), "{}", out.stdout);
}

/// A workspace whose path is not UTF-8: its members cannot be globbed; said plainly. A
/// workspace whose path has glob characters (`[1]`) finds its members all the same.
#[test]
fn workspace_paths_with_odd_bytes() {
    let t = workspace();
    let odd = t.root.join(OsString::from_vec(b"caf\xe9".to_vec()));
    let glob = t.path("ws[1]");
    for dir in [&odd, &glob] {
        std::fs::create_dir_all(dir.join("comp/app")).unwrap();
        std::fs::write(dir.join("images.yaml"), ROOT_YAML).unwrap();
        std::fs::write(dir.join("comp/app/images.yaml"), APP_YAML).unwrap();
    }
    let mut cmd = t.command(support::BIN, &["list", "-C"]);
    cmd.arg(&odd);
    t.output(cmd).is(
        1,
        "",
        "error: the workspace path `$ROOT/caf\u{fffd}` is not valid UTF-8, so `workspace.members` cannot be matched in it; move the workspace to a UTF-8 path\n",
    );
    let out = t.run(&["-C", "ws[1]/comp/app", "list"]);
    out.ok();
    assert!(out.stdout.contains("app/lib"), "{}", out.stdout);
    assert_eq!(t.docker_log(), Vec::<String>::new());
}
