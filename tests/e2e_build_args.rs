//! End-to-end on the real Docker engine: a gRPC-like workspace (one image per language, each
//! writing its `ARG GITREF` and `ARG REPOSITORY` into a file) built with `--arg`: the values
//! are in the images and their labels; the same values again are up to date, another value
//! rebuilds only the image it reaches, and `--explain` names the changed arg.

mod support;

use support::{docker, engine, remove_images, Test, BUSYBOX_BASE};

fn grpc_like(t: &Test, ns: &str) {
    t.busybox("ctx");
    t.file(
        "images.yaml",
        &format!(
            "defaults:\n  namespace: {ns}\n  platform: bb\ncomponent: bench\nimages:\n  cxx: {{dockerfile: cxx.dockerfile, context: ctx}}\n  go: {{dockerfile: go.dockerfile, context: ctx}}\n"
        ),
    );
    for lang in ["cxx", "go"] {
        t.file(
            &format!("{lang}.dockerfile"),
            &format!("{BUSYBOX_BASE}ARG GITREF\nARG REPOSITORY\nRUN echo \"$REPOSITORY@$GITREF\" > /version\n"),
        );
    }
}

fn version(ns: &str, lang: &str) -> String {
    let (status, out) = docker(&[
        "run",
        "--rm",
        &format!("{ns}/{lang}-bench-bb:latest"),
        "cat",
        "/version",
    ]);
    assert_eq!(status, 0, "{out}");
    out
}

fn label(ns: &str, lang: &str) -> String {
    let name = format!("{ns}/{lang}-bench-bb:latest");
    let format = "{{index .Config.Labels \"io.imagemk.arg.GITREF\"}}";
    docker(&["image", "inspect", "--format", format, &name]).1
}

#[test]
fn per_run_values_are_built_in_and_rebuild_only_when_they_change() {
    if !engine() {
        return;
    }
    let t = Test::new();
    let ns = t.namespace();
    grpc_like(&t, &ns);
    let repo = "--arg=REPOSITORY=https://github.com/grpc/grpc";
    let out = t.run(&[
        "build",
        "cxx",
        "go",
        repo,
        "--arg",
        "GITREF=v1.2",
        "--arg",
        "go:GITREF=master",
    ]);
    let result = std::panic::catch_unwind(|| {
        out.ok();
        assert_eq!(version(&ns, "cxx"), "https://github.com/grpc/grpc@v1.2");
        assert_eq!(version(&ns, "go"), "https://github.com/grpc/grpc@master");
        assert_eq!(
            (label(&ns, "cxx").as_str(), label(&ns, "go").as_str()),
            ("v1.2", "master")
        );
        let again = t.run(&[
            "build",
            "cxx",
            "go",
            repo,
            "--arg",
            "GITREF=v1.2",
            "--arg",
            "go:GITREF=master",
        ]);
        again.ok();
        assert!(
            again.stderr.ends_with("summary: 0 built; 2 up to date\n"),
            "{}",
            again.stderr
        );
        let other = t.run(&[
            "build",
            "--explain",
            "cxx",
            "go",
            repo,
            "--arg",
            "GITREF=v1.2",
            "--arg",
            "go:GITREF=v1.3",
        ]);
        other.ok();
        assert!(
            other
                .stderr
                .contains("bench/go: build: build arg GITREF: master → v1.3"),
            "{}",
            other.stderr
        );
        assert!(
            other.stderr.contains("summary: 1 built; 1 up to date"),
            "{}",
            other.stderr
        );
        assert_eq!(version(&ns, "go"), "https://github.com/grpc/grpc@v1.3");
    });
    remove_images(&format!("{ns}/"));
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
