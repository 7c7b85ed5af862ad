//! Judging a container's pids from the host, without exec.
//!
//! A bind-mounted lock names a pid of the container's PID namespace. The container's processes
//! are the host processes whose `/proc/<pid>/ns/pid` is the container init's, and the last
//! `NSpid` entry of each task (process or thread) is its id inside. So a lock's pid maps to a
//! host task, whose `/proc` entry the host can read like any other.
//!
//! The map must be built after the locks it judges were read: a process that started after the
//! map was built would otherwise be missing and look dead.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::dir::Dir;

use crate::model::process::Owner;
use crate::sys::proc::{HostProc, Process};

/// Why a container's pids cannot be judged from the host. Cloned into every lock of the
/// container it concerns, hence the shared I/O error.
#[derive(Debug, Clone)]
pub enum Error {
    /// `/proc` could not be listed.
    List { path: PathBuf, err: Arc<io::Error> },
    /// The container init's `ns/pid` link could not be read.
    Read { path: PathBuf, err: Arc<io::Error> },
    /// The container runs in this process's own PID namespace.
    SharedNamespace,
    /// Nothing runs in the init's namespace any more.
    Empty { init: u64 },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::List { path, err } => write!(f, "cannot list {}: {err}", path.display()),
            Error::Read { path, err } => write!(f, "cannot read {}: {err}", path.display()),
            Error::SharedNamespace => {
                f.write_str("the container shares this PID namespace (--pid=host?)")
            }
            Error::Empty { init } => write!(
                f,
                "no process found in the PID namespace of host pid {init}"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::List { err, .. } | Error::Read { err, .. } => Some(err.as_ref()),
            Error::SharedNamespace | Error::Empty { .. } => None,
        }
    }
}

/// Host processes grouped by PID namespace (the `ns/pid` link text), read once per run.
#[derive(Debug, Default)]
pub struct Namespaces {
    by_ns: HashMap<String, Vec<u64>>,
}

impl Namespaces {
    pub fn scan(proc_root: &Path) -> Result<Namespaces, Error> {
        let mut by_ns: HashMap<String, Vec<u64>> = HashMap::new();
        let entries = fs::read_dir(proc_root).map_err(|e| Error::List {
            path: proc_root.to_owned(),
            err: Arc::new(e),
        })?;
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u64>().ok()) else {
                continue;
            };
            // A process that exits meanwhile, or one we may not inspect, is simply not listed;
            // only namespaces we need are looked up, and their init must be readable.
            if let Ok(ns) = fs::read_link(e.path().join("ns/pid")) {
                by_ns
                    .entry(ns.to_string_lossy().into_owned())
                    .or_default()
                    .push(pid);
            }
        }
        Ok(Namespaces { by_ns })
    }

    /// The namespace map of the container whose init has host pid `init`.
    pub fn container(&self, proc_root: &Path, init: u64) -> Result<NsMap, Error> {
        let ns = Process::open(proc_root, init)
            .and_then(|p| p.pid_namespace())
            .map_err(|e| Error::Read {
                path: proc_root.join(init.to_string()).join("ns/pid"),
                err: Arc::new(e),
            })?;
        let own = fs::read_link(proc_root.join("self/ns/pid"))
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_default();
        if ns == own {
            return Err(Error::SharedNamespace);
        }
        let mut map = NsMap::default();
        for &pid in self.by_ns.get(&ns).map(Vec::as_slice).unwrap_or(&[]) {
            map.add_tasks(proc_root, pid);
        }
        if map.inner.is_empty() {
            return Err(Error::Empty { init });
        }
        Ok(map)
    }
}

/// A container's tasks: id inside ↔ host tid.
#[derive(Debug, Default, Clone)]
pub struct NsMap {
    inner: HashMap<u64, u64>,
    outer: HashMap<u64, u64>,
}

impl NsMap {
    /// Adds every task (thread) of host process `pid`: its id inside is the last `NSpid`
    /// entry of its own `status`, read through the task's opened directory.
    fn add_tasks(&mut self, proc_root: &Path, pid: u64) {
        let Ok(tasks) = Process::open(proc_root, pid).and_then(|p| p.dir("task")) else {
            return;
        };
        let Some(list) = tasks.try_clone().ok().and_then(|fd| Dir::from_fd(fd).ok()) else {
            return;
        };
        for t in list.into_iter().flatten() {
            let Some(tid) = t
                .file_name()
                .to_str()
                .ok()
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let Ok(status) = Process::open_at(&tasks, tid).and_then(|t| t.status()) else {
                continue;
            };
            let st = crate::sys::proc::parse_status(&status);
            if let Some(&inner) = st.nspid.last().filter(|_| st.nspid.len() >= 2) {
                self.inner.insert(inner, tid);
                self.outer.insert(tid, inner);
            }
        }
    }

    /// Observes the container's `pid` through the host's `/proc`, reporting `Tgid` as the id
    /// inside the container so that the policy's thread check compares like with like.
    pub fn observe(&self, pid: u64, proc: &HostProc) -> Owner {
        let Some(&host) = self.inner.get(&pid) else {
            return Owner::Gone;
        };
        match proc.observe(host) {
            Owner::Found(mut f) => {
                f.tgid = match f.tgid {
                    Some(t) => match self.outer.get(&t) {
                        Some(&inner) => Some(inner),
                        None => {
                            return Owner::Unknown(format!(
                                "pid {pid} belongs to host process {t}, outside the container"
                            ));
                        }
                    },
                    None => None,
                };
                Owner::Found(f)
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_and_where() {
        let proc = Path::new("/proc");
        let ns = Namespaces::scan(proc).unwrap();
        let me = u64::from(std::process::id());
        let shared = ns.container(proc, me).unwrap_err();
        assert!(matches!(shared, Error::SharedNamespace));
        assert_eq!(
            shared.to_string(),
            "the container shares this PID namespace (--pid=host?)"
        );
        let gone = ns.container(proc, 4 * 1024 * 1024 + 1).unwrap_err();
        assert_eq!(
            gone.to_string(),
            "cannot read /proc/4194305/ns/pid: No such file or directory (os error 2)"
        );
        assert!(std::error::Error::source(&gone).is_some());
        let missing = Namespaces::scan(Path::new("/nonexistent-proc")).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "cannot list /nonexistent-proc: No such file or directory (os error 2)"
        );
        assert_eq!(
            Error::Empty { init: 7 }.to_string(),
            "no process found in the PID namespace of host pid 7"
        );
    }
}
