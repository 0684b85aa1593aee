//! `imagemk clean`: lists every repository of the registry (in parallel), plans with
//! `clean::policy`, prints the plan, then (unless it is a dry run) carries it out repository by
//! repository in parallel. A failing repository never stops the others; any failure makes the
//! exit status 1.

use std::sync::Mutex;

use serde_json::json;

use super::Ctx;
use crate::clean::policy::{Policy, Request};
use crate::clean::{Action, Verb};
use crate::cli::CleanArgs;
use crate::registry::backend::{Backend, Step};
use crate::registry::{self, Kind};
use crate::scheduler;

/// What happened to one repository.
#[derive(Default)]
struct Outcome {
    actions: Vec<Action>,
    steps: Vec<Step>,
    /// Per action: `None` planned or done, `Some(error)` failed.
    errors: Vec<Option<String>>,
    /// Listing failed (nothing was planned or changed).
    error: Option<String>,
}

pub fn run(ctx: &Ctx, args: &CleanArgs, tag: Option<String>) -> anyhow::Result<i32> {
    let policy = Policy::new(&Request {
        tag,
        matches: args.matches.clone(),
        exclude: args.exclude.clone(),
        older_than: args.older_than.clone(),
        keep: args.keep,
        untagged: args.untagged,
        protected: ctx.ws.protected_tags.clone(),
    })?;
    let reg = registry::choose(&ctx.ws.registries, ctx.ws.registry.as_deref())?;
    if policy.untagged && reg.kind == Kind::Oci {
        anyhow::bail!("`--untagged` is not available for registry `{}` of kind `oci`: the distribution API lists only tagged manifests", reg.name);
    }
    let backend = Backend::new(&reg, &ctx.env)?;
    let wide_without_yes = policy.is_wide() && !args.yes;
    let dry = ctx.dry_run || wide_without_yes;
    let repos = match args.repositories.is_empty() {
        true => backend.repositories(&reg.path)?,
        false => args
            .repositories
            .iter()
            .map(|r| join(&reg.path, r))
            .collect(),
    };
    let jobs = super::parallel::jobs(ctx, args.jobs, 8);
    let outcomes: Vec<Mutex<Outcome>> = repos.iter().map(|_| Mutex::default()).collect();
    let independent = vec![Vec::new(); repos.len()];
    let now = jiff::Timestamp::now();
    let listed = scheduler::run(&independent, jobs, true, |i, _| {
        let mut out = outcomes[i].lock().unwrap();
        match backend.list(&repos[i], policy.needs_time()) {
            Ok(repo) => {
                out.actions = policy.plan(&repo, now);
                out.steps = backend.steps(&repos[i], &out.actions);
                out.errors = vec![None; out.actions.len()];
            }
            Err(e) => out.error = Some(format!("{e:#}")),
        }
        Ok(())
    });
    interrupted(&listed, &outcomes);
    if !dry {
        let applied = scheduler::run(&independent, jobs, true, |i, _| {
            let mut out = outcomes[i].lock().unwrap();
            let steps = out.steps.clone();
            for step in steps {
                if crate::signal::interrupted() {
                    for &a in &step.actions {
                        out.errors[a].get_or_insert_with(|| "not done: interrupted".into());
                    }
                    continue;
                }
                if let Err(e) = backend.apply(&step.op) {
                    for &a in &step.actions {
                        out.errors[a].get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
            Ok(())
        });
        interrupted(&applied, &outcomes);
    }
    let outcomes: Vec<Outcome> = outcomes
        .into_iter()
        .map(|m| m.into_inner().unwrap())
        .collect();
    let summary = Summary::of(&outcomes);
    if args.json {
        print_json(&reg.name, dry, &repos, &outcomes, &backend, &summary)?;
    } else {
        print_text(dry, &repos, &outcomes, &backend);
        println!("{}", summary.line(dry));
    }
    if wide_without_yes && !ctx.dry_run {
        eprintln!("note: this policy is wider than one exact tag, so nothing was changed; check the plan above and pass `--yes` to apply it");
    }
    Ok(if summary.failed > 0 { 1 } else { 0 })
}

/// Marks repositories the scheduler never started (Ctrl-C) as failed.
fn interrupted(states: &[scheduler::State], outcomes: &[Mutex<Outcome>]) {
    for (i, s) in states.iter().enumerate() {
        if *s != scheduler::State::Done {
            let mut out = outcomes[i].lock().unwrap();
            if out.error.is_none() {
                out.error = Some("not done: interrupted".into());
            }
        }
    }
}

fn join(path: &str, repo: &str) -> String {
    if path.is_empty() || repo.starts_with(&format!("{path}/")) {
        repo.to_string()
    } else {
        format!("{path}/{repo}")
    }
}

#[derive(Default)]
struct Summary {
    untagged: usize,
    deleted: usize,
    kept: usize,
    failed: usize,
}

impl Summary {
    fn of(outcomes: &[Outcome]) -> Summary {
        let mut s = Summary::default();
        for o in outcomes {
            if o.error.is_some() {
                s.failed += 1;
            }
            for (a, err) in o.actions.iter().zip(&o.errors) {
                match (a.action, err) {
                    (_, Some(_)) => s.failed += 1,
                    (Verb::Untag, None) => s.untagged += 1,
                    (Verb::Delete, None) => s.deleted += 1,
                    (Verb::Keep, None) => s.kept += 1,
                }
            }
        }
        s
    }

    fn line(&self, dry: bool) -> String {
        if dry {
            format!(
                "dry run, nothing changed: would untag {}, would delete {}, kept {}, failed {}",
                self.untagged, self.deleted, self.kept, self.failed
            )
        } else {
            format!(
                "untagged {}, deleted {}, kept {}, failed {}",
                self.untagged, self.deleted, self.kept, self.failed
            )
        }
    }
}

fn print_text(dry: bool, repos: &[String], outcomes: &[Outcome], backend: &Backend) {
    for (repo, out) in repos.iter().zip(outcomes) {
        if let Some(e) = &out.error {
            eprintln!("error: repository `{repo}`: {e}");
            continue;
        }
        for (a, err) in out.actions.iter().zip(&out.errors) {
            println!("{}", a.line());
            if let Some(e) = err {
                eprintln!(
                    "error: could not {} `{}@{}`: {e}",
                    a.action.as_str(),
                    a.repository,
                    a.digest
                );
            }
        }
        if dry {
            for step in &out.steps {
                println!("  {}", backend.render(&step.op));
            }
        }
    }
}

fn print_json(
    registry: &str,
    dry: bool,
    repos: &[String],
    outcomes: &[Outcome],
    backend: &Backend,
    s: &Summary,
) -> anyhow::Result<()> {
    let mut actions = Vec::new();
    let mut failed_repos = Vec::new();
    for (repo, out) in repos.iter().zip(outcomes) {
        if let Some(e) = &out.error {
            failed_repos.push(json!({"repository": repo, "error": e}));
        }
        for (i, (a, err)) in out.actions.iter().zip(&out.errors).enumerate() {
            let steps: Vec<String> = out
                .steps
                .iter()
                .filter(|st| st.actions.contains(&i))
                .map(|st| backend.render(&st.op))
                .collect();
            let status = match (err, dry, a.action) {
                (Some(_), _, _) => "failed",
                (None, _, Verb::Keep) => "kept",
                (None, true, _) => "planned",
                (None, false, _) => "done",
            };
            let mut v = serde_json::to_value(a)?;
            v["status"] = json!(status);
            v["steps"] = json!(steps);
            if let Some(e) = err {
                v["error"] = json!(e);
            }
            actions.push(v);
        }
    }
    let doc = json!({
        "registry": registry,
        "dry_run": dry,
        "actions": actions,
        "failed_repositories": failed_repos,
        "summary": {"untagged": s.untagged, "deleted": s.deleted, "kept": s.kept, "failed": s.failed},
    });
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}
