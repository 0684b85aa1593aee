//! Table tests of `plan::build`, in the style of rust-analyzer's `check(input, expect)`: a
//! workspace loaded in-process, facts written as data (which local image carries which input
//! digest), and the plan rendered as one line per decision and one per step. The decisions
//! (up to date, tag, build, with reasons) and the step order are pinned without an engine.

use std::collections::BTreeMap;

use super::{build, Action, BuildRequest, Facts, LocalImage};
use crate::config::{tests::workspace, Workspace};

/// base ← lib ← app, and a separate tool.
const WS: &str = "\
=== images.yaml
defaults: {namespace: ns, platform: p}
component: c
images:
  base: {dockerfile: d/base.dockerfile, context: d}
  lib: {dockerfile: d/lib.dockerfile, context: d, depends: [base]}
  app: {dockerfile: d/app.dockerfile, context: d, depends: [lib]}
  tool: {dockerfile: d/base.dockerfile, context: d}
=== d/base.dockerfile
FROM scratch
=== d/lib.dockerfile
FROM ns/base-c-p:latest
=== d/app.dockerfile
FROM ns/lib-c-p:latest
";

/// The digest numbered `n` (`sha256:` and 64 hex digits).
fn digest(n: u32) -> String {
    format!("sha256:{n:064x}")
}

/// The number of the input digest of the image `key`: base 1, lib 2, app 3, tool 4.
fn number(key: &str) -> u32 {
    ["base", "lib", "app", "tool"]
        .iter()
        .position(|k| *k == key)
        .map_or(0, |n| n as u32 + 1)
}

/// Facts for every image of `ws`: the input digest of `key` is [`digest`]`(number(key))`;
/// `local` lists the local images as `(name, number of the digest its label carries)`.
fn facts(ws: &Workspace, local: &[(&str, u32)]) -> Facts {
    let inputs = (0..ws.images.len())
        .map(|i| (i, (digest(number(&ws.images[i].key)), BTreeMap::new())))
        .collect();
    let local = local
        .iter()
        .map(|(name, label)| {
            let image = LocalImage {
                id: format!("id-{name}"),
                inputs: Some(digest(*label)),
            };
            (name.to_string(), image)
        })
        .collect();
    Facts {
        inputs,
        local: Some(local),
        ..Facts::default()
    }
}

fn request(ws: &Workspace, selected: &[&str], tweak: impl Fn(&mut BuildRequest)) -> BuildRequest {
    let mut req = BuildRequest {
        selected: selected.iter().map(|s| ws.find(s).unwrap()).collect(),
        ..BuildRequest::default()
    };
    tweak(&mut req);
    req
}

/// The plan as text: `id: action (reasons)` per decision, then `step: first words of the
/// command [waits for]` per step.
fn render(ws: &Workspace, req: &BuildRequest, facts: &Facts) -> String {
    let plan = build(ws, req, facts).unwrap();
    let mut out = String::new();
    for d in &plan.decisions {
        let action = match &d.action {
            Action::UpToDate => "up to date".to_string(),
            Action::Tag(from) => format!("tag from {from}"),
            Action::Pulled(id) => format!("pulled {id}"),
            Action::Build => "build".to_string(),
        };
        let id = &ws.images[d.image].id;
        out.push_str(&format!("{id}: {action} ({})\n", d.reasons.join("; ")));
    }
    for (n, s) in plan.steps.iter().enumerate() {
        let words: Vec<&str> = s.cmd.args.iter().map(String::as_str).take(1).collect();
        out.push_str(&format!(
            "step {n}: {} {} {:?}\n",
            s.id,
            words.join(" "),
            s.deps
        ));
    }
    out
}

fn check(req: impl Fn(&Workspace) -> BuildRequest, local: &[(&str, u32)], expected: &str) {
    let (_dir, ws) = workspace(WS);
    let got = render(&ws, &req(&ws), &facts(&ws, local));
    assert_eq!(got.trim(), expected.trim(), "\n--- got ---\n{got}");
}

#[test]
fn nothing_local_builds_the_closure_in_dependency_order() {
    check(
        |ws| request(ws, &["app"], |_| {}),
        &[],
        "
c/base: build (no local image)
c/lib: build (no local image)
c/app: build (no local image)
step 0: c/base build []
step 1: c/lib build [0]
step 2: c/app build [1]
",
    );
}

#[test]
fn up_to_date_images_are_skipped_and_a_changed_one_rebuilds_what_is_on_it() {
    check(
        |ws| request(ws, &["app"], |_| {}),
        &[
            ("ns/base-c-p:latest", 1),
            ("ns/lib-c-p:latest", 99),
            ("ns/app-c-p:latest", 3),
        ],
        "
c/base: up to date (up to date (inputs 000000000000…))
c/lib: build (inputs changed (the local image has inputs 000000000000…, not recorded here))
c/app: build (parent c/lib rebuilt)
step 0: c/lib build []
step 1: c/app build [0]
",
    );
}

#[test]
fn another_tag_carrying_the_digest_is_tagged_not_built() {
    check(
        |ws| request(ws, &["tool"], |_| {}),
        &[("ns/tool-c-p:old", 4)],
        "
c/tool: tag from ns/tool-c-p:old (no local image; `ns/tool-c-p:old` carries the same inputs: tagged, not built)
step 0: c/tool tag []
",
    );
}

#[test]
fn force_and_deps_build_what_is_up_to_date() {
    let local = [("ns/base-c-p:latest", 1), ("ns/lib-c-p:latest", 2)];
    check(
        |ws| request(ws, &["lib"], |r| r.force = true),
        &local,
        "
c/base: up to date (up to date (inputs 000000000000…))
c/lib: build (forced)
step 0: c/lib build []
",
    );
    check(
        |ws| request(ws, &["lib"], |r| r.rebuild_deps = true),
        &local,
        "
c/base: build (forced)
c/lib: build (parent c/base rebuilt)
step 0: c/base build []
step 1: c/lib build [0]
",
    );
}
