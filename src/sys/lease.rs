//! The kernel's answer to "does any other open file refer to this inode": a write lease
//! (`F_SETLEASE F_WRLCK`), asked and given back at once. See `observe::holders`.

use nix::errno::Errno;

use crate::model::holder::Lease;

/// Opens the lock `name` in its sessions dir `dir` (the walk's, when it reads the lock), only
/// if it is a regular file (a device node or a FIFO swapped in for it is never opened; see `safefs`),
/// checks it is still the inode `id`, and asks for a write lease, which is granted only if no
/// other open file refers to the inode; the lease is returned at once.
// Only the tests ask by name now: the walk asks on the fd that read the lock ([`lease_on`]).
#[cfg(test)]
pub fn lease(dir: &impl std::os::fd::AsFd, name: &std::ffi::OsStr, id: (u64, u64)) -> Lease {
    let fd = match crate::sys::safefs::regular_at(dir, name) {
        Ok((file, st)) if (st.st_dev, st.st_ino) == id => std::os::fd::OwnedFd::from(file),
        Ok(_) => return Lease::Unknown("replaced since it was read".into()),
        Err(e) => return Lease::Unknown(format!("cannot reopen it: {e}")),
    };
    lease_on(fd)
}

/// Asks for a write lease on `file`, a regular file opened read-only through `safefs` (the walk
/// asks on the very fd that read the payload, so the answer is about the inode judged, and no
/// second open is needed). Granted only if no other open file refers to the inode; given back
/// at once by closing `file`, which is why it is taken by value: a lease lives on its open
/// file and ends with it, so no `F_UNLCK` is needed.
pub fn lease_on(file: impl Into<std::os::fd::OwnedFd>) -> Lease {
    ignore_lease_breaks();
    use std::os::fd::AsRawFd;
    let file: std::os::fd::OwnedFd = file.into();
    // SAFETY: `file` is an open file descriptor owned here for the duration of the call.
    let r =
        unsafe { nix::libc::fcntl(file.as_raw_fd(), nix::libc::F_SETLEASE, nix::libc::F_WRLCK) };
    let refused = (r != 0).then(Errno::last);
    drop(file); // gives a granted lease back
    let Some(e) = refused else {
        return Lease::Free;
    };
    match e {
        Errno::EAGAIN => Lease::Held,
        // A lease on a file owned by another uid needs CAP_LEASE (or CAP_DAC_OVERRIDE is not
        // enough): the question was refused, not answered.
        e @ (Errno::EACCES | Errno::EPERM) => Lease::Refused(format!(
            "the kernel refused the holder check ({}): run as root with CAP_LEASE",
            e.desc()
        )),
        e => Lease::Unknown(format!(
            "the kernel cannot say who has it open (no leases here): {}",
            e.desc()
        )),
    }
}

/// A lease break (someone opening the file during the microseconds a lease is held) sends
/// SIGIO, whose default action ends the process: ignore it. The opener waits until the lease
/// is given back, which is at once.
fn ignore_lease_breaks() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
        let ign = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
        // SAFETY: ignoring a signal installs no handler code.
        let _ = unsafe { sigaction(Signal::SIGIO, &ign) };
    });
}
