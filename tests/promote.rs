//! `promote` on gar, gcr and acr through the fake `gcloud` and `az` (tests/support/fake-cloud.py,
//! which replays the real CLIs' argument checks and texts): the real listings parsed and the
//! registry's end state, a real SIGINT mid-promote, and the make targets. Failures, the undo
//! calls, a drifted source, `--dry-run` and `push --atomic --dry-run` are tested in-process in
//! `src/commands/promote_tests.rs`.

mod support;

use support::Test;

const YAML: &str = "workspace:\n  registries:\n    gc: {kind: gcr, project: proj}\n    ar: {kind: gar, location: us, project: proj, repository: ci}\n    az: {kind: acr, name: myacr}\n    local: {kind: oci, host: \"127.0.0.1:9\", path: e2e}\ncomponent: app\nimages:\n  a: {}\n  b: {}\n";

fn d(c: char) -> String {
    c.to_string().repeat(64)
}

/// `(registry, host, repository prefix)` of each cloud kind.
const KINDS: [(&str, &str, &str); 3] = [
    ("gc", "gcr.io", "proj/"),
    ("ar", "us-docker.pkg.dev", "proj/ci/"),
    ("az", "myacr.azurecr.io", ""),
];

/// A workspace on `registry` whose `a` is locked at digest `1…` (tag CI-42; `prod` at `0…`)
/// and `b` at `2…` (no `prod` yet).
fn workspace(registry: &str, host: &str, prefix: &str) -> Test {
    let mut t = Test::new();
    t.file("images.yaml", YAML);
    t.file(
        "images.lock",
        &format!(
            "\"{host}/{prefix}a\":\n  image: app/a\n  tag: CI-42\n  digest: sha256:{}\n\"{host}/{prefix}b\":\n  image: app/b\n  tag: CI-42\n  digest: sha256:{}\n",
            d('1'),
            d('2')
        ),
    );
    let (a, b) = (format!("{prefix}a"), format!("{prefix}b"));
    let (d0, d1, d2) = (d('0'), d('1'), d('2'));
    t.fake_cloud(&[
        (
            a.as_str(),
            &[
                (d1.as_str(), &["CI-42"][..], "now-1d"),
                (d0.as_str(), &["prod"][..], "now-9d"),
            ][..],
        ),
        (b.as_str(), &[(d2.as_str(), &["CI-42"][..], "now-1d")][..]),
    ]);
    t.env("REGISTRY", registry);
    t
}

/// The calls a promotion of `a` and `b` to `prod` makes on each kind.
fn expected(registry: &str, host: &str, prefix: &str) -> Vec<String> {
    let (a, b) = (format!("{host}/{prefix}a"), format!("{host}/{prefix}b"));
    let (d1, d2) = (d('1'), d('2'));
    match registry {
        "gc" => vec![
            format!("gcloud container images list-tags {a} --format=json"),
            format!("gcloud container images list-tags {b} --format=json"),
            format!("gcloud container images add-tag {a}@sha256:{d1} {a}:prod --quiet"),
            format!("gcloud container images add-tag {b}@sha256:{d2} {b}:prod --quiet"),
        ],
        "ar" => vec![
            format!("gcloud artifacts docker images list {a} --include-tags --format=json"),
            format!("gcloud artifacts docker images list {b} --include-tags --format=json"),
            format!("gcloud artifacts docker tags add {a}@sha256:{d1} {a}:prod --quiet"),
            format!("gcloud artifacts docker tags add {b}@sha256:{d2} {b}:prod --quiet"),
        ],
        _ => vec![
            "az acr manifest list-metadata --registry myacr --name a --output json".into(),
            "az acr manifest list-metadata --registry myacr --name b --output json".into(),
            format!("az acr import --name myacr --source {a}@sha256:{d1} --image a:prod --force"),
            format!("az acr import --name myacr --source {b}@sha256:{d2} --image b:prod --force"),
        ],
    }
}

#[test]
fn promote_on_each_cloud_is_one_listing_and_one_retag_per_image() {
    for (registry, host, prefix) in KINDS {
        let t = workspace(registry, host, prefix);
        let out = t.run(&["promote", "--to", "prod", "a", "b", "--json"]);
        assert_eq!(out.status, 0, "{registry}: {}", out.stderr);
        let rows: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(rows[0]["old"], format!("sha256:{}", d('0')), "{registry}");
        assert_eq!(rows[0]["new"], format!("sha256:{}", d('1')), "{registry}");
        assert_eq!(rows[1]["old"], serde_json::Value::Null, "{registry}");
        assert_eq!(
            t.cloud_calls(),
            expected(registry, host, prefix),
            "{registry}"
        );
        assert_eq!(
            t.cloud_state(),
            [
                format!("{prefix}a {} ", d('0')),
                format!("{prefix}a {} CI-42,prod", d('1')),
                format!("{prefix}b {} CI-42,prod", d('2')),
            ],
            "{registry}"
        );
    }
}

#[test]
fn ctrl_c_mid_promote_puts_back_what_moved() {
    for (registry, host, prefix) in KINDS {
        let mut t = workspace(registry, host, prefix);
        let before = t.cloud_state();
        // `a`'s re-tag completes, then imagemk gets SIGINT: `b` is not started, `a` goes back.
        t.env("FAKE_SIGNAL", &format!("{prefix}a:prod"));
        let out = t.run(&["promote", "--to", "prod", "a", "b"]);
        assert_eq!(out.status, 130, "{registry}: {}", out.stderr);
        assert!(
            out.stderr.ends_with(&format!(
                "nothing changed: the 1 tag(s) already moved were put back:\n  `{host}/{prefix}a:prod` (was `sha256:{}`)\n",
                d('0')
            )),
            "{registry}: {}",
            out.stderr
        );
        assert_eq!(t.cloud_state(), before, "{registry}");
        assert!(
            !t.cloud_calls().iter().any(|c| c.contains("b:prod")),
            "{registry}: b was moved: {:#?}",
            t.cloud_calls()
        );
    }
}

#[test]
fn make_promote_images_and_push_images_atomic() {
    let t = workspace("gc", "gcr.io", "proj/");
    t.file(
        "Makefile",
        &format!("include {}/make/images.mk\n", env!("CARGO_MANIFEST_DIR")),
    );
    let out = t.make(&["-s", "promote-images", "PROMOTE_TO=prod", "DRY_RUN=1"]);
    out.ok();
    assert_eq!(
        out.stdout.lines().nth(2),
        Some(expected("gc", "gcr.io", "proj/")[2].as_str())
    );
    assert_eq!(t.cloud_calls(), Vec::<String>::new());
    let out = t.make(&["-s", "help"]);
    assert!(
        out.stdout.contains("  promote-images             point PROMOTE_TO (e.g. prod) at this component's images' digests in images.lock"),
        "{}",
        out.stdout
    );
    t.fake_docker();
    let names = ["local/a-app-linux:latest", "local/b-app-linux:latest"];
    t.file("images", &(names.join("\n") + "\n"));
    let out = t.make(&[
        "-s",
        "push-images",
        "ATOMIC=1",
        "KEEP_GOING=1",
        "DRY_RUN=1",
        "REGISTRY=local",
    ]);
    assert!(
        out.stdout
            .contains("# then, only when every push succeeded"),
        "{}{}",
        out.stdout,
        out.stderr
    );
}
