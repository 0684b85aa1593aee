//! Reuse from the registry on the real engine and the real registry (distribution 2.8): push
//! an image labelled `io.imagemk.inputs` → the `in-` tag is in the registry with the main tag's
//! digest; remove the local image → the look-up finds it and `Reuse::reuse` pulls it under its
//! local name with the pushed image ID, leaving no other tag; clean-up ages out `in-` tags
//! with `--match '^in-' --older-than AGE` and never with `--tag T`. Also measures one look-up
//! over HTTP against one `docker manifest inspect`.

mod support;

use std::time::Instant;

use imagemk::commands::{reuse as build_reuse, Ctx};
use imagemk::config::{self, Env, Overrides};
use imagemk::progress::Progress;
use imagemk::reference::ImageRef;
use imagemk::registry::reuse::{self, Lookup};
use imagemk::registry::Registry as Reg;
use support::{docker, image_id, local_tags, remove_images, FakeRegistry, Registry, Test};

fn ctx(t: &Test) -> Ctx {
    ctx_with(t, &[])
}

fn ctx_with(t: &Test, env: &[(&str, &str)]) -> Ctx {
    let env = Env::from_pairs(env);
    Ctx {
        ws: config::load(
            &t.root,
            &Overrides {
                tag: Some("v1".into()),
                ..Default::default()
            },
            &env,
        )
        .unwrap(),
        env,
        progress: Progress::plain(),
        dry_run: false,
        cwd: t.root.clone(),
    }
}

/// A workspace with registry `local` at `host` (path: the test's namespace) and one image
/// `app/base`, built FROM scratch with the label `io.imagemk.inputs=<inputs>`.
fn labelled(host: &str) -> (Test, String, String, String) {
    let t = Test::new();
    let ns = t.namespace();
    t.file(
        "images.yaml",
        &format!(
            "workspace:\n  registries:\n    local: {{kind: oci, host: \"{host}\", path: {ns}}}\n  reuse: registry\ndefaults:\n  namespace: {ns}\ncomponent: app\nimages:\n  base: {{}}\n"
        ),
    )
    .file("docker/base-linux.dockerfile", "FROM scratch\n")
    .file("ctx/Dockerfile", &format!("FROM scratch\nLABEL test={ns}\n"));
    let inputs = support::digest_of(&ns);
    let local = format!("{ns}/base-app-linux:v1");
    let label = format!("{}={inputs}", reuse::LABEL);
    let ctx_dir = t.path("ctx");
    let (status, out) = docker(&[
        "build",
        "-q",
        "--label",
        &label,
        "-t",
        &local,
        ctx_dir.to_str().unwrap(),
    ]);
    assert_eq!(status, 0, "{out}");
    (t, ns, local, inputs)
}

#[test]
fn push_then_reuse_pulls_the_same_image_under_its_local_name() {
    if !support::engine() {
        return;
    }
    let reg = Registry::start();
    let host = reg.host();
    let (t, ns, local, inputs) = labelled(&host);
    let id = image_id(&local);
    let out = t.run(&["push", "base", "--tag", "v1"]);
    out.ok();
    let in_tag = format!("in-{}", &inputs["sha256:".len()..][..16]);
    let repo = format!("{ns}/base-app-linux");
    assert_eq!(
        support::api::tags(&host, &repo),
        [in_tag.clone(), "v1".to_string()]
    );
    assert_eq!(
        local_tags(&ns),
        vec![local.clone()],
        "push left only the user's tag"
    );

    // Same manifest under both tags.
    let r = Reg {
        name: "local".into(),
        kind: imagemk::registry::Kind::Oci,
        host: host.clone(),
        path: ns.clone(),
    };
    let env = Env::from_pairs(&[]);
    let remote_in = ImageRef::parse(&format!("{host}/{repo}:{in_tag}")).unwrap();
    let remote_v1 = ImageRef::parse(&format!("{host}/{repo}:v1")).unwrap();
    let found = reuse::lookup(&r, &env, &remote_in);
    assert!(
        matches!(found, Lookup::Found { digest: Some(_) }),
        "{found:?}"
    );
    assert_eq!(found, reuse::lookup(&r, &env, &remote_v1));
    assert!(
        out.stdout.contains(&format!("{remote_in}@")),
        "{}",
        out.stdout
    );

    // A fresh machine: no local image. The look-up finds it, the pull gives the local name.
    assert_eq!(docker(&["image", "rm", &local]).0, 0);
    let c = ctx(&t);
    assert!(build_reuse::wanted(&c, false, false).unwrap());
    let reuse = build_reuse::Reuse::new(&c, true).unwrap().unwrap();
    reuse.look_up(&c, &[(0, inputs.clone())]).unwrap();
    let task = c.progress.task("app/base", "reusing");
    let pulled = reuse
        .reuse(&c, 0, &inputs, &task)
        .unwrap()
        .expect("found in the registry");
    task.finish(true, "pulled");
    assert_eq!(pulled.id, id);
    assert_eq!(image_id(&local), id);
    assert_eq!(
        local_tags(&ns),
        vec![local.clone()],
        "no stray remote-named tag"
    );
    // Another input digest is not there: None, nothing pulled.
    let other = format!("sha256:{}", "f".repeat(64));
    let task = c.progress.task("app/base", "reusing");
    assert!(reuse.reuse(&c, 0, &other, &task).unwrap().is_none());
    task.finish(true, "built");
    // Every request the look-ups made was a read (the registry's own log is not kept here;
    // the fake registry test pins the methods).

    measure(&r, &env, &remote_in);
    clean_ages_out_input_tags(&t, &host, &repo, &in_tag);
    remove_images(&ns);
}

/// One look-up over HTTP versus one `docker manifest inspect`, averaged over 20 each.
fn measure(r: &Reg, env: &Env, name: &ImageRef) {
    let n = 20;
    let start = Instant::now();
    for _ in 0..n {
        assert!(matches!(reuse::lookup(r, env, name), Lookup::Found { .. }));
    }
    let http = start.elapsed() / n;
    let start = Instant::now();
    for _ in 0..n {
        let (status, _) = docker(&["manifest", "inspect", "--insecure", &name.to_string()]);
        assert_eq!(status, 0);
    }
    let cli = start.elapsed() / n;
    eprintln!("MEASURED one look-up: HTTP HEAD {http:?}, docker manifest inspect {cli:?}");
}

fn clean_ages_out_input_tags(t: &Test, host: &str, repo: &str, in_tag: &str) {
    // `--tag v1` never selects the `in-` tag on the same manifest.
    let out = t.run(&["clean", "--registry", "local", "--tag", "v1", "--dry-run"]);
    out.ok();
    assert!(
        out.stdout
            .contains(&format!("remove `v1`; `{in_tag}` stays")),
        "{}",
        out.stdout
    );
    // Young: kept.
    let out = t.run(&["clean", "--match", "^in-", "--older-than", "14d", "--yes"]);
    out.ok();
    assert!(out.stdout.contains("not older than 14d"), "{}", out.stdout);
    assert_eq!(
        support::api::tags(host, repo),
        [in_tag.to_string(), "v1".to_string()]
    );
    // Old enough: only the `in-` tag goes, `v1` stays.
    let out = t.run(&["clean", "--match", "^in-", "--older-than", "0s", "--yes"]);
    out.ok();
    assert_eq!(
        support::api::tags(host, repo),
        ["v1".to_string()],
        "{}",
        out.stdout
    );
}

#[test]
fn a_found_image_that_cannot_be_pulled_is_built_and_leaves_no_tag() {
    if !support::engine() {
        return;
    }
    let t = Test::new();
    let ns = t.namespace();
    let inputs = support::digest_of(&ns);
    let in_tag = format!("in-{}", &inputs["sha256:".len()..][..16]);
    let repo = format!("{ns}/base-app-linux");
    let state = serde_json::json!({"repos": {&repo: {"tags": {&in_tag: format!("sha256:{}", "ab".repeat(32))}}}});
    let fake = FakeRegistry::start(&t, &state, "user:pass");
    let host = fake.host();
    t.file(
        "images.yaml",
        &format!(
            "workspace:\n  registries:\n    local: {{kind: oci, host: \"{host}\", path: {ns}}}\ndefaults:\n  namespace: {ns}\ncomponent: app\nimages:\n  base: {{}}\n"
        ),
    )
    .file(
        ".docker/config.json",
        &serde_json::json!({"auths": {&host: {"auth": "dXNlcjpwYXNz"}}}).to_string(),
    );
    let config = t.path(".docker").display().to_string();
    let c = ctx_with(&t, &[("DOCKER_CONFIG", &config)]);
    let reuse = build_reuse::Reuse::new(&c, true).unwrap().unwrap();
    // The look-up (with credentials) finds it; docker's pull (without) cannot get it.
    let task = c.progress.task("app/base", "reusing");
    let got = reuse.reuse(&c, 0, &inputs, &task).unwrap();
    task.finish(true, "building");
    assert!(got.is_none());
    assert_eq!(local_tags(&ns), Vec::<String>::new());
    let methods: Vec<String> = fake.requests().into_iter().map(|(_, r)| r).collect();
    assert!(
        methods
            .iter()
            .all(|m| m.starts_with("HEAD ") || m.starts_with("GET ")),
        "{methods:#?}"
    );
}

/// Issue 10's end-to-end proof through the CLI: build two images (one FROM the other), push
/// them, remove them locally, then `build --reuse`: both are pulled and tagged, no docker
/// build runs, and the local names carry the pushed image IDs; no remote-named tag is left.
#[test]
fn build_reuse_pulls_what_another_machine_pushed_instead_of_building() {
    if !support::engine() {
        return;
    }
    let reg = Registry::start();
    let host = reg.host();
    let t = Test::new();
    let ns = t.namespace();
    t.file(
        "images.yaml",
        &format!(
            "workspace:\n  registries:\n    local: {{kind: oci, host: \"{host}\", path: {ns}}}\ndefaults:\n  namespace: {ns}\ncomponent: app\nimages:\n  base: {{}}\n  top: {{}}\n"
        ),
    )
    .file(
        "docker/base-linux.dockerfile",
        &format!("FROM scratch\nCOPY marker /marker\nLABEL test={ns}\n"),
    )
    .file(
        "docker/top-linux.dockerfile",
        &format!("FROM {ns}/base-app-linux:v1\nCOPY marker /top-marker\n"),
    )
    .file("marker", &ns);
    let names = [
        format!("{ns}/base-app-linux:v1"),
        format!("{ns}/top-app-linux:v1"),
    ];
    let result = std::panic::catch_unwind(|| {
        t.run(&["build", "--all", "--tag", "v1"]).ok();
        let ids: Vec<String> = names.iter().map(|n| image_id(n)).collect();
        t.run(&[
            "push",
            "--all",
            "--tag",
            "v1",
            "--registry",
            "local",
            "--force",
        ])
        .ok();
        for n in &names {
            assert_eq!(docker(&["image", "rm", n]).0, 0);
        }
        let out = t.run(&[
            "build",
            "--all",
            "--tag",
            "v1",
            "--registry",
            "local",
            "--reuse",
            "--json",
        ]);
        assert_eq!(out.status, 0, "{out:?}");
        assert!(
            !out.stderr.contains("Step 1/"),
            "a build ran: {}",
            out.stderr
        );
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let outcomes: Vec<String> = v["images"]
            .as_array()
            .or_else(|| v.as_array())
            .unwrap_or_else(|| panic!("unexpected --json: {v}"))
            .iter()
            .map(|i| i["outcome"].as_str().unwrap_or("?").to_string())
            .collect();
        assert_eq!(outcomes, ["pulled", "pulled"], "{v}");
        let now: Vec<String> = names.iter().map(|n| image_id(n)).collect();
        assert_eq!(now, ids, "the pulled images are the pushed ones");
        assert_eq!(
            local_tags(&ns),
            names.to_vec(),
            "only the local names are left"
        );
    });
    remove_images(&ns);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
