//! One child process run as a scheduled job (a build, a push, a pull): its pids registered so
//! Ctrl-C reaches it, its output streamed line by line, and a failure turned into the one
//! message shape every such job uses: what failed, the exact command, its status, the tail of
//! its output, and a hint when one is known.

use crate::exec::{self, Cmd, Streamed};
use crate::job::{JobError, Kind};
use crate::progress::Task;
use crate::registry::Registry;

/// Runs `cmd` as a job. `what` names the work (`build of `km/test``); `hint` may add a
/// line from the output (the login command after an unauthorized push, the log's path) and
/// the kind of failure the output shows.
/// Returns the whole output on success.
pub fn run_job(
    cmd: &Cmd,
    what: &str,
    tail: usize,
    on_line: impl FnMut(&str),
    hint: impl FnOnce(&str) -> Option<(Kind, String)>,
) -> Result<String, JobError> {
    let child = Streamed::start(cmd).map_err(|e| failed(what, e))?;
    finish_job(cmd, child, what, tail, on_line, hint)
}

/// A push or a pull of registry `reg` run as a job: its output on `task`'s lines, ten lines of
/// it on a failure, and the registry's login command when the output shows one is needed.
pub fn run_transfer(
    cmd: &Cmd,
    what: &str,
    reg: &Registry,
    task: &Task,
) -> Result<String, JobError> {
    run_job(
        cmd,
        what,
        10,
        |line| task.line(line),
        |output| crate::registry::login::diagnose(reg, output),
    )
}

/// The message of a job that could not start or whose output could not be read. An
/// interrupted start says so (`signal::Interrupted`'s text), so the summary stays honest.
pub fn failed(what: &str, e: anyhow::Error) -> JobError {
    JobError::start(what, e)
}

/// Streams a started child to the end; the shared tail of [`run_job`] and the build's
/// context-piping variant.
pub fn finish_job(
    cmd: &Cmd,
    child: Streamed,
    what: &str,
    tail: usize,
    on_line: impl FnMut(&str),
    hint: impl FnOnce(&str) -> Option<(Kind, String)>,
) -> Result<String, JobError> {
    finish_job_within(cmd, child, None, what, tail, on_line, hint)
}

/// [`finish_job`] with a deadline for this child (`build --timeout`, `timeout:`): past it the
/// child is stopped and the job fails as `the build of `x` timed out after 80m`.
pub fn finish_job_within(
    cmd: &Cmd,
    child: Streamed,
    limit: Option<std::time::Duration>,
    what: &str,
    tail: usize,
    on_line: impl FnMut(&str),
    hint: impl FnOnce(&str) -> Option<(Kind, String)>,
) -> Result<String, JobError> {
    let (code, output, timed_out) = child
        .finish_within(limit, on_line)
        .map_err(|e| failed(what, e))?;
    if code == 0 && !timed_out {
        return Ok(output);
    }
    let mut e = JobError::exited(what, cmd.shown(), code, limit.filter(|_| timed_out));
    if e.kind == Kind::Other && crate::engine::classify(&output) == Kind::EngineDown {
        e.kind = Kind::EngineDown;
    }
    e.tail = exec::tail_lines(&output, tail)
        .lines()
        .map(str::to_string)
        .collect();
    if let Some((kind, hint)) = hint(&output) {
        if e.kind == Kind::Other {
            e.kind = kind;
        }
        e.hint = Some(hint);
    }
    Err(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fails(script: &str) -> JobError {
        let cmd = Cmd::new("sh").args(["-c", script]);
        let hint = |out: &str| {
            out.contains("denied")
                .then(|| (Kind::Unauthorized, "hint: log in".to_string()))
        };
        run_job(&cmd, "push of `a`", 2, |_| {}, hint).unwrap_err()
    }

    #[test]
    fn a_failed_child_is_typed_by_what_its_output_shows() {
        let e = fails("echo one; echo two; echo denied; exit 3");
        assert_eq!(e.kind, Kind::Unauthorized);
        assert_eq!(
            (e.status, e.tail.clone()),
            (Some(3), vec!["two".into(), "denied".into()])
        );
        assert_eq!(
            e.to_string(),
            "the push of `a` failed: `sh -c 'echo one; echo two; echo denied; exit 3'` exited with status 3\n  | two\n  | denied\nhint: log in"
        );
        let e = fails("echo 'Cannot connect to the Docker daemon at unix:///x' >&2; exit 1");
        assert_eq!((e.kind, e.hint.clone()), (Kind::EngineDown, None));
        assert_eq!(fails("exit 1").kind, Kind::Other);
    }
}
