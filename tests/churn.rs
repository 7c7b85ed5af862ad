//! Churn: writers that follow OpenClaw's lock protocol exactly (`scripts/churn-writer.py`) take
//! and release session locks as fast as they can, some are killed with SIGKILL at random moments
//! (their locks become stale; a kill between create and write leaves an empty one), replacements
//! start, and meanwhile `zaki-locks clean` runs in a tight loop. On the host, inside a container
//! (observed and removed by exec), and on a container's bind-mounted state dir (judged from the
//! host in the container's PID namespace).
//!
//! Counted: live locks lost (a writer found, before releasing, that its lock file was no longer
//! its own: other inode, other content, or gone), empty in-progress locks removed while fresh
//! (checked by the writer right before it writes), stale locks left after one last `clean`
//! (every writer is dead by then, so no lock file may remain). All must be 0, and every `clean`
//! must exit 0.
//!
//! `clean` runs with `--older-than 5s` rather than the default 30 min so that the empty locks
//! of writers killed mid-create (stale only by their mtime) are removed during the run instead of
//! blocking their session for 30 min; writers never stay empty longer than 0.5 s, ten times
//! less. The writers themselves keep OpenClaw's 30 min.
//!
//! `release_window_churn_on_the_host` (issue 18) is the other side: writers that release as
//! OpenClaw up to 2026.5.7 does (close, a few ms, delete by path) locks that look long held, two
//! per session, each the other's waiter; no `clean` may remove a lock in that window.
//!
//! Defaults take about 30 s on 2 cores (8 s of churn per test, tests run in parallel). The long mode, for the README:
//! `ZAKI_CHURN_SECS=300 cargo test --release --test suite churn:: -- --nocapture`; also
//! `ZAKI_CHURN_WRITERS` (default 6) and `ZAKI_CHURN_SEED` (default: from the clock, printed).

use crate::common;

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use common::docker::{self, Container, bind, unique};
use common::{Proc, zaki};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

const SESSIONS: usize = 20;
const OLDER_THAN: &str = "5s";
const OLDER_THAN_SECS: u64 = 5;
/// The host's python3, the one `Container::threaded` mounts into busybox.
const PYTHON: &str = "/usr/bin/python3.11";
const IN_CONTAINER_SCRIPT: &str = "/churn-writer.py";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/churn-writer.py")
}

struct Config {
    secs: f64,
    writers: usize,
    seed: u64,
}

fn config(default_secs: f64) -> Config {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    Config {
        secs: env("ZAKI_CHURN_SECS").map_or(default_secs, |v| v.parse().expect("ZAKI_CHURN_SECS")),
        writers: env("ZAKI_CHURN_WRITERS").map_or(6, |v| v.parse().expect("ZAKI_CHURN_WRITERS")),
        seed: env("ZAKI_CHURN_SEED").map_or_else(
            || {
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            },
            |v| v.parse().expect("ZAKI_CHURN_SEED"),
        ),
    }
}

/// SplitMix64: a seeded generator, enough for picking moments and victims.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Where the writers run and how `clean` is pointed at them.
enum Site {
    Host {
        dir: PathBuf,
    },
    Container {
        c: Container,
        /// The sessions dir inside the container.
        dir: String,
        /// The same dir on the host, when it is bind-mounted.
        host_dir: Option<PathBuf>,
    },
}

impl Site {
    fn writer_command(&self, args: &[String]) -> Command {
        match self {
            Site::Host { dir } => {
                let mut cmd = Command::new(PYTHON);
                cmd.arg(script()).arg(dir).args(args);
                cmd
            }
            Site::Container { c, dir, .. } => {
                let mut cmd = Command::new("docker");
                cmd.args(["exec", &c.name, "python3", IN_CONTAINER_SCRIPT, dir])
                    .args(["--guard-dir", "/tmp/churn-guards"])
                    .args(args);
                cmd
            }
        }
    }

    /// Every file of the sessions dir with its size, by name.
    fn files(&self) -> BTreeMap<String, u64> {
        let host_dir = match self {
            Site::Host { dir } => Some(dir),
            Site::Container { host_dir, .. } => host_dir.as_ref(),
        };
        if let Some(dir) = host_dir {
            return std::fs::read_dir(dir)
                .unwrap()
                .flatten()
                .map(|e| {
                    let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                    (e.file_name().to_string_lossy().into_owned(), len)
                })
                .collect();
        }
        let Site::Container { c, dir, .. } = self else {
            unreachable!()
        };
        c.sh(&format!(
            "cd '{dir}' && for f in * .[!.]*; do [ -e \"$f\" ] && stat -c '%s %n' \"$f\"; done; true"
        ))
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(size, name)| (name.to_owned(), size.parse().unwrap()))
        .collect()
    }
}

/// The host pid of the writer started with `--tag tag` (for a container's writer, found
/// through this host's `/proc`: the docker CLI carries the same arguments, so only python3).
fn find_tagged(tag: &str) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
                continue;
            };
            let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            let python = args.first().is_some_and(|a| {
                a.rsplit(|&b| b == b'/')
                    .next()
                    .unwrap()
                    .starts_with(b"python3")
            });
            if python && args.contains(&tag.as_bytes()) {
                return pid;
            }
        }
        assert!(Instant::now() < deadline, "writer {tag} never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One writer process and what it printed.
struct Writer {
    tag: String,
    child: Proc,
    pid: i32,
    killed: bool,
    reaped: bool,
    output: Option<JoinHandle<(String, String)>>,
}

impl Writer {
    fn start(
        site: &Site,
        tag: String,
        seed: u64,
        starttime: bool,
        secs: f64,
        extra: &[String],
    ) -> Writer {
        let mut args = vec![
            "--seed".to_owned(),
            seed.to_string(),
            "--secs".to_owned(),
            format!("{}", secs + 300.0),
            "--sessions".to_owned(),
            SESSIONS.to_string(),
            "--tag".to_owned(),
            tag.clone(),
        ];
        if starttime {
            args.push("--starttime".to_owned());
        }
        args.extend_from_slice(extra);
        let mut child = Proc::spawn(
            site.writer_command(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        );
        let pid = match site {
            Site::Host { .. } => child.id() as i32,
            Site::Container { .. } => find_tagged(&tag),
        };
        // Started once it says so: its SIGTERM handler is in place from then on.
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut ready = String::new();
        out.read_line(&mut ready).unwrap();
        assert!(
            ready.contains("\"ready\""),
            "writer {tag} did not start: {ready:?}"
        );
        let mut err = child.stderr.take().unwrap();
        let output = std::thread::spawn(move || {
            let errs = std::thread::spawn(move || {
                let mut s = String::new();
                let _ = err.read_to_string(&mut s);
                s
            });
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            (s, errs.join().unwrap())
        });
        Writer {
            tag,
            child,
            pid,
            killed: false,
            reaped: false,
            output: Some(output),
        }
    }

    fn signal(&self, sig: Signal) {
        let _ = kill(Pid::from_raw(self.pid), sig);
    }

    fn reap(&mut self) {
        if !self.reaped {
            let _ = self.child.wait();
            self.reaped = true;
        }
    }

    /// Waits for it to end and returns (stdout, stderr).
    fn finish(&mut self) -> (String, String) {
        self.reap();
        self.output.take().unwrap().join().unwrap()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if !self.reaped {
            self.signal(Signal::SIGKILL);
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What the `clean` loop saw.
#[derive(Default)]
struct Cleans {
    runs: u64,
    /// Runs that did not exit 0: (code, stderr).
    failures: Vec<(Option<i32>, String)>,
    removed: u64,
    removed_by_reason: BTreeMap<String, u64>,
    /// Every removed lock's content, to tell whether a lost live lock was removed by `clean`.
    removed_contents: HashSet<String>,
    /// Kept or skipped stale locks, by note (changed since judged, put back, already gone…).
    not_removed: BTreeMap<String, u64>,
    /// Notes that mention a put-back or a failed removal, verbatim (evidence).
    incidents: Vec<String>,
    elapsed: Vec<Duration>,
}

impl Cleans {
    fn run(&mut self, tmp: &Path, args: &[String]) {
        let started = Instant::now();
        let o = zaki(tmp)
            .args(args)
            .args(["--format", "json"])
            .output()
            .expect("zaki-locks runs");
        self.elapsed.push(started.elapsed());
        self.runs += 1;
        if o.status.code() != Some(0) {
            self.failures.push((
                o.status.code(),
                format!(
                    "{}\n{}",
                    String::from_utf8_lossy(&o.stderr),
                    String::from_utf8_lossy(&o.stdout)
                ),
            ));
        }
        let Ok(report) = serde_json::from_slice::<Value>(&o.stdout) else {
            return;
        };
        for lock in report["locks"].as_array().into_iter().flatten() {
            let action = lock["action"].as_str().unwrap_or("");
            let note = lock["note"].as_str().unwrap_or("");
            if action == "removed" {
                self.removed += 1;
                for r in lock["reasons"].as_array().into_iter().flatten() {
                    *self
                        .removed_by_reason
                        .entry(r.as_str().unwrap_or("?").to_owned())
                        .or_default() += 1;
                }
                self.removed_contents
                    .insert(lock["content"].as_str().unwrap_or("").to_owned());
            } else if lock["stale"] == true {
                let what = note
                    .split("; ")
                    .find(|n| n.starts_with("not removed") || n.starts_with("already gone"))
                    .unwrap_or(note)
                    .to_owned();
                if what.contains("put back") || action == "skipped" && what.contains("fail") {
                    self.incidents.push(lock.to_string());
                }
                *self.not_removed.entry(what).or_default() += 1;
            }
        }
    }

    fn median_ms(&self) -> u128 {
        let mut e = self.elapsed.clone();
        e.sort();
        e.get(e.len() / 2).map_or(0, |d| d.as_millis())
    }
}

/// Counters summed over every writer.
#[derive(Default, Debug)]
struct Tally {
    cycles: u64,
    lost: Vec<Value>,
    empty_removed: Vec<Value>,
    reclaimed: u64,
    gave_up: u64,
    contended: u64,
    empty_windows: u64,
    finished: usize,
}

impl Tally {
    /// Adds one writer's output: its stderr events always, its counters when it printed them
    /// (a killed writer did not: its last progress line says how far it got).
    fn add(&mut self, tag: &str, out: &str, err: &str, killed: bool) {
        for line in err.lines() {
            match serde_json::from_str::<Value>(line) {
                Ok(ev) if ev["event"] == "lost" => self.lost.push(ev),
                Ok(ev) if ev["event"] == "empty-removed" => self.empty_removed.push(ev),
                _ => panic!("writer {tag} wrote to stderr: {err}"),
            }
        }
        let last = out
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v.get("cycles").is_some());
        match last {
            Some(c) => {
                assert!(!killed, "a killed writer printed its counters: {out}");
                let n = |k: &str| c[k].as_u64().unwrap();
                self.cycles += n("cycles");
                self.reclaimed += n("reclaimed");
                self.gave_up += n("gave_up");
                self.contended += n("contended");
                self.empty_windows += n("empty_windows");
                self.finished += 1;
                assert_eq!(
                    n("lost") as usize,
                    count(err, "lost"),
                    "{tag}: {out}\n{err}"
                );
                assert_eq!(
                    n("empty_removed") as usize,
                    count(err, "empty-removed"),
                    "{tag}"
                );
            }
            None => {
                assert!(
                    killed,
                    "writer {tag} ended without its counters:\n{out}\n{err}"
                );
                // `c CYCLES RECLAIMED` after each cycle.
                let progress = out.lines().rev().find_map(|l| {
                    let mut w = l.strip_prefix("c ")?.split(' ');
                    Some((
                        w.next()?.parse::<u64>().ok()?,
                        w.next()?.parse::<u64>().ok()?,
                    ))
                });
                let (cycles, reclaimed) = progress.unwrap_or((0, 0));
                self.cycles += cycles;
                self.reclaimed += reclaimed;
            }
        }
    }
}

fn count(err: &str, event: &str) -> usize {
    err.lines()
        .filter(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| v["event"] == event))
        .count()
}

/// Stops the `clean` loop when dropped, also when the test fails half-way.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// `zaki-locks clean` in a tight loop on a thread of its own until the returned guard is dropped
/// (or told to stop); the thread returns what the runs did.
fn clean_in_a_loop(tmp: &Path, clean_args: &[String]) -> (StopOnDrop, JoinHandle<Cleans>) {
    let stop = StopOnDrop(Arc::new(AtomicBool::new(false)));
    let flag = stop.0.clone();
    let tmp = tmp.to_owned();
    let args = clean_args.to_vec();
    let cleaner = std::thread::spawn(move || {
        let mut cleans = Cleans::default();
        while !flag.load(Ordering::Relaxed) {
            cleans.run(&tmp, &args);
        }
        cleans
    });
    (stop, cleaner)
}

/// The whole run on one site; prints the figures and asserts on them.
fn churn(label: &str, site: Site, clean_args: Vec<String>) {
    let cfg = config(8.0);
    let clean_args = [
        clean_args,
        strings(&["--older-than", OLDER_THAN, "--allow-short-threshold"]),
    ]
    .concat();
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = Rng(cfg.seed);
    println!(
        "churn {label}: seed={} secs={} writers={} sessions={SESSIONS} --older-than {OLDER_THAN}",
        cfg.seed, cfg.secs, cfg.writers
    );

    let mut n = 0u64;
    let mut new_writer = |rng: &mut Rng| {
        n += 1;
        // Half the writers are OpenClaw 2026.3+ (starttime in the payload), half 2026.2.
        Writer::start(
            &site,
            format!("churn-{}-{label}-{n}", std::process::id()),
            rng.next(),
            n.is_multiple_of(2),
            cfg.secs,
            &[],
        )
    };
    let mut writers: Vec<Writer> = (0..cfg.writers).map(|_| new_writer(&mut rng)).collect();

    let (stop, cleaner) = clean_in_a_loop(tmp.path(), &clean_args);

    // Kill a writer now and then, at a random moment of its cycle, and start another. Half the
    // killed host writers stay unreaped (zombies) until the end.
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(cfg.secs);
    let mut killed = 0;
    let mut zombies = 0;
    loop {
        let pause = Duration::from_secs_f64(rng.between(0.1, 0.8));
        if Instant::now() + pause >= deadline {
            break;
        }
        std::thread::sleep(pause);
        let live: Vec<usize> = (0..writers.len()).filter(|&i| !writers[i].killed).collect();
        let w = &mut writers[live[rng.below(live.len())]];
        w.signal(Signal::SIGKILL);
        w.killed = true;
        killed += 1;
        if matches!(site, Site::Host { .. }) && rng.below(2) == 0 {
            zombies += 1;
        } else {
            w.reap();
        }
        writers.push(new_writer(&mut rng));
    }
    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));

    // Stop: the live writers finish their cycle and print their counters; then the loop.
    for w in writers.iter().filter(|w| !w.killed) {
        w.signal(Signal::SIGTERM);
    }
    let mut tally = Tally::default();
    for w in writers.iter_mut() {
        let (out, err) = w.finish();
        tally.add(&w.tag, &out, &err, w.killed);
    }
    drop(stop);
    let mut cleans = cleaner.join().unwrap();
    let churn_secs = started.elapsed().as_secs_f64();

    // One last clean; every writer is dead, so nothing may remain but the empty locks of
    // writers killed mid-create in the last seconds, which are stale once their mtime is older
    // than the threshold: then one more clean, and nothing at all may remain.
    cleans.run(tmp.path(), &clean_args);
    let is_lock = |name: &str| name.ends_with(".jsonl.lock") || name == "sessions.json.lock";
    let left = site.files();
    let mut stale_left: BTreeMap<String, u64> = left
        .iter()
        .filter(|(name, size)| is_lock(name) && **size > 0)
        .map(|(n, s)| (n.clone(), *s))
        .collect();
    let empty_orphans = left
        .iter()
        .filter(|(name, size)| is_lock(name) && **size == 0)
        .count();
    if empty_orphans > 0 {
        std::thread::sleep(Duration::from_secs(OLDER_THAN_SECS + 2));
        cleans.run(tmp.path(), &clean_args);
        stale_left.extend(site.files().into_iter().filter(|(name, _)| is_lock(name)));
    }
    let aside: Vec<String> = site
        .files()
        .into_keys()
        .filter(|n| n.contains("zaki-locks-removing"))
        .collect();

    println!(
        "churn {label} details: {churn_secs:.1}s, writers started={} killed={killed} \
         (left as zombies={zombies}) finished={}, contended={} reclaimed_by_writers={} \
         gave_up={} empty_windows={}; clean: runs={} median={}ms removed={} {:?} \
         not_removed={:?}; empty_orphans_at_end={empty_orphans}",
        writers.len(),
        tally.finished,
        tally.contended,
        tally.reclaimed,
        tally.gave_up,
        tally.empty_windows,
        cleans.runs,
        cleans.median_ms(),
        cleans.removed,
        cleans.removed_by_reason,
        cleans.not_removed,
    );

    // Evidence first, so that a failure says what happened.
    for ev in &tally.lost {
        let content = ev["content"].as_str().unwrap_or("");
        println!(
            "LOST {ev}\n  removed by clean as stale: {}",
            cleans.removed_contents.contains(content)
        );
    }
    for ev in &tally.empty_removed {
        println!("EMPTY REMOVED {ev}");
    }
    for i in &cleans.incidents {
        println!("CLEAN INCIDENT {i}");
    }
    for (code, err) in &cleans.failures {
        println!("CLEAN EXIT {code:?}: {err}");
    }
    if !stale_left.is_empty() || !aside.is_empty() {
        println!(
            "LEFT {stale_left:?} aside={aside:?}\n  all files: {:?}",
            site.files()
        );
    }

    println!(
        "churn {label}: cycles={} clean_runs={} live_lost={} stale_left={} empty_removed={}",
        tally.cycles,
        cleans.runs,
        tally.lost.len(),
        stale_left.len() + aside.len(),
        tally.empty_removed.len(),
    );
    assert!(tally.cycles > 0 && cleans.runs > 0, "nothing happened");
    assert_eq!(tally.lost.len(), 0, "live locks lost");
    assert_eq!(
        tally.empty_removed.len(),
        0,
        "empty in-progress locks removed"
    );
    assert!(
        stale_left.is_empty() && aside.is_empty(),
        "locks left behind"
    );
    assert!(cleans.failures.is_empty(), "a clean did not exit 0");
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn writer_mounts() -> String {
    format!("{}:{IN_CONTAINER_SCRIPT}:ro", script().display())
}

#[test]
fn churn_on_the_host() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let dir = state.join("agents/main/sessions");
    std::fs::create_dir_all(&dir).unwrap();
    churn(
        "host",
        Site::Host { dir },
        strings(&[
            "clean",
            "--no-containers",
            "--root",
            state.to_str().unwrap(),
        ]),
    );
}

#[test]
fn churn_inside_a_container_by_exec() {
    docker::require();
    let c = Container::threaded(&unique("zt-churn-exec-"), &["-v", &writer_mounts()]);
    let dir = "/root/.openclaw/agents/main/sessions".to_owned();
    let name = c.name.clone();
    churn(
        "container-exec",
        Site::Container {
            c,
            dir,
            host_dir: None,
        },
        strings(&["clean", "--no-host", "--container", &name]),
    );
}

#[test]
fn churn_on_a_bind_mounted_container_dir() {
    docker::require();
    let tmp = tempfile::tempdir().unwrap();
    let users = tmp.path().join("users");
    let state = users.join("user-42/.openclaw");
    let host_dir = state.join("agents/main/sessions");
    std::fs::create_dir_all(&host_dir).unwrap();
    let prefix = unique("zt-churn-bind-");
    let c = Container::threaded(
        &format!("{prefix}42"),
        &[
            "-v",
            &writer_mounts(),
            "-v",
            &bind(&state, "/home/node/.openclaw"),
        ],
    );
    churn(
        "container-bind",
        Site::Container {
            c,
            dir: "/home/node/.openclaw/agents/main/sessions".to_owned(),
            host_dir: Some(host_dir),
        },
        strings(&[
            "clean",
            "--users-dir",
            users.to_str().unwrap(),
            "--prefix",
            &prefix,
        ]),
    );
}

/// Sessions of the release-window churn, each with two writers.
const WINDOW_SESSIONS: usize = 4;

/// Issue 18, fix 2: the release window. Two writers per session follow OpenClaw's protocol up to
/// 2026.5.7 with locks that look long held (`scripts/churn-writer.py --release-window`: createdAt
/// and mtime a minute old, so any holder-free grace has passed): each releases by closing its
/// handle, waiting 1-16 ms and deleting the path unchecked, while the other polls every 1 ms to
/// create the lock as soon as the path is free. Meanwhile `clean` runs in a tight loop with
/// `--older-than 5m` (no lock is old enough to be `too-old`, every owner is alive and its
/// starttime is in the payload: only "nobody has it open" could make one stale).
///
/// A lock is in the close-then-delete window about half the time. A `clean` that removes it
/// there for `no-holder` lets the waiter create the next lock, which the first writer's delete
/// by path then takes: a live lock lost, which the waiter finds (its lock gone while held) and
/// the first writer finds too (its path replaced right before its delete). Removing a lock for
/// `no-holder` only when seen unheld twice, on the same inode, about a second apart, can never
/// catch one in a window of at most 16 ms, as long as "the same inode" also means the same file:
/// here a freed inode number is reused by the next lock within milliseconds, so two sightings a
/// second apart of one inode number may be two locks (their mtime and content differ). Default
/// 10 s of churn (`ZAKI_CHURN_SECS`).
#[test]
fn release_window_churn_on_the_host() {
    let cfg = config(10.0);
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let dir = state.join("agents/main/sessions");
    std::fs::create_dir_all(&dir).unwrap();
    let clean_args = strings(&[
        "clean",
        "--no-containers",
        "--root",
        state.to_str().unwrap(),
        "--older-than",
        "5m",
    ]);
    println!(
        "release-window churn: seed={} secs={} sessions={WINDOW_SESSIONS} writers={}",
        cfg.seed,
        cfg.secs,
        2 * WINDOW_SESSIONS
    );
    let site = Site::Host { dir };
    let mut rng = Rng(cfg.seed);
    let mut writers: Vec<Writer> = (0..2 * WINDOW_SESSIONS)
        .map(|i| {
            Writer::start(
                &site,
                format!("churn-{}-window-{i}", std::process::id()),
                rng.next(),
                true,
                cfg.secs,
                &strings(&[
                    "--release-window",
                    "--only-session",
                    &(i / 2).to_string(),
                    "--max-hold",
                    "0.005",
                    "--p-empty",
                    "0",
                    "--p-long-empty",
                    "0",
                    "--max-wait",
                    "5",
                ]),
            )
        })
        .collect();

    let (stop, cleaner) = clean_in_a_loop(tmp.path(), &clean_args);
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(cfg.secs));
    for w in &writers {
        w.signal(Signal::SIGTERM);
    }
    let mut tally = Tally::default();
    for w in writers.iter_mut() {
        let (out, err) = w.finish();
        tally.add(&w.tag, &out, &err, false);
    }
    drop(stop);
    let cleans = cleaner.join().unwrap();
    let churn_secs = started.elapsed().as_secs_f64();
    let left: Vec<String> = site
        .files()
        .into_keys()
        .filter(|n| n.ends_with(".lock") || n.contains("zaki-locks-removing"))
        .collect();

    // The first few lost locks in full, then how each writer found its lock.
    for ev in tally.lost.iter().take(5) {
        let content = ev["content"].as_str().unwrap_or("");
        println!(
            "LOST {ev}\n  removed by clean: {}",
            cleans.removed_contents.contains(content)
        );
    }
    let mut lost_by_why: BTreeMap<String, u64> = BTreeMap::new();
    for ev in &tally.lost {
        *lost_by_why
            .entry(ev["why"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    for (code, err) in cleans.failures.iter().take(5) {
        println!("CLEAN EXIT {code:?}: {err}");
    }
    println!(
        "release-window churn details: {churn_secs:.1}s, writers finished={} contended={} \
         gave_up={}; clean: runs={} median={}ms removed={} {:?} not_removed={:?}; left={left:?}; \
         lost: {lost_by_why:?}",
        tally.finished,
        tally.contended,
        tally.gave_up,
        cleans.runs,
        cleans.median_ms(),
        cleans.removed,
        cleans.removed_by_reason,
        cleans.not_removed,
    );
    println!(
        "release-window churn: cycles={} clean_runs={} live_lost={} removed_by_clean={}",
        tally.cycles,
        cleans.runs,
        tally.lost.len(),
        cleans.removed
    );
    assert_eq!(
        tally.finished,
        writers.len(),
        "every writer printed its counters"
    );
    // A `clean` that waits a second to see a lock unheld twice runs about once a second.
    assert!(
        tally.cycles >= 200 && cleans.runs >= 5,
        "too little churn to mean anything: cycles={} clean runs={}",
        tally.cycles,
        cleans.runs
    );
    assert_eq!(
        tally.lost.len(),
        0,
        "live locks lost: clean removed locks in their close-then-delete window \
         (removed {} in all, by reason {:?})",
        cleans.removed,
        cleans.removed_by_reason
    );
    assert!(left.is_empty(), "locks left behind: {left:?}");
    assert!(cleans.failures.is_empty(), "a clean did not exit 0");
}
