//! For commands that run jobs through the scheduler (build, push, pull, clean): how many at
//! once, the jobs run with each one's output collected, and one error for the jobs that failed.

use std::sync::Mutex;

use super::Ctx;
use crate::job::JobError;
use crate::scheduler::{self, State};

/// Registry transfers at once when neither `-j` nor `JOBS` says: network-bound, so a few.
pub const TRANSFERS: usize = 4;

/// Jobs at once: `-j`, else `JOBS`, else `default`; at least one.
pub fn jobs(ctx: &Ctx, flag: Option<usize>, default: usize) -> usize {
    flag.or_else(|| ctx.env.jobs()).unwrap_or(default).max(1)
}

/// Runs `work(i)` for each job `i` after `deps[i]`, at most `limit` at once; after a
/// failure only jobs that do not depend on it start, and only with `keep_going`. A job that
/// panics fails with `name(i)` in its message. Returns each job's output (`None` unless it
/// succeeded) and each job's end state; [`fail_on`] makes the states one error.
pub fn run_jobs<T, W>(
    deps: &[Vec<usize>],
    limit: usize,
    keep_going: bool,
    name: impl Fn(usize) -> String,
    work: W,
) -> (Vec<Option<T>>, Vec<State>)
where
    T: Send,
    W: Fn(usize) -> Result<T, JobError> + Sync,
{
    let results: Mutex<Vec<Option<T>>> = Mutex::new(deps.iter().map(|_| None).collect());
    let states = scheduler::run_named(deps, limit, keep_going, name, |i| {
        let out = work(i)?;
        results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(out);
        Ok(())
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    (results, states)
}

/// `n` jobs that wait for none.
pub fn independent(n: usize) -> Vec<Vec<usize>> {
    vec![Vec::new(); n]
}

/// The name of job `i` in a panic's message when nothing better names it.
pub fn by_index(i: usize) -> String {
    format!("job {i}")
}

/// Ok when every job is done; otherwise one error with every failure's message. `what` is
/// the verb, e.g. `push`.
pub fn fail_on(states: &[State], what: &str) -> anyhow::Result<()> {
    let failures = crate::scheduler::failures(states);
    let not_started = states
        .iter()
        .filter(|s| matches!(s, State::NotStarted | State::Skipped(_)))
        .count();
    let note = match not_started {
        0 => String::new(),
        n => format!("\n({n} more not started after the failure)"),
    };
    match failures.len() {
        0 => Ok(()),
        1 => anyhow::bail!("{}{note}", failures[0]),
        n => anyhow::bail!(
            "{n} images failed to {what}:\n{}{note}",
            failures.join("\n")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_transfer_is_one_error_naming_it_not_a_hang() {
        let deps = vec![vec![], vec![]];
        let states = scheduler::run_named(
            &deps,
            1,
            false,
            |i| format!("the push of `img{i}`"),
            |i| if i == 0 { panic!("overflow") } else { Ok(()) },
        );
        let err = fail_on(&states, "push").unwrap_err().to_string();
        assert_eq!(
            err,
            "internal error: the push of `img0` panicked (overflow); please report this as a bug\n(1 more not started after the failure)"
        );
    }

    #[test]
    fn run_jobs_collects_each_output_and_each_failure() {
        let deps = vec![vec![], vec![0], vec![], vec![2]];
        let (results, states) = run_jobs(&deps, 1, true, by_index, |i| match i {
            2 => Err(JobError::msg("boom")),
            3 => panic!("never: it depends on 2"),
            i => Ok(i * 10),
        });
        assert_eq!(results, [Some(0), Some(10), None, None]);
        assert_eq!(
            states,
            [
                State::Done,
                State::Done,
                State::Failed("boom".into()),
                State::Skipped(2)
            ]
        );
        assert_eq!(
            fail_on(&states, "push").unwrap_err().to_string(),
            "boom\n(1 more not started after the failure)"
        );
        let (results, states) =
            run_jobs(&independent(1), 1, false, by_index, |_| -> Result<(), _> {
                panic!("x")
            });
        assert_eq!(results, [None]);
        assert!(
            matches!(&states[0], State::Failed(e) if e.to_string().contains("job 0 panicked (x)"))
        );
    }
}
