//! Which filesystem a directory is on, as far as the holder check cares: on a network or FUSE
//! filesystem another machine may hold a file open, which this host's `/proc` and its leases
//! cannot see.

use std::os::fd::AsFd;

use nix::errno::Errno;
use nix::sys::statvfs::FsFlags;

use crate::sys::safefs::Mount;

/// The name of a remote filesystem (`NFS`, `FUSE`, …), `None` for a local one, or why it could
/// not be told.
pub type FsKind = Result<Option<&'static str>, Errno>;

/// What the walk learns once per mount: its filesystem's kind, and whether it is `nodev`.
#[derive(Debug, Clone, Copy)]
pub struct MountFacts {
    pub kind: FsKind,
    pub mount: Mount,
}

/// The mount `dir` (an open directory) is on, as [`MountFacts`]: one `fstatfs`.
pub fn mount_of(dir: &impl AsFd) -> MountFacts {
    match nix::sys::statfs::fstatfs(dir) {
        Ok(st) => MountFacts {
            kind: Ok(remote_name(st.filesystem_type().0 as u64)),
            mount: if st.flags().contains(FsFlags::ST_NODEV) {
                Mount::Nodev
            } else {
                Mount::MayHoldDevices
            },
        },
        Err(e) => MountFacts {
            kind: Err(e),
            mount: Mount::MayHoldDevices,
        },
    }
}

/// A directory's (device, inode) and the id of the mount it is on (`None` where `statx` cannot
/// tell it): one `statx`, where `fstat` gives no mount.
pub fn identity(dir: &impl AsFd) -> Result<((u64, u64), Option<u64>), Errno> {
    use nix::libc;
    use std::os::fd::AsRawFd;
    let mut stx = std::mem::MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: the path is a valid NUL-terminated string, `stx` is valid for writes of one
    // `statx`, and the fd is open for the duration of the call.
    let r = unsafe {
        libc::statx(
            dir.as_fd().as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_INO | libc::STATX_MNT_ID,
            stx.as_mut_ptr(),
        )
    };
    if r != 0 {
        let st = nix::sys::stat::fstat(dir)?;
        return Ok(((st.st_dev, st.st_ino), None));
    }
    // SAFETY: statx succeeded, so it filled in the struct.
    let stx = unsafe { stx.assume_init() };
    let dev = libc::makedev(stx.stx_dev_major, stx.stx_dev_minor);
    let mnt = (stx.stx_mask & libc::STATX_MNT_ID != 0).then_some(stx.stx_mnt_id);
    Ok(((dev, stx.stx_ino), mnt))
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
        let facts = mount_of(&dir);
        assert!(matches!(facts.kind, Ok(None)));
        let ((dev, ino), mnt) = identity(&dir).unwrap();
        let st = nix::sys::stat::fstat(&dir).unwrap();
        assert_eq!((dev, ino), (st.st_dev, st.st_ino));
        assert!(mnt.is_some(), "statx gives the mount id on this kernel");
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
