//! `refs --write` after a signal, in a process of its own (the flag is process-wide).

use imagemk::signal;

/// `refs --write` after Ctrl-C writes no further file: exit 130, naming what was written.
#[test]
fn after_a_signal_refs_writes_no_more_files() {
    let dir = tempfile::tempdir().unwrap();
    let text = "FROM reg.io/k/app\n";
    std::fs::write(dir.path().join("a.dockerfile"), text).unwrap();
    let pins = [imagemk::refs::Pin {
        remote: "reg.io/k/app".into(),
        digest: format!("sha256:{}", "a".repeat(64)),
    }];
    let report = imagemk::refs::scan(dir.path(), &["*.dockerfile".into()], &pins).unwrap();
    signal::interrupt();
    let err = imagemk::refs::write(&report).unwrap_err();
    let status = err.downcast_ref::<imagemk::ExitStatus>().unwrap();
    assert_eq!(status.code, 130);
    assert!(
        status
            .message
            .as_deref()
            .unwrap()
            .starts_with("interrupted before `a.dockerfile` (no file was written)"),
        "{status}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.dockerfile")).unwrap(),
        text
    );
}
