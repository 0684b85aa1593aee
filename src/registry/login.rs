//! Logging in to a registry, per kind: `az acr login`, `gcloud auth configure-docker`, or
//! `docker login`; and the hint a failed push or pull gets when the registry refused it as
//! unauthorized, its API is disabled, the cloud CLI behind docker's credentials has no
//! account, or it did not answer. `az acr login` and `gcloud auth configure-docker` give docker
//! credentials only once the CLI itself is logged in (`az login`, `gcloud auth login`), so the
//! hints name both steps.

use super::{Kind, Registry};
use crate::exec::Cmd;
use crate::job;

impl Registry {
    /// The command that gives docker credentials for this registry.
    pub fn login(&self) -> Cmd {
        match &self.kind {
            Kind::Acr { name } => Cmd::new("az").args(["acr", "login", "--name", name]),
            Kind::Gar { .. } | Kind::Gcr { .. } => Cmd::new("gcloud")
                .args(["auth", "configure-docker"])
                .arg(&self.host)
                .arg("--quiet"),
            Kind::Oci => crate::engine::login::login(&self.host),
        }
    }
}

/// What the cloud CLI needs before its docker login works, per kind.
fn cli_login(kind: &Kind) -> &'static str {
    match kind {
        Kind::Acr { .. } => " (and needs `az login` first)",
        Kind::Gar { .. } | Kind::Gcr { .. } => " (and needs a gcloud account first: `gcloud auth login`, in CI `gcloud auth activate-service-account --key-file=KEY_FILE`)",
        Kind::Oci => "",
    }
}

/// The `hint:` line for a failed push or pull of `reg`, when its output says what is wrong.
pub fn hint(reg: &Registry, output: &str) -> Option<String> {
    diagnose(reg, output).map(|(_, hint)| hint)
}

/// What kind of failure a push or pull of `reg` had, and its `hint:` line, when its output
/// says. The engine's own texts are read by `engine::classify`; the cloud CLIs' texts below
/// are read here because they come from the credential helper (gcloud) behind docker, by text:
/// docker passes them on without a code. A gcloud without an account is `Other`: the registry
/// refused nothing, and a login would not help.
pub fn diagnose(reg: &Registry, output: &str) -> Option<(job::Kind, String)> {
    let text = output.to_lowercase();
    let google = reg.kind.service_api();
    if let Some(api) = google.filter(|_| {
        text.contains("has not been used in project") || text.contains("service_disabled")
    }) {
        return other(format!("hint: the registry API of `{}` is disabled in its project; run `gcloud services enable {api}` (or ask a project owner to)", reg.host));
    }
    if google.is_some() && text.contains("you do not currently have an active account selected") {
        return other(format!("hint: gcloud, which gives docker its credentials for `{}`, has no account; run `gcloud auth login` (in CI: `gcloud auth activate-service-account --key-file=KEY_FILE`)", reg.host));
    }
    if crate::engine::classify(output) == job::Kind::Unauthorized {
        return Some((job::Kind::Unauthorized, format!(
            "hint: registry `{}` refused the credentials docker has for `{}`; log in with `imagemk login --registry {}` (`make login REGISTRY={}`), which runs `{}`{}",
            reg.name,
            reg.host,
            reg.name,
            reg.name,
            reg.login(),
            cli_login(&reg.kind)
        )));
    }
    // A registry that does not answer: the daemon passes on Go's network errors as text.
    if text.contains("connection refused")
        || text.contains("no such host")
        || text.contains("i/o timeout")
    {
        return other(format!(
            "hint: registry `{}` does not answer at `{}`; check that it is running and that its host in `images.yaml` is right",
            reg.name, reg.host
        ));
    }
    None
}

fn other(hint: String) -> Option<(job::Kind, String)> {
    Some((job::Kind::Other, hint))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(kind: Kind, host: &str) -> Registry {
        Registry {
            name: "r".into(),
            kind,
            host: host.into(),
            path: String::new(),
        }
    }

    #[test]
    fn login_commands_per_kind() {
        let check = |r: Registry, expected: &str| assert_eq!(r.login().to_string(), expected);
        check(
            reg(
                Kind::Acr {
                    name: "kube".into(),
                },
                "kube.azurecr.io",
            ),
            "az acr login --name kube",
        );
        check(
            reg(
                Kind::Gcr {
                    project: "p".into(),
                },
                "gcr.io",
            ),
            "gcloud auth configure-docker gcr.io --quiet",
        );
        check(
            reg(Kind::Oci, "localhost:5000"),
            "docker login localhost:5000",
        );
    }

    /// podman's texts for a registry that wants credentials get the same hint as docker's.
    #[test]
    fn podmans_unauthorized_texts() {
        let r = reg(Kind::Oci, "localhost:5000");
        for text in [
            "Error: initializing source docker://localhost:5000/x:1: reading manifest 1 in localhost:5000/x: unauthorized: authentication required",
            "Error: trying to reuse blob sha256:0123 at destination: checking whether a blob sha256:0123 exists in localhost:5000/x: authentication required",
        ] {
            assert!(hint(&r, text).unwrap().contains("log in with `imagemk login --registry r`"), "{text}");
        }
    }

    /// The kind is typed where the output says it: a refusal is `Unauthorized`; the others are
    /// hints only.
    #[test]
    fn kinds() {
        let r = reg(Kind::Oci, "localhost:5000");
        let kind = |text: &str| diagnose(&r, text).map(|(k, _)| k);
        assert_eq!(
            kind("unauthorized: authentication required"),
            Some(job::Kind::Unauthorized)
        );
        assert_eq!(
            kind("dial tcp 127.0.0.1:5000: connect: connection refused"),
            Some(job::Kind::Other)
        );
        assert_eq!(kind("no space left on device"), None);
    }

    #[test]
    fn hints() {
        let r = reg(Kind::Oci, "localhost:5000");
        assert_eq!(hint(&r, "unauthorized: authentication required").unwrap(),
            "hint: registry `r` refused the credentials docker has for `localhost:5000`; log in with `imagemk login --registry r` (`make login REGISTRY=r`), which runs `docker login localhost:5000`");
        assert_eq!(hint(&r, "dial tcp 127.0.0.1:5000: connect: connection refused").unwrap(),
            "hint: registry `r` does not answer at `localhost:5000`; check that it is running and that its host in `images.yaml` is right");
        assert_eq!(hint(&r, "manifest unknown"), None);
        let gar = reg(
            Kind::Gar {
                location: "us".into(),
                project: "p".into(),
                repository: "r".into(),
            },
            "us-docker.pkg.dev",
        );
        assert_eq!(hint(&gar, "denied: Artifact Registry API has not been used in project 12 before or it is disabled.").unwrap(),
            "hint: the registry API of `us-docker.pkg.dev` is disabled in its project; run `gcloud services enable artifactregistry.googleapis.com` (or ask a project owner to)");
        assert_eq!(hint(&gar, "error getting credentials - err: exit status 1, out: `ERROR: (gcloud.auth.docker-helper) You do not currently have an active account selected.`").unwrap(),
            "hint: gcloud, which gives docker its credentials for `us-docker.pkg.dev`, has no account; run `gcloud auth login` (in CI: `gcloud auth activate-service-account --key-file=KEY_FILE`)");
        assert_eq!(hint(&gar, "unauthorized: authentication failed").unwrap(),
            "hint: registry `r` refused the credentials docker has for `us-docker.pkg.dev`; log in with `imagemk login --registry r` (`make login REGISTRY=r`), which runs `gcloud auth configure-docker us-docker.pkg.dev --quiet` (and needs a gcloud account first: `gcloud auth login`, in CI `gcloud auth activate-service-account --key-file=KEY_FILE`)");
        assert_eq!(hint(&gar, "dial tcp: lookup us-docker.pkg.dev: no such host").unwrap(),
            "hint: registry `r` does not answer at `us-docker.pkg.dev`; check that it is running and that its host in `images.yaml` is right");
    }
}
