//! `imagemk doctor` against the fake docker (engine down, rootless, buildx or not), with and
//! without a workspace, a missing host file with its hint, a registry down or up (the real
//! registry on loopback), and on the real engine.

mod support;

use support::{engine, Registry, Test};

const WS: &str = "workspace:\n  registries:\n    local: {kind: oci, host: \"127.0.0.1:9\"}\ncomponent: c\nimages:\n  a:\n    stage:\n      - {from: /nonexistent/busybox, to: busybox, hint: \"`apt-get install busybox-static`\"}\n      - {from: /bin/sh, to: sh}\n";

fn lines(out: &support::Output) -> Vec<&str> {
    out.stdout.lines().collect()
}

#[test]
fn engine_down_no_workspace_still_checks_the_engine_and_says_so() {
    let t = Test::new();
    t.fake_docker().file("engine-down", "");
    let out = t.run(&["doctor"]);
    assert_eq!(out.status, 1, "{out:?}");
    assert_eq!(
        lines(&out),
        [
            "✗ engine: unreachable: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?; fix: start the engine (`sudo systemctl start docker`) or point DOCKER_HOST at a running one",
            "✓ builder: legacy builder (the docker CLI has no buildx plugin; BuildKit-only Dockerfile features are unavailable)",
            "✗ workspace: no `images.yaml` in `$ROOT` or any directory above it; imagemk needs a workspace file (see the README's configuration reference); fix: run imagemk in a workspace (a directory with `images.yaml`, or below one) or give `-C DIR`",
        ]
    );
    assert_eq!(out.stderr, "");
}

#[test]
fn docker_missing_is_a_failed_engine_check() {
    let mut t = Test::new();
    t.without("docker");
    let out = t.run(&["doctor", "--json"]);
    assert_eq!(out.status, 1, "{out:?}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["schema"], 1);
    assert_eq!(v["checks"][0]["name"], "engine");
    assert_eq!(v["checks"][0]["ok"], false);
    assert_eq!(v["checks"][1]["name"], "workspace");
}

#[test]
fn rootless_buildx_and_a_workspace_with_a_missing_host_file() {
    let t = Test::new();
    t.fake_docker().file("rootless", "").file("buildx", "");
    t.file("images.yaml", WS)
        .file("Dockerfile", "FROM scratch\n");
    let out = t.run(&["doctor"]);
    assert_eq!(out.status, 1, "{out:?}");
    assert_eq!(
        lines(&out),
        [
            "✓ engine: Docker Engine 20.10.24+dfsg1 (client 28.2.2)",
            "✓ rootless: rootless engine (containers run as your user; `--user` maps into your user namespace)",
            "✓ storage driver: overlay2",
            "✓ builder: BuildKit available (github.com/docker/buildx v0.12.1 30feaa1)",
            "✓ workspace: `$ROOT/images.yaml`: 1 image in 1 component (members: none)",
            "✓ host file /bin/sh: present (staged by c/a)",
            "✗ host file /nonexistent/busybox: missing (staged by c/a); fix: `apt-get install busybox-static`",
            "✗ registry local: registry `127.0.0.1:9` is unreachable (io: Connection refused (os error 111)); fix: start the registry at `127.0.0.1:9`, or fix `host` of registry `local` in images.yaml",
        ]
    );
    // Read-only: only `docker info` and `docker buildx version` ran.
    assert_eq!(
        t.docker_log(),
        [
            "docker info --format \\{\\{json\\ .\\}\\}",
            "docker buildx version"
        ]
    );
}

#[test]
fn json_has_a_stable_shape() {
    let t = Test::new();
    t.fake_docker();
    t.file("images.yaml", "component: c\nimages:\n  a: {}\n")
        .file("Dockerfile", "FROM scratch\n");
    let out = t.run(&["doctor", "--json"]);
    assert_eq!(out.status, 0, "{out:?}");
    assert!(out.stdout.starts_with("{\n  \"schema\": 1,\n  \"checks\": [\n    {\n      \"name\": \"engine\",\n      \"ok\": true,\n      \"detail\": \"Docker Engine 20.10.24+dfsg1 (client 28.2.2)\",\n      \"fix\": null\n    },"), "{}", out.stdout);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let names: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "engine",
            "rootless",
            "storage driver",
            "builder",
            "workspace"
        ]
    );
    assert_eq!(v["checks"][1]["detail"], "rootful engine");
    assert_eq!(v["checks"][3]["detail"], "legacy builder (the docker CLI has no buildx plugin; BuildKit-only Dockerfile features are unavailable)");
}

#[test]
fn a_workspace_that_does_not_load_is_a_failed_check() {
    let t = Test::new();
    t.fake_docker();
    t.file("images.yaml", "imags: {}\n");
    let out = t.run(&["doctor"]);
    assert_eq!(out.status, 1);
    assert!(
        out.stdout.contains(
            "\n✗ workspace: `$ROOT/images.yaml:1:1`: unknown key `imags`; did you mean `images`?"
        ),
        "{}",
        out.stdout
    );
    assert!(out.stdout.starts_with("✓ engine: "), "{}", out.stdout);
}

#[test]
fn cloud_registries_need_their_cli_and_docker_credentials() {
    let mut t = Test::new();
    t.fake_docker();
    t.fake(
        "gcloud",
        "#!/bin/sh\necho 'Google Cloud SDK 528.0.0'\necho 'core 2025.06.20'\n",
    );
    t.file("images.yaml", "workspace:\n  registries:\n    g: {kind: gar, location: us, project: p, repository: r}\n    a: {kind: acr, name: myreg}\ncomponent: c\nimages: {}\n");
    t.env("DOCKER_CONFIG", &t.path("dockercfg").display().to_string());
    t.file(
        "dockercfg/config.json",
        "{\"auths\": {\"us-docker.pkg.dev\": {\"auth\": \"dXNlcjpzM2NyZXQ=\"}}}",
    );
    let mut t2 = t;
    t2.without("az");
    // `without` keeps only basic tools: put the fakes back.
    let bin = t2.path(".bin").display().to_string();
    let path = format!("{bin}:{}", t2.path(".nobin").display());
    t2.env("PATH", &path);
    let out = t2.run(&["doctor"]);
    assert_eq!(out.status, 1, "{out:?}");
    let l = lines(&out);
    let tail = &l[l.len() - 4..];
    assert_eq!(
        tail,
        [
            "✗ registry a credentials: docker has no credentials for `myreg.azurecr.io`; fix: `az acr login --name myreg` (after `az login`)",
            "✓ registry g credentials: docker has credentials for `us-docker.pkg.dev`",
            "✗ cli az: `az` is not installed; fix: install the Azure CLI (`pip install azure-cli`, or Microsoft's packages)",
            "✓ cli gcloud: Google Cloud SDK 528.0.0",
        ]
    );
    assert!(!out.stdout.contains("s3cret") && !out.stdout.contains("dXNlcjpzM2NyZXQ="));
}

#[test]
fn real_engine_and_registry() {
    if !engine() {
        return;
    }
    let mut reg = Registry::start();
    let t = Test::new();
    t.file(
        "images.yaml",
        &format!("workspace:\n  registries:\n    local: {{kind: oci, host: \"{}\"}}\ncomponent: c\nimages: {{}}\n", reg.host()),
    );
    let out = t.run(&["doctor"]);
    assert_eq!(out.status, 0, "{out:?}");
    let l = lines(&out);
    assert!(l[0].starts_with("✓ engine: Docker Engine "), "{l:?}");
    assert!(l.contains(&"✓ rootless: rootful engine"), "{l:?}");
    assert!(
        l.iter().any(|x| x.starts_with("✓ storage driver: ")),
        "{l:?}"
    );
    assert!(l.iter().any(|x| x.starts_with("✓ builder: ")), "{l:?}");
    assert!(
        l.contains(
            &format!(
                "✓ registry local: `{}` answered GET /v2/ with 200",
                reg.host()
            )
            .as_str()
        ),
        "{l:?}"
    );
    assert!(
        l.contains(
            &format!(
                "✓ registry local credentials: none needed (`{}` answered without them)",
                reg.host()
            )
            .as_str()
        ),
        "{l:?}"
    );
    reg.stop();
}

#[test]
fn a_registry_that_wants_credentials_gets_them_from_docker_config_or_a_login_fix() {
    use base64::Engine;
    use support::FakeRegistry;
    let mut t = Test::new();
    t.fake_docker();
    let reg = FakeRegistry::start(&t, &serde_json::json!({"repos": {}}), "alice:s3cret");
    t.file(
        "images.yaml",
        &format!("workspace:\n  registries:\n    r: {{kind: oci, host: \"{}\"}}\ncomponent: c\nimages: {{}}\n", reg.host()),
    );
    let config = t.path("docker").display().to_string();
    t.env("DOCKER_CONFIG", &config);
    let host = reg.host();
    let out = t.run(&["doctor"]);
    assert_eq!(out.status, 1, "{out:?}");
    let l = lines(&out);
    assert_eq!(
        &l[l.len() - 2..],
        [
            format!("✓ registry r: `{host}` answered GET /v2/ and wants credentials"),
            format!("✗ registry r credentials: registry `{host}` is unauthorized (token endpoint `http://{host}/token` answered 401); fix: `docker login {host}`"),
        ]
    );
    for (creds, ok) in [("alice:s3cret", true), ("alice:wrong", false)] {
        let auth = base64::engine::general_purpose::STANDARD.encode(creds);
        t.file(
            "docker/config.json",
            &format!("{{\"auths\": {{\"{host}\": {{\"auth\": \"{auth}\"}}}}}}"),
        );
        let out = t.run(&["doctor"]);
        let last = lines(&out).last().unwrap().to_string();
        if ok {
            assert_eq!(out.status, 0, "{out:?}");
            assert_eq!(last, format!("✓ registry r credentials: docker has credentials for `{host}` and it accepts them"));
        } else {
            assert_eq!(out.status, 1, "{out:?}");
            assert!(
                last.starts_with("✗ registry r credentials: registry "),
                "{last}"
            );
        }
        assert!(
            !out.stdout.contains("s3cret") && !out.stdout.contains(&auth),
            "{}",
            out.stdout
        );
    }
}
