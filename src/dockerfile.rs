//! Reads what imagemk needs from a Dockerfile: the `ARG`s it declares and the images its
//! `FROM` and `COPY --from` lines name, with `$VAR` / `${VAR}` / `${VAR:-default}` expanded.

use std::collections::BTreeMap;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Dockerfile {
    /// Every `ARG` name, with its default when it has one.
    pub args: BTreeMap<String, Option<String>>,
    /// The raw image operands of `FROM` and `COPY --from=` (stage names included).
    pub refs: Vec<String>,
    /// `COPY --from=` / `ADD --from=` operands that use a variable: docker's legacy builder
    /// does not expand them (it fails with "invalid from flag value").
    pub copy_from_vars: Vec<String>,
}

impl Dockerfile {
    pub fn parse(text: &str) -> Dockerfile {
        let mut df = Dockerfile::default();
        for line in logical_lines(text) {
            let mut words = line.split_whitespace();
            let Some(instr) = words.next() else { continue };
            let rest: Vec<&str> = words.collect();
            match instr.to_ascii_uppercase().as_str() {
                "ARG" => {
                    for decl in rest {
                        match decl.split_once('=') {
                            Some((k, v)) => df.args.insert(k.into(), Some(unquote(v))),
                            None => df.args.insert(decl.into(), None),
                        };
                    }
                }
                "FROM" => {
                    if let Some(image) = rest.iter().find(|w| !w.starts_with("--")) {
                        df.refs.push(image.to_string());
                    }
                }
                "COPY" | "ADD" => {
                    for w in rest.iter().take_while(|w| w.starts_with("--")) {
                        if let Some(from) = w.strip_prefix("--from=") {
                            df.refs.push(from.to_string());
                            if from.contains('$') {
                                df.copy_from_vars.push(from.to_string());
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        df
    }

    /// The referenced images with variables expanded; `given` (build args) wins over `ARG`
    /// defaults.
    pub fn expanded_refs(&self, given: &BTreeMap<String, String>) -> Vec<String> {
        let lookup = |name: &str| -> Option<String> {
            given
                .get(name)
                .cloned()
                .or_else(|| self.args.get(name).cloned().flatten())
        };
        self.refs.iter().map(|r| expand(r, &lookup)).collect()
    }
}

/// Joins `\` continuations and drops comments and parser directives.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        if current.is_empty() && line.starts_with('#') {
            continue;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            current.push_str(stripped);
            current.push(' ');
        } else {
            current.push_str(line);
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn unquote(v: &str) -> String {
    v.trim_matches(|c| c == '"' || c == '\'').to_string()
}

fn expand(word: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut chars = word.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'{') {
            chars.next();
            let inner: String = chars.by_ref().take_while(|&c| c != '}').collect();
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner.as_str(), None),
            };
            match lookup(name).filter(|v| !v.is_empty()) {
                Some(v) => out.push_str(&v),
                None => out.push_str(default.unwrap_or("")),
            }
        } else {
            let mut name = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_ascii_alphanumeric() || c == '_' {
                    name.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push_str(&lookup(&name).unwrap_or_default());
        }
    }
    out
}

/// The bytes of the Dockerfile at `path`, read once per process while its size, mtime and
/// inode stay the same (a file changed in the last two seconds is read each time): planning
/// reads each Dockerfile in several places (dependencies, input digest, the archive), and
/// many images often share one.
pub fn read(path: &std::path::Path) -> std::io::Result<std::sync::Arc<Vec<u8>>> {
    use std::os::unix::fs::MetadataExt;
    use std::sync::{Arc, Mutex, OnceLock};
    type Key = (u64, i64, i64, u64);
    type Cache = std::collections::HashMap<std::path::PathBuf, (Key, Arc<Vec<u8>>)>;
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    let meta = std::fs::metadata(path)?;
    let key = (meta.len(), meta.mtime(), meta.mtime_nsec(), meta.ino());
    let cache = CACHE.get_or_init(Default::default);
    if let Some((k, bytes)) = cache.lock().unwrap().get(path) {
        if *k == key {
            return Ok(bytes.clone());
        }
    }
    let bytes = Arc::new(std::fs::read(path)?);
    // A file written in the last two seconds may be written again without its mtime moving
    // (the clock is coarse): read it again next time.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    if now > meta.mtime() + 2 {
        cache
            .lock()
            .unwrap()
            .insert(path.to_path_buf(), (key, bytes.clone()));
    }
    Ok(bytes)
}

/// [`read`] as text: None when the file cannot be read or is not UTF-8.
pub fn read_text(path: &std::path::Path) -> Option<String> {
    String::from_utf8(read(path).ok()?.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dockerfile_rewritten_at_once_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Dockerfile");
        std::fs::write(&path, "FROM a\n").unwrap();
        assert_eq!(read_text(&path).as_deref(), Some("FROM a\n"));
        std::fs::write(&path, "FROM b\n").unwrap();
        assert_eq!(read(&path).unwrap().as_slice(), b"FROM b\n");
        std::fs::write(&path, b"\xff").unwrap();
        assert_eq!(read_text(&path), None);
        assert!(read(&dir.path().join("nope")).is_err());
    }

    fn check(text: &str, given: &[(&str, &str)], expected: &[&str]) {
        let given = given
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(Dockerfile::parse(text).expanded_refs(&given), expected);
    }

    #[test]
    fn finds_from_and_copy_from() {
        check("FROM scratch\nCOPY a /a\n", &[], &["scratch"]);
        check(
            "# syntax=docker/dockerfile:1\nFROM --platform=linux/amd64 kontain/base:1 AS build\nCOPY --chown=1 --from=build /x /y\nfrom other/img\n",
            &[],
            &["kontain/base:1", "build", "other/img"],
        );
        check(
            "ARG IMAGE_TAG=latest\nARG NS\nFROM ${NS}/buildenv-km-${PLATFORM:-fedora}:$IMAGE_TAG\n",
            &[("NS", "kontain")],
            &["kontain/buildenv-km-fedora:latest"],
        );
        check(
            "ARG IMAGE_TAG=latest\nFROM kontain/b:${IMAGE_TAG}\n",
            &[("IMAGE_TAG", "CI-42")],
            &["kontain/b:CI-42"],
        );
        check("FROM \\\n  a/b:c \\\n  AS x\n", &[], &["a/b:c"]);
    }

    #[test]
    fn copy_from_variables_are_noted() {
        let df = Dockerfile::parse(
            "ARG X=a\nFROM scratch\nCOPY --from=${X} /a /a\nCOPY --from=b /b /b\n",
        );
        assert_eq!(df.copy_from_vars, ["${X}"]);
    }

    #[test]
    fn collects_args() {
        let df = Dockerfile::parse("ARG A=1 B\nFROM x\nARG C=\"q\"\n");
        let got: Vec<_> = df.args.into_iter().collect();
        assert_eq!(
            got,
            [
                ("A".to_string(), Some("1".to_string())),
                ("B".to_string(), None),
                ("C".to_string(), Some("q".to_string()))
            ]
        );
    }
}
