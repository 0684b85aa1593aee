//! `imagemk clean` against fake `gcloud` and `az` that replay the documented JSON of a small
//! registry and apply untag/delete to it: the resulting state, the exact calls (per repository,
//! not per tag), the output, and the faults.

mod support;

use support::{CloudRepo, FakeRegistry, Test};

const GCR: &str = "workspace:\n  registry: gc\n  registries:\n    gc:\n      kind: gcr\n      project: proj\ncomponent: app\n";
const GAR: &str = "workspace:\n  registry: ar\n  registries:\n    ar:\n      kind: gar\n      location: us\n      project: proj\n      repository: ci\ncomponent: app\n";
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
fn gcr_batches_every_tag_and_digest_of_a_repository_into_one_call() {
    let mut t = Test::new();
    t.file("images.yaml", GCR);
    let many: Vec<(String, Vec<String>)> = (1..=6)
        .map(|i| (format!("{i:02}"), vec![format!("CI-{i}")]))
        .collect();
    let rows: Vec<(&str, Vec<&str>)> = many
        .iter()
        .map(|(d, t)| (d.as_str(), t.iter().map(String::as_str).collect()))
        .collect();
    let mut manifests: Vec<(&str, &[&str], &str)> =
        rows.iter().map(|(d, t)| (*d, &t[..], OLD)).collect();
    manifests.push(("ff", &["CI-9", "latest"], OLD));
    manifests.push(("ee", &["CI-8", "v2"], OLD));
    t.fake_cloud(&[("proj/app", &manifests)]);
    let out = t.run(&["clean", "--match", "CI-.*", "--yes"]);
    out.ok();
    assert!(
        out.stdout
            .ends_with("untagged 2, deleted 6, kept 0, failed 0\n"),
        "{}",
        out.stdout
    );
    assert_eq!(t.cloud_state(), ["proj/app ee v2", "proj/app ff latest"]);
    calls(
        &t,
        &[
            "gcloud container images list --repository=gcr.io/proj --format=json",
            "gcloud container images list-tags gcr.io/proj/app --format=json",
            "gcloud container images untag --quiet gcr.io/proj/app:CI-1 gcr.io/proj/app:CI-2 gcr.io/proj/app:CI-3 gcr.io/proj/app:CI-4 gcr.io/proj/app:CI-5 gcr.io/proj/app:CI-6 gcr.io/proj/app:CI-8 gcr.io/proj/app:CI-9",
            "gcloud container images delete --quiet gcr.io/proj/app@sha256:01 gcr.io/proj/app@sha256:02 gcr.io/proj/app@sha256:03 gcr.io/proj/app@sha256:04 gcr.io/proj/app@sha256:05 gcr.io/proj/app@sha256:06",
        ],
    );
}

#[test]
fn gar_clean_tag() {
    let t = setup(GAR, "proj/ci/");
    let out = t.run(&["clean", "--tag", "CI-42"]);
    out.ok();
    assert_eq!(
        t.cloud_state(),
        state(
            "proj/ci/",
            &["four d1 ", "one a0 v1", "three c1 CI-41", "two b1 latest"]
        )
    );
    calls(
        &t,
        &[
            "gcloud artifacts docker images list us-docker.pkg.dev/proj/ci --format=json",
            "gcloud artifacts docker images list us-docker.pkg.dev/proj/ci/four --include-tags --format=json",
            "gcloud artifacts docker images list us-docker.pkg.dev/proj/ci/one --include-tags --format=json",
            "gcloud artifacts docker images list us-docker.pkg.dev/proj/ci/three --include-tags --format=json",
            "gcloud artifacts docker images list us-docker.pkg.dev/proj/ci/two --include-tags --format=json",
            "gcloud artifacts docker tags delete --quiet us-docker.pkg.dev/proj/ci/one:CI-42",
            "gcloud artifacts docker images delete --quiet us-docker.pkg.dev/proj/ci/one@sha256:a1",
            "gcloud artifacts docker tags delete --quiet us-docker.pkg.dev/proj/ci/two:CI-42",
        ],
    );
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
fn dry_run_prints_plan_and_commands_and_changes_nothing() {
    let t = setup(GCR, "proj/");
    let before = t.cloud_state();
    t.run(&["clean", "--tag", "CI-42", "--dry-run"]).is(
        0,
        "delete proj/one@sha256:a1  [CI-42]  `CI-42` is its only tag\n\
         \x20 gcloud container images untag --quiet gcr.io/proj/one:CI-42\n\
         \x20 gcloud container images delete --quiet gcr.io/proj/one@sha256:a1\n\
         untag  proj/two@sha256:b1  [CI-42 latest]  remove `CI-42`; `latest` stays\n\
         \x20 gcloud container images untag --quiet gcr.io/proj/two:CI-42\n\
         dry run, nothing changed: would untag 1, would delete 1, kept 0, failed 0\n",
        "",
    );
    assert_eq!(t.cloud_state(), before);
    assert!(
        t.cloud_calls().iter().all(|c| c.contains(" list")),
        "{:?}",
        t.cloud_calls()
    );
}

#[test]
fn wide_policy_without_yes_is_a_dry_run() {
    let t = setup(GAR, "proj/ci/");
    let before = t.cloud_state();
    let out = t.run(&["clean", "--match", "CI-4[12]"]);
    out.ok();
    assert!(
        out.stdout.ends_with(
            "dry run, nothing changed: would untag 1, would delete 2, kept 0, failed 0\n"
        ),
        "{}",
        out.stdout
    );
    assert_eq!(out.stderr, "note: this policy is wider than one exact tag, so nothing was changed; check the plan above and pass `--yes` to apply it\n");
    assert_eq!(t.cloud_state(), before);
}

#[test]
fn json_plan_and_result() {
    let t = setup(ACR, "");
    let out = t.run(&["clean", "--tag", "CI-42", "--repository", "two", "--json"]);
    out.ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "registry": "az",
            "dry_run": false,
            "actions": [{
                "repository": "two",
                "digest": "sha256:b1",
                "tags": ["CI-42", "latest"],
                "remove": ["CI-42"],
                "action": "untag",
                "reason": "remove `CI-42`; `latest` stays",
                "status": "done",
                "steps": ["az acr repository untag --name myacr --image two:CI-42"],
            }],
            "failed_repositories": [],
            "missing_repositories": [],
            "summary": {"untagged": 1, "deleted": 0, "kept": 0, "failed": 0, "not_started": 0},
        })
    );
    calls(
        &t,
        &[
            "az acr manifest list-metadata --registry myacr --name two --output json",
            "az acr repository untag --name myacr --image two:CI-42",
        ],
    );
}

#[test]
fn unexpected_json_names_the_command_and_deletes_nothing() {
    let mut t = setup(GCR, "proj/");
    t.env("FAKE_BAD_JSON", "list-tags gcr.io/proj/one");
    let before = t.cloud_state();
    let out = t.run(&["clean", "--tag", "CI-42"]);
    out.is(
        1,
        "untag  proj/two@sha256:b1  [CI-42 latest]  remove `CI-42`; `latest` stays\n\
         untagged 1, deleted 0, kept 0, failed 1\n",
        "error: repository `proj/one`: `gcloud container images list-tags gcr.io/proj/one --format=json` printed unexpected JSON (invalid type: map, expected a sequence at line 1 column 0); nothing was changed\n",
    );
    assert_eq!(
        t.cloud_state(),
        before
            .into_iter()
            .map(|l| l.replace("two b1 CI-42,latest", "two b1 latest"))
            .collect::<Vec<_>>()
    );
}

#[test]
fn unexpected_json_from_the_repository_list_stops_everything() {
    let mut t = setup(ACR, "");
    t.env("FAKE_BAD_JSON", "repository list");
    let before = t.cloud_state();
    t.run(&["clean", "--tag", "CI-42"]).fails_with(
        "error: `az acr repository list --name myacr --output json` printed unexpected JSON (invalid type: map, expected a sequence at line 1 column 0); nothing was changed\n",
    );
    assert_eq!(t.cloud_state(), before);
}

/// Issue 8 item 21, on gcr: a repository gone after the listing (gcloud's real `Not found`)
/// holds nothing to clean; the others go on and the run succeeds.
#[test]
fn a_repository_deleted_during_the_run_is_noted_and_the_others_go_on() {
    let mut t = setup(GCR, "proj/");
    t.env("FAKE_VANISH", "proj/one");
    let out = t.run(&["clean", "--tag", "CI-42"]);
    out.is(
        0,
        "untag  proj/two@sha256:b1  [CI-42 latest]  remove `CI-42`; `latest` stays\n\
         untagged 1, deleted 0, kept 0, failed 0\n",
        "note: repository `proj/one` does not exist or holds no manifest; nothing to clean there\n",
    );
    assert_eq!(
        t.cloud_state(),
        state("proj/", &["four d1 ", "three c1 CI-41", "two b1 latest"])
    );
}

#[test]
fn a_failing_step_fails_the_run_but_not_the_other_repositories() {
    let mut t = setup(ACR, "");
    t.env("FAKE_FAIL", "untag");
    let out = t.run(&["clean", "--tag", "CI-42"]);
    out.is(
        1,
        "delete one@sha256:a1  [CI-42]  `CI-42` is its only tag\n\
         untag  two@sha256:b1  [CI-42 latest]  remove `CI-42`; `latest` stays\n\
         untagged 0, deleted 1, kept 0, failed 1\n",
        "error: could not untag `two@sha256:b1`: `az acr repository untag --name myacr --image two:CI-42` failed with exit status 1\n  | ERROR: injected failure for az acr repository untag --name myacr --image two:CI-42\n",
    );
    assert_eq!(
        t.cloud_state(),
        state(
            "",
            &[
                "four d1 ",
                "one a0 v1",
                "three c1 CI-41",
                "two b1 CI-42,latest"
            ]
        )
    );
}

/// The hint fits the real text: no `az login` → `az login`; no gcloud account → `gcloud
/// auth login`; an unreachable registry → no login hint at all.
#[test]
fn cli_failures_get_the_hint_that_fixes_them() {
    let mut t = setup(ACR, "");
    t.env("FAKE_NO_LOGIN", "1");
    t.run(&["clean", "--tag", "CI-42"]).fails_with(
        "error: `az acr repository list --name myacr --output json` failed with exit status 1\n  | WARNING: Please run 'az login' to setup account.\n  | ERROR: Unable to authenticate using AAD or admin login credentials. Please specify both username and password in non-interactive mode.\nhint: az is not logged in: run `az login` (in CI: `az login --service-principal …`); `az acr login` alone fails the same way\n",
    );
    t.env("FAKE_NO_LOGIN", "").env("FAKE_OFFLINE", "1");
    let out = t.run(&["clean", "--tag", "CI-42", "--repository", "one"]);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr
            .contains("ERROR: Could not connect to the registry login server 'myacr.azurecr.io'"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.ends_with("\nhint: the registry did not answer: check its `name` in images.yaml and the network (`az acr check-health --name NAME --yes` diagnoses it)\n"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("hint: az is not logged in"),
        "{}",
        out.stderr
    );

    let mut t = setup(GAR, "proj/ci/");
    t.env("FAKE_NO_LOGIN", "1");
    let out = t.run(&["clean", "--tag", "CI-42"]);
    assert_eq!(out.status, 1);
    assert!(out.stderr.starts_with("error: `gcloud artifacts docker images list us-docker.pkg.dev/proj/ci --format=json` failed with exit status 1\n  | ERROR: (gcloud.artifacts.docker.images.list) You do not currently have an active account selected.\n"), "{}", out.stderr);
    assert!(out.stderr.ends_with("\nhint: gcloud has no usable account: run `gcloud auth login` (in CI: `gcloud auth activate-service-account --key-file=KEY_FILE`); `gcloud auth configure-docker` alone does not log in\n"), "{}", out.stderr);
}

/// Bad input fails before any call, with one exact message.
fn rejects(yaml: &str, args: &[&str], stderr: &str) {
    let t = setup(yaml, "proj/");
    let mut all = vec!["clean"];
    all.extend(args);
    t.run(&all).fails_with(stderr);
    assert_eq!(t.cloud_calls(), Vec::<String>::new());
}

#[test]
fn bad_input() {
    rejects(
        GCR,
        &["--tag", ""],
        "error: the tag to clean is empty; pass `--tag T` (or `IMAGE_TAG=T`)\n",
    );
    rejects(GCR, &["--tag", "prod"], "error: tag `prod` is protected and is never cleaned (protected tags: latest, prod); change `workspace.protected_tags` in images.yaml to clean it\n");
    rejects(ACR, &["--tag", "stable"], "error: tag `stable` is protected and is never cleaned (protected tags: latest, stable); change `workspace.protected_tags` in images.yaml to clean it\n");
    rejects(GCR, &["--tag", "bad tag"], "error: invalid tag to clean: tag `bad tag` is not a valid docker tag: use letters, digits, `_`, `.` and `-`, not starting with `.` or `-`\n");
    rejects(
        GCR,
        &["--match", "CI-("],
        "error: `--match CI-(` is not a valid regular expression: error: unclosed group\n",
    );
    rejects(GCR, &["--tag", "CI-1", "--exclude", "[z-a]"], "error: `--exclude [z-a]` is not a valid regular expression: error: invalid character class range, the start must be <= the end\n");
    rejects(GCR, &["--match", "CI-.*", "--older-than", "3days"], "error: `--older-than 3days` is not an age; write a whole number and a unit (`s`, `m`, `h`, `d`, `w`), e.g. `3d`\n");
    // Issue 8 item 16: an age past the clock's range is an input error, not a panic.
    rejects(GCR, &["--match", "CI-.*", "--older-than", "5000000d"], "error: `--older-than 5000000d` is longer than imagemk accepts; the largest age is `36500d` (100 years)\n");
    rejects(GCR, &[], "error: nothing to clean: pass `--tag T` (or `IMAGE_TAG=T`), `--match REGEX`, `--older-than AGE`, `--keep N` or `--untagged`\n");
}

#[test]
fn the_tag_comes_from_image_tag_too() {
    let mut t = setup(GCR, "proj/");
    t.env("IMAGE_TAG", "CI-41");
    let out = t.run(&["clean"]);
    out.ok();
    assert_eq!(
        t.cloud_state(),
        state(
            "proj/",
            &[
                "four d1 ",
                "one a0 v1",
                "one a1 CI-42",
                "two b1 CI-42,latest"
            ]
        )
    );
}

#[test]
fn untagged_is_refused_on_oci() {
    let t = Test::new();
    t.file("images.yaml", "workspace:\n  registries:\n    local:\n      kind: oci\n      host: \"127.0.0.1:1\"\ncomponent: app\n");
    t.run(&["clean", "--untagged"]).fails_with(
        "error: `--untagged` is not available for registry `local` of kind `oci`: the distribution API lists only tagged manifests\n",
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

#[test]
fn a_missing_cli_is_named_before_anything_runs() {
    let mut t = Test::new();
    t.file("images.yaml", ACR);
    t.without("az");
    t.run(&["clean", "--tag", "CI-42"]).fails_with(
        "error: `az` is not installed or not on PATH; install the Azure CLI (`pip install azure-cli`), or choose another registry with `REGISTRY=…`\n",
    );
}

/// Issue 8 item 6: a tag pushed between the listing and the delete is never deleted. gcloud
/// refuses the delete by itself (no force flag); on acr imagemk lists again right before.
#[test]
fn a_tag_added_after_the_listing_is_never_deleted() {
    for (yaml, prefix, refusal) in [
        (GCR, "proj/", "This operation will implicitly delete the tags listed above."),
        (GAR, "proj/ci/", "because it is tagged. Existing tags are:"),
        (ACR, "", "not deleted: the manifest now carries `pushed-meanwhile`, which the plan did not select (tagged after the listing?)"),
    ] {
        let mut t = setup(yaml, prefix);
        t.env("FAKE_ADD_TAG", &format!("{prefix}one sha256:a1 pushed-meanwhile"));
        let out = t.run(&["clean", "--tag", "CI-42"]);
        assert_eq!(out.status, 1, "{yaml}: {out:?}");
        assert!(
            out.stderr.starts_with(&format!("error: could not delete `{prefix}one@sha256:a1`: ")),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains(refusal), "{}", out.stderr);
        assert!(
            out.stdout.ends_with("untagged 1, deleted 0, kept 0, failed 1\n"),
            "{}",
            out.stdout
        );
        let one = t
            .cloud_state()
            .into_iter()
            .find(|l| l.starts_with(&format!("{prefix}one a1 ")))
            .unwrap_or_default();
        // gcloud: CI-42 was untagged first; acr: nothing was changed on the manifest.
        assert!(one.ends_with("pushed-meanwhile"), "{yaml}: {one}");
        assert_eq!(t.cloud_calls().iter().filter(|c| c.contains("force") || c.contains("--delete-tags")).count(), 0);
    }
}

/// Issue 8 item 5: one digest in two rows is one manifest; `latest` in the second row keeps it.
#[test]
fn rows_of_one_digest_are_one_manifest() {
    let mut t = Test::new();
    t.file("images.yaml", GCR);
    t.fake_cloud(&[(
        "proj/app",
        &[("d1", &["CI-42"][..], OLD), ("d1", &["latest"][..], OLD)][..],
    )]);
    t.run(&["clean", "--tag", "CI-42"]).is(
        0,
        "untag  proj/app@sha256:d1  [CI-42 latest]  remove `CI-42`; `latest` stays\n\
         untagged 1, deleted 0, kept 0, failed 0\n",
        "",
    );
    assert_eq!(t.cloud_state(), ["proj/app d1 ", "proj/app d1 latest"]);
}

/// Issue 8 item 15: text from a registry that is no digest is refused, never sliced.
#[test]
fn a_listed_digest_that_is_no_digest_fails_its_repository_without_a_panic() {
    let mut t = Test::new();
    t.file("images.yaml", ACR);
    t.fake_cloud(&[
        ("bad", &[("ééééééééééééééé", &["CI-42"][..], OLD)][..]),
        ("good", &[("aa", &["CI-42"][..], OLD)][..]),
    ]);
    t.run(&["clean", "--tag", "CI-42"]).is(
        1,
        "delete good@sha256:aa  [CI-42]  `CI-42` is its only tag\n\
         untagged 0, deleted 1, kept 0, failed 1\n",
        "error: repository `bad`: the registry listed `sha256:ééééééééééééééé` in `bad`, which is not a digest; nothing was changed in this repository\n",
    );
    // A repository name is checked before it goes into a command or a URL.
    t.run(&["clean", "--tag", "CI-42", "--repository", "../good"]).is(
        1,
        "untagged 0, deleted 0, kept 0, failed 1\n",
        "error: repository `../good`: not a repository name imagemk can clean: `..` is not a valid repository name: path components are lowercase letters and digits separated by `.`, `_`, `__` or `-`\n",
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

/// gcr refuses a batch delete as a whole when one image in it got a tag: the others are
/// still deleted, one call each, and only the tagged one fails.
#[test]
fn gcr_a_refused_batch_delete_is_retried_one_image_at_a_time() {
    let mut t = Test::new();
    t.file("images.yaml", GCR);
    t.fake_cloud(&[(
        "proj/app",
        &[("a1", &["CI-1"][..], OLD), ("a2", &["CI-2"][..], OLD)][..],
    )]);
    t.env("FAKE_ADD_TAG", "proj/app sha256:a1 pushed-meanwhile");
    let out = t.run(&["clean", "--match", "CI-.*", "--yes"]);
    assert_eq!(out.status, 1, "{out:?}");
    assert!(
        out.stdout
            .ends_with("untagged 0, deleted 1, kept 0, failed 1\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.starts_with("error: could not delete `proj/app@sha256:a1`: `gcloud container images delete --quiet gcr.io/proj/app@sha256:a1` failed with exit status 1\n"),
        "{}",
        out.stderr
    );
    assert_eq!(t.cloud_state(), ["proj/app a1 pushed-meanwhile"]);
    calls(
        &t,
        &[
            "gcloud container images list --repository=gcr.io/proj --format=json",
            "gcloud container images list-tags gcr.io/proj/app --format=json",
            "gcloud container images untag --quiet gcr.io/proj/app:CI-1 gcr.io/proj/app:CI-2",
            "gcloud container images delete --quiet gcr.io/proj/app@sha256:a1 gcr.io/proj/app@sha256:a2",
            "gcloud container images delete --quiet gcr.io/proj/app@sha256:a1",
            "gcloud container images delete --quiet gcr.io/proj/app@sha256:a2",
        ],
    );
}
