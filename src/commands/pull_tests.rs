//! pull in-process (`runner::Recorder`): the exact engine commands and their order, the
//! digest record, a remote name the user had, and what is left after a failure or a Ctrl-C.

use super::push_tests::{
    built, finish, inspect, no_such, run, workspace, ENGINE_DOWN, ID, IMAGE_LS,
};
use crate::runner::{Recorder, Reply};

const REMOTE: &str = "registry.example.com:5000/team/buildenv-km-linux:latest";
const LOCAL: &str = "kontain/buildenv-km-linux:latest";
const PULLED: &str = "sha256:4444444444444444444444444444444444444444444444444444444444444444";
const DIGEST: &str = "sha256:5555555555555555555555555555555555555555555555555555555555555555";
const PULL_NOTE: &str = "# the pulled image's ID gets the local name; the remote name is removed only when this run's pull created it, and put back on its image when it was yours and the pull moved it\n";

/// `docker pull`'s output for `remote`.
fn pulled(remote: &str) -> Reply {
    let (repo, tag) = remote.rsplit_once(':').unwrap();
    Reply::Out(format!(
        "{tag}: Pulling from {repo}\nDigest: {DIGEST}\nStatus: Downloaded newer image for {remote}\n{remote}\n"
    ))
}

/// Every command of a pull of `REMOTE` to `LOCAL` that ran to the removal of the remote name.
fn pull_lines() -> Vec<String> {
    vec![
        IMAGE_LS.to_string(),
        inspect(REMOTE),
        format!("docker pull {REMOTE}"),
        inspect(REMOTE),
        format!("docker tag {PULLED} {LOCAL}"),
        format!("(cleanup) {}", inspect(REMOTE)),
        format!("(cleanup) docker image rm --no-prune {REMOTE}"),
    ]
}

#[test]
fn pull_pulls_tags_untags_and_records_the_digest() {
    let rec = Recorder::new().once(&inspect(REMOTE), no_such(REMOTE));
    let rec = finish(
        built(rec, &[])
            .on(&inspect(REMOTE), Reply::Out(format!("{PULLED}\n")))
            .on("docker pull", pulled(REMOTE)),
    );
    let dir = workspace();
    run(&rec, dir.path(), &["pull", "buildenv"]).is(
        0,
        &format!("{LOCAL} {DIGEST}\n"),
        &format!(
            "km/buildenv | pulling {REMOTE}\n\
             km/buildenv | latest: Pulling from registry.example.com:5000/team/buildenv-km-linux\n\
             km/buildenv | Digest: {DIGEST}\n\
             km/buildenv | Status: Downloaded newer image for {REMOTE}\n\
             km/buildenv | {REMOTE}\n\
             km/buildenv | ✓ pulled {REMOTE} in _s\n"
        ),
    );
    assert_eq!(rec.lines(), pull_lines());
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(".imagemk/pulled.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        record,
        serde_json::json!({ LOCAL: {"remote": REMOTE, "digest": DIGEST, "id": PULLED}})
    );
}

#[test]
fn dry_run_prints_every_command_and_runs_nothing() {
    let rec = finish(Recorder::new());
    let dir = workspace();
    run(&rec, dir.path(), &["pull", "test", "--tag", "CI-42", "--dry-run"]).is(
        0,
        &format!("docker pull registry.example.com:5000/team/test-km-linux:CI-42\ndocker tag registry.example.com:5000/team/test-km-linux:CI-42 kontain/test-km-linux:CI-42\ndocker image rm --no-prune registry.example.com:5000/team/test-km-linux:CI-42\n{PULL_NOTE}# record each pulled digest in $ROOT/.imagemk/pulled.json\n"),
        "",
    );
    assert!(rec.lines().is_empty(), "{:#?}", rec.lines());
}

#[test]
fn pull_failure_says_how_to_log_in_and_leaves_no_tag() {
    let remote = "kube.azurecr.io/buildenv-km-linux:latest";
    let refused = "latest: Pulling from kube.azurecr.io/buildenv-km-linux\nError response from daemon: unauthorized: authentication required\n";
    let rec = finish(built(Recorder::new(), &[]).on("docker pull", Reply::Fail(1, refused.into())));
    let dir = workspace();
    run(&rec, dir.path(), &["pull", "buildenv", "--registry", "azure"]).is(
        1,
        "",
        &format!(
            "km/buildenv | pulling {remote}\n\
             km/buildenv | latest: Pulling from kube.azurecr.io/buildenv-km-linux\n\
             km/buildenv | Error response from daemon: unauthorized: authentication required\n\
             km/buildenv | ✗ failed in _s\n\
             error: the pull of `km/buildenv` failed: `docker pull {remote}` exited with status 1\n  \
             | latest: Pulling from kube.azurecr.io/buildenv-km-linux\n  \
             | Error response from daemon: unauthorized: authentication required\n\
             hint: registry `azure` refused the credentials docker has for `kube.azurecr.io`; log in with `imagemk login --registry azure` (`make login REGISTRY=azure`), which runs `az acr login --name kube` (and needs `az login` first)\n"
        ),
    );
    // No tag to remove: the failed pull created none.
    assert_eq!(
        rec.lines(),
        [
            IMAGE_LS.to_string(),
            inspect(remote),
            format!("docker pull {remote}"),
            format!("(cleanup) {}", inspect(remote)),
        ]
    );
    assert!(!dir.path().join(".imagemk/pulled.json").exists());
}

#[test]
fn ctrl_c_during_a_pull_removes_nothing_and_records_nothing() {
    let rec = finish(built(Recorder::new(), &[]).on("docker pull", Reply::Interrupt));
    let dir = workspace();
    let out = run(&rec, dir.path(), &["pull", "buildenv"]);
    assert_eq!(out.status, 130);
    assert!(
        out.stderr.ends_with(
            "error: interrupted; everything imagemk had started was stopped and cleaned up\n"
        ),
        "{}",
        out.stderr
    );
    // The pull never finished, so it created no tag, and none is removed.
    assert_eq!(
        rec.lines(),
        [
            IMAGE_LS.to_string(),
            inspect(REMOTE),
            format!("docker pull {REMOTE}"),
            format!("(cleanup) {}", inspect(REMOTE)),
        ]
    );
    assert!(!dir.path().join(".imagemk/pulled.json").exists());
}

#[test]
fn pull_keeps_a_remote_named_tag_the_user_had_and_puts_it_back_if_moved() {
    let dir = workspace();
    // `docker pull REMOTE` by hand earlier: the same image as the registry has now. The
    // local name named an older build: pulling replaces it, as asked.
    let rec = finish(
        built(Recorder::new(), &[(REMOTE, PULLED), (LOCAL, ID)]).on("docker pull", pulled(REMOTE)),
    );
    run(&rec, dir.path(), &["pull", "buildenv"]).ok();
    let mut want = pull_lines();
    want.pop();
    assert_eq!(rec.lines(), want);
    // An older pull by hand: the pull moves the tag, imagemk puts it back.
    let old = "sha256:6666666666666666666666666666666666666666666666666666666666666666";
    let rec = Recorder::new().once(&inspect(REMOTE), Reply::Out(format!("{old}\n")));
    let rec = finish(built(rec, &[(REMOTE, PULLED)]).on("docker pull", pulled(REMOTE)));
    run(&rec, dir.path(), &["pull", "buildenv"]).ok();
    let mut want = pull_lines();
    want.pop();
    want.push(format!("(cleanup) docker tag {old} {REMOTE}"));
    assert_eq!(rec.lines(), want);
}

#[test]
fn pull_with_the_engine_down_says_so_and_runs_nothing_else() {
    let rec = finish(Recorder::new().on("docker", Reply::Fail(1, ENGINE_DOWN.into())));
    run(&rec, workspace().path(), &["pull", "buildenv"]).is(1, "", &format!("error: the docker engine is not reachable; start it (e.g. `sudo systemctl start docker`) or point `DOCKER_HOST` at a running one\n  caused by: `{IMAGE_LS}` failed with exit status 1\n  | {ENGINE_DOWN}"));
    assert_eq!(rec.lines(), [IMAGE_LS]);
}
