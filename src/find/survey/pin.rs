//! Opening a container's state dir from this host without following a tenant's symlink: the
//! open directory pins it, so reading and removal go through `/proc/self/fd/<fd>` and a later
//! swap of a path component cannot redirect them.

use std::os::fd::OwnedFd;
use std::path::{Component, Path};

use crate::sys::docker::Container;
use crate::sys::safefs::{self, OpenError};

/// Why a container's state dir could not be pinned from the host.
pub(super) enum Pin {
    /// It does not exist in the container: nothing to look at.
    Absent,
    /// A symlink on the way, the process gone or not the container's, no permission: the
    /// container is asked another way, which resolves its own paths.
    Unsafe,
}

/// Opens a state dir inside a running container through its init's root (`/proc/<pid>/root`),
/// one component at a time without following a symlink (an absolute one would resolve on the
/// host), and checks that the process is still that container's (its cgroup names the id).
pub(super) fn pin_inside(init: u64, id: &str, dir: &str) -> Result<OwnedFd, Pin> {
    use nix::errno::Errno;
    use nix::fcntl::{OFlag, open, openat};
    use nix::sys::stat::Mode;
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let procfd =
        open(format!("/proc/{init}").as_str(), flags, Mode::empty()).map_err(|_| Pin::Unsafe)?;
    let cgroup = openat(
        &procfd,
        "cgroup",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()
    .and_then(|fd| std::io::read_to_string(std::fs::File::from(fd)).ok())
    .unwrap_or_default();
    if id.len() < 12 || !cgroup.contains(id) {
        return Err(Pin::Unsafe);
    }
    let mut fd = openat(&procfd, "root", flags, Mode::empty()).map_err(|_| Pin::Unsafe)?;
    for comp in Path::new(dir).components() {
        match comp {
            Component::RootDir => {}
            Component::Normal(c) => {
                fd = match openat(&fd, c, flags | OFlag::O_NOFOLLOW, Mode::empty()) {
                    Ok(f) => f,
                    Err(Errno::ENOENT) => return Err(Pin::Absent),
                    Err(_) => return Err(Pin::Unsafe),
                }
            }
            _ => return Err(Pin::Unsafe),
        }
    }
    Ok(fd)
}

/// Opens the part of a container's state dir below the bind mount that covers it, from the
/// mount's source on this host, one component at a time without following a symlink (the
/// tenant may have made any of them a symlink to a host path). `Ok(None)`: the mount is the
/// state dir itself, nothing below to check.
pub(super) fn pin_below_mount(c: &Container, dir: &str) -> Result<Option<OwnedFd>, Pin> {
    let Some(m) = c
        .mounts
        .iter()
        .filter(|m| m.kind == "bind" && Path::new(dir).starts_with(&m.destination))
        .max_by_key(|m| m.destination.len())
    else {
        return Err(Pin::Unsafe);
    };
    let rel = Path::new(dir)
        .strip_prefix(&m.destination)
        .map_err(|_| Pin::Unsafe)?;
    if rel.as_os_str().is_empty() {
        return Ok(None);
    }
    let mut fd = safefs::operator_dir(Path::new(&m.source)).map_err(|_| Pin::Unsafe)?;
    for comp in rel.components() {
        let Component::Normal(name) = comp else {
            return Err(Pin::Unsafe);
        };
        fd = match safefs::dir_at(&fd, name) {
            Ok(f) => f,
            Err(OpenError::Gone) => return Err(Pin::Absent),
            Err(_) => return Err(Pin::Unsafe),
        };
    }
    Ok(Some(fd))
}
