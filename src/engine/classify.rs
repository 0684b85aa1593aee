//! The one reading of the engine CLI's output. By text: the docker and podman CLIs exit 1
//! (125 for `run`) for every error and say which only in words, so what went wrong is read
//! from stderr here and nowhere else; callers decide by the [`Kind`] it returns.

use super::Engine;
use crate::job::Kind;

/// Texts that mean the engine does not answer.
const ENGINE_DOWN: &[&str] = &[
    "Cannot connect to the Docker daemon",
    "error during connect",
    "docker daemon is not running",
    "Cannot connect to Podman",
];

/// Texts that mean what a command names does not exist. Each command says only its own kind,
/// so one list serves them all: an image or tag (`image inspect`, `image rm`, `tag`; the
/// daemon says `reference does not exist` when another run removed the tag in between), a tag
/// `push` found gone (current CLI, then older ones), a manifest (`manifest inspect`), a path
/// in a container (`cp`).
const NOT_FOUND: &[&str] = &[
    "No such image",
    "No such object",
    "reference does not exist",
    "tag does not exist:",
    "does not exist locally with the tag",
    "no such manifest",
    "manifest unknown",
    "No such container:path",
    "Could not find the file",
];

/// Texts (lower-cased) that mean the registry wants (other) credentials.
const UNAUTHORIZED: &[&str] = &[
    "unauthorized",
    "authentication required",
    "access to the resource is denied",
    "no basic auth credentials",
    "denied:",
    "403 forbidden",
];

/// What the current engine's output (its stderr, or a failed command's whole message) says
/// went wrong: [`Engine::classify`].
pub fn classify(text: &str) -> Kind {
    super::current().classify(text)
}

impl Engine {
    /// What this engine's output says went wrong: the engine is down, something named does
    /// not exist, the registry refused the credentials, or `Other` (nothing it says is known).
    pub fn classify(self, text: &str) -> Kind {
        let has = |texts: &[&str], text: &str| texts.iter().any(|t| text.contains(t));
        if has(ENGINE_DOWN, text) {
            Kind::EngineDown
        } else if has(NOT_FOUND, text) || has(self.own_not_found(), text) {
            Kind::NotFound
        } else if has(UNAUTHORIZED, &text.to_lowercase()) {
            Kind::Unauthorized
        } else {
            Kind::Other
        }
    }

    /// What only this engine says for an image or tag that does not exist.
    fn own_not_found(self) -> &'static [&'static str] {
        match self {
            Engine::Docker => &[],
            Engine::Podman => &["image not known"],
        }
    }
}

/// Turns the engine's "cannot connect" into an error that says what to do.
pub fn explain(err: anyhow::Error) -> anyhow::Error {
    let text = format!("{err:#}");
    if classify(&text) == Kind::EngineDown {
        return err.context(super::current().unreachable());
    }
    // The local socket refused this user (not a failure of the engine itself).
    if text.contains("permission denied") && text.contains("docker.sock") {
        return err.context(
            "no permission to use the docker engine; add yourself to the `docker` group or use a rootless engine",
        );
    }
    err
}

/// Whether the CLI says the engine refused this user, in any case (doctor's reading of
/// `info`'s last line).
pub fn permission_denied(text: &str) -> bool {
    text.to_lowercase().contains("permission denied")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_engines_texts_are_classified() {
        let check = |engine: Engine, text: &str, kind: Kind| {
            assert_eq!(engine.classify(text), kind, "{text}")
        };
        let docker = Engine::Docker;
        check(docker, "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?", Kind::EngineDown);
        check(
            Engine::Podman,
            "Error: Cannot connect to Podman. Please verify your connection",
            Kind::EngineDown,
        );
        check(docker, "Error: No such image: h/x:1", Kind::NotFound);
        check(
            Engine::Podman,
            "Error: h/x:1: image not known",
            Kind::NotFound,
        );
        check(docker, "Error: h/x:1: image not known", Kind::Other);
        check(
            docker,
            "Error response from daemon: reference does not exist",
            Kind::NotFound,
        );
        check(docker, "tag does not exist: h/x:1", Kind::NotFound);
        check(docker, "no such manifest: h/x:1", Kind::NotFound);
        check(
            docker,
            "Error: No such container:path: c:/x",
            Kind::NotFound,
        );
        check(
            docker,
            "denied: requested access to the resource is denied",
            Kind::Unauthorized,
        );
        check(
            docker,
            "Get \"https://h/v2/\": 403 Forbidden",
            Kind::Unauthorized,
        );
        check(docker, "exit status 2", Kind::Other);
    }

    #[test]
    fn a_refused_socket_says_what_to_do() {
        let e = explain(anyhow::anyhow!(
            "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock"
        ));
        assert!(format!("{e:#}").starts_with("no permission to use the docker engine"));
    }
}
