//! Splits a command line given as one string (make's `CMD=` and `TARGET=`) into words the
//! way a POSIX shell does, but evaluates nothing: quotes and backslashes group and escape,
//! while `$`, backticks, `;`, `|`, `>` and the like are plain characters of a word.

/// The words of `line`; an unterminated quote or a trailing backslash is an error.
pub fn split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                words.extend(word.take());
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(unterminated(line, "'")),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err(unterminated(line, "\"")),
                        },
                        Some(c) => w.push(c),
                        None => return Err(unterminated(line, "\"")),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => {
                    return Err(format!(
                        "command `{}` ends with a lone `\\`",
                        crate::reference::shorten(line, 80)
                    ))
                }
            },
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

fn unterminated(line: &str, quote: &str) -> String {
    format!(
        "command `{}` has a `{quote}` with no closing `{quote}`",
        crate::reference::shorten(line, 80)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str, expected: Result<&[&str], &str>) {
        let expected = expected
            .map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .map_err(String::from);
        assert_eq!(split(line), expected, "{line}");
    }

    #[test]
    fn splits_like_a_shell_without_evaluating() {
        check("make all", Ok(&["make", "all"]));
        check("  sh -c 'exit 4' ", Ok(&["sh", "-c", "exit 4"]));
        check("all; touch pwned", Ok(&["all;", "touch", "pwned"]));
        check(
            "$(touch x) `y` $HOME",
            Ok(&["$(touch", "x)", "`y`", "$HOME"]),
        );
        check(
            r#"A="x y" b\ c "q\"\$\n""#,
            Ok(&["A=x y", "b c", "q\"$\\n"]),
        );
        check("''", Ok(&[""]));
        check("", Ok(&[]));
        check("a'b", Err("command `a'b` has a `'` with no closing `'`"));
        check(
            "a\"b",
            Err("command `a\"b` has a `\"` with no closing `\"`"),
        );
        check("a\\", Err("command `a\\` ends with a lone `\\`"));
    }
}
