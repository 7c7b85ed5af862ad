//! The run lock: one `clean` (or `watch`) at a time per machine, so cron runs that overlap a
//! slow one step aside instead of racing it. The file holds the holder's pid and, while it is
//! busy with a pass, when that pass began (Unix seconds): `4059 1764680000`. A run that steps
//! aside reads how long the holder has been busy, so a hung holder is seen, not waited on for
//! ever. A file that holds anything else is not ours and is never written to.

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
    lock: Flock<File>,
}

impl RunLock {
    /// Says in the file whether a pass is under way (since now) or the holder is idle.
    pub fn set_busy(&mut self, busy: bool) {
        let since = busy.then(|| chrono::Utc::now().timestamp());
        let _ = write_content(&mut self.lock, since);
    }
}

fn write_content(f: &mut File, busy_since: Option<i64>) -> std::io::Result<()> {
    let text = match busy_since {
        Some(t) => format!("{} {t}\n", std::process::id()),
        None => format!("{}\n", std::process::id()),
    };
    // Written over the old content from the start, then cut to its length: a longer old
    // content leaves no tail.
    f.seek(SeekFrom::Start(0))?;
    f.write_all(text.as_bytes())?;
    f.set_len(text.len() as u64)
}

/// The process that holds the run lock, as far as it can be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: Option<u32>,
    /// How long it has been busy with its current pass, when it says it is in one.
    pub busy_for: Option<Duration>,
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

/// What a run lock file may hold: nothing, or a pid (and when its pass began) and a newline.
pub fn is_ours(content: &[u8]) -> bool {
    let s = content.strip_suffix(b"\n").unwrap_or(content);
    let number = |w: &[u8]| !w.is_empty() && w.len() <= 10 && w.iter().all(u8::is_ascii_digit);
    match s.iter().position(|&b| b == b' ') {
        _ if s.is_empty() => true,
        None => number(s),
        Some(i) => number(&s[..i]) && number(&s[i + 1..]),
    }
}

/// The holder's pid and how long it has been busy, from the file's content.
fn parse(content: &[u8]) -> (Option<u32>, Option<Duration>) {
    let text = String::from_utf8_lossy(content);
    let mut words = text.split_whitespace();
    let pid = words.next().and_then(|w| w.parse().ok());
    let busy = words
        .next()
        .and_then(|w| w.parse::<i64>().ok())
        .map(|since| {
            let secs = chrono::Utc::now().timestamp().saturating_sub(since).max(0);
            Duration::from_secs(secs as u64)
        });
    (pid, busy)
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
                let _ = write_content(&mut lock, Some(chrono::Utc::now().timestamp()));
                return Ok(RunLock { lock });
            }
            Err((f, Errno::EWOULDBLOCK)) if Instant::now() < deadline => {
                file = f;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err((mut f, Errno::EWOULDBLOCK)) => {
                let content = head(&mut f).unwrap_or_default();
                let (pid, busy_for) = parse(&content);
                return Err(Busy::Held(Holder {
                    pid,
                    busy_for,
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
        assert!(is_ours(b"4059 1764680000\n"));
        assert!(!is_ours(b"4059 \n"));
        assert!(!is_ours(b" 1764680000\n"));
        assert_eq!(parse(b"4059\n"), (Some(4059), None));
        let (pid, busy) =
            parse(format!("7 {}\n", chrono::Utc::now().timestamp() - 1200).as_bytes());
        assert_eq!(pid, Some(7));
        assert!(
            busy.is_some_and(|b| (1199..1300).contains(&b.as_secs())),
            "{busy:?}"
        );
        assert!(!is_ours(b"precious data\n"));
        assert!(!is_ours(b"12 34 56\n"));
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
        let content = std::fs::read_to_string(&lock).unwrap();
        assert!(
            content.starts_with(&format!("{} ", std::process::id())),
            "{content}"
        );
        drop(held);
        assert!(
            acquire(&lock, Duration::ZERO).is_ok(),
            "our own pid file is reused"
        );
    }
}
