//! `promote` on gar, gcr and acr through the fake `gcloud` and `az` (tests/support/fake-cloud.py,
//! which replays the real CLIs' argument checks and texts): one listing per repository, then
//! one re-tag call per image; a failing call puts back what moved (pointing back, or untagging
//! a tag that did not exist); `--dry-run` prints every call and runs none.

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
fn a_failing_retag_puts_back_what_moved() {
    for (registry, host, prefix) in KINDS {
        for a_had_prod in [true, false] {
            let mut t = workspace(registry, host, prefix);
            if !a_had_prod {
                let (a, b, d1, d2) = (format!("{prefix}a"), format!("{prefix}b"), d('1'), d('2'));
                t.fake_cloud(&[
                    (a.as_str(), &[(d1.as_str(), &["CI-42"][..], "now-1d")][..]),
                    (b.as_str(), &[(d2.as_str(), &["CI-42"][..], "now-1d")][..]),
                ]);
            }
            let before = t.cloud_state();
            // `a` moves first, then `b`'s call fails: `a` is pointed back, or untagged.
            let word = if registry == "az" {
                "--image b:prod --force"
            } else {
                "/b:prod --quiet"
            };
            t.env("FAKE_FAIL", word);
            let out = t.run(&["promote", "--to", "prod", "a", "b"]);
            assert_eq!(out.status, 1, "{registry}: {}", out.stdout);
            let a_name = format!("{host}/{prefix}a:prod");
            let was = match a_had_prod {
                true => format!("was `sha256:{}`", d('0')),
                false => "did not exist".into(),
            };
            assert!(
                out.stderr.ends_with(&format!(
                    "nothing changed: the 1 tag(s) already moved were put back:\n  `{a_name}` ({was})\n"
                )),
                "{registry}: {}",
                out.stderr
            );
            assert_eq!(t.cloud_state(), before, "{registry}");
            let undo = t.cloud_calls().last().unwrap().clone();
            let a = format!("{host}/{prefix}a");
            let want = match (registry, a_had_prod) {
                ("gc", true) => format!(
                    "gcloud container images add-tag {a}@sha256:{} {a_name} --quiet",
                    d('0')
                ),
                ("ar", true) => format!(
                    "gcloud artifacts docker tags add {a}@sha256:{} {a_name} --quiet",
                    d('0')
                ),
                (_, true) => format!(
                    "az acr import --name myacr --source {a}@sha256:{} --image a:prod --force",
                    d('0')
                ),
                ("gc", false) => format!("gcloud container images untag --quiet {a_name}"),
                ("ar", false) => format!("gcloud artifacts docker tags delete --quiet {a_name}"),
                (_, false) => "az acr repository untag --name myacr --image a:prod".into(),
            };
            assert_eq!(undo, want, "{registry}");
        }
    }
}

#[test]
fn dry_run_prints_every_call_and_runs_none() {
    let t = workspace("gc", "gcr.io", "proj/");
    let out = t.run(&["promote", "--to", "prod", "a", "b", "--dry-run"]);
    let mut want = expected("gc", "gcr.io", "proj/").join("\n");
    want.push_str("\n# a locked tag whose registry digest differs from images.lock stops the promotion (unless --force); on a failure the tags already moved are put back\n");
    out.is(0, &want, "");
    assert_eq!(t.cloud_calls(), Vec::<String>::new());
    let mut t = Test::new();
    t.file("images.yaml", YAML).file(
        "images.lock",
        &format!(
            "\"127.0.0.1:9/e2e/a\":\n  image: app/a\n  tag: CI-42\n  digest: sha256:{}\n",
            d('1')
        ),
    );
    t.env("REGISTRY", "local");
    let base = "http://127.0.0.1:9/v2/e2e/a/manifests";
    t.run(&["promote", "--to", "prod", "a", "-n"]).is(
        0,
        &format!("HEAD {base}/CI-42\nHEAD {base}/prod\nGET {base}/sha256:{}, then PUT {base}/prod (the same bytes and Content-Type)\n# a locked tag whose registry digest differs from images.lock stops the promotion (unless --force); on a failure the tags already moved are put back\n", d('1')),
        "",
    );
}

#[test]
fn a_drifted_source_is_refused_before_any_change() {
    let mut t = workspace("ar", "us-docker.pkg.dev", "proj/ci/");
    let before = t.cloud_state();
    t.file(
        "images.lock",
        &format!(
            "\"us-docker.pkg.dev/proj/ci/a\":\n  image: app/a\n  tag: CI-42\n  digest: sha256:{}\n",
            d('0')
        ),
    );
    t.env("FAKE_FAIL", "nothing");
    t.run(&["promote", "--to", "prod", "a"]).fails_with(&format!(
        "error: the registry no longer has what images.lock says, so nothing was promoted:\n  `us-docker.pkg.dev/proj/ci/a:CI-42` is at `sha256:{}`; images.lock says `sha256:{}`\nhint: pin again (`imagemk pin`) to promote what is there now, or pass `--force` to promote the locked digests\n",
        d('1'),
        d('0')
    ));
    assert_eq!(t.cloud_state(), before);
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
fn push_atomic_dry_run_stages_then_moves_then_removes() {
    let t = Test::new();
    t.fake_docker();
    let id = support::digest_of("local/a-app-linux:v1");
    t.file("images.yaml", YAML)
        .file("images", "local/a-app-linux:v1\n")
        .file("tags", &format!("local/a-app-linux:v1 {id}\n"));
    let out = t.run(&[
        "push",
        "a",
        "--tag",
        "v1",
        "--atomic",
        "--dry-run",
        "--registry",
        "local",
    ]);
    out.ok();
    let stage = out.stdout.split("imagemk-stage-").nth(1).unwrap();
    let stage = format!(
        "imagemk-stage-{}",
        &stage[..stage.find(char::is_whitespace).unwrap()]
    );
    let (local, remote) = ("local/a-app-linux:v1", "127.0.0.1:9/e2e/a-app-linux");
    let base = "http://127.0.0.1:9/v2/e2e/a-app-linux/manifests";
    assert_eq!(
        out.stdout,
        format!("docker tag {local} {remote}:{stage}\ndocker push {remote}:{stage}\ndocker image rm --no-prune {remote}:{stage}\n# then, only when every push succeeded (DIGEST: what each push reported):\nHEAD {base}/v1\nGET {base}/DIGEST, then PUT {base}/v1 (the same bytes and Content-Type)\nPUT {base}/{stage} (an empty OCI index), then DELETE {base}/<its digest>\n# a failed push or Ctrl-C moves no real tag; the staging tags are removed whatever happens\n")
    );
    assert!(
        stage.len() <= 128 && stage.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
        "{stage}"
    );
    // Only the look-ups of what exists locally ran.
    assert!(
        t.docker_log().iter().all(|c| c.starts_with("docker image")),
        "{:#?}",
        t.docker_log()
    );
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
