//! `cargo bench --bench users`: peak memory at the platform's scale (issue 21: at most 100 MB
//! at 50,000 users). A users dir in the platform's layout (`user-<id>/.openclaw`, 20 sessions
//! with a `sessions.json`, and 2 stale locks each: 100,000 locks), then `scan` (table and
//! JSON) and `clean --dry-run` (summary, and a log line a lock) of it with `--users-dir`, each
//! paired with `find` in the same run: wall time, CPU time and peak RSS of each run (`wait4`).
//! Prints its figures and whether the memory target is met; asserts only the lock count.
//!
//! Environment: ZAKI_BENCH_USERS (default 50,000), ZAKI_BENCH_DIR (where to build the tree;
//! default a temporary dir, removed afterwards; an existing tree there is reused).

#[path = "../tests/common/mod.rs"]
mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The memory target of issue 21 at 50,000 users.
const TARGET_MB: f64 = 100.0;

fn users() -> usize {
    std::env::var("ZAKI_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000)
}

/// `n` users below `dir`, each with 20 sessions and 2 stale locks (dead pid, a month old).
fn generate(dir: &Path, n: usize) {
    let lock = common::legacy_payload(common::dead_pid(), Duration::from_secs(30 * 86_400));
    for u in 0..n {
        let id = 100_000 + u;
        let state = dir.join(format!("user-{id}/.openclaw"));
        let sessions = state.join("agents/main/sessions");
        fs::create_dir_all(&sessions).unwrap();
        fs::write(
            state.join("openclaw.json"),
            "{\"gateway\":{\"port\":18789}}",
        )
        .unwrap();
        let mut store = String::from("{");
        for s in 0..20 {
            let sid = format!("{id:06}-{s:04}-4f1c-9a7e-3d2b1c0a9f8e");
            fs::write(
                sessions.join(format!("{sid}.jsonl")),
                "{\"type\":\"session\"}\n",
            )
            .unwrap();
            if s < 2 {
                fs::write(sessions.join(format!("{sid}.jsonl.lock")), &lock).unwrap();
            }
            let comma = if s > 0 { "," } else { "" };
            store.push_str(&format!(
                "{comma}\"agent:main:openai-user:{id}-{s}\":{{\"sessionId\":\"{sid}\",\"updatedAt\":1764000000000}}"
            ));
        }
        store.push('}');
        fs::write(sessions.join("sessions.json"), store).unwrap();
    }
}

/// One run of `cmd`, output discarded: wall time, CPU time (user + system) and peak RSS in KiB,
/// from `wait4` on that very child.
fn measure(mut cmd: Command) -> (Duration, Duration, i64) {
    use std::os::unix::process::ExitStatusExt;
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let start = Instant::now();
    // Reaped by the `wait4` below, which also gives its own rusage (`Child::wait` does not).
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid, and wait4 writes at most one into it.
    let mut ru: nix::libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `child` is our unwaited child; `status` and `ru` are valid for writes.
    let r = unsafe { nix::libc::wait4(child.id() as i32, &mut status, 0, &mut ru) };
    let wall = start.elapsed();
    assert_eq!(r, child.id() as i32, "wait4");
    let code = std::process::ExitStatus::from_raw(status).code();
    assert!(code.is_some_and(|c| c <= 1), "exit {code:?}");
    let tv = |t: nix::libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (wall, tv(ru.ru_utime) + tv(ru.ru_stime), ru.ru_maxrss)
}

fn main() {
    let n = users();
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("ZAKI_BENCH_DIR")
        .map_or_else(|| tmp.path().join("users"), std::path::PathBuf::from);
    let started = Instant::now();
    if !dir.join(format!("user-{}", 100_000 + n - 1)).exists() {
        generate(&dir, n);
    }
    println!(
        "tree: {n} users x 20 sessions, {} stale locks, in {} (ready in {:.1}s)",
        2 * n,
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    let zaki = |args: &[&str]| {
        let mut c = Command::new(common::bin());
        c.args(args)
            .args(["--no-containers", "--users-dir"])
            .arg(&dir)
            .env("ZAKI_LOCKS_RUN_LOCK", tmp.path().join("rl"));
        c
    };
    let find = || {
        let mut c = Command::new("find");
        c.arg(&dir).args(["-name", "*.jsonl.lock"]);
        c
    };
    measure(find()); // a warm cache for everyone
    let runs: [(&str, &[&str]); 4] = [
        ("scan (table)", &["scan"]),
        ("scan --format json", &["scan", "--format", "json"]),
        ("clean --dry-run", &["clean", "--dry-run"]),
        (
            "clean --dry-run --log-format kv",
            &["clean", "--dry-run", "--log-format", "kv"],
        ),
    ];
    let mut peak_all = 0;
    for (label, args) in runs {
        let (fw, fc, _) = measure(find());
        let (w, c, rss) = measure(zaki(args));
        peak_all = peak_all.max(rss);
        println!(
            "{label:<32} wall {:6.2} s (find {:5.2}) cpu {:6.2} s (find {:5.2})  peak RSS {:6.1} MB [<= {TARGET_MB} MB {}]",
            w.as_secs_f64(),
            fw.as_secs_f64(),
            c.as_secs_f64(),
            fc.as_secs_f64(),
            rss as f64 / 1024.0,
            if rss as f64 / 1024.0 <= TARGET_MB {
                "met"
            } else {
                "NOT met"
            }
        );
    }
    println!("peak RSS of any run: {:.1} MB", peak_all as f64 / 1024.0);
    let o = zaki(&["scan", "--format", "json"]).output().unwrap();
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["summary"]["locks"], 2 * n, "every lock found");
}
