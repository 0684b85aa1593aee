//! `imagemk clean` on gcr, gar and acr through the registry HTTP API with one token from the
//! CLI per run: the fake CLIs (tests/support/fake-cloud.py) hand out the token and the same
//! fake registry serves its HTTP API. Each run starts the CLI once (gar twice: its
//! repositories are listed by gcloud), whatever the number of repositories, and leaves the
//! registry as the CLI path does (the same cases as tests/clean.rs).

mod support;

use support::{CloudApi, CloudRepo, Test};

const GCR: &str = "workspace:\n  registry: gc\n  registries:\n    gc:\n      kind: gcr\n      project: proj\ncomponent: app\n";
const GAR: &str = "workspace:\n  registry: ar\n  registries:\n    ar:\n      kind: gar\n      location: us\n      project: proj\n      repository: ci\ncomponent: app\n";
const ACR: &str = "workspace:\n  registry: az\n  registries:\n    az:\n      kind: acr\n      name: myacr\n  protected_tags: [latest, stable]\ncomponent: app\n";

type Manifests = Vec<(&'static str, &'static [&'static str], &'static str)>;

/// `one` has CI-42 only, `two` has CI-42 and latest, `three` has CI-41; `four` has nothing
/// to do with it (as in tests/clean.rs).
fn ci_registry(prefix: &str) -> Vec<(String, Manifests)> {
    vec![
        (
            format!("{prefix}one"),
            vec![
                ("a1", &["CI-42"][..], "now-1d"),
                ("a0", &["v1"][..], "now-40d"),
            ],
        ),
        (
            format!("{prefix}two"),
            vec![("b1", &["CI-42", "latest"][..], "now-20d")],
        ),
        (
            format!("{prefix}three"),
            vec![("c1", &["CI-41"][..], "now-1d")],
        ),
        (format!("{prefix}four"), vec![("d1", &[][..], "now-40d")]),
    ]
}

/// A workspace over the fake registry, served through the API in `dialect`; `faults` are
/// set before the server starts.
fn setup(yaml: &str, prefix: &str, dialect: &str, faults: &[(&str, &str)]) -> (Test, CloudApi) {
    let mut t = Test::new();
    t.file("images.yaml", yaml);
    let owned = ci_registry(prefix);
    let repos: Vec<CloudRepo> = owned.iter().map(|(n, m)| (n.as_str(), &m[..])).collect();
    t.fake_cloud(&repos);
    for (k, v) in faults {
        t.env(k, v);
    }
    let api = t.fake_cloud_api(dialect);
    (t, api)
}

fn state(prefix: &str, lines: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = lines.iter().map(|l| format!("{prefix}{l}")).collect();
    v.sort();
    v
}

/// The requests that changed the registry, sorted (repositories run in parallel).
fn changes(t: &Test) -> Vec<String> {
    let mut v: Vec<String> = t
        .http_calls()
        .into_iter()
        .filter(|c| c.starts_with("DELETE") || c.starts_with("PUT"))
        .filter(|c| !c.ends_with(" (401)"))
        .collect();
    v.sort();
    v
}

#[test]
fn gcr_one_gcloud_start_for_every_repository() {
    let (t, _api) = setup(GCR, "proj/", "gcr", &[]);
    t.run(&["clean", "--tag", "CI-42"]).is(
        0,
        "delete proj/one@sha256:a1  [CI-42]  `CI-42` is its only tag\n\
         untag  proj/two@sha256:b1  [CI-42 latest]  remove `CI-42`; `latest` stays\n\
         untagged 1, deleted 1, kept 0, failed 0\n",
        "",
    );
    assert_eq!(
        t.cloud_state(),
        state(
            "proj/",
            &["four d1 ", "one a0 v1", "three c1 CI-41", "two b1 latest"]
        )
    );
    assert_eq!(t.cloud_calls(), ["gcloud auth print-access-token"]);
    assert_eq!(
        changes(&t),
        [
            "DELETE /v2/proj/one/manifests/CI-42",
            "DELETE /v2/proj/one/manifests/sha256:a1",
            "DELETE /v2/proj/two/manifests/CI-42",
        ]
    );
    // The repository list (`child` of `proj`), one listing per repository, and the re-check
    // of `one` before its delete.
    let mut lists: Vec<String> = t
        .http_calls()
        .into_iter()
        .filter(|c| c.starts_with("GET /v2/proj") && c.ends_with("/tags/list"))
        .collect();
    lists.sort();
    assert_eq!(
        lists,
        [
            "GET /v2/proj/four/tags/list",
            "GET /v2/proj/one/tags/list",
            "GET /v2/proj/one/tags/list",
            "GET /v2/proj/tags/list",
            "GET /v2/proj/three/tags/list",
            "GET /v2/proj/two/tags/list",
        ]
    );
}

#[test]
fn gar_lists_repositories_with_gcloud_and_the_rest_through_the_api() {
    let (t, _api) = setup(GAR, "proj/ci/", "gar", &[]);
    t.run(&["clean", "--tag", "CI-42"]).ok();
    assert_eq!(
        t.cloud_state(),
        state(
            "proj/ci/",
            &["four d1 ", "one a0 v1", "three c1 CI-41", "two b1 latest"]
        )
    );
    // Artifact Registry documents no catalog for its Docker API: one gcloud listing.
    assert_eq!(
        t.cloud_calls(),
        [
            "gcloud auth print-access-token",
            "gcloud artifacts docker images list us-docker.pkg.dev/proj/ci --format=json",
        ]
    );
    assert_eq!(
        changes(&t),
        [
            "DELETE /v2/proj/ci/one/manifests/CI-42",
            "DELETE /v2/proj/ci/one/manifests/sha256:a1",
            "DELETE /v2/proj/ci/two/manifests/CI-42",
        ]
    );
    // With `--repository`, gcloud starts once.
    let (t, _api) = setup(GAR, "proj/ci/", "gar", &[]);
    t.run(&["clean", "--tag", "CI-42", "--repository", "one"])
        .ok();
    assert_eq!(t.cloud_calls(), ["gcloud auth print-access-token"]);
}

#[test]
fn acr_keep_age_and_untagged_with_one_az_start() {
    let (t, _api) = setup(ACR, "", "acr", &[]);
    let out = t.run(&[
        "clean",
        "--match",
        "CI-.*|v1",
        "--older-than",
        "30d",
        "--keep",
        "1",
        "--untagged",
        "--yes",
    ]);
    out.is(
        0,
        "delete four@sha256:d1  []  no tag\n\
         keep   one@sha256:a1  [CI-42]  one of the 1 newest\n\
         delete one@sha256:a0  [v1]  `v1` is its only tag\n\
         keep   three@sha256:c1  [CI-41]  one of the 1 newest\n\
         keep   two@sha256:b1  [CI-42 latest]  one of the 1 newest\n\
         untagged 0, deleted 2, kept 3, failed 0\n",
        "",
    );
    assert_eq!(
        t.cloud_state(),
        state(
            "",
            &["one a1 CI-42", "three c1 CI-41", "two b1 CI-42,latest"]
        )
    );
    assert_eq!(
        t.cloud_calls(),
        ["az acr login --name myacr --expose-token --output json"]
    );
    assert_eq!(
        changes(&t),
        [
            "DELETE /v2/four/manifests/sha256:d1",
            "DELETE /v2/one/manifests/sha256:a0",
        ]
    );
    // The token was exchanged once per scope at /oauth2/token, never sent as it is.
    let posts = t
        .http_calls()
        .into_iter()
        .filter(|c| c == "POST /oauth2/token")
        .count();
    assert_eq!(posts, 1 + 4 + 2, "{:#?}", t.http_calls());
}

#[test]
fn acr_untag_removes_the_tag_alone() {
    let (t, _api) = setup(ACR, "", "acr", &[]);
    t.run(&["clean", "--tag", "CI-42"]).ok();
    assert_eq!(
        t.cloud_state(),
        state(
            "",
            &["four d1 ", "one a0 v1", "three c1 CI-41", "two b1 latest"]
        )
    );
    assert_eq!(
        changes(&t),
        [
            "DELETE /acr/v1/two/_tags/CI-42",
            "DELETE /v2/one/manifests/sha256:a1",
        ]
    );
}

/// Not logged in: the token command fails once, with the hint of its CLI; nothing else runs.
#[test]
fn no_login_names_the_login_command_and_changes_nothing() {
    let (t, _api) = setup(GCR, "proj/", "gcr", &[("FAKE_NO_LOGIN", "1")]);
    let before = t.cloud_state();
    let out = t.run(&["clean", "--tag", "CI-42"]);
    assert_eq!(out.status, 1);
    assert!(out.stderr.starts_with("error: `gcloud auth print-access-token` failed with exit status 1\n  | ERROR: (gcloud.auth.print-access-token) You do not currently have an active account selected.\n"), "{}", out.stderr);
    assert!(out.stderr.ends_with("\nhint: gcloud has no usable account: run `gcloud auth login` (in CI: `gcloud auth activate-service-account --key-file=KEY_FILE`); `gcloud auth configure-docker` alone does not log in\n"), "{}", out.stderr);
    assert_eq!(t.cloud_state(), before);
    assert_eq!(t.http_calls(), Vec::<String>::new());

    let (t, _api) = setup(ACR, "", "acr", &[("FAKE_NO_LOGIN", "1")]);
    t.run(&["clean", "--tag", "CI-42"]).fails_with(
        "error: `az acr login --name myacr --expose-token --output json` failed with exit status 1\n  | WARNING: Please run 'az login' to setup account.\n  | ERROR: Unable to authenticate using AAD or admin login credentials. Please specify both username and password in non-interactive mode.\nhint: az is not logged in: run `az login` (in CI: `az login --service-principal …`); `az acr login` alone fails the same way\n",
    );
    assert_eq!(t.http_calls(), Vec::<String>::new());
}

/// A tag pushed between the listing and the delete is never deleted: Google's registry API
/// gets the re-check (and its own refusal), ACR the re-check.
#[test]
fn a_tag_added_after_the_listing_is_never_deleted() {
    for (yaml, prefix, dialect) in [(GCR, "proj/", "gcr"), (ACR, "", "acr")] {
        let add = format!("{prefix}one sha256:a1 pushed-meanwhile");
        let (t, _api) = setup(yaml, prefix, dialect, &[("FAKE_ADD_TAG", &add)]);
        let out = t.run(&["clean", "--tag", "CI-42"]);
        assert_eq!(out.status, 1, "{dialect}: {out:?}");
        assert_eq!(
            out.stderr,
            format!("error: could not delete `{prefix}one@sha256:a1`: not deleted: the manifest now carries `pushed-meanwhile`, which the plan did not select (tagged after the listing?)\n")
        );
        let one = t
            .cloud_state()
            .into_iter()
            .find(|l| l.starts_with(&format!("{prefix}one a1 ")))
            .unwrap_or_default();
        assert!(one.ends_with("pushed-meanwhile"), "{dialect}: {one}");
        assert!(
            !changes(&t).iter().any(|c| c.contains("sha256:a1")),
            "{:#?}",
            changes(&t)
        );
    }
}

#[test]
fn dry_run_prints_the_requests_and_changes_nothing() {
    let (t, _api) = setup(GCR, "proj/", "gcr", &[]);
    let before = t.cloud_state();
    let out = t.run(&[
        "clean",
        "--tag",
        "CI-42",
        "--dry-run",
        "--repository",
        "one",
    ]);
    let base = t.http_base();
    out.is(
        0,
        &format!(
            "delete proj/one@sha256:a1  [CI-42]  `CI-42` is its only tag\n  \
             DELETE {base}/v2/proj/one/manifests/CI-42\n  \
             GET {base}/v2/proj/one/tags/list (re-check: a manifest that now carries a tag not selected is not deleted)\n  \
             DELETE {base}/v2/proj/one/manifests/sha256:a1\n\
             dry run, nothing changed: would untag 0, would delete 1, kept 0, failed 0\n"
        ),
        "",
    );
    assert_eq!(t.cloud_state(), before);
    assert_eq!(changes(&t), Vec::<String>::new());
}

/// `IMAGEMK_CLOUD_API=0` goes back to the CLI for everything.
#[test]
fn the_cli_path_on_request() {
    let (mut t, _api) = setup(GCR, "proj/", "gcr", &[]);
    t.env("IMAGEMK_CLOUD_API", "0");
    t.run(&["clean", "--tag", "CI-42"]).ok();
    assert_eq!(t.http_calls(), Vec::<String>::new());
    assert_eq!(t.cloud_calls().len(), 8, "{:#?}", t.cloud_calls());
}

/// A failing request fails its repository's action with the registry's own error; the others
/// go on.
#[test]
fn a_failing_request_fails_only_its_action() {
    let (t, _api) = setup(
        GCR,
        "proj/",
        "gcr",
        &[("FAKE_FAIL", "DELETE /v2/proj/two/manifests/CI-42")],
    );
    let out = t.run(&["clean", "--tag", "CI-42"]);
    assert_eq!(out.status, 1);
    assert_eq!(
        out.stderr,
        "error: could not untag `proj/two@sha256:b1`: could not delete `proj/two:CI-42`: 500 INTERNAL: injected failure\n"
    );
    assert!(out
        .stdout
        .ends_with("untagged 0, deleted 1, kept 0, failed 1\n"));
}

/// A token the registry refuses: the run fails before any change, naming the login command.
#[test]
fn a_refused_token_names_the_login_command() {
    let (t, _api) = setup(GCR, "proj/", "gcr", &[("FAKE_TOKEN", "expired")]);
    let before = t.cloud_state();
    let base = t.http_base();
    t.run(&["clean", "--tag", "CI-42"]).fails_with(&format!(
        "error: registry `gcr.io` is unauthorized (token endpoint `{base}/v2/token` answered 401); run `gcloud auth login` with an account that may use the registry (`gcloud auth print-access-token` gives its token)\n"
    ));
    assert_eq!(t.cloud_state(), before);
}
