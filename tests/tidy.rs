//! Hygiene checked as a test: the tree is `cargo fmt` clean and every source file opens with a
//! `//!` line saying what it owns.

use std::path::Path;
use std::process::Command;

#[test]
fn formatted() {
    let out = Command::new(env!("CARGO"))
        .args(["fmt", "--all", "--", "--check"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "run `cargo fmt --all`:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn every_source_file_says_what_it_owns() {
    let mut missing = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["src", "tests"] {
        walk(&root.join(dir), &mut |p| {
            if p.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(p).unwrap();
                if !text.starts_with("//!") {
                    missing.push(p.strip_prefix(root).unwrap().display().to_string());
                }
            }
        });
    }
    assert!(
        missing.is_empty(),
        "files without a `//!` first line: {missing:?}"
    );
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, f);
        } else {
            f(&p);
        }
    }
}

/// Every environment variable the source names (as `&["NAME", …]`, the lists given to
/// `Env::get` and the settings layer) is in `env::READ`, the list that is checked for UTF-8
/// at start-up (issue 8 item 14).
#[test]
fn every_variable_read_is_listed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lists = regex::Regex::new(r#"&\[("[A-Z_]+"(?:,\s*"[A-Z_]+")*)\]"#).unwrap();
    let listed = imagemk::config::env::READ;
    let mut missing = Vec::new();
    walk(&root.join("src"), &mut |p| {
        let text = std::fs::read_to_string(p).unwrap();
        for m in lists.captures_iter(&text) {
            for name in m[1].split(',').map(|a| a.trim().trim_matches('"')) {
                if !listed.contains(&name) {
                    missing.push(format!("{} reads `{name}`", p.display()));
                }
            }
        }
    });
    assert!(missing.is_empty(), "add to env::READ: {missing:?}");
}
