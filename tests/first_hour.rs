//! Issue 22, second round: what the operator meets in the first hour, where they meet it.
//! Wedged locks under `clean --quiet` (cron mail, the journal), the summaries' counts, and the
//! smaller things of the command line.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;

/// A state dir with two locks held open past the threshold (wedged) by live processes.
fn wedged_root(tmp: &Path) -> (PathBuf, Vec<Proc>) {
    let root = tmp.join("state");
    let dir = root.join("agents/main/sessions");
    fs::create_dir_all(&dir).unwrap();
    let mut holders = Vec::new();
    for name in ["a", "b"] {
        let path = dir.join(format!("{name}.jsonl.lock"));
        let p = Proc::holding(&path);
        fs::write(&path, legacy_payload(p.pid(), 2 * 60 * MIN)).unwrap();
        set_mtime(&path, 2 * 60 * MIN);
        holders.push(p);
    }
    (root, holders)
}

fn quiet_clean(tmp: &Path, root: &Path, format: &str) -> std::process::Output {
    run(zaki(tmp)
        .args([
            "clean",
            "--quiet",
            "--no-containers",
            "--log-format",
            format,
        ])
        .arg("--root")
        .arg(root))
}

#[test]
fn a_wedged_lock_reaches_cron_mail_and_the_journal() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, holders) = wedged_root(tmp.path());
    let pids: Vec<String> = holders.iter().map(|h| h.pid().to_string()).collect();

    // kv (journald): one line each on stderr with the fix, and a summary that counts them.
    let o = quiet_clean(tmp.path(), &root, "kv");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "one line per wedged lock:\n{err}");
    for (line, pid) in lines.iter().zip(&pids) {
        assert!(line.contains("event=needs-human status=wedged"), "{line}");
        assert!(
            line.contains(&format!("fix=\"restart process {pid}\"")),
            "{line}"
        );
    }
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1, "only the summary on stdout:\n{out}");
    for kv in ["held=2", "wedged=2", "needs_human=2", "removed=0"] {
        assert!(out.contains(&format!(" {kv} ")), "{kv} missing: {out}");
    }

    // Human (cron mail): the same on stderr, the summary names them.
    let o = quiet_clean(tmp.path(), &root, "human");
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 2, "{err}");
    for (line, pid) in err.lines().zip(&pids) {
        assert!(line.starts_with("zaki-locks: needs a human: "), "{line}");
        assert!(line.contains(" is wedged ["), "{line}");
        assert!(!line.contains("wedged: wedged"), "doubled: {line}");
        assert!(
            line.ends_with(&format!("to fix: restart process {pid}")),
            "{line}"
        );
    }
    let out = stdout(&o);
    assert!(out.contains("0 removed, 2 kept (2 wedged)"), "{out}");
    assert!(out.trim_end().ends_with("; 2 need a human"), "{out}");

    // JSON lines: a parseable object per lock, with its fix.
    let o = quiet_clean(tmp.path(), &root, "json");
    for line in stderr(&o).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["event"], "needs-human");
        assert!(v["fix"].as_str().unwrap().starts_with("restart process "));
    }
    let summary: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(
        (summary["wedged"].as_u64(), summary["needs_human"].as_u64()),
        (Some(2), Some(2))
    );

    // The JSON report counts them and carries the fix.
    let o = run(zaki(tmp.path())
        .args(["clean", "--no-containers", "--format", "json", "--root"])
        .arg(&root));
    let r = json(&o);
    assert_eq!(r["summary"]["needs_human"], 2, "{r:#}");
    assert_eq!(r["summary"]["wedged"], 2);
    let fix = format!("restart process {}", pids[0]);
    assert_eq!(by_name(&r)["a.jsonl.lock"]["fix"], fix.as_str());

    // Without --quiet the log names them on stdout, nothing doubled.
    let o = run(zaki(tmp.path())
        .args([
            "clean",
            "--no-containers",
            "--log-format",
            "human",
            "--root",
        ])
        .arg(&root));
    let out = stdout(&o);
    assert_eq!(out.matches("wedged=yes").count(), 2, "{out}");
    assert!(!out.contains("wedged: wedged"), "{out}");
    assert!(out.contains(&fix), "{out}");
    drop(holders);

    // Once the holders are gone, nothing needs a human and --quiet is quiet again.
    let o = quiet_clean(tmp.path(), &root, "kv");
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    assert!(stdout(&o).contains(" removed=2 "), "{}", stdout(&o));
    let o = quiet_clean(tmp.path(), &root, "kv");
    assert_eq!((stdout(&o).as_str(), stderr(&o).as_str()), ("", ""));
}
