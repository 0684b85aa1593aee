//! One credential per run for the registry HTTP API of gar, gcr and acr, from their CLI:
//! `gcloud auth print-access-token` (used as the password of `oauth2accesstoken`) or
//! `az acr login --expose-token` (an ACR refresh token, exchanged at the registry's
//! `/oauth2/token`). So a clean-up over N repositories starts the CLI once, not N times or
//! more. The CLI's stderr is read by its own `classify` (`gcloud.rs`, `acr.rs`), so "not
//! logged in" still names `gcloud auth login` / `az login`.

use serde::Deserialize;

use super::http::{Client, Login};
use super::oci::Oci;
use super::{acr, auth::Basic, cli_json, gcloud, Kind, Registry};
use crate::config::Env;
use crate::exec::{self, Cmd};

/// Whether this run cleans a registry of `kind` through the registry API: always for `oci`;
/// for a kind with a CLI, unless `IMAGEMK_CLOUD_API=0` asks for every operation through the
/// CLI (one start per repository and more, as before the API path existed).
pub fn uses_api(kind: &Kind, env: &Env) -> bool {
    kind.cli().is_none() || env.get(&["IMAGEMK_CLOUD_API"]) != Some("0")
}

/// How a CLI's token is read: a bearer token on stdout (gcloud), or the JSON of
/// `az acr login --expose-token` (an ACR refresh token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Access,
    AcrRefresh,
}

/// The token of a kind with a CLI: the command that prints it, how its output is read, and
/// what to do when the registry refuses it. The one `match` on the kind for tokens.
fn source(reg: &Registry) -> Option<(Cmd, Form, &'static str)> {
    match &reg.kind {
        Kind::Gar { .. } | Kind::Gcr { .. } => Some((
            Cmd::new("gcloud").args(["auth", "print-access-token"]),
            Form::Access,
            "run `gcloud auth login` with an account that may use the registry (`gcloud auth print-access-token` gives its token)",
        )),
        Kind::Acr { name } => Some((
            Cmd::new("az").args([
                "acr",
                "login",
                "--name",
                name,
                "--expose-token",
                "--output",
                "json",
            ]),
            Form::AcrRefresh,
            "run `az login` with an account that may use the registry (then the token from `az acr login --expose-token` carries its rights)",
        )),
        Kind::Oci => None,
    }
}

/// Runs the CLI once and returns what the HTTP client logs in with.
fn fetch(reg: &Registry, cmd: &Cmd, form: Form) -> anyhow::Result<Login> {
    match form {
        Form::AcrRefresh => {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Exposed {
                access_token: String,
            }
            let t: Exposed = cli_json::run(cmd, acr::explain)?;
            Ok(Login::Refresh(t.access_token))
        }
        Form::Access => {
            let out = exec::capture(cmd).map_err(|e| gcloud::explain(e, &reg.host, &reg.kind))?;
            let token = out.stdout.trim();
            if token.is_empty() || token.contains(char::is_whitespace) {
                anyhow::bail!("`{cmd}` printed no access token; nothing was changed");
            }
            Ok(Login::Basic(Basic {
                user: "oauth2accesstoken".into(),
                secret: token.to_string(),
            }))
        }
    }
}

/// The registry API client of any registry: docker's credentials for `oci`; for gar, gcr and
/// acr a token from their CLI (one CLI start). For clean-up, and for anything else that talks
/// to the registry API (e.g. pointing a tag at a digest: GET the manifest, PUT it under the
/// new tag).
pub fn oci_for(reg: &Registry, env: &Env) -> anyhow::Result<Oci> {
    let (Some(cli), Some((cmd, form, hint))) = (reg.kind.cli(), source(reg)) else {
        return Oci::new(&reg.host, env);
    };
    exec::require(cli)?;
    let login = fetch(reg, &cmd, form)?;
    // Test-only: `IMAGEMK_TEST_API_URL=http://127.0.0.1:PORT` sends the API requests of a
    // cloud registry to a local server instead of `https://HOST` (never set it otherwise).
    let base = env.get(&["IMAGEMK_TEST_API_URL"]);
    Ok(Oci {
        http: Client::with_login(&reg.host, base, login, hint),
        dialect: reg.kind.dialect(),
    })
}
