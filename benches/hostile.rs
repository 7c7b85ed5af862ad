//! `cargo bench --bench hostile`: 10,000 users in the platform's layout (`user-<id>/.openclaw`,
//! one stale lock and a small store each) plus one hostile tenant doing everything issue 11
//! lists at once: a 64 MiB `sessions.json` hard-linked into four agents, 200,000 lock files in
//! one sessions dir, FIFOs, a device node and symlinks with lock names, symlinked agent dirs,
//! and control characters in names and payloads. Then `scan` and `clean` of the whole users dir
//! from the host. Prints wall time and peak memory (the budget: under 60 s and 200 MB) and the
//! errors that name the bounds; asserts only that the other tenants were cleaned.
//!
//! Environment: ZAKI_BENCH_USERS (default 10,000), ZAKI_BENCH_HOSTILE_LOCKS (200,000),
//! ZAKI_BENCH_STORE_MIB (64).

#[path = "../tests/common/mod.rs"]
mod common;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn peak_child_rss_kib() -> i64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .map(|u| u.max_rss())
        .unwrap_or(-1)
}

fn hostile_tenant(state: &Path, locks: usize, store_mib: usize, dead: u32) {
    let agents = state.join("agents");
    // A store of small entries, the worst shape for memory, in four agents by hard link.
    let first = agents.join("a0/sessions");
    fs::create_dir_all(&first).unwrap();
    {
        let mut f = std::io::BufWriter::new(fs::File::create(first.join("sessions.json")).unwrap());
        f.write_all(b"{").unwrap();
        let (mut n, mut written) = (0u64, 1usize);
        while written < store_mib * 1024 * 1024 - 100 {
            let e = format!("\"agent:main:openai-user:{n}\":{{\"sessionId\":\"s{n}\"}},");
            written += e.len();
            f.write_all(e.as_bytes()).unwrap();
            n += 1;
        }
        f.write_all(b"\"k\":{\"sessionId\":\"s0\"}}").unwrap();
    }
    for a in 0..4 {
        let d = agents.join(format!("a{a}/sessions"));
        fs::create_dir_all(&d).unwrap();
        if a > 0 {
            fs::hard_link(first.join("sessions.json"), d.join("sessions.json")).unwrap();
        }
        fs::write(
            d.join("s0.jsonl.lock"),
            common::legacy_payload(dead, Duration::ZERO),
        )
        .unwrap();
    }
    // Lock files by the hundred thousand.
    let flood = agents.join("flood/sessions");
    fs::create_dir_all(&flood).unwrap();
    for i in 0..locks {
        fs::File::create(flood.join(format!("{i}.jsonl.lock"))).unwrap();
    }
    // Special files with lock names, symlinks out, control characters.
    let odd = agents.join("odd\n\u{1b}]0;x\u{7}/sessions");
    fs::create_dir_all(&odd).unwrap();
    let mode = nix::sys::stat::Mode::from_bits_truncate(0o644);
    nix::unistd::mkfifo(&odd.join("fifo.jsonl.lock"), mode).unwrap();
    nix::unistd::mkfifo(&odd.join("sessions.json"), mode).unwrap();
    nix::sys::stat::mknod(
        &odd.join("dev.jsonl.lock"),
        nix::sys::stat::SFlag::S_IFCHR,
        mode,
        nix::sys::stat::makedev(1, 3),
    )
    .unwrap();
    std::os::unix::fs::symlink("/etc/shadow", odd.join("shadow.jsonl.lock")).unwrap();
    std::os::unix::fs::symlink("/", agents.join("root")).unwrap();
    fs::write(odd.join("esc.jsonl.lock"), "\u{1b}[2J\u{1b}]0;pwned\u{7}").unwrap();
}

fn main() {
    let users = env_or("ZAKI_BENCH_USERS", 10_000);
    let hostile_locks = env_or("ZAKI_BENCH_HOSTILE_LOCKS", 200_000);
    let store_mib = env_or("ZAKI_BENCH_STORE_MIB", 64);
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("users");
    let dead = common::dead_pid();
    let started = Instant::now();
    let stale = common::legacy_payload(dead, Duration::from_secs(3600));
    for u in 0..users {
        let d = root.join(format!("user-{u}/.openclaw/agents/main/sessions"));
        fs::create_dir_all(&d).unwrap();
        let sid = format!("{u:08}-4f1c-9a7e-3d2b1c0a9f8e");
        fs::write(
            d.join("sessions.json"),
            format!("{{\"agent:main:openai-user:{u}\":{{\"sessionId\":\"{sid}\"}}}}"),
        )
        .unwrap();
        fs::write(d.join(format!("{sid}.jsonl.lock")), &stale).unwrap();
    }
    hostile_tenant(
        &root.join("user-hostile/.openclaw"),
        hostile_locks,
        store_mib,
        dead,
    );
    println!(
        "{users} users + 1 hostile tenant ({hostile_locks} locks in one dir, a {store_mib} MiB store in 4 agents), generated in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let run_lock = tmp.path().join("run.lock");
    let zaki = |args: &[&str]| {
        let mut c = Command::new(common::bin());
        c.args(args)
            .args(["--no-containers", "--format", "json", "--users-dir"])
            .arg(&root)
            .env("ZAKI_LOCKS_RUN_LOCK", &run_lock)
            .stdin(Stdio::null());
        c
    };
    for (label, args) in [
        ("scan", vec!["scan"]),
        ("clean (removes the 10,000 stale locks)", vec!["clean"]),
    ] {
        let t = Instant::now();
        let o = zaki(&args).output().unwrap();
        let took = t.elapsed();
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
        println!(
            "{label:<42} {:6.2} s  exit {:?}  locks {}  removed {}  errors {}",
            took.as_secs_f64(),
            o.status.code(),
            r["summary"]["locks"],
            r["summary"]["removed"],
            r["summary"]["errors"],
        );
        for line in String::from_utf8_lossy(&o.stderr).lines().take(12) {
            println!("    {}", line.chars().take(200).collect::<String>());
        }
    }
    println!(
        "peak RSS of any run: {:.1} MB",
        peak_child_rss_kib() as f64 / 1024.0
    );
    let left = (0..users)
        .filter(|u| {
            root.join(format!(
                "user-{u}/.openclaw/agents/main/sessions/{u:08}-4f1c-9a7e-3d2b1c0a9f8e.jsonl.lock"
            ))
            .exists()
        })
        .count();
    println!("other tenants' stale locks left: {left}");
    assert_eq!(left, 0, "every other tenant was cleaned");
}
