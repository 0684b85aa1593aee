//! Containers for the dev loop: `docker run` for `run` and `withdocker`, and `docker create` /
//! `cp` / `rm` for `extract`, built as data from an image's `run:` options and the host facts.

pub mod dest;
pub mod extract;
pub mod facts;
pub mod run;
pub mod swap;

pub use facts::{Engine, Facts};

/// A container name for this process: unique among running imagemk processes, and prefixed
/// `imagemk-` so that stray containers are easy to recognise; always valid for docker.
pub fn default_name(component: &str, kind: &str) -> String {
    let name = format!("imagemk-{component}-{kind}-{}", std::process::id());
    name.chars()
        .map(|c| match c.is_ascii_alphanumeric() || "_.-".contains(c) {
            true => c,
            false => '-',
        })
        .collect()
}

/// Checks a `--name` against docker's container-name grammar.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
        Ok(())
    } else {
        anyhow::bail!(
            "`{name}` is not a valid container name; use letters, digits, `_`, `.` and `-`, starting with a letter or digit"
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_name_is_always_a_valid_container_name() {
        let name = super::default_name("a b/é", "k:1");
        assert!(name.starts_with("imagemk-a-b---k-1-"), "{name}");
        assert!(super::check_name(&name).is_ok());
    }
}
