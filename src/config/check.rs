//! The checks on single values of `images.yaml` that need no other file: names (image keys,
//! kinds, variants, components), environment and build-arg names, label keys, and the paths
//! `artifacts.to` and `stage.to`. Used as serde `deserialize_with` helpers, so a bad value is
//! reported with the file, line and column of the value itself.

use std::collections::BTreeMap;
use std::path::{Component, Path};
use std::sync::LazyLock;

use regex::Regex;
use serde::de::{Deserialize, Deserializer, Error, Visitor};

static NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$").unwrap());
static ENV_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z_][A-Za-z0-9_]*$").unwrap());

fn shown(text: &str) -> String {
    crate::reference::shorten(text, 60)
}

/// An image key, kind, variant, platform or component name: it becomes part of image names,
/// ids (`component/key`) and make targets, so docker's path-component rule.
pub fn name(what: &str, text: &str) -> Result<(), String> {
    if NAME.is_match(text) && text.len() <= 128 {
        return Ok(());
    }
    Err(format!(
        "{what} `{}` is not a valid name: use lowercase letters and digits, separated by `.`, `_`, `__` or `-` (no `/`, at most 128 characters)",
        shown(text)
    ))
}

/// A variable name for `run.env` or `args` (the name only: values are never configured).
pub fn env_name(what: &str, text: &str) -> Result<(), String> {
    if ENV_NAME.is_match(text) {
        return Ok(());
    }
    if let Some((n, _)) = text.split_once('=').filter(|_| what.contains("env")) {
        // The value is never echoed: it may be a secret.
        return Err(format!(
            "{what} `{}=…` sets a value; list the name only (`{}`) and set the value in the environment (values in images.yaml show in `ps`, logs and --dry-run)",
            shown(n),
            shown(n)
        ));
    }
    Err(format!(
        "{what} `{}` is not a variable name: use letters, digits and `_`, not starting with a digit",
        shown(text)
    ))
}

/// A label key: not empty, no `=`, no white space or control characters.
pub fn label_key(text: &str) -> Result<(), String> {
    if !text.is_empty()
        && !text
            .chars()
            .any(|c| c == '=' || c.is_whitespace() || c.is_control())
    {
        return Ok(());
    }
    Err(format!(
        "label key `{}` is not valid: it must be non-empty, with no `=`, spaces or control characters",
        shown(text)
    ))
}

/// A path below a directory (`artifacts.to` from the component directory, `stage.to` from the
/// context): relative, and naming something strictly inside it after `.` and `..`.
pub fn inside(what: &str, base: &str, text: &str) -> Result<(), String> {
    let path = Path::new(text);
    let why = if text.is_empty() {
        Some("it is empty")
    } else if path.is_absolute() {
        Some("it is absolute")
    } else {
        let mut depth: i64 = 0;
        let mut escapes = false;
        for c in path.components() {
            match c {
                Component::ParentDir => depth -= 1,
                Component::Normal(_) => depth += 1,
                _ => {}
            }
            escapes |= depth < 0;
        }
        (escapes || depth == 0).then_some("it names the directory itself or leaves it")
    };
    match why {
        None => Ok(()),
        Some(why) => Err(format!(
            "{what} `{}` must be a path inside the {base}: {why}",
            shown(text)
        )),
    }
}

/// Deserializes a string and checks it with `check`, inside the visitor so that the error
/// carries the value's own position.
pub(crate) fn checked<'de, D: Deserializer<'de>>(
    d: D,
    check: impl Fn(&str) -> Result<(), String>,
) -> Result<String, D::Error> {
    struct V<F>(F);
    impl<'de, F: Fn(&str) -> Result<(), String>> Visitor<'de> for V<F> {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<String, E> {
            (self.0)(v).map_err(E::custom)?;
            Ok(v.to_string())
        }
    }
    d.deserialize_str(V(check))
}

macro_rules! newtype {
    ($ty:ident, $check:expr) => {
        struct $ty(String);
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                checked(d, $check).map($ty)
            }
        }
    };
}

newtype!(ImageKey, |s: &str| name("image key", s));
newtype!(VariantKey, |s: &str| name("variant", s));
newtype!(EnvName, |s: &str| env_name("`run.env` entry", s));
newtype!(ArgName, |s: &str| env_name("build arg", s));
newtype!(LabelKey, label_key);

fn map_with<'de, D, K, V>(d: D, key: fn(K) -> String) -> Result<BTreeMap<String, V>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
{
    let map = BTreeMap::<K, V>::deserialize(d)?;
    Ok(map.into_iter().map(|(k, v)| (key(k), v)).collect())
}

macro_rules! ordered {
    ($($ty:ident),*) => {$(
        impl PartialEq for $ty {
            fn eq(&self, o: &Self) -> bool { self.0 == o.0 }
        }
        impl Eq for $ty {}
        impl PartialOrd for $ty {
            fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> { Some(self.cmp(o)) }
        }
        impl Ord for $ty {
            fn cmp(&self, o: &Self) -> std::cmp::Ordering { self.0.cmp(&o.0) }
        }
    )*};
}
ordered!(ImageKey, VariantKey, ArgName, LabelKey);

pub fn images<'de, D: Deserializer<'de>, V: Deserialize<'de>>(
    d: D,
) -> Result<BTreeMap<String, V>, D::Error> {
    map_with(d, |k: ImageKey| k.0)
}

pub fn variants<'de, D: Deserializer<'de>, V: Deserialize<'de>>(
    d: D,
) -> Result<BTreeMap<String, V>, D::Error> {
    map_with(d, |k: VariantKey| k.0)
}

pub fn args<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    map_with(d, |k: ArgName| k.0)
}

pub fn labels<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    map_with(d, |k: LabelKey| k.0)
}

pub fn env_names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Vec::<EnvName>::deserialize(d)?;
    Ok(v.into_iter().map(|n| n.0).collect())
}

pub fn kind<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, |s| name("kind", s)).map(Some)
}

pub fn component<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, |s| name("component", s)).map(Some)
}

pub fn artifact_to<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, |s| {
        inside("artifact destination", "component directory", s)
    })
}

pub fn workdir<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, |s| {
        if s.starts_with('/') {
            Ok(())
        } else {
            Err(format!(
                "`run.workdir` `{}` must be an absolute path in the container",
                shown(s)
            ))
        }
    })
    .map(Some)
}

pub fn stage_to<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, |s| inside("stage destination", "build context", s))
}

/// `timeout:` (`90s`, `80m`, `2h`, `1h30m`); zero, a negative value, an unknown unit or an
/// overflow is a load error at the value's position.
pub fn timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Option<std::time::Duration>, D::Error> {
    let one_line = |s: &str| crate::duration::parse(s).map_err(|e| e.replace('\n', "; "));
    let text = checked(d, |s| one_line(s).map(|_| ()))?;
    one_line(&text).map(Some).map_err(D::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_inside() {
        for ok in ["out", "out/x", "./out", "a/../b", "out/"] {
            assert_eq!(inside("to", "dir", ok), Ok(()), "{ok}");
        }
        for bad in [
            ".",
            "",
            "..",
            "/",
            "/abs",
            "a/../..",
            "./",
            "a/..",
            "../x",
            "a/../../x",
        ] {
            assert!(inside("to", "dir", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names() {
        for ok in ["buildenv", "a1", "a.b", "a__b", "a--b"] {
            assert_eq!(name("image key", ok), Ok(()));
        }
        for bad in ["", "a/b", "A", "-a", "a-", "é", "a b"] {
            assert!(name("image key", bad).is_err(), "{bad}");
        }
        assert_eq!(
            env_name("`run.env` entry", "KM_TOKEN=hunter2").unwrap_err(),
            "`run.env` entry `KM_TOKEN=…` sets a value; list the name only (`KM_TOKEN`) and set the value in the environment (values in images.yaml show in `ps`, logs and --dry-run)"
        );
    }
}

/// An alias key: not empty, no white space, control character, `/`, `:` or `=` (the separators
/// of `component/key` and `--arg IMAGE:NAME=VALUE`), not starting with `-`.
pub fn alias(text: &str) -> Result<(), String> {
    let bad = text.is_empty()
        || text.starts_with('-')
        || text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | ':' | '='));
    if bad {
        return Err(format!(
            "alias `{}` cannot be a name on the command line: use no white space, `/`, `:` or `=`, and do not start with `-`",
            shown(text)
        ));
    }
    Ok(())
}

newtype!(AliasKey, alias);
ordered!(AliasKey);

pub fn aliases<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    map_with(d, |k: AliasKey| k.0)
}

/// One `workspace.references` glob: a valid pattern for files inside the workspace.
fn reference_glob(text: &str) -> Result<(), String> {
    inside("reference glob", "workspace", text)?;
    glob::Pattern::new(text)
        .map(|_| ())
        .map_err(|e| format!("reference glob `{}` is not a valid glob: {e}", shown(text)))
}

newtype!(ReferenceGlob, reference_glob);

pub fn references<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Vec::<ReferenceGlob>::deserialize(d)?
        .into_iter()
        .map(|g| g.0)
        .collect())
}
