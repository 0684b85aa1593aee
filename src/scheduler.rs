//! Runs a DAG of jobs with at most `jobs` at once: a job starts when all it waits for have
//! succeeded; after a failure no new job starts (or, with `keep_going`, only those that do not
//! depend on it); on Ctrl-C the running children are signalled and waited for. Each job's work
//! runs on its own thread; this module only schedules.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use crate::exec;
use crate::signal;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Pending,
    Running,
    Done,
    Failed(String),
    /// Not run because the job at this index failed or was skipped.
    Skipped(usize),
    /// Not started because the run stopped (first failure without keep-going, or Ctrl-C).
    NotStarted,
}

/// The pids of running children, so an interrupt can reach them.
#[derive(Default)]
pub struct Children(Mutex<BTreeMap<usize, Vec<u32>>>);

impl Children {
    pub fn set(&self, job: usize, pids: Vec<u32>) {
        self.0.lock().unwrap().insert(job, pids);
    }

    fn clear(&self, job: usize) {
        self.0.lock().unwrap().remove(&job);
    }

    fn signal_all(&self) {
        for pids in self.0.lock().unwrap().values() {
            exec::signal_children(pids);
        }
    }
}

/// Runs `work(i, children)` for each job `i` after `deps[i]`; returns every job's final state.
pub fn run<F>(deps: &[Vec<usize>], jobs: usize, keep_going: bool, work: F) -> Vec<State>
where
    F: Fn(usize, &Children) -> Result<(), String> + Sync,
{
    let n = deps.len();
    let mut state = vec![State::Pending; n];
    let children = Children::default();
    let (tx, rx) = mpsc::channel::<(usize, Result<(), String>)>();
    std::thread::scope(|scope| {
        let mut running = 0;
        let mut stopping = false;
        let mut signalled = false;
        loop {
            if signal::interrupted() {
                stopping = true;
                if !signalled {
                    children.signal_all();
                    signalled = true;
                }
            }
            skip_dependents(deps, &mut state);
            if !stopping {
                for i in 0..n {
                    if running >= jobs.max(1) {
                        break;
                    }
                    if state[i] == State::Pending
                        && deps[i].iter().all(|&d| state[d] == State::Done)
                    {
                        state[i] = State::Running;
                        running += 1;
                        let tx = tx.clone();
                        let work = &work;
                        let children = &children;
                        scope.spawn(move || {
                            let result = work(i, children);
                            children.clear(i);
                            let _ = tx.send((i, result));
                        });
                    }
                }
            }
            if running == 0 {
                break;
            }
            if let Ok((i, result)) = rx.recv_timeout(Duration::from_millis(50)) {
                running -= 1;
                state[i] = match result {
                    Ok(()) => State::Done,
                    Err(msg) => {
                        if !keep_going {
                            stopping = true;
                        }
                        State::Failed(msg)
                    }
                };
            }
        }
    });
    for s in state.iter_mut() {
        if *s == State::Pending {
            *s = State::NotStarted;
        }
    }
    skip_dependents(deps, &mut state);
    state
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
    use std::time::Instant;

    #[test]
    fn runs_independent_jobs_concurrently_up_to_the_limit() {
        let deps = vec![vec![], vec![], vec![], vec![0, 1, 2]];
        let now = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let order = Mutex::new(Vec::new());
        let start = Instant::now();
        let states = run(&deps, 2, false, |i, _| {
            let c = now.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(c, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(100));
            order.lock().unwrap().push(i);
            now.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        });
        assert!(states.iter().all(|s| *s == State::Done));
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        assert_eq!(*order.lock().unwrap().last().unwrap(), 3);
        assert!(start.elapsed() >= Duration::from_millis(300));
    }

    #[test]
    fn a_failure_stops_new_jobs_and_skips_dependents() {
        // 0 fails; 1 depends on 0; 2 is independent but would start later with -j1.
        let deps = vec![vec![], vec![0], vec![]];
        let states = run(&deps, 1, false, |i, _| {
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
    fn keep_going_runs_what_does_not_depend_on_the_failure() {
        let deps = vec![vec![], vec![0], vec![], vec![1]];
        let states = run(&deps, 1, true, |i, _| {
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
