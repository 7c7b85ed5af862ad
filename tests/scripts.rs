//! The scripts run inside containers (`src/scripts/*.sh`): shellcheck-clean as POSIX sh, and
//! the observe script's pid lookup (taken from the one read of each lock) the same under the
//! host's `sh` (dash, as in Debian images) and busybox (as in the platform's Alpine image).

use crate::common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::Proc;
use common::docker;
use zaki_locks::observe::container::{OBSERVE_SCRIPT, PUT_BACK_SCRIPT, REMOVE_SCRIPT};
use zaki_locks::sys::docker::{HOLD_SCRIPT, KILL_SCRIPT};

fn scripts() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/scripts");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sh"))
        .collect();
    files.sort();
    files
}

fn shellcheck(args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = Command::new("shellcheck");
    c.args(["-s", "sh", "-f", "gcc"]).args(args);
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    assert!(
        Command::new("sh")
            .args(["-c", "command -v shellcheck"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success()),
        "shellcheck does not run: `apt-get install shellcheck` (scripts/test.sh does)"
    );
    let mut child = Proc::spawn(&mut c);
    if let Some(text) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output()
}

#[test]
fn every_container_script_is_shellcheck_clean() {
    let files = scripts();
    // Every script the binary runs is made of files here, and every file here is in one of them:
    // the remove and put-back scripts share one re-check (recheck.sh) put before each.
    let consts = [
        ("observe", OBSERVE_SCRIPT, &["observe.sh"][..]),
        ("remove", REMOVE_SCRIPT, &["recheck.sh", "remove.sh"][..]),
        (
            "put back",
            PUT_BACK_SCRIPT,
            &["recheck.sh", "put_back.sh"][..],
        ),
        ("kill", KILL_SCRIPT, &["kill.sh"][..]),
        ("hold", HOLD_SCRIPT, &["hold.sh"][..]),
    ];
    let names: BTreeSet<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    let used: BTreeSet<String> = consts
        .iter()
        .flat_map(|(_, _, parts)| parts.iter().map(|p| (*p).to_owned()))
        .collect();
    assert_eq!(
        names, used,
        "src/scripts/*.sh and the scripts the binary runs"
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/scripts");
    for (what, script, parts) in consts {
        let body: String = parts
            .iter()
            .map(|p| fs::read_to_string(dir.join(p)).unwrap())
            .collect();
        assert_eq!(script, body, "the {what} script is not {parts:?}");
    }
    let paths: Vec<&str> = files.iter().map(|f| f.to_str().unwrap()).collect();
    let o = shellcheck(&paths, None);
    assert!(
        o.status.success(),
        "shellcheck -s sh src/scripts/*.sh:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    // And each script as it runs, its parts together (a variable one part sets and another
    // reads is only seen so).
    for (what, script, _) in consts {
        let o = shellcheck(&["-"], Some(script));
        assert!(
            o.status.success(),
            "shellcheck -s sh on the {what} script:\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // The same call does reject the faults it is here for: a variable never set, a word split.
    let o = shellcheck(
        &["-"],
        Some("for p in $pids; do case \" $seen \" in *\" $p \"*) ;; esac; done\nrm $1\n"),
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("SC2154") && out.contains("SC2086"), "{out}");
}

/// The `pid` lines of an observe listing: pid → what the script said (`status`, `gone`, …).
fn pid_lines(out: &str) -> BTreeSet<(u64, String)> {
    out.lines()
        .filter_map(|l| {
            let mut w = l.split(' ');
            (w.next()? == "pid").then_some(())?;
            Some((w.next()?.parse().ok()?, w.next()?.to_owned()))
        })
        .collect()
}

#[test]
fn observe_finds_the_pid_in_what_it_read_of_each_lock_under_dash_and_busybox() {
    docker::require();
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let sessions = state.join("agents/main/sessions");
    fs::create_dir_all(&sessions).unwrap();
    let live = common::Proc::sleep();
    let other = common::Proc::sleep();
    let dead = common::dead_pid();
    let write = |name: &str, body: &[u8]| fs::write(sessions.join(name), body).unwrap();
    let a = common::legacy_payload(live.pid(), common::MIN);
    write("a.jsonl.lock", a.as_bytes());
    // A newline inside the number's way and the last `"pid"` wins, as before the one-read change.
    write(
        "b.jsonl.lock",
        format!("{{\"x\":\"pid\",\"pid\":\n{dead}}}").as_bytes(),
    );
    // Over 4 KiB: 4097 bytes are read, the pid is in them.
    let big = format!(
        "{{\"pid\":{},\"pad\":\"{}\"}}",
        other.pid(),
        "x".repeat(5000)
    );
    write("c.jsonl.lock", big.as_bytes());
    // No pid at all, and bytes a text tool may choke on.
    let d = b"\0\xff{\"pod\":12}\n";
    write("d.jsonl.lock", d);
    let want: BTreeSet<(u64, String)> = [
        (u64::from(live.pid()), "status".to_owned()),
        (u64::from(live.pid()), "stat".to_owned()),
        (u64::from(other.pid()), "status".to_owned()),
        (u64::from(other.pid()), "stat".to_owned()),
        (u64::from(dead), "gone".to_owned()),
    ]
    .into();
    // A container's environment reaches the exec: a `seen` there must not hide any pid.
    let seen = format!(" {} {} {dead} ", live.pid(), other.pid());

    let host = Command::new("sh")
        .args(["-c", OBSERVE_SCRIPT, "sh"])
        .arg(&state)
        .env("seen", &seen)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let bind = docker::bind(&state, "/home/node/.openclaw:ro");
    let name = docker::unique("zt-scripts-");
    let in_busybox = docker::docker(&[
        "run",
        "--rm",
        "--name",
        &name,
        "--label",
        &docker::run_label(),
        "--network",
        "none",
        "--pid",
        "host",
        "-e",
        &format!("seen={seen}"),
        "-v",
        &bind,
        docker::BUSYBOX,
        "sh",
        "-c",
        OBSERVE_SCRIPT,
        "sh",
        "/home/node/.openclaw",
    ]);
    for (what, o) in [("host sh", host), ("busybox", in_busybox)] {
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{what}: {out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(pid_lines(&out), want, "{what}:\n{out}");
        let l = zaki_locks::observe::container::parse_listing(&out).unwrap();
        let sizes: Vec<(String, usize)> = l
            .locks
            .iter()
            .map(|r| {
                let name = r.path.rsplit('/').next().unwrap().to_owned();
                (name, r.file.as_ref().unwrap().content.len())
            })
            .collect();
        let expect = [
            ("a.jsonl.lock", a.len()),
            (
                "b.jsonl.lock",
                fs::metadata(sessions.join("b.jsonl.lock")).unwrap().len() as usize,
            ),
            ("c.jsonl.lock", 4097),
            ("d.jsonl.lock", d.len()),
        ];
        let expect: Vec<(String, usize)> =
            expect.iter().map(|(n, s)| ((*n).to_owned(), *s)).collect();
        assert_eq!(sizes, expect, "{what}");
    }
}
