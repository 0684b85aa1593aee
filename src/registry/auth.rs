//! Registry credentials from docker's config (`credHelpers`, `credsStore`, `auths`), the way
//! the docker CLI finds them, and the parsing of `WWW-Authenticate` challenges for the bearer
//! token flow. Credential helpers run through `exec`.

use std::path::PathBuf;

use base64::Engine;
use serde::Deserialize;

use crate::config::Env;
use crate::exec::{self, Cmd};

/// A user name and password (or identity token) for Basic auth and token requests.
#[derive(Clone, PartialEq, Eq)]
pub struct Basic {
    pub user: String,
    pub secret: String,
}

impl std::fmt::Debug for Basic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Basic({}:***)", self.user)
    }
}

impl Basic {
    pub fn header(&self) -> String {
        let raw = format!("{}:{}", self.user, self.secret);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

#[derive(Debug, Default, Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: std::collections::BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    identitytoken: Option<String>,
}

/// `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
pub fn config_path(env: &Env) -> Option<PathBuf> {
    if let Some(dir) = env.get(&["DOCKER_CONFIG"]) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    env.get(&["HOME"])
        .map(|h| PathBuf::from(h).join(".docker/config.json"))
}

/// Where podman reads credentials, in its order (containers-auth.json(5)): `REGISTRY_AUTH_FILE`
/// or the primary file (`$XDG_RUNTIME_DIR/containers/auth.json`, `/run/containers/UID/...`
/// without it), then `$XDG_CONFIG_HOME` (or `~/.config`)`/containers/auth.json`, then docker's.
pub fn podman_paths(env: &Env, uid: u32) -> Vec<PathBuf> {
    let mut paths = vec![match (
        env.get(&["REGISTRY_AUTH_FILE"]),
        env.get(&["XDG_RUNTIME_DIR"]),
    ) {
        (Some(file), _) => PathBuf::from(file),
        (None, Some(run)) => PathBuf::from(run).join("containers/auth.json"),
        (None, None) => PathBuf::from(format!("/run/containers/{uid}/auth.json")),
    }];
    let config = env
        .get(&["XDG_CONFIG_HOME"])
        .map(PathBuf::from)
        .or_else(|| env.get(&["HOME"]).map(|h| PathBuf::from(h).join(".config")));
    paths.extend(config.map(|c| c.join("containers/auth.json")));
    paths.extend(
        env.get(&["HOME"])
            .map(|h| PathBuf::from(h).join(".docker/config.json")),
    );
    paths
}

/// The credentials the engine would use for `host`, if any: docker's config, or the first of
/// podman's files that has them.
pub fn lookup(env: &Env, host: &str) -> anyhow::Result<Option<Basic>> {
    let paths = match crate::engine::current().reads_podman_auth() {
        // SAFETY: getuid has no preconditions and cannot fail.
        true => podman_paths(env, unsafe { libc::getuid() }),
        false => config_path(env).into_iter().collect(),
    };
    for path in paths {
        if let Some(found) = lookup_in(&path, host)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// The credentials for `host` in one docker-format config or auth file, if any.
fn lookup_in(path: &std::path::Path, host: &str) -> anyhow::Result<Option<Basic>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(None);
    };
    let config: DockerConfig = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "the credentials file `{}` is not valid JSON: {e}",
            path.display()
        )
    })?;
    if let Some(helper) = config.cred_helpers.get(host) {
        return helper_get(helper, host);
    }
    if let Some(store) = &config.creds_store {
        if let Some(found) = helper_get(store, host)? {
            return Ok(Some(found));
        }
    }
    let keys = [
        host.to_string(),
        format!("https://{host}"),
        format!("http://{host}"),
    ];
    let Some(entry) = keys.iter().find_map(|k| config.auths.get(k)) else {
        return Ok(None);
    };
    if let Some(token) = &entry.identitytoken {
        return Ok(Some(Basic {
            user: "<token>".into(),
            secret: token.clone(),
        }));
    }
    if let Some(auth) = &entry.auth {
        let bad = || {
            anyhow::anyhow!(
                "the `auth` of `{host}` in `{}` is not base64 of `user:password`; run `{}` again",
                path.display(),
                crate::engine::login::login(host)
            )
        };
        let raw = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let (user, secret) = raw.split_once(':').ok_or_else(bad)?;
        return Ok(Some(Basic {
            user: user.into(),
            secret: secret.into(),
        }));
    }
    Ok(match (&entry.username, &entry.password) {
        (Some(u), Some(p)) => Some(Basic {
            user: u.clone(),
            secret: p.clone(),
        }),
        _ => None,
    })
}

#[derive(Deserialize)]
struct HelperReply {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// `docker-credential-<helper> get` with the host on stdin; "not found" is no credentials.
fn helper_get(helper: &str, host: &str) -> anyhow::Result<Option<Basic>> {
    let cmd = Cmd::new(&format!("docker-credential-{helper}"))
        .arg("get")
        .stdin(host.as_bytes().to_vec());
    match exec::capture(&cmd) {
        Ok(out) => {
            let reply: HelperReply = serde_json::from_str(&out.stdout)
                .map_err(|e| anyhow::anyhow!("`{cmd}` printed unexpected output: {e}"))?;
            Ok(Some(Basic {
                user: reply.username,
                secret: reply.secret,
            }))
        }
        Err(e) => match e.downcast_ref::<exec::CmdError>() {
            // By text: a credential helper says "no credentials" only on stderr.
            Some(c) if c.stderr.contains("not found") || c.stderr.is_empty() => Ok(None),
            _ => Err(e),
        },
    }
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let (scheme, rest) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = std::collections::BTreeMap::new();
    let mut s = rest.trim();
    while let Some((key, after)) = s.split_once('=') {
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        // Split, never index: the header comes from the registry and may hold any text.
        let (value, next) = match after.strip_prefix('"') {
            Some(q) => q.split_once('"').unwrap_or((q, "")),
            None => after
                .split_once(',')
                .map(|(v, n)| (v.trim(), n))
                .unwrap_or((after.trim(), "")),
        };
        params.insert(key, value.to_string());
        s = next.trim_start_matches(',').trim();
    }
    Some(Challenge::Bearer {
        realm: params.remove("realm")?,
        service: params.remove("service"),
        scope: params.remove("scope"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:ns/app:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:ns/app:pull,push".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="test""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(
            parse_challenge("Bearer realm=\"https://é/t\",service=ü,scope=\"ß"),
            Some(Challenge::Bearer {
                realm: "https://é/t".into(),
                service: Some("ü".into()),
                scope: Some("ß".into()),
            })
        );
        assert_eq!(parse_challenge("Bearer é=\"ü"), None);
    }

    #[test]
    fn auths_from_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"auths":{"reg.example:5000":{"auth":"dXNlcjpwYXNz"},"https://other.example":{"identitytoken":"tok"}}}"#,
        )
        .unwrap();
        let env = Env::from_pairs(&[("DOCKER_CONFIG", dir.path().to_str().unwrap())]);
        let got = lookup(&env, "reg.example:5000").unwrap().unwrap();
        assert_eq!((got.user.as_str(), got.secret.as_str()), ("user", "pass"));
        assert_eq!(got.header(), "Basic dXNlcjpwYXNz");
        assert_eq!(
            lookup(&env, "other.example").unwrap().unwrap().user,
            "<token>"
        );
        assert_eq!(lookup(&env, "none.example").unwrap(), None);
    }

    #[test]
    fn podmans_auth_files_in_podmans_order() {
        let p = |pairs: &[(&str, &str)]| -> Vec<String> {
            podman_paths(&Env::from_pairs(pairs), 0)
                .iter()
                .map(|p| p.display().to_string())
                .collect()
        };
        assert_eq!(
            p(&[("HOME", "/h")]),
            [
                "/run/containers/0/auth.json",
                "/h/.config/containers/auth.json",
                "/h/.docker/config.json"
            ]
        );
        assert_eq!(
            p(&[
                ("HOME", "/h"),
                ("XDG_RUNTIME_DIR", "/run/user/1"),
                ("XDG_CONFIG_HOME", "/c")
            ]),
            [
                "/run/user/1/containers/auth.json",
                "/c/containers/auth.json",
                "/h/.docker/config.json"
            ]
        );
        assert_eq!(p(&[("REGISTRY_AUTH_FILE", "/a.json")])[0], "/a.json");
        // podman's auth.json has docker's format: the first file with the host answers.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("auth.json");
        std::fs::write(
            &file,
            r#"{"auths":{"localhost:5000":{"auth":"dXNlcjpwYXNz"}}}"#,
        )
        .unwrap();
        let got = lookup_in(&file, "localhost:5000").unwrap().unwrap();
        assert_eq!((got.user.as_str(), got.secret.as_str()), ("user", "pass"));
        assert_eq!(lookup_in(&file, "other:5000").unwrap(), None);
    }
}
