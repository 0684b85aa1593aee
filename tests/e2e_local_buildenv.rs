//! `local-buildenv` on the real engine and a real registry: an image pushed, then removed
//! locally, is pulled, and its host artifacts (a 3 MB file and a directory) arrive whole under
//! `--root`, with their modes; a second run skips them as identical, a changed host file is
//! refused, `--force` replaces it. Package managers are fakes on a PATH with no real one.

mod support;

use std::os::unix::fs::PermissionsExt;

use support::{docker, Registry, Test};

/// Removes the test's images (local and remote-named) when dropped.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        support::remove_images(&self.0);
    }
}

/// A PATH of `.bin` (the fakes) and `.sys` (/usr/bin and /usr/sbin without package managers
/// and sudo).
fn isolated(t: &mut Test) {
    let sys = t.path(".sys");
    std::fs::create_dir_all(&sys).unwrap();
    let hidden = ["apt-get", "apt", "dnf", "yum", "apk", "sudo"];
    for dir in ["/usr/bin", "/usr/sbin"] {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let name = e.file_name();
            if hidden.iter().any(|h| name == *h) || sys.join(&name).exists() {
                continue;
            }
            let _ = std::os::unix::fs::symlink(e.path(), sys.join(&name));
        }
    }
    let path = format!("{}:{}", t.path(".bin").display(), sys.display());
    t.env("PATH", &path);
}

/// 3 MB of bytes that differ along the file, so a truncated copy cannot pass.
fn payload() -> Vec<u8> {
    let mut x: u32 = 12345;
    (0..3 * 1024 * 1024)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect()
}

#[test]
fn pulls_then_puts_the_host_artifacts_in_place_whole() {
    if !support::engine() {
        return;
    }
    let reg = Registry::start();
    let mut t = Test::new();
    let ns = t.namespace();
    let _guard = Cleanup(ns.clone());
    t.file(
        "images.yaml",
        &format!(
            "workspace:\n  registry: r\n  registries:\n    r: {{kind: oci, host: \"{}\", path: {ns}}}\ndefaults: {{namespace: {ns}}}\ncomponent: km\nimages:\n  buildenv:\n    dockerfile: buildenv.dockerfile\n    context: ctx\n    host:\n      apt: [make]\n      artifacts:\n        - {{from: /opt/kontain/lib/libstdc++.so.6, to: /opt/kontain/lib/libstdc++.so.6}}\n        - {{from: /opt/kontain/bin, to: /opt/kontain/bin}}\n",
            reg.host()
        ),
    );
    t.file(
        "buildenv.dockerfile",
        "FROM scratch\nCOPY lib /opt/kontain/lib/\nCOPY bin /opt/kontain/bin/\n",
    );
    let lib = payload();
    std::fs::create_dir_all(t.path("ctx/lib")).unwrap();
    std::fs::write(t.path("ctx/lib/libstdc++.so.6"), &lib).unwrap();
    t.file("ctx/bin/kmcc", "#!/bin/sh\necho kmcc\n");
    t.file("ctx/bin/sub/ld", "ld\n");
    let mode = std::fs::Permissions::from_mode(0o755);
    std::fs::set_permissions(t.path("ctx/bin/kmcc"), mode).unwrap();
    t.run(&["build"]).ok();
    t.run(&["push"]).ok();
    let local = format!("{ns}/buildenv-km-linux:latest");
    assert_eq!(docker(&["image", "rm", &local]).0, 0);

    isolated(&mut t);
    t.fake("id", "#!/bin/sh\necho 0\n");
    t.fake(
        "apt-get",
        "#!/bin/sh\necho \"apt-get $*\" >> \"$(dirname \"$0\")/../apt-get.log\"\n",
    );
    std::fs::create_dir(t.path("sys")).unwrap();
    let cname = format!("{ns}-lb");
    let run = |extra: &[&str]| {
        let mut args = vec!["local-buildenv", "--root", "sys", "--name", &cname];
        args.extend(extra);
        t.run(&args)
    };
    let out = run(&[]);
    out.ok();
    assert!(out.stderr.contains("pulled"), "{}", out.stderr);
    assert_eq!(
        docker(&["image", "inspect", &local]).0,
        0,
        "pulled under its local name"
    );
    let got = std::fs::read(t.path("sys/opt/kontain/lib/libstdc++.so.6")).unwrap();
    assert!(got == lib, "the library arrived whole");
    assert_eq!(
        std::fs::read_to_string(t.path("sys/opt/kontain/bin/sub/ld")).unwrap(),
        "ld\n"
    );
    let kmcc = std::fs::metadata(t.path("sys/opt/kontain/bin/kmcc")).unwrap();
    assert_eq!(kmcc.permissions().mode() & 0o777, 0o755);
    assert_eq!(
        t.log("apt-get"),
        ["apt-get update", "apt-get install -y make"]
    );
    let entries = |d: &str| std::fs::read_dir(t.path(d)).unwrap().count();
    assert_eq!(
        (entries("sys/opt/kontain"), entries("sys/opt/kontain/lib")),
        (2, 1)
    );

    // Identical: skipped; different: refused, left as it is; --force: replaced.
    let out = run(&[]);
    out.ok();
    assert!(
        out.stderr
            .contains("unchanged (identical): $ROOT/sys/opt/kontain/bin\n"),
        "{}",
        out.stderr
    );
    std::fs::write(t.path("sys/opt/kontain/bin/sub/ld"), "mine\n").unwrap();
    let out = run(&[]);
    assert_eq!(out.status, 1);
    assert!(out.stderr.contains("error: `$ROOT/sys/opt/kontain/bin` exists on this host and differs from the copy in image `km/buildenv`; nothing was written\n"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(t.path("sys/opt/kontain/bin/sub/ld")).unwrap(),
        "mine\n"
    );
    run(&["--force"]).ok();
    assert_eq!(
        std::fs::read_to_string(t.path("sys/opt/kontain/bin/sub/ld")).unwrap(),
        "ld\n"
    );
    assert_eq!(
        (entries("sys/opt/kontain"), entries("sys/opt/kontain/lib")),
        (2, 1)
    );
    let (_, left) = docker(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(
        !left.lines().any(|l| l == cname),
        "no container left: {left}"
    );
}
