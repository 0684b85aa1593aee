//! Measured build times, per image id, in `.imagemk/durations.json` (`{"core/base": 12.5}`,
//! seconds): written after successful builds, read by shard assignment to balance shards by
//! build time rather than image count. A missing or unreadable file means "no measurements".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn path(root: &Path) -> PathBuf {
    root.join(".imagemk").join("durations.json")
}

/// The recorded seconds per image id; empty when nothing was recorded (or the file is bad).
pub fn load(root: &Path) -> BTreeMap<String, f64> {
    std::fs::read(path(root))
        .ok()
        .and_then(|b| serde_json::from_slice::<BTreeMap<String, f64>>(&b).ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, s)| s.is_finite() && *s >= 0.0)
        .collect()
}

/// Records `measured` over what was recorded (one file, replaced whole through a temporary
/// file of this process). A failure to write only loses the measurements.
pub fn record(root: &Path, measured: &BTreeMap<String, Duration>) {
    if measured.is_empty() {
        return;
    }
    let mut all = load(root);
    for (id, d) in measured {
        all.insert(id.clone(), (d.as_secs_f64() * 1000.0).round() / 1000.0);
    }
    let file = path(root);
    let part = file.with_extension(format!("json.{}.part", std::process::id()));
    let Ok(text) = serde_json::to_vec_pretty(&all) else {
        return;
    };
    let _ = std::fs::create_dir_all(file.parent().expect("under .imagemk"));
    if std::fs::write(&part, text).is_ok() && std::fs::rename(&part, &file).is_err() {
        let _ = std::fs::remove_file(&part);
    }
}

/// The weight of each image id for shard assignment, in milliseconds: its recorded time, the
/// mean of the recorded ones for an image never measured; 1 for every image when nothing
/// was recorded (shards balanced by image count).
pub fn weights(recorded: &BTreeMap<String, f64>) -> impl Fn(&str) -> u64 + '_ {
    let mean = if recorded.is_empty() {
        0.0
    } else {
        recorded.values().sum::<f64>() / recorded.len() as f64
    };
    move |id| {
        if recorded.is_empty() {
            return 1;
        }
        let secs = recorded.get(id).copied().unwrap_or(mean);
        ((secs * 1000.0) as u64).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).is_empty());
        let none = BTreeMap::new();
        let w = weights(&none);
        assert_eq!((w("a"), w("b")), (1, 1));
        let m = BTreeMap::from([
            ("a".to_string(), Duration::from_millis(2500)),
            ("b".to_string(), Duration::from_millis(500)),
        ]);
        record(dir.path(), &m);
        record(
            dir.path(),
            &BTreeMap::from([("c".to_string(), Duration::from_secs(3))]),
        );
        let got = load(dir.path());
        assert_eq!(got.len(), 3);
        assert_eq!(got["a"], 2.5);
        let w = weights(&got);
        assert_eq!((w("a"), w("b"), w("c"), w("new")), (2500, 500, 3000, 2000));
        std::fs::write(path(dir.path()), "not json").unwrap();
        assert!(load(dir.path()).is_empty());
    }
}
