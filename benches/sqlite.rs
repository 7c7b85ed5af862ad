//! `cargo bench --bench sqlite`: 10,000 SQLite-era places (OpenClaw 2026.8+) in the platform's
//! layout (`user-<id>/.openclaw`), each a gateway's crash image: `state/openclaw.sqlite` with its `-wal`
//! (an orphan claim, a lease, boots) and an agent's `openclaw-agent.sqlite` with its `-wal`, as
//! python3's sqlite3 leaves them when killed; one more place is hostile (a FIFO named
//! `-journal`). `scan` reads every place through the confined reader (a private copy each,
//! SQLite in a sandboxed child), paired in the same run with `find` over the same tree.
//! Prints wall and CPU time of both, places per second and the errors; the budget is 15 s on 2
//! cores (issue 19). Asserts only that every place but the hostile one was read.
//!
//! Environment: ZAKI_BENCH_SQLITE_PLACES (default 10,000).

#[path = "../tests/common/mod.rs"]
mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// User + system CPU time of the children waited for so far.
fn children_cpu() -> Duration {
    let u = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    let t = |tv: nix::sys::time::TimeVal| {
        Duration::from_secs(tv.tv_sec() as u64) + Duration::from_micros(tv.tv_usec() as u64)
    };
    t(u.user_time()) + t(u.system_time())
}

/// Runs a command to its end: (wall, CPU, output).
fn timed(cmd: &mut Command) -> (Duration, Duration, std::process::Output) {
    let cpu = children_cpu();
    let started = Instant::now();
    let o = cmd.stdin(Stdio::null()).output().unwrap();
    (started.elapsed(), children_cpu() - cpu, o)
}

/// A gateway's crash image: databases with their `-wal`s, the writer killed.
fn template(dir: &Path) {
    let (mut owner, lease) = common::sqlite::live_owner();
    let writer = common::sqlite::databases(dir, lease, true);
    if let Some(mut w) = writer {
        let _ = w.0.kill();
        let _ = w.0.wait();
    }
    let _ = owner.0.kill();
    let _ = owner.0.wait();
    for f in [
        "state/openclaw.sqlite-shm",
        "agents/main/agent/openclaw-agent.sqlite-shm",
    ] {
        let _ = fs::remove_file(dir.join(f));
    }
}

fn main() {
    let places = env_or("ZAKI_BENCH_SQLITE_PLACES", 10_000);
    let tmp = tempfile::tempdir().unwrap();
    let tpl = tmp.path().join("template");
    template(&tpl);
    let users = tmp.path().join("users");
    let started = Instant::now();
    for i in 0..places {
        let u = users.join(format!("user-{i}/.openclaw"));
        for (sub, name) in [
            ("state", "openclaw.sqlite"),
            ("agents/main/agent", "openclaw-agent.sqlite"),
        ] {
            fs::create_dir_all(u.join(sub)).unwrap();
            for suffix in ["", "-wal"] {
                let f = format!("{sub}/{name}{suffix}");
                fs::copy(tpl.join(&f), u.join(&f)).unwrap();
            }
        }
    }
    let hostile = users.join(format!("user-{places}/.openclaw"));
    fs::create_dir_all(hostile.join("state")).unwrap();
    fs::create_dir_all(hostile.join("agents/main/agent")).unwrap();
    for f in [
        "state/openclaw.sqlite",
        "agents/main/agent/openclaw-agent.sqlite",
    ] {
        fs::copy(tpl.join(f), hostile.join(f)).unwrap();
    }
    nix::unistd::mkfifo(
        &hostile.join("state/openclaw.sqlite-journal"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    let db_bytes: u64 = ["state/openclaw.sqlite", "state/openclaw.sqlite-wal"]
        .iter()
        .chain(&[
            "agents/main/agent/openclaw-agent.sqlite",
            "agents/main/agent/openclaw-agent.sqlite-wal",
        ])
        .map(|f| fs::metadata(tpl.join(f)).unwrap().len())
        .sum();
    println!(
        "sqlite bench: {places} SQLite-era places + 1 hostile, {} KiB of databases each, made in {:.1?}",
        db_bytes / 1024,
        started.elapsed()
    );

    let (find_wall, find_cpu, _) =
        timed(Command::new("find").arg(&users).args(["-name", "*.sqlite"]));
    let (wall, cpu, o) = timed(
        Command::new(env!("CARGO_BIN_EXE_zaki-locks"))
            .args(["scan", "--no-containers", "--format", "json", "--users-dir"])
            .arg(&users)
            .env("ZAKI_LOCKS_RUN_LOCK", tmp.path().join("rl"))
            .env_remove("OPENCLAW_STATE_DIR"),
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    let all = report["places"].as_array().cloned().unwrap_or_default();
    let read = all
        .iter()
        .filter(|p| p["era"] == "sqlite" && p["error"].is_null())
        .count();
    let errors: Vec<String> = all
        .iter()
        .filter_map(|p| p["error"].as_str().map(str::to_owned))
        .collect();
    println!("find  : wall {find_wall:>9.3?}  cpu {find_cpu:>9.3?}");
    println!(
        "scan  : wall {wall:>9.3?}  cpu {cpu:>9.3?}  ({:.0} places/s; wall {:.1}× find's)",
        places as f64 / wall.as_secs_f64(),
        wall.as_secs_f64() / find_wall.as_secs_f64().max(1e-9)
    );
    println!(
        "read  : {read} of {places} places, orphan claims {}, errors {}: {errors:?}",
        report["summary"]["orphan_claims"],
        errors.len()
    );
    println!(
        "budget: 15 s on 2 cores: {}",
        if wall <= Duration::from_secs(15) {
            "met"
        } else {
            "MISSED"
        }
    );
    assert_eq!(read, places, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(errors.len(), 1, "only the hostile place: {errors:?}");
}
