//! Real parts for the tests: trees of real files, real processes as lock owners, and the real
//! binary. Nothing here fakes an owner: a "dead" pid was a child that really exited, a "thread"
//! is a real thread id, a "zombie" is a real unreaped child.

#![allow(dead_code)]

pub mod docker;
pub mod engine;
pub mod fleet;
pub mod gateway;
pub mod sqlite;
pub mod tree;
pub mod watch;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use serde_json::Value;

/// Fails the test (never skips it) when not run as root: `why` says what needs root.
pub fn require_root(why: &str) {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root ({why}): run it as root, as scripts/test.sh and CI do"
    );
}

/// Runs `f` with a fresh tmpfs mounted at `at` with the mount options `opts` (root only),
/// unmounting it afterwards, even when `f` panics.
pub fn with_tmpfs(at: &Path, opts: &str, f: impl FnOnce()) {
    std::fs::create_dir_all(at).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
        .arg(at)
        .status();
    assert!(
        ok.is_ok_and(|s| s.success()),
        "mount tmpfs at {} (needs root)",
        at.display()
    );
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    let _ = Command::new("umount").arg("-l").arg(at).status();
    if let Err(e) = r {
        std::panic::resume_unwind(e);
    }
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_zaki-locks"))
}

/// The binary with a private run lock, so parallel tests do not step aside for each other.
pub fn zaki(run_lock_dir: &Path) -> Command {
    let mut c = Command::new(bin());
    c.env("ZAKI_LOCKS_RUN_LOCK", run_lock_dir.join("run.lock"))
        .env("NO_COLOR", "1")
        .env_remove("OPENCLAW_STATE_DIR")
        .stdin(Stdio::null());
    c
}

pub fn run(mut cmd: impl std::borrow::BorrowMut<Command>) -> Output {
    cmd.borrow_mut().output().expect("zaki-locks runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a finished run's exit code; when it is not `code`, the message shows the run's
/// stderr and stdout. Returns its stderr.
pub fn exited(o: &Output, code: i32) -> String {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "{}\nstderr:\n{err}\nstdout:\n{}",
        o.status,
        stdout(o)
    );
    err
}

/// Runs `cmd` (a [`zaki`] command) with `--format json` added, asserts its exit code (see
/// [`exited`]), and returns its JSON report and its stderr.
pub fn run_json(mut cmd: impl std::borrow::BorrowMut<Command>, code: i32) -> (Value, String) {
    let o = run(cmd.borrow_mut().args(["--format", "json"]));
    let err = exited(&o, code);
    (json(&o), err)
}

pub fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            stdout(o),
            stderr(o)
        )
    })
}

/// Locks in a JSON report, by file name.
pub fn by_name(report: &Value) -> std::collections::BTreeMap<String, Value> {
    report["locks"]
        .as_array()
        .expect("locks array")
        .iter()
        .map(|l| {
            let p = l["path"].as_str().unwrap();
            (p.rsplit('/').next().unwrap().to_owned(), l.clone())
        })
        .collect()
}

/// A spawned child in a process group of its own: the whole group (the child and whatever it
/// started that did not leave it) gets SIGKILL, and the child is reaped, when this is dropped,
/// also when the test panics. The child also gets SIGKILL when the thread that spawned it
/// ends (`PR_SET_PDEATHSIG`), so that a test binary killed or interrupted (Ctrl-C no longer
/// reaches a child in another process group) leaves nothing behind either: keep a `Proc`
/// in the thread that spawned it. Every process a test starts goes through [`Proc::spawn`].
pub struct Proc {
    child: Option<Child>,
    pgid: i32,
}

impl Proc {
    /// Spawns `cmd` as the leader of a new process group, killed with it on drop.
    pub fn spawn(cmd: &mut Command) -> Proc {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        // SAFETY: prctl(2) is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(std::io::Error::from)
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {:?}: {e}", cmd.get_program()));
        Proc {
            pgid: child.id() as i32,
            child: Some(child),
        }
    }

    pub fn sleep() -> Proc {
        Proc::spawn(Command::new("sleep").arg("600").stdin(Stdio::null()))
    }

    /// A live process holding `path` open (created empty if absent), as OpenClaw holds its
    /// lock for the whole hold; write the payload (with this pid) afterwards.
    pub fn holding(path: &Path) -> Proc {
        let p = Proc::spawn(
            Command::new("sh")
                .args(["-c", "exec sleep 600 3>>\"$0\""])
                .arg(path)
                .stdin(Stdio::null()),
        );
        let comm = format!("/proc/{}/comm", p.pid());
        for _ in 0..500 {
            if std::fs::read_to_string(&comm).is_ok_and(|c| c.trim() == "sleep") {
                return p;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("holder of {} never started", path.display());
    }

    pub fn pid(&self) -> u32 {
        self.pgid as u32
    }

    /// Sends `sig` to the child alone (not its group).
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pgid), sig)
            .unwrap_or_else(|e| panic!("kill -{sig} {}: {e}", self.pgid));
    }

    /// Waits for the child and collects its piped output; what it left in its group is
    /// killed on drop, as always.
    pub fn wait_with_output(mut self) -> Output {
        self.child
            .take()
            .expect("a child")
            .wait_with_output()
            .expect("wait for the child")
    }
}

impl std::ops::Deref for Proc {
    type Target = Child;
    fn deref(&self) -> &Child {
        self.child.as_ref().expect("a child")
    }
}

impl std::ops::DerefMut for Proc {
    fn deref_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("a child")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // The group first: also what the child started, even once the child itself is gone.
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(self.pgid),
            nix::sys::signal::Signal::SIGKILL,
        );
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Many idle host processes with open files, for the holder search's cost: `n` `sleep`s that
/// each inherit `fds` open files (one in ten named `*.lock`, so that it is `stat`ed too).
/// Killed and reaped when dropped.
pub struct Crowd {
    child: Option<Proc>,
    pub pids: usize,
}

impl Crowd {
    pub fn spawn(n: usize, fds: usize, dir: &Path) -> Crowd {
        const PY: &str = "import os,sys\nn,k,d=int(sys.argv[1]),int(sys.argv[2]),sys.argv[3]\nfor i in range(k):\n fd=os.open(os.path.join(d,'f%d.%s'%(i,'lock' if i%10==0 else 'dat')),os.O_CREAT|os.O_RDWR,0o644); os.set_inheritable(fd,True)\npids=[]\nfor i in range(n):\n p=os.fork()\n if p==0: os.execvp('sleep',['sleep','100000'])\n pids.append(p)\nprint(len(pids),flush=True)\nsys.stdin.read()\nfor p in pids: os.kill(p,9)\nfor p in pids: os.waitpid(p,0)\n";
        std::fs::create_dir_all(dir).unwrap();
        let mut child = Proc::spawn(
            Command::new("python3")
                .args(["-c", PY, &n.to_string(), &fds.to_string()])
                .arg(dir)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped()),
        );
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Crowd {
            child: Some(child),
            pids: line.trim().parse().unwrap_or(0),
        }
    }
}

impl Drop for Crowd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            drop(c.stdin.take());
            let _ = c.wait();
        }
    }
}

/// The pid of a child that has exited and been reaped.
pub fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().expect("spawn true");
    let pid = c.id();
    c.wait().unwrap();
    pid
}

/// A child that has exited but is not reaped: a real zombie, until dropped.
pub struct Zombie(pub Child);

impl Zombie {
    // The whole point: the child is reaped only when the Zombie is dropped.
    #[allow(clippy::zombie_processes)]
    pub fn new() -> Zombie {
        let c = Command::new("true").spawn().expect("spawn true");
        let status = format!("/proc/{}/status", c.id());
        for _ in 0..500 {
            let s = std::fs::read_to_string(&status).unwrap_or_default();
            if s.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
            {
                return Zombie(c);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("child {} never became a zombie", c.id());
    }
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Zombie {
    fn drop(&mut self) {
        let _ = self.0.wait();
    }
}

/// A live thread of this test process; its tid is not a process id.
pub struct Thread {
    pub tid: u32,
    stop: Option<mpsc::Sender<()>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Thread {
    pub fn new() -> Thread {
        let (tid_tx, tid_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let handle = std::thread::spawn(move || {
            tid_tx.send(nix::unistd::gettid().as_raw() as u32).unwrap();
            let _ = stop_rx.recv();
        });
        let tid = tid_rx.recv().unwrap();
        assert_ne!(tid, std::process::id());
        Thread {
            tid,
            stop: Some(stop_tx),
            handle: Some(handle),
        }
    }
}

impl Drop for Thread {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// `createdAt` as OpenClaw writes it, `ago` before now.
pub fn created_at(ago: Duration) -> String {
    let t = chrono::Utc::now() - chrono::TimeDelta::from_std(ago).unwrap();
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A payload exactly as OpenClaw 2026.2 writes it (pretty JSON, two spaces).
pub fn legacy_payload(pid: u32, ago: Duration) -> String {
    format!(
        "{{\n  \"pid\": {pid},\n  \"createdAt\": \"{}\"\n}}",
        created_at(ago)
    )
}

/// A 2026.3+ payload with the owner's starttime.
pub fn starttime_payload(pid: u32, ago: Duration, starttime: u64) -> String {
    format!(
        "{{\n  \"pid\": {pid},\n  \"createdAt\": \"{}\",\n  \"starttime\": {starttime}\n}}",
        created_at(ago)
    )
}

/// Field 22 of `/proc/<pid>/stat`.
pub fn starttime_of(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 1..];
    after.split_whitespace().nth(19).unwrap().parse().unwrap()
}

pub fn set_mtime(path: &Path, ago: Duration) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - ago).unwrap();
}

pub const MIN: Duration = Duration::from_secs(60);

/// Samples by `name{label=value,…}` (labels sorted), parsed by `prometheus-parse`.
pub fn prometheus(text: &str) -> std::collections::HashMap<String, f64> {
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .unwrap_or_else(|e| panic!("not Prometheus text ({e}):\n{text}"));
    assert!(!scrape.docs.is_empty(), "no HELP lines");
    scrape
        .samples
        .into_iter()
        .map(|s| {
            let mut labels: Vec<String> =
                s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            labels.sort();
            let v = match s.value {
                prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
                other => panic!("not a gauge: {other:?}"),
            };
            (format!("{}{{{}}}", s.metric, labels.join(",")), v)
        })
        .collect()
}
