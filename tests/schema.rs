//! The editor schema, completions and man page: `schema/images.schema.json` is exactly what
//! `imagemk schema` prints, every images.yaml of the repository validates against it, and every
//! `yaml-language-server` schema comment points at an existing file.

mod support;

use std::path::{Path, PathBuf};

use support::Test;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every images.yaml of the repository (the example workspace), skipping target/ and dot dirs.
fn example_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() && !name.starts_with('.') && name != "target" {
            example_files(&path, found);
        } else if name == "images.yaml" {
            found.push(path);
        }
    }
}

fn examples() -> Vec<PathBuf> {
    let mut found = Vec::new();
    example_files(repo(), &mut found);
    found.sort();
    assert!(found.len() >= 3, "{found:?}");
    found
}

fn generated() -> String {
    let out = Test::new().run(&["schema"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    out.stdout
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let committed =
        std::fs::read_to_string(repo().join("schema/images.schema.json")).unwrap_or_default();
    assert!(
        committed == generated(),
        "schema/images.schema.json differs from the generated schema; run `imagemk schema > schema/images.schema.json`"
    );
}

#[test]
fn every_example_validates_against_the_schema() {
    let schema: serde_json::Value = serde_json::from_str(&generated()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for file in examples() {
        let text = std::fs::read_to_string(&file).unwrap();
        let doc: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", file.display());
    }
}

#[test]
fn the_schema_rejects_unknown_keys_and_missing_fields() {
    let schema: serde_json::Value = serde_json::from_str(&generated()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for bad in [
        "imags: {}",
        "images: {a: {dockerfle: x}}",
        "images: {a: {stage: [{from: x}]}}",
        "images: {a: {stage: [{from: x, to: y, hnt: z}]}}",
        "workspace: {registries: {r: {host: x}}}",
    ] {
        let doc: serde_json::Value = serde_yaml_ng::from_str(bad).unwrap();
        assert!(!validator.is_valid(&doc), "{bad} was accepted");
    }
    let good: serde_json::Value =
        serde_yaml_ng::from_str("images: {a: {stage: [{from: /bin/busybox, to: b, hint: x}]}}")
            .unwrap();
    assert!(validator.is_valid(&good));
}

#[test]
fn every_schema_comment_points_at_an_existing_file() {
    const MARK: &str = "# yaml-language-server: $schema=";
    for file in examples() {
        let text = std::fs::read_to_string(&file).unwrap();
        let first = text.lines().next().unwrap_or("");
        let target = first
            .strip_prefix(MARK)
            .unwrap_or_else(|| panic!("{} does not start with `{MARK}<path>`", file.display()));
        let path = file.parent().unwrap().join(target);
        assert!(
            path.is_file()
                && path.canonicalize().unwrap()
                    == repo()
                        .join("schema/images.schema.json")
                        .canonicalize()
                        .unwrap(),
            "{}: the schema comment points at `{target}`, which is not schema/images.schema.json",
            file.display()
        );
    }
}

#[test]
fn completions_and_the_man_page_name_every_subcommand() {
    let t = Test::new();
    let subcommands = [
        "build",
        "list",
        "push",
        "pull",
        "login",
        "run",
        "withdocker",
        "extract",
        "clean",
        "doctor",
        "schema",
        "completions",
        "man",
    ];
    for shell in ["bash", "zsh", "fish"] {
        let out = t.run(&["completions", shell]);
        assert_eq!(out.status, 0, "{}", out.stderr);
        for sub in subcommands {
            assert!(out.stdout.contains(sub), "{shell}: no `{sub}`");
        }
    }
    let out = t.run(&["man"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with(".ie \\n(.g .ds Aq") || out.stdout.contains(".TH imagemk"),
        "{}",
        &out.stdout[..200.min(out.stdout.len())]
    );
    for sub in subcommands {
        assert!(out.stdout.contains(sub), "man: no `{sub}`");
    }
    let out = t.run(&["completions", "tcsh"]);
    assert_eq!(out.status, 2);
    assert!(
        out.stderr.contains("invalid value 'tcsh'"),
        "{}",
        out.stderr
    );
}
