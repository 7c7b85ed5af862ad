//! Issue 22, second round: what the operator meets in the first hour, where they meet it.
//! Wedged locks under `clean --quiet` (cron mail, the journal), the summaries' counts, and the
//! smaller things of the command line.

use crate::common;

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

/// `clean --older-than 2m`: the error names the subcommand's usage (not the top level's) and
/// says what to type instead, fd-style.
#[test]
fn a_short_threshold_says_what_to_type() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(zaki(tmp.path()).args(["clean", "--older-than", "2m"]));
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("Usage: zaki-locks clean [OPTIONS]"), "{err}");
    assert!(!err.contains("<COMMAND>"), "top-level usage: {err}");
    let tip = "zaki-locks clean --older-than 2m --allow-short-threshold";
    assert!(err.contains(tip), "{err}");
    // What it says to type is taken.
    let o = run(zaki(tmp.path())
        .args(["clean", "--dry-run", "--no-containers", "--root"])
        .arg(tmp.path())
        .args(["--older-than", "2m", "--allow-short-threshold"]));
    assert_ne!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// A number without a unit: the message suggests only values the option takes.
#[test]
fn a_duration_without_a_unit_suggests_a_valid_value() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(zaki(tmp.path()).args(["watch", "--interval", "0"]));
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(!err.contains("write 0s"), "suggests a refused value: {err}");
    assert!(err.contains("from 1s to 1d"), "{err}");
    let interval = zaki_locks::cli::args::duration_in(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(86400),
    );
    assert!(interval("1s").is_ok() && interval("1d").is_ok());
    // Only the units that fit: --wait is at most 1h.
    let o = run(zaki(tmp.path()).args(["clean", "--wait", "90"]));
    let err = stderr(&o);
    assert!(
        err.contains("write 90s\n") || err.contains("write 90s "),
        "{err}"
    );
    assert!(!err.contains("90m"), "{err}");
}

/// A clean typed by hand while a watch (or another clean) holds the run lock says that it
/// waits, on stderr, instead of seeming to hang; `--quiet` (cron) stays quiet.
#[test]
fn a_clean_that_waits_for_the_run_lock_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let lock = tmp.path().join("run.lock");
    // A holder as the run lock has it: flocked, holding its pid.
    let mut holder = std::process::Command::new("flock")
        .arg(&lock)
        .arg("-c")
        .arg(format!("echo $$ > '{}'; exec sleep 2", lock.display()))
        .spawn()
        .expect("flock(1)");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while fs::read_to_string(&lock).map_or(true, |s| s.trim().is_empty()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the holder never wrote its pid"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let clean = |quiet: bool| {
        let mut c = zaki(tmp.path());
        c.args(["clean", "--no-containers", "--wait", "5s", "--root"])
            .arg(tmp.path());
        if quiet {
            c.arg("--quiet");
        }
        run(c)
    };
    let o = clean(false);
    let err = stderr(&o);
    assert!(err.contains("waiting up to 5s"), "{err}");
    assert!(err.contains("is held by pid"), "{err}");
    holder.wait().unwrap();
    // Not held any more: no word of waiting.
    let o = clean(true);
    assert!(!stderr(&o).contains("waiting"), "{}", stderr(&o));
}

/// The kernel keeps 15 bytes of a name (`openclaw-gatewa`): owners and holders are named by
/// their command line's first word instead.
#[test]
fn owners_are_named_in_full() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("state");
    let dir = root.join("agents/main/sessions");
    fs::create_dir_all(&dir).unwrap();
    let gateway = tmp.path().join("openclaw-gateway");
    fs::copy("/bin/sleep", &gateway).unwrap();
    let lock = dir.join("a.jsonl.lock");
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "exec 3>>'{}'; exec '{}' 600",
            lock.display(),
            gateway.display()
        ))
        .spawn()
        .unwrap();
    let pid = child.id();
    let comm = format!("/proc/{pid}/comm");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while fs::read_to_string(&comm).map_or(true, |c| c.trim() != "openclaw-gatewa") {
        assert!(std::time::Instant::now() < deadline, "never exec'd");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    fs::write(&lock, legacy_payload(pid, MIN)).unwrap();
    let o = run(zaki(tmp.path())
        .args(["scan", "--no-containers", "--format", "json", "--root"])
        .arg(&root));
    let _ = child.kill();
    let _ = child.wait();
    let r = json(&o);
    let l = &by_name(&r)["a.jsonl.lock"];
    assert_eq!(l["owner_name"], "openclaw-gateway", "{l:#}");
    assert_eq!(l["holders"][0]["comm"], "openclaw-gateway", "{l:#}");
}

/// What a lock nobody holds is: `unheld` while within the no-holder grace (not `held`); an
/// empty one past the grace is removed with a note that does not say it may be being created.
#[test]
fn an_unheld_lock_says_what_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("state");
    let dir = root.join("agents/main/sessions");
    fs::create_dir_all(&dir).unwrap();
    let live = Proc::sleep();
    fs::write(
        dir.join("fresh.jsonl.lock"),
        legacy_payload(live.pid(), std::time::Duration::ZERO),
    )
    .unwrap();
    fs::write(dir.join("empty.jsonl.lock"), "").unwrap();
    set_mtime(&dir.join("empty.jsonl.lock"), MIN);
    let o = run(zaki(tmp.path())
        .args(["scan", "--no-containers", "--format", "tsv", "--root"])
        .arg(&root));
    let out = stdout(&o);
    let fresh = out
        .lines()
        .find(|l| l.contains("fresh.jsonl.lock"))
        .unwrap();
    assert_eq!(fresh.split('\t').nth(1), Some("unheld"), "{out}");
    let o = run(zaki(tmp.path())
        .args(["clean", "--no-containers", "--format", "json", "--root"])
        .arg(&root));
    let r = json(&o);
    let empty = &by_name(&r)["empty.jsonl.lock"];
    assert_eq!(empty["action"], "removed", "{empty:#}");
    let note = empty["note"].as_str().unwrap();
    assert!(!note.contains("being created"), "{note}");
    assert!(!note.contains("stale once unmodified"), "{note}");
}
