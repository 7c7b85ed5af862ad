//! `cargo bench --bench scan`: scan and clean of the 2,000-user tree against
//! `find <tree> -name '*.jsonl.lock'` on the same warm cache, each run of the tool paired with a
//! run of `find` right before it (the machine is shared: its load changes between runs, not
//! within a pair). Prints wall and CPU time, syscalls a lock and a user dir, peak RSS, and
//! whether the targets of issue 21 are met; asserts none.
//!
//! Environment: ZAKI_BENCH_USERS (default 2000), ZAKI_BENCH_SESSIONS (20), ZAKI_BENCH_RUNS (15).
//! ZAKI_BENCH_HOLDERS (default 4) processes each hold ZAKI_BENCH_HELD (default users / 10) more
//! live locks open, each naming its holder, as a gateway holds its own: the stress case of one
//! process holding many locks (issue 21: 4 × 1,000 at 10,000 users). ZAKI_BENCH_PROCS (default
//! 0) extra idle host processes with ZAKI_BENCH_FDS (50) open files each, to time the holder
//! search on a busy host. ZAKI_BENCH_STRACE (default 1): count syscalls with `strace -c -f`.
//! ZAKI_BENCH_BIN: the binary to time (default: this build's), to compare two builds.
//! ZAKI_BENCH_UNHELD=1 closes the tree's own live locks after generating it (the bench cannot
//! hold more than its fd limit: 50,000 users need this).

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::tree::{LiveOwners, generate};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn bin() -> PathBuf {
    std::env::var_os("ZAKI_BENCH_BIN").map_or_else(common::bin, PathBuf::from)
}

/// CPU time (user + system) of every reaped child so far.
fn children_cpu() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    let u = getrusage(UsageWho::RUSAGE_CHILDREN).unwrap();
    let tv =
        |t: nix::sys::time::TimeVal| Duration::new(t.tv_sec() as u64, t.tv_usec() as u32 * 1000);
    tv(u.user_time()) + tv(u.system_time())
}

/// One run of `c` (output discarded): its wall and CPU time.
fn once(mut c: Command) -> (Duration, Duration) {
    c.stdout(Stdio::null()).stderr(Stdio::null());
    let cpu = children_cpu();
    let start = Instant::now();
    c.status().unwrap();
    (start.elapsed(), children_cpu() - cpu)
}

/// Wall and CPU time of one run.
type Run = (Duration, Duration);

/// What `runs` pairs (find, then the tool) measured: medians of each, and of the ratios.
struct Paired {
    wall: Duration,
    cpu: Duration,
    find_wall: Duration,
    find_cpu: Duration,
    wall_ratio: f64,
    cpu_ratio: f64,
}

fn median<T: PartialOrd + Copy>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Runs `find` then `cmd`, `runs` times (after one warm-up of each).
fn paired(runs: usize, find: impl Fn() -> Command, cmd: impl Fn() -> Command) -> Paired {
    let status = cmd().stdout(Stdio::null()).status().unwrap();
    assert!(status.code().is_some_and(|c| c <= 1), "{status}");
    once(find());
    let pairs: Vec<_> = (0..runs).map(|_| (once(find()), once(cmd()))).collect();
    let ratio = |f: fn(&(Run, Run)) -> f64| median(pairs.iter().map(f).collect());
    Paired {
        wall: median(pairs.iter().map(|p| p.1.0).collect()),
        cpu: median(pairs.iter().map(|p| p.1.1).collect()),
        find_wall: median(pairs.iter().map(|p| p.0.0).collect()),
        find_cpu: median(pairs.iter().map(|p| p.0.1).collect()),
        wall_ratio: ratio(|p| p.1.0.as_secs_f64() / p.0.0.as_secs_f64()),
        cpu_ratio: ratio(|p| p.1.1.as_secs_f64() / p.0.1.as_secs_f64().max(1e-4)),
    }
}

/// What the second core gained: the wall time of `both`'s runs against `one`'s (one core).
fn both_cores(label: &str, both: &Paired, one: &Paired) {
    println!(
        "  {label}both cores: wall {:.2}x of one core's (CPU {:.2}x)",
        both.wall.as_secs_f64() / one.wall.as_secs_f64(),
        both.cpu.as_secs_f64() / one.cpu.as_secs_f64()
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report(label: &str, p: &Paired) {
    let met = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "{label:<40} wall {:8.1} ms (find {:7.1}) {:5.2}x [<=1.0 {}]  cpu {:8.1} ms (find {:7.1}) {:5.2}x [<=0.5 {}]",
        ms(p.wall),
        ms(p.find_wall),
        p.wall_ratio,
        met(p.wall_ratio <= 1.0),
        ms(p.cpu),
        ms(p.find_cpu),
        p.cpu_ratio,
        met(p.cpu_ratio <= 0.5),
    );
}

fn max_child_rss_kib() -> i64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .map(|u| u.max_rss())
        .unwrap_or(-1)
}

/// Processes that each hold open the live locks that name them, as a gateway holds its own.
/// Each is a `python3` that creates its locks, writes its pid into each and waits for its
/// stdin to close.
struct Holders {
    // Alive as long as this is: each holds its locks open.
    _procs: Vec<common::Proc>,
    paths: Vec<PathBuf>,
}

impl Holders {
    fn spawn(tree: &Path, users: usize, n: usize, each: usize) -> Holders {
        const PY: &str = "import os,sys\ncreated=sys.argv[1]\nfds=[]\nbody=('{\\n  \"pid\": %d,\\n  \"createdAt\": \"%s\"\\n}' % (os.getpid(), created)).encode()\nfor p in sys.stdin.readline().split('\\0')[:-1]:\n fd=os.open(p,os.O_CREAT|os.O_WRONLY|os.O_TRUNC,0o644); os.write(fd,body); fds.append(fd)\nprint(len(fds),flush=True)\nsys.stdin.read()\n";
        let created = common::created_at(Duration::ZERO);
        let mut procs = Vec::new();
        let mut paths = Vec::new();
        for h in 0..n {
            let mine: Vec<PathBuf> = (h * each..(h + 1) * each)
                .map(|i| {
                    let id = 100_000 + i % users;
                    let dir = tree.join(format!("gw-{id}/.openclaw/agents/main/sessions"));
                    let round = 9000 + i / users;
                    dir.join(format!(
                        "{id:06}-{round:04}-4f1c-9a7e-3d2b1c0a9f8e.jsonl.lock"
                    ))
                })
                .collect();
            let mut p = common::Proc::spawn(
                Command::new("python3")
                    .args(["-c", PY, &created])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped()),
            );
            use std::io::{BufRead, Write};
            use std::os::unix::ffi::OsStrExt;
            let mut line = Vec::new();
            for m in &mine {
                line.extend_from_slice(m.as_os_str().as_bytes());
                line.push(0);
            }
            line.push(b'\n');
            p.stdin.as_mut().unwrap().write_all(&line).unwrap();
            let mut ok = String::new();
            std::io::BufReader::new(p.stdout.as_mut().unwrap())
                .read_line(&mut ok)
                .unwrap();
            assert_eq!(ok.trim(), each.to_string(), "holder {h} did not start");
            paths.extend(mine);
            procs.push(p);
        }
        Holders {
            _procs: procs,
            paths,
        }
    }
}

/// Syscalls of one run of `cmd` and its children, from `strace -c -f`: the total, and the
/// calls of each syscall.
fn syscalls(cmd: Command, out: &Path) -> Option<Counts> {
    let mut s = wrapped(&["strace", "-f", "-c", "-o", out.to_str()?], cmd);
    s.stdout(Stdio::null()).stderr(Stdio::null());
    s.status().ok()?;
    let text = std::fs::read_to_string(out).ok()?;
    // Each line: `<%> <secs> <usecs/call> <calls> [<errors>] <syscall>`; the last one `total`.
    let mut counts = Counts::default();
    for l in text.lines() {
        let words: Vec<&str> = l.split_whitespace().collect();
        let (Some(calls), Some(name)) = (words.get(3), words.last()) else {
            continue;
        };
        let Ok(calls) = calls.parse::<u64>() else {
            continue;
        };
        if *name == "total" {
            counts.total = calls;
        } else {
            counts.by_name.insert((*name).to_owned(), calls);
        }
    }
    (counts.total > 0).then_some(counts)
}

/// `cmd` run by `prefix` (`strace …`, `taskset …`), with the same environment.
fn wrapped(prefix: &[&str], cmd: Command) -> Command {
    let mut w = Command::new(prefix[0]);
    w.args(&prefix[1..])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => w.env(k, v),
            None => w.env_remove(k),
        };
    }
    w
}

/// The tree seen through a `nodev` bind mount of it (root only; unmounted when dropped): there
/// a lock is read in one open (see `sys::safefs::Mount`).
struct NodevView(PathBuf);

impl NodevView {
    fn mount(tree: &Path, at: &Path) -> Option<NodevView> {
        std::fs::create_dir_all(at).ok()?;
        let mount = |args: &[&str]| {
            Command::new("mount")
                .args(args)
                .args([tree, at])
                .status()
                .is_ok_and(|s| s.success())
        };
        if !mount(&["--bind"]) {
            return None;
        }
        let view = NodevView(at.to_owned());
        mount(&["-o", "remount,bind,nodev"]).then_some(view)
    }
}

impl Drop for NodevView {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// What `strace -c -f` counted.
#[derive(Default)]
struct Counts {
    total: u64,
    by_name: std::collections::BTreeMap<String, u64>,
}

fn main() {
    // `cargo bench` passes --bench; any other argument is a filter we do not use.
    let users = env_or("ZAKI_BENCH_USERS", 2000);
    let sessions = env_or("ZAKI_BENCH_SESSIONS", 20);
    let runs = env_or("ZAKI_BENCH_RUNS", 15);
    let n_holders = env_or("ZAKI_BENCH_HOLDERS", 4);
    let each = env_or("ZAKI_BENCH_HELD", users / 10);
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("gateways");

    let owners = LiveOwners::spawn();
    let started = Instant::now();
    let mut exp = generate(&tree, users, sessions, &owners.owners);
    if env_or("ZAKI_BENCH_UNHELD", 0) == 1 {
        exp.held.clear();
    }
    let holders = Holders::spawn(&tree, users, n_holders, each);
    let locks = exp.stale.len() + exp.live.len() + holders.paths.len();
    println!(
        "tree: {users} users x {sessions} sessions, {locks} locks ({} stale, {n_holders} processes holding {each} each), generated in {:.1}s, binary {}",
        exp.stale.len(),
        started.elapsed().as_secs_f64(),
        bin().display()
    );

    let run_lock = tmp.path().join("run.lock");
    // Every gateway's state dir as a --root: the tool judges their owners on this host.
    // Every state dir as a --root, as seen below `base` (the tree itself, or a view of it).
    let zaki_in = |base: &Path, args: &[&str]| {
        let mut c = Command::new(bin());
        c.args(args).env("ZAKI_LOCKS_RUN_LOCK", &run_lock);
        for d in &exp.state_dirs {
            c.arg("--root")
                .arg(base.join(d.strip_prefix(&tree).unwrap()));
        }
        c
    };
    let zaki = |args: &[&str]| zaki_in(&tree, args);
    let find = || {
        let mut c = Command::new("find");
        c.arg(&tree).args(["-name", "*.jsonl.lock"]);
        c
    };
    let host = |extra: &[&'static str]| {
        let mut v = extra.to_vec();
        v.push("--no-containers");
        zaki(&v)
    };
    // Syscalls of a scan of the whole tree, before any clean: every kind of lock, live ones held.
    let strace = env_or("ZAKI_BENCH_STRACE", 1) == 1;
    let out = tmp.path().join("strace.txt");
    let with = strace.then(|| syscalls(host(&["scan"]), &out)).flatten();
    let nodev = NodevView::mount(&tree, &tmp.path().join("nodev"));
    let nodev_scan = |v: &NodevView| zaki_in(&v.0, &["scan", "--no-containers"]);
    let with_nodev = nodev
        .as_ref()
        .filter(|_| strace)
        .and_then(|v| syscalls(nodev_scan(v), &out));
    println!("runs: {runs} pairs (find, then the tool), after one warm-up each; medians");
    let stress = paired(runs, find, || host(&["scan"]));
    report("scan (table)", &stress);
    // The same on one core: what the walk's second thread gains.
    let one_core = paired(runs, find, || {
        wrapped(&["taskset", "-c", "0"], host(&["scan"]))
    });
    report("scan (table), one core (taskset -c 0)", &one_core);
    both_cores("", &stress, &one_core);
    {
        // Both cores busy (a spinning shell on each): the walk's threads must not lose there.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let _hogs: Vec<common::Proc> = (0..cores)
            .map(|_| common::Proc::spawn(Command::new("sh").args(["-c", "while :; do :; done"])))
            .collect();
        let busy = paired(runs, find, || host(&["scan"]));
        report("scan (table), cores busy", &busy);
        let busy_one = paired(runs, find, || {
            wrapped(&["taskset", "-c", "0"], host(&["scan"]))
        });
        report("scan (table), cores busy, one core", &busy_one);
        both_cores("cores busy: ", &busy, &busy_one);
    }
    report(
        "scan --format json",
        &paired(runs, find, || host(&["scan", "--format", "json"])),
    );
    report(
        "clean --dry-run",
        &paired(runs, find, || host(&["clean", "--dry-run"])),
    );
    report(
        "scan --format json, asking Docker too",
        &paired(runs, find, || zaki(&["scan", "--format", "json"])),
    );
    // The first clean removes the stale locks; every timed run after it has nothing to remove.
    report(
        "clean (nothing to remove)",
        &paired(runs, find, || host(&["clean"])),
    );
    println!(
        "{users}-user run with every live lock held: scan {:.2} s [under 3 s: {}]",
        stress.wall.as_secs_f64(),
        if stress.wall.as_secs_f64() < 3.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    let procs = env_or("ZAKI_BENCH_PROCS", 0);
    if procs > 0 {
        let fds = env_or("ZAKI_BENCH_FDS", 50);
        let started = Instant::now();
        let crowd = common::Crowd::spawn(procs, fds, &tmp.path().join("crowd"));
        println!(
            "with {} more host processes x {fds} open files (spawned in {:.1}s):",
            crowd.pids,
            started.elapsed().as_secs_f64()
        );
        report(
            "scan (table), busy host",
            &paired(runs, find, || host(&["scan"])),
        );
        report(
            "clean (nothing to remove), busy host",
            &paired(runs, find, || host(&["clean"])),
        );
        drop(crowd);
    }
    println!("peak RSS of any child: {} KiB", max_child_rss_kib());
    let left = exp.stale.iter().filter(|p| p.exists()).count();
    let lost = exp.live.iter().chain(&holders.paths);
    let lost = lost.filter(|p| !p.exists()).count();
    println!("after clean: stale left {left}, live lost {lost}");
    if strace {
        for p in exp.live.iter().chain(&exp.stale).chain(&holders.paths) {
            let _ = std::fs::remove_file(p);
        }
        let without = syscalls(host(&["scan"]), &out);
        print_syscalls(with, without, locks, users);
        if let Some(v) = &nodev {
            println!("on a nodev mount of the same tree:");
            print_syscalls(with_nodev, syscalls(nodev_scan(v), &out), locks, users);
        }
    }
    drop(nodev);
    drop(holders);
    drop(owners);
}

/// Syscalls a lock and a user dir: `scan` under `strace -c -f` on the whole tree (`with`, its
/// `locks` locks), and again once every lock is gone (`without`, the `users` user dirs alone);
/// the difference is the locks'.
fn print_syscalls(with: Option<Counts>, without: Option<Counts>, locks: usize, users: usize) {
    let (Some(with), Some(without)) = (with, without) else {
        println!("syscalls: strace -c -f failed (is strace installed?)");
        return;
    };
    let each = |c: &Counts, n: usize| {
        let mut v: Vec<(f64, &str)> = c
            .by_name
            .iter()
            .map(|(k, &v)| (v as f64 / n.max(1) as f64, k.as_str()))
            .filter(|(v, _)| *v >= 0.05)
            .collect();
        v.sort_by(|a, b| b.0.total_cmp(&a.0));
        v.iter()
            .map(|(v, k)| format!("{k} {v:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut diff = Counts::default();
    for (k, &v) in &with.by_name {
        let before = without.by_name.get(k).copied().unwrap_or(0);
        diff.by_name.insert(k.clone(), v.saturating_sub(before));
    }
    let lines = [
        format!("  a lock: {}", each(&diff, locks)),
        format!("  a user dir: {}", each(&without, users)),
    ];
    let (with, without) = (with.total, without.total);
    let per_user = without as f64 / users as f64;
    let per_lock = with.saturating_sub(without) as f64 / locks.max(1) as f64;
    let met = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "syscalls (strace -c -f, scan): {with} with {locks} locks, {without} with none: {per_lock:.1} a lock [<=10 {}], {per_user:.1} a user dir [<=25 {}]",
        met(per_lock <= 10.0),
        met(per_user <= 25.0)
    );
    for l in lines {
        println!("{l}");
    }
}
