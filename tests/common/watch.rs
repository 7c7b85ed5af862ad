//! `zaki-locks watch` as a test drives it: a child in a [`Proc`] guard (killed with its
//! process group on drop, panic included), its kv log lines delivered as they come.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{Proc, zaki};

pub struct Watch {
    pub proc: Proc,
    lines: mpsc::Receiver<String>,
    /// The last lines read, shown when a wait fails.
    seen: Mutex<Vec<String>>,
}

impl Watch {
    /// `zaki-locks watch --log-format kv ARGS…` with a private run lock in `tmp`.
    pub fn start(tmp: &Path, args: &[&str]) -> Watch {
        Watch::start_with(zaki(tmp), args)
    }

    /// `cmd` (a [`zaki`] command, with whatever environment the test adds) run as
    /// `watch --log-format kv ARGS…`; its stderr goes to the test's.
    pub fn start_with(mut cmd: Command, args: &[&str]) -> Watch {
        cmd.args(["watch", "--log-format", "kv"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut proc = Proc::spawn(&mut cmd);
        let out = proc.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        Watch {
            proc,
            lines,
            seen: Mutex::new(Vec::new()),
        }
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    fn next(&self, deadline: Instant) -> Option<String> {
        let l = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .ok()?;
        let mut seen = self.seen.lock().unwrap();
        if seen.len() >= 40 {
            seen.remove(0);
        }
        seen.push(l.clone());
        Some(l)
    }

    /// The next line containing all of `needles`, within `limit`; panics with the last lines
    /// logged if none comes.
    pub fn wait_for(&self, needles: &[&str], limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            match self.next(deadline) {
                Some(l) if needles.iter().all(|n| l.contains(n)) => return l,
                Some(_) => {}
                None => panic!(
                    "watch never logged {needles:?} within {limit:?}; its last lines:\n{}",
                    self.seen.lock().unwrap().join("\n")
                ),
            }
        }
    }

    /// Every line logged within `d`.
    pub fn lines_for(&self, d: Duration) -> Vec<String> {
        let deadline = Instant::now() + d;
        let mut out = Vec::new();
        while let Some(l) = self.next(deadline) {
            out.push(l);
        }
        out
    }

    /// SIGTERM, then its exit code once it logged `event=watch-stopped` and exited.
    pub fn stop(mut self) -> i32 {
        self.proc.signal(nix::sys::signal::Signal::SIGTERM);
        self.wait_for(&["event=watch-stopped"], Duration::from_secs(30));
        self.proc.wait().unwrap().code().unwrap_or(-1)
    }
}
