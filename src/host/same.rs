//! Whether two paths hold the same thing: same kind, same permission bits, same bytes (files),
//! same target (symlinks), same entries recursively (directories). `local-buildenv` skips a
//! host destination that is already identical to the copy out of the image.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

pub fn same(a: &Path, b: &Path) -> io::Result<bool> {
    let (ma, mb) = (fs::symlink_metadata(a)?, fs::symlink_metadata(b)?);
    let (ta, tb) = (ma.file_type(), mb.file_type());
    if ta.is_symlink() || tb.is_symlink() {
        return Ok(ta.is_symlink() && tb.is_symlink() && fs::read_link(a)? == fs::read_link(b)?);
    }
    if ta.is_dir() != tb.is_dir()
        || ma.permissions().mode() & 0o7777 != mb.permissions().mode() & 0o7777
    {
        return Ok(false);
    }
    if ta.is_dir() {
        return same_entries(a, b);
    }
    Ok(ma.len() == mb.len() && same_bytes(a, b)?)
}

fn same_entries(a: &Path, b: &Path) -> io::Result<bool> {
    let names = |d: &Path| -> io::Result<Vec<_>> {
        let mut v = fs::read_dir(d)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<Vec<_>>>()?;
        v.sort();
        Ok(v)
    };
    let (na, nb) = (names(a)?, names(b)?);
    if na != nb {
        return Ok(false);
    }
    for n in na {
        if !same(&a.join(&n), &b.join(&n))? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn same_bytes(a: &Path, b: &Path) -> io::Result<bool> {
    let (mut fa, mut fb) = (fs::File::open(a)?, fs::File::open(b)?);
    let (mut ba, mut bb) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let n = read_full(&mut fa, &mut ba)?;
        if n != read_full(&mut fb, &mut bb)? || ba[..n] != bb[..n] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

/// Reads until `buf` is full or the file ends; the count read.
fn read_full(f: &mut fs::File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_kind_mode_bytes_links_and_trees() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        let w = |p: &str, s: &str| {
            fs::create_dir_all(d.join(p).parent().unwrap()).unwrap();
            fs::write(d.join(p), s).unwrap();
        };
        w("a/f", "x");
        w("b/f", "x");
        w("c/f", "y");
        w("e/f", "x");
        w("e/g", "x");
        let s = |x: &str, y: &str| same(&d.join(x), &d.join(y)).unwrap();
        assert!(s("a/f", "b/f") && s("a", "b"));
        assert!(!s("a/f", "c/f") && !s("a", "c") && !s("a", "e") && !s("a", "a/f"));
        fs::set_permissions(d.join("b/f"), fs::Permissions::from_mode(0o755)).unwrap();
        assert!(!s("a/f", "b/f"));
        std::os::unix::fs::symlink("f", d.join("a/l")).unwrap();
        std::os::unix::fs::symlink("f", d.join("c/l")).unwrap();
        std::os::unix::fs::symlink("g", d.join("e/l")).unwrap();
        assert!(s("a/l", "c/l") && !s("a/l", "e/l") && !s("a/l", "a/f"));
    }
}
