//! The line of a key in an `images.yaml`, for the messages of values checked after parsing
//! (registries, `run:`, `artifacts:`, `workspace.publish`): serde gives no position once a
//! value has parsed, so the key is found again in the text.

use std::path::Path;

/// `` `FILE:LINE` `` for the key path `keys` in `file` (`` `FILE` `` when it is not found).
pub fn place(file: &Path, keys: &[&str]) -> String {
    let line = std::fs::read_to_string(file)
        .ok()
        .and_then(|text| line(&text, keys))
        .map(|l| format!(":{l}"))
        .unwrap_or_default();
    format!("`{}{line}`", file.display())
}

/// The 1-based line of the last of `keys` in `text`, each looked for after the one before as
/// a mapping key (`key:`, `"key":` or `'key':`) at the start of a line, after `- `, `{` or
/// `,`, outside comments. None when one is not found.
pub fn line(text: &str, keys: &[&str]) -> Option<usize> {
    let mut at = 0;
    let mut found = None;
    for key in keys {
        let pos = find_key(text, at, key)?;
        found = Some(pos);
        at = pos + text[pos..].chars().next().map_or(1, char::len_utf8);
    }
    found.map(|pos| text[..pos].matches('\n').count() + 1)
}

/// The first position at or after `from` where `key` is written as a mapping key.
fn find_key(text: &str, from: usize, key: &str) -> Option<usize> {
    [
        format!("{key}:"),
        format!("\"{key}\":"),
        format!("'{key}':"),
    ]
    .iter()
    .filter_map(|form| {
        text[from..]
            .match_indices(form.as_str())
            .map(|(i, _)| from + i)
            .find(|&pos| starts_key(text, pos))
    })
    .min()
}

/// Whether `pos` can start a key: only indentation, `- `, `{` or `,` before it on its line,
/// and no comment.
fn starts_key(text: &str, pos: usize) -> bool {
    let line_start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..pos];
    if before.contains('#') {
        return false;
    }
    let trimmed = before.trim_end_matches([' ', '\t']);
    trimmed.is_empty()
        || trimmed.ends_with(['{', ','])
        || trimmed.trim_start_matches([' ', '\t', '-']).is_empty()
}

#[cfg(test)]
mod tests {
    use super::line;

    #[test]
    fn keys_are_found_in_order_in_block_and_flow_style() {
        let text = "\
workspace:
  # registries: not this
  registries:
    a: {kind: oci}
    'b': {kind: oci}
images:
  x: {run: {devices: [kvm]}}
  y:
    artifacts:
      - {from: a, to: b}
      - from: c
        to: d
";
        assert_eq!(line(text, &["registries", "a"]), Some(4));
        assert_eq!(line(text, &["registries", "b"]), Some(5));
        assert_eq!(line(text, &["images", "x", "run", "devices"]), Some(7));
        assert_eq!(line(text, &["images", "y", "artifacts", "from"]), Some(10));
        assert_eq!(
            line(text, &["images", "y", "artifacts", "from", "from"]),
            Some(11)
        );
        assert_eq!(line(text, &["registries", "c"]), None);
        assert_eq!(line(text, &["images", "xx"]), None);
    }

    proptest::proptest! {
        /// Any text and keys, multi-byte ones included: an answer, never a panic.
        #[test]
        fn any_text_gives_an_answer(text in "[a-zé: '\"#{},\n-]{0,80}", a in "[a-zé]{1,3}", b in "[a-zé]{1,3}") {
            let _ = line(&text, &[&a, &b]);
        }
    }
}
