//! The docker image reference grammar (distribution/reference) and the `{var}` name templates.
//! Every name imagemk will hand to docker goes through [`ImageRef::parse`] first, so a bad tag
//! or repository is reported before any command runs.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$").unwrap());
static PATH_COMPONENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$").unwrap());
static DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?$|^\[[0-9a-fA-F:.]+\](?::[0-9]+)?$",
    )
    .unwrap()
});
static DIGEST: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^sha256:[a-f0-9]{64}$").unwrap());

/// Why a reference was rejected; the message says what the grammar allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefError(pub String);

impl fmt::Display for RefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RefError {}

pub fn check_tag(tag: &str) -> Result<(), RefError> {
    if tag.is_empty() {
        return Err(RefError("the tag is empty".into()));
    }
    if !TAG.is_match(tag) {
        return Err(RefError(format!(
            "tag `{}` is not a valid docker tag: use letters, digits, `_`, `.` and `-`, not starting with `.` or `-`",
            shorten(tag, 40)
        )));
    }
    if tag.len() > 128 {
        return Err(RefError(format!(
            "tag `{}` is {} characters long; a docker tag has at most 128",
            shorten(tag, 20),
            tag.len()
        )));
    }
    Ok(())
}

/// `text` cut to its first `max` characters (never inside one), with `…` when cut; control
/// characters are shown escaped so a message stays on one line.
pub fn shorten(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    if out.chars().any(char::is_control) {
        out = out.escape_debug().to_string();
    }
    out
}

pub fn check_digest(digest: &str) -> Result<(), RefError> {
    if DIGEST.is_match(digest) {
        Ok(())
    } else {
        Err(RefError(format!(
            "`{digest}` is not a sha256 digest (`sha256:` and 64 lowercase hex digits)"
        )))
    }
}

/// A registry host as the first part of a name: it must contain `.` or `:` or be `localhost`,
/// or docker reads it as a Docker Hub user.
pub fn check_host(host: &str) -> Result<(), RefError> {
    if !DOMAIN.is_match(host) {
        return Err(RefError(format!(
            "`{host}` is not a valid registry host (host[:port])"
        )));
    }
    if !(host.contains('.') || host.contains(':') || host == "localhost") {
        return Err(RefError(format!(
            "`{host}` would be read by docker as a Docker Hub namespace, not a registry host; write it with a port or a domain (e.g. `localhost:5000`, `{host}.example.com`)"
        )));
    }
    Ok(())
}

/// `[host[:port]/]path/component`, lowercase path components, at most 255 characters.
pub fn check_repository(repo: &str) -> Result<(), RefError> {
    let (host, path) = split_host(repo);
    if let Some(host) = host {
        if !looks_like_host(host) {
            return Err(RefError(format!(
                "`{repo}` is not a valid repository name: repository names must be lowercase (`{host}`)"
            )));
        }
        check_host(host)?;
    }
    if path.len() > 255 {
        return Err(RefError(format!(
            "repository `{repo}` is longer than 255 characters"
        )));
    }
    for part in path.split('/') {
        if !PATH_COMPONENT.is_match(part) {
            let why = if part.contains(':') {
                "a `:` may only come before the tag at the end, and a tag cannot contain `/`"
            } else if part.chars().any(|c| c.is_uppercase()) {
                "repository names must be lowercase"
            } else if part.is_empty() {
                "it has an empty path component"
            } else {
                "path components are lowercase letters and digits separated by `.`, `_`, `__` or `-`"
            };
            return Err(RefError(format!(
                "`{repo}` is not a valid repository name: {why}"
            )));
        }
    }
    Ok(())
}

/// Whether docker reads `first` (a name's first component) as a registry host.
fn looks_like_host(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

/// Splits a leading registry host off a repository, by docker's rule.
pub fn split_host(repo: &str) -> (Option<&str>, &str) {
    match repo.split_once('/') {
        Some((first, rest))
            if looks_like_host(first) || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, repo),
    }
}

/// A checked `repository:tag`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageRef {
    pub repository: String,
    pub tag: String,
}

impl ImageRef {
    /// Parses `repo[:tag]` (tag defaults to `latest`); digests are not accepted here.
    pub fn parse(s: &str) -> Result<ImageRef, RefError> {
        if s.contains('@') {
            return Err(RefError(format!(
                "`{s}` names a digest; a tag is needed here"
            )));
        }
        let (repository, tag) = match s.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, tag),
            _ => (s, "latest"),
        };
        check_repository(repository)?;
        check_tag(tag).map_err(|e| RefError(format!("in `{s}`: {e}")))?;
        Ok(ImageRef {
            repository: repository.to_string(),
            tag: tag.to_string(),
        })
    }

    pub fn with_tag(&self, tag: &str) -> ImageRef {
        ImageRef {
            repository: self.repository.clone(),
            tag: tag.to_string(),
        }
    }

    /// The last path component: `kontain/test-km-fedora` → `test-km-fedora`.
    pub fn basename(&self) -> &str {
        self.repository
            .rsplit('/')
            .next()
            .unwrap_or(&self.repository)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.repository, self.tag)
    }
}

/// Fills `{name}` placeholders from `vars`; an unknown placeholder is an error naming it and
/// the known ones.
pub fn render(template: &str, vars: &BTreeMap<&str, String>) -> Result<String, RefError> {
    let mut out = String::new();
    let mut rest = template;
    while let Some((before, after)) = rest.split_once('{') {
        out.push_str(before);
        let (key, next) = after.split_once('}').ok_or_else(|| {
            RefError(format!(
                "template `{template}` has a `{{` with no closing `}}`"
            ))
        })?;
        match vars.get(key) {
            Some(v) => out.push_str(v),
            None => {
                let known: Vec<String> = vars.keys().map(|k| format!("{{{k}}}")).collect();
                return Err(RefError(format!(
                    "template `{template}` uses `{{{key}}}`, which is not one of {}",
                    known.join(", ")
                )));
            }
        }
        rest = next;
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<(&str, &str), &str>) {
        let got = ImageRef::parse(input)
            .map(|r| (r.repository, r.tag))
            .map_err(|e| e.0);
        let expected = expected
            .map(|(r, t)| (r.to_string(), t.to_string()))
            .map_err(|e| e.to_string());
        assert_eq!(got, expected, "input: {input}");
    }

    #[test]
    fn parses_references() {
        check(
            "kontain/test-node-fedora:CI-42",
            Ok(("kontain/test-node-fedora", "CI-42")),
        );
        check(
            "kontain/buildenv-km-fedora",
            Ok(("kontain/buildenv-km-fedora", "latest")),
        );
        check(
            "localhost:5000/a/b:v1.2_3",
            Ok(("localhost:5000/a/b", "v1.2_3")),
        );
        check("127.0.0.1:5000/x", Ok(("127.0.0.1:5000/x", "latest")));
        check(
            "gcr.io/lattice-dev/alice-debug-envoy:latest",
            Ok(("gcr.io/lattice-dev/alice-debug-envoy", "latest")),
        );
        check("a__b/c-d---e.f:x", Ok(("a__b/c-d---e.f", "x")));
    }

    #[test]
    fn rejects_bad_references() {
        check(
            "kontain/test:CI/42",
            Err("`kontain/test:CI/42` is not a valid repository name: a `:` may only come before the tag at the end, and a tag cannot contain `/`"),
        );
        check(
            "Kontain/test:x",
            Err("`Kontain/test` is not a valid repository name: repository names must be lowercase (`Kontain`)"),
        );
        check(
            "kontain/Test:x",
            Err(
                "`kontain/Test` is not a valid repository name: repository names must be lowercase",
            ),
        );
        check(
            "kontain//test",
            Err("`kontain//test` is not a valid repository name: it has an empty path component"),
        );
        check("kontain/test:.x", Err("in `kontain/test:.x`: tag `.x` is not a valid docker tag: use letters, digits, `_`, `.` and `-`, not starting with `.` or `-`"));
        check(
            "kontain/test@sha256:00",
            Err("`kontain/test@sha256:00` names a digest; a tag is needed here"),
        );
    }

    #[test]
    fn tags() {
        assert!(check_tag("CI-42").is_ok());
        assert!(check_tag(&"a".repeat(128)).is_ok());
        assert_eq!(
            check_tag(&"a".repeat(129)).unwrap_err().0,
            "tag `aaaaaaaaaaaaaaaaaaaa…` is 129 characters long; a docker tag has at most 128"
        );
        assert_eq!(
            check_tag("CI/42").unwrap_err().0,
            "tag `CI/42` is not a valid docker tag: use letters, digits, `_`, `.` and `-`, not starting with `.` or `-`"
        );
        assert_eq!(check_tag("").unwrap_err().0, "the tag is empty");
        // Multi-byte characters past the cut: counted and cut by character, never by byte.
        let long = format!("a{}", "é".repeat(70));
        assert_eq!(
            check_tag(&long).unwrap_err().0,
            format!("tag `a{}…` is not a valid docker tag: use letters, digits, `_`, `.` and `-`, not starting with `.` or `-`", "é".repeat(39))
        );
        assert_eq!(
            check_tag("x;touch /tmp/p\n").unwrap_err().0,
            "tag `x;touch /tmp/p\\n` is not a valid docker tag: use letters, digits, `_`, `.` and `-`, not starting with `.` or `-`"
        );
        assert_eq!(shorten("ab\u{e9}c", 2), "ab…");
    }

    #[test]
    fn hosts() {
        assert!(check_host("localhost").is_ok());
        assert!(check_host("localhost:5000").is_ok());
        assert!(check_host("kontainkubecr.azurecr.io").is_ok());
        assert!(check_host("us-docker.pkg.dev").is_ok());
        assert!(check_host("[::1]:5000").is_ok());
        assert!(check_host("bad_host.io").is_err());
        assert!(check_host("myhost").is_err());
    }

    #[test]
    fn digests() {
        assert!(check_digest(&format!("sha256:{}", "a".repeat(64))).is_ok());
        assert!(check_digest(&format!("sha256:{}", "A".repeat(64))).is_err());
    }

    #[test]
    fn templates() {
        let vars: BTreeMap<&str, String> =
            [("namespace", "kontain"), ("kind", "test"), ("tag", "CI-42")]
                .into_iter()
                .map(|(k, v)| (k, v.to_string()))
                .collect();
        assert_eq!(
            render("{namespace}/{kind}:{tag}", &vars).unwrap(),
            "kontain/test:CI-42"
        );
        assert_eq!(
            render("{namespace}/{knd}", &vars).unwrap_err().0,
            "template `{namespace}/{knd}` uses `{knd}`, which is not one of {kind}, {namespace}, {tag}"
        );
        assert_eq!(
            render("{namespace", &vars).unwrap_err().0,
            "template `{namespace` has a `{` with no closing `}`"
        );
    }
}
