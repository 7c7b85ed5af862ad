//! What `--restart-orphaned` remembers of its own restarts across runs: a JSON object, container
//! name → [`Remembered`], in the run-state dir beside the run lock (`/run` as root, cleared at
//! boot). The file is this tool's, never a tenant's: read bounded, written whole to a temporary
//! file that is then renamed over it, so a crash leaves the old memory or the new one.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::model::claims::Remembered;

/// The memory of restarts of the run lock at `run_lock`.
pub fn path(run_lock: &Path) -> PathBuf {
    run_lock.with_file_name("zaki-locks-restarts.json")
}

/// Container name → what was remembered of it.
pub type Memory = BTreeMap<String, Remembered>;

/// Largest memory read: a few hundred bytes per container restarted lately.
const MAX_BYTES: u64 = 4 * 1024 * 1024;

/// The memory at `path`: empty when there is none yet; an error when it cannot be read or is
/// not ours (then no restart may be judged against it).
pub fn load(path: &Path) -> Result<Memory, String> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Memory::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut text = Vec::new();
    f.take(MAX_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if text.len() as u64 > MAX_BYTES {
        return Err(format!("{} is over {MAX_BYTES} bytes", path.display()));
    }
    serde_json::from_slice(&text).map_err(|e| format!("{} is malformed: {e}", path.display()))
}

/// Writes the memory, dropping what no longer matters: restarts older than a day that hold
/// no back-off.
pub fn save(
    path: &Path,
    memory: &Memory,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), String> {
    let t = now.timestamp();
    let kept: Memory = memory
        .iter()
        .filter(|(_, m)| t - m.restarted_at < 86_400 || m.backoff_until.is_some_and(|u| u > t))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let text = serde_json::to_vec(&kept).map_err(|e| e.to_string())?;
    let tmp = path.with_extension(format!("json.tmp.{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}: {e}", path.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_then_loaded_and_old_entries_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(&dir.path().join("run.lock"));
        assert_eq!(load(&p).unwrap(), Memory::new());
        let now = chrono::TimeZone::timestamp_opt(&chrono::Utc, 200_000, 0).unwrap();
        let mut m = Memory::new();
        let r = |at, until| Remembered {
            restarted_at: at,
            sessions: vec!["k".into()],
            survived: 0,
            backoff_until: until,
        };
        m.insert("new".into(), r(199_000, None));
        m.insert("old".into(), r(1_000, None));
        m.insert("backing-off".into(), r(1_000, Some(300_000)));
        save(&p, &m, now).unwrap();
        let back = load(&p).unwrap();
        assert_eq!(
            back.keys().collect::<Vec<_>>(),
            ["backing-off", "new"],
            "{back:?}"
        );
        std::fs::write(&p, "not json").unwrap();
        assert!(load(&p).unwrap_err().contains("malformed"));
    }
}
