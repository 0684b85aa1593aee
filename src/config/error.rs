//! Turns serde_yaml_ng errors into one line naming the file, line and column, with the nearest
//! valid key suggested for an unknown one.

use std::path::Path;

use serde::de::DeserializeOwned;

static STRUCT: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"struct Raw\w+").unwrap());

/// Parses `text` (the contents of `path`) as `T`.
pub fn parse_yaml<T: DeserializeOwned + Default>(path: &Path, text: &str) -> anyhow::Result<T> {
    if text.trim().is_empty() {
        return Ok(T::default());
    }
    if let Some(msg) = super::dup::check(path, text) {
        anyhow::bail!(msg);
    }
    serde_yaml_ng::from_str(text).map_err(|e| anyhow::anyhow!(describe(path, &e)))
}

fn describe(path: &Path, err: &serde_yaml_ng::Error) -> String {
    let mut msg = err.to_string();
    // The location is given by `location()`; drop serde_yaml's own " at line L column C".
    if let Some(i) = msg.find(" at line ") {
        msg.truncate(i);
    }
    let place = match err.location() {
        Some(loc) => format!("{}:{}:{}", path.display(), loc.line(), loc.column()),
        None => path.display().to_string(),
    };
    format!("`{place}`: {}", explain(&msg))
}

/// Rewrites serde's unknown-field message as ours, with a suggestion.
fn explain(msg: &str) -> String {
    let (context, body) = match msg.split_once(": unknown field") {
        Some((ctx, rest)) => (Some(ctx), format!("unknown field{rest}")),
        None => (None, msg.to_string()),
    };
    let Some(rest) = body.strip_prefix("unknown field `") else {
        return STRUCT.replace_all(msg, "a mapping").into_owned();
    };
    let Some((key, expected)) = rest.split_once('`') else {
        return msg.to_string();
    };
    let valid: Vec<&str> = expected
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s)
        .collect();
    let place = context.map(|c| format!(" in `{c}`")).unwrap_or_default();
    let mut out = format!("unknown key `{key}`{place}");
    if let Some(best) = nearest(key, &valid) {
        out.push_str(&format!("; did you mean `{best}`?"));
    }
    if !valid.is_empty() {
        out.push_str(&format!(" (valid keys: {})", valid.join(", ")));
    }
    out
}

/// `; did you mean `x`?` when a candidate is close to `word`, else nothing: the suffix every
/// "unknown …" message uses.
pub fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    nearest(word, candidates)
        .map(|n| format!("; did you mean `{n}`?"))
        .unwrap_or_default()
}

/// The candidate closest to `word`, when it is close enough to be a likely typo.
pub fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::RawFile;

    fn check(yaml: &str, expected: &str) {
        let err = parse_yaml::<RawFile>(Path::new("images.yaml"), yaml).unwrap_err();
        assert_eq!(err.to_string(), expected);
    }

    #[test]
    fn unknown_keys_suggest_the_nearest() {
        check(
            "images:\n  buildenv:\n    dockerfle: x\n",
            "`images.yaml:3:5`: unknown key `dockerfle` in `images.buildenv`; did you mean `dockerfile`? (valid keys: kind, dockerfile, context, args, labels, target, depends, stage, variants, run, artifacts, host, timeout)",
        );
        check(
            "componnet: x\n",
            "`images.yaml:1:1`: unknown key `componnet`; did you mean `component`? (valid keys: workspace, defaults, component, images)",
        );
        check(
            "defaults:\n  zzz: 1\n",
            "`images.yaml:2:3`: unknown key `zzz` in `defaults` (valid keys: namespace, platform, tag, name, channel)",
        );
    }

    #[test]
    fn malformed_yaml_names_line_and_column() {
        check(
            "images:\n\tbuildenv: {}\n",
            "`images.yaml:2:1`: found character that cannot start any token",
        );
        check(
            "images:\n  a: [1]\n",
            "`images.yaml:2:6`: images.a: invalid type: sequence, expected a mapping",
        );
        check(
            "images:\n  a:\n    depends: x\n",
            "`images.yaml:3:14`: images.a.depends: invalid type: string \"x\", expected a sequence",
        );
    }

    #[test]
    fn nearest_candidates() {
        assert_eq!(nearest("tset", &["test", "buildenv"]), Some("test"));
        assert_eq!(nearest("zzzzzz", &["test", "buildenv"]), None);
    }
}
