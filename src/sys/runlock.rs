//! The run lock: one `clean` (or `watch`) at a time per machine, so cron runs that overlap a
//! slow one step aside instead of racing it. The file holds the holder's pid and nothing else;
//! a file that holds anything else is not ours and is never written to.

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

/// The process that holds the run lock, as far as it can be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: Option<u32>,
    /// Its command line (`zaki-locks watch …`), when the pid is alive and readable.
    pub command: Option<String>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.pid, &self.command) {
            (Some(p), Some(c)) => write!(f, "pid {p} ({c})"),
            (Some(p), None) => write!(f, "pid {p}"),
            _ => f.write_str("another process"),
        }
    }
}

/// Why the run lock was not taken.
#[derive(Debug)]
pub enum Busy {
    /// Another run holds it.
    Held(Holder),
    /// The file is not a run lock of ours: left untouched.
    NotOurs(String),
    Io(std::io::Error),
}

/// The run lock could not be taken: the one message `clean` and `watch` both print, with what
/// to type instead.
#[derive(Debug)]
pub struct Error {
    pub path: PathBuf,
    pub busy: Busy,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path.display();
        match &self.busy {
            Busy::Held(holder) => write!(
                f,
                "the run lock {path} is held by {holder} (stop it, or use another --run-lock)"
            ),
            Busy::NotOurs(why) => write!(
                f,
                "the run lock {path} {why} (choose another with --run-lock PATH)"
            ),
            Busy::Io(e) => write!(
                f,
                "cannot open the run lock {path} (choose another with --run-lock PATH): {e}"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// What a run lock file may hold: nothing, or a pid and a newline.
pub fn is_ours(content: &[u8]) -> bool {
    let s = content.strip_suffix(b"\n").unwrap_or(content);
    s.is_empty() || (s.len() <= 10 && s.iter().all(u8::is_ascii_digit))
}

/// Reads at most 64 bytes: a pid is far shorter, and more means the file is not ours.
fn head(f: &mut File) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    f.seek(SeekFrom::Start(0))?;
    f.take(64).read_to_end(&mut buf)?;
    Ok(buf)
}

fn check(f: &mut File) -> Result<(), Busy> {
    let meta = f.metadata().map_err(Busy::Io)?;
    if !meta.file_type().is_file() {
        return Err(Busy::NotOurs("is not a regular file".into()));
    }
    let content = head(f).map_err(Busy::Io)?;
    if is_ours(&content) {
        Ok(())
    } else {
        Err(Busy::NotOurs(
            "holds something other than a pid: not a run lock of zaki-locks, left untouched".into(),
        ))
    }
}

/// Takes the lock, waiting up to `wait` for a previous run to finish.
pub fn acquire(path: &Path, wait: Duration) -> Result<RunLock, Busy> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC | nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(nix::libc::ELOOP) => Busy::NotOurs("is a symlink".into()),
            _ => Busy::Io(e),
        })?;
    check(&mut file)?;
    let deadline = Instant::now() + wait;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(mut lock) => {
                // Checked again under the lock: only a file that is ours is ever rewritten.
                check(&mut lock)?;
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
                let content = head(&mut f).unwrap_or_default();
                let pid: Option<u32> = String::from_utf8_lossy(&content).trim().parse().ok();
                return Err(Busy::Held(Holder {
                    pid,
                    command: pid.and_then(command_of),
                }));
            }
            Err((_, e)) => return Err(Busy::Io(e.into())),
        }
    }
}

/// A process's command line, shortened and made printable.
fn command_of(pid: u32) -> Option<String> {
    let mut raw = Vec::new();
    File::open(format!("/proc/{pid}/cmdline"))
        .ok()?
        .take(4096)
        .read_to_end(&mut raw)
        .ok()?;
    let words: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| {
            String::from_utf8_lossy(w)
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect()
        })
        .collect();
    let mut s = words.join(" ");
    if s.chars().count() > 120 {
        s = s.chars().take(119).collect::<String>() + "…";
    }
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_pid_is_ours() {
        assert!(is_ours(b""));
        assert!(is_ours(b"4059\n"));
        assert!(is_ours(b"4059"));
        assert!(!is_ours(b"precious data\n"));
        assert!(!is_ours(b"12 34\n"));
        assert!(!is_ours(b"99999999999999\n"));
    }

    #[test]
    fn a_file_that_is_not_ours_is_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("precious.txt");
        std::fs::write(&p, "precious\n").unwrap();
        assert!(matches!(acquire(&p, Duration::ZERO), Err(Busy::NotOurs(_))));
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "precious\n");
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert!(matches!(
            acquire(&fifo, Duration::ZERO),
            Err(Busy::NotOurs(_))
        ));
        let lock = dir.path().join("run.lock");
        let held = acquire(&lock, Duration::ZERO).map_err(|_| ()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&lock).unwrap(),
            format!("{}\n", std::process::id())
        );
        drop(held);
        assert!(
            acquire(&lock, Duration::ZERO).is_ok(),
            "our own pid file is reused"
        );
    }
}
