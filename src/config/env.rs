//! The process environment, read once at start-up into a map; nothing else reads it, so tests
//! pass their own map and never mutate the real environment.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    pub fn capture() -> Env {
        Env {
            vars: std::env::vars().collect(),
        }
    }

    pub fn from_pairs(pairs: &[(&str, &str)]) -> Env {
        Env {
            vars: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// The value of the first of `names` that is set and not empty.
    pub fn get(&self, names: &[&str]) -> Option<&str> {
        names
            .iter()
            .filter_map(|n| self.vars.get(*n))
            .map(String::as_str)
            .find(|v| !v.is_empty())
    }

    /// The login name, for the `user` channel.
    pub fn user(&self) -> String {
        self.get(&["USER", "LOGNAME"]).unwrap_or("user").to_string()
    }

    pub fn is_ci(&self) -> bool {
        matches!(self.get(&["CI"]), Some(v) if v != "false" && v != "0")
    }
}
