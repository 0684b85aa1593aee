//! clean in-process (`runner::Recorder`) on gcr, gar and acr through their CLIs
//! (`IMAGEMK_CLOUD_API=0`): gcloud and az answer with the JSON they document, as
//! tests/support/fake-cloud.py replays it (REFERENCE.md sections 3 and 4). Checked: the exact
//! commands and their order (`-j 1`, so one repository after the other), what is printed, the
//! status; a fake registry's final state becomes the exact mutating commands issued. Covered:
//! batching per repository, keep/age/untagged policies, dry run, `--json`, unexpected JSON, a
//! repository gone meanwhile, a failing step, the hints of CLI failures, a tag added after the
//! listing, a refused batch delete, Ctrl-C, a missing CLI and bad input.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::runner::{imagemk, Outcome, Recorder, Reply};

const GCR: &str = "workspace:\n  registry: gc\n  registries:\n    gc:\n      kind: gcr\n      project: proj\ncomponent: app\n";
const GAR: &str = "workspace:\n  registry: ar\n  registries:\n    ar:\n      kind: gar\n      location: us\n      project: proj\n      repository: ci\ncomponent: app\n";
const ACR: &str = "workspace:\n  registry: az\n  registries:\n    az:\n      kind: acr\n      name: myacr\n  protected_tags: [latest, stable]\ncomponent: app\n";

/// Ages in days, relative to the moment of the listing.
const OLD: i64 = 40;
const MID: i64 = 20;
const NEW: i64 = 1;

/// A manifest: its digest after `sha256:`, its tags, its age in days.
type M = (&'static str, &'static [&'static str], i64);
type Repos = Vec<(String, Vec<M>)>;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cli {
    Gcr,
    Gar,
    Acr,
}

impl Cli {
    fn of(yaml: &str) -> Cli {
        match yaml {
            GCR => Cli::Gcr,
            GAR => Cli::Gar,
            _ => Cli::Acr,
        }
    }

    /// Where the repositories of the workspace live (`one` is `{prefix}one`).
    fn prefix(self) -> &'static str {
        match self {
            Cli::Gcr => "proj/",
            Cli::Gar => "proj/ci/",
            Cli::Acr => "",
        }
    }

    fn host(self) -> &'static str {
        match self {
            Cli::Gcr => "gcr.io",
            Cli::Gar => "us-docker.pkg.dev",
            Cli::Acr => "myacr.azurecr.io",
        }
    }

    /// The listing of every repository.
    fn repositories(self) -> &'static str {
        match self {
            Cli::Gcr => "gcloud container images list --repository=gcr.io/proj --format=json",
            Cli::Gar => {
                "gcloud artifacts docker images list us-docker.pkg.dev/proj/ci --format=json"
            }
            Cli::Acr => "az acr repository list --name myacr --output json",
        }
    }

    /// The listing of the manifests of `repo`.
    fn list(self, repo: &str) -> String {
        match self {
            Cli::Gcr => format!("gcloud container images list-tags gcr.io/{repo} --format=json"),
            Cli::Gar => format!("gcloud artifacts docker images list us-docker.pkg.dev/{repo} --include-tags --format=json"),
            Cli::Acr => {
                format!("az acr manifest list-metadata --registry myacr --name {repo} --output json")
            }
        }
    }

    fn untag(self, repo: &str, tags: &[&str]) -> String {
        let image = format!("{}/{repo}", self.host());
        match self {
            Cli::Gcr => {
                let refs: Vec<String> = tags.iter().map(|t| format!("{image}:{t}")).collect();
                format!("gcloud container images untag --quiet {}", refs.join(" "))
            }
            Cli::Gar => format!(
                "gcloud artifacts docker tags delete --quiet {image}:{}",
                tags[0]
            ),
            Cli::Acr => format!(
                "az acr repository untag --name myacr --image {repo}:{}",
                tags[0]
            ),
        }
    }

    fn delete(self, repo: &str, digests: &[&str]) -> String {
        let image = format!("{}/{repo}", self.host());
        let refs: Vec<String> = digests
            .iter()
            .map(|d| format!("{image}@sha256:{d}"))
            .collect();
        match self {
            Cli::Gcr => format!("gcloud container images delete --quiet {}", refs.join(" ")),
            Cli::Gar => format!("gcloud artifacts docker images delete --quiet {}", refs[0]),
            Cli::Acr => format!(
                "az acr repository delete --name myacr --image {repo}@sha256:{} --yes",
                digests[0]
            ),
        }
    }
}

/// `days` days before now, to the second.
fn created(days: i64) -> jiff::Timestamp {
    let now = jiff::Timestamp::now().as_second();
    jiff::Timestamp::from_second(now - days * 86_400).unwrap()
}

/// What `cli` prints for the listing of every repository of `repos`.
fn repositories_json(cli: Cli, repos: &Repos) -> String {
    let mut names: Vec<&str> = repos.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    let rows: Vec<Value> = match cli {
        Cli::Gcr => names
            .iter()
            .filter(|n| n.rsplit_once('/').map(|(p, _)| p) == Some("proj"))
            .map(|n| json!({"name": format!("gcr.io/{n}")}))
            .collect(),
        Cli::Gar => names
            .iter()
            .flat_map(|n| {
                let rows = &repos.iter().find(|(r, _)| r == n).unwrap().1;
                rows.iter().map(move |m| gar_row(n, m, false))
            })
            .collect(),
        Cli::Acr => names.iter().map(|n| json!(n)).collect(),
    };
    serde_json::to_string_pretty(&rows).unwrap()
}

/// A row of `gcloud artifacts docker images list` (tags as a list with `--include-tags`,
/// else the empty string).
fn gar_row(repo: &str, (digest, tags, days): &M, include_tags: bool) -> Value {
    let time = created(*days).to_string();
    let tags = match include_tags {
        true => json!(tags),
        false => json!(""),
    };
    json!({
        "package": format!("us-docker.pkg.dev/{repo}"), "version": format!("sha256:{digest}"),
        "tags": tags, "createTime": time, "updateTime": time,
        "metadata": {"buildTime": time, "imageSizeBytes": "1024",
                     "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                     "name": "projects/p/locations/l/repositories/r/dockerImages/x"},
    })
}

/// What `cli` prints for the listing of the manifests of `repo` (`nested`: the repositories
/// under it, which gar lists too).
fn manifests_json(cli: Cli, repo: &str, rows: &[M], nested: &[(&str, &[M])]) -> String {
    let rows: Vec<Value> = match cli {
        Cli::Gcr => {
            let mut rows = rows.to_vec();
            rows.sort_by_key(|(_, _, days)| *days);
            rows.iter()
                .map(|(digest, tags, days)| {
                    let t = created(*days).to_zoned(jiff::tz::TimeZone::UTC);
                    let stamp = json!({
                        "datetime": t.strftime("%Y-%m-%d %H:%M:%S+00:00").to_string(),
                        "day": t.day(), "fold": 0, "hour": t.hour(), "microsecond": 0,
                        "minute": t.minute(), "month": t.month(), "second": t.second(),
                        "year": t.year(),
                    });
                    json!({"digest": format!("sha256:{digest}"), "tags": tags, "timestamp": stamp})
                })
                .collect()
        }
        Cli::Gar => std::iter::once((repo, rows))
            .chain(nested.iter().copied())
            .flat_map(|(r, rows)| rows.iter().map(move |m| gar_row(r, m, true)))
            .collect(),
        Cli::Acr => rows
            .iter()
            .map(|(digest, tags, days)| {
                let time = created(*days).to_string();
                let mut row = json!({
                    "digest": format!("sha256:{digest}"), "imageSize": 1024,
                    "createdTime": time, "lastUpdateTime": time,
                    "architecture": "amd64", "os": "linux",
                    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "configMediaType": "application/vnd.docker.container.image.v1+json",
                    "changeableAttributes": {"deleteEnabled": true, "writeEnabled": true,
                                             "readEnabled": true, "listEnabled": true},
                });
                if !tags.is_empty() {
                    row["tags"] = json!(tags);
                }
                row
            })
            .collect(),
    };
    serde_json::to_string_pretty(&rows).unwrap()
}

/// `rec` with the listings of `repos` appended (rules added before them win).
fn listings(rec: Recorder, cli: Cli, repos: &Repos) -> Recorder {
    let mut rec = rec.on(cli.repositories(), out(&repositories_json(cli, repos)));
    for (name, rows) in repos {
        let nested: Vec<(&str, &[M])> = repos
            .iter()
            .filter(|(n, _)| n.starts_with(&format!("{name}/")))
            .map(|(n, r)| (n.as_str(), &r[..]))
            .collect();
        let text = manifests_json(cli, name, rows, &nested);
        rec = rec.on(&cli.list(name), out(&text));
    }
    rec
}

fn out(text: &str) -> Reply {
    Reply::Out(format!("{text}\n"))
}

/// Exit status 1 with `stderr` (and its newline), as gcloud and az fail.
fn fail(stderr: &str) -> Reply {
    Reply::Fail(1, format!("{stderr}\n"))
}

/// `one` has CI-42 only, `two` has CI-42 and latest, `three` has CI-41; `four` has nothing
/// to do with it.
fn ci_registry(cli: Cli) -> Repos {
    let p = cli.prefix();
    vec![
        (
            format!("{p}one"),
            vec![("a1", &["CI-42"][..], NEW), ("a0", &["v1"][..], OLD)],
        ),
        (
            format!("{p}two"),
            vec![("b1", &["CI-42", "latest"][..], MID)],
        ),
        (format!("{p}three"), vec![("c1", &["CI-41"][..], NEW)]),
        (format!("{p}four"), vec![("d1", &[][..], OLD)]),
    ]
}

/// The recorder for `yaml`'s registry holding [`ci_registry`], after the rules of `rec`.
fn ci(rec: Recorder, yaml: &str) -> Arc<Recorder> {
    let cli = Cli::of(yaml);
    Arc::new(listings(rec, cli, &ci_registry(cli)))
}

/// `imagemk clean ARGS -j 1` in a workspace of `yaml`, every operation through the CLI.
fn clean(rec: &Arc<Recorder>, yaml: &str, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("images.yaml"), yaml).unwrap();
    let mut all = vec!["clean"];
    all.extend(args);
    if !args.contains(&"-j") {
        all.extend(["-j", "1"]);
    }
    let mut env = env.to_vec();
    env.push(("IMAGEMK_CLOUD_API", "0"));
    imagemk(rec, dir.path(), &all, &env)
}

/// The listings of `cli` for the repository list and `names` (prefixed), in this order.
fn listed(cli: Cli, names: &[&str]) -> Vec<String> {
    let mut v = vec![cli.repositories().to_string()];
    v.extend(
        names
            .iter()
            .map(|n| cli.list(&format!("{}{n}", cli.prefix()))),
    );
    v
}

fn lines(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn gcr_clean_tag_untags_deletes_and_batches_per_repository() {
    let rec = ci(Recorder::new(), GCR);
    clean(&rec, GCR, &["--tag", "CI-42"], &[]).is(
        0,
        "delete proj/one@sha256:a1  [CI-42]  `CI-42` is its only tag\n\
         untag  proj/two@sha256:b1  [CI-42 latest]  remove `CI-42`; `latest` stays\n\
         untagged 1, deleted 1, kept 0, failed 0\n",
        "",
    );
    assert_eq!(
        rec.lines(),
        lines(&[
            "gcloud container images list --repository=gcr.io/proj --format=json",
            "gcloud container images list-tags gcr.io/proj/four --format=json",
            "gcloud container images list-tags gcr.io/proj/one --format=json",
            "gcloud container images untag --quiet gcr.io/proj/one:CI-42",
            "gcloud container images delete --quiet gcr.io/proj/one@sha256:a1",
            "gcloud container images list-tags gcr.io/proj/three --format=json",
            "gcloud container images list-tags gcr.io/proj/two --format=json",
            "gcloud container images untag --quiet gcr.io/proj/two:CI-42",
        ])
    );
}

#[test]
fn gcr_batches_every_tag_and_digest_of_a_repository_into_one_call() {
    let mut rows: Vec<M> = vec![
        ("01", &["CI-1"], OLD),
        ("02", &["CI-2"], OLD),
        ("03", &["CI-3"], OLD),
        ("04", &["CI-4"], OLD),
        ("05", &["CI-5"], OLD),
        ("06", &["CI-6"], OLD),
    ];
    rows.push(("ff", &["CI-9", "latest"], OLD));
    rows.push(("ee", &["CI-8", "v2"], OLD));
    let rec = Arc::new(listings(
        Recorder::new(),
        Cli::Gcr,
        &vec![("proj/app".into(), rows)],
    ));
    let out = clean(&rec, GCR, &["--match", "CI-.*", "--yes"], &[]);
    out.ok();
    assert!(
        out.stdout
            .ends_with("untagged 2, deleted 6, kept 0, failed 0\n"),
        "{}",
        out.stdout
    );
    let mut want = listed(Cli::Gcr, &["app"]);
    want.extend(lines(&[
        "gcloud container images untag --quiet gcr.io/proj/app:CI-1 gcr.io/proj/app:CI-2 gcr.io/proj/app:CI-3 gcr.io/proj/app:CI-4 gcr.io/proj/app:CI-5 gcr.io/proj/app:CI-6 gcr.io/proj/app:CI-8 gcr.io/proj/app:CI-9",
        "gcloud container images delete --quiet gcr.io/proj/app@sha256:01 gcr.io/proj/app@sha256:02 gcr.io/proj/app@sha256:03 gcr.io/proj/app@sha256:04 gcr.io/proj/app@sha256:05 gcr.io/proj/app@sha256:06",
    ]));
    assert_eq!(rec.lines(), want);
}

#[test]
fn gar_clean_tag_untags_then_deletes_one_call_each() {
    let rec = ci(Recorder::new(), GAR);
    clean(&rec, GAR, &["--tag", "CI-42"], &[]).is(
        0,
        "delete proj/ci/one@sha256:a1  [CI-42]  `CI-42` is its only tag\n\
         untag  proj/ci/two@sha256:b1  [CI-42 latest]  remove `CI-42`; `latest` stays\n\
         untagged 1, deleted 1, kept 0, failed 0\n",
        "",
    );
    assert_eq!(
        rec.lines(),
        lines(&[
            "gcloud artifacts docker images list us-docker.pkg.dev/proj/ci --format=json",
            "gcloud artifacts docker images list us-docker.pkg.dev/proj/ci/four --include-tags --format=json",
            "gcloud artifacts docker images list us-docker.pkg.dev/proj/ci/one --include-tags --format=json",
            "gcloud artifacts docker tags delete --quiet us-docker.pkg.dev/proj/ci/one:CI-42",
            "gcloud artifacts docker images delete --quiet us-docker.pkg.dev/proj/ci/one@sha256:a1",
            "gcloud artifacts docker images list us-docker.pkg.dev/proj/ci/three --include-tags --format=json",
            "gcloud artifacts docker images list us-docker.pkg.dev/proj/ci/two --include-tags --format=json",
            "gcloud artifacts docker tags delete --quiet us-docker.pkg.dev/proj/ci/two:CI-42",
        ])
    );
}

#[test]
fn acr_keep_age_and_untagged_relist_before_each_repositorys_deletes() {
    let rec = ci(Recorder::new(), ACR);
    let args: Vec<&str> = "--match CI-.*|v1 --older-than 30d --keep 1 --untagged --yes"
        .split(' ')
        .collect();
    clean(&rec, ACR, &args, &[]).is(
        0,
        "delete four@sha256:d1  []  no tag\n\
         keep   one@sha256:a1  [CI-42]  one of the 1 newest\n\
         delete one@sha256:a0  [v1]  `v1` is its only tag\n\
         keep   three@sha256:c1  [CI-41]  one of the 1 newest\n\
         keep   two@sha256:b1  [CI-42 latest]  one of the 1 newest\n\
         untagged 0, deleted 2, kept 3, failed 0\n",
        "",
    );
    let c = Cli::Acr;
    assert_eq!(
        rec.lines(),
        vec![
            c.repositories().to_string(),
            c.list("four"),
            c.list("four"),
            c.delete("four", &["d1"]),
            c.list("one"),
            c.list("one"),
            c.delete("one", &["a0"]),
            c.list("three"),
            c.list("two"),
        ]
    );
}

#[test]
fn dry_run_prints_plan_and_commands_and_only_lists() {
    let rec = ci(Recorder::new(), GCR);
    clean(&rec, GCR, &["--tag", "CI-42", "--dry-run"], &[]).is(
        0,
        "delete proj/one@sha256:a1  [CI-42]  `CI-42` is its only tag\n\
         \x20 gcloud container images untag --quiet gcr.io/proj/one:CI-42\n\
         \x20 gcloud container images delete --quiet gcr.io/proj/one@sha256:a1\n\
         untag  proj/two@sha256:b1  [CI-42 latest]  remove `CI-42`; `latest` stays\n\
         \x20 gcloud container images untag --quiet gcr.io/proj/two:CI-42\n\
         dry run, nothing changed: would untag 1, would delete 1, kept 0, failed 0\n",
        "",
    );
    assert_eq!(
        rec.lines(),
        listed(Cli::Gcr, &["four", "one", "three", "two"])
    );
}

#[test]
fn wide_policy_without_yes_is_a_dry_run() {
    let rec = ci(Recorder::new(), GAR);
    let out = clean(&rec, GAR, &["--match", "CI-4[12]"], &[]);
    out.ok();
    assert!(
        out.stdout.ends_with(
            "dry run, nothing changed: would untag 1, would delete 2, kept 0, failed 0\n"
        ),
        "{}",
        out.stdout
    );
    assert_eq!(out.stderr, "note: this policy is wider than one exact tag, so nothing was changed; check the plan above and pass `--yes` to apply it\n");
    assert_eq!(
        rec.lines(),
        listed(Cli::Gar, &["four", "one", "three", "two"])
    );
}

#[test]
fn json_plan_and_result() {
    let rec = ci(Recorder::new(), ACR);
    let out = clean(
        &rec,
        ACR,
        &["--tag", "CI-42", "--repository", "two", "--json"],
        &[],
    );
    out.ok();
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v,
        json!({
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
    assert_eq!(
        rec.lines(),
        vec![Cli::Acr.list("two"), Cli::Acr.untag("two", &["CI-42"])]
    );
}

/// What the fake prints for broken JSON.
const BAD_JSON: &str = "{\"unexpected\": [\n";

/// What the plan prints for `two` in [`ci_registry`] with `--tag CI-42`.
const TWO_UNTAGGED: &str =
    "untag  proj/two@sha256:b1  [CI-42 latest]  remove `CI-42`; `latest` stays\n";

/// `clean --tag CI-42` on gcr with the listing of `proj/one` answering `reply`: every other
/// repository is listed, and only `two` is changed.
fn gcr_with_one_listed_as(reply: Reply) -> Outcome {
    let rec = ci(Recorder::new().on(&Cli::Gcr.list("proj/one"), reply), GCR);
    let out = clean(&rec, GCR, &["--tag", "CI-42"], &[]);
    let mut want = listed(Cli::Gcr, &["four", "one", "three", "two"]);
    want.push(Cli::Gcr.untag("proj/two", &["CI-42"]));
    assert_eq!(rec.lines(), want);
    out
}

#[test]
fn unexpected_json_names_the_command_and_deletes_nothing_there() {
    gcr_with_one_listed_as(Reply::Out(BAD_JSON.into())).is(
        1,
        &format!("{TWO_UNTAGGED}untagged 1, deleted 0, kept 0, failed 1\n"),
        "error: repository `proj/one`: `gcloud container images list-tags gcr.io/proj/one --format=json` printed unexpected JSON (invalid type: map, expected a sequence at line 1 column 0); nothing was changed\n",
    );
}

#[test]
fn unexpected_json_from_the_repository_list_stops_everything() {
    let rec = ci(
        Recorder::new().on(Cli::Acr.repositories(), Reply::Out(BAD_JSON.into())),
        ACR,
    );
    clean(&rec, ACR, &["--tag", "CI-42"], &[]).is(
        1,
        "",
        "error: `az acr repository list --name myacr --output json` printed unexpected JSON (invalid type: map, expected a sequence at line 1 column 0); nothing was changed\n",
    );
    assert_eq!(rec.lines(), listed(Cli::Acr, &[]));
}

/// Issue 8 item 21, on gcr: a repository gone after the listing (gcloud's real `Not found`)
/// holds nothing to clean; the others go on and the run succeeds.
#[test]
fn a_repository_deleted_during_the_run_is_noted_and_the_others_go_on() {
    let gone = fail("ERROR: (gcloud.container.images.list-tags) Not found: gcr.io/proj/one");
    gcr_with_one_listed_as(gone).is(
        0,
        &format!("{TWO_UNTAGGED}untagged 1, deleted 0, kept 0, failed 0\n"),
        "note: repository `proj/one` does not exist or holds no manifest; nothing to clean there\n",
    );
}

#[test]
fn a_failing_step_fails_the_run_but_not_the_other_repositories() {
    let c = Cli::Acr;
    let untag = c.untag("two", &["CI-42"]);
    let injected = fail(&format!("ERROR: injected failure for {untag}"));
    let rec = ci(Recorder::new().on("repository untag", injected), ACR);
    clean(&rec, ACR, &["--tag", "CI-42"], &[]).is(
        1,
        "delete one@sha256:a1  [CI-42]  `CI-42` is its only tag\n\
         untag  two@sha256:b1  [CI-42 latest]  remove `CI-42`; `latest` stays\n\
         untagged 0, deleted 1, kept 0, failed 1\n",
        "error: could not untag `two@sha256:b1`: `az acr repository untag --name myacr --image two:CI-42` failed with exit status 1\n  | ERROR: injected failure for az acr repository untag --name myacr --image two:CI-42\n",
    );
    assert_eq!(
        rec.lines(),
        vec![
            c.repositories().to_string(),
            c.list("four"),
            c.list("one"),
            c.list("one"),
            c.delete("one", &["a1"]),
            c.list("three"),
            c.list("two"),
            untag,
        ]
    );
}

/// azure-cli 2.91 without `az login`, on every call.
const AZ_NO_LOGIN: &str = "WARNING: Please run 'az login' to setup account.\nERROR: Unable to authenticate using AAD or admin login credentials. Please specify both username and password in non-interactive mode.";
/// The warning of azure-cli 2.91 on every `az acr manifest` call.
const AZ_PREVIEW: &str = "WARNING: Command group 'acr manifest' is in preview and under development. Reference and support levels: https://aka.ms/CLI_refstatus\n";

/// The hint fits the real text: no `az login` → `az login`; no gcloud account → `gcloud
/// auth login`; an unreachable registry → no login hint at all.
#[test]
fn cli_failures_get_the_hint_that_fixes_them() {
    let rec = ci(Recorder::new().on("az ", fail(AZ_NO_LOGIN)), ACR);
    clean(&rec, ACR, &["--tag", "CI-42"], &[]).is(
        1,
        "",
        "error: `az acr repository list --name myacr --output json` failed with exit status 1\n  | WARNING: Please run 'az login' to setup account.\n  | ERROR: Unable to authenticate using AAD or admin login credentials. Please specify both username and password in non-interactive mode.\nhint: az is not logged in: run `az login` (in CI: `az login --service-principal …`); `az acr login` alone fails the same way\n",
    );
    assert_eq!(rec.lines(), listed(Cli::Acr, &[]));

    let offline = format!("{AZ_PREVIEW}WARNING: Please run 'az login' to setup account.\nUsing 'myacr.azurecr.io' as the default registry login server.\nERROR: Could not connect to the registry login server 'myacr.azurecr.io'. Please verify that the registry exists and the URL 'https://myacr.azurecr.io/v2/' is reachable from your environment.\nTry running 'az acr check-health -n myacr --yes' to diagnose this issue.");
    let rec = ci(Recorder::new().on("az ", fail(&offline)), ACR);
    clean(&rec, ACR, &["--tag", "CI-42", "--repository", "one"], &[]).is(
        1,
        "untagged 0, deleted 0, kept 0, failed 1\n",
        &format!("error: repository `one`: `{}` failed with exit status 1\n  | {}\nhint: the registry did not answer: check its `name` in images.yaml and the network (`az acr check-health --name NAME --yes` diagnoses it)\n", Cli::Acr.list("one"), offline.replace('\n', "\n  | ")),
    );
    assert_eq!(rec.lines(), vec![Cli::Acr.list("one")]);

    let no_account = "ERROR: (gcloud.artifacts.docker.images.list) You do not currently have an active account selected.\nPlease run:\n\n  $ gcloud auth login\n\nto obtain new credentials.\n\nIf you have already logged in with a different account, run:\n\n  $ gcloud config set account ACCOUNT\n\nto select an already authenticated account to use.";
    let rec = ci(Recorder::new().on("gcloud ", fail(no_account)), GAR);
    let out = clean(&rec, GAR, &["--tag", "CI-42"], &[]);
    assert_eq!((out.status, out.stdout.as_str()), (1, ""));
    assert!(out.stderr.starts_with("error: `gcloud artifacts docker images list us-docker.pkg.dev/proj/ci --format=json` failed with exit status 1\n  | ERROR: (gcloud.artifacts.docker.images.list) You do not currently have an active account selected.\n"), "{}", out.stderr);
    assert!(out.stderr.ends_with("\nhint: gcloud has no usable account: run `gcloud auth login` (in CI: `gcloud auth activate-service-account --key-file=KEY_FILE`); `gcloud auth configure-docker` alone does not log in\n"), "{}", out.stderr);
    assert_eq!(rec.lines(), listed(Cli::Gar, &[]));
}

/// Bad input fails before any call, with one exact message.
fn rejects(yaml: &str, args: &[&str], stderr: &str) {
    let rec = ci(Recorder::new(), yaml);
    clean(&rec, yaml, args, &[]).is(1, "", stderr);
    assert!(rec.lines().is_empty(), "{:?}", rec.lines());
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
    let oci = "workspace:\n  registries:\n    local:\n      kind: oci\n      host: \"127.0.0.1:1\"\ncomponent: app\n";
    rejects(oci, &["--untagged"], "error: `--untagged` is not available for registry `local` of kind `oci`: the distribution API lists only tagged manifests\n");
}

#[test]
fn the_tag_comes_from_image_tag_too() {
    let rec = ci(Recorder::new(), GCR);
    clean(&rec, GCR, &[], &[("IMAGE_TAG", "CI-41")]).ok();
    let mut want = listed(Cli::Gcr, &["four", "one", "three"]);
    want.push(Cli::Gcr.untag("proj/three", &["CI-41"]));
    want.push(Cli::Gcr.delete("proj/three", &["c1"]));
    want.push(Cli::Gcr.list("proj/two"));
    assert_eq!(rec.lines(), want);
}

#[test]
fn a_missing_cli_is_named_before_anything_runs() {
    let rec = ci(Recorder::new().without("az"), ACR);
    clean(&rec, ACR, &["--tag", "CI-42"], &[]).is(
        1,
        "",
        "error: `az` is not installed or not on PATH; install the Azure CLI (`pip install azure-cli`), or choose another registry with `REGISTRY=…`\n",
    );
    assert!(rec.lines().is_empty(), "{:?}", rec.lines());
}

/// Issue 8 item 6: a tag pushed between the listing and the delete is never deleted. gcloud
/// refuses the delete by itself (no force flag); on acr imagemk lists again right before.
#[test]
fn a_tag_added_after_the_listing_is_never_deleted() {
    for yaml in [GCR, GAR, ACR] {
        let c = Cli::of(yaml);
        let p = c.prefix();
        let one = format!("{p}one");
        let refusal = match c {
            Cli::Gcr => "ERROR: Tags:\nERROR: (gcloud.container.images.delete) This operation will implicitly delete the tags listed above. Please manually remove with the `untag` command or re-run with --force-delete-tags to confirm.".to_string(),
            Cli::Gar => format!("ERROR: (gcloud.artifacts.docker.images.delete) Cannot delete image us-docker.pkg.dev/{one}@sha256:a1 because it is tagged. Existing tags are:\n- us-docker.pkg.dev/{one}:pushed-meanwhile"),
            Cli::Acr => String::new(),
        };
        // gcloud refuses the delete; az lists `one` again and sees the new tag.
        let pushed: &[M] = &[
            ("a1", &["CI-42", "pushed-meanwhile"], NEW),
            ("a0", &["v1"], OLD),
        ];
        let rec = match c {
            Cli::Acr => Recorder::new()
                .once(
                    &c.list(&one),
                    out(&manifests_json(c, &one, &ci_registry(c)[0].1, &[])),
                )
                .on(&c.list(&one), out(&manifests_json(c, &one, pushed, &[]))),
            _ => Recorder::new().on(&c.delete(&one, &["a1"]), fail(&refusal)),
        };
        let rec = ci(rec, yaml);
        let out = clean(&rec, yaml, &["--tag", "CI-42"], &[]);
        let error = match c {
            Cli::Acr => "not deleted: the manifest now carries `pushed-meanwhile`, which the plan did not select (tagged after the listing?)".to_string(),
            _ => format!("`{}` failed with exit status 1\n  | {}", c.delete(&one, &["a1"]), refusal.replace('\n', "\n  | ")),
        };
        out.is(
            1,
            &format!(
                "delete {one}@sha256:a1  [CI-42]  `CI-42` is its only tag\n\
                      untag  {p}two@sha256:b1  [CI-42 latest]  remove `CI-42`; `latest` stays\n\
                      untagged 1, deleted 0, kept 0, failed 1\n"
            ),
            &format!("error: could not delete `{one}@sha256:a1`: {error}\n"),
        );
        let mut want = listed(c, &["four", "one"]);
        match c {
            // CI-42 was untagged first; the delete was refused.
            Cli::Gcr | Cli::Gar => {
                want.push(c.untag(&one, &["CI-42"]));
                want.push(c.delete(&one, &["a1"]));
            }
            // Nothing was changed on the manifest.
            Cli::Acr => want.push(c.list(&one)),
        }
        want.push(c.list(&format!("{p}three")));
        want.push(c.list(&format!("{p}two")));
        want.push(c.untag(&format!("{p}two"), &["CI-42"]));
        assert_eq!(rec.lines(), want, "{yaml}");
    }
}

/// Issue 8 item 5: one digest in two rows is one manifest; `latest` in the second row keeps it.
#[test]
fn rows_of_one_digest_are_one_manifest() {
    let rows: Vec<M> = vec![("d1", &["CI-42"], OLD), ("d1", &["latest"], OLD)];
    let rec = Arc::new(listings(
        Recorder::new(),
        Cli::Gcr,
        &vec![("proj/app".into(), rows)],
    ));
    clean(&rec, GCR, &["--tag", "CI-42"], &[]).is(
        0,
        "untag  proj/app@sha256:d1  [CI-42 latest]  remove `CI-42`; `latest` stays\n\
         untagged 1, deleted 0, kept 0, failed 0\n",
        "",
    );
    let mut want = listed(Cli::Gcr, &["app"]);
    want.push(Cli::Gcr.untag("proj/app", &["CI-42"]));
    assert_eq!(rec.lines(), want);
}

/// Issue 8 item 15: text from a registry that is no digest is refused, never sliced.
#[test]
fn a_listed_digest_that_is_no_digest_fails_its_repository_without_a_panic() {
    let repos: Repos = vec![
        ("bad".into(), vec![("ééééééééééééééé", &["CI-42"][..], OLD)]),
        ("good".into(), vec![("aa", &["CI-42"][..], OLD)]),
    ];
    let rec = Arc::new(listings(Recorder::new(), Cli::Acr, &repos));
    clean(&rec, ACR, &["--tag", "CI-42"], &[]).is(
        1,
        "delete good@sha256:aa  [CI-42]  `CI-42` is its only tag\n\
         untagged 0, deleted 1, kept 0, failed 1\n",
        "error: repository `bad`: the registry listed `sha256:ééééééééééééééé` in `bad`, which is not a digest; nothing was changed in this repository\n",
    );
    let c = Cli::Acr;
    assert_eq!(
        rec.lines(),
        vec![
            c.repositories().to_string(),
            c.list("bad"),
            c.list("good"),
            c.list("good"),
            c.delete("good", &["aa"]),
        ]
    );

    // A repository name is checked before it goes into a command or a URL.
    let rec = Arc::new(listings(Recorder::new(), Cli::Acr, &repos));
    clean(&rec, ACR, &["--tag", "CI-42", "--repository", "../good"], &[]).is(
        1,
        "untagged 0, deleted 0, kept 0, failed 1\n",
        "error: repository `../good`: not a repository name imagemk can clean: `..` is not a valid repository name: path components are lowercase letters and digits separated by `.`, `_`, `__` or `-`\n",
    );
    assert!(rec.lines().is_empty(), "{:?}", rec.lines());
}

/// Issue 8 item 19: Ctrl-C during a clean-up: what ran is `done`, what never ran is `not
/// started`, and the exit status is 130.
#[test]
fn an_interrupted_clean_reports_only_what_happened() {
    let repos: Repos = vec![(
        "app".into(),
        vec![("a1", &["CI-1"][..], OLD), ("a2", &["CI-2"][..], MID)],
    )];
    let signal = Reply::OutThenInterrupt(String::new());
    let rec = Arc::new(listings(
        Recorder::new().once("repository delete", signal),
        Cli::Acr,
        &repos,
    ));
    let out = clean(&rec, ACR, &["--match", "CI-.*", "--yes", "--json"], &[]);
    assert_eq!(out.status, 130, "{out:?}");
    assert_eq!(
        out.stderr,
        "error: interrupted; the report above says what was done and what was not started\n"
    );
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let got: Vec<(&str, &str)> = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["digest"].as_str().unwrap(), a["status"].as_str().unwrap()))
        .collect();
    assert_eq!(got, [("sha256:a2", "done"), ("sha256:a1", "not started")]);
    assert_eq!(
        v["summary"],
        json!({"untagged": 0, "deleted": 1, "kept": 0, "failed": 0, "not_started": 1})
    );
    let c = Cli::Acr;
    assert_eq!(
        rec.lines(),
        vec![
            c.repositories().to_string(),
            c.list("app"),
            c.list("app"),
            c.delete("app", &["a2"]),
        ]
    );
}

/// Ctrl-C while the listing of one repository runs: nothing is changed, and the repositories
/// not reached are reported as not started.
#[test]
fn ctrl_c_during_a_listing_changes_nothing() {
    let rec = ci(
        Recorder::new().on(&Cli::Gcr.list("proj/one"), Reply::Interrupt),
        GCR,
    );
    clean(&rec, GCR, &["--tag", "CI-42"], &[]).is(
        130,
        "untagged 0, deleted 0, kept 0, failed 3\n",
        "error: repository `proj/one`: interrupted; everything imagemk had started was stopped and cleaned up\n\
         error: repository `proj/three`: not started: interrupted\n\
         error: repository `proj/two`: not started: interrupted\n\
         error: interrupted; the report above says what was done and what was not started\n",
    );
    assert_eq!(rec.lines(), listed(Cli::Gcr, &["four", "one"]));
}

/// gcr refuses a batch delete as a whole when one image in it got a tag: the others are
/// still deleted, one call each, and only the tagged one fails.
#[test]
fn gcr_a_refused_batch_delete_is_retried_one_image_at_a_time() {
    let repos: Repos = vec![(
        "proj/app".into(),
        vec![("a1", &["CI-1"][..], OLD), ("a2", &["CI-2"][..], OLD)],
    )];
    let refusal = "ERROR: Tags:\nERROR: (gcloud.container.images.delete) This operation will implicitly delete the tags listed above. Please manually remove with the `untag` command or re-run with --force-delete-tags to confirm.";
    let c = Cli::Gcr;
    let rec = Arc::new(listings(
        Recorder::new().on(&c.delete("proj/app", &["a1"]), fail(refusal)),
        c,
        &repos,
    ));
    let out = clean(&rec, GCR, &["--match", "CI-.*", "--yes"], &[]);
    out.is(
        1,
        "delete proj/app@sha256:a1  [CI-1]  `CI-1` is its only tag\n\
         delete proj/app@sha256:a2  [CI-2]  `CI-2` is its only tag\n\
         untagged 0, deleted 1, kept 0, failed 1\n",
        &format!("error: could not delete `proj/app@sha256:a1`: `gcloud container images delete --quiet gcr.io/proj/app@sha256:a1` failed with exit status 1\n  | {}\n", refusal.replace('\n', "\n  | ")),
    );
    let mut want = listed(c, &["app"]);
    want.extend([
        c.untag("proj/app", &["CI-1", "CI-2"]),
        c.delete("proj/app", &["a1", "a2"]),
        c.delete("proj/app", &["a1"]),
        c.delete("proj/app", &["a2"]),
    ]);
    assert_eq!(rec.lines(), want);
}
