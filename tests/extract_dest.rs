//! Where `extract` may write, against the fake docker: a destination that is the workspace
//! root, a component directory, a component's images.yaml or above one of them (however it
//! is spelt: `.`, `..`, a symlink, a trailing `/`) is refused before any docker command, for
//! `PATH DEST` and for `artifacts:` alike; and docker cp's rules for an existing DEST.

mod support;

use support::Test;

const ROOT_YAML: &str = "workspace:\n  members: [\"payloads/*\"]\ndefaults: {namespace: ns, platform: busybox}\ncomponent: km\nimages:\n  app:\n    dockerfile: Dockerfile\n";
const APP: &str = "ns/app-km-busybox:latest";

fn workspace(artifact_to: Option<&str>) -> Test {
    let t = Test::new();
    t.file("images.yaml", ROOT_YAML)
        .file("Dockerfile", "FROM scratch\n")
        .file("sub/dir/.keep", "")
        .file(".git/HEAD", "ref: refs/heads/main\n")
        .file("images", &format!("{APP}\nns/tool-node-busybox:latest\n"))
        .fake_docker();
    let artifacts = match artifact_to {
        Some(to) => format!("    artifacts:\n      - {{from: /opt/x, to: \"{to}\"}}\n"),
        None => String::new(),
    };
    t.file(
        "payloads/node/images.yaml",
        &format!("images:\n  tool:\n    dockerfile: Dockerfile\n{artifacts}"),
    )
    .file("payloads/node/Dockerfile", "FROM scratch\n");
    t
}

const NEVER: &str = "; imagemk never extracts onto the workspace, a component directory or above them\nhint: give a path inside one, e.g. `out/`\n";

#[test]
fn a_destination_at_or_above_the_workspace_or_a_component_is_refused() {
    let mut t = workspace(None);
    std::os::unix::fs::symlink(&t.root, t.path("sub/link-to-root")).unwrap();
    let parent = t.root.parent().unwrap().display().to_string();
    let cases: &[(&str, &str, String)] = &[
        ("", ".", "`.` (`$ROOT`) is the workspace root".into()),
        ("", "./", "`./` (`$ROOT`) is the workspace root".into()),
        ("", "$ROOT", "`$ROOT` is the workspace root".into()),
        ("", "$ROOT/", "`$ROOT/` is the workspace root".into()),
        ("", "..", format!("`..` (`{parent}`) is above the workspace root")),
        ("", "/", "`/` is above the workspace root".into()),
        ("sub", "..", "`..` (`$ROOT`) is the workspace root".into()),
        ("sub", "dir/../..", "`dir/../..` (`$ROOT`) is the workspace root".into()),
        ("sub", "link-to-root", "`link-to-root` (`$ROOT`) is the workspace root".into()),
        ("sub", "link-to-root/", "`link-to-root/` (`$ROOT`) is the workspace root".into()),
        ("", "payloads", "`payloads` (`$ROOT/payloads`) is above the directory of component `node`".into()),
        ("", "payloads/node/", "`payloads/node/` (`$ROOT/payloads/node`) is the directory of component `node`".into()),
        ("payloads/node", ".", "`.` (`$ROOT/payloads/node`) is the directory of component `node`".into()),
        ("", "images.yaml", "`images.yaml` (`$ROOT/images.yaml`) is the images.yaml of component `km`".into()),
        ("sub", "link-to-root/payloads/node/images.yaml", "`link-to-root/payloads/node/images.yaml` (`$ROOT/payloads/node/images.yaml`) is the images.yaml of component `node`".into()),
    ];
    for (cwd, dest, what) in cases {
        t.cd(cwd);
        let dest = dest.replace("$ROOT", &t.root.display().to_string());
        t.run(&["extract", "km/app", "/opt/x", &dest])
            .fails_with(&format!("error: {what}{NEVER}"));
        assert_eq!(t.docker_log(), Vec::<String>::new(), "{dest}");
        t.cd("");
    }
    assert_eq!(
        std::fs::read_to_string(t.path(".git/HEAD")).unwrap(),
        "ref: refs/heads/main\n"
    );
}

#[test]
fn an_artifact_at_or_above_its_component_or_outside_the_workspace_is_refused() {
    // Refused when the workspace loads (with the value's position), before extraction's own
    // check (`container::dest`, unit-tested there) is reached, and before any docker command.
    for to in [".", "", "..", "out/../../..", "/tmp/imagemk-elsewhere"] {
        let t = workspace(Some(to));
        let out = t.run(&["extract", "node/tool"]);
        assert_eq!(out.status, 1, "{to}: {out:?}");
        assert!(
            out.stderr
                .starts_with("error: `$ROOT/payloads/node/images.yaml:")
                && out.stderr.contains(&format!(
                    "artifact destination `{to}` must be a path inside the component directory"
                )),
            "{to}: {}",
            out.stderr
        );
        assert_eq!(t.docker_log(), Vec::<String>::new(), "{to}");
    }
    // Inside the directory by path, but the component's own file: extraction refuses it.
    let t = workspace(Some("images.yaml"));
    t.run(&["extract", "node/tool"]).fails_with(&format!(
        "error: `images.yaml` (`$ROOT/payloads/node/images.yaml`) is the images.yaml of component `node`{NEVER}"
    ));
    assert_eq!(t.docker_log(), Vec::<String>::new());
}

#[test]
fn an_existing_directory_receives_the_file_inside_it() {
    let mut t = workspace(None);
    t.cd("sub");
    t.run(&["extract", "app", "/opt/x", "."])
        .is(0, "", "extracted km/app:/opt/x -> $ROOT/sub/x\n");
    assert_eq!(
        std::fs::read_to_string(t.path("sub/x")).unwrap(),
        "copied from /opt/x\n"
    );
    t.run(&["extract", "app", "/opt/x", "dir/"]).ok();
    assert_eq!(
        std::fs::read_to_string(t.path("sub/dir/x")).unwrap(),
        "copied from /opt/x\n"
    );
    assert!(t.exists("sub/dir/.keep"));
    // A trailing `/` on a destination that does not exist: the file has nowhere to go.
    t.run(&["extract", "app", "/opt/x", "newdir/"]).fails_with(
        "error: `/opt/x` is a file in the image, and `newdir/` names a directory that does not exist; create the directory first (the file then goes inside it), or drop the trailing `/`\n",
    );
    assert!(!t.exists("sub/newdir"));
    // A file where a directory is expected, and a directory where the file would go.
    t.run(&["extract", "app", "/opt/x", "x/"]).fails_with(
        "error: `x/` is not a directory, but the trailing `/` says it should be one; drop the `/` to replace the file\n",
    );
    std::fs::create_dir(t.path("sub/dir/y")).unwrap();
    std::fs::write(t.path("sub/dir/y/keep"), "mine").unwrap();
    t.run(&["extract", "app", "/opt/y", "dir"]).fails_with(
        "error: `$ROOT/sub/dir/y` is a directory, and `/opt/y` in the image is a file; remove `$ROOT/sub/dir/y` first or give another destination\n",
    );
    assert_eq!(
        std::fs::read_to_string(t.path("sub/dir/y/keep")).unwrap(),
        "mine"
    );
    let mut left: Vec<_> = std::fs::read_dir(t.path("sub/dir"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, [".keep", "x", "y"]);
}

#[test]
fn a_destination_with_any_bytes_in_its_path_is_reached_through_the_working_directory() {
    use std::os::unix::ffi::OsStrExt;
    let mut t = workspace(None);
    let odd = std::ffi::OsStr::from_bytes(b"caf\xe9 a:b,c\xc3\xa9");
    let dir = t.path("sub").join(odd);
    std::fs::create_dir(&dir).unwrap();
    t.cd("sub");
    let mut cmd = t.command(support::BIN, &["extract", "app", "--name", "xo", "/opt/x"]);
    cmd.arg(odd);
    let out = t.output(cmd);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.join("x")).unwrap(),
        "copied from /opt/x\n"
    );
    assert_eq!(
        t.docker_log()[2],
        "docker cp xo:/opt/x ./.imagemk-extract-xo-0/copy"
    );
    assert!(!dir.join(".imagemk-extract-xo-0").exists());
}
