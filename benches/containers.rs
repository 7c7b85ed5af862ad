//! `cargo bench --bench containers`: `scan` and `clean` of a fleet of busybox containers
//! (two locks each, one live and one stale) against a plain loop of one `docker exec` per
//! container running the very same observe script. Prints its figures; asserts only that every
//! run saw what it should.
//!
//! Environment: ZAKI_BENCH_CONTAINERS (default 200), ZAKI_BENCH_RUNS (5); ZAKI_BENCH_PROCS
//! (default 0) extra idle host processes with ZAKI_BENCH_FDS (50) open files each, to time the
//! holder search on a busy host (`scan` and `clean` are timed again with them). Keep the whole run
//! under 30 minutes (about 15 runs at 200 containers here): the live locks' `createdAt` is
//! the fleet's start, and past `--older-than` (30 min) they would be stale as `too-old`.
//!
//! Next to each median it prints how busy the whole machine's CPUs were meanwhile (from
//! `/proc/stat`): near 100% means the figure is bound by CPU (runc, the engine and the script
//! inside each container), not by waiting, so more `--jobs` cannot make it faster.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::fleet::{Fleet, LIVE, STALE};
use serde_json::Value;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// (busy, total) CPU time of the whole machine so far, in clock ticks, from `/proc/stat`.
fn cpu_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = f.iter().take(8).sum();
    let idle = f.get(3).copied().unwrap_or(0) + f.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// One timed run: wall time and the share of the machine's CPU time that was busy meanwhile.
struct Run {
    wall: Duration,
    busy: f64,
}

/// Runs `once` `runs` times; `once` checks its own result.
fn time(runs: usize, mut once: impl FnMut() -> Duration) -> Vec<Run> {
    let mut t: Vec<Run> = (0..runs)
        .map(|_| {
            let (b0, t0) = cpu_ticks();
            let wall = once();
            let (b1, t1) = cpu_ticks();
            let busy = (b1 - b0) as f64 / (t1 - t0).max(1) as f64;
            Run { wall, busy }
        })
        .collect();
    t.sort_by_key(|r| r.wall);
    t
}

fn report(label: &str, t: &[Run]) -> f64 {
    let med = &t[t.len() / 2];
    println!(
        "{label:<58} median {:7.3} s  min {:7.3} s  max {:7.3} s  ({} runs; CPU busy {:3.0}%)",
        secs(med.wall),
        secs(t[0].wall),
        secs(t[t.len() - 1].wall),
        t.len(),
        med.busy * 100.0
    );
    secs(med.wall)
}

/// Runs `cmd`, timing it, and returns its output (stdout captured, stderr shown on failure).
fn timed(mut cmd: Command) -> (Duration, Output) {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let o = cmd.output().expect("the command runs");
    (start.elapsed(), o)
}

fn json(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "{}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("JSON report")
}

/// Counts of the report's locks: (live and kept, stale, removed).
fn counts(r: &Value) -> (usize, usize, usize) {
    let locks = r["locks"].as_array().expect("locks");
    let live = locks
        .iter()
        .filter(|l| l["path"].as_str().unwrap().ends_with(LIVE) && l["owner_state"] == "alive")
        .count();
    let stale = locks
        .iter()
        .filter(|l| l["path"].as_str().unwrap().ends_with(STALE) && l["stale"] == true)
        .count();
    let removed = locks.iter().filter(|l| l["action"] == "removed").count();
    assert_eq!(r["errors"], serde_json::json!([]), "errors in the report");
    (live, stale, removed)
}

fn main() {
    let n = env_or("ZAKI_BENCH_CONTAINERS", 200);
    let runs = env_or("ZAKI_BENCH_RUNS", 5).max(1);
    let tmp = tempfile::tempdir().unwrap();
    let run_lock = tmp.path().join("run.lock");

    let fleet = Fleet::start(n);
    println!(
        "fleet: {n} busybox containers, 2 locks each (1 live, 1 stale), prefix {}",
        fleet.prefix
    );
    let zaki = |args: &[&str]| {
        let mut c = Command::new(common::bin());
        c.args(args)
            .args(["--no-host", "--prefix", &fleet.prefix])
            .env("ZAKI_LOCKS_RUN_LOCK", &run_lock)
            .env("NO_COLOR", "1");
        c
    };

    // The state dirs zaki-locks lists in each container: the loop lists the very same ones.
    let (_, o) = timed(zaki(&["scan", "--format", "json"]));
    let r = json(&o);
    let (live, stale, _) = counts(&r);
    assert_eq!((live, stale), (n, n), "the fleet is not as set up");
    let dirs: Vec<String> = r["containers"][0]["state_dirs"]
        .as_array()
        .expect("state_dirs")
        .iter()
        .map(|d| d.as_str().unwrap().to_owned())
        .collect();
    let jobs = 16; // the CLI's default `--jobs`
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "runs per figure: {runs} (after one warm-up scan); default --jobs {jobs}; {cpus} CPUs"
    );
    println!("state dirs listed per container: {}", dirs.join(" "));

    let scan = |extra: &[&str]| {
        let mut args = vec!["scan", "--format", "json"];
        args.extend(extra);
        let (d, o) = timed(zaki(&args));
        let (live, stale, _) = counts(&json(&o));
        assert_eq!((live, stale), (n, n));
        d
    };
    let a = report(
        "(a) zaki-locks scan --no-host --prefix P --format json",
        &time(runs, || scan(&[])),
    );
    let e = report(
        "(a') the same, --via-exec (one docker exec per container)",
        &time(runs, || scan(&["--via-exec"])),
    );
    let b = report(
        "(b) the same, --via-exec --jobs 1",
        &time(runs, || scan(&["--via-exec", "--jobs", "1"])),
    );
    let looped = report(
        "(c) loop: docker exec <c> sh -c \"$OBSERVE_SCRIPT\" per container",
        &time(runs, || {
            let start = Instant::now();
            for name in &fleet.names {
                let o = Command::new("docker")
                    .args(["exec", name, "sh", "-c"])
                    .arg(zaki_locks::observe::container::OBSERVE_SCRIPT)
                    .arg("sh")
                    .args(&dirs)
                    .stdin(Stdio::null())
                    .output()
                    .expect("docker exec runs");
                let out = String::from_utf8_lossy(&o.stdout);
                assert!(
                    o.status.success() && out.starts_with("zaki-locks 1") && out.ends_with("end\n"),
                    "{name}: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
            }
            start.elapsed()
        }),
    );

    // The first clean removes every stale lock; the ones after it have nothing to remove.
    let (first, o) = timed(zaki(&["clean", "--format", "json"]));
    let (kept, _, removed) = counts(&json(&o));
    println!(
        "{:<58} {:7.3} s  (removed {removed}, kept {kept} live)",
        "(d) zaki-locks clean --no-host --prefix P, removing",
        secs(first)
    );
    let d = report(
        "(d) the same, nothing to remove",
        &time(runs, || {
            let (d, o) = timed(zaki(&["clean", "--format", "json"]));
            let (kept, stale, removed) = counts(&json(&o));
            assert_eq!((kept, stale, removed), (n, 0, 0));
            d
        }),
    );
    report(
        "(d') the same, --via-exec",
        &time(runs, || {
            let (d, o) = timed(zaki(&["clean", "--via-exec", "--format", "json"]));
            let (kept, stale, removed) = counts(&json(&o));
            assert_eq!((kept, stale, removed), (n, 0, 0));
            d
        }),
    );
    let procs = env_or("ZAKI_BENCH_PROCS", 0);
    if procs > 0 {
        let fds = env_or("ZAKI_BENCH_FDS", 50);
        let crowd = common::Crowd::spawn(procs, fds, &tmp.path().join("crowd"));
        println!(
            "with {} more host processes x {fds} open files:",
            crowd.pids
        );
        report(
            "(a) scan, busy host (after the clean: nothing stale)",
            &time(runs, || {
                let (d, o) = timed(zaki(&["scan", "--format", "json"]));
                let (live, stale, _) = counts(&json(&o));
                assert_eq!((live, stale), (n, 0));
                d
            }),
        );
        report(
            "(d) clean, nothing to remove, busy host",
            &time(runs, || {
                let (d, o) = timed(zaki(&["clean", "--format", "json"]));
                let (kept, stale, removed) = counts(&json(&o));
                assert_eq!((kept, stale, removed), (n, 0, 0));
                d
            }),
        );
        drop(crowd);
    }
    let per_job = looped / f64::from(jobs);
    println!("loop/jobs (loop / {jobs}):{:>38.3} s", per_job);
    println!(
        "scan/(loop/jobs): {:.2}, with --via-exec {:.2}  (target <= 1.50; scan target < 3 s for 200)",
        a / per_job,
        e / per_job
    );
    println!(
        "--via-exec --jobs 1 / loop: {:.2}; --via-exec speed-up from --jobs {jobs}: {:.2}x; clean (nothing to remove)/scan: {:.2}",
        b / looped,
        b / e,
        d / a
    );
    let listings = fleet.listings();
    let left_stale = listings
        .iter()
        .filter(|l| l.as_ref().is_ok_and(|l| l.iter().any(|f| f == STALE)))
        .count();
    let live_left = listings
        .iter()
        .filter(|l| l.as_ref().is_ok_and(|l| l.iter().any(|f| f == LIVE)))
        .count();
    println!(
        "after clean, inside the containers: {live_left} of {n} live locks kept, {left_stale} stale locks left"
    );
    drop(fleet);
}
