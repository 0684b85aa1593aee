//! `docker run` as data: [`run`] and [`withdocker`] compose [`DockerRun`]'s flag groups
//! (`engine::run`) from an image's `run:` options and the host [`Facts`]. Pure: no IO, so
//! every combination is tested without an engine.

use std::path::Path;

use anyhow::bail;

use super::facts::{device_host_path, DeviceState, Facts};
pub use crate::config::EnvName;
use crate::config::RunOptions;
use crate::engine::run::DockerRun;
use crate::exec::Cmd;

/// A directory whose path is UTF-8 (a docker argument is text).
#[derive(Debug, Clone)]
pub struct Utf8Dir(String);

impl Utf8Dir {
    pub fn new(dir: &Path, what: &str) -> anyhow::Result<Utf8Dir> {
        match dir.to_str() {
            Some(s) => Ok(Utf8Dir(s.to_string())),
            None => bail!(
                "the path of {what} (`{}`) is not valid UTF-8, and docker takes paths as text; rename it",
                dir.display()
            ),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks the configured devices of image `image` before anything runs: one that exists but
/// is not a device is an error (whether it exists is a fact of this host, not of the file).
pub fn check_devices(options: &RunOptions, image: &str) -> anyhow::Result<()> {
    let facts = Facts::gather(&options.devices, super::Engine::Rootful);
    usable_devices(&options.devices, &facts, image).map(|_| ())
}

/// The configured devices that exist on this host, and a warning for each that does not.
/// A path that exists but is not a device is an error: it is a mistake in the config.
pub fn usable_devices(
    configured: &[String],
    facts: &Facts,
    image: &str,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let mut kept = Vec::new();
    let mut warnings = Vec::new();
    for entry in configured {
        let host = device_host_path(entry);
        match facts.devices.get(host).copied().unwrap_or(DeviceState::Absent) {
            DeviceState::Device => kept.push(entry.clone()),
            DeviceState::Absent => warnings.push(format!(
                "warning: device `{host}` of image `{image}` is not on this host; running without it"
            )),
            DeviceState::NotADevice => bail!(
                "`{host}`, listed in `run.devices` of image `{image}`, is not a device; fix `run.devices` in its images.yaml"
            ),
        }
    }
    Ok((kept, warnings))
}

/// What to start: the container name, the image's name and id, and the command (empty: the
/// configured one, else the image's own).
pub struct Request<'a> {
    pub name: &'a str,
    pub image_name: &'a str,
    pub image_id: &'a str,
    pub options: &'a RunOptions,
    pub command: &'a [String],
}

/// A planned `docker run` and the warnings to show before it.
#[derive(Debug, Clone)]
pub struct Planned {
    pub cmd: Cmd,
    pub warnings: Vec<String>,
}

fn command<'a>(req: &'a Request) -> &'a [String] {
    if req.command.is_empty() {
        &req.options.command
    } else {
        req.command
    }
}

/// `imagemk run`: the image with its configured options.
pub fn run(req: &Request, facts: &Facts) -> anyhow::Result<Planned> {
    let o = req.options;
    let (devices, warnings) = usable_devices(&o.devices, facts, req.image_id)?;
    let cmd = DockerRun::new(req.name)
        .terminal(facts)
        .init(o.init)
        .user(o.user.as_deref())
        .workdir(o.workdir.as_deref())
        .env_names(&o.env)
        .devices(&devices)
        .ulimits(&o.ulimits)
        .network(o.network.as_deref())
        .finish(req.image_name, command(req));
    Ok(Planned { cmd, warnings })
}

/// `imagemk withdocker`: the image over the workspace tree, at the same path, in the same
/// directory, as the invoking user, with `MAKEFLAGS` and the configured env names.
pub fn withdocker(
    req: &Request,
    facts: &Facts,
    root: &Path,
    cwd: &Path,
) -> anyhow::Result<Planned> {
    let o = req.options;
    let (devices, warnings) = usable_devices(&o.devices, facts, req.image_id)?;
    let root = Utf8Dir::new(root, "the workspace")?;
    let cwd = Utf8Dir::new(cwd, "the current directory")?;
    let makeflags = EnvName::new("MAKEFLAGS", req.image_id)?;
    let mut names = vec![makeflags.clone()];
    names.extend(o.env.iter().filter(|n| **n != makeflags).cloned());
    let cmd = DockerRun::new(req.name)
        .terminal(facts)
        .init(o.init)
        .invoking_user(facts)
        .mount_same_path(&root)
        .workdir(Some(&cwd.0))
        .env_names(&names)
        .devices(&devices)
        .ulimits(&o.ulimits)
        .network(o.network.as_deref())
        .finish(req.image_name, req.command);
    Ok(Planned { cmd, warnings })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::container::facts::{Engine, Terminal};

    fn facts(tty: [bool; 3], engine: Engine) -> Facts {
        Facts {
            terminal: Terminal {
                stdin: tty[0],
                stdout: tty[1],
                stderr: tty[2],
            },
            uid: 1000,
            gid: 1001,
            engine,
            devices: BTreeMap::from([
                ("/dev/kvm".to_string(), DeviceState::Device),
                ("/dev/absent".to_string(), DeviceState::Absent),
                ("/etc/hosts".to_string(), DeviceState::NotADevice),
            ]),
        }
    }

    fn options(devices: &[&str]) -> RunOptions {
        RunOptions {
            devices: devices.iter().map(|d| d.to_string()).collect(),
            ulimits: vec!["nofile=1024:2048".into()],
            init: true,
            env: vec![EnvName::new("HOME_TOKEN", "km/test").unwrap()],
            ..Default::default()
        }
    }

    fn check_run(tty: [bool; 3], engine: Engine, devices: &[&str], expected: &str) {
        let o = options(devices);
        let req = Request {
            name: "c1",
            image_name: "ns/test:latest",
            image_id: "km/test",
            options: &o,
            command: &["sh".into()],
        };
        let planned = run(&req, &facts(tty, engine)).unwrap();
        assert_eq!(planned.cmd.to_string(), expected);
        let planned = withdocker(
            &req,
            &facts(tty, engine),
            Path::new("/w"),
            Path::new("/w/p"),
        );
        assert!(planned.is_ok());
    }

    fn check_withdocker(tty: [bool; 3], engine: Engine, expected: &str) {
        let o = options(&["/dev/kvm"]);
        let req = Request {
            name: "c1",
            image_name: "ns/buildenv:latest",
            image_id: "km/buildenv",
            options: &o,
            command: &["make".into(), "all".into()],
        };
        let planned = withdocker(
            &req,
            &facts(tty, engine),
            Path::new("/w s"),
            Path::new("/w s/p"),
        )
        .unwrap();
        assert_eq!(planned.cmd.to_string(), expected);
    }

    const RUN: &str = "docker run --rm --name c1 --pull never";

    #[test]
    fn run_terminal_flags() {
        let rest = "--init --env HOME_TOKEN --ulimit nofile=1024:2048 ns/test:latest sh";
        check_run([false; 3], Engine::Rootful, &[], &format!("{RUN} {rest}"));
        check_run(
            [true; 3],
            Engine::Rootful,
            &[],
            &format!("{RUN} -i -t {rest}"),
        );
        check_run(
            [true, false, true],
            Engine::Rootful,
            &[],
            &format!("{RUN} -i {rest}"),
        );
        check_run(
            [true, true, false],
            Engine::Rootful,
            &[],
            &format!("{RUN} -i {rest}"),
        );
        check_run(
            [false, true, true],
            Engine::Rootful,
            &[],
            &format!("{RUN} {rest}"),
        );
    }

    #[test]
    fn run_devices_present_and_absent() {
        let o = options(&["/dev/kvm", "/dev/absent:/dev/x"]);
        let req = Request {
            name: "c1",
            image_name: "ns/test:latest",
            image_id: "km/test",
            options: &o,
            command: &[],
        };
        let planned = run(&req, &facts([false; 3], Engine::Rootful)).unwrap();
        assert_eq!(
            planned.cmd.to_string(),
            format!("{RUN} --init --env HOME_TOKEN --device /dev/kvm --ulimit nofile=1024:2048 ns/test:latest")
        );
        assert_eq!(
            planned.warnings,
            ["warning: device `/dev/absent` of image `km/test` is not on this host; running without it"]
        );
    }

    #[test]
    fn a_file_that_is_not_a_device_is_an_error() {
        let o = options(&["/etc/hosts"]);
        let req = Request {
            name: "c1",
            image_name: "ns/test:latest",
            image_id: "km/test",
            options: &o,
            command: &[],
        };
        let err = run(&req, &facts([false; 3], Engine::Rootful)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`/etc/hosts`, listed in `run.devices` of image `km/test`, is not a device; fix `run.devices` in its images.yaml"
        );
    }

    #[test]
    fn withdocker_user_depends_on_the_engine() {
        let rest = "--mount 'type=bind,source=/w s,target=/w s' --workdir '/w s/p' --env MAKEFLAGS --env HOME_TOKEN --device /dev/kvm --ulimit nofile=1024:2048 ns/buildenv:latest make all";
        check_withdocker(
            [false; 3],
            Engine::Rootful,
            &format!("{RUN} --init --user 1000:1001 {rest}"),
        );
        check_withdocker(
            [false; 3],
            Engine::Rootless,
            &format!("{RUN} --init {rest}"),
        );
        check_withdocker(
            [true; 3],
            Engine::Rootless,
            &format!("{RUN} -i -t --init {rest}"),
        );
        // Rootless podman: the invoking user keeps its uid inside, and no `--user`.
        check_withdocker(
            [false; 3],
            Engine::RootlessKeepId,
            &format!("{RUN} --init --userns keep-id {rest}"),
        );
    }

    #[test]
    fn the_workspace_is_mounted_with_mount_quoted_as_csv() {
        let o = RunOptions::default();
        let req = Request {
            name: "c1",
            image_name: "ns/b:latest",
            image_id: "km/b",
            options: &o,
            command: &[],
        };
        let f = facts([false; 3], Engine::Rootless);
        let mount = |root: &str| {
            let p = withdocker(&req, &f, Path::new(root), Path::new(root)).unwrap();
            let i = p.cmd.args.iter().position(|a| a == "--mount").unwrap();
            assert!(!p.cmd.args.iter().any(|a| a == "--volume" || a == "-v"));
            p.cmd.args[i + 1].clone()
        };
        assert_eq!(mount("/w:1=x"), "type=bind,source=/w:1=x,target=/w:1=x");
        assert_eq!(
            mount("/w,a\"b"),
            "type=bind,\"source=/w,a\"\"b\",\"target=/w,a\"\"b\""
        );
    }

    #[test]
    fn a_path_that_is_not_utf8_is_refused() {
        use std::os::unix::ffi::OsStrExt;
        let o = RunOptions::default();
        let req = Request {
            name: "c1",
            image_name: "ns/b:latest",
            image_id: "km/b",
            options: &o,
            command: &[],
        };
        let root = Path::new(std::ffi::OsStr::from_bytes(b"/w/caf\xe9"));
        let err = withdocker(&req, &facts([false; 3], Engine::Rootful), root, root).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the path of the workspace (`/w/caf\u{fffd}`) is not valid UTF-8, and docker takes paths as text; rename it"
        );
    }
}
