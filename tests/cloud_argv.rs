//! Every argv `imagemk clean`, `imagemk login` and `imagemk promote` give `gcloud` and `az`, replayed against the
//! real CLIs: both check their arguments before any network or account use and exit 2 on a
//! rejected one. The argv come from runs against the fakes (tests/support/fake-cloud.py), so
//! a new command is checked as soon as a run emits it.

mod support;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use support::{which, Test};

const GCR: &str = "workspace:\n  registries:\n    gc:\n      kind: gcr\n      project: proj\n    ar:\n      kind: gar\n      location: us\n      project: proj\n      repository: ci\n    az:\n      kind: acr\n      name: myacr\ncomponent: app\n";

/// The argv of a clean-up of every kind (listing, untag, re-check, delete) and of login,
/// through the CLI alone and through the registry API with a CLI token.
fn emitted() -> BTreeSet<String> {
    let kinds = [
        ("gc", "proj/", None),
        ("ar", "proj/ci/", None),
        ("az", "", None),
        ("gc", "proj/", Some("gcr")),
        ("ar", "proj/ci/", Some("gar")),
        ("az", "", Some("acr")),
    ];
    std::thread::scope(|s| {
        let runs: Vec<_> = kinds
            .iter()
            .map(|&(registry, prefix, api)| s.spawn(move || calls_of(registry, prefix, api)))
            .collect();
        let promotes: Vec<_> = [
            ("gc", "gcr.io/proj/"),
            ("ar", "us-docker.pkg.dev/proj/ci/"),
            ("az", "myacr.azurecr.io/"),
        ]
        .iter()
        .map(|&(registry, prefix)| s.spawn(move || promote_calls(registry, prefix)))
        .collect();
        runs.into_iter()
            .chain(promotes)
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

/// The argv of `promote` (listing, re-tag) on one kind; `prefix`: `host/path/`.
fn promote_calls(registry: &str, prefix: &str) -> Vec<String> {
    let mut t = Test::new();
    let digest = "1".repeat(64);
    t.file("images.yaml", &format!("{GCR}images:\n  one: {{}}\n"));
    t.file(
        "images.lock",
        &format!("\"{prefix}one\":\n  image: app/one\n  tag: CI-42\n  digest: sha256:{digest}\n"),
    );
    let repo = prefix.split_once('/').unwrap().1.to_string() + "one";
    t.fake_cloud(&[(
        repo.as_str(),
        &[(digest.as_str(), &["CI-42"][..], "now-3d")][..],
    )]);
    t.env("REGISTRY", registry);
    t.run(&["promote", "--to", "prod", "one"]).ok();
    t.cloud_calls()
}

fn calls_of(registry: &str, prefix: &str, api: Option<&str>) -> Vec<String> {
    let mut t = Test::new();
    t.file("images.yaml", GCR);
    let one = format!("{prefix}one");
    let two = format!("{prefix}two");
    t.fake_cloud(&[
        (
            &one,
            &[("a1", &["CI-42"][..], "now-3d"), ("a0", &[][..], "now-9d")][..],
        ),
        (&two, &[("b1", &["CI-42", "latest"][..], "now-3d")][..]),
    ]);
    t.env("REGISTRY", registry);
    let _server = api.map(|dialect| t.fake_cloud_api(dialect));
    let out = t.run(&["clean", "--match", "CI-42", "--untagged", "--yes"]);
    assert!(
        out.stdout
            .ends_with("untagged 1, deleted 2, kept 0, failed 0\n"),
        "{out:?}"
    );
    assert_eq!(out.status, 0, "{out:?}");
    t.run(&["login"]).ok();
    t.cloud_calls()
}

/// One call per shape (the same words and flags with other names), to keep the test cheap.
fn one_per_shape(calls: BTreeSet<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let shape = |c: &str| -> String {
        c.split(' ')
            .map(|w| match w.starts_with('-') {
                true => w.split('=').next().unwrap_or(w).to_string(),
                false if w.contains(['/', '@', ':', '.']) => "X".into(),
                false => w.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    calls
        .into_iter()
        .filter(|c| seen.insert(shape(c)))
        .collect()
}

#[test]
fn every_emitted_argv_is_accepted_by_the_real_cli() {
    let mut calls = one_per_shape(emitted());
    if let Ok(extra) = std::env::var("IMAGEMK_TEST_EXTRA_ARGV") {
        calls.push(extra); // to see this test fail: `gcloud container images delete --bogus`
    }
    for shape in [
        "gcloud container images list ",
        "gcloud container images list-tags ",
        "gcloud container images untag ",
        "gcloud container images delete ",
        "gcloud artifacts docker images list ",
        "gcloud artifacts docker tags delete ",
        "gcloud artifacts docker images delete ",
        "gcloud auth configure-docker ",
        "gcloud container images add-tag ",
        "gcloud artifacts docker tags add ",
        "az acr import ",
        "gcloud auth print-access-token",
        "az acr repository list ",
        "az acr manifest list-metadata ",
        "az acr repository untag ",
        "az acr repository delete ",
        "az acr login ",
        "az acr login --name myacr --expose-token --output json",
    ] {
        assert!(
            calls.iter().any(|c| c.starts_with(shape)),
            "no `{shape}` call: {calls:#?}"
        );
    }
    let (Ok(gcloud), Ok(az)) = (which("gcloud"), which("az")) else {
        // On CI these must run (`.ci/run` installs az; gcloud comes with the machine), unless
        // `.ci/run` found no way to get gcloud and said so.
        let allowed = std::env::var_os("IMAGEMK_TEST_NO_CLOUD_CLI").is_some();
        if std::env::var_os("CI").is_some() && !allowed {
            panic!("the real gcloud and az must be installed on CI (run `bash .ci/run`)");
        }
        support::skipped("the real gcloud and az are not installed");
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let results: Vec<(String, i32, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = calls
            .iter()
            .map(|call| {
                let (gcloud, az, home) = (&gcloud, &az, home.path());
                s.spawn(move || {
                    let mut words = call.split(' ');
                    let program = if words.next() == Some("gcloud") {
                        gcloud
                    } else {
                        az
                    };
                    let out = Command::new(program)
                        .args(words)
                        .env("CLOUDSDK_CONFIG", home.join("gcloud"))
                        .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
                        .env("AZURE_CONFIG_DIR", home.join("azure"))
                        .env("DOCKER_CONFIG", home.join("docker"))
                        .stdin(Stdio::null())
                        .output()
                        .unwrap();
                    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                    (call.clone(), out.status.code().unwrap_or(-1), stderr)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (call, status, stderr) in results {
        assert_ne!(status, 2, "the real CLI rejected `{call}`:\n{stderr}");
        for rejected in [
            "unrecognized arguments",
            "Invalid choice",
            "arguments are required",
            "misspelled",
        ] {
            assert!(!stderr.contains(rejected), "`{call}`:\n{stderr}");
        }
    }
}
