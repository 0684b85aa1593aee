//! `.dockerignore` with docker's own semantics (moby's `dockerignore.ReadAll` and
//! `patternmatcher`): one pattern a line, `#` comments at the start of a line, patterns cleaned
//! like Go's `filepath.Clean` and relative to the context root (a leading `/` or `./` means
//! the same), `filepath.Match` syntax plus `**` (any number of directories), `!` exceptions,
//! and the last matching pattern wins. A path is excluded when a pattern matches it or one of
//! its parent directories.

use regex::Regex;

#[derive(Debug)]
struct Pattern {
    /// The cleaned pattern, without `!`.
    text: String,
    exclusion: bool,
    regex: Regex,
}

/// The patterns of one `.dockerignore`.
#[derive(Debug, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
}

impl Matcher {
    /// Parses the file's text; a pattern docker would reject is an error naming it.
    pub fn parse(text: &str) -> Result<Matcher, String> {
        let mut m = Matcher::default();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (exclusion, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            m.push(pattern, exclusion)?;
        }
        Ok(m)
    }

    fn push(&mut self, pattern: &str, exclusion: bool) -> Result<(), String> {
        if exclusion && pattern.is_empty() {
            return Err("illegal exclusion pattern `!`".into());
        }
        let mut text = clean(pattern);
        if text.len() > 1 && text.starts_with('/') {
            text.remove(0);
        }
        let bang = if exclusion { "!" } else { "" };
        let regex =
            Regex::new(&to_regex(&text)).map_err(|_| format!("bad pattern `{bang}{text}`"))?;
        self.patterns.push(Pattern {
            text,
            exclusion,
            regex,
        });
        Ok(())
    }

    /// Keeps `rel` in the context even when a pattern excludes it, as docker's CLI does for
    /// the Dockerfile and `.dockerignore` itself (the daemon drops them after reading).
    pub fn keep(&mut self, rel: &str) {
        if self.excludes(rel) {
            let _ = self.push(rel, true);
        }
    }

    /// Whether `rel` (slash-separated, relative to the context root) is excluded: the last
    /// pattern that matches it or one of its parent directories decides.
    pub fn excludes(&self, rel: &str) -> bool {
        let parents: Vec<&str> = match rel.rfind('/') {
            Some(i) => rel[..i].split('/').collect(),
            None => Vec::new(),
        };
        let mut matched = false;
        for p in &self.patterns {
            // An exception only matters once something matched, a pattern only before.
            if p.exclusion != matched {
                continue;
            }
            let hit = p.regex.is_match(rel)
                || (1..=parents.len()).any(|n| p.regex.is_match(&parents[..n].join("/")));
            if hit {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// Whether the walk must look inside the excluded directory `dir` because an exception
    /// names a path below it (docker's CLI skips it otherwise).
    pub fn may_keep_inside(&self, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        self.patterns
            .iter()
            .any(|p| p.exclusion && format!("{}/", p.text).starts_with(&prefix))
    }
}

/// Go's `filepath.Clean` for slash-separated paths.
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match out.last() {
                Some(&last) if last != ".." => {
                    out.pop();
                }
                _ if rooted => {}
                _ => out.push(".."),
            },
            p => out.push(p),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// moby's translation of a pattern into a regular expression.
fn to_regex(pattern: &str) -> String {
    let mut re = String::from("^");
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                if chars.peek() == Some(&'/') {
                    chars.next();
                }
                re.push_str(if chars.peek().is_none() {
                    ".*"
                } else {
                    "(.*/)?"
                });
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '.' | '$' => {
                re.push('\\');
                re.push(c);
            }
            '\\' => {
                re.push('\\');
                if let Some(next) = chars.next() {
                    re.push(next);
                }
            }
            c => re.push(c),
        }
    }
    re.push('$');
    re
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str) -> Matcher {
        Matcher::parse(text).unwrap()
    }

    #[test]
    fn docker_documentation_examples() {
        // https://docs.docker.com/engine/reference/builder/#dockerignore-file
        let ig = m("# comment\n*/temp*\n*/*/temp*\ntemp?\n");
        assert!(ig.excludes("somedir/temporary.txt"));
        assert!(ig.excludes("somedir/temp"));
        assert!(ig.excludes("somedir/temp/inside")); // its parent matches
        assert!(ig.excludes("somedir/subdir/temporary.txt"));
        assert!(ig.excludes("tempa") && ig.excludes("tempb"));
        assert!(!ig.excludes("temp") && !ig.excludes("temporary.txt"));
        assert!(!ig.excludes("# comment"));

        let ig = m("**/*.go\n");
        assert!(ig.excludes("main.go") && ig.excludes("a/b/c.go"));
        assert!(!ig.excludes("main.rs"));

        let ig = m("*.md\n!README.md\n");
        assert!(ig.excludes("CHANGES.md") && !ig.excludes("README.md"));

        let ig = m("*.md\n!README*.md\nREADME-secret.md\n");
        assert!(ig.excludes("CHANGES.md") && ig.excludes("README-secret.md"));
        assert!(!ig.excludes("README-public.md"));

        let ig = m("*.md\nREADME-secret.md\n!README*.md\n");
        assert!(!ig.excludes("README-secret.md") && !ig.excludes("README.md"));
    }

    #[test]
    fn patterns_are_cleaned_and_relative_to_the_root() {
        let ig = m("/build\n./cache/\n  spaced  \nnested/../top\n");
        assert!(ig.excludes("build") && ig.excludes("build/x"));
        assert!(ig.excludes("cache/x"));
        assert!(ig.excludes("spaced"));
        assert!(ig.excludes("top"));
        // Patterns are anchored: `build` is not `sub/build`.
        assert!(!ig.excludes("sub/build"));
        // `#` starts a comment only at the start of a line; `\` escapes.
        let ig = m(" #kept\n\\#hash\nq\\?\n");
        assert!(ig.excludes("#kept") && ig.excludes("#hash"));
        assert!(ig.excludes("q?") && !ig.excludes("qa"));
        // `*` stops at `/`, `**` does not; `[...]` classes work.
        let ig = m("a/*\nb/**\nc[0-9]\n");
        assert!(ig.excludes("a/x") && ig.excludes("a/x/y"));
        assert!(ig.excludes("b/x/y/z") && ig.excludes("c7") && !ig.excludes("cx"));
        // Dots are literal.
        assert!(!m("a.b\n").excludes("axb"));
        // A byte-order mark is dropped.
        assert!(m("\u{feff}x\n").excludes("x"));
    }

    #[test]
    fn last_match_wins_and_exceptions_reach_into_excluded_dirs() {
        let ig = m("logs\n!logs/keep.txt\n");
        assert!(ig.excludes("logs/a.txt"));
        assert!(!ig.excludes("logs/keep.txt"));
        assert!(ig.excludes("logs"));
        assert!(ig.may_keep_inside("logs") && !ig.may_keep_inside("other"));
        assert!(!m("logs\n!**/keep\n").may_keep_inside("logs"));
        let mut ig = m("*\n");
        assert!(ig.excludes("Dockerfile"));
        ig.keep("Dockerfile");
        ig.keep(".dockerignore");
        assert!(!ig.excludes("Dockerfile") && !ig.excludes(".dockerignore"));
        assert!(ig.excludes("other"));
    }

    #[test]
    fn bad_patterns_are_errors() {
        assert_eq!(
            Matcher::parse("ok\n!\n").unwrap_err(),
            "illegal exclusion pattern `!`"
        );
        assert_eq!(Matcher::parse("a[b\n").unwrap_err(), "bad pattern `a[b`");
    }

    #[test]
    fn clean_is_gos() {
        for (input, want) in [
            ("", "."),
            ("a//b/./c/", "a/b/c"),
            ("../a", "../a"),
            ("a/../..", ".."),
            ("/../a", "/a"),
            ("/", "/"),
        ] {
            assert_eq!(clean(input), want, "{input}");
        }
    }
}
