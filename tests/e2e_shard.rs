//! `build --shard I/N` on the real engine and the real registry (distribution): two shards run
//! one after the other, each on a "fresh machine" (the local images removed between them),
//! build the five-image workspace between them, each only its part, and the registry ends up
//! holding the same names with the same input digests as a one-machine build. Shard 2 started
//! before shard 1 has pushed waits for the image it needs and gives up after `--shard-wait`.

mod support;

use std::collections::BTreeMap;

use serde_json::Value;
use support::{docker, engine, remove_images, Registry, Test, BUSYBOX_BASE};

const IMAGES: [&str; 5] = ["a1", "b1", "a2", "b2", "top"];

/// a1 → a2 and b1 → b2, `top` FROM a2 and COPY --from b2; registry `local` at `host`.
fn workspace(t: &Test, ns: &str, host: &str) {
    t.busybox("ctx");
    t.file(
        "images.yaml",
        &format!(
            "workspace:\n  registry: local\n  registries:\n    local: {{kind: oci, host: \"{host}\", path: {ns}}}\ndefaults:\n  namespace: {ns}\n  platform: bb\ncomponent: e2e\nimages:\n  a1: {{dockerfile: a1.dockerfile, context: ctx}}\n  a2: {{dockerfile: a2.dockerfile, context: ctx}}\n  b1: {{dockerfile: b1.dockerfile, context: ctx}}\n  b2: {{dockerfile: b2.dockerfile, context: ctx}}\n  top: {{dockerfile: top.dockerfile, context: ctx}}\n"
        ),
    );
    for (img, from) in [
        ("a1", None),
        ("b1", None),
        ("a2", Some("a1")),
        ("b2", Some("b1")),
    ] {
        let base = match from {
            None => BUSYBOX_BASE.to_string(),
            Some(p) => format!("FROM {ns}/{p}-e2e-bb:latest\n"),
        };
        t.file(
            &format!("{img}.dockerfile"),
            &format!("{base}RUN echo {img} > /{img}\n"),
        );
    }
    t.file(
        "top.dockerfile",
        &format!("FROM {ns}/a2-e2e-bb:latest\nCOPY --from={ns}/b2-e2e-bb:latest /b2 /b2\nRUN cat /a1 /a2 /b2 > /all\n"),
    );
}

fn inputs_label(name: &str) -> String {
    docker(&[
        "image",
        "inspect",
        "--format",
        "{{index .Config.Labels \"io.imagemk.inputs\"}}",
        name,
    ])
    .1
}

/// Every image's local name → its input-digest label.
fn digests(ns: &str) -> BTreeMap<String, String> {
    IMAGES
        .iter()
        .map(|i| {
            let name = format!("{ns}/{i}-e2e-bb:latest");
            let d = inputs_label(&name);
            (name, d)
        })
        .collect()
}

/// The `build --json` outcome per image id.
fn outcomes(stdout: &str) -> BTreeMap<String, String> {
    let doc: Value = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    doc["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["image"].as_str().unwrap().to_string(),
                e["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn two_shards_one_after_the_other_build_what_one_machine_builds() {
    if !engine() {
        return;
    }
    let reg = Registry::start();
    let t = Test::new();
    let ns = t.namespace();
    workspace(&t, &ns, &reg.host());
    let result = std::panic::catch_unwind(|| {
        // One machine, no registry involved: the reference.
        t.run(&["build", "--all"]).ok();
        let one_machine = digests(&ns);
        assert!(one_machine.values().all(|d| d.starts_with("sha256:")));
        remove_images(&ns);
        // It measured every build; shards would split by those times. Here: by count.
        let measured: BTreeMap<String, f64> = serde_json::from_str(
            &std::fs::read_to_string(t.path(".imagemk/durations.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(measured.len(), 5, "{measured:?}");
        std::fs::remove_file(t.path(".imagemk/durations.json")).unwrap();

        // The plan: shard 1 holds level 0, shard 2 the rest.
        let plan = t.run(&["plan", "--all", "--json", "--shards", "2"]);
        plan.ok();
        let doc: Value = serde_json::from_str(&plan.stdout).unwrap();
        assert_eq!(
            doc["shards"][0]["images"],
            serde_json::json!(["e2e/a1", "e2e/b1"])
        );

        // Shard 2 first: a1 and b1 are not in the registry; it waits 1s and builds nothing.
        let early = t.run(&["build", "--all", "--shard", "2/2", "--shard-wait", "1s"]);
        assert_eq!(early.status, 1, "{}", early.stderr);
        assert!(
            early
                .stderr
                .contains("is not in registry `local` after waiting 1s; did that shard fail?"),
            "{}",
            early.stderr
        );
        assert_eq!(docker(&["image", "ls", "-q", &format!("{ns}/*")]).1, "");

        // Shard 1, then shard 2 on a fresh machine.
        let one = t.run(&["build", "--all", "--shard", "1/2", "--json"]);
        one.ok();
        assert_eq!(
            outcomes(&one.stdout),
            map(&[("e2e/a1", "built"), ("e2e/b1", "built")])
        );
        remove_images(&ns);
        let two = t.run(&["build", "--all", "--shard", "2/2", "--json"]);
        two.ok();
        assert_eq!(
            outcomes(&two.stdout),
            map(&[
                ("e2e/a2", "built"),
                ("e2e/b2", "built"),
                ("e2e/top", "built")
            ])
        );
        assert!(two.stderr.contains("pulled"), "{}", two.stderr);
        assert!(
            !t.exists(".imagemk/durations.json"),
            "shards record no times"
        );

        // A third fresh machine pulls everything: same names, same input digests.
        remove_images(&ns);
        t.run(&["pull", "--all"]).ok();
        assert_eq!(digests(&ns), one_machine);
        let (status, all) = docker(&[
            "run",
            "--rm",
            &format!("{ns}/top-e2e-bb:latest"),
            "cat",
            "/all",
        ]);
        assert_eq!((status, all.as_str()), (0, "a1\na2\nb2"));
    });
    remove_images(&ns);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// Both shards at once: shard 2 starts first and waits in the registry for a1 and b1; once it
/// says so, shard 1 runs; shard 2 then pulls them and builds the rest.
#[test]
fn two_shards_at_once_wait_for_each_other() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    if !engine() {
        return;
    }
    let reg = Registry::start();
    let t = Test::new();
    let ns = t.namespace();
    workspace(&t, &ns, &reg.host());
    let result = std::panic::catch_unwind(|| {
        let args = [
            "build",
            "--all",
            "--shard",
            "2/2",
            "--shard-wait",
            "5m",
            "--json",
        ];
        let mut cmd = t.command(support::BIN, &args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut two = cmd.spawn().unwrap();
        let mut lines = BufReader::new(two.stderr.take().unwrap()).lines();
        let mut seen = Vec::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            let waiting = line.contains("| waiting for `");
            seen.push(line);
            if waiting {
                break;
            }
        }
        assert!(seen.last().is_some_and(|l| l.contains(":in-")), "{seen:?}");
        t.run(&["build", "--all", "--shard", "1/2"]).ok();
        let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
        let out = two.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{seen:?}\n{rest:?}");
        assert_eq!(
            outcomes(&stdout),
            map(&[
                ("e2e/a2", "built"),
                ("e2e/b2", "built"),
                ("e2e/top", "built")
            ])
        );
    });
    remove_images(&ns);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
