//! Which filesystem a directory is on, as far as the holder check cares: on a network or FUSE
//! filesystem another machine may hold a file open, which this host's `/proc` and its leases
//! cannot see.

use std::os::fd::AsFd;

use nix::errno::Errno;

/// The name of a remote filesystem (`NFS`, `FUSE`, …), `None` for a local one, or why it could
/// not be told.
pub type FsKind = Result<Option<&'static str>, Errno>;

/// The kind of the filesystem `dir` (an open directory) is on: one `fstatfs`.
pub fn of(dir: &impl AsFd) -> FsKind {
    let st = nix::sys::statfs::fstatfs(dir)?;
    Ok(remote_name(st.filesystem_type().0 as u64))
}

/// A filesystem's name when `magic` (its `statfs` type) is one where another machine may hold
/// a file open.
fn remote_name(magic: u64) -> Option<&'static str> {
    Some(match magic {
        0x6969 => "NFS",
        0x517B => "SMB",
        0xFE53_4D42 => "SMB2",
        0xFF53_4D42 => "CIFS",
        0x6573_5546 => "FUSE",
        0x0102_1997 => "9p",
        0x00C3_6400 => "Ceph",
        0x5346_414F => "AFS",
        0x7375_7245 => "Coda",
        0x7461_636F => "OCFS2",
        0x0116_1970 => "GFS2",
        0x0BD0_0BD0 => "Lustre",
        _ => return None, // tmpfs, ext4, xfs, btrfs, overlayfs, …: this host sees every opener
    })
}

/// Why the holders of the locks below `dir` cannot all be seen from this host, if they cannot.
pub fn remote_why(dir: &std::path::Path, kind: &FsKind) -> Option<String> {
    match kind {
        Ok(None) => None,
        Ok(Some(name)) => Some(format!(
            "{} is on {name}, where another machine may hold it open",
            dir.display()
        )),
        Err(e) => Some(format!(
            "cannot tell the filesystem of {}: {e}",
            dir.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_and_remote_filesystems() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = std::fs::File::open(tmp.path()).unwrap();
        assert!(matches!(of(&dir), Ok(None)));
        assert_eq!(remote_name(0x6969), Some("NFS"));
        assert_eq!(remote_name(0x0102_1994), None);
        let p = std::path::Path::new("/s");
        assert_eq!(
            remote_why(p, &Ok(Some("NFS"))).as_deref(),
            Some("/s is on NFS, where another machine may hold it open")
        );
        assert_eq!(remote_why(p, &Ok(None)), None);
    }
}
