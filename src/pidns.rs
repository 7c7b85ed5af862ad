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
use std::fs;
use std::path::Path;

use crate::proc::{HostProc, Owner};

/// Host processes grouped by PID namespace (the `ns/pid` link text), read once per run.
#[derive(Debug, Default)]
pub struct Namespaces {
    by_ns: HashMap<String, Vec<u64>>,
}

impl Namespaces {
    pub fn scan(proc_root: &Path) -> Result<Namespaces, String> {
        let mut by_ns: HashMap<String, Vec<u64>> = HashMap::new();
        let entries = fs::read_dir(proc_root)
            .map_err(|e| format!("cannot list {}: {e}", proc_root.display()))?;
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
    pub fn container(&self, proc_root: &Path, init: u64) -> Result<NsMap, String> {
        let link = proc_root.join(init.to_string()).join("ns/pid");
        let ns = fs::read_link(&link)
            .map_err(|e| format!("cannot read {}: {e}", link.display()))?
            .to_string_lossy()
            .into_owned();
        let own = fs::read_link(proc_root.join("self/ns/pid"))
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_default();
        if ns == own {
            return Err("the container shares this PID namespace (--pid=host?)".into());
        }
        let mut map = NsMap::default();
        for &pid in self.by_ns.get(&ns).map(Vec::as_slice).unwrap_or(&[]) {
            let tasks = proc_root.join(pid.to_string()).join("task");
            let Ok(tasks) = fs::read_dir(&tasks) else {
                continue;
            };
            for t in tasks.flatten() {
                let Some(tid) = t.file_name().to_str().and_then(|n| n.parse::<u64>().ok()) else {
                    continue;
                };
                let Ok(status) = fs::read_to_string(t.path().join("status")) else {
                    continue;
                };
                let st = crate::proc::parse_status(&status);
                if let Some(&inner) = st.nspid.last().filter(|_| st.nspid.len() >= 2) {
                    map.inner.insert(inner, tid);
                    map.outer.insert(tid, inner);
                }
            }
        }
        if map.inner.is_empty() {
            return Err(format!(
                "no process found in the PID namespace of host pid {init}"
            ));
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
