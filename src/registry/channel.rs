//! Channels: named prefixes put before an image's basename in its remote name
//! (`gcr.io/lattice-dev/alice-debug-envoy`). `workspace.channels` maps a name to a prefix
//! template; `{user}` is the login name (lowercased) and `{variant}` is `-<variant>` when the
//! image is built as a variant, else empty. The `user` channel exists unless redefined, as
//! `{user}{variant}-`, so `CHANNEL=user VARIANT=debug` gives `alice-debug-`.

use std::collections::BTreeMap;

use anyhow::bail;

use crate::reference;

/// The built-in `user` channel.
pub const USER_CHANNEL: (&str, &str) = ("user", "{user}{variant}-");

/// The configured channels plus the built-in ones they do not redefine.
pub fn all(configured: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = configured.clone();
    out.entry(USER_CHANNEL.0.to_string())
        .or_insert_with(|| USER_CHANNEL.1.to_string());
    out
}

/// The prefix of channel `chosen` (none: empty) for an image built as `variant`.
pub fn prefix(
    configured: &BTreeMap<String, String>,
    chosen: Option<&str>,
    user: &str,
    variant: Option<&str>,
) -> anyhow::Result<String> {
    let Some(name) = chosen else {
        return Ok(String::new());
    };
    let channels = all(configured);
    let Some(template) = channels.get(name) else {
        let names: Vec<&str> = channels.keys().map(String::as_str).collect();
        let hint = crate::config::error::did_you_mean(name, &names);
        bail!(
            "unknown channel `{name}`{hint} (channels: {}); define it under `workspace.channels`",
            names.join(", ")
        );
    };
    let vars: BTreeMap<&str, String> = [
        ("user", user.to_lowercase()),
        (
            "variant",
            variant.map(|v| format!("-{v}")).unwrap_or_default(),
        ),
    ]
    .into_iter()
    .collect();
    let prefix =
        reference::render(template, &vars).map_err(|e| anyhow::anyhow!("channel `{name}`: {e}"))?;
    if !prefix.is_empty() {
        // The prefix starts a path component, so `{prefix}x` must be one.
        reference::check_repository(&format!("{prefix}x")).map_err(|_| {
            anyhow::anyhow!(
                "channel `{name}` gives the prefix `{prefix}`, which cannot start a repository name; use lowercase letters, digits, `.`, `_` and `-`"
            )
        })?;
    }
    Ok(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        chosen: Option<&str>,
        user: &str,
        variant: Option<&str>,
        expected: Result<&str, &str>,
    ) {
        let configured: BTreeMap<String, String> = [
            ("stable".to_string(), "stable-".to_string()),
            ("team".to_string(), "{team}-".to_string()),
        ]
        .into_iter()
        .collect();
        let got = prefix(&configured, chosen, user, variant).map_err(|e| e.to_string());
        assert_eq!(got, expected.map(String::from).map_err(String::from));
    }

    #[test]
    fn prefixes() {
        check(None, "alice", Some("debug"), Ok(""));
        check(Some("stable"), "alice", None, Ok("stable-"));
        check(Some("stable"), "alice", Some("debug"), Ok("stable-"));
        check(Some("user"), "alice", None, Ok("alice-"));
        check(Some("user"), "Alice", Some("debug"), Ok("alice-debug-"));
    }

    #[test]
    fn bad_channels() {
        check(Some("stabel"), "a", None, Err("unknown channel `stabel`; did you mean `stable`? (channels: stable, team, user); define it under `workspace.channels`"));
        check(Some("team"), "a", None, Err("channel `team`: template `{team}-` uses `{team}`, which is not one of {user}, {variant}"));
        check(Some("user"), "a b", None, Err("channel `user` gives the prefix `a b-`, which cannot start a repository name; use lowercase letters, digits, `.`, `_` and `-`"));
    }
}
