//! `build --arg [IMAGE:]NAME=VALUE` through the real binary with the fake docker: values
//! reach `--build-arg` of the images that declare the arg, change the input digest, and bad
//! input fails before any docker command.

mod support;

use support::Test;

/// Two "languages" declaring `GITREF` (go also `REPOSITORY`) and a base that declares none.
fn workspace(t: &Test) {
    t.fake_docker();
    t.file(
        "images.yaml",
        "defaults: {namespace: ns, platform: p}\ncomponent: c\nimages:\n  base:\n    dockerfile: base.dockerfile\n    context: ctx\n  cxx:\n    dockerfile: cxx.dockerfile\n    context: ctx\n    args: {GITREF: main}\n  go:\n    dockerfile: go.dockerfile\n    context: ctx\n",
    );
    t.file("base.dockerfile", "FROM scratch\n");
    t.file("ctx/keep", "k\n");
    t.file(
        "cxx.dockerfile",
        "FROM ns/base-c-p:latest\nARG GITREF\nRUN echo $GITREF\n",
    );
    t.file(
        "go.dockerfile",
        "FROM ns/base-c-p:latest\nARG GITREF=master\nARG REPOSITORY\n",
    );
}

fn dry(t: &Test, args: &[&str]) -> String {
    let mut argv = vec!["--dry-run", "build"];
    argv.extend_from_slice(args);
    let out = t.run(&argv);
    assert_eq!(out.status, 0, "{}", out.stderr);
    out.stdout
}

fn build_line<'a>(stdout: &'a str, image: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.contains(&format!("--tag ns/{image}-c-p:latest")))
        .unwrap_or_else(|| panic!("no build of {image} in {stdout}"))
}

#[test]
fn values_reach_the_images_that_declare_them() {
    let t = Test::new();
    workspace(&t);
    let out = dry(
        &t,
        &[
            "cxx",
            "go",
            "--arg",
            "GITREF=v1.2",
            "--arg",
            "go:REPOSITORY=https://x/y.git",
        ],
    );
    let cxx = build_line(&out, "cxx");
    assert!(cxx.contains("--build-arg GITREF=v1.2"), "{cxx}");
    assert!(!cxx.contains("REPOSITORY"), "{cxx}");
    let go = build_line(&out, "go");
    assert!(go.contains("--build-arg GITREF=v1.2"), "{go}");
    assert!(
        go.contains("--build-arg REPOSITORY=https://x/y.git"),
        "{go}"
    );
    let base = build_line(&out, "base");
    assert!(!base.contains("GITREF"), "{base}");
    // A prefixed value wins for its image only; the later flag wins for the same name.
    let out = dry(
        &t,
        &["cxx", "go", "--arg", "GITREF=a", "--arg", "cxx:GITREF=b"],
    );
    assert!(
        build_line(&out, "cxx").contains("--build-arg GITREF=b"),
        "{out}"
    );
    assert!(
        build_line(&out, "go").contains("--build-arg GITREF=a"),
        "{out}"
    );
    // A value the appended LABEL line would expand goes as `--label` flags instead.
    let out = dry(&t, &["cxx", "--arg", "GITREF=a\"$b"]);
    let cxx = build_line(&out, "cxx");
    assert!(
        cxx.contains("--label 'io.imagemk.arg.GITREF=a\"$b'"),
        "{cxx}"
    );
    assert!(cxx.contains("--build-arg 'GITREF=a\"$b'"), "{cxx}");
    assert!(t.docker_log().iter().all(|l| !l.starts_with("build")));
}

fn digest(t: &Test, args: &[&str]) -> String {
    let mut argv = vec!["--dry-run", "build", "--json", "cxx"];
    argv.extend_from_slice(args);
    let out = t.run(&argv);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let row = plan["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["image"] == "c/cxx")
        .unwrap_or_else(|| panic!("{plan}"));
    row["inputs"].as_str().unwrap().to_string()
}

#[test]
fn values_change_the_input_digest_like_images_yaml_args() {
    let t = Test::new();
    workspace(&t);
    let plain = digest(&t, &[]);
    assert_eq!(
        digest(&t, &["--arg", "GITREF=main"]),
        plain,
        "same value as images.yaml"
    );
    let other = digest(&t, &["--arg", "GITREF=v2"]);
    assert_ne!(other, plain);
    assert_eq!(digest(&t, &["--arg", "cxx:GITREF=v2"]), other);
}

#[test]
fn bad_args_fail_before_docker() {
    let t = Test::new();
    workspace(&t);
    let cases: &[(&[&str], &str)] = &[
        (&["--arg", "GITREF"], "error: invalid value 'GITREF' for '--arg <[IMAGE:]NAME=VALUE>': `GITREF` has no `=`; give `NAME=VALUE` or `IMAGE:NAME=VALUE`\n"),
        (&["--arg", "=v"], "error: invalid value '=v' for '--arg <[IMAGE:]NAME=VALUE>': `=v` has an empty name; give `NAME=VALUE` or `IMAGE:NAME=VALUE`\n"),
        (&["--arg", "1X=v"], "error: invalid value '1X=v' for '--arg <[IMAGE:]NAME=VALUE>': build arg `1X` is not a variable name: use letters, digits and `_`, not starting with a digit\n"),
        (&["--arg", "cxy:GITREF=v"], "error: `--arg cxy:GITREF=…`: unknown image `cxy` in component `c`; did you mean `cxx`? (images there: base, cxx, go)\n"),
        (&["--arg", "base:GITREF=v"], "error: `--arg base:GITREF=…`: image `base` does not declare `ARG GITREF`; the args each image declares:\n  c/base: none\n  c/cxx: GITREF\n  c/go: GITREF, REPOSITORY\nhint: add `ARG GITREF` to the Dockerfile, or check the name\n"),
        (&["--arg", "GITRF=v"], "error: `--arg GITRF=…`: no image this request builds declares `ARG GITRF`; the args each image declares:\n  c/base: none\n  c/cxx: GITREF\n  c/go: GITREF, REPOSITORY\nhint: add `ARG GITRF` to the Dockerfile, or check the name\n"),
    ];
    for (extra, want) in cases {
        let mut argv = vec!["build", "cxx", "go"];
        argv.extend_from_slice(extra);
        let out = t.run(&argv);
        assert_ne!(out.status, 0, "{argv:?}");
        assert!(out.stderr.starts_with(want), "{argv:?}\n{}", out.stderr);
        assert!(t.docker_log().is_empty(), "{argv:?}: {:?}", t.docker_log());
    }
}

/// A run value that would change which workspace image an image is built FROM is refused
/// (parents are resolved at load); one that changes an external base is taken.
#[test]
fn a_run_value_may_not_change_a_workspace_parent() {
    let t = Test::new();
    t.fake_docker();
    t.file(
        "images.yaml",
        "defaults: {namespace: ns, platform: p}\ncomponent: c\nimages:\n  base:\n    dockerfile: base.dockerfile\n    context: ctx\n  app:\n    dockerfile: app.dockerfile\n    context: ctx\n",
    );
    t.file("ctx/keep", "k\n");
    t.file("base.dockerfile", "ARG DISTRO=debian:12\nFROM ${DISTRO}\n");
    t.file(
        "app.dockerfile",
        "ARG PARENT=ns/base-c-p:latest\nFROM ${PARENT}\n",
    );
    let out = t.run(&["--dry-run", "build", "app", "--arg", "app:PARENT=alpine:3"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "error: `--arg` `PARENT` would change what image `c/app` is built from (no workspace image instead of ns/base-c-p:latest); imagemk resolves parents when images.yaml loads, so set the value under the image's `args:` in images.yaml instead\n"
    );
    assert!(t.docker_log().is_empty(), "{:?}", t.docker_log());
    // An external base may change with a run value.
    let out = t.run(&["--dry-run", "build", "base", "--arg", "DISTRO=debian:13"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("--build-arg DISTRO=debian:13"),
        "{}",
        out.stdout
    );
}
