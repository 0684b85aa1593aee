//! Logging in to a registry, per kind: `az acr login`, `gcloud auth configure-docker`, or
//! `docker login`; and the hint a failed push or pull gets when the registry refused it as
//! unauthorized (or did not answer).

use super::{Kind, Registry};
use crate::exec::Cmd;

impl Registry {
    /// The command that gives docker credentials for this registry.
    pub fn login(&self) -> Cmd {
        match &self.kind {
            Kind::Acr { name } => Cmd::new("az").args(["acr", "login", "--name", name]),
            Kind::Gar { .. } | Kind::Gcr { .. } => Cmd::new("gcloud")
                .args(["auth", "configure-docker"])
                .arg(&self.host)
                .arg("--quiet"),
            Kind::Oci => Cmd::new("docker").arg("login").arg(&self.host),
        }
    }
}

/// Output of docker that means the registry wants (other) credentials.
const UNAUTHORIZED: &[&str] = &[
    "unauthorized",
    "authentication required",
    "access to the resource is denied",
    "no basic auth credentials",
    "denied:",
    "403 forbidden",
];

/// The `hint:` line for a failed push or pull of `reg`, when its output says what is wrong.
pub fn hint(reg: &Registry, output: &str) -> Option<String> {
    let text = output.to_lowercase();
    if UNAUTHORIZED.iter().any(|s| text.contains(s)) {
        return Some(format!(
            "hint: registry `{}` refused the credentials docker has for `{}`; log in with `imagemk login --registry {}` (`make login REGISTRY={}`), which runs `{}`",
            reg.name,
            reg.host,
            reg.name,
            reg.name,
            reg.login()
        ));
    }
    if text.contains("connection refused")
        || text.contains("no such host")
        || text.contains("i/o timeout")
    {
        return Some(format!(
            "hint: registry `{}` does not answer at `{}`; check that it is running and that its host in `images.yaml` is right",
            reg.name, reg.host
        ));
    }
    None
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

    #[test]
    fn hints() {
        let r = reg(Kind::Oci, "localhost:5000");
        assert_eq!(hint(&r, "unauthorized: authentication required").unwrap(),
            "hint: registry `r` refused the credentials docker has for `localhost:5000`; log in with `imagemk login --registry r` (`make login REGISTRY=r`), which runs `docker login localhost:5000`");
        assert_eq!(hint(&r, "dial tcp 127.0.0.1:5000: connect: connection refused").unwrap(),
            "hint: registry `r` does not answer at `localhost:5000`; check that it is running and that its host in `images.yaml` is right");
        assert_eq!(hint(&r, "manifest unknown"), None);
    }
}
