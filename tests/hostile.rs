//! Hostile and broken input on real files: odd names, huge and malformed payloads, a state dir
//! on another filesystem, a read-only filesystem at removal time. Each gives a clear finding or
//! one line and an exit code; nothing panics, memory stays bounded, nothing live is removed.

use crate::common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

fn sessions(root: &Path) -> PathBuf {
    let d = root.join("agents/main/sessions");
    fs::create_dir_all(&d).unwrap();
    d
}

fn clean(tmp: &Path, root: &Path, extra: &[&str]) -> std::process::Output {
    run(zaki(tmp)
        .args(["clean", "--no-containers", "--format", "json"])
        .args(extra)
        .arg("--root")
        .arg(root))
}

#[test]
fn every_malformed_payload_is_a_finding_and_only_the_old_ones_go() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("state");
    let dir = sessions(&root);
    let live = Proc::sleep();
    // The live owner of the future-dated lock holds it open, as OpenClaw does.
    let holder = Proc::holding(&dir.join("future-date.jsonl.lock"));
    let now = created_at(Duration::ZERO);
    let payloads: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("whitespace", b"  \n\t ".to_vec()),
        ("not-utf8", vec![0xff, 0xfe, b'{', 0x80]),
        ("array", b"[1,2,3]".to_vec()),
        (
            "pid-string",
            format!("{{\"pid\": \"{}\", \"createdAt\": \"{now}\"}}", live.pid()).into_bytes(),
        ),
        (
            "pid-negative",
            format!("{{\"pid\": -5, \"createdAt\": \"{now}\"}}").into_bytes(),
        ),
        (
            "pid-float",
            format!("{{\"pid\": 12.5, \"createdAt\": \"{now}\"}}").into_bytes(),
        ),
        (
            "pid-huge",
            b"{\"pid\": 99999999999999999999999, \"createdAt\": \"2099-01-01T00:00:00Z\"}".to_vec(),
        ),
        ("deep", "[".repeat(3000).into_bytes()),
        (
            "unparsable-date",
            format!("{{\"pid\": {}, \"createdAt\": \"yesterday\"}}", live.pid()).into_bytes(),
        ),
        (
            "future-date",
            format!(
                "{{\"pid\": {}, \"createdAt\": \"2099-01-01T00:00:00Z\"}}",
                holder.pid()
            )
            .into_bytes(),
        ),
    ];
    for (name, body) in &payloads {
        fs::write(dir.join(format!("{name}.jsonl.lock")), body).unwrap();
    }
    // Fresh: only the huge pid is stale (no such process can exist); the rest wait for their
    // mtime (payload faults only) or are held by a live owner.
    let o = clean(tmp.path(), &root, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = json(&o);
    let seen = by_name(&r);
    assert_eq!(seen.len(), payloads.len(), "{r:#}");
    assert_eq!(seen["pid-huge.jsonl.lock"]["action"], "removed");
    assert_eq!(seen["pid-huge.jsonl.lock"]["owner_state"], "dead");
    assert_eq!(seen["future-date.jsonl.lock"]["action"], "kept");
    assert!(
        seen["future-date.jsonl.lock"]["note"]
            .as_str()
            .unwrap()
            .contains("future")
    );
    for name in ["empty", "whitespace", "not-utf8", "array", "deep"] {
        let l = &seen[&format!("{name}.jsonl.lock")];
        assert_eq!(l["action"], "kept", "{name}: {l:#}");
        assert_eq!(
            l["reasons"],
            serde_json::json!(["missing-pid", "invalid-createdAt"]),
            "{name}"
        );
        assert!(
            l["note"].as_str().unwrap().contains("being created"),
            "{name}"
        );
    }
    for name in ["pid-string", "pid-negative", "pid-float"] {
        let l = &seen[&format!("{name}.jsonl.lock")];
        assert_eq!(l["action"], "kept", "{name}: {l:#}");
        assert_eq!(l["reasons"], serde_json::json!(["missing-pid"]), "{name}");
    }
    let l = &seen["unparsable-date.jsonl.lock"];
    assert_eq!(
        (l["action"].as_str(), l["owner_state"].as_str()),
        (Some("kept"), Some("alive"))
    );
    assert_eq!(l["reasons"], serde_json::json!(["invalid-createdAt"]));
    // An hour later (by mtime) every payload-only fault is stale and goes; the live ones stay.
    for (name, _) in &payloads {
        let p = dir.join(format!("{name}.jsonl.lock"));
        if p.exists() {
            set_mtime(&p, 2 * 30 * MIN);
        }
    }
    let o = clean(tmp.path(), &root, &[]);
    assert_eq!(o.status.code(), Some(0));
    let left: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut left = left;
    left.sort();
    // A live owner with an unreadable createdAt is stale only by mtime (and holds nothing open);
    // a future createdAt whose live owner holds it open is kept.
    assert_eq!(left, ["future-date.jsonl.lock"]);
}

#[test]
fn a_100_mb_lock_is_read_no_further_than_the_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("state");
    let dir = sessions(&root);
    let big = dir.join("big.jsonl.lock");
    let f = fs::File::create(&big).unwrap();
    f.set_len(100 * 1024 * 1024).unwrap();
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "ulimit -v 200000; exec {} scan --no-containers --format json --root {}",
            bin().display(),
            root.display()
        ))
        .env("ZAKI_LOCKS_RUN_LOCK", tmp.path().join("rl"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let l = &by_name(&json(&o))["big.jsonl.lock"];
    assert_eq!(l["size"], 100 * 1024 * 1024);
    assert!(l["content"].as_str().unwrap().len() <= 4097);
    assert_eq!(
        l["stale"], false,
        "a fresh oversized file may be a lock being written"
    );
}

#[test]
fn non_utf8_names_are_reported_and_removed_like_any_other() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("state");
    let agent = root.join("agents").join(OsStr::from_bytes(b"ag\xffent"));
    let dir = agent.join("sessions");
    fs::create_dir_all(&dir).unwrap();
    let name = OsStr::from_bytes(b"s\xfe\xff.jsonl.lock");
    fs::write(dir.join(name), legacy_payload(dead_pid(), Duration::ZERO)).unwrap();
    let o = clean(tmp.path(), &root, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = json(&o);
    assert_eq!(r["summary"]["removed"], 1, "{r:#}");
    assert!(r["locks"][0]["path"].as_str().unwrap().contains('\u{fffd}'));
    assert!(!dir.join(name).exists());
}

#[test]
fn a_state_dir_on_another_filesystem_and_a_read_only_one() {
    require_root("it mounts a tmpfs");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("state");
    with_tmpfs(&root, "size=16m", || {
        let dir = sessions(&root);
        let live = Proc::sleep();
        fs::write(
            dir.join("dead.jsonl.lock"),
            legacy_payload(dead_pid(), Duration::ZERO),
        )
        .unwrap();
        fs::write(
            dir.join("live.jsonl.lock"),
            legacy_payload(live.pid(), Duration::ZERO),
        )
        .unwrap();
        fs::write(
            dir.join("dead2.jsonl.lock"),
            legacy_payload(dead_pid(), Duration::ZERO),
        )
        .unwrap();
        // Read-only at removal time: each failure is one line, exit 1, nothing half-done.
        assert!(
            Command::new("mount")
                .args(["-o", "remount,ro"])
                .arg(&root)
                .status()
                .unwrap()
                .success()
        );
        let o = clean(tmp.path(), &root, &[]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 2, "{err}");
        assert!(
            err.lines()
                .all(|l| l.contains("cannot remove stale lock") && l.contains("Read-only")),
            "{err}"
        );
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 3);
        // Writable again (another filesystem than the tests' temp dir): the job gets done.
        assert!(
            Command::new("mount")
                .args(["-o", "remount,rw"])
                .arg(&root)
                .status()
                .unwrap()
                .success()
        );
        let o = clean(tmp.path(), &root, &[]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(json(&o)["summary"]["removed"], 2);
        assert!(dir.join("live.jsonl.lock").exists());
        drop(live);
    });
}

/// Fills the filesystem holding `dir` to the last byte.
fn fill(dir: &Path) {
    let mut f = fs::File::create(dir.join("fill")).unwrap();
    let block = vec![0u8; 64 * 1024];
    while std::io::Write::write_all(&mut f, &block).is_ok() {}
    while std::io::Write::write_all(&mut f, &[0u8]).is_ok() {}
}

#[test]
fn a_full_disk_does_not_stop_removal_and_a_metrics_file_that_cannot_be_written_is_one_line() {
    require_root("it mounts a tmpfs");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("state");
    let metrics = tmp.path().join("metrics");
    with_tmpfs(&root, "size=16m", || {
        with_tmpfs(&metrics, "size=16m", || {
            let dir = sessions(&root);
            fs::write(
                dir.join("dead.jsonl.lock"),
                legacy_payload(dead_pid(), Duration::ZERO),
            )
            .unwrap();
            fill(&root);
            fill(&metrics);
            let m = metrics.join("m.prom");
            let o = clean(tmp.path(), &root, &["--metrics-file", m.to_str().unwrap()]);
            assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
            let err = stderr(&o);
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(
                err.contains("cannot write the metrics file") && err.contains("No space left"),
                "{err}"
            );
            assert_eq!(json(&o)["summary"]["removed"], 1, "removal needs no space");
            assert!(!dir.join("dead.jsonl.lock").exists());
            let names: Vec<_> = fs::read_dir(&metrics)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(names, ["fill"], "no metrics file, no temp file left");
        });
    });
}
