//! `imagemk pin` and `pin --check` on gar, gcr and acr through the fake `gcloud` and `az`
//! (which replay the documented listings): the digest comes from one listing call per
//! repository, the manifest carrying the tag; a missing tag writes nothing; drift is reported
//! as `images.lock:LINE`.

mod support;

use support::Test;

const D_OLD: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const D_NEW: &str = "2222222222222222222222222222222222222222222222222222222222222222";

const IMAGES: &str = "defaults:\n  namespace: acme\ncomponent: app\nimages:\n  base: {dockerfile: base.dockerfile}\n  other: {dockerfile: base.dockerfile}\n";

/// (images.yaml's workspace part, the fake's repository of `base`, the remote, the listing).
fn kinds() -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
    vec![
        (
            "workspace:\n  registries:\n    ar: {kind: gar, location: us, project: proj, repository: ci}\n",
            "proj/ci/base-app-linux",
            "us-docker.pkg.dev/proj/ci/base-app-linux",
            "gcloud artifacts docker images list us-docker.pkg.dev/proj/ci/base-app-linux --include-tags --format=json",
        ),
        (
            "workspace:\n  registries:\n    gc: {kind: gcr, project: proj}\n",
            "proj/base-app-linux",
            "gcr.io/proj/base-app-linux",
            "gcloud container images list-tags gcr.io/proj/base-app-linux --format=json",
        ),
        (
            "workspace:\n  registries:\n    az: {kind: acr, name: myacr}\n",
            "base-app-linux",
            "myacr.azurecr.io/base-app-linux",
            "az acr manifest list-metadata --registry myacr --name base-app-linux --output json",
        ),
    ]
}

fn setup(workspace: &str, repo: &str) -> Test {
    let mut t = Test::new();
    t.file("images.yaml", &format!("{workspace}{IMAGES}"))
        .file("base.dockerfile", "FROM scratch\n");
    t.fake_docker();
    let manifests: &[(&str, &[&str], &str)] = &[
        (D_NEW, &["latest", "v2"], "now-1d"),
        (D_OLD, &["v1"], "now-9d"),
    ];
    t.fake_cloud(&[(repo, manifests)]);
    t
}

#[test]
fn pin_reads_the_tagged_manifest_from_one_listing() {
    for (workspace, repo, remote, call) in kinds() {
        let t = setup(workspace, repo);
        t.run(&["pin", "base"])
            .is(0, &format!("{remote}:latest sha256:{D_NEW}\n"), "");
        assert_eq!(t.cloud_calls(), [call], "{remote}");
        let lock = std::fs::read_to_string(t.path("images.lock")).unwrap();
        assert!(
            lock.ends_with(&format!(
                "\"{remote}\":\n  image: \"app/base\"\n  tag: latest\n  digest: sha256:{D_NEW}\n"
            )),
            "{lock}"
        );
        t.run(&["pin", "--check"]).is(0, "", "");
        assert_eq!(t.docker_log(), Vec::<String>::new(), "no docker command");
    }
}

#[test]
fn pin_of_a_tag_the_registry_lacks_writes_nothing() {
    let (workspace, repo, remote, _) = &kinds()[0];
    let t = setup(workspace, repo);
    t.run(&["pin", "base", "--tag", "v9"]).is(
        1,
        "",
        &format!("error: registry `ar` has no `{remote}:v9` (image `app/base`); nothing was written to images.lock; push it first (`imagemk push`)\n"),
    );
    // A repository that does not exist at all is missing the same way.
    t.run(&["pin", "other"]).is(
        1,
        "",
        "error: registry `ar` has no `us-docker.pkg.dev/proj/ci/other-app-linux:latest` (image `app/other`); nothing was written to images.lock; push it first (`imagemk push`)\n",
    );
    assert!(!t.exists("images.lock"));
}

#[test]
fn check_names_the_line_of_each_drifting_entry() {
    let (workspace, repo, remote, _) = &kinds()[2];
    let t = setup(workspace, repo);
    t.file(
        "images.lock",
        &format!(
            "# header\n\"{remote}\":\n  image: \"app/base\"\n  tag: v1\n  digest: sha256:{D_NEW}\n\"myacr.azurecr.io/other-app-linux\":\n  image: \"app/other\"\n  tag: latest\n  digest: sha256:{D_OLD}\n"
        ),
    );
    t.run(&["pin", "--check"]).is(
        1,
        &format!(
            "images.lock:2: {remote}:v1 locked sha256:{D_NEW} but the registry has sha256:{D_OLD}\n\
             images.lock:6: myacr.azurecr.io/other-app-linux:latest locked sha256:{D_OLD} but the registry has no such tag\n"
        ),
        "error: 2 of 2 locked images differ from the registry; run `imagemk pin` (`make pin-images`) to lock what the registry has, or push the locked images again\n",
    );
    let out = t.run(&["pin", "--check", "--json", "base"]);
    assert_eq!(out.status, 1);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v[0]["line"], 2);
    assert_eq!(v[0]["registry"], format!("sha256:{D_OLD}"));
    assert_eq!(v[0]["ok"], false);
    // A dry run prints the listing it would run, and asks nothing.
    let calls = t.cloud_calls().len();
    let dry = t.run(&["pin", "--check", "--dry-run"]);
    dry.ok();
    assert!(
        dry.stdout.starts_with(
            "az acr manifest list-metadata --registry myacr --name base-app-linux --output json (the digest of the manifest tagged `v1`)\n"
        ),
        "{}",
        dry.stdout
    );
    assert_eq!(t.cloud_calls().len(), calls);
}

#[test]
fn make_passes_lock_locked_and_check_as_yes_no_flags() {
    let (workspace, repo, _, _) = &kinds()[0];
    let t = setup(workspace, repo);
    let mk = concat!(env!("CARGO_MANIFEST_DIR"), "/make/images.mk");
    t.file("Makefile", &format!("include {mk}\n"));
    let recipe = |args: &[&str]| {
        let mut all = vec!["-n", "-s", "IMAGEMK=/bin/imagemk"];
        all.extend(args);
        let out = t.make(&all);
        out.ok();
        // Words only: how many spaces empty make variables leave is not the recipe's meaning.
        let last = out.stdout.lines().last().unwrap_or("");
        last.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    assert!(recipe(&["push-images", "LOCK=1"]).ends_with(" push --lock"));
    assert!(recipe(&["push-images", "LOCK=1", "FORCE=1"]).ends_with(" push --force --lock"));
    assert!(recipe(&["push-images"]).ends_with(" push"));
    assert!(recipe(&["images", "LOCKED=yes"]).contains(" --locked"));
    assert!(!recipe(&["images"]).contains("--locked"));
    assert!(recipe(&["pin-images", "CHECK=1"]).ends_with(" pin --check"));
    assert!(recipe(&["pin-images", "DRY_RUN=1"]).ends_with(" pin --dry-run"));
}

/// `push --lock` with one of two pushes refused: the pushed image is locked with the digest
/// docker reported, the refused one writes nothing, and the push fails.
#[test]
fn push_lock_records_only_what_was_pushed() {
    let t = Test::new();
    t.file(
        "images.yaml",
        "workspace:\n  registries:\n    local: {kind: oci, host: \"registry.example.com:5000\", path: team}\ndefaults:\n  namespace: acme\ncomponent: app\nimages:\n  base: {dockerfile: base.dockerfile}\n  other: {dockerfile: base.dockerfile}\n",
    )
    .file("base.dockerfile", "FROM scratch\n");
    t.fake_docker();
    let names = ["acme/base-app-linux:latest", "acme/other-app-linux:latest"];
    t.file("images", &(names.join("\n") + "\n"));
    let tags: Vec<String> = (names.iter())
        .map(|n| format!("{n} {}\n", support::digest_of(n)))
        .collect();
    t.file("tags", &tags.concat());
    t.file("push-fail-only", "other-app-linux\n");
    let out = t.run(&["push", "base", "other", "--lock"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("requested access to the resource is denied"),
        "{}",
        out.stderr
    );
    let remote = "registry.example.com:5000/team/base-app-linux";
    let digest = support::digest_of(&format!("{remote}:latest"));
    let lock = std::fs::read_to_string(t.path("images.lock")).unwrap();
    assert!(
        lock.ends_with(&format!(
            "\n\"{remote}\":\n  image: \"app/base\"\n  tag: latest\n  digest: {digest}\n"
        )),
        "{lock}"
    );
    assert!(!lock.contains("other-app-linux"), "{lock}");
    // The dry run says it would lock.
    let dry = t.run(&["push", "base", "--lock", "--dry-run"]);
    dry.ok();
    assert!(
        dry.stdout
            .ends_with("# then write each pushed digest to $ROOT/images.lock\n"),
        "{}",
        dry.stdout
    );
}
