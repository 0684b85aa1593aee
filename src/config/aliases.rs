//! `workspace.aliases`: other names for images on the command line (`c++: cxx`). Each alias
//! is checked at load, with the `file:line:col` of its key: it must not be an image's own
//! name, and it must name exactly one image (`key` or `component/key`), never another alias.

use std::collections::BTreeMap;
use std::path::Path;

use super::{error::did_you_mean, resolve_spec, Component, Image};

/// Resolves every alias to an image index.
pub fn resolve(
    file: &Path,
    raw: &BTreeMap<String, String>,
    components: &[Component],
    images: &[Image],
) -> anyhow::Result<BTreeMap<String, usize>> {
    let text = if raw.is_empty() {
        String::new()
    } else {
        std::fs::read_to_string(file).unwrap_or_default()
    };
    let mut out = BTreeMap::new();
    for (alias, target) in raw {
        let place = match position(&text, alias) {
            Some((l, c)) => format!("{}:{l}:{c}", file.display()),
            None => file.display().to_string(),
        };
        let at = |msg: String| anyhow::anyhow!("`{place}`: alias `{alias}` {msg}");
        if let Some(img) = images.iter().find(|i| i.key == *alias || i.id == *alias) {
            return Err(at(format!(
                "is the name of image `{}`; an alias must be a name no image has: rename or remove it",
                img.id
            )));
        }
        if raw.contains_key(target) {
            return Err(at(format!(
                "points at `{target}`, another alias; point it at that alias's image (`{}`) instead",
                raw[target]
            )));
        }
        out.insert(
            alias.clone(),
            target_image(components, images, target).map_err(at)?,
        );
    }
    Ok(out)
}

/// `component/key`, or a key that exactly one component has.
fn target_image(components: &[Component], images: &[Image], target: &str) -> Result<usize, String> {
    if target.contains('/') {
        return resolve_spec(components, images, target, 0)
            .map_err(|e| format!("points at `{target}`: {e}"));
    }
    let found: Vec<usize> = (0..images.len())
        .filter(|&i| images[i].key == target)
        .collect();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => {
            let keys: Vec<&str> = images.iter().map(|i| i.key.as_str()).collect();
            Err(format!(
                "points at `{target}`, which no image is called; give an image's key or `component/key`{}",
                did_you_mean(target, &keys)
            ))
        }
        many => {
            let ids: Vec<&str> = many.iter().map(|&i| images[i].id.as_str()).collect();
            Err(format!(
                "points at `{target}`, a key of several images ({}); give `component/key`",
                ids.join(", ")
            ))
        }
    }
}

/// `line:col` (1-based) of `key` as a mapping key after the `aliases:` key, found in the text
/// (plain, single- or double-quoted).
fn position(text: &str, key: &str) -> Option<(usize, usize)> {
    let start = text.find("aliases:")?;
    let rest = &text[start..];
    let candidates = [format!("\"{key}\""), format!("'{key}'"), key.to_string()];
    let at = candidates.iter().find_map(|k| {
        rest.match_indices(k.as_str()).map(|(i, _)| i).find(|&i| {
            let before = rest[..i].chars().next_back();
            let after = rest[i + k.len()..].trim_start_matches([' ', '\t']);
            matches!(before, Some(' ' | '\t' | '\n' | '{' | ',')) && after.starts_with(':')
        })
    })?;
    let offset = start + at;
    let line = text[..offset].matches('\n').count() + 1;
    let col = text[..offset]
        .rsplit('\n')
        .next()
        .map_or(0, |l| l.chars().count())
        + 1;
    Some((line, col))
}

#[cfg(test)]
mod tests {
    use super::position;

    #[test]
    fn positions_of_block_and_flow_keys() {
        let text = "workspace:\n  aliases:\n    c++: cxx\n    'node_purejs': node\n";
        assert_eq!(position(text, "c++"), Some((3, 5)));
        assert_eq!(position(text, "node_purejs"), Some((4, 5)));
        let text = "workspace:\n  aliases: {cx: cxx, c: c}\n";
        assert_eq!(position(text, "c"), Some((2, 22)));
        assert_eq!(position(text, "cx"), Some((2, 13)));
    }
}
