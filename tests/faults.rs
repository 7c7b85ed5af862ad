//! Faults during `clean`: signals mid-run, read-only filesystems. Nothing live is removed, no
//! half-done removal is left behind, every problem is one line, the exit code says what happened.

use crate::common;

use std::fs;
use std::time::Duration;

use common::*;

/// A state dir with `n` stale (dead-owner) locks.
fn stale_tree(tmp: &std::path::Path, n: usize) -> std::path::PathBuf {
    let dir = tmp.join("state/agents/main/sessions");
    fs::create_dir_all(&dir).unwrap();
    let body = legacy_payload(dead_pid(), Duration::ZERO);
    for i in 0..n {
        fs::write(dir.join(format!("s{i:05}.jsonl.lock")), &body).unwrap();
    }
    dir
}

fn interrupted_clean(signal: nix::sys::signal::Signal, want: i32) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = stale_tree(tmp.path(), 20_000);
    let child = Proc::spawn(
        zaki(tmp.path())
            .args(["clean", "--no-containers", "--format", "json", "--root"])
            .arg(tmp.path().join("state"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped()),
    );
    std::thread::sleep(Duration::from_millis(150));
    child.signal(signal);
    let o = child.wait_with_output();
    assert_eq!(o.status.code(), Some(want), "{}", stderr(&o));
    assert!(stderr(&o).contains("interrupted by"), "{}", stderr(&o));
    // Whole removals only: every lock is either gone or intact, no private name left behind.
    let left: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        left.iter()
            .all(|n| n.starts_with('s') && n.ends_with(".jsonl.lock")),
        "{left:?}"
    );
    let r = json(&o);
    let removed = r["summary"]["removed"].as_u64().unwrap() as usize;
    assert_eq!(removed + left.len(), 20_000, "the report matches the disk");
    // The run lock was released: the next run takes it at once and finishes the job.
    let o = run(zaki(tmp.path())
        .args(["clean", "--no-containers", "--wait", "0s", "--root"])
        .arg(tmp.path().join("state")));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
}

#[test]
fn sigint_during_clean_finishes_the_removal_under_way_and_exits_130() {
    interrupted_clean(nix::sys::signal::Signal::SIGINT, 130);
}

#[test]
fn sigterm_during_clean_exits_143() {
    interrupted_clean(nix::sys::signal::Signal::SIGTERM, 143);
}
