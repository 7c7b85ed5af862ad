//! One tenant cannot stop cleaning for the fleet (issue 19). Each of the reproductions
//! done by a real tenant: a busybox container with Docker's default capabilities, its state
//! dir bind-mounted read-write from the platform's users dir, acting with mkfifo, mknod, a
//! write lease, a view, symlink swaps, from inside. Beside it, other users with stale locks.
//! Each asserts: the run ends within its bounds, the others' stale locks are removed, nothing
//! in the tenant's place (or where its symlinks point) is created or opened without `O_PATH`
//! or `O_NONBLOCK` (strace on the root process and its confined reader), and the place is an
//! error in the exit code, the JSON and the metrics.

use crate::common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::docker::{self, BUSYBOX, Container, unique};
use common::sqlite::{databases, files, live_owner};
use common::*;

const MIN: Duration = Duration::from_secs(60);

/// Users `user-1`..`user-3` (`user-<id>/.openclaw`, the platform's layout) with a stale lock each, and the tenant `user-9` with the SQLite
/// era's databases (an orphan claim) in a container of its own.
struct Fleet {
    tmp: tempfile::TempDir,
    users: PathBuf,
    tenant: PathBuf,
    container: Container,
    _owner: Proc,
}

impl Fleet {
    fn start() -> Fleet {
        docker::require();
        let tmp = tempfile::tempdir().unwrap();
        let users = tmp.path().join("users");
        let dead = dead_pid();
        for u in 1..=3 {
            let d = users.join(format!("user-{u}/.openclaw/agents/main/sessions"));
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("s.jsonl.lock"), legacy_payload(dead, 40 * MIN)).unwrap();
        }
        let tenant = users.join("user-9/.openclaw");
        let (owner, lease) = live_owner();
        databases(&tenant, lease, false);
        // The tenant: the host's python3 (for its sqlite3 and fcntl modules) in busybox.
        let bind = docker::bind(&tenant, "/home/node/.openclaw");
        let mut args = vec!["-v", bind.as_str()];
        args.extend(docker::host_python());
        let container = Container::run(&unique("zt-confine-"), &args, BUSYBOX, &["sleep", "3600"]);
        Fleet {
            tmp,
            users,
            tenant,
            container,
            _owner: owner,
        }
    }

    /// Runs `script` in the tenant's container, in its state dir.
    fn tenant(&self, script: &str) -> String {
        self.container
            .sh(&format!("cd /home/node/.openclaw && {script}"))
    }

    /// Starts `python3 -c code` in the tenant's container, in the background; waits for its
    /// first line.
    fn tenant_py(&self, code: &str) -> Proc {
        let mut child = Proc::spawn(
            Command::new("docker")
                .args(["exec", "-w", "/home/node/.openclaw"])
                .arg(&self.container.name)
                .args(["python3", "-u", "-c", code])
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
        );
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the tenant's script did not start");
        child
    }

    /// `clean` under strace (the root process and its confined reader), with metrics.
    fn clean(&self, extra: &[&str]) -> Run {
        let log = self.tmp.path().join("strace.log");
        let metrics = self.tmp.path().join("m.prom");
        let started = Instant::now();
        let o = run(Command::new("strace")
            .args(["-f", "-qq", "-e", "trace=%file", "-o"])
            .arg(&log)
            .arg(bin())
            .args([
                "clean",
                "--no-containers",
                "--format",
                "json",
                "--users-dir",
            ])
            .arg(&self.users)
            .arg("--metrics-file")
            .arg(&metrics)
            .args(extra)
            .env("ZAKI_LOCKS_RUN_LOCK", self.tmp.path().join("rl"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null()));
        Run {
            took: started.elapsed(),
            code: o.status.code(),
            report: serde_json::from_slice(&o.stdout).unwrap_or_default(),
            stderr: stderr(&o),
            strace: fs::read_to_string(&log).unwrap_or_default(),
            metrics: prometheus(&fs::read_to_string(&metrics).unwrap_or_default()),
        }
    }

    /// Every other user's stale lock is gone.
    fn others_cleaned(&self) -> bool {
        (1..=3).all(|u| {
            !self
                .users
                .join(format!(
                    "user-{u}/.openclaw/agents/main/sessions/s.jsonl.lock"
                ))
                .exists()
        })
    }

    fn put_back_others(&self) {
        let dead = dead_pid();
        for u in 1..=3 {
            let d = self
                .users
                .join(format!("user-{u}/.openclaw/agents/main/sessions"));
            fs::write(d.join("s.jsonl.lock"), legacy_payload(dead, 40 * MIN)).unwrap();
        }
    }
}

struct Run {
    took: Duration,
    code: Option<i32>,
    report: serde_json::Value,
    stderr: String,
    strace: String,
    metrics: std::collections::HashMap<String, f64>,
}

impl Run {
    /// The tenant's place in the JSON report.
    fn tenant_place(&self) -> &serde_json::Value {
        self.report["places"]
            .as_array()
            .and_then(|ps| {
                ps.iter().find(|p| {
                    p["state_dir"]
                        .as_str()
                        .is_some_and(|d| d.contains("user-9"))
                })
            })
            .unwrap_or_else(|| panic!("no place for user-9: {:#}", self.report))
    }

    fn place_errors(&self, reason: &str) -> f64 {
        let key = format!("zaki_locks_place_errors{{command=clean,reason={reason}}}");
        *self
            .metrics
            .get(&key)
            .unwrap_or_else(|| panic!("no {key}: {:?}", self.metrics))
    }

    /// The tenant's place is an error for `reason`: exit 1, in the JSON and in the metrics.
    fn assert_place_error(&self, reason: &str, says: &str) {
        assert_eq!(self.code, Some(1), "{}\n{:#}", self.stderr, self.report);
        let p = self.tenant_place();
        assert_eq!(p["error_reason"], reason, "{p:#}");
        let e = p["error"].as_str().unwrap_or_default();
        assert!(e.contains(says), "{e}");
        assert_eq!(self.place_errors(reason), 1.0);
        assert!(self.stderr.contains(says), "{}", self.stderr);
    }
}

/// The strace log's file calls: none opens (or creates) a name in the tenant's place without
/// `O_PATH` or `O_NONBLOCK`, none creates a file anywhere but the run's own (the run lock, the
/// metrics) and the confined reader's private copies (`db`, `db-wal`, …, in its tmpfs root).
fn assert_nothing_opened_or_created(log: &str, tenant: &Path) {
    let tenant = tenant.display().to_string();
    let names = [
        "openclaw.sqlite\"",
        "openclaw.sqlite-wal\"",
        "openclaw.sqlite-shm\"",
        "openclaw.sqlite-journal\"",
        "openclaw-agent.sqlite\"",
        "openclaw-agent.sqlite-wal\"",
        "openclaw-agent.sqlite-shm\"",
        "openclaw-agent.sqlite-journal\"",
    ];
    let mut seen = 0;
    for line in log.lines() {
        let open = line.contains("openat(") || line.contains("open(");
        if open && names.iter().any(|n| line.contains(n)) {
            seen += 1;
            assert!(
                line.contains("O_PATH") || line.contains("O_NONBLOCK"),
                "a tenant's file opened without O_PATH or O_NONBLOCK: {line}"
            );
            assert!(
                !line.contains("O_CREAT"),
                "created in the tenant's place: {line}"
            );
        }
        if line.contains("O_CREAT") {
            let own = [
                "db\"",
                "db-wal\"",
                "db-journal\"",
                "db-shm\"",
                "rl\"",
                "m.prom",
            ];
            assert!(
                own.iter().any(|o| line.contains(o)) && !line.contains(&tenant),
                "a file created: {line}"
            );
        }
        for call in ["mknod", "symlink", "link(", "linkat(", "mkdir"] {
            assert!(
                !(line.contains(call) && line.contains(&tenant)),
                "{call} in the tenant's place: {line}"
            );
        }
    }
    assert!(
        seen > 0,
        "strace saw no open of the tenant's databases at all"
    );
}

/// Runs `clean` with the tenant's trap in place and checks what every case shares (the
/// tenant's files are compared by the caller, who knows when they can be read).
fn trapped(f: &Fleet, extra: &[&str], bound: Duration) -> Run {
    let r = f.clean(extra);
    assert!(r.took < bound, "took {:?}\n{}", r.took, r.stderr);
    assert!(f.others_cleaned(), "{}\n{:#}", r.stderr, r.report);
    assert_nothing_opened_or_created(&r.strace, &f.tenant);
    r
}

#[test]
fn a_fifo_named_journal_is_never_opened_and_the_run_goes_on() {
    let f = Fleet::start();
    f.tenant("mkfifo state/openclaw.sqlite-journal");
    let before = files(&f.tenant);
    let r = trapped(&f, &[], Duration::from_secs(20));
    assert_eq!(files(&f.tenant), before, "the tenant's files changed");
    r.assert_place_error("not-regular", "state/openclaw.sqlite-journal: a FIFO");
}

#[test]
fn a_device_node_named_journal_is_never_opened() {
    let f = Fleet::start();
    f.tenant("mknod state/openclaw.sqlite-journal c 1 3");
    let before = files(&f.tenant);
    let r = trapped(&f, &[], Duration::from_secs(20));
    assert_eq!(files(&f.tenant), before, "the tenant's files changed");
    r.assert_place_error(
        "not-regular",
        "state/openclaw.sqlite-journal: a character device",
    );
}

#[test]
fn a_view_over_an_endless_query_in_place_of_schema_meta_is_refused_at_once() {
    let f = Fleet::start();
    let mut py = f.tenant_py(
        "import sqlite3\n\
         c = sqlite3.connect('state/openclaw.sqlite', isolation_level=None)\n\
         c.execute('DROP TABLE schema_meta')\n\
         c.execute(\"CREATE VIEW schema_meta AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT 'primary' AS meta_key, i AS app_version FROM n\")\n\
         c.close()\n\
         print('ready')\n",
    );
    py.wait().unwrap();
    let before = files(&f.tenant);
    let r = trapped(&f, &[], Duration::from_secs(20));
    assert_eq!(files(&f.tenant), before, "the tenant's files changed");
    r.assert_place_error("unreadable", "schema_meta not a table");
}

#[test]
fn a_write_lease_on_the_databases_costs_no_wait() {
    let f = Fleet::start();
    // Read before the lease: a read of a leased file waits for the lease to break.
    let before = files(&f.tenant);
    let mut py = f.tenant_py(
        "import fcntl, os, time\n\
         fds = []\n\
         for p in ['state/openclaw.sqlite', 'agents/main/agent/openclaw-agent.sqlite']:\n\
         \x20   fd = os.open(p, os.O_RDWR)\n\
         \x20   fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)\n\
         \x20   fds.append(fd)\n\
         print('ready')\n\
         time.sleep(600)\n",
    );
    // Without the lease's 45 s break time, twice.
    let r = trapped(&f, &[], Duration::from_secs(20));
    let _ = py.kill();
    let _ = py.wait();
    assert_eq!(files(&f.tenant), before, "the tenant's files changed");
    r.assert_place_error("leased", "state/openclaw.sqlite: leased by another process");
}

#[test]
fn state_swapped_for_a_symlink_to_a_host_dir_never_leads_there() {
    let f = Fleet::start();
    let elsewhere = f.tmp.path().join("host-dir");
    fs::create_dir_all(&elsewhere).unwrap();
    // The tenant exchanges `state` with an absolute symlink to the host dir, in a tight loop.
    let mut py = f.tenant_py(&format!(
        "import ctypes, os\n\
         os.symlink({target:?}, 'state.l')\n\
         libc = ctypes.CDLL(None, use_errno=True)\n\
         print('ready')\n\
         while True:\n\
         \x20   libc.renameat2(-100, b'state', -100, b'state.l', 2)\n",
        target = elsewhere.display().to_string(),
    ));
    for _ in 0..15 {
        let r = f.clean(&[]);
        assert_nothing_opened_or_created(&r.strace, &elsewhere);
        assert!(f.others_cleaned(), "{}", r.stderr);
        f.put_back_others();
        let created: Vec<_> = fs::read_dir(&elsewhere).unwrap().collect();
        assert!(
            created.is_empty(),
            "created where the symlink points: {created:?}"
        );
    }
    let _ = py.kill();
    let _ = py.wait();
}

#[test]
fn a_wal_moved_away_and_back_is_never_created_again() {
    let f = Fleet::start();
    let (_owner, lease) = live_owner();
    // A live writer keeps a -wal with the claim in it; the tenant moves it away and back.
    fs::remove_dir_all(f.tenant.join("state")).unwrap();
    fs::remove_dir_all(f.tenant.join("agents")).unwrap();
    let _writer = databases(&f.tenant, lease, true);
    let wal = "state/openclaw.sqlite-wal";
    let mut py = f.tenant_py(&format!(
        "import os\n\
         print('ready')\n\
         while True:\n\
         \x20   os.rename({wal:?}, 'wal.away'); os.rename('wal.away', {wal:?})\n"
    ));
    // What the tenant's state dir may hold meanwhile: its files, or its -wal moved away.
    let known = [
        "openclaw.sqlite",
        "openclaw.sqlite-wal",
        "openclaw.sqlite-shm",
        "wal.away",
    ];
    let mut created = BTreeMap::new();
    for run in 0..20 {
        let r = f.clean(&[]);
        assert_nothing_opened_or_created(&r.strace, &f.tenant);
        for e in fs::read_dir(f.tenant.join("state")).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let empty = e.metadata().is_ok_and(|m| m.len() == 0);
            if !known.contains(&name.as_str()) || (empty && name.ends_with("-wal")) {
                created.insert(name, run);
            }
        }
        f.put_back_others();
    }
    let _ = py.kill();
    let _ = py.wait();
    assert!(
        created.is_empty(),
        "a file appeared in the tenant's state dir: {created:?}"
    );
}

#[test]
fn a_place_past_its_deadline_is_an_error_and_the_others_go_on() {
    let f = Fleet::start();
    // A state database grown to 100 MiB (a blob per row): read whole, it takes longer than the
    // 100 ms this run gives a place.
    let mut py = f.tenant_py(
        "import sqlite3\n\
         c = sqlite3.connect('state/openclaw.sqlite', isolation_level=None)\n\
         c.execute('CREATE TABLE ballast (b BLOB)')\n\
         for _ in range(100): c.execute('INSERT INTO ballast VALUES (zeroblob(1048576))')\n\
         c.close()\n\
         print('ready')\n",
    );
    py.wait().unwrap();
    let before = files(&f.tenant);
    let r = trapped(&f, &["--place-timeout", "100ms"], Duration::from_secs(20));
    assert_eq!(files(&f.tenant), before, "the tenant's files changed");
    r.assert_place_error(
        "timeout",
        "timed out reading state/openclaw.sqlite after 100ms",
    );
    // The same place within a generous deadline is read.
    f.put_back_others();
    let ok = f.clean(&["--place-timeout", "60s"]);
    assert_eq!(
        ok.tenant_place()["error"],
        serde_json::Value::Null,
        "{:#}",
        ok.report
    );
}

/// SIGTERM while the run waits on a container whose `sh` never returns (the tenant replaced
/// it): the run ends within a second, 143, saying so.
#[test]
fn sigterm_during_a_hung_exec_ends_the_run_within_a_second() {
    docker::require();
    let tmp = tempfile::tempdir().unwrap();
    let prefix = unique("zt-hang-");
    let c = Container::busybox(&format!("{prefix}1"), &[]);
    c.sh("mkdir -p /home/node/.openclaw/agents/main/sessions");
    c.sh("rm /bin/sh && printf '#!/bin/busybox sh\\nexec /bin/busybox sleep 600\\n' > /bin/sh && chmod +x /bin/sh");
    let mut child = zaki(tmp.path())
        .args([
            "clean",
            "--no-host",
            "--via-exec",
            "--container-timeout",
            "60s",
        ])
        .args(["--prefix", &prefix])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run did not wait on the exec"
    );
    let signalled = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if signalled.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            panic!("still running 5 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = signalled.elapsed();
    let o = child.wait_with_output().unwrap();
    assert!(
        took < Duration::from_secs(1),
        "ended {took:?} after SIGTERM"
    );
    assert_eq!(status.code(), Some(143), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("interrupted by SIGTERM"),
        "{}",
        stderr(&o)
    );
}

/// A clean behind a run lock holder busy with one pass for 20 minutes (a real process holding
/// the lock) exits 1 and writes `last_run_success 0` with the holder's pid and busy time; one
/// busy for 10 seconds is stepped aside from, exit 0, as before.
#[test]
fn a_stepped_aside_clean_behind_a_hung_holder_exits_non_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let lock = tmp.path().join("run.lock");
    let metrics = tmp.path().join("m.prom");
    for (busy, hung) in [(20 * 60, true), (10, false)] {
        fs::write(&lock, "").unwrap();
        let mut holder = Proc::spawn(
            Command::new("flock")
                .arg("-x")
                .arg(&lock)
                .args(["sleep", "60"]),
        );
        let since = chrono::Utc::now().timestamp() - busy;
        fs::write(&lock, format!("{} {since}\n", holder.id())).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let o = run(zaki(tmp.path())
            .args(["clean", "--no-containers", "--wait", "0s", "--quiet"])
            .arg("--root")
            .arg(tmp.path().join("none"))
            .arg("--run-lock")
            .arg(&lock)
            .arg("--metrics-file")
            .arg(&metrics));
        let m = prometheus(&fs::read_to_string(&metrics).unwrap());
        let _ = holder.kill();
        let _ = holder.wait();
        let success = m["zaki_locks_last_run_success{command=clean}"];
        if hung {
            assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
            assert!(stderr(&o).contains("looks hung"), "{}", stderr(&o));
            assert!(
                stderr(&o).contains(&holder.id().to_string()),
                "{}",
                stderr(&o)
            );
            assert_eq!(success, 0.0);
            assert_eq!(
                m["zaki_locks_run_lock_holder_pid{command=clean}"],
                f64::from(holder.id())
            );
            assert!(m["zaki_locks_run_lock_holder_busy_seconds{command=clean}"] >= 1200.0);
        } else {
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            assert_eq!(success, 1.0);
        }
    }
}
