//! `cargo bench --bench scan`: scan and clean of the 2,000-user tree against
//! `find <tree> -name '*.jsonl.lock'` on the same warm cache. Prints its figures; asserts none.
//!
//! Environment: ZAKI_BENCH_USERS (default 2000), ZAKI_BENCH_SESSIONS (20), ZAKI_BENCH_RUNS (15).
//! ZAKI_BENCH_PROCS (default 0) extra idle host processes with ZAKI_BENCH_FDS (50) open files
//! each, to time the holder search on a busy host: `scan` and `clean` are timed again with them.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::bin;
use common::tree::{LiveOwners, generate};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `cmd` `runs` times (after one warm-up) and returns the sorted wall times.
fn time(runs: usize, mut cmd: impl FnMut() -> Command) -> Vec<Duration> {
    let status = cmd().stdout(Stdio::null()).status().unwrap();
    assert!(status.code().is_some_and(|c| c <= 1), "{status}");
    let mut t: Vec<Duration> = (0..runs)
        .map(|_| {
            let mut c = cmd();
            c.stdout(Stdio::null()).stderr(Stdio::null());
            let start = Instant::now();
            c.status().unwrap();
            start.elapsed()
        })
        .collect();
    t.sort();
    t
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn max_child_rss_kib() -> i64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .map(|u| u.max_rss())
        .unwrap_or(-1)
}

fn main() {
    // `cargo bench` passes --bench; any other argument is a filter we do not use.
    let users = env_or("ZAKI_BENCH_USERS", 2000);
    let sessions = env_or("ZAKI_BENCH_SESSIONS", 20);
    let runs = env_or("ZAKI_BENCH_RUNS", 15);
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("gateways");

    let owners = LiveOwners::spawn();
    let started = Instant::now();
    let exp = generate(&tree, users, sessions, &owners.owners);
    println!(
        "tree: {users} users x {sessions} sessions, {} locks ({} stale), generated in {:.1}s",
        exp.stale.len() + exp.live.len(),
        exp.stale.len(),
        started.elapsed().as_secs_f64()
    );

    let run_lock = tmp.path().join("run.lock");
    // Every gateway's state dir as a --root: the tool judges their owners on this host.
    let zaki = |args: &[&str]| {
        let mut c = Command::new(bin());
        c.args(args).env("ZAKI_LOCKS_RUN_LOCK", &run_lock);
        for d in &exp.state_dirs {
            c.arg("--root").arg(d);
        }
        c
    };
    let find = || {
        let mut c = Command::new("find");
        c.arg(&tree).args(["-name", "*.jsonl.lock"]);
        c
    };

    let report = |label: &str, t: &[Duration], base: Option<f64>| {
        let med = ms(t[t.len() / 2]);
        let ratio = base.map_or(String::new(), |b| {
            format!("  ratio to find {:.2}x", med / b)
        });
        println!(
            "{label:<40} median {med:8.1} ms  min {:8.1} ms  max {:8.1} ms{ratio}",
            ms(t[0]),
            ms(t[t.len() - 1])
        );
        med
    };
    println!("runs per command: {runs} (after one warm-up run each)");
    let f = report("find <tree> -name '*.jsonl.lock'", &time(runs, find), None);
    let host_only = |extra: &[&'static str]| {
        let mut v = extra.to_vec();
        v.push("--no-containers");
        v
    };
    report(
        "scan (table)",
        &time(runs, || zaki(&host_only(&["scan"]))),
        Some(f),
    );
    report(
        "scan --format json",
        &time(runs, || zaki(&host_only(&["scan", "--format", "json"]))),
        Some(f),
    );
    report(
        "scan --format json, asking Docker too",
        &time(runs, || zaki(&["scan", "--format", "json"])),
        Some(f),
    );
    // The first clean removes the stale locks; every timed run after it has nothing to remove.
    report(
        "clean (nothing to remove)",
        &time(runs, || zaki(&host_only(&["clean"]))),
        Some(f),
    );
    let procs = env_or("ZAKI_BENCH_PROCS", 0);
    if procs > 0 {
        let fds = env_or("ZAKI_BENCH_FDS", 50);
        let started = Instant::now();
        let crowd = common::Crowd::spawn(procs, fds, &tmp.path().join("crowd"));
        println!(
            "with {} more host processes x {fds} open files (spawned in {:.1}s):",
            crowd.pids,
            started.elapsed().as_secs_f64()
        );
        report(
            "scan (table), busy host",
            &time(runs, || zaki(&host_only(&["scan"]))),
            Some(f),
        );
        report(
            "scan --format json, busy host",
            &time(runs, || zaki(&host_only(&["scan", "--format", "json"]))),
            Some(f),
        );
        report(
            "clean (nothing to remove), busy host",
            &time(runs, || zaki(&host_only(&["clean"]))),
            Some(f),
        );
        drop(crowd);
    }
    println!("peak RSS of any child: {} KiB", max_child_rss_kib());
    let left = exp.stale.iter().filter(|p| p.exists()).count();
    let lost = exp.live.iter().filter(|p| !p.exists()).count();
    println!("after clean: stale left {left}, live lost {lost}");
    drop(owners);
}
