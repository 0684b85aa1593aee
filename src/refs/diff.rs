//! A unified diff of two texts with the same lines but some changed in place (what a reference
//! rewrite produces: it never adds or removes a line break), as `diff -u` prints it, with three
//! lines of context.

const CONTEXT: usize = 3;

/// The diff of `old` and `new`, labelled `a/<name>` and `b/<name>`; empty when they are equal.
pub fn unified(name: &str, old: &str, new: &str) -> String {
    let (a, b) = (lines(old), lines(new));
    debug_assert_eq!(a.len(), b.len(), "a rewrite keeps the line count");
    let changed: Vec<usize> = (0..a.len().min(b.len()))
        .filter(|&i| a[i] != b[i])
        .collect();
    if changed.is_empty() {
        return String::new();
    }
    let mut out = format!("--- a/{name}\n+++ b/{name}\n");
    for (first, last) in hunks(&changed, a.len()) {
        let n = last - first + 1;
        out.push_str(&format!("@@ -{},{n} +{},{n} @@\n", first + 1, first + 1));
        for i in first..=last {
            if a[i] == b[i] {
                push_line(&mut out, ' ', a[i]);
            } else {
                push_line(&mut out, '-', a[i]);
                push_line(&mut out, '+', b[i]);
            }
        }
    }
    out
}

/// The lines of `text`, each with its line break (the last may have none).
fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

fn push_line(out: &mut String, mark: char, line: &str) {
    out.push(mark);
    match line.strip_suffix('\n') {
        Some(body) => {
            out.push_str(body.strip_suffix('\r').unwrap_or(body));
            out.push('\n');
        }
        None => {
            out.push_str(line);
            out.push_str("\n\\ No newline at end of file\n");
        }
    }
}

/// Line ranges (inclusive) of the hunks around `changed`, merged when their context touches.
fn hunks(changed: &[usize], len: usize) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for &i in changed {
        let (first, last) = (i.saturating_sub(CONTEXT), (i + CONTEXT).min(len - 1));
        match out.last_mut() {
            Some(h) if first <= h.1 + 1 => h.1 = last,
            _ => out.push((first, last)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_change_with_context() {
        let old = "1\n2\n3\n4\nFROM x\n6\n7\n8\n9\n";
        let new = "1\n2\n3\n4\nFROM y\n6\n7\n8\n9\n";
        assert_eq!(
            unified("Dockerfile", old, new),
            "--- a/Dockerfile\n+++ b/Dockerfile\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-FROM x\n+FROM y\n 6\n 7\n 8\n"
        );
    }

    #[test]
    fn near_changes_share_a_hunk_and_far_ones_do_not() {
        let old: String = (1..=20).map(|i| format!("{i}\n")).collect();
        let new: String = (1..=20)
            .map(|i| match i {
                2 | 5 | 19 => "changed\n".to_string(),
                _ => format!("{i}\n"),
            })
            .collect();
        let diff = unified("f", &old, &new);
        let heads: Vec<&str> = diff.lines().filter(|l| l.starts_with("@@")).collect();
        assert_eq!(heads, ["@@ -1,8 +1,8 @@", "@@ -16,5 +16,5 @@"]);
    }

    #[test]
    fn crlf_and_a_missing_final_newline() {
        assert_eq!(
            unified("f", "a\r\nx", "a\r\ny"),
            "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-x\n\\ No newline at end of file\n+y\n\\ No newline at end of file\n"
        );
        assert_eq!(unified("f", "same\n", "same\n"), "");
    }
}
