//! `imagemk plan`: the JSON schema (field names, order and types), its version field, the
//! table, and that planning never builds, tags or pulls (fake docker).

mod support;

use serde_json::Value;
use support::Test;

/// `base` (args, FROM scratch) and `app` (depends on base, a target) with a registry chosen.
fn workspace() -> Test {
    let t = Test::new();
    t.fake_docker();
    t.file(
        "images.yaml",
        "workspace:\n  registry: r\n  registries:\n    r: {kind: oci, host: \"localhost:5000\", path: team}\ndefaults:\n  namespace: acme\n  platform: tiny\ncomponent: core\nimages:\n  base:\n    dockerfile: docker/base.dockerfile\n    context: docker\n    args: {A: \"1\"}\n  app:\n    dockerfile: docker/app.dockerfile\n    context: docker\n    target: final\n    depends: [base]\n",
    );
    t.file("docker/base.dockerfile", "FROM scratch\nARG A\n");
    t.file("docker/app.dockerfile", "FROM scratch AS final\n");
    t
}

/// The JSON type of `v` as the schema names it.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Field names in document order with their types (needs serde_json's order: parsed back
/// into a map, the order would be lost, so the raw text is scanned for the keys).
fn shape(text: &str, v: &Value) -> Vec<(String, &'static str)> {
    let obj = v.as_object().unwrap();
    let mut keys: Vec<(usize, String)> = obj
        .keys()
        .map(|k| (text.find(&format!("\"{k}\":")).unwrap(), k.clone()))
        .collect();
    keys.sort();
    keys.into_iter()
        .map(|(_, k)| {
            let t = kind(&obj[&k]);
            (k, t)
        })
        .collect()
}

#[test]
fn plan_json_has_the_documented_shape() {
    let t = workspace();
    let out = t.run(&["plan", "--all", "--json"]);
    out.ok();
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    let pairs = |v: &[(&str, &'static str)]| -> Vec<(String, &'static str)> {
        v.iter().map(|(k, t)| (k.to_string(), *t)).collect()
    };
    assert_eq!(
        shape(&out.stdout, &doc),
        pairs(&[
            ("schema", "number"),
            ("registry", "string"),
            ("images", "array"),
            ("shards", "null"),
        ])
    );
    let images = doc["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    let app = &images[1];
    // Every field of an entry, in order (the entry's own text keeps the order).
    let start = out.stdout.find("\"id\": \"core/app\"").unwrap();
    assert_eq!(
        shape(&out.stdout[start - 10..], app),
        pairs(&[
            ("id", "string"),
            ("name", "string"),
            ("remote", "string"),
            ("dockerfile", "string"),
            ("context", "string"),
            ("args", "object"),
            ("target", "string"),
            ("depends", "array"),
            ("selected", "bool"),
            ("digest", "string"),
            ("decision", "string"),
            ("from", "null"),
            ("reasons", "array"),
            ("command", "object"),
            ("shard", "null"),
        ])
    );
    assert_eq!(app["name"], "acme/app-core-tiny:latest");
    assert_eq!(app["remote"], "localhost:5000/team/app-core-tiny:latest");
    assert_eq!(app["dockerfile"], "docker/app.dockerfile");
    assert_eq!(app["context"], "docker");
    assert_eq!(app["target"], "final");
    assert_eq!(app["depends"], serde_json::json!(["core/base"]));
    assert_eq!(app["decision"], "build");
    assert!(app["digest"].as_str().unwrap().starts_with("sha256:"));
    let cmd = &app["command"];
    let keys: Vec<&String> = cmd.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 3, "{cmd}");
    assert_eq!(cmd["argv"][0], "docker");
    assert_eq!(cmd["argv"][1], "build");
    assert!(cmd["line"].as_str().unwrap().starts_with("docker build "));
    assert!(cmd["line"].as_str().unwrap().contains("--target final"));
    assert_eq!(cmd["stdin"], "context");
    let base = &images[0];
    assert_eq!(base["args"], serde_json::json!({"A": "1"}));
    assert_eq!(base["target"], Value::Null);
    // Planning asks the engine read-only and never builds.
    let log = t.docker_log();
    assert!(
        log.iter()
            .all(|l| l.starts_with("docker image inspect") || l.starts_with("docker image ls")),
        "{log:?}"
    );
}

/// `--shards N`: every entry names its shard (from 1) and `shards` lists each one's `--shard`
/// argument and images; dependencies never sit in a later shard than their dependents.
#[test]
fn plan_shards_assigns_every_image_once() {
    let t = workspace();
    t.file("docker/more.dockerfile", "FROM scratch\n");
    let yaml = std::fs::read_to_string(t.path("images.yaml")).unwrap();
    t.file(
        "images.yaml",
        &format!("{yaml}  one: {{dockerfile: docker/more.dockerfile, context: docker}}\n  two: {{dockerfile: docker/more.dockerfile, context: docker}}\n"),
    );
    let out = t.run(&["plan", "--all", "--json", "--shards", "2"]);
    out.ok();
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["schema"], 1);
    let shard_of = |id: &str| {
        doc["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap()["shard"]
            .as_u64()
            .unwrap()
    };
    // By level: base, one, two (level 0), then app (level 1): 2 and 2.
    assert_eq!(
        doc["shards"],
        serde_json::json!([
            {"index": 1, "arg": "1/2", "images": ["core/base", "core/one"]},
            {"index": 2, "arg": "2/2", "images": ["core/two", "core/app"]},
        ])
    );
    assert_eq!(
        ["core/base", "core/one", "core/two", "core/app"].map(shard_of),
        [1, 1, 2, 2]
    );
    let table = t.run(&["plan", "--all", "--shards", "2"]);
    table.ok();
    assert!(
        table.stdout.starts_with("IMAGE      SHARD  DECISION"),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains("\ncore/app   2      build"),
        "{}",
        table.stdout
    );
    // Measured build times weigh instead of the count: a slow base is a shard of its own.
    t.file(
        ".imagemk/durations.json",
        r#"{"core/base": 100, "core/one": 1, "core/two": 1, "core/app": 1}"#,
    );
    let out = t.run(&["plan", "--all", "--json", "--shards", "2"]);
    out.ok();
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["shards"][0]["images"], serde_json::json!(["core/base"]));
}

#[test]
fn plan_json_carries_schema_version_one() {
    let t = workspace();
    let out = t.run(&["plan", "base", "--json"]);
    out.ok();
    assert!(
        out.stdout.starts_with("{\n  \"schema\": 1,\n"),
        "{}",
        out.stdout
    );
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["images"].as_array().unwrap().len(), 1);
}

#[test]
fn plan_without_json_is_a_table_and_builds_nothing() {
    let t = workspace();
    let out = t.run(&["plan", "--all"]);
    out.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    assert!(lines[0].starts_with("IMAGE"));
    assert!(lines[1].starts_with("core/base  build"), "{}", lines[1]);
    assert!(lines[2].contains("localhost:5000/team/app-core-tiny:latest"));
    assert!(t.docker_log().iter().all(|l| !l.contains(" build ")));
}

#[test]
fn plan_of_an_unknown_image_fails_before_docker() {
    let t = workspace();
    let out = t.run(&["plan", "nope", "--json"]);
    assert_eq!(out.status, 1);
    assert!(out.stderr.contains("`nope`"), "{}", out.stderr);
    assert!(t.docker_log().is_empty());
}

/// A closure of more than 500 images lists the local images once (`docker image ls`) instead
/// of one `docker image inspect` of every name (the CLI asks the daemon once per name).
#[test]
fn a_huge_closure_lists_instead_of_inspecting_every_name() {
    let t = Test::new();
    t.fake_docker();
    let mut yaml =
        String::from("defaults: {namespace: acme, platform: p}\ncomponent: big\nimages:\n");
    for i in 0..600 {
        let dep = if i + 1 < 600 {
            format!(", depends: [i{}]", i + 1)
        } else {
            String::new()
        };
        yaml.push_str(&format!(
            "  i{i}: {{dockerfile: d/Dockerfile, context: d{dep}}}\n"
        ));
    }
    t.file("images.yaml", &yaml);
    t.file("d/Dockerfile", "FROM scratch\n");
    let out = t.run(&["plan", "--all", "--json"]);
    out.ok();
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    let images = doc["images"].as_array().unwrap();
    assert_eq!(images.len(), 600);
    // Reversed chain: the last image first, each after its dependency.
    assert_eq!(images[0]["id"], "big/i599");
    assert_eq!(images[599]["id"], "big/i0");
    let log = t.docker_log();
    assert!(log[0].starts_with("docker image ls"), "{log:?}");
    assert!(log.iter().all(|l| !l.contains(" build ")), "{log:?}");
}

/// `plan --arg` plans with the run's build values, as `build --arg` would build: the args,
/// the input digest and the command change; an arg no image declares is the same error.
#[test]
fn plan_takes_the_run_args_of_build() {
    let t = workspace();
    let plain = t.run(&["plan", "--all", "--json"]);
    plain.ok();
    let out = t.run(&["plan", "--all", "--json", "--arg", "base:A=2"]);
    out.ok();
    let (before, after): (Value, Value) = (
        serde_json::from_str(&plain.stdout).unwrap(),
        serde_json::from_str(&out.stdout).unwrap(),
    );
    let base = |v: &Value| -> Value {
        v["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == "core/base")
            .unwrap()
            .clone()
    };
    assert_eq!(base(&after)["args"]["A"], "2");
    assert_ne!(base(&after)["digest"], base(&before)["digest"]);
    let argv = base(&after)["command"]["argv"].to_string();
    assert!(argv.contains("\"--build-arg\",\"A=2\""), "{argv}");
    let out = t.run(&["plan", "--all", "--arg", "NOPE=1"]);
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(out.stderr.contains("NOPE"), "{}", out.stderr);
    assert!(t
        .docker_log()
        .iter()
        .all(|l| !l.starts_with("docker build")));
}

/// A reader that stops early (`imagemk list | head -1`) is no error: no panic, status 0, and
/// the run goes on to its end.
#[test]
fn a_closed_stdout_is_no_panic() {
    let t = workspace();
    for args in [
        &["list"][..],
        &["plan", "--all", "--json"],
        &["build", "--all", "--dry-run"],
        &["schema"],
        &["man"],
        &["completions", "bash"],
        &["doctor", "--json"],
    ] {
        let (reader, writer) = os_pipe::pipe().unwrap();
        drop(reader);
        let out = t
            .command(support::BIN, args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // doctor's own status is its checks' (the fake engine has no registry to reach).
        if args[0] != "doctor" {
            assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        }
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
