//! A Docker engine of the test's own, for the tests that stop the engine or break it: a second
//! `dockerd` with its own socket, data root, exec root, pid file and config, started by the
//! test and stopped (its containers removed, its mounts undone, its directory deleted) when
//! dropped, also when the test fails. The machine's engine, whoever started it, is never
//! touched. It holds the busybox test image, copied from the machine's engine
//! (`docker save | docker load`, a second or two): `scripts/docker-env.sh all` must have run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::Proc;
use super::docker::{BUSYBOX, docker_at, require};

pub struct Engine {
    /// Everything of this engine is below it: `docker.sock`, `data/`, `exec/`, the pid file,
    /// the config and `dockerd.log`. Short, for the socket paths below it.
    pub dir: PathBuf,
    /// `unix://<dir>/docker.sock`, for `DOCKER_HOST` and `--host`.
    pub host: String,
    /// containerd's namespace, unique to this engine (a system containerd may be shared).
    namespace: String,
    daemon: Option<Proc>,
}

impl Engine {
    /// Starts a new engine (no bridge, no iptables, as `scripts/docker-env.sh` starts the
    /// machine's) and loads the busybox test image into it.
    pub fn start() -> Engine {
        require();
        static N: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let dir = PathBuf::from(format!("/tmp/zeng-{id}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("daemon.json"), "{}\n").unwrap();
        let mut e = Engine {
            host: format!("unix://{}/docker.sock", dir.display()),
            namespace: format!("zaki-test-{id}"),
            dir,
            daemon: None,
        };
        e.start_daemon();
        let o = Command::new("bash")
            .args([
                "-o",
                "pipefail",
                "-c",
                "docker save \"$1\" | docker --host \"$2\" load -q",
                "bash",
                BUSYBOX,
                &e.host,
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "copying {BUSYBOX} into the test's engine: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        e
    }

    fn start_daemon(&mut self) {
        assert!(self.daemon.is_none(), "the engine is running already");
        let d = &self.dir;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("dockerd.log"))
            .unwrap();
        let daemon = Proc::spawn(
            Command::new("dockerd")
                .arg("--host")
                .arg(&self.host)
                .arg("--data-root")
                .arg(d.join("data"))
                .arg("--exec-root")
                .arg(d.join("exec"))
                .arg("--pidfile")
                .arg(d.join("docker.pid"))
                .arg("--config-file")
                .arg(d.join("daemon.json"))
                .args(["--containerd-namespace", &self.namespace])
                .args([
                    "--containerd-plugins-namespace",
                    &format!("{}-plugins", self.namespace),
                ])
                .args(["--iptables=false", "--ip6tables=false", "--bridge=none"])
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log),
        );
        self.daemon = Some(daemon);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.docker(&["info"]).status.success() {
            let exited = self.daemon.as_mut().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "the test's dockerd did not answer ({exited:?}); {}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The last lines of its log, for a failure's message.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        format!(
            "last lines of {}:\n{}",
            self.dir.join("dockerd.log").display(),
            lines[lines.len().saturating_sub(15)..].join("\n")
        )
    }

    /// Stops the daemon as an operator's `systemctl stop docker` does (SIGTERM: it stops its
    /// containers and exits); SIGKILL to its process group if it takes over 60 s.
    pub fn stop(&mut self) {
        let Some(mut daemon) = self.daemon.take() else {
            return;
        };
        daemon.signal(nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(60);
        while daemon.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                eprintln!("the test's dockerd did not stop in 60 s; killing it");
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        drop(daemon);
        self.kill_shims();
    }

    /// Starts the daemon again, on the same data root (containers with a restart policy come
    /// back).
    pub fn start_again(&mut self) {
        self.start_daemon();
    }

    /// The docker CLI against this engine.
    pub fn docker(&self, args: &[&str]) -> Output {
        docker_at(Some(&self.host), args)
    }

    /// `zaki-locks` (see [`super::zaki`]) talking to this engine through `DOCKER_HOST`.
    pub fn zaki(&self, run_lock_dir: &Path) -> Command {
        let mut c = super::zaki(run_lock_dir);
        c.env("DOCKER_HOST", &self.host);
        c
    }

    /// containerd shims of this engine still running (its containerd died under them): found by
    /// the engine's own directory in their command line, killed by pid.
    fn kill_shims(&self) {
        let needle = self.dir.to_string_lossy().into_owned();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
                continue;
            };
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains("containerd-shim") && cmdline.contains(&needle) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }

    /// Mount points below the engine's directory, deepest first.
    fn mounts(&self) -> Vec<String> {
        let prefix = format!("{}/", self.dir.display());
        let mut m: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
            .filter(|p| p.starts_with(&prefix))
            .collect();
        m.sort_by_key(|p| std::cmp::Reverse(p.len()));
        m
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if self.daemon.is_some() {
            let ids = self.docker(&["ps", "-aq"]);
            let ids = String::from_utf8_lossy(&ids.stdout).into_owned();
            let ids: Vec<&str> = ids.split_whitespace().collect();
            if !ids.is_empty() {
                let mut args = vec!["rm", "-f"];
                args.extend(ids);
                let _ = self.docker(&args);
            }
        }
        self.stop();
        for m in self.mounts() {
            let _ = Command::new("umount").args(["-l", &m]).status();
        }
        if self.mounts().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!(
                "{} still has mounts: {:?}; left in place",
                self.dir.display(),
                self.mounts()
            );
        }
    }
}
