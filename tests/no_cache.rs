//! `build --no-cache[=IMAGE,…]` with the fake docker: the named images (all, alone) are built
//! with docker's `--no-cache` even when up to date, `--explain` says `--no-cache asked`, the
//! others are left alone; an unknown name fails before any docker command.

mod support;

use support::Test;

fn built(t: &Test) {
    t.fake_docker();
    t.file(
        "images.yaml",
        "workspace:\n  aliases: {c++: cxx}\ndefaults: {namespace: ns, platform: p}\ncomponent: c\nimages:\n  cxx: {dockerfile: cxx.dockerfile, context: ctx}\n  node: {dockerfile: node.dockerfile, context: ctx}\n",
    );
    t.file("ctx/keep", "k\n");
    t.file(
        "cxx.dockerfile",
        "FROM scratch\nRUN git clone --branch main x\n",
    );
    t.file("node.dockerfile", "FROM scratch\n");
    // Both local, carrying their current input digests (as `why --json` computes them).
    let out = t.run(&["why", "--json", "cxx", "node"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let rows: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let (mut ls, mut labels) = (String::new(), String::new());
    for (n, r) in rows.as_array().unwrap().iter().enumerate() {
        let name = r["name"].as_str().unwrap();
        ls += &format!("{name}\n");
        labels += &format!("{name} sha256:{n} {}\n", r["inputs"].as_str().unwrap());
    }
    t.file("images", &ls);
    t.file("labels", &labels);
}

fn dry(t: &Test, args: &[&str]) -> (String, String) {
    let mut argv = vec!["--dry-run", "build", "--explain", "cxx", "node"];
    argv.extend_from_slice(args);
    let out = t.run(&argv);
    assert_eq!(out.status, 0, "{}", out.stderr);
    (out.stdout, out.stderr)
}

#[test]
fn named_images_are_rebuilt_without_cache() {
    let t = Test::new();
    built(&t);
    for flags in [
        &["--no-cache=cxx"][..],
        &["--no-cache=c++"],
        &["--no-cache=c/cxx", "--no-cache=cxx"],
    ] {
        let (stdout, stderr) = dry(&t, flags);
        assert_eq!(stdout.lines().count(), 1, "{flags:?}: {stdout}");
        assert!(stdout.starts_with("docker build --force-rm --no-cache --file .imagemk-dockerfile --tag ns/cxx-c-p:latest"), "{stdout}");
        assert!(
            stderr.contains("c/cxx: build: --no-cache asked\n"),
            "{stderr}"
        );
        assert!(stderr.contains("c/node: up to date"), "{stderr}");
    }
    let (stdout, stderr) = dry(&t, &["--no-cache"]);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(
        stdout
            .lines()
            .all(|l| l.starts_with("docker build --force-rm --no-cache ")),
        "{stdout}"
    );
    assert!(
        stderr.contains("c/node: build: --no-cache asked\n"),
        "{stderr}"
    );
    let (stdout, _) = dry(&t, &[]);
    assert_eq!(stdout, "", "without --no-cache both are up to date");
}

#[test]
fn an_unknown_name_fails_before_docker() {
    let t = Test::new();
    t.fake_docker();
    t.file(
        "images.yaml",
        "defaults: {namespace: ns, platform: p}\ncomponent: c\nimages:\n  cxx: {dockerfile: cxx.dockerfile, context: ctx}\n",
    );
    t.file("cxx.dockerfile", "FROM scratch\n");
    t.file("ctx/keep", "k\n");
    let out = t.run(&["build", "cxx", "--no-cache=cxy"]);
    assert_eq!(out.status, 1);
    assert_eq!(out.stderr, "error: `--no-cache=cxy`: unknown image `cxy` in component `c`; did you mean `cxx`? (images there: cxx)\n");
    assert!(t.docker_log().is_empty(), "{:?}", t.docker_log());
}
