//! `imagemk clean`: lists every repository of the registry, plans with `clean::policy`, and
//! (unless it is a dry run) carries the plan out, each repository as one job, in parallel.
//! Per repository the selected tags are removed first; a manifest is deleted only after a
//! check that it carries no tag the plan did not select (see `registry::backend`). A failing
//! repository never stops the others; any failure makes the exit status 1, a signal 130. The
//! report says what happened to each action: done, failed or not started.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::json;

use super::Ctx;
use crate::clean::policy::{Policy, Request};
use crate::clean::{Action, Status, Verb};
use crate::cli::CleanArgs;
use crate::registry;
use crate::registry::backend::{Backend, NotFound, Step};
use crate::{reference, scheduler, signal};

/// What happened to one repository.
#[derive(Default)]
struct Outcome {
    /// Each planned action and what became of it.
    plan: Vec<(Action, Status)>,
    /// Every step the plan needs (printed by `--dry-run`, listed per action by `--json`).
    steps: Vec<Step>,
    /// Listing or planning failed (nothing was changed), or the job never started.
    error: Option<String>,
    /// The repository does not exist or holds no manifest: nothing to clean.
    missing: bool,
}

pub fn run(ctx: &Ctx, args: &CleanArgs, tag: Option<String>) -> anyhow::Result<i32> {
    let policy = policy(ctx, args, tag)?;
    let reg = registry::choose(&ctx.ws.registries, ctx.ws.registry.as_deref())?;
    if policy.untagged && !reg.kind.lists_untagged() {
        anyhow::bail!("`--untagged` is not available for registry `{}` of kind `oci`: the distribution API lists only tagged manifests", reg.name);
    }
    let backend = Backend::new(&reg, &ctx.env)?;
    let wide_without_yes = policy.is_wide() && !args.yes;
    let dry = ctx.dry_run || wide_without_yes;
    let repos = repositories(&backend, &reg.path, args)?;
    let jobs = super::parallel::jobs(ctx, args.jobs, 8);
    let outcomes = clean_all(&backend, &policy, &repos, dry, jobs);
    let summary = Summary::of(&outcomes);
    let report = Report {
        registry: &reg.name,
        dry,
        repos: &repos,
        outcomes: &outcomes,
        backend: &backend,
    };
    if args.json {
        report.json(&summary)?;
    } else {
        report.text();
        crate::console::outln!("{}", summary.line(dry));
    }
    if wide_without_yes && !ctx.dry_run {
        crate::console::errln!("note: this policy is wider than one exact tag, so nothing was changed; check the plan above and pass `--yes` to apply it");
    }
    if signal::interrupted() {
        crate::console::errln!(
            "error: interrupted; the report above says what was done and what was not started"
        );
        return Ok(130);
    }
    Ok(if summary.failed > 0 { 1 } else { 0 })
}

/// The policy the flags and the workspace's protected tags describe.
fn policy(ctx: &Ctx, args: &CleanArgs, tag: Option<String>) -> anyhow::Result<Policy> {
    Policy::new(&Request {
        tag,
        matches: args.matches.clone(),
        exclude: args.exclude.clone(),
        older_than: args.older_than.clone(),
        keep: args.keep,
        untagged: args.untagged,
        protected: ctx.ws.protected_tags.clone(),
    })
}

/// The repositories to clean: those named (under the registry's `path`), or every one listed.
fn repositories(backend: &Backend, path: &str, args: &CleanArgs) -> anyhow::Result<Vec<String>> {
    Ok(match args.repositories.is_empty() {
        true => backend.repositories(path)?,
        false => args.repositories.iter().map(|r| join(path, r)).collect(),
    })
}

/// Cleans every repository, `jobs` at a time; one outcome per repository, in order (a
/// repository whose job never started says so).
fn clean_all(
    backend: &Backend,
    policy: &Policy,
    repos: &[String],
    dry: bool,
    jobs: usize,
) -> Vec<Outcome> {
    let outcomes: Vec<Mutex<Outcome>> = repos.iter().map(|_| Mutex::default()).collect();
    let independent = vec![Vec::new(); repos.len()];
    let now = jiff::Timestamp::now();
    let states = scheduler::run(&independent, jobs, true, |i| {
        let out = clean_one(backend, policy, &repos[i], dry, now);
        *outcomes[i].lock().unwrap() = out;
        Ok(())
    });
    let mut outcomes: Vec<Outcome> = outcomes
        .into_iter()
        .map(|m| m.into_inner().unwrap())
        .collect();
    for (out, state) in outcomes.iter_mut().zip(&states) {
        if *state != scheduler::State::Done && out.error.is_none() && out.plan.is_empty() {
            out.error = Some("not started: interrupted".into());
        }
    }
    outcomes
}

/// Lists, plans and (unless `dry`) cleans one repository.
fn clean_one(
    backend: &Backend,
    policy: &Policy,
    repo: &str,
    dry: bool,
    now: jiff::Timestamp,
) -> Outcome {
    let mut out = Outcome::default();
    // Component by component: a first component with a `.` is no host here.
    let checked = repo.split('/').try_for_each(reference::check_repository);
    if let Err(e) = checked.and_then(|_| reference::check_repository(repo)) {
        out.error = Some(format!("not a repository name imagemk can clean: {e}"));
        return out;
    }
    let actions = match backend
        .list(repo, policy.needs_time())
        .and_then(|listed| policy.plan(&listed, now))
    {
        Ok(actions) => actions,
        Err(e) if e.is::<NotFound>() => {
            out.missing = true;
            return out;
        }
        Err(e) => {
            out.error = Some(format!("{e:#}"));
            return out;
        }
    };
    out.steps = preview(backend, repo, &actions);
    out.plan = actions
        .into_iter()
        .map(|a| {
            let s = match (a.action, dry) {
                (Verb::Keep, _) => Status::Kept,
                (_, true) => Status::Planned,
                (_, false) => Status::NotStarted,
            };
            (a, s)
        })
        .collect();
    if !dry {
        apply(backend, repo, &mut out.plan);
    }
    out
}

/// Every step of the plan, as if each succeeded.
fn preview(backend: &Backend, repo: &str, actions: &[Action]) -> Vec<Step> {
    let deletes: Vec<usize> = (0..actions.len())
        .filter(|&i| actions[i].action == Verb::Delete)
        .collect();
    let mut steps = backend.untag_steps(repo, actions);
    steps.extend(backend.recheck_step(repo, &deletes));
    steps.extend(backend.delete_steps(repo, actions, &deletes));
    steps
}

/// Progress of each action while its steps run.
#[derive(Default, Clone)]
struct Progress {
    started: bool,
    skipped: bool,
    error: Option<String>,
}

/// Untag, re-check, delete; then each action's status from what its steps did.
fn apply(backend: &Backend, repo: &str, plan: &mut [(Action, Status)]) {
    let actions: Vec<Action> = plan.iter().map(|(a, _)| a.clone()).collect();
    let mut p = vec![Progress::default(); actions.len()];
    for step in backend.untag_steps(repo, &actions) {
        run_step(backend, &step, &mut p);
    }
    let deletes: Vec<usize> = (0..actions.len())
        .filter(|&i| actions[i].action == Verb::Delete && p[i].error.is_none() && !p[i].skipped)
        .collect();
    let deletes = match backend.recheck_step(repo, &deletes) {
        Some(_) if signal::interrupted() => {
            deletes.iter().for_each(|&i| p[i].skipped = true);
            Vec::new()
        }
        Some(_) => recheck(backend, repo, &actions, deletes, &mut p),
        None => deletes,
    };
    for step in backend.delete_steps(repo, &actions, &deletes) {
        run_step(backend, &step, &mut p);
        if step.actions.len() > 1 && step.actions.iter().all(|&i| p[i].error.is_some()) {
            // gcr refuses a batch as a whole, before deleting anything, when one of its
            // images still carries a tag: find which by deleting one at a time.
            for &i in &step.actions {
                p[i].error = None;
                for single in backend.delete_steps(repo, &actions, &[i]) {
                    run_step(backend, &single, &mut p);
                }
            }
        }
    }
    for ((a, status), p) in plan.iter_mut().zip(p) {
        if a.action == Verb::Keep {
            continue;
        }
        *status = match (p.error, p.skipped, p.started) {
            (Some(e), _, _) => Status::Failed(e),
            (None, true, true) => Status::Failed("interrupted after part of it was done".into()),
            (None, true, false) => Status::NotStarted,
            (None, false, _) => Status::Done,
        };
    }
}

fn run_step(backend: &Backend, step: &Step, p: &mut [Progress]) {
    if step.actions.iter().any(|&i| p[i].error.is_some()) && step.actions.len() == 1 {
        return;
    }
    if signal::interrupted() {
        step.actions.iter().for_each(|&i| p[i].skipped = true);
        return;
    }
    step.actions.iter().for_each(|&i| p[i].started = true);
    if let Err(e) = backend.apply(&step.op) {
        for &i in &step.actions {
            p[i].error.get_or_insert_with(|| format!("{e:#}"));
        }
    }
}

/// Lists `repo` again and keeps the deletes whose manifest carries only tags the plan
/// selected; the others fail without being deleted.
fn recheck(
    backend: &Backend,
    repo: &str,
    actions: &[Action],
    deletes: Vec<usize>,
    p: &mut [Progress],
) -> Vec<usize> {
    let fresh = match backend.list(repo, false).and_then(|r| r.merged()) {
        Ok(fresh) => fresh,
        Err(e) => {
            for &i in &deletes {
                p[i].error = Some(format!(
                    "not deleted: listing the repository again to re-check it failed: {e:#}"
                ));
            }
            return Vec::new();
        }
    };
    let now: BTreeMap<&str, &Vec<String>> = fresh
        .manifests
        .iter()
        .map(|m| (m.digest.as_str(), &m.tags))
        .collect();
    let mut keep = Vec::new();
    for i in deletes {
        let a = &actions[i];
        let extra: Vec<&String> = now
            .get(a.digest.as_str())
            .map(|tags| tags.iter().filter(|t| !a.remove.contains(t)).collect())
            .unwrap_or_default();
        if extra.is_empty() {
            keep.push(i);
        } else {
            let names: Vec<String> = extra.iter().map(|t| format!("`{t}`")).collect();
            p[i].error = Some(format!(
                "not deleted: the manifest now carries {}, which the plan did not select (tagged after the listing?)",
                names.join(", ")
            ));
        }
    }
    keep
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
    not_started: usize,
}

impl Summary {
    fn of(outcomes: &[Outcome]) -> Summary {
        let mut s = Summary::default();
        for o in outcomes {
            if o.error.is_some() {
                s.failed += 1;
            }
            for (a, status) in &o.plan {
                match (a.action, status) {
                    (_, Status::Failed(_)) => s.failed += 1,
                    (_, Status::NotStarted) => s.not_started += 1,
                    (_, Status::Kept) => s.kept += 1,
                    (Verb::Untag, _) => s.untagged += 1,
                    (Verb::Delete, _) => s.deleted += 1,
                    (Verb::Keep, _) => s.kept += 1,
                }
            }
        }
        s
    }

    fn line(&self, dry: bool) -> String {
        let mut line = if dry {
            format!(
                "dry run, nothing changed: would untag {}, would delete {}, kept {}, failed {}",
                self.untagged, self.deleted, self.kept, self.failed
            )
        } else {
            format!(
                "untagged {}, deleted {}, kept {}, failed {}",
                self.untagged, self.deleted, self.kept, self.failed
            )
        };
        if self.not_started > 0 {
            line.push_str(&format!(", not started {}", self.not_started));
        }
        line
    }
}

/// What the run found and did, to print.
struct Report<'a> {
    registry: &'a str,
    dry: bool,
    repos: &'a [String],
    outcomes: &'a [Outcome],
    backend: &'a Backend,
}

impl Report<'_> {
    fn text(&self) {
        let Report {
            dry,
            repos,
            outcomes,
            backend,
            ..
        } = *self;
        for (repo, out) in repos.iter().zip(outcomes) {
            if let Some(e) = &out.error {
                crate::console::errln!("error: repository `{repo}`: {e}");
                continue;
            }
            if out.missing {
                crate::console::errln!("note: repository `{repo}` does not exist or holds no manifest; nothing to clean there");
            }
            for (a, status) in &out.plan {
                crate::console::outln!("{}", a.line());
                let what = match status {
                    Status::Failed(e) => e.as_str(),
                    Status::NotStarted => "not started (interrupted)",
                    _ => continue,
                };
                crate::console::errln!(
                    "error: could not {} `{}@{}`: {what}",
                    a.action.as_str(),
                    a.repository,
                    a.digest
                );
            }
            if dry {
                for step in &out.steps {
                    crate::console::outln!("  {}", backend.render(&step.op));
                }
            }
        }
    }

    fn json(&self, s: &Summary) -> anyhow::Result<()> {
        let Report {
            registry,
            dry,
            repos,
            outcomes,
            backend,
        } = *self;
        let mut actions = Vec::new();
        let mut failed_repos = Vec::new();
        let mut missing = Vec::new();
        for (repo, out) in repos.iter().zip(outcomes) {
            if let Some(e) = &out.error {
                failed_repos.push(json!({"repository": repo, "error": e}));
            }
            if out.missing {
                missing.push(repo);
            }
            for (i, (a, status)) in out.plan.iter().enumerate() {
                let steps: Vec<String> = out
                    .steps
                    .iter()
                    .filter(|st| st.actions.contains(&i))
                    .map(|st| backend.render(&st.op))
                    .collect();
                let mut v = serde_json::to_value(a)?;
                v["status"] = json!(status.as_str());
                v["steps"] = json!(steps);
                if let Status::Failed(e) = status {
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
            "missing_repositories": missing,
            "summary": {"untagged": s.untagged, "deleted": s.deleted, "kept": s.kept, "failed": s.failed, "not_started": s.not_started},
        });
        crate::console::outln!("{}", serde_json::to_string_pretty(&doc)?);
        Ok(())
    }
}
