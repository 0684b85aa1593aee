//! Duplicate keys in a YAML mapping, which serde would otherwise accept with the last one
//! winning. A first pass walks the document and fails at the second occurrence (so
//! serde_yaml_ng gives its position); a second pass fails at the first occurrence of that
//! key at that place, so the message names both lines.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The key and its place: the path of mapping indices from the document root.
#[derive(Clone, PartialEq, Eq)]
struct Found {
    path: Vec<usize>,
    key: String,
}

const MARK: &str = "imagemk-duplicate-key";

/// Walks one node; `path` is the position of the node (indices of the mappings and
/// sequences above it). When `target` is set, fails at that key's first occurrence.
struct Walk<'a> {
    path: Vec<usize>,
    target: Option<&'a Found>,
    found: &'a std::cell::RefCell<Option<Found>>,
}

/// `None` when `text` has no duplicate key (or does not parse: the real parse reports
/// that); otherwise the message naming both places.
pub fn check(path: &Path, text: &str) -> Option<String> {
    let found = std::cell::RefCell::new(None);
    let second = walk(text, None, &found)?;
    let dup = found.borrow().clone()?;
    let first = walk(text, Some(&dup), &std::cell::RefCell::new(None));
    let file = path.display();
    let shown = crate::reference::shorten(&dup.key, 60);
    Some(match first {
        Some(first) => format!(
            "`{file}:{second}`: key `{shown}` is given twice, first at `{file}:{first}`; remove one (YAML keeps only the last)"
        ),
        None => format!(
            "`{file}:{second}`: key `{shown}` is given twice; remove one (YAML keeps only the last)"
        ),
    })
}

/// `line:column` of the failure marked by us, if the walk failed that way.
fn walk(
    text: &str,
    target: Option<&Found>,
    found: &std::cell::RefCell<Option<Found>>,
) -> Option<String> {
    let de = serde_yaml_ng::Deserializer::from_str(text);
    let seed = Walk {
        path: Vec::new(),
        target,
        found,
    };
    for doc in de {
        let err = match seed.reborrow().deserialize(doc) {
            Ok(()) => continue,
            Err(e) => e,
        };
        if !err.to_string().contains(MARK) {
            return None;
        }
        let loc = err.location()?;
        return Some(format!("{}:{}", loc.line(), loc.column()));
    }
    None
}

impl<'a> Walk<'a> {
    fn reborrow(&self) -> Walk<'a> {
        Walk {
            path: self.path.clone(),
            target: self.target,
            found: self.found,
        }
    }

    fn child(&self, i: usize) -> Walk<'a> {
        let mut w = self.reborrow();
        w.path.push(i);
        w
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.deserialize(d)
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        let (_, variant): (de::IgnoredAny, _) = data.variant()?;
        de::VariantAccess::newtype_variant_seed(variant, self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while seq.next_element_seed(self.child(i))?.is_some() {
            i += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = BTreeSet::new();
        let mut i = 0;
        while map
            .next_key_seed(Key {
                walk: &self,
                seen: &mut seen,
            })?
            .is_some()
        {
            map.next_value_seed(self.child(i))?;
            i += 1;
        }
        Ok(())
    }
}

/// A mapping key as text; fails (at the key's own position) when it is the duplicate or the
/// target.
struct Key<'w, 'a> {
    walk: &'w Walk<'a>,
    seen: &'w mut BTreeSet<String>,
}

impl<'de> DeserializeSeed<'de> for Key<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        // The check runs inside the visitor, so the error carries the key's own position.
        d.deserialize_any(self)
    }
}

impl Key<'_, '_> {
    fn seen<E: de::Error>(self, text: String) -> Result<(), E> {
        let here = Found {
            path: self.walk.path.clone(),
            key: text.clone(),
        };
        let hit = match self.walk.target {
            Some(target) => *target == here,
            None => !self.seen.insert(text),
        };
        if hit {
            *self.walk.found.borrow_mut() = Some(here);
            return Err(E::custom(MARK));
        }
        Ok(())
    }
}

impl<'de> Visitor<'de> for Key<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a scalar key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.seen(v.to_string())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.seen(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.seen(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.seen(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.seen(v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.seen("~".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dup(text: &str) -> Option<String> {
        check(Path::new("images.yaml"), text)
    }

    #[test]
    fn duplicates_name_both_lines() {
        assert_eq!(
            dup("images:\n  a:\n    dockerfile: x\n  a:\n    dockerfile: y\n").as_deref(),
            Some("`images.yaml:4:3`: key `a` is given twice, first at `images.yaml:2:3`; remove one (YAML keeps only the last)")
        );
        assert_eq!(
            dup("images: {}\ncomponent: x\nimages: {}\n").as_deref(),
            Some("`images.yaml:3:1`: key `images` is given twice, first at `images.yaml:1:1`; remove one (YAML keeps only the last)")
        );
        // The same key in two different mappings is no duplicate.
        assert_eq!(dup("images:\n  a: {kind: x}\n  b: {kind: x}\n"), None);
        assert_eq!(dup("a: [{x: 1}, {x: 2}]\n"), None);
        // Not YAML: left to the real parse.
        assert_eq!(dup("a: [\n"), None);
    }
}
