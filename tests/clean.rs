//! `imagemk clean` wiring against fake `gcloud` and `az` that replay the documented JSON of a
//! small registry and apply untag/delete to it: a gcr and an acr run end to end (their real
//! JSON parsed, the resulting state, the calls batched per repository), the make target, and
//! a real Ctrl-C (SIGINT) in the middle of a clean-up; and the `oci` kind over HTTP against
//! the fake registry (tokens, paging, credential helpers, missing repositories, a tag added
//! meanwhile). Policies, dry run, `--json`, faults, hints, the exact order of the commands
//! and bad input are tested in-process in src/commands/clean_tests.rs.

mod support;

use support::{CloudRepo, FakeRegistry, Test};

const GCR: &str = "workspace:\n  registry: gc\n  registries:\n    gc:\n      kind: gcr\n      project: proj\ncomponent: app\n";
const ACR: &str = "workspace:\n  registry: az\n  registries:\n    az:\n      kind: acr\n      name: myacr\n  protected_tags: [latest, stable]\ncomponent: app\n";

// Creation times relative to the moment the fake answers, so ages never depend on the date.
const OLD: &str = "now-40d";
const MID: &str = "now-20d";
const NEW: &str = "now-1d";

/// `one` has CI-42 only, `two` has CI-42 and latest, `three` has CI-41; `four` has nothing
/// to do with it.
type Manifests = Vec<(&'static str, &'static [&'static str], &'static str)>;

fn ci_registry(prefix: &str) -> Vec<(String, Manifests)> {
    vec![
        (
            format!("{prefix}one"),
            vec![("a1", &["CI-42"][..], NEW), ("a0", &["v1"][..], OLD)],
        ),
        (
            format!("{prefix}two"),
            vec![("b1", &["CI-42", "latest"][..], MID)],
        ),
        (format!("{prefix}three"), vec![("c1", &["CI-41"][..], NEW)]),
        (format!("{prefix}four"), vec![("d1", &[][..], OLD)]),
    ]
}

fn setup(yaml: &str, prefix: &str) -> Test {
    let mut t = Test::new();
    t.file("images.yaml", yaml);
    let owned = ci_registry(prefix);
    let repos: Vec<CloudRepo> = owned.iter().map(|(n, m)| (n.as_str(), &m[..])).collect();
    t.fake_cloud(&repos);
    t
}

fn state(prefix: &str, lines: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = lines.iter().map(|l| format!("{prefix}{l}")).collect();
    v.sort();
    v
}

#[test]
fn gcr_clean_tag_untags_deletes_and_batches_per_repository() {
    let t = setup(GCR, "proj/");
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
    calls(
        &t,
        &[
            "gcloud container images list --repository=gcr.io/proj --format=json",
            "gcloud container images list-tags gcr.io/proj/four --format=json",
            "gcloud container images list-tags gcr.io/proj/one --format=json",
            "gcloud container images list-tags gcr.io/proj/three --format=json",
            "gcloud container images list-tags gcr.io/proj/two --format=json",
            "gcloud container images untag --quiet gcr.io/proj/one:CI-42",
            "gcloud container images delete --quiet gcr.io/proj/one@sha256:a1",
            "gcloud container images untag --quiet gcr.io/proj/two:CI-42",
        ],
    );
}

/// Calls run in parallel across repositories: compare them sorted.
fn calls(t: &Test, expected: &[&str]) {
    let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    want.sort();
    let mut got = t.cloud_calls();
    got.sort();
    assert_eq!(got, want);
}

#[test]
fn acr_keep_age_and_untagged() {
    let t = setup(ACR, "");
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
    calls(
        &t,
        &[
            "az acr repository list --name myacr --output json",
            "az acr manifest list-metadata --registry myacr --name four --output json",
            "az acr manifest list-metadata --registry myacr --name one --output json",
            "az acr manifest list-metadata --registry myacr --name three --output json",
            "az acr manifest list-metadata --registry myacr --name two --output json",
            // The re-check right before each repository's deletes.
            "az acr manifest list-metadata --registry myacr --name four --output json",
            "az acr manifest list-metadata --registry myacr --name one --output json",
            "az acr repository delete --name myacr --image four@sha256:d1 --yes",
            "az acr repository delete --name myacr --image one@sha256:a0 --yes",
        ],
    );
}

#[test]
fn make_image_cleanup_passes_tag_registry_dry_run_and_yes() {
    let t = setup(GCR, "proj/");
    let mk = concat!(env!("CARGO_MANIFEST_DIR"), "/make/images.mk");
    t.file("Makefile", &format!("include {mk}\n"));
    let before = t.cloud_state();
    let out = t.make(&[
        "-s",
        "image-cleanup",
        "IMAGE_TAG=CI-42",
        "REGISTRY=gc",
        "DRY_RUN=1",
    ]);
    out.ok();
    assert!(
        out.stdout.ends_with(
            "dry run, nothing changed: would untag 1, would delete 1, kept 0, failed 0\n"
        ),
        "{}",
        out.stdout
    );
    assert_eq!(t.cloud_state(), before);

    let out = t.make(&["-s", "image-cleanup", "IMAGE_TAG=CI-42", "REGISTRY=gc"]);
    out.ok();
    assert_eq!(
        t.cloud_state(),
        state(
            "proj/",
            &["four d1 ", "one a0 v1", "three c1 CI-41", "two b1 latest"]
        )
    );

    // A failing clean-up fails the target.
    let out = t.make(&["-s", "image-cleanup", "IMAGE_TAG=prod"]);
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("error: tag `prod` is protected"),
        "{}",
        out.stderr
    );
}

fn oci_workspace(t: &Test, host: &str) {
    t.file(
        "images.yaml",
        &format!("workspace:\n  registries:\n    local:\n      kind: oci\n      host: \"{host}\"\n      path: ns\ncomponent: app\n"),
    );
}

fn oci_state() -> serde_json::Value {
    serde_json::json!({"repos": {
        "ns/a": {"tags": {"CI-42": "sha256:aa"}},
        "ns/b": {"tags": {"CI-42": "sha256:bb", "latest": "sha256:bb"}},
        "ns/c": {"tags": {"CI-41": "sha256:cc"}},
        "ns/d": {"tags": {"CI-42": "sha256:dd", "v1": "sha256:dd", "v0": "sha256:d0"}},
        "other/x": {"tags": {"CI-42": "sha256:xx"}},
    }})
}

#[test]
fn oci_bearer_tokens_paged_catalog_and_one_reused_connection() {
    use base64::Engine;
    let mut t = Test::new();
    let reg = FakeRegistry::start(&t, &oci_state(), "alice:s3cret");
    oci_workspace(&t, &reg.host());
    let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
    t.file(
        "docker/config.json",
        &format!(
            "{{\"auths\": {{\"{}\": {{\"auth\": \"{auth}\"}}}}}}",
            reg.host()
        ),
    );
    let config = t.path("docker").display().to_string();
    t.env("DOCKER_CONFIG", &config);
    let out = t.run(&["clean", "--tag", "CI-42", "-j", "1"]);
    out.ok();
    assert!(
        out.stdout
            .ends_with("untagged 2, deleted 1, kept 0, failed 0\n"),
        "{}",
        out.stdout
    );
    assert_eq!(
        reg.tags(),
        serde_json::json!({
            "ns/a": {},
            "ns/b": {"latest": "sha256:bb"},
            "ns/c": {"CI-41": "sha256:cc"},
            "ns/d": {"v0": "sha256:d0", "v1": "sha256:dd"},
            "other/x": {"CI-42": "sha256:xx"},
        })
    );
    let requests = reg.requests();
    let count = |prefix: &str| {
        requests
            .iter()
            .filter(|(_, r)| r.starts_with(prefix))
            .count()
    };
    // One token per scope: the catalog and each of the 4 repositories.
    assert_eq!(count("GET /token"), 5, "{requests:#?}");
    // The catalog came in 3 pages of 2 (following relative `Link` URLs), after one 401.
    assert_eq!(count("GET /v2/_catalog"), 4, "{requests:#?}");
    let connections: std::collections::BTreeSet<&String> =
        requests.iter().map(|(p, _)| p).collect();
    assert_eq!(
        connections.len(),
        1,
        "one connection reused for {} requests",
        requests.len()
    );
}

#[test]
fn oci_unauthorized_names_docker_login() {
    let t = Test::new();
    let reg = FakeRegistry::start(&t, &oci_state(), "alice:s3cret");
    oci_workspace(&t, &reg.host());
    let host = reg.host();
    t.run(&["clean", "--tag", "CI-42"]).fails_with(&format!(
        "error: registry `{host}` is unauthorized (token endpoint `http://{host}/token` answered 401); run `docker login {host}`\n"
    ));
}

#[test]
fn oci_credentials_from_a_credential_helper() {
    let mut t = Test::new();
    let reg = FakeRegistry::start(&t, &oci_state(), "bob:from-helper");
    oci_workspace(&t, &reg.host());
    t.file(
        "docker/config.json",
        &format!(
            "{{\"credHelpers\": {{\"{}\": \"fake\"}}, \"auths\": {{}}}}",
            reg.host()
        ),
    );
    t.fake(
        "docker-credential-fake",
        "#!/bin/sh\nread host\necho \"$1 $host\" >> \"$(dirname \"$0\")/../helper.log\"\necho '{\"Username\":\"bob\",\"Secret\":\"from-helper\"}'\n",
    );
    let config = t.path("docker").display().to_string();
    t.env("DOCKER_CONFIG", &config);
    let out = t.run(&["clean", "--tag", "CI-42", "--repository", "a"]);
    out.is(
        0,
        "delete ns/a@sha256:aa  [CI-42]  `CI-42` is its only tag\nuntagged 0, deleted 1, kept 0, failed 0\n",
        "",
    );
    assert_eq!(
        std::fs::read_to_string(t.path("helper.log")).unwrap(),
        format!("get {}\n", reg.host())
    );
}

/// Issue 8 item 21, on the fake registry: NAME_UNKNOWN on `tags/list` (no manifest was ever
/// stored there) is an empty repository, not a failure.
#[test]
fn oci_a_missing_repository_is_empty_and_the_others_go_on() {
    use base64::Engine;
    let mut t = Test::new();
    let reg = FakeRegistry::start(&t, &oci_state(), "alice:s3cret");
    oci_workspace(&t, &reg.host());
    let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
    t.file(
        "docker/config.json",
        &format!(
            "{{\"auths\": {{\"http://{}\": {{\"auth\": \"{auth}\"}}}}}}",
            reg.host()
        ),
    );
    let config = t.path("docker").display().to_string();
    t.env("DOCKER_CONFIG", &config);
    t.run(&["clean", "--tag", "CI-42", "--repository", "gone", "--repository", "b"]).is(
        0,
        "untag  ns/b@sha256:bb  [CI-42 latest]  remove `CI-42`; `latest` stays\nuntagged 1, deleted 0, kept 0, failed 0\n",
        "note: repository `ns/gone` does not exist or holds no manifest; nothing to clean there\n",
    );
    assert_eq!(
        reg.tags()["ns/b"],
        serde_json::json!({"latest": "sha256:bb"})
    );
}

/// Issue 8 item 19: Ctrl-C during a clean-up: what ran is `done`, what never ran is `not
/// started`, and the exit status is 130.
#[test]
fn an_interrupted_clean_reports_only_what_happened() {
    let mut t = Test::new();
    t.file("images.yaml", ACR);
    t.fake_cloud(&[(
        "app",
        &[("a1", &["CI-1"][..], OLD), ("a2", &["CI-2"][..], MID)][..],
    )]);
    t.env("FAKE_SIGNAL", "repository delete");
    let out = t.run(&["clean", "--match", "CI-.*", "--yes", "--json", "-j", "1"]);
    assert_eq!(out.status, 130, "{out:?}");
    assert_eq!(
        out.stderr,
        "error: interrupted; the report above says what was done and what was not started\n"
    );
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let got: Vec<(&str, &str)> = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["digest"].as_str().unwrap(), a["status"].as_str().unwrap()))
        .collect();
    assert_eq!(got, [("sha256:a2", "done"), ("sha256:a1", "not started")]);
    assert_eq!(
        v["summary"],
        serde_json::json!({"untagged": 0, "deleted": 1, "kept": 0, "failed": 0, "not_started": 1})
    );
    assert_eq!(t.cloud_state(), ["app a1 CI-1"]);
}

/// Issue 8 item 6 on `oci`: the tags of a digest are listed again right before its DELETE.
#[test]
fn oci_a_tag_added_after_the_listing_is_never_deleted() {
    use base64::Engine;
    let mut t = Test::new();
    let mut state = oci_state();
    state["add_tag"] = serde_json::json!(["ns/a", "pushed-meanwhile", "sha256:aa"]);
    let reg = FakeRegistry::start(&t, &state, "alice:s3cret");
    oci_workspace(&t, &reg.host());
    let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
    t.file(
        "docker/config.json",
        &format!(
            "{{\"auths\": {{\"{}\": {{\"auth\": \"{auth}\"}}}}}}",
            reg.host()
        ),
    );
    let config = t.path("docker").display().to_string();
    t.env("DOCKER_CONFIG", &config);
    t.run(&["clean", "--tag", "CI-42", "--repository", "a"]).is(
        1,
        "delete ns/a@sha256:aa  [CI-42]  `CI-42` is its only tag\nuntagged 0, deleted 0, kept 0, failed 1\n",
        "error: could not delete `ns/a@sha256:aa`: not deleted: the manifest now carries `pushed-meanwhile`, which the plan did not select (tagged after the listing?)\n",
    );
    assert_eq!(
        reg.tags()["ns/a"],
        serde_json::json!({"CI-42": "sha256:aa", "pushed-meanwhile": "sha256:aa"})
    );

    // Issue 8 item 21: a 200 catalog without `repositories` is no catalog.
    let mut state = oci_state();
    state["catalog_without_repositories"] = true.into();
    std::fs::write(&reg.state, state.to_string()).unwrap();
    let host = reg.host();
    t.run(&["clean", "--tag", "CI-42"]).fails_with(&format!(
        "error: registry `{host}` answered `/v2/_catalog` without a `repositories` list, so its repositories are unknown; check its `host` in images.yaml, or name the repositories with `--repository`\n"
    ));

    // Credentials never follow a `Link` to another host.
    let mut state = oci_state();
    state["foreign_link"] = true.into();
    std::fs::write(&reg.state, state.to_string()).unwrap();
    t.run(&["clean", "--tag", "CI-42"]).fails_with(&format!(
        "error: registry `{host}` sent a `Link` to `http://elsewhere.example/v2/_catalog?last=ns/b&n=2` for the next page of `/v2/_catalog?n=100`, which is not on this registry; imagemk does not follow it\n"
    ));
}
