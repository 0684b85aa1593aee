//! Reuse from the registry: the input-digest tag (`in-<first 16 hex>`) an image is pushed
//! under, and the read-only look-up of that tag. On `oci` registries one `HEAD
//! /v2/<name>/manifests/<tag>` (all four `Accept` types, docker's credentials and the bearer
//! flow of `registry::http`); on acr, gar and gcr one `docker manifest inspect --verbose`
//! (docker's credential helpers answer for the cloud). A look-up never changes the registry:
//! it sends HEAD (and GET to the token endpoint) only. A registry that does not answer, answers
//! an error or refuses the credentials is [`Lookup::Unavailable`]: the caller warns once and
//! builds locally.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;

use super::http::Client;
use super::{login, oci, Registry};
use crate::config::Env;
use crate::engine::image;
use crate::exec;
use crate::job;
use crate::reference::{self, ImageRef};

/// The label that records an image's input digest.
pub const LABEL: &str = crate::inputs::LABEL;

/// Tags made from input digests start with this; clean-up ages them out with `--match '^in-'`.
pub const TAG_PREFIX: &str = "in-";

/// How long one look-up may take (connect, token, HEAD) before the registry counts as down,
/// unless `IMAGEMK_REUSE_TIMEOUT` says otherwise ([`timeout`]).
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The look-up timeout: `IMAGEMK_REUSE_TIMEOUT` (`5s`, `1m`, as a build's `timeout:`) when
/// set, else [`TIMEOUT`]. A malformed value is refused at start-up (`Env::check`).
pub fn timeout(env: &Env) -> anyhow::Result<Duration> {
    env.reuse_timeout().map(|t| t.unwrap_or(TIMEOUT))
}

/// How many look-ups run at once.
pub const PARALLEL: usize = 8;

/// `in-<first 16 hex>` of an input digest (`sha256:` and 64 lowercase hex digits).
pub fn input_tag(digest: &str) -> anyhow::Result<String> {
    if reference::check_digest(digest).is_err() {
        bail!(
            "input digest `{}` is not `sha256:` and 64 lowercase hex digits",
            reference::shorten(digest, 80)
        );
    }
    Ok(format!("{TAG_PREFIX}{}", &digest["sha256:".len()..][..16]))
}

/// True for a tag made by [`input_tag`].
pub fn is_input_tag(tag: &str) -> bool {
    tag.strip_prefix(TAG_PREFIX)
        .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// What the registry says about one input-digest tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The tag exists; `digest` is the manifest's (None when the CLI did not say: a list).
    Found { digest: Option<String> },
    /// The registry answered: no such tag (or no such repository).
    Missing,
    /// No answer that can be trusted: down, timed out, 5xx, unauthorized. `why` is the
    /// message to warn with (with a `hint:` line when the fix is known).
    Unavailable { why: String },
}

/// Looks up `remote` (the remote repository with its input-digest tag) in `reg`.
pub fn lookup(reg: &Registry, env: &Env, remote: &ImageRef) -> Lookup {
    lookup_all(reg, env, std::slice::from_ref(remote), 1)
        .pop()
        .expect("one answer per name")
}

/// Looks up every name, at most `parallel` at once; one answer per name, in order.
pub fn lookup_all(reg: &Registry, env: &Env, remotes: &[ImageRef], parallel: usize) -> Vec<Lookup> {
    let client = match reg.kind.reached_directly() {
        true => match timeout(env).and_then(|t| Client::with_timeout(&reg.host, env, t)) {
            Ok(c) => Some(c),
            Err(e) => {
                let l = unavailable(reg, &format!("{e:#}"));
                return vec![l; remotes.len()];
            }
        },
        false => None,
    };
    let answers = Mutex::new(vec![None; remotes.len()]);
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..parallel.clamp(1, remotes.len().max(1)) {
            scope.spawn(crate::runner::carry(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(remote) = remotes.get(i) else { break };
                let answer = match &client {
                    Some(c) => head(reg, c, remote),
                    None => inspect(reg, remote),
                };
                answers.lock().unwrap()[i] = Some(answer);
            }));
        }
    });
    answers
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|a| a.expect("every name was looked up"))
        .collect()
}

/// `HEAD /v2/<path>/manifests/<tag>` with a pull-only scope.
fn head(reg: &Registry, client: &Client, remote: &ImageRef) -> Lookup {
    let (_, path) = reference::split_host(&remote.repository);
    let url = client.url(&format!("/v2/{path}/manifests/{}", remote.tag));
    let scope = format!("repository:{path}:pull");
    match client.call("HEAD", &url, &scope, Some(oci::ACCEPT), None) {
        Ok(reply) => classify(
            reg,
            remote,
            reply.status,
            reply.header("Docker-Content-Digest"),
        ),
        Err(e) => unavailable(reg, &format!("{e:#}")),
    }
}

/// The look-up's answer from the status of the HEAD and its `Docker-Content-Digest`.
pub fn classify(reg: &Registry, remote: &ImageRef, status: u16, digest: Option<&str>) -> Lookup {
    match (status, digest) {
        (200, Some(d)) if reference::check_digest(d).is_ok() => Lookup::Found {
            digest: Some(d.to_string()),
        },
        (200, _) => unavailable(
            reg,
            &format!(
                "registry `{}` sent no valid `Docker-Content-Digest` for `{remote}`",
                reg.host
            ),
        ),
        (404, _) => Lookup::Missing,
        (401 | 403, _) => unavailable(
            reg,
            &format!(
                "registry `{}` is unauthorized (answered {status} for `{remote}`)",
                reg.host
            ),
        ),
        (s, _) => unavailable(
            reg,
            &format!(
                "registry `{}` answered {s} to the look-up of `{remote}`",
                reg.host
            ),
        ),
    }
}

/// An unavailable answer, with the login or connection hint when the message calls for one.
fn unavailable(reg: &Registry, message: &str) -> Lookup {
    let why = match login::hint(reg, message) {
        Some(hint) => format!("{message}\n{hint}"),
        None => message.to_string(),
    };
    Lookup::Unavailable { why }
}

/// `docker manifest inspect --verbose`: exit 0 and the manifest is found; `no such manifest`
/// (exit 1) is missing; anything else is unavailable.
fn inspect(reg: &Registry, remote: &ImageRef) -> Lookup {
    match exec::capture(&image::manifest_inspect(remote)) {
        Ok(out) => cli_answer(reg, Ok(&out.stdout)),
        Err(e) => cli_answer(reg, Err(&format!("{e:#}"))),
    }
}

/// The look-up's answer from `docker manifest inspect --verbose`: its stdout, or the error
/// (command, status and stderr).
pub fn cli_answer(reg: &Registry, outcome: Result<&str, &str>) -> Lookup {
    match outcome {
        Ok(stdout) => Lookup::Found {
            digest: verbose_digest(stdout),
        },
        // `docker manifest inspect` exits 1 for a missing manifest as for any error.
        Err(text) if crate::engine::classify(text) == job::Kind::NotFound => Lookup::Missing,
        Err(text) => unavailable(reg, text),
    }
}

/// The digest in `docker manifest inspect --verbose` output of one manifest (a list prints an
/// array of its entries, without the list's own digest: None).
pub fn verbose_digest(stdout: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Verbose {
        #[serde(rename = "Descriptor")]
        descriptor: Descriptor,
    }
    #[derive(Deserialize)]
    struct Descriptor {
        digest: String,
    }
    let v: Verbose = serde_json::from_str(stdout).ok()?;
    reference::check_digest(&v.descriptor.digest)
        .is_ok()
        .then_some(v.descriptor.digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Kind;

    fn digest(hex: &str) -> String {
        format!("sha256:{hex}")
    }

    #[test]
    fn input_tags() {
        let d = digest(&"0123456789abcdef".repeat(4));
        assert_eq!(input_tag(&d).unwrap(), "in-0123456789abcdef");
        assert!(is_input_tag("in-0123456789abcdef"));
        let refused = |v: &str| input_tag(v).unwrap_err().to_string();
        assert_eq!(
            refused("sha256:abc"),
            "input digest `sha256:abc` is not `sha256:` and 64 lowercase hex digits"
        );
        assert!(input_tag(&digest(&"A".repeat(64))).is_err());
        assert!(input_tag(&"0".repeat(64)).is_err());
        assert!(input_tag(&format!("{d}\n")).is_err());
        assert!(input_tag(&format!("sha512:{}", "0".repeat(64))).is_err());
        assert!(input_tag("").is_err());
        for tag in [
            "in-0123",
            "in-0123456789ABCDEF",
            "latest",
            "in-0123456789abcdefa",
            "xin-0123456789abcdef",
        ] {
            assert!(!is_input_tag(tag), "{tag}");
        }
    }

    fn oci() -> Registry {
        Registry {
            name: "local".into(),
            kind: Kind::Oci,
            host: "127.0.0.1:5000".into(),
            path: String::new(),
        }
    }

    #[test]
    fn classification() {
        let r = oci();
        let name = ImageRef::parse("127.0.0.1:5000/app:in-0123456789abcdef").unwrap();
        let d = digest(&"ab".repeat(32));
        let c = |status, dig: Option<&str>| classify(&r, &name, status, dig);
        assert_eq!(
            c(200, Some(&d)),
            Lookup::Found {
                digest: Some(d.clone())
            }
        );
        assert_eq!(c(404, None), Lookup::Missing);
        assert_eq!(c(200, None), Lookup::Unavailable {
            why: "registry `127.0.0.1:5000` sent no valid `Docker-Content-Digest` for `127.0.0.1:5000/app:in-0123456789abcdef`".into()
        });
        assert_eq!(c(500, None), Lookup::Unavailable {
            why: "registry `127.0.0.1:5000` answered 500 to the look-up of `127.0.0.1:5000/app:in-0123456789abcdef`".into()
        });
        assert_eq!(c(401, None), Lookup::Unavailable {
            why: "registry `127.0.0.1:5000` is unauthorized (answered 401 for `127.0.0.1:5000/app:in-0123456789abcdef`)\nhint: registry `local` refused the credentials docker has for `127.0.0.1:5000`; log in with `imagemk login --registry local` (`make login REGISTRY=local`), which runs `docker login 127.0.0.1:5000`".into()
        });
    }

    #[test]
    fn verbose_digests() {
        let d = digest(&"cd".repeat(32));
        let one =
            format!(r#"{{"Ref":"x","Descriptor":{{"mediaType":"m","digest":"{d}","size":1}}}}"#);
        assert_eq!(verbose_digest(&one), Some(d));
        assert_eq!(verbose_digest(r#"[{"Ref":"x"}]"#), None);
        assert_eq!(
            verbose_digest(r#"{"Descriptor":{"digest":"sha256:x"}}"#),
            None
        );
        assert_eq!(
            image::manifest_inspect(
                &ImageRef::parse("us-docker.pkg.dev/p/r/app:in-0123456789abcdef").unwrap()
            )
            .to_string(),
            "docker manifest inspect --verbose us-docker.pkg.dev/p/r/app:in-0123456789abcdef"
        );
    }

    #[test]
    fn cli_answers() {
        let gar = Registry {
            name: "google".into(),
            kind: Kind::Gar {
                location: "us".into(),
                project: "p".into(),
                repository: "r".into(),
            },
            host: "us-docker.pkg.dev".into(),
            path: "p/r".into(),
        };
        let a = |o| cli_answer(&gar, o);
        assert_eq!(a(Err("`docker manifest inspect --verbose us-docker.pkg.dev/p/r/app:in-0123456789abcdef` exited with status 1\nno such manifest: us-docker.pkg.dev/p/r/app:in-0123456789abcdef")), Lookup::Missing);
        assert_eq!(a(Ok("[]")), Lookup::Found { digest: None });
        let hint = |o| match a(Err(o)) {
            Lookup::Unavailable { why } => why.lines().last().unwrap().to_string(),
            other => panic!("{other:?}"),
        };
        assert!(hint("unauthorized: authentication failed")
            .starts_with("hint: registry `google` refused the credentials"));
        assert!(hint("error getting credentials - err: exit status 1, out: `ERROR: (gcloud.auth.docker-helper) You do not currently have an active account selected.`").starts_with("hint: gcloud, which gives docker its credentials"));
        assert!(hint("failed to configure transport: error pinging v2 registry: dial tcp: lookup us-docker.pkg.dev: no such host").starts_with("hint: registry `google` does not answer"));
    }

    #[test]
    fn the_timeout_is_ten_seconds_unless_the_environment_sets_one() {
        let t =
            |pairs: &[(&str, &str)]| timeout(&Env::from_pairs(pairs)).map_err(|e| e.to_string());
        assert_eq!(t(&[]), Ok(TIMEOUT));
        assert_eq!(t(&[("IMAGEMK_REUSE_TIMEOUT", "")]), Ok(TIMEOUT));
        assert_eq!(
            t(&[("IMAGEMK_REUSE_TIMEOUT", "1m30s")]),
            Ok(Duration::from_secs(90))
        );
        assert_eq!(
            t(&[("IMAGEMK_REUSE_TIMEOUT", "5")]),
            Err("environment variable `IMAGEMK_REUSE_TIMEOUT`: timeout `5` has no unit (use `h`, `m` or `s`, e.g. `80m`)\nhint: write a positive whole number of hours, minutes or seconds, e.g. `90s`, `80m`, `2h`, `1h30m`".into())
        );
        // A bad value makes every look-up unavailable (the caller warns and builds locally).
        let env = Env::from_pairs(&[("IMAGEMK_REUSE_TIMEOUT", "soon")]);
        let name = ImageRef::parse("127.0.0.1:5000/app:in-0123456789abcdef").unwrap();
        let Lookup::Unavailable { why } = lookup(&oci(), &env, &name) else {
            panic!("a bad timeout was used")
        };
        assert!(
            why.starts_with("environment variable `IMAGEMK_REUSE_TIMEOUT`: timeout `soon`"),
            "{why}"
        );
    }

    #[test]
    fn a_registry_that_does_not_answer_is_unavailable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = oci();
        r.host = format!("127.0.0.1:{port}");
        let name = ImageRef::parse(&format!("127.0.0.1:{port}/app:in-0123456789abcdef")).unwrap();
        let got = lookup(&r, &Env::from_pairs(&[]), &name);
        let Lookup::Unavailable { why } = got else {
            panic!("{got:?}")
        };
        assert!(why.contains("is unreachable"), "{why}");
        assert!(
            why.contains("\nhint: registry `local` does not answer"),
            "{why}"
        );
    }
}
