//! promote in-process (`runner::Recorder`, the CLI path of gar, gcr and acr): one listing per
//! repository, then one re-tag call per image; a failing call or Ctrl-C puts back what moved
//! (pointing back, or untagging a tag that did not exist); a drifted source is refused before
//! any change; `--dry-run` prints every call and runs none; `push --atomic --dry-run`.

use std::sync::Arc;

use super::push_tests::{inspect, run_with, write, IMAGE_LS};
use crate::runner::{Outcome, Recorder, Reply};

const YAML: &str = "workspace:\n  registries:\n    gc: {kind: gcr, project: proj}\n    ar: {kind: gar, location: us, project: proj, repository: ci}\n    az: {kind: acr, name: myacr}\n    local: {kind: oci, host: \"127.0.0.1:9\", path: e2e}\ncomponent: app\nimages:\n  a: {}\n  b: {}\n";

const NOTE: &str = "# a locked tag whose registry digest differs from images.lock stops the promotion (unless --force); on a failure the tags already moved are put back\n";

fn d(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

/// `(registry, host, repository prefix)` of each cloud kind.
const KINDS: [(&str, &str, &str); 3] = [
    ("gc", "gcr.io", "proj/"),
    ("ar", "us-docker.pkg.dev", "proj/ci/"),
    ("az", "myacr.azurecr.io", ""),
];

/// A workspace whose `a` is locked at digest `1…` (tag CI-42) and `b` at `2…`.
fn workspace(host: &str, prefix: &str) -> tempfile::TempDir {
    let (a, b) = (format!("{host}/{prefix}a"), format!("{host}/{prefix}b"));
    locked(&[(&a, "a", d('1')), (&b, "b", d('2'))])
}

/// A workspace whose images.lock has, for each `(repository, image, digest)`, `app/IMAGE`
/// pinned from tag CI-42.
fn locked(entries: &[(&str, &str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(&dir, "images.yaml", YAML);
    let lock: String = entries
        .iter()
        .map(|(repo, image, digest)| {
            format!("\"{repo}\":\n  image: app/{image}\n  tag: CI-42\n  digest: {digest}\n")
        })
        .collect();
    write(&dir, "images.lock", &lock);
    dir
}

/// The listing `registry`'s CLI prints for a repository of `rows` (digest, tags), as the real
/// CLIs document it (the fields imagemk reads).
fn listing(registry: &str, package: &str, rows: &[(String, &[&str])]) -> String {
    let when = "2026-11-20T10:00:00Z";
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|(digest, tags)| match registry {
            "gc" => serde_json::json!({"digest": digest, "tags": tags, "timestamp": {"datetime": "2026-11-20 10:00:00+00:00", "day": 20, "fold": 0, "hour": 10, "microsecond": 0, "minute": 0, "month": 11, "second": 0, "year": 2026}}),
            "ar" => serde_json::json!({"package": package, "version": digest, "tags": tags, "createTime": when, "updateTime": when}),
            _ => serde_json::json!({"digest": digest, "tags": tags, "createdTime": when, "lastUpdateTime": when}),
        })
        .collect();
    serde_json::to_string_pretty(&rows).unwrap()
}

/// The cloud as the promotion finds it: `a` at `1…` (CI-42) and, when `a_had_prod`, `0…`
/// (prod); `b` at `2…` (CI-42).
fn cloud(registry: &str, host: &str, prefix: &str, a_had_prod: bool) -> Recorder {
    let (a, b) = (format!("{host}/{prefix}a"), format!("{host}/{prefix}b"));
    let mut a_rows: Vec<(String, &[&str])> = vec![(d('1'), &["CI-42"])];
    if a_had_prod {
        a_rows.push((d('0'), &["prod"]));
    }
    let b_rows: Vec<(String, &[&str])> = vec![(d('2'), &["CI-42"])];
    let (list_a, list_b) = match registry {
        "az" => ("--name a ".to_string(), "--name b ".to_string()),
        _ => (format!("{a} "), format!("{b} ")),
    };
    Recorder::new()
        .on(&list_a, Reply::Out(listing(registry, &a, &a_rows)))
        .on(&list_b, Reply::Out(listing(registry, &b, &b_rows)))
}

/// The calls a promotion of `a` and `b` to `prod` makes on each kind.
fn expected(registry: &str, host: &str, prefix: &str) -> Vec<String> {
    let (a, b) = (format!("{host}/{prefix}a"), format!("{host}/{prefix}b"));
    let (d1, d2) = (d('1'), d('2'));
    match registry {
        "gc" => vec![
            format!("gcloud container images list-tags {a} --format=json"),
            format!("gcloud container images list-tags {b} --format=json"),
            format!("gcloud container images add-tag {a}@{d1} {a}:prod --quiet"),
            format!("gcloud container images add-tag {b}@{d2} {b}:prod --quiet"),
        ],
        "ar" => vec![
            format!("gcloud artifacts docker images list {a} --include-tags --format=json"),
            format!("gcloud artifacts docker images list {b} --include-tags --format=json"),
            format!("gcloud artifacts docker tags add {a}@{d1} {a}:prod --quiet"),
            format!("gcloud artifacts docker tags add {b}@{d2} {b}:prod --quiet"),
        ],
        _ => vec![
            "az acr manifest list-metadata --registry myacr --name a --output json".into(),
            "az acr manifest list-metadata --registry myacr --name b --output json".into(),
            format!("az acr import --name myacr --source {a}@{d1} --image a:prod --force"),
            format!("az acr import --name myacr --source {b}@{d2} --image b:prod --force"),
        ],
    }
}

fn promote(rec: &Arc<Recorder>, dir: &tempfile::TempDir, registry: &str, args: &[&str]) -> Outcome {
    let mut all = vec!["promote", "--to", "prod"];
    all.extend(args);
    run_with(
        rec,
        dir.path(),
        &all,
        &[("REGISTRY", registry), ("IMAGEMK_CLOUD_API", "0")],
    )
}

#[test]
fn promote_on_each_cloud_is_one_listing_and_one_retag_per_image() {
    for (registry, host, prefix) in KINDS {
        let rec = Arc::new(cloud(registry, host, prefix, true));
        let out = promote(
            &rec,
            &workspace(host, prefix),
            registry,
            &["a", "b", "--json"],
        );
        assert_eq!(out.status, 0, "{registry}: {}", out.stderr);
        let rows: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(rows[0]["old"], d('0'), "{registry}");
        assert_eq!(rows[0]["new"], d('1'), "{registry}");
        assert_eq!(rows[1]["old"], serde_json::Value::Null, "{registry}");
        assert_eq!(rec.lines(), expected(registry, host, prefix), "{registry}");
    }
}

#[test]
fn a_failing_retag_puts_back_what_moved() {
    for (registry, host, prefix) in KINDS {
        for a_had_prod in [true, false] {
            // `a` moves first, then `b`'s call fails: `a` is pointed back, or untagged.
            let word = if registry == "az" {
                "--image b:prod --force"
            } else {
                "/b:prod --quiet"
            };
            let denied = Reply::Fail(1, "ERROR: PERMISSION_DENIED\n".into());
            let rec = Arc::new(cloud(registry, host, prefix, a_had_prod).on(word, denied));
            let out = promote(&rec, &workspace(host, prefix), registry, &["a", "b"]);
            assert_eq!(out.status, 1, "{registry}: {}", out.stdout);
            let a_name = format!("{host}/{prefix}a:prod");
            let was = match a_had_prod {
                true => format!("was `{}`", d('0')),
                false => "did not exist".into(),
            };
            assert!(
                out.stderr.ends_with(&format!(
                    "nothing changed: the 1 tag(s) already moved were put back:\n  `{a_name}` ({was})\n"
                )),
                "{registry}: {}",
                out.stderr
            );
            let a = format!("{host}/{prefix}a");
            let undo = match (registry, a_had_prod) {
                ("gc", true) => format!(
                    "gcloud container images add-tag {a}@{} {a_name} --quiet",
                    d('0')
                ),
                ("ar", true) => format!(
                    "gcloud artifacts docker tags add {a}@{} {a_name} --quiet",
                    d('0')
                ),
                (_, true) => format!(
                    "az acr import --name myacr --source {a}@{} --image a:prod --force",
                    d('0')
                ),
                ("gc", false) => format!("gcloud container images untag --quiet {a_name}"),
                ("ar", false) => format!("gcloud artifacts docker tags delete --quiet {a_name}"),
                (_, false) => "az acr repository untag --name myacr --image a:prod".into(),
            };
            let mut want = expected(registry, host, prefix);
            want.push(format!("(cleanup) {undo}"));
            assert_eq!(rec.lines(), want, "{registry} {a_had_prod}");
        }
    }
}

#[test]
fn ctrl_c_mid_promote_puts_back_what_moved() {
    for (registry, host, prefix) in KINDS {
        // `a`'s re-tag completes, then Ctrl-C: `b` is not started, `a` goes back.
        let a_move = expected(registry, host, prefix)[2].clone();
        let rec =
            cloud(registry, host, prefix, true).on(&a_move, Reply::OutThenInterrupt(String::new()));
        let rec = Arc::new(rec);
        let out = promote(&rec, &workspace(host, prefix), registry, &["a", "b"]);
        assert_eq!(out.status, 130, "{registry}: {}", out.stderr);
        assert!(
            out.stderr.ends_with(&format!(
                "nothing changed: the 1 tag(s) already moved were put back:\n  `{host}/{prefix}a:prod` (was `{}`)\n",
                d('0')
            )),
            "{registry}: {}",
            out.stderr
        );
        let a = format!("{host}/{prefix}a");
        let undo = match registry {
            "gc" => format!(
                "gcloud container images add-tag {a}@{} {a}:prod --quiet",
                d('0')
            ),
            "ar" => format!(
                "gcloud artifacts docker tags add {a}@{} {a}:prod --quiet",
                d('0')
            ),
            _ => format!(
                "az acr import --name myacr --source {a}@{} --image a:prod --force",
                d('0')
            ),
        };
        let mut want = expected(registry, host, prefix);
        want.truncate(3);
        want.push(format!("(cleanup) {undo}"));
        // `b` was never moved.
        assert_eq!(rec.lines(), want, "{registry}");
    }
}

#[test]
fn dry_run_prints_every_call_and_runs_none() {
    let rec = Arc::new(Recorder::new());
    let out = promote(
        &rec,
        &workspace("gcr.io", "proj/"),
        "gc",
        &["a", "b", "--dry-run"],
    );
    out.is(
        0,
        &(expected("gc", "gcr.io", "proj/").join("\n") + "\n" + NOTE),
        "",
    );
    assert!(rec.lines().is_empty());
    let dir = locked(&[("127.0.0.1:9/e2e/a", "a", d('1'))]);
    let base = "http://127.0.0.1:9/v2/e2e/a/manifests";
    run_with(&rec, dir.path(), &["promote", "--to", "prod", "a", "-n"], &[("REGISTRY", "local")]).is(
        0,
        &format!("HEAD {base}/CI-42\nHEAD {base}/prod\nGET {base}/{}, then PUT {base}/prod (the same bytes and Content-Type)\n{NOTE}", d('1')),
        "",
    );
    assert!(rec.lines().is_empty());
}

#[test]
fn a_drifted_source_is_refused_before_any_change() {
    let (host, prefix) = ("us-docker.pkg.dev", "proj/ci/");
    let dir = locked(&[("us-docker.pkg.dev/proj/ci/a", "a", d('0'))]);
    let rec = Arc::new(cloud("ar", host, prefix, true));
    promote(&rec, &dir, "ar", &["a"]).is(1, "", &format!(
        "error: the registry no longer has what images.lock says, so nothing was promoted:\n  `us-docker.pkg.dev/proj/ci/a:CI-42` is at `{}`; images.lock says `{}`\nhint: pin again (`imagemk pin`) to promote what is there now, or pass `--force` to promote the locked digests\n",
        d('1'),
        d('0')
    ));
    // Only the listing ran.
    assert_eq!(rec.lines(), expected("ar", host, prefix)[..1]);
}

#[test]
fn push_atomic_dry_run_stages_then_moves_then_removes() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir, "images.yaml", YAML);
    let (local, remote) = ("local/a-app-linux:v1", "127.0.0.1:9/e2e/a-app-linux");
    let id = d('7');
    let rec = Recorder::new()
        .on("image ls", Reply::Out(format!("{local}\n")))
        .on(&inspect(local), Reply::Out(format!("{id}\n")))
        .on(
            "docker image inspect --format '{{.Id}}'",
            Reply::Fail(1, "Error: No such image\n".into()),
        );
    let rec = Arc::new(rec);
    let out = run_with(
        &rec,
        dir.path(),
        &[
            "push",
            "a",
            "--tag",
            "v1",
            "--atomic",
            "--dry-run",
            "--registry",
            "local",
        ],
        &[],
    );
    out.ok();
    let stage = out.stdout.split("imagemk-stage-").nth(1).unwrap();
    let stage = format!(
        "imagemk-stage-{}",
        &stage[..stage.find(char::is_whitespace).unwrap()]
    );
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
    assert_eq!(rec.lines()[0], IMAGE_LS);
    assert!(
        rec.lines().iter().all(|c| c.starts_with("docker image")),
        "{:#?}",
        rec.lines()
    );
}
