//! Hostile tenants (issue 11): everything below a state dir, in a container's filesystem or in
//! an exec's output is written by an adversary who can race the tool. Each of the issue's nine
//! reproductions, on real files, real processes and real containers: no host file outside the
//! tenant's sessions dir is read, opened or touched, nothing but a regular file is opened, every
//! read is bounded, every byte is escaped before it is printed.

use crate::common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};

const Z: Duration = Duration::ZERO;
const MIN: Duration = Duration::from_secs(60);

fn sessions(root: &Path) -> PathBuf {
    let d = root.join("agents/main/sessions");
    fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `f` in a tight loop on another thread until dropped: the tenant racing the tool.
struct Racer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

impl Racer {
    fn start(f: impl Fn() + Send + 'static) -> Racer {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut n = 0;
            while !s.load(Ordering::Relaxed) {
                f();
                n += 1;
            }
            n
        });
        Racer {
            stop,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Racer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Watches host directories and files by inode (inotify): any open or read of them, by
/// anyone, is seen. The tool must never open what a tenant's symlink points at.
struct Touched {
    fd: nix::sys::inotify::Inotify,
    paths: Vec<(nix::sys::inotify::WatchDescriptor, PathBuf)>,
}

impl Touched {
    fn watch(paths: &[PathBuf]) -> Touched {
        use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
        let fd = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).unwrap();
        let paths = paths
            .iter()
            .map(|p| {
                let w = fd
                    .add_watch(p, AddWatchFlags::IN_OPEN | AddWatchFlags::IN_ACCESS)
                    .unwrap();
                (w, p.clone())
            })
            .collect();
        Touched { fd, paths }
    }

    /// What was opened or read since the last call.
    fn events(&self) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(events) = self.fd.read_events() {
            if events.is_empty() {
                break;
            }
            for e in events {
                let dir = self
                    .paths
                    .iter()
                    .find(|(w, _)| *w == e.wd)
                    .map(|(_, p)| p.clone());
                out.push(format!("{:?} {:?} {:?}", e.mask, dir, e.name));
            }
        }
        out
    }
}

fn exchange(a: &Path, b: &Path) {
    let _ = renameat2(AT_FDCWD, a, AT_FDCWD, b, RenameFlags::RENAME_EXCHANGE);
}

/// Runs `cmd` under `bash -c` with a virtual memory limit (KiB) and a wall-clock limit; the
/// child is killed if it runs over.
fn bounded(
    cmd: &str,
    mem_kib: u64,
    limit: Duration,
    tmp: &Path,
) -> (std::process::Output, Duration) {
    let started = Instant::now();
    let child = Proc::spawn(
        Command::new("bash")
            .arg("-c")
            .arg(format!(
                "ulimit -v {mem_kib}; exec timeout -s KILL {} {cmd}",
                limit.as_secs()
            ))
            .env("ZAKI_LOCKS_RUN_LOCK", tmp.join("rl"))
            .env("NO_COLOR", "1")
            .env_remove("OPENCLAW_STATE_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let o = child.wait_with_output();
    (o, started.elapsed())
}

// ---------------------------------------------------------------------------------------------
// 2. Nothing but a regular file is ever opened, not even for a moment.
// ---------------------------------------------------------------------------------------------

/// Checks an `strace -f -e trace=openat,open,fstat,newfstatat,statx` log: every successful
/// open of a name in `dir` is `O_PATH`, and every `/proc/self/fd/<n>` reopened for reading was
/// a regular file by the `fstat` just before it. Returns the number of reopens seen.
fn no_special_file_opened(log: &str, dir_names: &[&str]) -> Result<usize, String> {
    use std::collections::HashMap;
    // Per pid, the last st_mode seen for each fd.
    let mut modes: HashMap<(String, String), String> = HashMap::new();
    let mut reopens = 0;
    for line in log.lines() {
        let (pid, call) = line.split_once(' ').unwrap_or(("", line));
        let call = call.trim_start();
        if (call.starts_with("fstat(") || call.starts_with("newfstatat("))
            && call.contains("st_mode=")
        {
            let fd = call[call.find('(').unwrap() + 1..]
                .split(',')
                .next()
                .unwrap_or("")
                .to_owned();
            let mode = call
                .split("st_mode=")
                .nth(1)
                .unwrap_or("")
                .split(['|', ','])
                .next()
                .unwrap_or("")
                .to_owned();
            modes.insert((pid.to_owned(), fd), mode);
            continue;
        }
        if !(call.starts_with("openat(") || call.starts_with("open(")) {
            continue;
        }
        let ok = call
            .rsplit_once("= ")
            .is_some_and(|(_, r)| r.trim().parse::<i64>().is_ok_and(|n| n >= 0));
        if !ok {
            continue;
        }
        if let Some(n) = call
            .split("\"/proc/self/fd/")
            .nth(1)
            .and_then(|r| r.split('"').next())
        {
            let mode = modes
                .get(&(pid.to_owned(), n.to_owned()))
                .cloned()
                .unwrap_or_default();
            if mode != "S_IFREG" {
                return Err(format!("reopened fd {n} with mode {mode:?}: {line}"));
            }
            reopens += 1;
            continue;
        }
        let named = dir_names.iter().any(|n| call.contains(&format!("{n}\"")));
        if named && !call.contains("O_PATH") && !call.contains("O_DIRECTORY") {
            return Err(format!("opened for reading without O_PATH first: {line}"));
        }
    }
    Ok(reopens)
}

#[test]
fn a_device_or_fifo_swapped_in_for_a_lock_is_never_opened() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("state");
    let dir = sessions(&root);
    // A character device (1,3 is /dev/null: harmless here, but a watchdog or a tape would not
    // be) and a regular lock, swapped with each other in a tight loop; a FIFO beside them, and
    // a FIFO as the store.
    let dev = dir.join("x.jsonl.lock");
    let reg = dir.join("y.jsonl.lock");
    nix::sys::stat::mknod(
        &dev,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o644),
        nix::sys::stat::makedev(1, 3),
    )
    .unwrap();
    fs::write(&reg, legacy_payload(dead_pid(), Z)).unwrap();
    nix::unistd::mkfifo(
        &dir.join("f.jsonl.lock"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    nix::unistd::mkfifo(
        &dir.join("sessions.json"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    let (a, b) = (dev.clone(), reg.clone());
    let racer = Racer::start(move || exchange(&a, &b));

    let log = tmp.path().join("strace.log");
    let runs = 40;
    for _ in 0..runs {
        let o = run(Command::new("strace")
            .args([
                "-f",
                "-qq",
                "-e",
                "trace=openat,open,fstat,newfstatat,statx",
                "-o",
            ])
            .arg(&log)
            .arg(bin())
            .args(["scan", "--no-containers", "--format", "json", "--root"])
            .arg(&root)
            .env("ZAKI_LOCKS_RUN_LOCK", tmp.path().join("rl"))
            .stdin(Stdio::null()));
        assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
        let text = fs::read_to_string(&log).unwrap();
        let names = [
            "x.jsonl.lock",
            "y.jsonl.lock",
            "f.jsonl.lock",
            "sessions.json",
        ];
        if let Err(e) = no_special_file_opened(&text, &names) {
            panic!("{e}");
        }
    }
    let swaps = racer.stop();
    assert!(swaps > 100, "the racer ran ({swaps} swaps)");
}

/// On a `nodev` mount a lock is read in one `openat2` (no `O_PATH` step): the kernel refuses to
/// open a device node there. A device, a FIFO, a symlink and a directory named like locks, and
/// a FIFO as the store, are reported exactly as on any other mount, nothing waits, and only
/// the stale regular lock is removed.
#[test]
fn on_a_nodev_mount_locks_are_read_in_one_open_and_nothing_else_is() {
    require_root("mounts a nodev tmpfs and makes a device node");
    let tmp = tempfile::tempdir().unwrap();
    // The same tree on a nodev tmpfs and on the test's own filesystem, to compare.
    let plant = |root: &Path| {
        let dir = sessions(root);
        nix::sys::stat::mknod(
            &dir.join("x.jsonl.lock"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o644),
            nix::sys::stat::makedev(1, 3),
        )
        .unwrap();
        let fifo = nix::sys::stat::Mode::from_bits_truncate(0o644);
        nix::unistd::mkfifo(&dir.join("f.jsonl.lock"), fifo).unwrap();
        nix::unistd::mkfifo(&dir.join("sessions.json"), fifo).unwrap();
        fs::write(
            dir.join("y.jsonl.lock"),
            legacy_payload(dead_pid(), 40 * MIN),
        )
        .unwrap();
        symlink(dir.join("y.jsonl.lock"), dir.join("l.jsonl.lock")).unwrap();
        fs::create_dir(dir.join("d.jsonl.lock")).unwrap();
    };
    let scan = |root: &Path, log: &Path| {
        let o = run(Command::new("strace")
            .args(["-f", "-qq", "-e", "trace=openat,openat2", "-o"])
            .arg(log)
            .arg(bin())
            .args(["scan", "--no-containers", "--format", "json", "--root"])
            .arg(root)
            .env("ZAKI_LOCKS_RUN_LOCK", tmp.path().join("rl"))
            .stdin(Stdio::null()));
        assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
        let shown = |l: &serde_json::Value| (l["action"].clone(), l["note"].clone());
        let report = json(&o);
        let locks: std::collections::BTreeMap<String, _> = by_name(&report)
            .iter()
            .map(|(k, l)| (k.clone(), shown(l)))
            .collect();
        (locks, fs::read_to_string(log).unwrap())
    };
    let plain = tmp.path().join("plain");
    plant(&plain);
    let (expected, _) = scan(&plain, &tmp.path().join("plain.log"));
    assert_eq!(expected.len(), 5, "{expected:?}");
    let mnt = tmp.path().join("nodev");
    with_tmpfs(&mnt, "size=4m,nodev", || {
        let root = mnt.join("state");
        plant(&root);
        let (locks, log) = scan(&root, &tmp.path().join("nodev.log"));
        assert_eq!(locks, expected, "reported as on any other mount");
        let opens = |name: &str| -> Vec<&str> {
            let name = format!("{name}\"");
            log.lines().filter(|l| l.contains(&name)).collect()
        };
        // The stale lock: one openat2 for reading, no O_PATH step.
        let y = opens("y.jsonl.lock");
        assert!(
            y.iter()
                .any(|l| l.contains("openat2(") && l.contains("O_RDONLY")),
            "{y:?}"
        );
        assert!(!y.iter().any(|l| l.contains("O_PATH")), "{y:?}");
        // The device: refused by the kernel, then named through O_PATH, never opened.
        for l in opens("x.jsonl.lock") {
            let opened = l
                .rsplit_once("= ")
                .is_some_and(|(_, r)| !r.starts_with('-'));
            assert!(!opened || l.contains("O_PATH"), "device opened: {l}");
        }
        let o = run(zaki(tmp.path())
            .args(["clean", "--no-containers", "--root"])
            .arg(&root));
        assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
        let dir = root.join("agents/main/sessions");
        assert!(
            !dir.join("y.jsonl.lock").exists(),
            "the stale lock is removed"
        );
        for name in [
            "x.jsonl.lock",
            "f.jsonl.lock",
            "l.jsonl.lock",
            "d.jsonl.lock",
        ] {
            assert!(
                fs::symlink_metadata(dir.join(name)).is_ok(),
                "{name} left alone"
            );
        }
    });
}

// ---------------------------------------------------------------------------------------------
// 3. The walk never follows a symlink, even one swapped in while it runs.
// ---------------------------------------------------------------------------------------------

#[test]
fn directories_swapped_for_symlinks_while_clean_and_watch_run_never_lead_outside() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("state");
    let dir = sessions(&root);
    let dead = dead_pid();
    fs::write(dir.join("own.jsonl.lock"), legacy_payload(dead, 40 * MIN)).unwrap();
    // The host's files a tenant would like read, logged or removed: stale-looking locks.
    let host = tmp.path().join("host");
    let host_sessions = host.join("agents/main/sessions");
    fs::create_dir_all(&host_sessions).unwrap();
    let secret = host_sessions.join("host-secret.jsonl.lock");
    fs::write(&secret, legacy_payload(dead, 40 * MIN)).unwrap();
    let secret_ino = std::os::unix::fs::MetadataExt::ino(&fs::metadata(&secret).unwrap());
    // Symlinks beside each level, swapped with the real directory in a tight loop.
    let pairs = [
        (root.join("agents"), host.join("agents")),
        (root.join("agents/main"), host.join("agents/main")),
        (dir.clone(), host_sessions.clone()),
    ];
    let mut links = Vec::new();
    for (real, target) in &pairs {
        let link = real.with_extension("swap");
        symlink(target, &link).unwrap();
        links.push((real.clone(), link));
    }
    let touched = Touched::watch(&[
        host.join("agents"),
        host.join("agents/main"),
        host_sessions.clone(),
        secret.clone(),
    ]);
    let racer = Racer::start(move || {
        for (real, link) in &links {
            exchange(real, link);
            exchange(real, link);
        }
    });
    let mut leaked = Vec::new();
    for _ in 0..300 {
        let o = run(zaki(tmp.path())
            .args(["clean", "--no-containers", "--log-format", "kv", "--root"])
            .arg(&root));
        let out = format!("{}{}", stdout(&o), stderr(&o));
        if out.contains("host-secret") {
            leaked.push(out);
        }
    }
    // And `watch`, a pass a second for 4 s.
    let watch = Proc::spawn(
        zaki(tmp.path())
            .args([
                "watch",
                "--no-containers",
                "--interval",
                "1s",
                "--log-format",
                "kv",
                "--root",
            ])
            .arg(&root)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    std::thread::sleep(Duration::from_secs(4));
    watch.signal(nix::sys::signal::Signal::SIGTERM);
    let o = watch.wait_with_output();
    let out = format!("{}{}", stdout(&o), stderr(&o));
    assert!(out.contains("event=pass"), "watch ran its passes: {out}");
    if out.contains("host-secret") {
        leaked.push(out);
    }
    racer.stop();
    assert!(
        leaked.is_empty(),
        "{} runs read the host's lock:\n{}",
        leaked.len(),
        leaked[0]
    );
    let opened = touched.events();
    assert!(opened.is_empty(), "host dirs or files opened: {opened:?}");
    assert_eq!(
        std::os::unix::fs::MetadataExt::ino(&fs::metadata(&secret).unwrap()),
        secret_ino,
        "the host's file is untouched"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. sessions.json is bounded: a huge store, and four agents hard-linked to it.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_huge_store_hard_linked_into_four_agents_is_read_once_within_the_bounds() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("state");
    let dead = dead_pid();
    // 64 MiB of small entries: the worst shape for memory.
    let first = sessions(&root).join("sessions.json");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(fs::File::create(&first).unwrap());
        f.write_all(b"{").unwrap();
        let mut n = 0u64;
        let mut written = 1u64;
        while written < 64 * 1024 * 1024 - 200 {
            let e = format!("\"agent:main:openai-user:{n}\":{{\"sessionId\":\"s{n}\"}},");
            written += e.len() as u64;
            f.write_all(e.as_bytes()).unwrap();
            n += 1;
        }
        f.write_all(b"\"agent:main:openai-user:42\":{\"sessionId\":\"s42x\"}}")
            .unwrap();
    }
    for agent in ["main", "a2", "a3", "a4"] {
        let d = root.join("agents").join(agent).join("sessions");
        fs::create_dir_all(&d).unwrap();
        if agent != "main" {
            fs::hard_link(&first, d.join("sessions.json")).unwrap();
        }
        fs::write(d.join("s42x.jsonl.lock"), legacy_payload(dead, Z)).unwrap();
    }
    let (o, took) = bounded(
        &format!(
            "{} scan --no-containers --format json --root {}",
            bin().display(),
            root.display()
        ),
        400_000,
        Duration::from_secs(120),
        tmp.path(),
    );
    let err = exited(&o, 1);
    let r = json(&o);
    let locks = r["locks"].as_array().unwrap();
    assert_eq!(locks.len(), 4, "every lock is still judged: {r:#}");
    let keyed = locks
        .iter()
        .filter(|l| l["session_key"] == "agent:main:openai-user:42")
        .count();
    assert_eq!(keyed, 1, "one store read in full; {err}");
    assert_eq!(
        err.matches("(the bound per state dir)").count(),
        3,
        "the three others name the bound: {err}"
    );
    println!("64 MiB store, 4 hard links: {:.1}s", took.as_secs_f64());
}

#[test]
fn two_hundred_thousand_lock_files_in_one_dir_are_an_error_naming_the_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let users = tmp.path().join("users");
    let dead = dead_pid();
    let bad = sessions(&users.join("user-1/.openclaw"));
    for i in 0..200_000 {
        fs::File::create(bad.join(format!("{i}.jsonl.lock"))).unwrap();
    }
    let good = sessions(&users.join("user-2/.openclaw"));
    fs::write(good.join("dead.jsonl.lock"), legacy_payload(dead, 40 * MIN)).unwrap();
    let (o, took) = bounded(
        &format!(
            "{} clean --no-containers --format json --users-dir {}",
            bin().display(),
            users.display()
        ),
        200_000,
        Duration::from_secs(60),
        tmp.path(),
    );
    let err = exited(&o, 1);
    assert!(
        err.contains("more than 25000 lock files: none of them judged"),
        "{err}"
    );
    let r = json(&o);
    assert_eq!(
        r["summary"]["removed"], 1,
        "the other tenant was cleaned: {r:#}"
    );
    assert!(!good.join("dead.jsonl.lock").exists());
    assert!(
        bad.join("0.jsonl.lock").exists(),
        "nothing judged past the bound"
    );
    println!("200,000 locks in one dir: {:.1}s", took.as_secs_f64());
}

#[test]
fn locks_spread_over_many_agents_are_bounded_per_state_dir_too() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("state");
    for a in 0..3 {
        let d = root.join(format!("agents/a{a}/sessions"));
        fs::create_dir_all(&d).unwrap();
        for i in 0..9000 {
            fs::File::create(d.join(format!("{i}.jsonl.lock"))).unwrap();
        }
    }
    let (r, err) = run_json(
        zaki(tmp.path())
            .args(["scan", "--no-containers", "--root"])
            .arg(&root),
        1,
    );
    assert!(
        err.contains("more than 25000 lock files below this state dir: none of them judged"),
        "{err}"
    );
    assert_eq!(r["summary"]["locks"], 0);
}

#[test]
fn full_size_payloads_by_the_thousand_are_bounded_in_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("state");
    let d = sessions(&root);
    let body = "x".repeat(4096);
    for i in 0..5000 {
        fs::write(d.join(format!("{i}.jsonl.lock")), &body).unwrap();
    }
    let (r, err) = run_json(
        zaki(tmp.path())
            .args(["scan", "--no-containers", "--root"])
            .arg(&root),
        1,
    );
    assert!(
        err.contains("more than 4 MiB of payload: none of them judged"),
        "{err}"
    );
    assert_eq!(r["summary"]["locks"], 0);
}

// ---------------------------------------------------------------------------------------------
// 6. Terminal and log injection.
// ---------------------------------------------------------------------------------------------

#[test]
fn names_and_payloads_cannot_forge_lines_or_reach_the_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("state");
    let dead = dead_pid();
    let agent = "main\nremoved forged.jsonl.lock [dead owner] session=- pid=1";
    let d = root.join("agents").join(agent).join("sessions");
    fs::create_dir_all(&d).unwrap();
    let evil = format!(
        "{{\"pid\": {dead}, \"createdAt\": \"2020-01-01T00:00:00Z\", \"x\": \"\u{1b}]0;pwned\u{7}\u{1b}[31m\u{202e}\"}}"
    );
    // Raw control bytes make it invalid JSON: judged by its old mtime, so removed.
    fs::write(d.join("a\u{1b}[2Jb\rc.jsonl.lock"), &evil).unwrap();
    set_mtime(&d.join("a\u{1b}[2Jb\rc.jsonl.lock"), 40 * MIN);
    fs::write(d.join("held.jsonl.lock"), &evil).unwrap();
    let held = Proc::sleep();
    fs::write(
        d.join("held.jsonl.lock"),
        legacy_payload(held.pid(), Z).replace("}", ", \"y\": \"\u{1b}[1m\"}"),
    )
    .unwrap();
    for args in [
        vec!["scan"],
        vec!["clean", "--dry-run", "--log-format", "human"],
        vec!["clean", "--dry-run", "--log-format", "kv"],
        vec!["clean", "--log-format", "human"],
    ] {
        let o = run(zaki(tmp.path())
            .args(&args)
            .args(["--no-containers", "--root"])
            .arg(&root));
        let all = format!("{}{}", stdout(&o), stderr(&o));
        for bad in ['\u{1b}', '\u{7}', '\r', '\u{202e}'] {
            assert!(!all.contains(bad), "{args:?}: raw {bad:?} in:\n{all}");
        }
        assert!(
            !all.lines()
                .any(|l| l.trim_start().starts_with("removed forged")),
            "{args:?}: a forged line:\n{all}"
        );
        assert!(
            all.contains("\\n"),
            "{args:?}: the newline is shown escaped:\n{all}"
        );
    }
    drop(held);
}

// ---------------------------------------------------------------------------------------------
// 7. The router table and the probe's request.
// ---------------------------------------------------------------------------------------------

#[test]
fn the_router_table_is_bounded_and_a_token_cannot_inject_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("users.json");
    // Something listening where the token would be sent: it must receive nothing.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let table = serde_json::json!({"42": {"port": port, "token": "t0k\r\nX-Injected: yes"}});
    fs::write(&file, table.to_string()).unwrap();
    let o = run(zaki(tmp.path())
        .args([
            "probe",
            "42",
            "--attempts",
            "1",
            "--prefix",
            "zt-nonexistent-",
            "--users-file",
        ])
        .arg(&file));
    let err = exited(&o, 1);
    assert!(err.contains("control character"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        listener.accept().is_err(),
        "the probe connected with a forged token"
    );

    // A FIFO is refused without being opened (it would hang), and a table past the bound is
    // "too large", not a parse error at its cut.
    fs::remove_file(&file).unwrap();
    nix::unistd::mkfifo(&file, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let (o, took) = bounded(
        &format!(
            "{} probe 42 --users-file {}",
            bin().display(),
            file.display()
        ),
        2_000_000,
        Duration::from_secs(20),
        tmp.path(),
    );
    let err = exited(&o, 1);
    assert!(err.contains("a FIFO, not a regular file"), "{err}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    fs::remove_file(&file).unwrap();
    fs::File::create(&file)
        .unwrap()
        .set_len(65 * 1024 * 1024)
        .unwrap();
    let o = run(zaki(tmp.path())
        .args(["probe", "42", "--users-file"])
        .arg(&file));
    let err = exited(&o, 1);
    assert!(
        err.contains("too large (over the bound of 64 MiB)"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// 8. The metrics file never follows a planted symlink.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_symlink_planted_at_the_metrics_temp_name_is_never_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("state");
    sessions(&root);
    let collector = tmp.path().join("collector");
    fs::create_dir_all(&collector).unwrap();
    let victim = tmp.path().join("victim");
    fs::write(&victim, "precious").unwrap();
    // The temp names of the next few hundred pids, old style and new, all point at the victim.
    let last: u32 = fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    for pid in last + 1..last + 400 {
        for name in [format!(".m.prom.tmp.{pid}"), format!(".m.prom.tmp.{pid}.0")] {
            symlink(&victim, collector.join(name)).unwrap();
        }
    }
    let o = run(zaki(tmp.path())
        .args(["scan", "--no-containers", "--metrics-file"])
        .arg(collector.join("m.prom"))
        .arg("--root")
        .arg(&root));
    assert_eq!(
        fs::read_to_string(&victim).unwrap(),
        "precious",
        "{}",
        stderr(&o)
    );
    exited(&o, 0);
    let m = fs::symlink_metadata(collector.join("m.prom")).unwrap();
    assert!(m.is_file(), "written as a regular file");
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777,
        0o644
    );
}

// ---------------------------------------------------------------------------------------------
// 9. Leftovers of a killed removal, and names near the limit.
// ---------------------------------------------------------------------------------------------

#[test]
fn leftovers_of_a_killed_removal_are_finished_by_the_next_run() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("state");
    let dir = sessions(&root);
    let dead = dead_pid();
    let live = Proc::sleep();
    // A stale lock caught between rename and unlink: removed.
    let stale = dir.join(".dead.jsonl.lock.zaki-locks-removing.4242.7");
    fs::write(&stale, legacy_payload(dead, 40 * MIN)).unwrap();
    // A live lock that slipped in and was moved aside when the run was killed: put back.
    let moved = dir.join(".live.jsonl.lock.zaki-locks-removing.4242.8");
    let live_body = legacy_payload(live.pid(), Z);
    fs::write(&moved, &live_body).unwrap();
    // Moved aside, but its name is taken again by a newer lock: left, and said so.
    let taken = dir.join(".busy.jsonl.lock.zaki-locks-removing.4242.9");
    fs::write(&taken, legacy_payload(live.pid(), Z)).unwrap();
    fs::write(dir.join("busy.jsonl.lock"), legacy_payload(live.pid(), Z)).unwrap();
    // Names that only look like leftovers are not touched.
    let other = dir.join(".notes.zaki-locks-removing.1.2");
    fs::write(&other, legacy_payload(dead, 40 * MIN)).unwrap();

    // The one left is an error.
    let (r, err) = run_json(
        zaki(tmp.path())
            .args(["clean", "--no-containers", "--root"])
            .arg(&root),
        1,
    );
    assert!(!stale.exists(), "{r:#}");
    assert!(
        !moved.exists() && dir.join("live.jsonl.lock").exists(),
        "{r:#}"
    );
    assert_eq!(
        fs::read_to_string(dir.join("live.jsonl.lock")).unwrap(),
        live_body,
        "put back as it was"
    );
    assert!(
        taken.exists() && dir.join("busy.jsonl.lock").exists(),
        "{r:#}"
    );
    assert!(other.exists());
    assert!(err.contains("exists again"), "{err}");
    // The next run finds nothing more to do but that one.
    let (r, _) = run_json(
        zaki(tmp.path())
            .args(["clean", "--no-containers", "--root"])
            .arg(&root),
        1,
    );
    assert_eq!(r["summary"]["removed"], 0);
    drop(live);
}

#[test]
fn sigkill_during_a_big_clean_leaves_nothing_the_next_run_does_not_finish() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("state");
    let dir = sessions(&root);
    let dead = dead_pid();
    let body = legacy_payload(dead, 40 * MIN);
    for round in 0..8 {
        for i in 0..1200 {
            fs::write(dir.join(format!("r{round}-{i}.jsonl.lock")), &body).unwrap();
        }
        let mut c = Proc::spawn(
            zaki(tmp.path())
                .args(["clean", "--no-containers", "--log-format", "kv", "--root"])
                .arg(&root)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        std::thread::sleep(Duration::from_millis(60 + 40 * round));
        let _ = c.kill();
        let _ = c.wait();
    }
    run_json(
        zaki(tmp.path())
            .args(["clean", "--no-containers", "--root"])
            .arg(&root),
        0,
    );
    let left: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_stale_lock_with_a_240_byte_name_is_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("state");
    let dir = sessions(&root);
    let name = format!("{}.jsonl.lock", "a".repeat(229));
    assert_eq!(name.len(), 240);
    fs::write(dir.join(&name), legacy_payload(dead_pid(), 40 * MIN)).unwrap();
    let (r, _) = run_json(
        zaki(tmp.path())
            .args(["clean", "--no-containers", "--root"])
            .arg(&root),
        0,
    );
    assert_eq!(r["summary"]["removed"], 1);
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
}

#[test]
fn dot_dot_in_a_container_state_dir_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(zaki(tmp.path()).args([
        "scan",
        "--no-host",
        "--container",
        "zt-nonexistent",
        "--container-state-dir",
        "/home/node/.openclaw/../../../etc",
    ]));
    let err = exited(&o, 1);
    assert!(err.contains("contains `.` or `..`"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Real containers: a tenant who writes its state dir, its own filesystem and its exec output.
// ---------------------------------------------------------------------------------------------

mod containers {
    use super::*;
    use common::docker::{self, Container, bind, unique};

    fn hex(s: &str) -> String {
        s.bytes().map(|b| format!("{b:02x}")).collect()
    }

    /// A router table for user 42 whose gateway port has nothing listening.
    fn users_file(tmp: &Path) -> PathBuf {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let f = tmp.join("users.json");
        fs::write(
            &f,
            serde_json::json!({"42": {"port": port, "token": "t"}}).to_string(),
        )
        .unwrap();
        f
    }

    // 1. and 4.: `probe --inject-lock` against the tenant's sessions.json.
    #[test]
    fn inject_lock_never_creates_a_file_outside_the_sessions_dir_and_never_hangs() {
        docker::require();
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        let dir = sessions(&state);
        let prefix = unique("zt-tenant-");
        let _c = Container::busybox(
            &format!("{prefix}42"),
            &["-v", &bind(&state, "/home/node/.openclaw")],
        );
        let users = users_file(tmp.path());
        let target = tmp.path().join("x");
        fs::create_dir_all(&target).unwrap();
        let probe = |what: &str| {
            let (o, took) = bounded(
                &format!(
                    "{} probe 42 --users-file {} --prefix {prefix} --inject-lock 3s --attempts 1 --timeout 2s --backoff 1s",
                    bin().display(),
                    users.display()
                ),
                2_000_000,
                Duration::from_secs(60),
                tmp.path(),
            );
            assert!(took < Duration::from_secs(30), "{what}: {took:?}");
            (o.status.code(), stderr(&o))
        };
        let key = "agent:main:openai-user:zaki-locks-probe";

        // 1. A session id that climbs out of the sessions dir.
        let climb = format!("{}{}/pwned", "../".repeat(12), target.display());
        fs::write(
            dir.join("sessions.json"),
            serde_json::json!({key: {"sessionId": climb}}).to_string(),
        )
        .unwrap();
        let (code, err) = probe("traversal");
        assert_ne!(code, Some(0), "{err}");
        assert!(err.contains("not a single plain file name"), "{err}");
        assert!(err.contains("no lock injected"), "{err}");
        assert_eq!(
            fs::read_dir(&target).unwrap().count(),
            0,
            "root created a file outside"
        );
        assert!(
            fs::read_dir(&dir)
                .unwrap()
                .flatten()
                .all(|e| e.file_name() == "sessions.json"),
            "nothing created in the sessions dir either"
        );

        // 4. A FIFO as the store: refused without being opened (opening it would hang).
        fs::remove_file(dir.join("sessions.json")).unwrap();
        nix::unistd::mkfifo(
            &dir.join("sessions.json"),
            nix::sys::stat::Mode::from_bits_truncate(0o644),
        )
        .unwrap();
        let (code, err) = probe("fifo");
        assert_ne!(code, Some(0), "{err}");
        assert!(err.contains("a FIFO, not a regular file"), "{err}");

        // 4. A symlink to /dev/zero: never followed (it grew a buffer to 1 GB in half a second).
        fs::remove_file(dir.join("sessions.json")).unwrap();
        symlink("/dev/zero", dir.join("sessions.json")).unwrap();
        let (code, err) = probe("/dev/zero");
        assert_ne!(code, Some(0), "{err}");
        assert!(err.contains("a symlink, not a regular file"), "{err}");
    }

    // 3. Through `/proc/<pid>/root`: an absolute symlink made in the container must never
    // resolve on the host.
    #[test]
    fn a_container_swapping_its_dirs_for_absolute_symlinks_never_leads_to_host_files() {
        docker::require();
        let tmp = tempfile::tempdir().unwrap();
        let dead = dead_pid();
        let host = tmp.path().join("host");
        let host_sessions = host.join("agents/main/sessions");
        fs::create_dir_all(&host_sessions).unwrap();
        let secret = host_sessions.join("host-secret.jsonl.lock");
        fs::write(&secret, legacy_payload(dead, 40 * MIN)).unwrap();
        // The tenant: the host's python3 as the container's pid 1, exchanging each level of its
        // state dir with an absolute symlink to the same path on the host (renameat2
        // RENAME_EXCHANGE in a tight loop, no fork between swaps).
        let c = Container::run(
            &unique("zt-tenant-swap-"),
            &docker::host_python(),
            docker::BUSYBOX,
            &[
                "python3",
                "-c",
                SWAPPER_PY,
                &host.display().to_string(),
                &legacy_payload(4242, 40 * MIN),
            ],
        );
        let started = Instant::now();
        while !c.exists("/home/node/.openclaw/agents.l") {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the swapper did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let touched = Touched::watch(&[
            host.join("agents"),
            host.join("agents/main"),
            host_sessions.clone(),
            secret.clone(),
        ]);
        let mut leaked = Vec::new();
        let mut observed_from_host = 0;
        for i in 0..500 {
            let cmd = if i % 3 == 0 { "clean" } else { "scan" };
            let o = run(zaki(tmp.path()).args([
                cmd,
                "--no-host",
                "--container",
                &c.name,
                "--format",
                "json",
            ]));
            let out = format!("{}{}", stdout(&o), stderr(&o));
            if out.contains("host-secret") {
                leaked.push(out);
            } else if json(&o)["containers"][0]["observed"] == "host" {
                observed_from_host += 1;
            }
        }
        assert!(
            leaked.is_empty(),
            "{} runs read the host's lock:\n{}",
            leaked.len(),
            leaked[0]
        );
        assert!(
            observed_from_host > 300,
            "read through /proc/<pid>/root: {observed_from_host}"
        );
        let opened = touched.events();
        assert!(opened.is_empty(), "host dirs or files opened: {opened:?}");
        assert!(secret.exists());
    }

    const SWAPPER_PY: &str = r#"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
s, h, payload = "/home/node/.openclaw", sys.argv[1], sys.argv[2]
os.makedirs(s + "/agents/main/sessions", exist_ok=True)
with open(s + "/agents/main/sessions/own.jsonl.lock", "w") as f:
    f.write(payload)
levels = ["/agents", "/agents/main", "/agents/main/sessions"]
for l in levels:
    os.symlink(h + l, s + l + ".l")
pairs = [((s + l).encode(), (s + l + ".l").encode()) for l in levels]
while True:
    for a, b in pairs:
        libc.renameat2(-100, a, -100, b, 2)
        libc.renameat2(-100, a, -100, b, 2)
"#;

    // 9. Leftovers inside a container, listed and finished by exec.
    #[test]
    fn leftovers_inside_a_container_are_finished_by_exec() {
        docker::require();
        let tmp = tempfile::tempdir().unwrap();
        let c = Container::busybox(&unique("zt-tenant-left-"), &[]);
        let s = "/home/node/.openclaw/agents/main/sessions";
        c.write(
            &format!("{s}/.dead.jsonl.lock.zaki-locks-removing.9.9"),
            &legacy_payload(4242, 40 * MIN),
        );
        // Held by the container's pid 1: put back.
        c.write(
            &format!("{s}/.live.jsonl.lock.zaki-locks-removing.9.8"),
            &legacy_payload(1, Z),
        );
        // What an earlier exec remover left: its name is lost, so only removed when stale.
        c.write(
            &format!("{s}/.zaki-locks-removing.77.12345"),
            &legacy_payload(4242, 40 * MIN),
        );
        let o = run(zaki(tmp.path()).args([
            "clean",
            "--no-host",
            "--via-exec",
            "--container",
            &c.name,
            "--format",
            "json",
        ]));
        exited(&o, 0);
        assert!(!c.exists(&format!("{s}/.dead.jsonl.lock.zaki-locks-removing.9.9")));
        assert!(!c.exists(&format!("{s}/.zaki-locks-removing.77.12345")));
        assert!(!c.exists(&format!("{s}/.live.jsonl.lock.zaki-locks-removing.9.8")));
        assert!(
            c.exists(&format!("{s}/live.jsonl.lock")),
            "put back: {}",
            stdout(&o)
        );
        assert_eq!(json(&o)["summary"]["removed"], 2, "{}", stdout(&o));
    }

    /// A TCP port that forwards to the local Docker socket: an engine the tool must treat as
    /// remote (its processes are not this host's to signal).
    fn docker_over_tcp() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for conn in l.incoming().flatten() {
                let Ok(unix) = std::os::unix::net::UnixStream::connect("/var/run/docker.sock")
                else {
                    continue;
                };
                let (mut a, mut b) = (conn.try_clone().unwrap(), unix.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut a, &mut b);
                    let _ = b.shutdown(std::net::Shutdown::Write);
                });
                let (mut c, mut d) = (unix, conn);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c, &mut d);
                    let _ = d.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        port
    }

    // 9. On a remote engine too, an exec that times out does not keep running in the container.
    #[test]
    fn a_timed_out_exec_on_a_remote_engine_is_killed_by_exec() {
        docker::require();
        let tmp = tempfile::tempdir().unwrap();
        let c = Container::busybox(&unique("zt-tenant-remote-"), &[]);
        // The observe script runs `getconf CLK_TCK` (not a busybox applet): here it never returns.
        c.write("/usr/local/bin/getconf", "#!/bin/sh\nsleep 99999\n");
        c.sh("chmod +x /usr/local/bin/getconf");
        let port = docker_over_tcp();
        let o = run(zaki(tmp.path()).args([
            "scan",
            "--no-host",
            "--via-exec",
            "--docker-host",
            &format!("tcp://127.0.0.1:{port}"),
            "--container",
            &c.name,
            "--container-timeout",
            "3s",
        ]));
        let err = stderr(&o);
        assert!(err.contains("exec timed out after 3s"), "{err}");
        std::thread::sleep(Duration::from_millis(500));
        let ps = c.sh("ps -o pid,args");
        assert!(
            !ps.contains("sleep 99999"),
            "the hung script's child still runs:\n{ps}"
        );
        assert!(
            !ps.contains("LC_ALL=C"),
            "the hung script still runs:\n{ps}"
        );
    }

    /// A container whose `sh` is replaced by `script` (busybox runs its own applets, so
    /// shadowing a command on PATH would not do).
    fn hostile_sh(name: &str, script: &str) -> Container {
        let c = Container::busybox(name, &[]);
        c.write("/tmp/hostile", &format!("#!/bin/busybox sh\n{script}\n"));
        let o = docker::docker(&[
            "exec",
            &c.name,
            "/bin/busybox",
            "sh",
            "-c",
            "chmod +x /tmp/hostile && rm /bin/sh && cp /tmp/hostile /bin/sh",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        c
    }

    fn alive_in(c: &Container, pid_file: &str) -> bool {
        let o = docker::docker(&["exec", &c.name, "/bin/busybox", "cat", pid_file]);
        let pid = String::from_utf8_lossy(&o.stdout).trim().to_owned();
        assert!(!pid.is_empty(), "the hostile script ran");
        docker::docker(&[
            "exec",
            &c.name,
            "/bin/busybox",
            "test",
            "-e",
            &format!("/proc/{pid}"),
        ])
        .status
        .success()
    }

    // 5. and 9.: hostile exec output, and an exec that never ends.
    #[test]
    fn hostile_exec_output_is_bounded_and_a_timed_out_exec_is_killed_in_the_container() {
        docker::require();
        let tmp = tempfile::tempdir().unwrap();
        let prefix = unique("zt-tenant-exec-");
        let line = format!("special {}", hex("/s/agents/main/sessions/x.jsonl.lock"));
        // 150,000 well-formed lock lines (12 MiB, under the byte bound), then a proper end.
        let many = hostile_sh(
            &format!("{prefix}many"),
            &format!("echo 'zaki-locks 1'; yes '{line}' | head -n 150000; echo end"),
        );
        // Output without end.
        let flood = hostile_sh(
            &format!("{prefix}flood"),
            &format!("echo $$ > /tmp/pid; echo 'zaki-locks 1'; yes '{line}'"),
        );
        // Never answers.
        let hang = hostile_sh(
            &format!("{prefix}hang"),
            "echo $$ > /tmp/pid; exec sleep 99999",
        );
        let good = Container::busybox(&format!("{prefix}good"), &[]);
        good.write(
            "/home/node/.openclaw/agents/main/sessions/dead.jsonl.lock",
            &legacy_payload(4242, Z),
        );
        let (o, took) = bounded(
            &format!(
                "{} clean --no-host --via-exec --prefix {prefix} --container-timeout 5s --format json",
                bin().display()
            ),
            400_000,
            Duration::from_secs(60),
            tmp.path(),
        );
        let err = exited(&o, 1);
        assert!(
            err.contains(&format!(
                "container:{}: more than 25000 locks listed",
                many.name
            )),
            "{err}"
        );
        assert!(
            err.contains(&format!(
                "container:{}: exec output larger than 16 MiB",
                flood.name
            )),
            "{err}"
        );
        assert!(
            err.contains(&format!("container:{}: exec timed out after 5s", hang.name)),
            "{err}"
        );
        assert_eq!(
            json(&o)["summary"]["removed"],
            1,
            "the good one was cleaned: {err}"
        );
        assert!(took < Duration::from_secs(30), "{took:?}");
        std::thread::sleep(Duration::from_millis(500));
        assert!(
            !alive_in(&flood, "/tmp/pid"),
            "the flooding exec was killed"
        );
        assert!(!alive_in(&hang, "/tmp/pid"), "the hung exec was killed");
        drop(good);
    }
}
