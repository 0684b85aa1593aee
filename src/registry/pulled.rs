//! The record of pulled images, `.imagemk/pulled.json` under the workspace root. docker forgets
//! a pulled image's `RepoDigests` once its remote tag is removed, so `pull` writes here, per
//! local name, the remote name, the manifest digest it pulled and the local image id; a later
//! check compares the local image id with the record. Concurrent imagemk runs (`make -j`)
//! merge their records under an exclusive lock on `.imagemk/pulled.lock`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pulled {
    /// The remote name it was pulled from.
    pub remote: String,
    /// The manifest digest docker pulled (`sha256:…`), as pushed.
    pub digest: String,
    /// The local image id after the pull.
    pub id: String,
}

pub fn path(root: &Path) -> PathBuf {
    root.join(".imagemk").join("pulled.json")
}

/// Every record, by local name (none when the file does not exist yet).
pub fn read(root: &Path) -> anyhow::Result<BTreeMap<String, Pulled>> {
    let file = path(root);
    match fs::read_to_string(&file) {
        Ok(text) => serde_json::from_str(&text).with_context(|| {
            format!(
                "`{}` is not a valid pull record; delete it (the next pull writes it again)",
                file.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(e).with_context(|| format!("reading `{}`", file.display())),
    }
}

/// Adds `records` (local name → record) to the file, keeping every other entry.
pub fn record(root: &Path, records: &BTreeMap<String, Pulled>) -> anyhow::Result<()> {
    let file = path(root);
    let lock = crate::fsx::Flock::acquire(&file.with_file_name("pulled.lock"))?;
    let mut all = read(root)?;
    all.extend(records.clone());
    crate::fsx::write_atomic(
        &file,
        (serde_json::to_string_pretty(&all)? + "\n").as_bytes(),
    )
    .with_context(|| format!("writing `{}`", file.display()))?;
    drop(lock);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_merge() {
        let dir = std::env::temp_dir().join(format!("imagemk-pulled-{}", std::process::id()));
        let rec = |d: &str| Pulled {
            remote: "h:5000/a:x".into(),
            digest: d.into(),
            id: "sha256:1".into(),
        };
        record(&dir, &[("a:x".to_string(), rec("d1"))].into()).unwrap();
        record(&dir, &[("b:x".to_string(), rec("d2"))].into()).unwrap();
        record(&dir, &[("a:x".to_string(), rec("d3"))].into()).unwrap();
        let all = read(&dir).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all["a:x"].digest, "d3");
        assert_eq!(all["b:x"].digest, "d2");
        fs::remove_dir_all(&dir).unwrap();
    }
}
