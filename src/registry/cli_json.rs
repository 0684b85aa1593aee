//! Runs a cloud CLI listing command and parses its JSON output, so that every backend reports
//! unexpected output the same way: naming the command, before anything is changed.

use serde::de::DeserializeOwned;

use crate::exec::{self, Cmd};

/// Runs `cmd` and parses its stdout as `T`; a failure hints at `login` when it looks like one.
pub fn run<T: DeserializeOwned>(cmd: &Cmd, login: &str) -> anyhow::Result<T> {
    let out = exec::capture(cmd).map_err(|e| {
        let lower = e.to_string().to_lowercase();
        let auth = [
            "unauthorized",
            "login",
            "credential",
            "authenticat",
            "permission",
            "denied",
        ]
        .iter()
        .any(|w| lower.contains(w));
        if auth {
            e.context(format!("not logged in? run `{login}`"))
        } else {
            e
        }
    })?;
    serde_json::from_str(&out.stdout)
        .map_err(|e| anyhow::anyhow!("`{cmd}` printed unexpected JSON ({e}); nothing was changed"))
}

/// Parses a time as RFC 3339, also with a space instead of `T` (gcloud's `datetime`).
pub fn time(text: &str) -> Option<jiff::Timestamp> {
    text.parse()
        .ok()
        .or_else(|| text.replacen(' ', "T", 1).parse().ok())
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
    }
}
