//! A confined child process, for work on bytes a tenant wrote that the root process must not do
//! itself (SQLite parsing a tenant's database: issue 19).
//!
//! The parent re-executes its own binary (`/proc/self/exe`) with a hidden subcommand; the child
//! calls [`enter`] before it reads a byte. It then lives in a private mount, network and IPC
//! namespace, chrooted into an empty tmpfs of its own (`nodev,nosuid,noexec`, bounded in size),
//! as an unprivileged uid with `no_new_privs`, not dumpable, with limits on memory, file size
//! and open files. It sees no tenant's files at all: the parent hands it copies over a pipe.
//! [`Worker`] is the parent's end: it writes a request and reads one bounded reply line, with a
//! deadline, and kills the child (and waits for it) when the deadline passes or it is dropped.
//! This is the privilege separation OpenSSH's pre-auth child and systemd's sandboxing use.

use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::mount::{MsFlags, mount};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sched::{CloneFlags, unshare};
use nix::sys::resource::{Resource, setrlimit};
use nix::unistd::{Gid, Uid, chdir, chroot, setgroups, setresgid, setresuid};

/// The uid and gid the confined child runs as when started by root (`nobody` on Debian).
pub const JAIL_ID: u32 = 65534;

/// What the confined child may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Size of its private tmpfs.
    pub tmpfs_bytes: u64,
    /// Largest file it may write (`RLIMIT_FSIZE`).
    pub file_bytes: u64,
    /// Its address space (`RLIMIT_AS`).
    pub memory_bytes: u64,
}

/// Why the child could not confine itself: it then refuses every request (fail closed).
#[derive(Debug)]
pub struct JailError {
    step: &'static str,
    errno: Errno,
}

impl fmt::Display for JailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot confine the reader ({}: {})",
            self.step, self.errno
        )
    }
}

impl std::error::Error for JailError {}

fn at(step: &'static str) -> impl Fn(Errno) -> JailError {
    move |errno| JailError { step, errno }
}

/// Confines the calling process, which must be single-threaded (fresh from `exec`): afterwards
/// its root is an empty private tmpfs, its working directory that root.
pub fn enter(limits: &Limits) -> Result<(), JailError> {
    let root = Uid::effective().is_root();
    let (uid, gid) = (Uid::current(), Gid::current());
    let mut flags = CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWIPC;
    if !root {
        // An unprivileged operator's run: a user namespace gives the mount rights, nothing more.
        flags |= CloneFlags::CLONE_NEWUSER;
    }
    unshare(flags).map_err(at("unshare"))?;
    if !root {
        map_ids(uid, gid)?;
    }
    let none: Option<&str> = None;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none)
        .map_err(at("make mounts private"))?;
    let owner = if root { JAIL_ID } else { 0 };
    let options = format!(
        "size={},nr_inodes=64,mode=0700,uid={owner},gid={owner}",
        limits.tmpfs_bytes
    );
    let nothing = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(
        Some("zaki-locks-jail"),
        "/tmp",
        Some("tmpfs"),
        nothing,
        Some(options.as_str()),
    )
    .map_err(at("mount a private tmpfs on /tmp"))?;
    chroot("/tmp").map_err(at("chroot"))?;
    chdir("/").map_err(at("chdir"))?;
    if root {
        setgroups(&[]).map_err(at("setgroups"))?;
        let (g, u) = (Gid::from_raw(JAIL_ID), Uid::from_raw(JAIL_ID));
        setresgid(g, g, g).map_err(at("setresgid"))?;
        setresuid(u, u, u).map_err(at("setresuid"))?;
    }
    restrict(limits)
}

/// An unprivileged user namespace maps only the caller's own ids.
fn map_ids(uid: Uid, gid: Gid) -> Result<(), JailError> {
    let write = |path: &str, text: String| {
        std::fs::write(path, text).map_err(|e| JailError {
            step: "write the user namespace's id maps",
            errno: Errno::from_raw(e.raw_os_error().unwrap_or(0)),
        })
    };
    write("/proc/self/setgroups", "deny".into())?;
    write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    write("/proc/self/gid_map", format!("0 {gid} 1"))
}

/// No new privileges, no core dump, no ptrace by another process of the same uid, no child
/// process, and bounds on memory, file size and open files.
fn restrict(limits: &Limits) -> Result<(), JailError> {
    use nix::sys::prctl;
    prctl::set_no_new_privs().map_err(at("no_new_privs"))?;
    prctl::set_dumpable(false).map_err(at("set dumpable"))?;
    // Only ever lowered: an operator's tighter `ulimit` stays (and raising one as `nobody` fails).
    let limit = |r: Resource, n: u64, step| {
        let (soft, hard) = nix::sys::resource::getrlimit(r).map_err(at(step))?;
        let n = n.min(hard);
        setrlimit(r, n.min(soft), n).map_err(at(step))
    };
    limit(Resource::RLIMIT_AS, limits.memory_bytes, "RLIMIT_AS")?;
    limit(Resource::RLIMIT_FSIZE, limits.file_bytes, "RLIMIT_FSIZE")?;
    limit(Resource::RLIMIT_NOFILE, 32, "RLIMIT_NOFILE")?;
    limit(Resource::RLIMIT_CORE, 0, "RLIMIT_CORE")?;
    limit(Resource::RLIMIT_NPROC, 0, "RLIMIT_NPROC")
}

/// Why a request to a worker got no answer.
#[derive(Debug)]
pub enum Error {
    /// The worker could not be started.
    Spawn(io::Error),
    /// No whole answer before the deadline: the worker was killed.
    Timeout,
    /// SIGINT or SIGTERM arrived while waiting.
    Interrupted,
    /// The worker ended (or closed its output) without a whole answer.
    Died,
    /// The answer was longer than its bound.
    TooLong(usize),
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Spawn(e) => write!(f, "cannot start the confined reader: {e}"),
            Error::Timeout => f.write_str("timed out"),
            Error::Interrupted => f.write_str("interrupted"),
            Error::Died => f.write_str("the confined reader died without an answer"),
            Error::TooLong(n) => write!(f, "the confined reader's answer is over {n} bytes"),
            Error::Io(e) => write!(f, "talking to the confined reader: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// The parent's end of a confined child: one request, one reply line, at a time.
pub struct Worker {
    child: Child,
    to: ChildStdin,
    from: ChildStdout,
}

impl Worker {
    /// Starts `exe arg` with pipes for its stdin and stdout; it dies with the thread that
    /// started it (`PR_SET_PDEATHSIG`), so no worker outlives a run, however the run ends.
    pub fn spawn(exe: &Path, arg: &str) -> Result<Worker, Error> {
        let mut cmd = Command::new(exe);
        cmd.arg(arg)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        // SAFETY: only async-signal-safe calls between fork and exec (prctl).
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(io::Error::from)
            });
        }
        let mut child = cmd.spawn().map_err(Error::Spawn)?;
        let (Some(to), Some(from)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Spawn(io::Error::other("no pipes")));
        };
        for fd in [to.as_fd(), from.as_fd()] {
            fcntl(fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(|e| Error::Spawn(e.into()))?;
        }
        Ok(Worker { child, to, from })
    }

    /// Writes `parts` in order, then reads one line of at most `limit` bytes (without its
    /// newline), all before `deadline`. On any error the worker is no longer usable.
    pub fn exchange(
        &mut self,
        parts: &[&[u8]],
        limit: usize,
        deadline: Instant,
    ) -> Result<Vec<u8>, Error> {
        let mut part = 0;
        let mut offset = 0;
        let mut reply = Vec::new();
        loop {
            while part < parts.len() && offset == parts[part].len() {
                (part, offset) = (part + 1, 0);
            }
            let writing = part < parts.len();
            self.wait(writing, deadline)?;
            if writing {
                match self.to.write(&parts[part][offset..]) {
                    Ok(n) => offset += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Err(Error::Died),
                    Err(e) => return Err(Error::Io(e)),
                }
            }
            if let Some(line) = self.read_some(&mut reply, limit)? {
                return Ok(line);
            }
        }
    }

    /// Waits until the pipe can be written (when `writing`) or read, the deadline passes, or a
    /// signal asks the run to end (checked every 100 ms).
    fn wait(&self, writing: bool, deadline: Instant) -> Result<(), Error> {
        loop {
            if crate::sys::interrupt::caught().is_some() {
                return Err(Error::Interrupted);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout);
            }
            let slice = left.min(Duration::from_millis(100));
            let ms = PollTimeout::try_from(slice.as_millis() as i32).unwrap_or(PollTimeout::MAX);
            let mut fds = vec![PollFd::new(self.from.as_fd(), PollFlags::POLLIN)];
            if writing {
                fds.push(PollFd::new(self.to.as_fd(), PollFlags::POLLOUT));
            }
            match poll(&mut fds, ms) {
                Ok(0) | Err(Errno::EINTR) => continue,
                Ok(_) => return Ok(()),
                Err(e) => return Err(Error::Io(e.into())),
            }
        }
    }

    /// Reads what the worker has written; a whole line is the answer.
    fn read_some(&mut self, reply: &mut Vec<u8>, limit: usize) -> Result<Option<Vec<u8>>, Error> {
        let mut buf = [0u8; 64 * 1024];
        loop {
            match self.from.read(&mut buf) {
                Ok(0) => return Err(Error::Died),
                Ok(n) => {
                    reply.extend_from_slice(&buf[..n]);
                    if let Some(end) = reply.iter().position(|&b| b == b'\n') {
                        reply.truncate(end);
                        return Ok(Some(std::mem::take(reply)));
                    }
                    if reply.len() > limit {
                        return Err(Error::TooLong(limit));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Io(e)),
            }
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
