//! `imagemk doctor`: one check per line (✓/✗, what was found, the command that fixes it) for
//! the engine (from one `docker info --format '{{json .}}'` and `docker buildx version`), the
//! workspace, the host files its `stage:` entries take, each configured registry (reachable,
//! credentials through docker's config and helpers, never printed) and the cloud CLIs the
//! registry kinds need. `--json` prints `{"schema":1,"checks":[…]}`. Exit 1 when a check
//! fails. The engine is checked even when the workspace does not load.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::{directory, overrides};
use crate::cli::{DoctorArgs, Global};
use crate::config::{self, Env, Workspace};
use crate::engine::Engine;
use crate::exec::{self, Cmd, CmdError};
use crate::registry::{auth, http, Kind, Registry};

/// The version of the `--json` output; bumped only when a field changes meaning.
const SCHEMA: u32 = 1;

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }

    fn bad(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    /// `✓ name: detail` or `✗ name: detail; fix: …`.
    pub fn line(&self) -> String {
        match (&self.ok, &self.fix) {
            (true, _) | (false, None) => {
                format!("{} {}: {}", mark(self.ok), self.name, self.detail)
            }
            (false, Some(fix)) => format!("✗ {}: {}; fix: {fix}", self.name, self.detail),
        }
    }
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "✓"
    } else {
        "✗"
    }
}

pub fn run(global: &Global, env: Env, args: &DoctorArgs) -> anyhow::Result<i32> {
    let ws =
        directory(global).and_then(|cwd| config::variants::load(&cwd, &overrides(global), &env));
    // The engine as every command chooses it (doctor reports a missing one as a check).
    let file = ws.as_ref().ok().and_then(|w| w.engine);
    crate::engine::set(super::choose_engine(global, &env, file)?.0);
    let mut checks = engine();
    match ws {
        Ok(ws) => {
            checks.push(workspace(&ws));
            checks.extend(host_files(&ws));
            checks.extend(registries(&ws, &env));
        }
        Err(e) => checks.push(no_workspace(&e)),
    }
    if args.json {
        #[derive(Serialize)]
        struct Report<'a> {
            schema: u32,
            checks: &'a [Check],
        }
        let doc = Report {
            schema: SCHEMA,
            checks: &checks,
        };
        crate::console::outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        for c in &checks {
            crate::console::outln!("{}", c.line());
        }
    }
    Ok(if checks.iter().all(|c| c.ok) { 0 } else { 1 })
}

// ---- the engine ----------------------------------------------------------------------------

/// What `docker info --format '{{json .}}'` says that doctor shows.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Info {
    #[serde(default)]
    server_version: String,
    #[serde(default)]
    driver: String,
    #[serde(default)]
    security_options: Option<Vec<String>>,
    #[serde(default)]
    client_info: Option<ClientInfo>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ClientInfo {
    #[serde(default)]
    version: String,
}

fn engine() -> Vec<Check> {
    let engine = crate::engine::current();
    let info = crate::engine::container::info_json();
    match engine {
        Engine::Podman => {
            return match exec::capture(&info) {
                Ok(out) => podman_facts(&out.stdout),
                Err(e) => vec![engine_down(&e)],
            }
        }
        Engine::Docker => {}
    }
    let mut checks = match exec::capture(&info) {
        Ok(out) => engine_facts(&out.stdout),
        Err(e) => vec![engine_down(&e)],
    };
    // The builder is the CLI's: known even when the daemon is down.
    if exec::require(engine.program()).is_ok() {
        checks.push(builder());
    }
    checks
}

fn engine_facts(stdout: &str) -> Vec<Check> {
    let info: Info = match serde_json::from_str(stdout.trim()) {
        Ok(i) => i,
        Err(e) => {
            return vec![Check::bad(
                "engine",
                format!("`docker info` printed unexpected JSON: {e}"),
                "check that `docker` is the Docker CLI (`docker version`)",
            )]
        }
    };
    let client = info.client_info.map(|c| c.version).unwrap_or_default();
    let rootless = info
        .security_options
        .unwrap_or_default()
        .iter()
        .any(|o| o.split(',').any(|f| f == "name=rootless"));
    vec![
        Check::ok(
            "engine",
            format!(
                "Docker Engine {} (client {})",
                info.server_version,
                if client.is_empty() { "?" } else { &client }
            ),
        ),
        Check::ok(
            "rootless",
            if rootless {
                "rootless engine (containers run as your user; `--user` maps into your user namespace)"
            } else {
                "rootful engine"
            },
        ),
        Check::ok("storage driver", info.driver),
    ]
}

/// `podman info --format json`: version, rootless, storage driver; podman builds with its own
/// builder (buildah), so there is no builder to check.
fn podman_facts(stdout: &str) -> Vec<Check> {
    let info: serde_json::Value = match serde_json::from_str(stdout.trim()) {
        Ok(i) => i,
        Err(e) => {
            return vec![Check::bad(
                "engine",
                format!("`podman info` printed unexpected JSON: {e}"),
                "check that `podman` is podman (`podman version`)",
            )]
        }
    };
    let text = |ptr: &str| {
        info.pointer(ptr)
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_string()
    };
    let rootless = info
        .pointer("/host/security/rootless")
        .and_then(|v| v.as_bool());
    vec![
        Check::ok("engine", format!("podman {}", text("/version/Version"))),
        Check::ok(
            "rootless",
            if rootless == Some(true) {
                "rootless podman (containers get your uid with `--userns keep-id`)"
            } else {
                "rootful podman"
            },
        ),
        Check::ok("storage driver", text("/store/graphDriverName")),
        Check::ok("builder", "podman's own (buildah)"),
    ]
}

fn engine_down(err: &anyhow::Error) -> Check {
    let Some(cmd) = err.downcast_ref::<CmdError>() else {
        let fix = match crate::engine::current() {
            Engine::Docker => "install Docker Engine (Debian: `apt-get install docker.io`)",
            Engine::Podman => "install podman (Debian: `apt-get install podman`)",
        };
        return Check::bad("engine", format!("{err:#}"), fix);
    };
    let said = cmd
        .stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("docker info failed")
        .to_string();
    let fix = match crate::engine::current() {
        Engine::Podman => "see podman's message above (`podman info`); for a remote podman, start its service (`systemctl --user start podman.socket`)",
        Engine::Docker if crate::engine::permission_denied(&said) => {
            "add yourself to the `docker` group (`sudo usermod -aG docker $USER`, then log in again)"
        }
        Engine::Docker => {
            "start the engine (`sudo systemctl start docker`) or point DOCKER_HOST at a running one"
        }
    };
    Check::bad("engine", format!("unreachable: {said}"), fix)
}

/// BuildKit when the CLI has the buildx plugin, else the legacy builder (both work).
fn builder() -> Check {
    let cmd = crate::engine::image::buildx_version();
    match exec::capture(&cmd) {
        Ok(out) => Check::ok(
            "builder",
            format!("BuildKit available ({})", out.stdout.trim()),
        ),
        Err(_) => Check::ok(
            "builder",
            "legacy builder (the docker CLI has no buildx plugin; BuildKit-only Dockerfile features are unavailable)",
        ),
    }
}

// ---- the workspace and its host files ------------------------------------------------------

fn workspace(ws: &Workspace) -> Check {
    let members: Vec<&str> = ws
        .components
        .iter()
        .skip(1)
        .map(|c| c.name.as_str())
        .collect();
    Check::ok(
        "workspace",
        format!(
            "`{}`: {} image{} in {} component{} (members: {})",
            ws.root.join("images.yaml").display(),
            ws.images.len(),
            plural(ws.images.len()),
            ws.components.len(),
            plural(ws.components.len()),
            if members.is_empty() {
                "none".to_string()
            } else {
                members.join(", ")
            }
        ),
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn no_workspace(err: &anyhow::Error) -> Check {
    let text = format!("{err:#}");
    let fix = if text.starts_with("no `images.yaml`") {
        "run imagemk in a workspace (a directory with `images.yaml`, or below one) or give `-C DIR`"
    } else {
        "fix the workspace file as the message says"
    };
    Check::bad("workspace", text, fix)
}

/// Every `stage:` file taken from this machine (given a `hint:`, or outside the workspace),
/// once per path, with the images that stage it.
fn host_files(ws: &Workspace) -> Vec<Check> {
    let mut files: BTreeMap<PathBuf, (Vec<&str>, Option<&str>)> = BTreeMap::new();
    for img in &ws.images {
        for st in &img.stage {
            if st.hint.is_some() || !st.from.starts_with(&ws.root) {
                let entry = files.entry(st.from.clone()).or_default();
                if !entry.0.contains(&img.id.as_str()) {
                    entry.0.push(&img.id);
                }
                entry.1 = entry.1.or(st.hint.as_deref());
            }
        }
    }
    files
        .into_iter()
        .map(|(path, (ids, hint))| {
            let name = format!("host file {}", path.display());
            let by = format!("staged by {}", ids.join(", "));
            if path.exists() {
                Check::ok(name, format!("present ({by})"))
            } else {
                let fix = hint.unwrap_or("install what provides it, or fix `stage:`");
                Check::bad(name, format!("missing ({by})"), fix)
            }
        })
        .collect()
}

// ---- registries and cloud CLIs -------------------------------------------------------------

fn registries(ws: &Workspace, env: &Env) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut clis = Vec::new();
    for reg in ws.registries.values() {
        if let Some(cli) = reg.kind.cli().filter(|c| !clis.contains(c)) {
            clis.push(cli);
        }
        checks.extend(registry(reg, env));
    }
    checks.extend(clis.into_iter().map(cloud_cli));
    checks
}

/// How a registry answered `GET /v2/` (with docker's credentials when it asked for them).
enum Reach {
    /// Not an `oci` registry: not asked (its CLI and credentials are checked instead).
    NotAsked,
    Answered(u16),
    /// 401 with no credentials, or with credentials it refused: the message says which.
    Refused(String),
    Down(String),
}

/// Reachability (`oci`: GET /v2/) and credentials of one registry.
fn registry(reg: &Registry, env: &Env) -> Vec<Check> {
    let name = format!("registry {}", reg.name);
    let reach = if reg.kind.reached_directly() {
        ping(reg, env)
    } else {
        Reach::NotAsked
    };
    let mut checks = Vec::new();
    match &reach {
        Reach::NotAsked => {}
        Reach::Answered(status) => checks.push(Check::ok(
            &name,
            format!("`{}` answered GET /v2/ with {status}", reg.host),
        )),
        Reach::Refused(_) => checks.push(Check::ok(
            &name,
            format!("`{}` answered GET /v2/ and wants credentials", reg.host),
        )),
        Reach::Down(why) => checks.push(Check::bad(
            &name,
            why.clone(),
            format!(
                "start the registry at `{}`, or fix `host` of registry `{}` in images.yaml",
                reg.host, reg.name
            ),
        )),
    }
    let creds = credentials(reg, env, &reach);
    // Down and no credentials: whether it needs any is unknown, so no second ✗.
    if creds.ok || !matches!(reach, Reach::Down(_)) {
        checks.push(creds);
    }
    checks
}

fn ping(reg: &Registry, env: &Env) -> Reach {
    let client = match http::Client::new(&reg.host, env) {
        Ok(c) => c,
        Err(e) => return Reach::Down(format!("{e:#}")),
    };
    match client.call("GET", &client.url("/v2/"), "registry:catalog:*", None, None) {
        Ok(reply) => Reach::Answered(reply.status),
        Err(e) => {
            let text = format!("{e:#}");
            let short = text.split("; ").next().unwrap_or(&text).to_string();
            if http::is_unauthorized(&e) {
                Reach::Refused(short)
            } else {
                Reach::Down(short)
            }
        }
    }
}

/// Whether docker has credentials for the registry (the secret is never shown), and whether
/// the registry took them.
fn credentials(reg: &Registry, env: &Env, reach: &Reach) -> Check {
    let name = format!("registry {} credentials", reg.name);
    let login = reg.login().to_string();
    let fix = format!("`{login}`{}", before_login(&reg.kind));
    match (auth::lookup(env, &reg.host), reach) {
        (Err(e), _) => Check::bad(name, format!("{e:#}"), fix),
        (Ok(_), Reach::Refused(why)) => Check::bad(name, why.clone(), fix),
        (Ok(Some(_)), Reach::Answered(200)) => Check::ok(
            name,
            format!(
                "docker has credentials for `{}` and it accepts them",
                reg.host
            ),
        ),
        (Ok(Some(_)), _) => Check::ok(name, format!("docker has credentials for `{}`", reg.host)),
        (Ok(None), Reach::Answered(_)) => Check::ok(
            name,
            format!("none needed (`{}` answered without them)", reg.host),
        ),
        (Ok(None), _) => Check::bad(
            name,
            format!("docker has no credentials for `{}`", reg.host),
            fix,
        ),
    }
}

/// What the cloud CLI needs before its docker login works.
fn before_login(kind: &Kind) -> String {
    kind.cli_account_login()
        .map(|c| format!(" (after `{c}`)"))
        .unwrap_or_default()
}

/// A cloud CLI a registry kind needs: installed, and its version.
fn cloud_cli(cli: &'static str) -> Check {
    let name = format!("cli {cli}");
    let (cmd, install) = match cli {
        "az" => (
            Cmd::new("az").args(["version", "--output", "json"]),
            "install the Azure CLI (`pip install azure-cli`, or Microsoft's packages)",
        ),
        _ => (
            Cmd::new("gcloud").arg("--version"),
            "install the Google Cloud SDK (Google's `google-cloud-cli` package)",
        ),
    };
    if exec::require(cli).is_err() {
        return Check::bad(name, format!("`{cli}` is not installed"), install);
    }
    match exec::capture(&cmd) {
        Ok(out) => Check::ok(name, cli_version(cli, &out.stdout)),
        Err(e) => Check::bad(name, format!("{e:#}"), install),
    }
}

/// `Google Cloud SDK 528.0.0` (gcloud's first line) or `azure-cli 2.91.0` (az's JSON).
fn cli_version(cli: &str, stdout: &str) -> String {
    if cli == "az" {
        let v: serde_json::Value = serde_json::from_str(stdout).unwrap_or_default();
        return match v.get("azure-cli").and_then(|v| v.as_str()) {
            Some(version) => format!("azure-cli {version}"),
            None => "azure-cli (version not shown)".into(),
        };
    }
    stdout.lines().next().unwrap_or("").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_come_from_docker_info() {
        let json = r#"{"ServerVersion":"20.10.24","Driver":"overlay2","SecurityOptions":["name=seccomp,profile=default","name=rootless"],"ClientInfo":{"Version":"28.2.2"}}"#;
        let lines: Vec<String> = engine_facts(json).iter().map(Check::line).collect();
        assert_eq!(
            lines,
            [
                "✓ engine: Docker Engine 20.10.24 (client 28.2.2)",
                "✓ rootless: rootless engine (containers run as your user; `--user` maps into your user namespace)",
                "✓ storage driver: overlay2",
            ]
        );
    }

    #[test]
    fn a_socket_without_permission_gets_the_docker_group_fix() {
        let err: anyhow::Error = CmdError {
            line: "docker info".into(),
            status: Some(1),
            stderr: "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: Get \"http://%2Fvar%2Frun%2Fdocker.sock/v1.24/info\": dial unix /var/run/docker.sock: connect: permission denied\n".into(),
        }
        .into();
        let c = engine_down(&err);
        assert!(!c.ok);
        assert_eq!(
            c.fix.as_deref(),
            Some("add yourself to the `docker` group (`sudo usermod -aG docker $USER`, then log in again)")
        );
        assert!(
            c.detail
                .starts_with("unreachable: permission denied while trying"),
            "{}",
            c.detail
        );
    }

    #[test]
    fn a_failed_check_shows_its_fix_on_its_line() {
        let c = Check::bad("x", "gone", "`make it`");
        assert_eq!(c.line(), "✗ x: gone; fix: `make it`");
    }

    #[test]
    fn cli_versions() {
        assert_eq!(
            cli_version("az", r#"{"azure-cli": "2.91.0"}"#),
            "azure-cli 2.91.0"
        );
        assert_eq!(
            cli_version("gcloud", "Google Cloud SDK 528.0.0\nalpha 1\n"),
            "Google Cloud SDK 528.0.0"
        );
    }
}
