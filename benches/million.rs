//! `cargo bench --bench million`: one sessions dir with a million entries (transcripts, and a
//! lock every 1,000th), then `zaki-locks scan` and `clean --dry-run` of it: wall time and peak
//! memory, against `find` on the same warm cache. Prints its figures; asserts only the count.
//!
//! Environment: ZAKI_BENCH_ENTRIES (default 1,000,000).

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Command, Stdio};
use std::time::Instant;

fn main() {
    let n: usize = std::env::var("ZAKI_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("state");
    let dir = root.join("agents/main/sessions");
    std::fs::create_dir_all(&dir).unwrap();
    let started = Instant::now();
    let dead = common::dead_pid();
    let lock = common::legacy_payload(dead, std::time::Duration::ZERO);
    for i in 0..n {
        if i % 1000 == 0 {
            std::fs::write(dir.join(format!("{i:07}.jsonl.lock")), &lock).unwrap();
        } else {
            std::fs::File::create(dir.join(format!("{i:07}.jsonl"))).unwrap();
        }
    }
    println!(
        "{n} entries in one sessions dir, created in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let run = |label: &str, cmd: &mut Command| {
        cmd.stdout(Stdio::null());
        cmd.status().unwrap(); // warm
        let started = Instant::now();
        let status = cmd.status().unwrap();
        println!(
            "{label:<40} {:8.3} s  (exit {status})",
            started.elapsed().as_secs_f64()
        );
    };
    run(
        "find <dir> -name '*.jsonl.lock'",
        Command::new("find")
            .arg(&dir)
            .args(["-name", "*.jsonl.lock"]),
    );
    let zaki = |args: &[&str]| {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "  peak RSS %M KiB"])
            .arg(common::bin())
            .args(args)
            .args(["--no-containers", "--format", "json", "--root"])
            .arg(&root)
            .env("ZAKI_LOCKS_RUN_LOCK", tmp.path().join("rl"));
        c
    };
    run("zaki-locks scan", &mut zaki(&["scan"]));
    run(
        "zaki-locks clean --dry-run",
        &mut zaki(&["clean", "--dry-run"]),
    );
    let o = zaki(&["scan"]).output().unwrap();
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["summary"]["locks"], n.div_ceil(1000));
    println!("locks found: {}", r["summary"]["locks"]);
}
