//! For commands that run jobs through the scheduler (build, push, pull, clean): how many at
//! once, and one error for the jobs that failed.

use super::Ctx;
use crate::scheduler::State;

/// Registry transfers at once when neither `-j` nor `JOBS` says: network-bound, so a few.
pub const TRANSFERS: usize = 4;

/// Jobs at once: `-j`, else `JOBS`, else `default`; at least one.
pub fn jobs(ctx: &Ctx, flag: Option<usize>, default: usize) -> usize {
    flag.or_else(|| ctx.env.jobs()).unwrap_or(default).max(1)
}

/// Ok when every job is done; otherwise one error with every failure's message. `what` is
/// the verb, e.g. `push`.
pub fn fail_on(states: &[State], what: &str) -> anyhow::Result<()> {
    let failures: Vec<String> = states
        .iter()
        .filter_map(|s| match s {
            State::Failed(e) => Some(e.to_string()),
            _ => None,
        })
        .collect();
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
    use crate::scheduler;

    #[test]
    fn a_panicking_transfer_is_one_error_naming_it_not_a_hang() {
        let deps = vec![vec![], vec![]];
        let states = scheduler::run_named(
            &deps,
            1,
            false,
            |i| format!("the push of `img{i}`"),
            |i, _| if i == 0 { panic!("overflow") } else { Ok(()) },
        );
        let err = fail_on(&states, "push").unwrap_err().to_string();
        assert_eq!(
            err,
            "internal error: the push of `img0` panicked (overflow); please report this as a bug\n(1 more not started after the failure)"
        );
    }
}
