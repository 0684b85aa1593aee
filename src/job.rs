//! The error of a scheduled job (a build, a push, a pull): what failed, the command and its
//! status, the tail of its output, a hint, and what kind of failure it was, so callers decide
//! by kind instead of by reading the message. Its text is the one message shape every job
//! prints (see `commands::stream`).

use std::fmt;
use std::time::Duration;

/// What kind of failure a job had, where its source knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Unauthorized,
    NotFound,
    EngineDown,
    Interrupted,
    TimedOut,
    Other,
}

/// Boxed: a job's `Result` stays small (its fields are reached through `Deref`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError(Box<Detail>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    /// The work, e.g. ``build of `km/test` ``; empty when `cause` is the whole message.
    pub what: String,
    /// The command as shown, when a child process failed.
    pub command: Option<String>,
    /// Its exit status (`None` when it was stopped at its deadline).
    pub status: Option<i32>,
    /// The last lines of its output.
    pub tail: Vec<String>,
    pub hint: Option<String>,
    pub kind: Kind,
    /// Why, when no command says it: the cause of a failed start, or a whole message.
    pub cause: Option<String>,
    /// The deadline a timed-out command was stopped at.
    pub limit: Option<Duration>,
}

impl JobError {
    /// A job error whose text is `message` as it is.
    pub fn msg(message: impl Into<String>) -> Self {
        Self::new("", Kind::Other, Some(message.into()))
    }

    /// `the {what} failed: {e:#}`: the work could not start or its output could not be read.
    /// An interrupted start is of kind `Interrupted`.
    pub fn start(what: &str, e: anyhow::Error) -> Self {
        let kind = match e.downcast_ref::<crate::signal::Interrupted>() {
            Some(_) => Kind::Interrupted,
            None => Kind::Other,
        };
        Self::new(what, kind, Some(format!("{e:#}")))
    }

    /// `message` as a job error of the kind of the job error `e` carries (`Other` if none): a
    /// job that ran another job's work (a pull inside `build --reuse`) keeps its kind.
    pub fn of(e: &anyhow::Error, message: String) -> Self {
        let kind = (e.chain())
            .find_map(|c| c.downcast_ref::<JobError>())
            .map_or(Kind::Other, |job| job.kind);
        let mut out = Self::msg(message);
        out.kind = kind;
        out
    }

    /// The run was stopped by a signal (`signal::Interrupted`'s text).
    pub fn interrupted() -> Self {
        Self::new(
            "",
            Kind::Interrupted,
            Some(crate::signal::Interrupted.to_string()),
        )
    }

    /// `command` (shown) exited with `status`, or was stopped at `limit` (kind `TimedOut`).
    pub fn exited(what: &str, command: String, status: i32, limit: Option<Duration>) -> Self {
        let mut e = Self::new(what, Kind::Other, None);
        e.command = Some(command);
        match limit {
            Some(limit) => (e.kind, e.limit) = (Kind::TimedOut, Some(limit)),
            None => e.status = Some(status),
        }
        e
    }

    fn new(what: &str, kind: Kind, cause: Option<String>) -> Self {
        Self(Box::new(Detail {
            what: what.to_string(),
            command: None,
            status: None,
            tail: Vec::new(),
            hint: None,
            kind,
            cause,
            limit: None,
        }))
    }

    /// This error with `more` (further lines, e.g. a tag left behind) after its text.
    pub fn and(self, more: &str) -> Self {
        let kind = self.kind;
        let mut e = Self::msg(format!("{self}\n{more}"));
        e.kind = kind;
        e
    }

    pub fn is(&self, kind: Kind) -> bool {
        self.kind == kind
    }
}

impl std::ops::Deref for JobError {
    type Target = Detail;
    fn deref(&self) -> &Detail {
        &self.0
    }
}

impl std::ops::DerefMut for JobError {
    fn deref_mut(&mut self) -> &mut Detail {
        &mut self.0
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = &self.what;
        match (&self.command, self.limit, self.status) {
            (Some(cmd), Some(limit), _) => write!(
                f,
                "the {what} timed out after {}: `{cmd}` was stopped",
                crate::duration::show(limit)
            )?,
            (Some(cmd), None, Some(code)) => {
                write!(f, "the {what} failed: `{cmd}` exited with status {code}")?
            }
            _ if what.is_empty() => f.write_str(self.cause.as_deref().unwrap_or_default())?,
            _ => write!(
                f,
                "the {what} failed: {}",
                self.cause.as_deref().unwrap_or("")
            )?,
        }
        for line in &self.tail {
            write!(f, "\n  | {line}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n{hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for JobError {}

impl From<String> for JobError {
    fn from(message: String) -> Self {
        Self::msg(message)
    }
}

impl From<&str> for JobError {
    fn from(message: &str) -> Self {
        Self::msg(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_is_the_one_job_message_shape() {
        let mut e = JobError::exited("push of `a`", "docker push r/a".into(), 1, None);
        e.tail = vec!["denied".into()];
        e.hint = Some("run `imagemk login`".into());
        assert_eq!(
            e.to_string(),
            "the push of `a` failed: `docker push r/a` exited with status 1\n  | denied\nrun `imagemk login`"
        );
        let limit = Some(Duration::from_secs(2));
        let e = JobError::exited("build of `a`", "docker build -".into(), -1, limit);
        assert!(e.is(Kind::TimedOut));
        assert_eq!(
            e.to_string(),
            "the build of `a` timed out after 2s: `docker build -` was stopped"
        );
        let e = JobError::start("pull of `a`", anyhow::anyhow!("no docker"));
        assert_eq!(e.to_string(), "the pull of `a` failed: no docker");
        let e = JobError::start("pull of `a`", crate::signal::Interrupted.into());
        assert!(e.is(Kind::Interrupted));
        assert_eq!(JobError::msg("boom").to_string(), "boom");
        let inner = anyhow::Error::from(JobError::interrupted()).context("pulling");
        let e = JobError::of(&inner, format!("{inner:#}"));
        assert!(e.is(Kind::Interrupted));
        assert_eq!(
            e.to_string(),
            format!("pulling: {}", crate::signal::Interrupted)
        );
        let e = JobError::interrupted().and("left `x`");
        assert!(e.is(Kind::Interrupted));
        assert_eq!(
            e.to_string(),
            format!("{}\nleft `x`", crate::signal::Interrupted)
        );
    }
}
