//! The run lock: one `clean` at a time per machine, so cron runs that overlap a slow one step
//! aside instead of racing it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// Default path: `/run` for root (cleared at boot, as a run lock should be), else the user's
/// runtime dir, else `/tmp`.
pub fn default_path() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/run/zaki-locks.lock");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => Path::new(&d).join("zaki-locks.lock"),
        _ => PathBuf::from(format!("/tmp/zaki-locks-{}.lock", nix::unistd::geteuid())),
    }
}

/// Held for the whole run; released when dropped (or when the process dies).
pub struct RunLock {
    _lock: Flock<File>,
}

/// Why the run lock was not taken.
#[derive(Debug)]
pub enum Busy {
    /// Another run holds it; the pid it wrote, if readable.
    Held(Option<u32>),
    Io(std::io::Error),
}

/// Takes the lock, waiting up to `wait` for a previous run to finish.
pub fn acquire(path: &Path, wait: Duration) -> Result<RunLock, Busy> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(path)
        .map_err(Busy::Io)?;
    let deadline = Instant::now() + wait;
    let mut file = file;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(mut lock) => {
                // Best effort: the pid only makes the "stepping aside" note more helpful.
                let _ = lock.set_len(0);
                let _ = lock.seek(SeekFrom::Start(0));
                let _ = writeln!(lock, "{}", std::process::id());
                return Ok(RunLock { _lock: lock });
            }
            Err((f, Errno::EWOULDBLOCK)) if Instant::now() < deadline => {
                file = f;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err((mut f, Errno::EWOULDBLOCK)) => {
                let mut s = String::new();
                let _ = f.read_to_string(&mut s);
                return Err(Busy::Held(s.trim().parse().ok()));
            }
            Err((_, e)) => return Err(Busy::Io(e.into())),
        }
    }
}
