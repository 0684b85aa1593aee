//! Runs a DAG of jobs with at most `jobs` at once: a job starts when all it waits for have
//! succeeded; after a failure no new job starts (or, with `keep_going`, only those that do not
//! depend on it); on Ctrl-C no job starts and the running ones are waited for (their children
//! were signalled by the signal path, see `exec::stop_all`). Each job's work runs on its own
//! thread; a job that panics fails with a message naming it, so a panic never hangs the run.
//! This module only schedules.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::Duration;

use crate::job::JobError;
use crate::signal;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Pending,
    Running,
    Done,
    Failed(JobError),
    /// Not run because the job at this index failed or was skipped.
    Skipped(usize),
    /// Not started because the run stopped (first failure without keep-going, or Ctrl-C).
    NotStarted,
}

/// Runs `work(i)` for each job `i` after `deps[i]`; returns every job's final state.
/// A panicking job is named `job i` in its failure; see [`run_named`].
pub fn run<F>(deps: &[Vec<usize>], jobs: usize, keep_going: bool, work: F) -> Vec<State>
where
    F: Fn(usize) -> Result<(), JobError> + Sync,
{
    run_named(deps, jobs, keep_going, |i| format!("job {i}"), work)
}

/// [`run`] with `name(i)` naming job `i` (e.g. `` `app/lib` ``) when it panics.
pub fn run_named<F, N>(
    deps: &[Vec<usize>],
    jobs: usize,
    keep_going: bool,
    name: N,
    work: F,
) -> Vec<State>
where
    F: Fn(usize) -> Result<(), JobError> + Sync,
    N: Fn(usize) -> String,
{
    let mut state = vec![State::Pending; deps.len()];
    let (tx, rx) = mpsc::channel::<(usize, Result<(), JobError>)>();
    std::thread::scope(|scope| {
        let mut running = 0;
        let mut stopping = false;
        loop {
            stopping |= signal::interrupted();
            skip_dependents(deps, &mut state);
            if !stopping {
                for i in ready(deps, &state, jobs.max(1).saturating_sub(running)) {
                    state[i] = State::Running;
                    running += 1;
                    spawn_job(scope, i, name(i), &work, tx.clone());
                }
            }
            if running == 0 {
                break;
            }
            if let Ok((i, result)) = rx.recv_timeout(Duration::from_millis(50)) {
                running -= 1;
                stopping |= result.is_err() && !keep_going;
                state[i] = result.map_or_else(State::Failed, |()| State::Done);
            }
        }
    });
    for s in state.iter_mut().filter(|s| **s == State::Pending) {
        *s = State::NotStarted;
    }
    skip_dependents(deps, &mut state);
    state
}

/// The message of every failed job, in job order.
pub fn failures(states: &[State]) -> Vec<String> {
    states
        .iter()
        .filter_map(|s| match s {
            State::Failed(e) => Some(e.to_string()),
            _ => None,
        })
        .collect()
}

/// Up to `free` pending jobs whose dependencies are all done, in index order.
fn ready(deps: &[Vec<usize>], state: &[State], free: usize) -> Vec<usize> {
    (0..deps.len())
        .filter(|&i| state[i] == State::Pending && deps[i].iter().all(|&d| state[d] == State::Done))
        .take(free)
        .collect()
}

/// Runs job `i` on a thread of `scope`; its result (a panic as a named error) goes to `tx`.
fn spawn_job<'scope, F>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    i: usize,
    job: String,
    work: &'scope F,
    tx: mpsc::Sender<(usize, Result<(), JobError>)>,
) where
    F: Fn(usize) -> Result<(), JobError> + Sync,
{
    scope.spawn(crate::runner::carry(move || {
        let result = catch_unwind(AssertUnwindSafe(|| work(i)))
            .unwrap_or_else(|panic| Err(panicked(&job, &*panic)));
        let _ = tx.send((i, result));
    }));
}

/// The failure of a job that panicked: an internal error, named, with the panic's message.
fn panicked(job: &str, panic: &(dyn std::any::Any + Send)) -> JobError {
    let msg = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_string());
    JobError::msg(format!(
        "internal error: {job} panicked ({msg}); please report this as a bug"
    ))
}

/// Marks pending (or not started) jobs whose dependency failed or was skipped.
fn skip_dependents(deps: &[Vec<usize>], state: &mut [State]) {
    loop {
        let mut changed = false;
        for i in 0..deps.len() {
            if matches!(state[i], State::Pending | State::NotStarted) {
                if let Some(&d) = deps[i]
                    .iter()
                    .find(|&&d| matches!(state[d], State::Failed(_) | State::Skipped(_)))
                {
                    state[i] = State::Skipped(d);
                    changed = true;
                }
            }
        }
        if !changed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    use std::time::Instant;

    #[test]
    fn runs_independent_jobs_concurrently_up_to_the_limit() {
        let deps = vec![vec![], vec![], vec![], vec![0, 1, 2]];
        let now = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let order = Mutex::new(Vec::new());
        let (most, seen) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let states = run(&deps, 2, false, |i| {
            let c = now.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(c, Ordering::SeqCst);
            most.fetch_max(c, Ordering::SeqCst);
            // Each of the three independent jobs waits until two ran at once (the event the
            // limit allows), or, for the one left alone, until it is the last of them.
            let first_three = seen.fetch_add(1, Ordering::SeqCst) < 3;
            let deadline = Instant::now() + Duration::from_secs(10);
            while first_three
                && i != 3
                && peak.load(Ordering::SeqCst) < 2
                && Instant::now() < deadline
            {
                std::thread::yield_now();
            }
            order.lock().unwrap().push(i);
            now.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        });
        assert!(states.iter().all(|s| *s == State::Done));
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        assert_eq!(most.load(Ordering::SeqCst), 2, "never more than the limit");
        assert_eq!(*order.lock().unwrap().last().unwrap(), 3);
    }

    #[test]
    fn independent_jobs_overlap_exactly_up_to_the_job_limit() {
        // Three independent jobs; each waits until `jobs` of them run at once (or a deadline),
        // so the peak is the limit whenever the limit lets them overlap, and never above it.
        for jobs in 1..=3 {
            let (now, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
            let states = run(&[vec![], vec![], vec![]], jobs, false, |_| {
                let c = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(c, Ordering::SeqCst);
                let deadline = Instant::now() + Duration::from_secs(10);
                while peak.load(Ordering::SeqCst) < jobs && Instant::now() < deadline {
                    std::thread::yield_now();
                }
                now.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            });
            assert!(states.iter().all(|s| *s == State::Done));
            assert_eq!(peak.load(Ordering::SeqCst), jobs, "-j {jobs}");
        }
    }

    #[test]
    fn a_failure_stops_new_jobs_and_skips_dependents() {
        // 0 fails; 1 depends on 0; 2 is independent but would start later with -j1.
        let deps = vec![vec![], vec![0], vec![]];
        let states = run(&deps, 1, false, |i| {
            if i == 0 {
                Err("boom".into())
            } else {
                Ok(())
            }
        });
        assert_eq!(
            states,
            [
                State::Failed("boom".into()),
                State::Skipped(0),
                State::NotStarted
            ]
        );
    }

    #[test]
    fn a_panicking_job_fails_with_its_name_and_never_hangs() {
        let deps = vec![vec![], vec![0], vec![]];
        let states = run_named(
            &deps,
            2,
            false,
            |i| format!("`img{i}`"),
            |i| {
                if i == 0 {
                    panic!("overflow in job {i}");
                }
                std::thread::sleep(Duration::from_millis(50));
                Ok(())
            },
        );
        assert_eq!(
            states,
            [
                State::Failed(
                    "internal error: `img0` panicked (overflow in job 0); please report this as a bug"
                        .into()
                ),
                State::Skipped(0),
                State::Done
            ]
        );
        // `run` names the job by its index; a `String` payload is shown too.
        let states = run(&[vec![]], 1, true, |_| panic!("{}", String::from("x")));
        assert_eq!(
            states,
            [State::Failed(
                "internal error: job 0 panicked (x); please report this as a bug".into()
            )]
        );
    }

    #[test]
    fn keep_going_runs_what_does_not_depend_on_the_failure() {
        let deps = vec![vec![], vec![0], vec![], vec![1]];
        let states = run(&deps, 1, true, |i| {
            if i == 0 {
                Err("boom".into())
            } else {
                Ok(())
            }
        });
        assert_eq!(
            states,
            [
                State::Failed("boom".into()),
                State::Skipped(0),
                State::Done,
                State::Skipped(1)
            ]
        );
    }
}
