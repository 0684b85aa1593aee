//! Bad input that only the binary shows, as one table: clap's usage errors (status 2, non-UTF-8
//! arguments included) and make's variables through make/images.mk. Each case pins the exact message and exit status, and
//! checks that the fake docker was never called and that no injected command ran. The other
//! bad config files, flags and environment values are in-process tests in
//! src/commands/bad_input_tests.rs.

mod support;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use support::Test;

/// The base workspace's root and member images.yaml (shared with the in-process table).
const ROOT_YAML: &str = include_str!("support/bad-input/root.yaml");
const APP_YAML: &str = include_str!("support/bad-input/app.yaml");

/// One bad input: files written over the base workspace, the command (imagemk's argv, or
/// make's with `make`), and what must come out.
struct Case {
    name: &'static str,
    args: Vec<&'static str>,
    files: Vec<(&'static str, Vec<u8>)>,
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
    vec![
        case("-j 0", &["build", "-j", "0"], 2,
            "error: invalid value '0' for '--jobs <N>': `0` jobs would run nothing; give a number from 1 up\n\nFor more information, try '--help'.\n"),
        case("-j abc", &["push", "-j", "abc"], 2,
            "error: invalid value 'abc' for '--jobs <N>': `abc` is not a number of jobs; give a whole number from 1 up\n\nFor more information, try '--help'.\n"),
        case("unknown subcommand", &["biuld"], 2,
            "error: unrecognized subcommand 'biuld'\n\n  tip: a similar subcommand exists: 'build'\n\nUsage: imagemk [OPTIONS] <COMMAND>\n\nFor more information, try '--help'.\n"),
        case("non-UTF-8 argument", &["list"], 2,
            "error: invalid UTF-8 was detected in one or more arguments\n\nUsage: imagemk list [OPTIONS] [IMAGE]...\n\nFor more information, try '--help'.\n")
            .raw_arg(b"caf\xe9"),
        case("non-UTF-8 tag flag", &["list", "--tag"], 2,
            "error: invalid UTF-8 was detected in one or more arguments\n\nUsage: imagemk list [OPTIONS] [IMAGE]...\n\nFor more information, try '--help'.\n")
            .raw_arg(b"\xff"),
        case("--shard 0/2", &["build", "--shard", "0/2"], 2, &shard_error("0/2", "`0/2`: shard 0 does not exist; shards are numbered 1 to 2")),
        case("--shard 3/2", &["build", "--shard", "3/2"], 2, &shard_error("3/2", "`3/2`: shard 3 does not exist; shards are numbered 1 to 2")),
        case("--shard 1/0", &["build", "--shard", "1/0"], 2, &shard_error("1/0", "`1/0`: 0 shards would build nothing; give a number of shards from 1 up")),
        case("--shard 1/", &["build", "--shard", "1/"], 2, &shard_error("1/", "`1/` is not a shard; write `I/N`: shard I of N, from 1, e.g. `1/4` … `4/4`")),
        case("--shard a/b", &["build", "--shard", "a/b"], 2, &shard_error("a/b", "`a/b` is not a shard; write `I/N`: shard I of N, from 1, e.g. `1/4` … `4/4`")),
        case("plan --shards 0", &["plan", "--shards", "0"], 2,
            "error: invalid value '0' for '--shards <N>': 0 shards would build nothing; give a number of shards from 1 up\n\nFor more information, try '--help'.\n"),
        case("--shard-wait 10x", &["build", "--shard", "1/2", "--shard-wait", "10x"], 2,
            "error: invalid value '10x' for '--shard-wait <DURATION>': timeout `10x` has an unknown unit `x` (use `h`, `m` or `s`)\nhint: write a positive whole number of hours, minutes or seconds, e.g. `90s`, `80m`, `2h`, `1h30m`\n\nFor more information, try '--help'.\n"),
        case("extract with a path and no destination", &["extract", "base", "/x"], 2,
            "error: the following required arguments were not provided:\n  <DEST>\n\nUsage: imagemk extract <IMAGE> <PATH> <DEST>\n\nFor more information, try '--help'.\n"),
    ]
}

fn lock_cases() -> Vec<Case> {
    vec![
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
    vec![
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
        case("make BUILDER injection", &["images", "BUILDER=x;touch pwned"], 2,
            &format!("{}make: *** [make/images.mk:N: images] Error 1\n", e("builder name `x;touch pwned` is not valid: buildx names start with a letter and use letters, digits, `.`, `_` and `-`"))).make(),
        case("make PLATFORM_ARCH without BUILDER", &["all-images", "PLATFORM_ARCH=linux/arm64"], 2,
            &format!("{}make: *** [make/images.mk:N: all-images] Error 1\n", e(&format!("`--platform-arch linux/arm64` needs `--builder NAME`: the legacy builder and `--load` into the engine build one platform only\n{hint}")))).make(),
    ]
}

/// `--variant a,b` / `VARIANT=a,b` (issue 12 item 7).
fn variant_cases() -> Vec<Case> {
    vec![
        case("make VARIANT with a trailing comma", &["images", "VARIANT=plain,"], 2,
            &format!("{}make: *** [make/images.mk:N: images] Error 1\n", e("`VARIANT=plain,` has an empty item; list variants separated by single commas, e.g. `plain,debug`"))).make(),
    ]
}

#[test]
fn bad_inputs() {
    let cases: Vec<Case> = [
        promote_cases(),
        flag_cases(),
        make_cases(),
        lock_cases(),
        builder_cases(),
        variant_cases(),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    // Every case runs; the failures are listed together.
    let failed: Vec<&str> = cases
        .iter()
        .filter(|c| std::panic::catch_unwind(|| check(c)).is_err())
        .map(|c| c.name)
        .collect();
    assert!(failed.is_empty(), "failed cases: {failed:?}");
}
