//! What a build run did, per image: the exit status and, with `build --json`, one record per
//! image (built, up to date, tagged, pulled, failed, skipped) with reasons and image IDs.

use serde_json::{json, Value};

use super::Ctx;
use crate::config::Workspace;
use crate::engine::image;
use crate::plan::{Action, BuildPlan, Decision};
use crate::scheduler::State;
use crate::{exec, signal};

/// 0, or the error of the failed steps (one message each); `Interrupted` after a signal.
pub fn result(plan: &BuildPlan, states: &[State]) -> anyhow::Result<i32> {
    if signal::interrupted() {
        return Err(signal::Interrupted.into());
    }
    let failures = crate::scheduler::failures(states);
    let _ = plan;
    match failures.len() {
        0 => Ok(0),
        1 => anyhow::bail!("{}", failures[0]),
        n => anyhow::bail!(
            "{n} images failed to build:\n{}",
            failures
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// A decision as data (also the dry run's `decisions`).
pub fn decision_json(ws: &Workspace, d: &Decision) -> Value {
    let (action, from) = match &d.action {
        Action::UpToDate => ("up to date", None),
        Action::Tag(src) => ("tag", Some(src.clone())),
        Action::Pulled(id) => ("pulled", Some(id.clone())),
        Action::Build => ("build", None),
    };
    json!({
        "image": ws.shown_id(d.image),
        "name": ws.images[d.image].name.to_string(),
        "decision": action,
        "from": from,
        "selected": d.selected,
        "inputs": d.digest,
        "reasons": d.reasons,
    })
}

/// Prints one JSON record per image of the plan, in dependency order, with the image IDs
/// the engine reports afterwards (one `docker image inspect`).
pub fn print(ctx: &Ctx, plan: &BuildPlan, states: &[State]) -> anyhow::Result<()> {
    let ws = &ctx.ws;
    let step_of: std::collections::HashMap<usize, usize> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(p, s)| (s.image, p))
        .collect();
    let rows: Vec<(usize, &'static str, Option<String>)> = plan
        .decisions
        .iter()
        .map(|d| {
            let step = step_of.get(&d.image).copied();
            let (outcome, detail) = match (step.map(|p| &states[p]), &d.action) {
                (None, Action::Pulled(_)) => ("pulled", None),
                (None, _) => ("up to date", None),
                (Some(State::Done), Action::Tag(_)) => ("tagged", None),
                (Some(State::Done), _) => ("built", None),
                (Some(State::Failed(e)), _) => ("failed", Some(e.to_string())),
                (Some(State::Skipped(p)), _) => {
                    ("skipped", Some(format!("needs {}", plan.steps[*p].id)))
                }
                (Some(_), _) => ("skipped", Some("not started".to_string())),
            };
            (d.image, outcome, detail)
        })
        .collect();
    let names: Vec<String> = rows
        .iter()
        .filter(|r| matches!(r.1, "up to date" | "tagged" | "built" | "pulled"))
        .map(|r| ws.images[r.0].name.to_string())
        .collect();
    let ids = image_ids(&names);
    let id_of: std::collections::HashMap<&String, &String> = names.iter().zip(&ids).collect();
    let out: Vec<Value> = rows
        .iter()
        .zip(&plan.decisions)
        .map(|((i, outcome, detail), d)| {
            let mut v = decision_json(ws, d);
            let name = ws.images[*i].name.to_string();
            v["outcome"] = json!(outcome);
            v["error"] = json!(detail);
            v["id"] = json!(id_of.get(&name));
            v
        })
        .collect();
    crate::console::outln!(
        "{}",
        serde_json::to_string_pretty(&json!({ "images": out }))?
    );
    Ok(())
}

fn image_ids(names: &[String]) -> Vec<String> {
    if names.is_empty() {
        return Vec::new();
    }
    let cmd = image::inspect_each(names, "{{.Id}}");
    exec::capture(&cmd)
        .map(|c| c.stdout.lines().map(str::to_string).collect::<Vec<_>>())
        .ok()
        .filter(|l| l.len() == names.len())
        .unwrap_or_default()
}
