//! login in-process (`runner::Recorder`): the command per registry kind, its failure, and a
//! cloud CLI that is not installed.

use super::push_tests::{run, workspace};
use crate::runner::{Recorder, Reply};
use std::sync::Arc;

#[test]
fn login_per_registry_kind() {
    let dir = workspace();
    let rec = Arc::new(Recorder::new());
    for args in [
        &["login", "--registry", "azure"][..],
        &["login", "--registry", "google"],
        &["login", "--registry", "old"],
        &["login"],
    ] {
        run(&rec, dir.path(), args).is(0, "", "");
    }
    assert_eq!(
        rec.lines(),
        [
            "az acr login --name kube",
            "gcloud auth configure-docker us-docker.pkg.dev --quiet",
            "gcloud auth configure-docker gcr.io --quiet",
            "docker login registry.example.com:5000",
        ]
    );
    assert!(rec.calls().iter().all(|c| c.how == "interactive"));
    let rec = Arc::new(Recorder::new().on(
        "az acr login",
        Reply::Fail(1, "ERROR: Please run 'az login' to setup account.\n".into()),
    ));
    // az's own stderr goes to the terminal (an interactive command), not through imagemk.
    run(&rec, dir.path(), &["login", "--registry", "azure"]).is(
        1,
        "",
        "error: logging in to registry `azure` failed: `az acr login --name kube` exited with status 1\n",
    );
}

#[test]
fn login_dry_run_prints_the_command() {
    let rec = Arc::new(Recorder::new());
    run(&rec, workspace().path(), &["login", "--dry-run"]).is(
        0,
        "docker login registry.example.com:5000\n",
        "",
    );
    assert!(rec.lines().is_empty());
}

#[test]
fn login_without_the_cloud_cli_says_what_to_install() {
    let rec = Arc::new(Recorder::new().without("az"));
    run(&rec, workspace().path(), &["login", "--registry", "azure"]).is(
        1,
        "",
        "error: `az` is not installed or not on PATH; install the Azure CLI (`pip install azure-cli`), or choose another registry with `REGISTRY=…`\n",
    );
    assert!(rec.lines().is_empty());
}
