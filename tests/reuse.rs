//! Reuse from the registry without an engine: `workspace.reuse` / `REUSE` / make's `REUSE`, the
//! look-up against the fake registry (found, missing, unauthorized, 500, no answer within
//! `IMAGEMK_REUSE_TIMEOUT`), which only ever reads, and the ageing out of `in-` tags on the
//! fake cloud. `push` adding the input-digest tag is tested in-process in
//! `src/commands/push_tests.rs`.

mod support;

use std::path::Path;

use imagemk::commands::{reuse as build_reuse, Ctx};
use imagemk::config::{self, Env, Overrides};
use imagemk::progress::Progress;
use imagemk::reference::ImageRef;
use imagemk::registry::reuse::{self, Lookup};
use imagemk::registry::{Kind, Registry};
use serde_json::json;
use support::{digest_of, FakeRegistry, Test};

const LOCAL: &str = "kontain/test-km-linux:CI-42";

fn workspace(extra_ws: &str) -> Test {
    let mut t = Test::new();
    let engine = format!("unix://{}/docker.sock", t.root.display());
    t.env("DOCKER_HOST", &engine);
    t.file(
        "images.yaml",
        &format!(
            "workspace:\n  registry: local\n  registries:\n    local: {{kind: oci, host: \"registry.example.com:5000\", path: team}}\n  publish:\n    refuse_tags:\n      test: [latest]\n{extra_ws}defaults:\n  namespace: kontain\ncomponent: km\nimages:\n  test: {{}}\n"
        ),
    )
    .file("docker/test-linux.dockerfile", "FROM scratch\n")
    .file("images", &format!("{LOCAL}\n"))
    .file("tags", &format!("{LOCAL} {}\n", digest_of(LOCAL)))
    .fake_docker();
    t
}

fn ctx(t: &Test, env: &[(&str, &str)]) -> anyhow::Result<Ctx> {
    let env = Env::from_pairs(env);
    let ws = config::load(&t.root, &Overrides::default(), &env)?;
    Ok(Ctx {
        ws,
        env,
        progress: Progress::plain(),
        dry_run: false,
        cwd: t.root.clone(),
    })
}

#[test]
fn reuse_is_on_by_flag_environment_or_images_yaml() {
    let off = workspace("");
    let on = workspace("  reuse: registry\n");
    let wanted = |t: &Test, env: &[(&str, &str)], flag: bool, no: bool| {
        build_reuse::wanted(&ctx(t, env).unwrap(), flag, no).map_err(|e| e.to_string())
    };
    assert_eq!(wanted(&off, &[], false, false), Ok(false));
    assert_eq!(wanted(&on, &[], false, false), Ok(true));
    assert_eq!(wanted(&off, &[("REUSE", "1")], false, false), Ok(true));
    assert_eq!(wanted(&on, &[("REUSE", "0")], false, false), Ok(false));
    assert_eq!(wanted(&on, &[("REUSE", "1")], false, true), Ok(false));
    assert_eq!(wanted(&off, &[("REUSE", "0")], true, false), Ok(true));
    assert_eq!(
        wanted(&off, &[("REUSE", "maybe")], false, false),
        Err("`REUSE=maybe` is not yes or no; use `REUSE=1` to pull images built from the same inputs, `REUSE=0` to build locally".into())
    );
    let bad = workspace("  reuse: registri\n");
    let err = ctx(&bad, &[]).err().unwrap();
    let text = format!("{err:#}");
    assert!(
        text.contains("images.yaml:8:10") && text.contains("registri"),
        "{text}"
    );
    // On without any registry: an error before anything runs.
    let none = Test::new();
    none.file("images.yaml", "component: app\n");
    let err = build_reuse::Reuse::new(&ctx(&none, &[]).unwrap(), true)
        .err()
        .unwrap();
    assert_eq!(err.to_string(), "reuse from the registry: no registry is configured; add one under `workspace.registries` in the root images.yaml");
}

#[test]
fn make_passes_reuse_as_a_yes_no_flag() {
    let t = workspace("");
    let mk = concat!(env!("CARGO_MANIFEST_DIR"), "/make/images.mk");
    t.file("Makefile", &format!("include {mk}\n"));
    let recipe = |var: &[&str]| {
        let mut args = vec!["-n", "-s", "test-image", "IMAGEMK=/bin/true"];
        args.extend(var);
        t.make(&args)
    };
    let line = |o: &support::Output| o.stdout.lines().last().unwrap_or("").to_string();
    assert!(line(&recipe(&["REUSE=1"])).ends_with("--reuse"));
    assert!(line(&recipe(&["REUSE=no"])).ends_with("--no-reuse"));
    assert!(!line(&recipe(&[])).contains("reuse"));
    let bad = recipe(&["REUSE=$(shell touch pwned)"]);
    assert_ne!(bad.status, 0);
    assert!(
        bad.stderr.contains("REUSE must be 1 or 0"),
        "{}",
        bad.stderr
    );
    assert!(!t.exists("pwned"));
}

fn oci(host: &str) -> Registry {
    Registry {
        name: "local".into(),
        kind: Kind::Oci,
        host: host.into(),
        path: String::new(),
    }
}

fn name(host: &str, tag: &str) -> ImageRef {
    ImageRef::parse(&format!("{host}/ns/app:{tag}")).unwrap()
}

/// A docker config with `user:pass` for `host`.
fn creds(t: &Test, host: &str) -> Env {
    t.file(
        ".docker/config.json",
        &json!({"auths": {host: {"auth": "dXNlcjpwYXNz"}}}).to_string(),
    );
    Env::from_pairs(&[("DOCKER_CONFIG", t.path(".docker").to_str().unwrap())])
}

#[test]
fn lookup_against_the_fake_registry_reads_only() {
    let t = Test::new();
    let d = format!("sha256:{}", "ab".repeat(32));
    let state = json!({"repos": {"ns/app": {"tags": {"in-0123456789abcdef": d}}},
        "manifest_faults": {"in-5000000000000000": 500, "in-dead000000000000": "hang"}});
    let reg = FakeRegistry::start(&t, &state, "user:pass");
    let host = reg.host();
    let r = oci(&host);
    let env = creds(&t, &host);
    let names: Vec<ImageRef> = [
        "in-0123456789abcdef",
        "in-ffffffffffffffff",
        "in-5000000000000000",
    ]
    .iter()
    .map(|tag| name(&host, tag))
    .collect();
    let got = reuse::lookup_all(&r, &env, &names, 4);
    assert_eq!(
        got[0],
        Lookup::Found {
            digest: Some(d.clone())
        }
    );
    assert_eq!(got[1], Lookup::Missing);
    assert_eq!(got[2], Lookup::Unavailable {
        why: format!("registry `{host}` answered 500 to the look-up of `{host}/ns/app:in-5000000000000000`"),
    });
    // A repository that does not exist is missing too.
    assert_eq!(
        reuse::lookup(
            &r,
            &env,
            &ImageRef::parse(&format!("{host}/ns/other:in-0123456789abcdef")).unwrap()
        ),
        Lookup::Missing
    );
    // Without credentials: unavailable, with the login hint.
    let got = reuse::lookup(&r, &Env::from_pairs(&[]), &names[0]);
    let Lookup::Unavailable { why } = got else {
        panic!("{got:?}")
    };
    assert!(
        why.starts_with(&format!("registry `{host}` is unauthorized")),
        "{why}"
    );
    assert!(why.ends_with(&format!("\nhint: registry `local` refused the credentials docker has for `{host}`; log in with `imagemk login --registry local` (`make login REGISTRY=local`), which runs `docker login {host}`")), "{why}");
    // Nothing but reads reached the registry.
    let methods: Vec<String> = reg.requests().into_iter().map(|(_, r)| r).collect();
    assert!(
        methods
            .iter()
            .all(|m| m.starts_with("HEAD /v2/ns/") || m.starts_with("GET /token?")),
        "{methods:#?}"
    );
    assert!(methods.iter().filter(|m| m.starts_with("HEAD")).count() >= 4);
}

#[test]
fn a_registry_that_hangs_is_unavailable_after_the_timeout() {
    // `IMAGEMK_REUSE_TIMEOUT` shortens the default wait (`reuse::TIMEOUT`, 10 s) to 1 s.
    let t = Test::new();
    let state = json!({"repos": {"ns/app": {"tags": {}}}, "manifest_faults": {"in-dead000000000000": "hang"}});
    let reg = FakeRegistry::start(&t, &state, "user:pass");
    let host = reg.host();
    creds(&t, &host);
    let env = Env::from_pairs(&[
        ("DOCKER_CONFIG", t.path(".docker").to_str().unwrap()),
        ("IMAGEMK_REUSE_TIMEOUT", "1s"),
    ]);
    let wait = reuse::timeout(&env).unwrap();
    assert_eq!(wait, std::time::Duration::from_secs(1));
    let start = std::time::Instant::now();
    let got = reuse::lookup(&oci(&host), &env, &name(&host, "in-dead000000000000"));
    let took = start.elapsed();
    let Lookup::Unavailable { why } = got else {
        panic!("{got:?}")
    };
    assert!(why.contains("is unreachable"), "{why}");
    assert!(took >= wait && took < wait * 2, "{took:?}");
    let _ = Path::new(&reg.log);
}

const GCR: &str = "workspace:\n  registry: gc\n  registries:\n    gc:\n      kind: gcr\n      project: proj\ncomponent: app\n";

#[test]
fn clean_ages_out_input_digest_tags_on_the_fake_cloud() {
    let mut t = Test::new();
    t.file("images.yaml", GCR);
    t.fake_cloud(&[(
        "proj/app",
        &[
            ("a1", &["CI-42", "in-0123456789abcdef"][..], "now-40d"),
            ("a2", &["in-1111111111111111"][..], "now-1d"),
            ("a3", &["in-2222222222222222", "latest"][..], "now-20d"),
            ("a4", &["in-3333333333333333"][..], "now-30d"),
        ][..],
    )]);
    // `--tag CI-42` never takes the `in-` tag on the same image.
    let out = t.run(&["clean", "--tag", "CI-42", "--dry-run"]);
    out.ok();
    assert_eq!(
        out.stdout,
        "untag  proj/app@sha256:a1  [CI-42 in-0123456789abcdef]  remove `CI-42`; `in-0123456789abcdef` stays\n  gcloud container images untag --quiet gcr.io/proj/app:CI-42\ndry run, nothing changed: would untag 1, would delete 0, kept 0, failed 0\n"
    );
    let out = t.run(&["clean", "--match", "^in-", "--older-than", "14d", "--yes"]);
    out.ok();
    assert_eq!(
        out.stdout,
        "keep   proj/app@sha256:a2  [in-1111111111111111]  not older than 14d\n\
         untag  proj/app@sha256:a3  [in-2222222222222222 latest]  remove `in-2222222222222222`; `latest` stays\n\
         delete proj/app@sha256:a4  [in-3333333333333333]  `in-3333333333333333` is its only tag\n\
         untag  proj/app@sha256:a1  [CI-42 in-0123456789abcdef]  remove `in-0123456789abcdef`; `CI-42` stays\n\
         untagged 2, deleted 1, kept 1, failed 0\n"
    );
    assert_eq!(
        t.cloud_state(),
        [
            "proj/app a1 CI-42",
            "proj/app a2 in-1111111111111111",
            "proj/app a3 latest",
        ]
    );
}
