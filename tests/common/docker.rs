//! A real Docker engine for the tests: containers from the images `scripts/docker-env.sh`
//! builds, removed when dropped (even when a test fails).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

pub const BUSYBOX: &str = "zaki-test/busybox:1";
pub const NOSH: &str = "zaki-test/nosh:1";

/// A multi-threaded program for containers: the host's python3 with three sleeping threads.
pub const THREADS_PY: &str = "import threading,time\nfor _ in range(3): threading.Thread(target=time.sleep,args=(1e6,),daemon=True).start()\ntime.sleep(1e6)\n";

pub fn docker(args: &[&str]) -> Output {
    docker_at(None, args)
}

/// The docker CLI against engine `host` (`unix:///…`), or the default one.
pub fn docker_at(host: Option<&str>, args: &[&str]) -> Output {
    let mut c = Command::new("docker");
    if let Some(h) = host {
        c.args(["--host", h]);
    }
    c.args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the docker CLI runs")
}

/// The label every test container carries: `org.zaki.test.run=<$ZAKI_TEST_RUN>`, so that
/// `scripts/test.sh` finds (and removes) whatever its run left behind, and nothing of
/// another run beside it on the same engine.
pub fn run_label() -> String {
    format!(
        "org.zaki.test.run={}",
        std::env::var("ZAKI_TEST_RUN").unwrap_or_else(|_| "manual".to_owned())
    )
}

fn ok(args: &[&str]) -> String {
    ok_at(None, args)
}

fn ok_at(host: Option<&str>, args: &[&str]) -> String {
    let o = docker_at(host, args);
    assert!(
        o.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

/// Fails loudly when there is no engine: these tests are part of the suite, not optional.
pub fn require() {
    let o = docker(&["image", "inspect", BUSYBOX, NOSH]);
    assert!(
        o.status.success(),
        "no Docker engine or test images: run `scripts/docker-env.sh all` (scripts/test.sh does)\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A name unique to this test run, starting with `prefix`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A running container, force-removed on drop.
pub struct Container {
    pub name: String,
    /// Its engine, when not the default one.
    pub host: Option<String>,
}

impl Container {
    /// `docker run -d --network none --name NAME ARGS… IMAGE CMD…`.
    pub fn run(name: &str, args: &[&str], image: &str, cmd: &[&str]) -> Container {
        Container::run_with_network(name, "none", args, image, cmd)
    }

    pub fn run_with_network(
        name: &str,
        network: &str,
        args: &[&str],
        image: &str,
        cmd: &[&str],
    ) -> Container {
        Container::run_at(None, name, network, args, image, cmd)
    }

    /// `docker --host HOST run -d --network NETWORK --name NAME ARGS… IMAGE CMD…`.
    pub fn run_at(
        host: Option<&str>,
        name: &str,
        network: &str,
        args: &[&str],
        image: &str,
        cmd: &[&str],
    ) -> Container {
        let label = run_label();
        let mut all = vec!["run", "-d", "--network", network, "--name", name];
        all.extend(["--label", &label]);
        all.extend(args);
        all.push(image);
        all.extend(cmd);
        // Recorded before `docker run`, so that one that failed half-way is removed too.
        let c = Container {
            name: name.to_owned(),
            host: host.map(str::to_owned),
        };
        ok_at(host, &all);
        c
    }

    fn docker(&self, args: &[&str]) -> Output {
        docker_at(self.host.as_deref(), args)
    }

    fn ok(&self, args: &[&str]) -> String {
        ok_at(self.host.as_deref(), args)
    }

    /// A busybox container whose pid 1 is a shell waiting on a `sleep`.
    pub fn busybox(name: &str, args: &[&str]) -> Container {
        Container::run(name, args, BUSYBOX, &["sh", "-c", "sleep 100000 & wait"])
    }

    /// A busybox container whose pid 1 is the host's python3 with three threads.
    pub fn threaded(name: &str, args: &[&str]) -> Container {
        let mut a = host_python();
        a.extend(args);
        Container::run(name, &a, BUSYBOX, &["python3", "-c", THREADS_PY])
    }

    pub fn sh(&self, script: &str) -> String {
        self.ok(&["exec", &self.name, "sh", "-c", script])
    }

    /// Field 22 of `/proc/<pid>/stat` in the container: the starttime a lock or a lease names.
    pub fn starttime(&self, pid: u64) -> u64 {
        self.sh(&format!("cat /proc/{pid}/stat"))
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .nth(19)
            .unwrap()
            .parse()
            .unwrap()
    }

    /// The thread ids (not the process id) of the container's pid 1.
    pub fn thread_ids(&self) -> Vec<u64> {
        for _ in 0..100 {
            let tids: Vec<u64> = self
                .sh("ls /proc/1/task")
                .split_whitespace()
                .filter_map(|t| t.parse().ok())
                .filter(|&t| t != 1)
                .collect();
            if tids.len() >= 3 {
                return tids;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("{}: pid 1 never had its threads", self.name);
    }

    pub fn restart(&self) {
        self.ok(&["restart", "-t", "1", &self.name]);
    }

    pub fn stop(&self) {
        self.ok(&["stop", "-t", "1", &self.name]);
    }

    /// Writes a file inside the container (parents created).
    pub fn write(&self, path: &str, body: &str) {
        let mut c = Command::new("docker");
        if let Some(h) = &self.host {
            c.args(["--host", h]);
        }
        let o = c
            .args(["exec", "-i", &self.name, "sh", "-c"])
            .arg(format!(
                "mkdir -p \"$(dirname '{path}')\" && cat > '{path}'"
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(body.as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        assert!(o.status.success(), "writing {path} in {}", self.name);
    }

    pub fn exists(&self, path: &str) -> bool {
        self.docker(&["exec", &self.name, "test", "-e", path])
            .status
            .success()
            || self
                .docker(&["exec", &self.name, "test", "-L", path])
                .status
                .success()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self.docker(&["rm", "-f", &self.name]);
    }
}

/// `docker run` arguments that lend a busybox container the host's libraries, read-only.
pub const HOST_LIBS: [&str; 6] = [
    "-v",
    "/lib:/lib:ro",
    "-v",
    "/lib64:/lib64:ro",
    "-v",
    "/usr/lib:/usr/lib:ro",
];

/// [`HOST_LIBS`] and the host's python3 as `/usr/bin/python3` (with its sqlite3, fcntl and
/// ctypes modules): a tenant that can do what a real agent's code can.
pub fn host_python() -> Vec<&'static str> {
    let mut a = HOST_LIBS.to_vec();
    a.extend(["-v", "/usr/bin/python3.11:/usr/bin/python3:ro"]);
    a
}

/// Bind-mount argument `-v HOST:INSIDE`.
pub fn bind(host: &Path, inside: &str) -> String {
    format!("{}:{inside}", host.display())
}
