//! The pure part of `imagemk refs`: find every reference to a locked repository in a text and
//! say what it must become. A reference is the repository's remote name taken literally
//! (`host/path/name`), optionally followed by `:tag`, `@sha256:…` or both; it becomes
//! `name@sha256:<locked>`, or `name:tag@sha256:<locked>` when a tag was there.
//!
//! Boundaries are what make it safe: the character before the name must not continue a name
//! (`a.reg.io/k/x`, `mirror/reg.io/k/x`), and the character after the reference must not
//! continue one either (`…/test-km` never matches inside `…/test-km-debug` or `…/test-km/sub`).
//! Anything that looks like a reference but cannot be read whole (an `@` that is not a full
//! sha256 digest, a `:` that starts no tag) is left alone and reported as skipped.

use std::sync::LazyLock;

use regex::Regex;

/// A repository and the digest it is locked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// `host/path/name`, no tag.
    pub remote: String,
    /// `sha256:…`.
    pub digest: String,
}

/// One reference found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Byte range of the reference in the text.
    pub start: usize,
    pub end: usize,
    /// 1-based line of its start.
    pub line: usize,
    /// The reference as written.
    pub text: String,
    /// What it becomes; equal to `text` when it is current.
    pub locked: String,
}

impl Found {
    pub fn drifts(&self) -> bool {
        self.text != self.locked
    }
}

/// A place that names a locked repository but was not read as a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub line: usize,
    pub why: String,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// In text order, never overlapping.
    pub found: Vec<Found>,
    pub skipped: Vec<Skipped>,
}

impl Scan {
    /// `text` with every drifting reference replaced.
    pub fn apply(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + 64 * self.found.len());
        let mut at = 0;
        for f in self.found.iter().filter(|f| f.drifts()) {
            out.push_str(&text[at..f.start]);
            out.push_str(&f.locked);
            at = f.end;
        }
        out.push_str(&text[at..]);
        out
    }

    pub fn drifting(&self) -> impl Iterator<Item = &Found> {
        self.found.iter().filter(|f| f.drifts())
    }
}

static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^:([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})").unwrap());
static DIGEST: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^@sha256:([0-9a-f]*)").unwrap());

/// Characters that continue a repository name, a tag or a digest.
fn continues_name(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')
}

/// Every reference to `pins` in `text`.
pub fn scan(text: &str, pins: &[Pin]) -> Scan {
    let mut scan = Scan::default();
    for pin in pins.iter().filter(|p| !p.remote.is_empty()) {
        for (start, _) in text.match_indices(pin.remote.as_str()) {
            if !starts_clean(text, start) {
                continue;
            }
            match read_reference(text, start, pin) {
                Ok(Some(found)) => scan.found.push(found),
                Ok(None) => {}
                Err(why) => scan.skipped.push(Skipped {
                    line: line_of(text, start),
                    why,
                }),
            }
        }
    }
    scan.found.sort_by_key(|f| f.start);
    // Two pins cannot both match one place (boundaries), but never rewrite overlapping ranges.
    let mut end = 0;
    scan.found.retain(|f| {
        let keep = f.start >= end;
        end = end.max(f.end);
        keep
    });
    scan.skipped.sort_by_key(|s| s.line);
    scan
}

/// Whether a reference may start at `start`: not inside a longer name, a host or a path, but
/// after a URL scheme's `://`.
fn starts_clean(text: &str, start: usize) -> bool {
    let before = &text[..start];
    if before.ends_with("://") {
        return true;
    }
    match before.chars().next_back() {
        None => true,
        Some(c) => !(continues_name(c) || matches!(c, ':' | '@')),
    }
}

/// The reference to `pin` starting at `start`: `Ok(None)` when the name continues (another
/// repository), `Err` when it cannot be read whole.
fn read_reference(text: &str, start: usize, pin: &Pin) -> Result<Option<Found>, String> {
    let mut end = start + pin.remote.len();
    let rest = &text[end..];
    if rest.chars().next().is_some_and(continues_name) {
        return Ok(None);
    }
    let mut tag = None;
    if rest.starts_with(':') {
        match TAG.captures(rest) {
            Some(c) => {
                tag = Some(c[1].to_string());
                end += c[0].len();
            }
            // `name:` and then no tag: a YAML key or a port, not a reference.
            None => return Ok(None),
        }
    }
    if text[end..].starts_with('@') {
        match DIGEST.captures(&text[end..]) {
            Some(c) if c[1].len() == 64 => end += c[0].len(),
            _ => {
                return Err(format!(
                    "`{}` is followed by `@` but not by a sha256 digest (`@sha256:` and 64 lowercase hex digits); left as it is",
                    &text[start..end]
                ))
            }
        }
    }
    if text[end..]
        .chars()
        .next()
        .is_some_and(|c| continues_name(c) || matches!(c, ':' | '@'))
    {
        return Err(format!(
            "`{}` continues with `{}`, which no reference can; left as it is",
            &text[start..end],
            crate::reference::shorten(&text[end..], 1)
        ));
    }
    let locked = match &tag {
        Some(t) => format!("{}:{t}@{}", pin.remote, pin.digest),
        None => format!("{}@{}", pin.remote, pin.digest),
    };
    Ok(Some(Found {
        start,
        end,
        line: line_of(text, start),
        text: text[start..end].to_string(),
        locked,
    }))
}

fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn pins() -> Vec<Pin> {
        [
            ("reg.io:5000/k/test-km", A),
            ("reg.io:5000/k/test-km-debug", B),
            ("gcr.io/p/base", B),
        ]
        .map(|(r, d)| Pin {
            remote: r.into(),
            digest: d.into(),
        })
        .to_vec()
    }

    /// `input` rewritten, as `expected` with `A`/`B` spelled `<A>`/`<B>`.
    fn check(input: &str, expected: &str) {
        let expected = expected.replace("<A>", A).replace("<B>", B);
        let input = input.replace("<A>", A).replace("<B>", B);
        let scan = scan(&input, &pins());
        assert_eq!(scan.apply(&input), expected, "input: {input:?}");
        // Rewriting is idempotent: the output has nothing left to change.
        let again = super::scan(&expected, &pins());
        assert_eq!(again.drifting().count(), 0, "not idempotent: {expected:?}");
    }

    #[test]
    fn plain_tagged_digested_and_both() {
        check(
            "FROM reg.io:5000/k/test-km\n",
            "FROM reg.io:5000/k/test-km@<A>\n",
        );
        check(
            "FROM reg.io:5000/k/test-km:CI-42 AS b\n",
            "FROM reg.io:5000/k/test-km:CI-42@<A> AS b\n",
        );
        check(
            "image: reg.io:5000/k/test-km@<B>\n",
            "image: reg.io:5000/k/test-km@<A>\n",
        );
        check(
            "image: \"reg.io:5000/k/test-km:prod@<B>\"\n",
            "image: \"reg.io:5000/k/test-km:prod@<A>\"\n",
        );
    }

    #[test]
    fn names_that_are_prefixes_of_others_stay_apart() {
        check(
            "a: reg.io:5000/k/test-km-debug:1\nb: reg.io:5000/k/test-km:1\n",
            "a: reg.io:5000/k/test-km-debug:1@<B>\nb: reg.io:5000/k/test-km:1@<A>\n",
        );
        // A longer path, another host, a mirror prefix: not the locked repository.
        for other in [
            "reg.io:5000/k/test-km/sub:1",
            "xreg.io:5000/k/test-km:1",
            "a.reg.io:5000/k/test-km",
            "mirror.io/reg.io:5000/k/test-km",
            "reg.io:5000/k/test-km_x",
            "reg.io:5000/k/test-km.old",
            "reg.io:50001/k/test-km",
        ] {
            check(&format!("x {other} y\n"), &format!("x {other} y\n"));
        }
    }

    #[test]
    fn line_endings_quotes_and_the_end_of_the_text() {
        check(
            "FROM gcr.io/p/base\r\nRUN x\r\n",
            "FROM gcr.io/p/base@<B>\r\nRUN x\r\n",
        );
        check("gcr.io/p/base:1", "gcr.io/p/base:1@<B>");
        check(
            "'gcr.io/p/base',\"gcr.io/p/base\"",
            "'gcr.io/p/base@<B>',\"gcr.io/p/base@<B>\"",
        );
        check("docker://gcr.io/p/base:v1", "docker://gcr.io/p/base:v1@<B>");
        check("--from=gcr.io/p/base ", "--from=gcr.io/p/base@<B> ");
        check(
            "x = [\"gcr.io/p/base\"]  # é ü",
            "x = [\"gcr.io/p/base@<B>\"]  # é ü",
        );
    }

    #[test]
    fn keys_and_unreadable_references_are_left_alone() {
        // A YAML key or a name followed by `:` and no tag.
        check("gcr.io/p/base:\n  x: 1\n", "gcr.io/p/base:\n  x: 1\n");
        let text = "FROM gcr.io/p/base@sha256:12ab\nFROM gcr.io/p/base:1:2\n";
        let s = scan(text, &pins());
        assert_eq!(s.apply(text), text);
        assert_eq!(s.skipped.len(), 2);
        assert_eq!(s.skipped[0].line, 1);
        assert!(
            s.skipped[0].why.contains("not by a sha256 digest"),
            "{:?}",
            s.skipped
        );
        assert_eq!(s.skipped[1].line, 2);
    }

    #[test]
    fn current_references_do_not_drift_and_lines_are_counted() {
        let text = format!("a\nFROM gcr.io/p/base@{B}\nFROM gcr.io/p/base:2\n");
        let s = scan(&text, &pins());
        assert_eq!(s.found.len(), 2);
        let drift: Vec<_> = s.drifting().map(|f| (f.line, f.text.as_str())).collect();
        assert_eq!(drift, [(3, "gcr.io/p/base:2")]);
    }
}
