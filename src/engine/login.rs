//! `docker login` as data: the login command of an `oci` registry (acr, gar and gcr give
//! the engine credentials through their own CLI: `registry::login`).

use super::{docker, tls_for};
use crate::exec::Cmd;

/// `docker login [--tls-verify=false] HOST`: interactive, the engine asks for the user and
/// password itself (podman needs `--tls-verify=false` for a loopback registry).
pub fn login(host: &str) -> Cmd {
    tls_for(docker().arg("login"), host).arg(host)
}
