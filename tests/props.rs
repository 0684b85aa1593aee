//! Property tests (issue 8 item 17): the reference parser, tag and name checks, template
//! rendering, Dockerfile parsing, the environment and config loading get arbitrary UTF-8 and
//! bytes, and never panic; what they accept is what they promise.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use imagemk::config::{self, check, raw::RawFile, Env, Overrides};
use imagemk::dockerfile::Dockerfile;
use imagemk::reference::{self, ImageRef};
use proptest::prelude::*;

fn vars() -> BTreeMap<&'static str, String> {
    [
        ("namespace", "acme"),
        ("kind", "test"),
        ("tag", "CI-1"),
        ("variant", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn references_never_panic(s in any::<String>()) {
        if let Ok(r) = ImageRef::parse(&s) {
            // What parses is a valid name, and prints back to something that parses the same.
            prop_assert!(reference::check_tag(&r.tag).is_ok());
            prop_assert!(r.tag.len() <= 128);
            prop_assert_eq!(ImageRef::parse(&r.to_string()).unwrap(), r.clone());
            let _ = r.basename();
        }
        let _ = reference::check_repository(&s);
        let _ = reference::check_host(&s);
        let _ = reference::check_digest(&s);
        let _ = reference::split_host(&s);
    }

    #[test]
    fn reference_like_text_never_panics(s in "[a-zA-Zé0-9:/@._-]{0,300}") {
        let _ = ImageRef::parse(&s);
    }

    #[test]
    fn tags_are_checked_by_character(s in any::<String>()) {
        match reference::check_tag(&s) {
            Ok(()) => prop_assert!(s.is_ascii() && !s.is_empty() && s.len() <= 128),
            Err(e) => prop_assert!(!e.0.is_empty()),
        }
    }

    #[test]
    fn long_multibyte_tags_never_panic(s in "\\PC{100,300}") {
        let _ = reference::check_tag(&s);
        let short = reference::shorten(&s, 20);
        prop_assert!(short.chars().count() <= 21 * 4);
    }

    #[test]
    fn templates_never_panic(t in any::<String>()) {
        if let Ok(out) = reference::render(&t, &vars()) {
            let placeholder = "{tag}";
            prop_assert!(!out.contains(placeholder), "{}", out);
        }
    }

    #[test]
    fn template_like_text_never_panics(t in "[{}a-z/:é-]{0,80}") {
        let _ = reference::render(&t, &vars());
    }

    #[test]
    fn name_checks_never_panic(s in any::<String>()) {
        if check::name("image key", &s).is_ok() {
            prop_assert!(!s.contains('/') && !s.is_empty());
        }
        let _ = check::env_name("`run.env` entry", &s);
        let _ = check::label_key(&s);
        if check::inside("to", "dir", &s).is_ok() {
            prop_assert!(!s.is_empty() && !s.starts_with('/') && s != "." && s != "..");
        }
    }

    #[test]
    fn command_lines_never_panic(line in any::<String>()) {
        if let Ok(words) = imagemk::words::split(&line) {
            prop_assert!(words.iter().all(|w| w.chars().count() <= line.chars().count()));
        }
    }

    #[test]
    fn dockerfiles_never_panic(text in any::<String>(), arg in any::<String>()) {
        let df = Dockerfile::parse(&text);
        let given = [("A".to_string(), arg)].into_iter().collect();
        let _ = df.expanded_refs(&given);
    }

    #[test]
    fn dockerfile_like_text_never_panics(text in "(FROM|COPY|ARG|ADD) [-=${}:A-Za-z0-9é/ \\\\\n]{0,60}") {
        let df = Dockerfile::parse(&text);
        let _ = df.expanded_refs(&BTreeMap::new());
    }

    #[test]
    fn environments_never_panic(
        pairs in proptest::collection::vec((any::<Vec<u8>>(), any::<Vec<u8>>()), 0..8),
    ) {
        let env = Env::from_os(
            pairs.into_iter().map(|(k, v)| (OsString::from_vec(k), OsString::from_vec(v))),
        );
        let _ = env.check();
        let _ = env.jobs();
        let _ = env.user();
    }

    #[test]
    fn yaml_text_never_panics(text in any::<String>()) {
        let _ = config::error::parse_yaml::<RawFile>(Path::new("images.yaml"), &text);
    }

    #[test]
    fn yaml_like_text_never_panics(text in "([a-z{}\\[\\]:,\"' -]{0,12}\n){0,8}") {
        let _ = config::error::parse_yaml::<RawFile>(Path::new("images.yaml"), &text);
    }

    #[test]
    fn image_fields_never_panic(
        key in any::<String>(),
        field in prop::sample::select(vec!["kind", "dockerfile", "context", "target"]),
        value in any::<String>(),
        to in any::<String>(),
        env in any::<String>(),
    ) {
        let q = |s: &str| serde_json::to_string(s).unwrap();
        let yaml = format!(
            "images:\n  {}:\n    {field}: {}\n    artifacts: [{{from: /x, to: {}}}]\n    run: {{env: [{}]}}\n",
            q(&key), q(&value), q(&to), q(&env)
        );
        let _ = config::error::parse_yaml::<RawFile>(Path::new("images.yaml"), &yaml);
    }
}

proptest! {
    // Loading touches the file system: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn loading_arbitrary_files_never_panics(
        bytes in any::<Vec<u8>>(),
        tag in any::<String>(),
        platform in any::<String>(),
        namespace in any::<String>(),
        name in any::<String>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("images.yaml"), &bytes).unwrap();
        let env = Env::from_pairs(&[("IMAGE_NAMESPACE", &namespace), ("PLATFORM", &platform)]);
        let flags = Overrides { tag: Some(tag), ..Default::default() };
        let _ = config::load(dir.path(), &flags, &env);
        let yaml = format!(
            "defaults:\n  name: {}\nimages:\n  a: {{dockerfile: Dockerfile}}\n",
            serde_json::to_string(&name).unwrap()
        );
        std::fs::write(dir.path().join("images.yaml"), yaml).unwrap();
        let _ = config::load(dir.path(), &Overrides::default(), &Env::default());
    }
}
