//! Runs a cloud CLI listing command and parses its JSON output, so that every backend reports
//! unexpected output the same way: naming the command, before anything is changed. What a
//! failure means (not found, not logged in, …) is decided by the CLI's own `explain`.

use serde::de::DeserializeOwned;

use crate::exec::{self, Cmd};

/// Runs `cmd` and parses its stdout as `T`; a failure goes through `explain` (which adds the
/// hint that fits, or turns "not found" into [`super::backend::NotFound`]).
pub fn run<T: DeserializeOwned>(
    cmd: &Cmd,
    explain: impl Fn(anyhow::Error) -> anyhow::Error,
) -> anyhow::Result<T> {
    let out = exec::capture(cmd).map_err(explain)?;
    serde_json::from_str(&out.stdout)
        .map_err(|e| anyhow::anyhow!("`{cmd}` printed unexpected JSON ({e}); nothing was changed"))
}

/// The stderr of a failed command, when `e` is one.
pub fn stderr_of(e: &anyhow::Error) -> Option<&str> {
    e.downcast_ref::<exec::CmdError>()
        .map(|c| c.stderr.as_str())
}

/// `e` with a `hint:` line (the error's own text stays first, whole).
pub fn with_hint(e: anyhow::Error, hint: &str) -> anyhow::Error {
    anyhow::anyhow!("{e:#}\nhint: {hint}")
}

/// Parses a time as RFC 3339, also with a space instead of `T` (gcloud's `datetime`).
pub fn time(text: &str) -> Option<jiff::Timestamp> {
    text.parse()
        .ok()
        .or_else(|| text.replacen(' ', "T", 1).parse().ok())
}

/// The kind of the first row of `table` one of whose texts `stderr` contains: how a CLI's
/// error output is classified (rows in order of precedence). By text: a cloud CLI's stderr is
/// all it gives (gcloud and az exit 1 for every error).
pub fn classify_by<T: Copy>(stderr: &str, table: &[(T, &[&str])]) -> Option<T> {
    table
        .iter()
        .find(|(_, texts)| texts.iter().any(|t| stderr.contains(t)))
        .map(|&(kind, _)| kind)
}

/// Asserts what `classify` makes of each `(stderr, expected)`: every CLI's classifier is
/// tested by one table of real texts.
#[cfg(test)]
pub fn assert_classified<T: Copy + PartialEq + std::fmt::Debug>(
    classify: impl Fn(&str) -> Option<T>,
    cases: &[(&str, Option<T>)],
) {
    for (stderr, expected) in cases {
        assert_eq!(classify(stderr), *expected, "{stderr}");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times() {
        let t = |s: &str| super::time(s).map(|t| t.to_string());
        assert_eq!(
            t("2024-05-01 12:00:00+02:00").as_deref(),
            Some("2024-05-01T10:00:00Z")
        );
        assert_eq!(
            t("2024-05-01T10:00:00.5Z").as_deref(),
            Some("2024-05-01T10:00:00.5Z")
        );
        assert_eq!(t("yesterday"), None);
        assert_eq!(t("ééé 12"), None);
    }
}
