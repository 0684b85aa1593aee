//! push and pull in-process (`runner::Recorder`): the exact engine commands and their order,
//! and what is left after a failure or a Ctrl-C between two steps.

use std::sync::Arc;

use crate::runner::{imagemk, Outcome, Recorder, Reply};

const YAML: &str = r#"workspace:
  registry: local
  registries:
    local: {kind: oci, host: "registry.example.com:5000", path: team}
defaults:
  namespace: kontain
component: km
images:
  test: {}
"#;

const LOCAL: &str = "kontain/test-km-linux:CI-42";
const REMOTE: &str = "registry.example.com:5000/team/test-km-linux:CI-42";
const ID: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("images.yaml"), YAML).unwrap();
    std::fs::create_dir(dir.path().join("docker")).unwrap();
    std::fs::write(
        dir.path().join("docker/test-linux.dockerfile"),
        "FROM scratch\n",
    )
    .unwrap();
    dir
}

fn inspect(name: &str) -> String {
    format!("docker image inspect --format '{{{{.Id}}}}' {name}")
}

/// The engine as the push finds it: `LOCAL` built, `REMOTE` not there until tagged, and the
/// push's own answer.
fn engine(push: Reply) -> Recorder {
    let no_such = Reply::Fail(1, format!("Error: No such image: {REMOTE}\n"));
    Recorder::new()
        .on("image ls", Reply::Out(format!("{LOCAL}\n")))
        .on(&inspect(LOCAL), Reply::Out(format!("{ID}\n")))
        .once(&inspect(REMOTE), no_such.clone())
        .once(&inspect(REMOTE), no_such)
        .on("docker push", push)
        .on(&inspect(REMOTE), Reply::Out(format!("{ID}\n")))
}

/// Every engine command of a push of `LOCAL` to `REMOTE` that ran to the tag's removal.
fn push_lines() -> Vec<String> {
    vec![
        "docker image ls --format '{{.Repository}}:{{.Tag}}'".to_string(),
        format!("docker image inspect --format '{{{{index .Config.Labels \"io.imagemk.inputs\"}}}}' {LOCAL}"),
        inspect(LOCAL),
        inspect(REMOTE),
        inspect(LOCAL),
        inspect(REMOTE),
        format!("docker tag {ID} {REMOTE}"),
        format!("docker push {REMOTE}"),
        format!("(cleanup) {}", inspect(REMOTE)),
        format!("(cleanup) docker image rm --no-prune {REMOTE}"),
    ]
}

fn push(rec: &Arc<Recorder>) -> Outcome {
    imagemk(
        rec,
        workspace().path(),
        &["push", "test", "--tag", "CI-42"],
        &[],
    )
}

const INTERRUPTED: &str =
    "error: interrupted; everything imagemk had started was stopped and cleaned up\n";

#[test]
fn push_tags_pushes_then_removes_the_remote_tag() {
    let rec = Arc::new(engine(Reply::Out(format!(
        "CI-42: digest: {ID} size: 528\n"
    ))));
    let out = push(&rec);
    out.ok();
    assert_eq!(out.stdout, format!("{REMOTE}@{ID}\n"));
    let pushed = format!("km/test | pushing {REMOTE}\nkm/test | CI-42: digest: {ID} size: 528\nkm/test | ✓ pushed {REMOTE} in ");
    assert!(out.stderr.starts_with(&pushed), "{}", out.stderr);
    assert_eq!(rec.lines(), push_lines());
}

#[test]
fn a_failed_push_still_removes_the_temporary_tag() {
    let refused = "dial tcp 10.0.0.1:5000: connect: connection refused\n";
    let rec = Arc::new(engine(Reply::Fail(1, refused.to_string())));
    let out = push(&rec);
    assert_eq!(out.status, 1);
    let err = &out.stderr[out.stderr.find("error:").unwrap()..];
    assert!(err.starts_with(&format!("error: the push of `km/test` failed: `docker push {REMOTE}` exited with status 1\n  | dial tcp")), "{err}");
    assert!(
        err.contains("hint: registry `local` does not answer at `registry.example.com:5000`"),
        "{err}"
    );
    assert_eq!(rec.lines(), push_lines());
}

#[test]
fn ctrl_c_during_the_push_removes_the_temporary_tag() {
    let rec = Arc::new(engine(Reply::Interrupt));
    let out = push(&rec);
    assert_eq!(out.status, 130);
    assert!(out.stderr.ends_with(INTERRUPTED), "{}", out.stderr);
    assert_eq!(rec.lines(), push_lines());
}

#[test]
fn ctrl_c_between_the_tag_and_the_push_pushes_nothing_and_removes_the_tag() {
    let rec = Arc::new(
        Recorder::new()
            .on("docker tag", Reply::OutThenInterrupt(String::new()))
            .on("image ls", Reply::Out(format!("{LOCAL}\n")))
            .on(&inspect(LOCAL), Reply::Out(format!("{ID}\n")))
            .once(
                &inspect(REMOTE),
                Reply::Fail(1, "Error: No such image\n".into()),
            )
            .once(
                &inspect(REMOTE),
                Reply::Fail(1, "Error: No such image\n".into()),
            )
            .on(&inspect(REMOTE), Reply::Out(format!("{ID}\n"))),
    );
    let out = push(&rec);
    assert_eq!(out.status, 130);
    assert!(out.stderr.ends_with(INTERRUPTED), "{}", out.stderr);
    let mut want = push_lines();
    want.retain(|l| !l.starts_with("docker push"));
    assert_eq!(rec.lines(), want);
}
