//! docker's own rules for the `run:` values it takes as flags, applied when `images.yaml` loads
//! so that a value docker would refuse (or read differently) is an error of its line: `--device`
//! as docker/cli's `ValidateDevice` (`opts/opts.go`), `--ulimit` as go-units' `ParseUlimit`.
//! Each returns why a value is refused.

/// `HOST[:CONTAINER][:PERMISSIONS]`: at most three parts; the host path absolute; a second
/// part is permissions when it is a mode, else the container path; the container path
/// absolute; permissions a combination of `r`, `w` and `m`, each once.
pub fn device(entry: &str) -> Result<(), String> {
    let parts: Vec<&str> = entry.split(':').collect();
    if parts.len() > 3 {
        return Err("it has more than three `:`-separated parts".into());
    }
    if !parts[0].starts_with('/') {
        return Err(format!("its host path `{}` is not absolute", parts[0]));
    }
    let container = match parts[..] {
        [_, second] if is_mode(second) => None,
        [_, second] => Some(second),
        [_, second, mode] => {
            if !is_mode(mode) {
                return Err(format!(
                    "its permissions `{mode}` are not a combination of `r`, `w` and `m`"
                ));
            }
            Some(second)
        }
        _ => None,
    };
    match container {
        Some(path) if !path.starts_with('/') => {
            Err(format!("its container path `{path}` is not absolute"))
        }
        _ => Ok(()),
    }
}

/// A device mode: `r`, `w` and `m`, each at most once, at least one.
fn is_mode(mode: &str) -> bool {
    let mut seen = Vec::new();
    !mode.is_empty()
        && mode.chars().all(|c| {
            let fresh = "rwm".contains(c) && !seen.contains(&c);
            seen.push(c);
            fresh
        })
}

/// The limits `--ulimit` knows (go-units' `ulimitNameMapping`).
const ULIMITS: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// `NAME=SOFT[:HARD]`: a known name, 64-bit integers, soft not above hard.
pub fn ulimit(entry: &str) -> Result<(), String> {
    let Some((name, limits)) = entry.split_once('=') else {
        return Err("it has no `=`".into());
    };
    if !ULIMITS.contains(&name) {
        return Err(format!(
            "`{name}` is not a limit docker knows ({})",
            ULIMITS.join(", ")
        ));
    }
    let values: Vec<&str> = limits.split(':').collect();
    if values.len() > 2 {
        return Err("it has more than two values (`SOFT[:HARD]`)".into());
    }
    let numbers = values
        .iter()
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| format!("`{v}` is not a number"))
        })
        .collect::<Result<Vec<i64>, String>>()?;
    match numbers[..] {
        [soft, hard] if soft > hard => Err(format!(
            "its soft limit {soft} is above its hard limit {hard}"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each value with what the real docker 20.10 CLI says of it (`docker create --device …`),
    /// `ok` where it takes it.
    #[test]
    fn devices_as_docker_reads_them() {
        let cases = [
            ("/dev/kvm", "ok"),
            ("/dev/kvm:rw", "ok"),
            ("/dev/kvm:/x", "ok"),
            ("/dev/kvm:/x:mrw", "ok"),
            ("/dév/ü", "ok"),
            ("/dev/kvm:", "its container path `` is not absolute"), // docker: " is not an absolute path"
            ("/dev/kvm:x", "its container path `x` is not absolute"),
            ("/dev/kvm:rwr", "its container path `rwr` is not absolute"),
            (
                "/dev/kvm:/dev/kvm:rwmx",
                "its permissions `rwmx` are not a combination of `r`, `w` and `m`",
            ),
            ("/a:/b:rw:x", "it has more than three `:`-separated parts"),
            ("", "its host path `` is not absolute"),
            (":/x", "its host path `` is not absolute"),
            ("dev/kvm", "its host path `dev/kvm` is not absolute"),
        ];
        for (entry, want) in cases {
            let got = device(entry).err().unwrap_or_else(|| "ok".into());
            assert_eq!(got, want, "{entry}");
        }
    }

    #[test]
    fn ulimits_as_docker_reads_them() {
        let cases = [
            ("nofile=1024:4096", "ok"),
            ("nofile=-1", "ok"),
            ("core=0", "ok"),
            ("nofile=4096:1024", "its soft limit 4096 is above its hard limit 1024"),
            ("NOFILE=1", "`NOFILE` is not a limit docker knows (core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack)"),
            ("nofile=1:2:3", "it has more than two values (`SOFT[:HARD]`)"),
            ("nofile=", "`` is not a number"),
            ("nofile=x", "`x` is not a number"),
            ("nofile", "it has no `=`"),
        ];
        for (entry, want) in cases {
            let got = ulimit(entry).err().unwrap_or_else(|| "ok".into());
            assert_eq!(got, want, "{entry}");
        }
    }

    proptest::proptest! {
        /// Any text, multi-byte included: an answer, never a panic.
        #[test]
        fn any_text_gives_an_answer(text in "[a-zé/:=0-9-]{0,30}") {
            let _ = device(&text);
            let _ = ulimit(&text);
        }
    }
}
