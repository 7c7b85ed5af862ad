//! Removal removes only the lock that was judged: a lock replaced, rewritten, or reached through
//! a swapped directory in between survives. These provoke each race by hand on real files.

use std::fs;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};

use zaki_locks::act::remove::{Outcome, remove};
use zaki_locks::model::observed::Site;
use zaki_locks::observe::locks::snapshot;

struct Setup {
    _tmp: tempfile::TempDir,
    state: PathBuf,
    sessions: PathBuf,
    lock: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let sessions = state.join("agents/main/sessions");
    fs::create_dir_all(&sessions).unwrap();
    let lock = sessions.join("s.jsonl.lock");
    fs::write(
        &lock,
        "{\n  \"pid\": 999999,\n  \"createdAt\": \"2026-01-01T00:00:00.000Z\"\n}",
    )
    .unwrap();
    Setup {
        _tmp: tmp,
        state,
        sessions,
        lock,
    }
}

fn site(s: &Setup) -> Site {
    let m = fs::metadata(&s.sessions).unwrap();
    Site::Host {
        state_dir: s.state.clone(),
        rel_dir: PathBuf::from("agents/main/sessions"),
        dir_id: (m.dev(), m.ino()),
        name: "s.jsonl.lock".into(),
    }
}

fn only_entry(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn unchanged_lock_is_removed_without_leftovers() {
    let s = setup();
    let snap = snapshot(&s.lock).unwrap();
    assert_eq!(remove(&site(&s), &snap), Outcome::Removed);
    assert!(
        only_entry(&s.sessions).is_empty(),
        "{:?}",
        only_entry(&s.sessions)
    );
}

#[test]
fn a_lock_recreated_with_the_same_content_survives() {
    let s = setup();
    let site = site(&s);
    let snap = snapshot(&s.lock).unwrap();
    let body = fs::read(&s.lock).unwrap();
    // The owner released it and a new writer took it, even with identical bytes.
    fs::remove_file(&s.lock).unwrap();
    fs::write(&s.lock, &body).unwrap();
    let o = remove(&site, &snap);
    assert!(matches!(o, Outcome::Changed(_)), "{o:?}");
    assert_eq!(fs::read(&s.lock).unwrap(), body);
    assert_eq!(only_entry(&s.sessions), ["s.jsonl.lock"]);
}

#[test]
fn a_rewritten_lock_survives() {
    let s = setup();
    let snap = snapshot(&s.lock).unwrap();
    fs::write(
        &s.lock,
        "{\"pid\": 1, \"createdAt\": \"2026-11-24T00:00:00Z\"}",
    )
    .unwrap();
    assert!(matches!(remove(&site(&s), &snap), Outcome::Changed(_)));
    assert!(s.lock.exists());
}

#[test]
fn a_released_lock_is_gone_not_an_error() {
    let s = setup();
    let snap = snapshot(&s.lock).unwrap();
    fs::remove_file(&s.lock).unwrap();
    assert_eq!(remove(&site(&s), &snap), Outcome::Gone);
}

#[test]
fn a_sessions_dir_swapped_for_a_symlink_is_not_followed() {
    let s = setup();
    let site = site(&s);
    let snap = snapshot(&s.lock).unwrap();
    // Move the real dir away and plant a symlink to an outside dir holding the same bytes.
    let outside = s.state.parent().unwrap().join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::copy(&s.lock, outside.join("s.jsonl.lock")).unwrap();
    fs::rename(&s.sessions, s.state.join("agents/main/moved")).unwrap();
    symlink(&outside, &s.sessions).unwrap();
    let o = remove(&site, &snap);
    assert!(
        matches!(&o, Outcome::Changed(w) if w.contains("symlink")),
        "{o:?}"
    );
    assert!(outside.join("s.jsonl.lock").exists());
    assert!(s.state.join("agents/main/moved/s.jsonl.lock").exists());
}

#[test]
fn a_sessions_dir_swapped_for_another_dir_is_refused() {
    let s = setup();
    let site = site(&s);
    let snap = snapshot(&s.lock).unwrap();
    let other = s.state.join("agents/main/other");
    fs::create_dir_all(&other).unwrap();
    fs::rename(&s.sessions, s.state.join("agents/main/moved")).unwrap();
    fs::rename(&other, &s.sessions).unwrap();
    // Same name and bytes, but hard-linked so even the inode matches: only the dir differs.
    fs::hard_link(
        s.state.join("agents/main/moved/s.jsonl.lock"),
        s.sessions.join("s.jsonl.lock"),
    )
    .unwrap();
    let o = remove(&site, &snap);
    assert!(
        matches!(&o, Outcome::Changed(w) if w.contains("replaced")),
        "{o:?}"
    );
    assert!(s.sessions.join("s.jsonl.lock").exists());
}

#[test]
fn a_lock_replaced_by_a_symlink_is_not_touched() {
    let s = setup();
    let site = site(&s);
    let snap = snapshot(&s.lock).unwrap();
    let target = s.state.join("elsewhere");
    fs::copy(&s.lock, &target).unwrap();
    fs::remove_file(&s.lock).unwrap();
    symlink(&target, &s.lock).unwrap();
    let o = remove(&site, &snap);
    assert!(
        matches!(&o, Outcome::Changed(w) if w.contains("symlink")),
        "{o:?}"
    );
    assert!(
        fs::symlink_metadata(&s.lock)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(target.exists());
}
