//! `workspace.aliases` through the real binary (fake docker): an alias names its image on the
//! command line (`build`, `--arg IMAGE:`, `run`); bad aliases fail at load with `file:line:col`
//! and two names of one image in one request fail, all before any docker command.

mod support;

use support::Test;

fn workspace(t: &Test, aliases: &str) {
    t.fake_docker();
    t.file(
        "images.yaml",
        &format!("workspace:\n  aliases:\n{aliases}defaults: {{namespace: ns, platform: p}}\ncomponent: c\nimages:\n  cxx:\n    dockerfile: cxx.dockerfile\n    context: ctx\n  node:\n    dockerfile: node.dockerfile\n    context: ctx\n"),
    );
    t.file("ctx/keep", "k\n");
    t.file("cxx.dockerfile", "FROM scratch\nARG GITREF\n");
    t.file("node.dockerfile", "FROM scratch\n");
}

const GOOD: &str = "    c++: cxx\n    node_purejs: c/node\n";

#[test]
fn an_alias_names_its_image() {
    let t = Test::new();
    workspace(&t, GOOD);
    let out = t.run(&[
        "--dry-run",
        "build",
        "c++",
        "node_purejs",
        "--arg",
        "c++:GITREF=v1",
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("--tag ns/cxx-c-p:latest --build-arg GITREF=v1"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("--tag ns/node-c-p:latest"),
        "{}",
        out.stdout
    );
}

#[test]
fn bad_aliases_fail_before_docker() {
    let cases: &[(&str, &[&str], &str)] = &[
        (GOOD, &["build", "c++", "cxx"], "error: `c++` and `cxx` both name image `c/cxx`; name it once\n"),
        (GOOD, &["build", "node", "node_purejs"], "error: `node` and `node_purejs` both name image `c/node`; name it once\n"),
        ("    cxx: node\n", &["list"], "error: `$ROOT/images.yaml:3:5`: alias `cxx` is the name of image `c/cxx`; an alias must be a name no image has: rename or remove it\n"),
        ("    c++: cxy\n", &["list"], "error: `$ROOT/images.yaml:3:5`: alias `c++` points at `cxy`, which no image is called; give an image's key or `component/key`; did you mean `cxx`?\n"),
        ("    c++: cxx\n    cpp: c++\n", &["list"], "error: `$ROOT/images.yaml:4:5`: alias `cpp` points at `c++`, another alias; point it at that alias's image (`cxx`) instead\n"),
        ("    c++: x/cxx\n", &["list"], "error: `$ROOT/images.yaml:3:5`: alias `c++` points at `x/cxx`: unknown component `x` in `x/cxx`; did you mean `c`? (components: c)\n"),
        ("    a/b: cxx\n", &["list"], "error: `$ROOT/images.yaml:3:5`: workspace.aliases: alias `a/b` cannot be a name on the command line: use no white space, `/`, `:` or `=`, and do not start with `-`\n"),
    ];
    for (aliases, argv, want) in cases {
        let t = Test::new();
        workspace(&t, aliases);
        let out = t.run(argv);
        let got = out.stderr.replace(&t.root.display().to_string(), "$ROOT");
        assert_ne!(out.status, 0, "{argv:?}");
        assert_eq!(got, *want, "{aliases} {argv:?}");
        assert!(t.docker_log().is_empty(), "{argv:?}: {:?}", t.docker_log());
    }
}
