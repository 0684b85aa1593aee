//! HTTP transport to one registry host: a `ureq` agent (connections reused across threads),
//! plain HTTP on loopback as docker does and HTTPS elsewhere, 401 challenges answered with
//! Basic credentials or a bearer token (cached per scope), and `Link` pagination.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;

use super::auth::{self, Basic, Challenge};
use crate::config::Env;

pub struct Client {
    agent: ureq::Agent,
    /// `http://host` on loopback (as docker does), `https://host` elsewhere.
    base: String,
    pub host: String,
    creds: Option<Basic>,
    /// An ACR refresh token (`az acr login --expose-token`): exchanged at the token endpoint
    /// with a `grant_type=refresh_token` POST instead of a GET with Basic credentials.
    refresh: Option<String>,
    /// What to run when the registry refuses the credentials.
    login: String,
    /// Bearer tokens by scope; `None` under the key `basic` when the registry wants Basic.
    tokens: Mutex<HashMap<String, String>>,
}

/// Credentials given to [`Client::with_login`] instead of docker's.
pub enum Login {
    /// Basic credentials (e.g. `oauth2accesstoken` and a Google access token).
    Basic(Basic),
    /// An ACR refresh token.
    Refresh(String),
}

/// A response, read whole.
pub struct Reply {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn is_loopback(host: &str) -> bool {
    let name = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    matches!(name, "localhost" | "[::1]") || name.starts_with("127.")
}

impl Client {
    /// `reply`'s body read as JSON; `what` names it in the error (`tag list for `app``).
    pub fn json<T: serde::de::DeserializeOwned>(
        &self,
        reply: &Reply,
        what: &str,
    ) -> anyhow::Result<T> {
        serde_json::from_slice(&reply.body)
            .map_err(|e| anyhow::anyhow!("registry `{}` sent an unexpected {what}: {e}", self.host))
    }

    /// The header `name` of `reply`, which the registry must send; `missing` says what it
    /// carries and for what (``digest for `app:v1` ``) in the error.
    pub fn needed_header(
        &self,
        reply: &Reply,
        name: &str,
        missing: &str,
    ) -> anyhow::Result<String> {
        reply
            .header(name)
            .map(String::from)
            .ok_or_else(|| anyhow::anyhow!("registry `{}` sent no {missing}", self.host))
    }

    pub fn new(host: &str, env: &Env) -> anyhow::Result<Client> {
        Client::with_timeout(host, env, Duration::from_secs(120))
    }

    /// [`Client::new`] whose every request (connect included) ends after `timeout`.
    pub fn with_timeout(host: &str, env: &Env, timeout: Duration) -> anyhow::Result<Client> {
        let mut client = Client::bare(host, None, timeout);
        client.creds = auth::lookup(env, host)?;
        Ok(client)
    }

    /// A client for `host` with `login` instead of docker's credentials; `base` (scheme and
    /// authority) replaces `https://host` when given; `hint` is what to run when the
    /// credentials are refused.
    pub fn with_login(host: &str, base: Option<&str>, login: Login, hint: &str) -> Client {
        let mut client = Client::bare(host, base, Duration::from_secs(120));
        match login {
            Login::Basic(b) => client.creds = Some(b),
            Login::Refresh(r) => client.refresh = Some(r),
        }
        client.login = hint.to_string();
        client
    }

    fn bare(host: &str, base: Option<&str>, timeout: Duration) -> Client {
        let scheme = if is_loopback(host) { "http" } else { "https" };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(timeout.min(Duration::from_secs(10))))
            .timeout_global(Some(timeout))
            .build()
            .into();
        Client {
            agent,
            base: base
                .map(|b| b.trim_end_matches('/').to_string())
                .unwrap_or_else(|| format!("{scheme}://{host}")),
            host: host.to_string(),
            creds: None,
            refresh: None,
            login: format!("run `docker login {host}`"),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn raw(
        &self,
        method: &str,
        url: &str,
        authz: Option<&str>,
        accept: Option<&str>,
        body: Option<(&str, &[u8])>,
    ) -> anyhow::Result<Reply> {
        let mut req = ureq::http::Request::builder().method(method).uri(url);
        if let Some(a) = authz {
            req = req.header("Authorization", a);
        }
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        let result = match body {
            Some((ctype, bytes)) => self
                .agent
                .run(req.header("Content-Type", ctype).body(bytes.to_vec())?),
            None => self.agent.run(req.body(())?),
        };
        let mut resp = result.map_err(|e| {
            anyhow::anyhow!(
                "registry `{}` is unreachable ({e}); check that it runs and that its `host` in images.yaml is right",
                self.host
            )
        })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = if method == "HEAD" {
            Vec::new()
        } else {
            resp.body_mut()
                .with_config()
                .limit(64 << 20)
                .read_to_vec()
                .map_err(|e| anyhow::anyhow!("reading `{method} {url}`: {e}"))?
        };
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// Sends a request, answering a 401 challenge once (Basic or a bearer token for `scope`).
    pub fn call(
        &self,
        method: &str,
        url: &str,
        scope: &str,
        accept: Option<&str>,
        body: Option<(&str, &[u8])>,
    ) -> anyhow::Result<Reply> {
        let cached = self.tokens.lock().unwrap().get(scope).cloned();
        let reply = self.raw(method, url, cached.as_deref(), accept, body)?;
        if reply.status != 401 {
            return Ok(reply);
        }
        let challenge = reply
            .header("WWW-Authenticate")
            .and_then(auth::parse_challenge);
        let authz = match challenge {
            Some(Challenge::Basic) => match &self.creds {
                Some(c) => c.header(),
                None => bail!(self.unauthorized("no credentials")),
            },
            Some(Challenge::Bearer { realm, service, .. }) => {
                format!("Bearer {}", self.token(&realm, service.as_deref(), scope)?)
            }
            None => bail!(self.unauthorized("401 without a usable challenge")),
        };
        self.tokens
            .lock()
            .unwrap()
            .insert(scope.to_string(), authz.clone());
        let reply = self.raw(method, url, Some(&authz), accept, body)?;
        if reply.status == 401 {
            bail!(self.unauthorized("credentials refused"));
        }
        Ok(reply)
    }

    /// What to run when the registry refuses the credentials (`run `docker login HOST``).
    pub fn login_hint(&self) -> &str {
        &self.login
    }

    pub fn unauthorized(&self, why: &str) -> Unauthorized {
        Unauthorized(format!(
            "registry `{}` is unauthorized ({why}); {}",
            self.host, self.login
        ))
    }

    /// The token endpoint's answer: a GET with Basic credentials (docker's way), or a POST of
    /// the ACR refresh token.
    fn ask_token(&self, realm: &str, service: Option<&str>, scope: &str) -> anyhow::Result<Reply> {
        Ok(match &self.refresh {
            // ACR: POST the refresh token (Azure/acr docs/AAD-OAuth.md; azure-cli's
            // `_get_credentials` does the same).
            Some(refresh) => {
                let mut form = format!(
                    "grant_type=refresh_token&scope={}&refresh_token={}",
                    encode(scope),
                    encode(refresh)
                );
                if let Some(s) = service {
                    form.push_str(&format!("&service={}", encode(s)));
                }
                let body = ("application/x-www-form-urlencoded", form.as_bytes());
                self.raw("POST", realm, None, None, Some(body))?
            }
            None => {
                let mut url = format!("{realm}?scope={}", encode(scope));
                if let Some(s) = service {
                    url.push_str(&format!("&service={}", encode(s)));
                }
                let basic = self.creds.as_ref().map(Basic::header);
                self.raw("GET", &url, basic.as_deref(), None, None)?
            }
        })
    }

    fn token(&self, realm: &str, service: Option<&str>, scope: &str) -> anyhow::Result<String> {
        let reply = self.ask_token(realm, service, scope)?;
        if reply.status != 200 {
            bail!(self.unauthorized(&format!(
                "token endpoint `{realm}` answered {}",
                reply.status
            )));
        }
        #[derive(Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let t: Token = serde_json::from_slice(&reply.body)
            .map_err(|e| anyhow::anyhow!("token endpoint `{realm}` sent unexpected JSON: {e}"))?;
        t.token
            .or(t.access_token)
            .ok_or_else(|| anyhow::anyhow!("token endpoint `{realm}` sent no token"))
    }

    /// GETs `path` and every `Link: <…>; rel="next"` page after it.
    pub fn pages(&self, path: &str, scope: &str) -> anyhow::Result<Vec<Reply>> {
        let mut url = self.url(path);
        let mut out = Vec::new();
        loop {
            let reply = self.call("GET", &url, scope, None, None)?;
            let next = reply.header("Link").and_then(next_link);
            if reply.status != 200 {
                out.push(reply);
                return Ok(out);
            }
            out.push(reply);
            match next {
                // An absolute link must stay on this registry: credentials go with it.
                Some(n) if n.starts_with(&format!("{}/", self.base)) => url = n,
                Some(n) if n.starts_with('/') => url = self.url(&n),
                Some(n) => bail!(
                    "registry `{}` sent a `Link` to `{n}` for the next page of `{path}`, which is not on this registry; imagemk does not follow it",
                    self.host
                ),
                None => return Ok(out),
            }
            if out.len() > 10_000 {
                bail!(
                    "registry `{}` keeps sending `Link` pages for `{path}`",
                    self.host
                );
            }
        }
    }
}

/// The URL of `rel="next"` in a `Link` header.
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A registry refused the credentials (or had none to refuse): typed, so a caller asks
/// [`is_unauthorized`] instead of reading the message.
#[derive(Debug)]
pub struct Unauthorized(String);

impl std::fmt::Display for Unauthorized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unauthorized {}

/// Whether `e` (or an error it wraps) is a registry's refusal of the credentials.
pub fn is_unauthorized(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<Unauthorized>())
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_loopback() {
        assert_eq!(
            next_link(r#"</v2/_catalog?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/_catalog?last=b&n=2")
        );
        assert_eq!(
            next_link(r#"<https://x/v2/_catalog?last=b>; rel="prev""#),
            None
        );
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost:5000"));
        assert!(!is_loopback("registry.example.com"));
        assert_eq!(
            encode("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
    }
}
