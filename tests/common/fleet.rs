//! Many busybox containers at once, for the tests and the benchmark of `--prefix` at scale.
//!
//! Each container's pid 1 is a shell that writes, inside the container's own filesystem (no
//! bind mount), two locks in `/home/node/.openclaw/agents/main/sessions`, then holds the live
//! one open (as OpenClaw holds its lock for the whole hold) and waits on a `sleep`:
//! `live.jsonl.lock` naming pid 1 (alive; its createdAt is taken after pid 1 started) and
//! `stale.jsonl.lock` naming the pid of a shell that wrote it and exited (a gateway that died);
//! plus a `sessions.json` naming the live one. That pid stays dead: pids in a namespace are
//! handed out in increasing order and only wrap at `pid_max` (32768 here, i.e. after some 600
//! observe execs per container), whereas a fixed pid such as 4242 is reached after ~85 observe
//! execs (each uses ~50 pids). No `docker exec` is needed to set a container up: the host reads
//! what pid 1 wrote through `/proc/<its host pid>/root` (the container's own mount namespace).
//! Every container is force-removed when the [`Fleet`] is dropped, also when a test fails
//! half-way.

use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::docker::{self, BUSYBOX};

pub const STATE_DIR: &str = "/home/node/.openclaw";
pub const SESSIONS: &str = "/home/node/.openclaw/agents/main/sessions";
pub const LIVE: &str = "live.jsonl.lock";
pub const STALE: &str = "stale.jsonl.lock";
/// Docker commands run at once while starting, writing, checking and removing.
pub const THREADS: usize = 8;
/// Containers per `docker rm -f`.
const RM_BATCH: usize = 25;

/// pid 1 (`$1` the container's index): writes the sessions dir's three files, the stale lock
/// by a shell of its own that exits at once, then holds the live lock open, says it is ready
/// (`/tmp/ready`, outside the sessions dir) and waits. createdAt is whole seconds: the judge
/// allows an owner to appear to start up to its `start_slack` after createdAt.
const PID1_SCRIPT: &str = r#"S=/home/node/.openclaw/agents/main/sessions
mkdir -p $S
now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
sh -c 'printf "{\n  \"pid\": %s,\n  \"createdAt\": \"%s\"\n}" $$ "$0" > "$1"' "$now" $S/stale.jsonl.lock
printf '{"agent:main:openai-user:%s":{"sessionId":"live"}}' "$1" > $S/sessions.json
printf '{\n  "pid": 1,\n  "createdAt": "%s"\n}' "$now" > $S/live.jsonl.lock
exec 3<$S/live.jsonl.lock
: > /tmp/ready
sleep 100000 & wait"#;

/// N running busybox containers named `<prefix><i>`, removed on drop.
pub struct Fleet {
    /// Ends in `-`, so no other fleet's names start with it.
    pub prefix: String,
    /// Every container that was started, in index order.
    pub names: Vec<String>,
    /// The pid named by each container's stale lock (dead in that container).
    pub stale_pids: Vec<u32>,
    /// Each container's pid 1, as the host sees it.
    host_pids: Vec<u32>,
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
    /// Starts `n` containers, [`THREADS`] docker commands at a time, and waits until each has
    /// written its locks.
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
            host_pids: Vec::new(),
        };
        let results = parallel(n, THREADS, |i| fleet.start_one(i));
        let failed: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert!(
            failed.is_empty(),
            "{} of {n} containers could not be started; first: {}",
            failed.len(),
            failed[0]
        );
        fleet.host_pids = fleet.inspect_pids();
        fleet.stale_pids = (0..n).map(|i| fleet.wait_ready(i)).collect();
        eprintln!(
            "fleet: {n} containers {}<0..{n}> started with their locks in {:.1}s",
            fleet.prefix,
            started.elapsed().as_secs_f64()
        );
        fleet
    }

    fn start_one(&self, i: usize) -> Result<String, String> {
        let index = i.to_string();
        attempt(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            &self.names[i],
            "--label",
            &docker::run_label(),
            BUSYBOX,
            "sh",
            "-c",
            PID1_SCRIPT,
            "sh",
            &index,
        ])
    }

    /// Every container's pid 1 on the host, in one `docker inspect`.
    fn inspect_pids(&self) -> Vec<u32> {
        let mut args = vec!["inspect", "--format", "{{.State.Pid}}"];
        args.extend(self.names.iter().map(String::as_str));
        let out = attempt(&args).unwrap_or_else(|e| panic!("{e}"));
        let pids: Vec<u32> = out.lines().map(|l| l.trim().parse().unwrap()).collect();
        assert_eq!(pids.len(), self.len(), "{out}");
        assert!(
            pids.iter().all(|&p| p > 0),
            "a container is not running: {out}"
        );
        pids
    }

    /// A path inside container `i`, through its pid 1's root.
    fn inside(&self, i: usize, path: &str) -> std::path::PathBuf {
        std::path::PathBuf::from(format!("/proc/{}/root{path}", self.host_pids[i]))
    }

    /// Waits until container `i`'s pid 1 has written its locks; the stale lock's pid.
    fn wait_ready(&self, i: usize) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.inside(i, "/tmp/ready").exists() {
            assert!(
                Instant::now() < deadline,
                "{}: pid 1 did not write its locks in 60 s",
                self.names[i]
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let stale = std::fs::read_to_string(self.inside(i, &format!("{SESSIONS}/{STALE}")))
            .unwrap_or_else(|e| panic!("{}: {e}", self.names[i]));
        let v: serde_json::Value = serde_json::from_str(&stale)
            .unwrap_or_else(|e| panic!("{}: {e}: {stale:?}", self.names[i]));
        match v["pid"].as_u64() {
            Some(pid) if pid > 1 => pid as u32,
            _ => panic!("{}: the stale lock names no pid: {stale:?}", self.names[i]),
        }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The names in every container's sessions dir, sorted (read through each pid 1's root,
    /// not through zaki-locks).
    pub fn listings(&self) -> Vec<Result<Vec<String>, String>> {
        (0..self.len())
            .map(|i| {
                let dir = self.inside(i, SESSIONS);
                let entries = std::fs::read_dir(&dir).map_err(|e| format!("{dir:?}: {e}"))?;
                let mut v: Vec<String> = entries
                    .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("{dir:?}: {e}"))?;
                v.sort();
                Ok(v)
            })
            .collect()
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
