//! Many busybox containers at once, for the tests and the benchmark of `--prefix` at scale.
//!
//! Each container runs `sh -c '…; exec 3<live.jsonl.lock; sleep 100000 & wait'` (pid 1 is that
//! shell, holding its live lock open as OpenClaw does) and holds, inside
//! its own filesystem (no bind mount), two locks in `/home/node/.openclaw/agents/main/sessions`:
//! `live.jsonl.lock` naming pid 1 (alive; written after the container started, so its owner
//! started before `createdAt`) and `stale.jsonl.lock` naming the pid of the shell that wrote
//! them, which exited right after (a gateway that died); plus a `sessions.json` naming the live
//! one. That pid stays dead: pids in a namespace are handed out in increasing order and only
//! wrap at `pid_max` (32768 here, i.e. after some 600 observe execs per container), whereas a
//! fixed pid such as 4242 is reached after ~85 observe execs (each uses ~50 pids). Every
//! container is force-removed when the [`Fleet`] is dropped, also when a test fails half-way.

use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::docker::{self, BUSYBOX};
use super::{created_at, legacy_payload};

pub const STATE_DIR: &str = "/home/node/.openclaw";
pub const SESSIONS: &str = "/home/node/.openclaw/agents/main/sessions";
pub const LIVE: &str = "live.jsonl.lock";
pub const STALE: &str = "stale.jsonl.lock";
/// Docker commands run at once while starting, writing, checking and removing.
pub const THREADS: usize = 8;
/// Containers per `docker rm -f`.
const RM_BATCH: usize = 25;

/// Writes the sessions dir's three files in one exec (`$1` dir, `$2` live payload, `$3` the
/// stale lock's createdAt, `$4` sessions.json) and prints its own pid, the stale lock's owner.
const WRITE_SCRIPT: &str = r#"set -e
mkdir -p "$1"
printf '{\n  "pid": %s,\n  "createdAt": "%s"\n}' "$$" "$3" > "$1/stale.jsonl.lock"
printf '%s' "$4" > "$1/sessions.json"
printf '%s' "$2" > "$1/live.jsonl.lock"
i=0
until ls -l /proc/1/fd 2>/dev/null | grep -q live.jsonl.lock; do
  i=$((i+1)); [ "$i" -lt 200 ] || { echo "pid 1 never opened its lock"; exit 1; }
  sleep 0.05
done
echo "$$"
"#;

/// pid 1: a shell that, once its live lock is written, holds it open (as OpenClaw holds its
/// lock for the whole hold) and waits on a `sleep`.
const PID1_SCRIPT: &str = "L=/home/node/.openclaw/agents/main/sessions/live.jsonl.lock; until [ -s $L ]; do sleep 0.05; done; exec 3<$L; sleep 100000 & wait";

/// N running busybox containers named `<prefix><i>`, removed on drop.
pub struct Fleet {
    /// Ends in `-`, so no other fleet's names start with it.
    pub prefix: String,
    /// Every container that was started, in index order.
    pub names: Vec<String>,
    /// The pid named by each container's stale lock (dead in that container).
    pub stale_pids: Vec<u32>,
}

/// Runs `f(i)` for every `i < n`, `threads` at a time; returns the results in index order.
pub fn parallel<T: Send>(n: usize, threads: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, n.max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let r = f(i);
                    out.lock().unwrap()[i] = Some(r);
                }
            });
        }
    });
    out.into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every index ran"))
        .collect()
}

fn attempt(args: &[&str]) -> Result<String, String> {
    let o = docker::docker(args);
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(format!(
            "docker {:?} failed: {}",
            &args[..args.len().min(4)],
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

impl Fleet {
    /// Starts `n` containers and writes their locks, [`THREADS`] docker commands at a time.
    /// Panics (after removing what it started) when any container cannot be set up.
    pub fn start(n: usize) -> Fleet {
        docker::require();
        let prefix = format!("{}-", docker::unique("zfleet-"));
        let started = Instant::now();
        let names: Vec<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
        // Names are recorded before `docker run`, so a container whose run failed half-way is
        // removed too (`rm -f` of a name that does not exist is harmless).
        let mut fleet = Fleet {
            prefix,
            names,
            stale_pids: Vec::new(),
        };
        let results = parallel(n, THREADS, |i| fleet.start_one(i));
        let failed: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert!(
            failed.is_empty(),
            "{} of {n} containers could not be set up; first: {}",
            failed.len(),
            failed[0]
        );
        fleet.stale_pids = results.into_iter().map(Result::unwrap).collect();
        eprintln!(
            "fleet: {n} containers {}<0..{n}> started with their locks in {:.1}s",
            fleet.prefix,
            started.elapsed().as_secs_f64()
        );
        fleet
    }

    fn start_one(&self, i: usize) -> Result<u32, String> {
        let name = &self.names[i];
        attempt(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            name,
            "--label",
            &docker::run_label(),
            BUSYBOX,
            "sh",
            "-c",
            PID1_SCRIPT,
        ])?;
        // createdAt is taken now, after `docker run` returned: pid 1 started before it.
        let live = legacy_payload(1, Duration::ZERO);
        let stale_created = created_at(Duration::ZERO);
        let sessions = format!(r#"{{"agent:main:openai-user:{i}":{{"sessionId":"live"}}}}"#);
        let out = attempt(&[
            "exec",
            name,
            "sh",
            "-c",
            WRITE_SCRIPT,
            "sh",
            SESSIONS,
            &live,
            &stale_created,
            &sessions,
        ])?;
        match out.trim().parse::<u32>() {
            Ok(pid) if pid > 1 => Ok(pid),
            _ => Err(format!(
                "{name}: the writing shell printed {out:?}, not its pid"
            )),
        }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// `ls -A` of every container's sessions dir (one exec each, in parallel), sorted names.
    pub fn listings(&self) -> Vec<Result<Vec<String>, String>> {
        parallel(self.len(), THREADS, |i| {
            attempt(&["exec", &self.names[i], "ls", "-A", SESSIONS]).map(|out| {
                let mut v: Vec<String> = out.split_whitespace().map(str::to_owned).collect();
                v.sort();
                v
            })
        })
    }

    /// Does `path` exist in container `i` (as a file, directory or symlink)?
    pub fn exists(&self, i: usize, path: &str) -> bool {
        docker::docker(&[
            "exec",
            &self.names[i],
            "sh",
            "-c",
            "test -e \"$1\" || test -L \"$1\"",
            "sh",
            path,
        ])
        .status
        .success()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let started = Instant::now();
        let batches: Vec<&[String]> = self.names.chunks(RM_BATCH).collect();
        parallel(batches.len(), THREADS / 2, |b| {
            let mut args = vec!["rm", "-f"];
            args.extend(batches[b].iter().map(String::as_str));
            let _ = Command::new("docker")
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        });
        eprintln!(
            "fleet: {} containers {}* removed in {:.1}s",
            self.names.len(),
            self.prefix,
            started.elapsed().as_secs_f64()
        );
    }
}
