//! Issue 22, second round, item 6: `--container` on real containers. The platform's layout (a
//! users dir of `user-<id>` dirs, each bind-mounted into `zaki-user-<id>`): `--container` of
//! one user never touches another user's dir; a stopped container's bind-mounted dir is read
//! from the host (`scan` and `probe`).
//!
//! Needs the Docker engine and test images (`scripts/docker-env.sh all`).

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};

use common::docker::{self, Container, bind, unique};
use common::*;

const INSIDE: &str = "/home/node/.openclaw";

/// `base/user-<id>/.openclaw` holding one lock of session `agent:main:openai-user:<id>`,
/// whose pid names no process of the container (stale: dead-pid).
fn user_dir(base: &Path, id: &str) -> PathBuf {
    let state = base.join(format!("user-{id}/.openclaw"));
    let sessions = state.join("agents/main/sessions");
    fs::create_dir_all(&sessions).unwrap();
    let session = format!("0f3c9a2e-05ef-4fc9-bfd6-00000000{id:0>4}");
    fs::write(
        sessions.join(format!("{session}.jsonl.lock")),
        legacy_payload(4000, 40 * MIN),
    )
    .unwrap();
    fs::write(
        sessions.join("sessions.json"),
        serde_json::json!({ format!("agent:main:openai-user:{id}"): {"sessionId": session} })
            .to_string(),
    )
    .unwrap();
    state
}

fn user_container(prefix: &str, id: &str, state: &Path) -> Container {
    Container::busybox(&format!("{prefix}{id}"), &["-v", &bind(state, INSIDE)])
}

fn sessions_of(r: &serde_json::Value) -> Vec<String> {
    let mut s: Vec<String> = r["locks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["session_key"].as_str().unwrap_or("-").to_owned())
        .collect();
    s.sort();
    s
}

/// The fix `probe` prints (`clean --dry-run --container zaki-user-106`) would have removed
/// user 105's lock: the host's users dir was walked whole, and 105's container claimed 105's
/// dir. Now only user 106's dir is looked at.
#[test]
fn a_container_narrows_the_host_side_to_its_users_dir() {
    docker::require();
    let tmp = tempfile::tempdir().unwrap();
    let users = tmp.path().join("users");
    let prefix = unique("zl-scope-");
    let c105 = user_container(&prefix, "105", &user_dir(&users, "105"));
    let c106 = user_container(&prefix, "106", &user_dir(&users, "106"));
    let clean = |extra: &[&str]| {
        let o = run(zaki(tmp.path())
            .args([
                "clean",
                "--format",
                "json",
                "--prefix",
                &prefix,
                "--users-dir",
            ])
            .arg(&users)
            .args(extra));
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        json(&o)
    };
    // Without --container: both users (the baseline the narrowing is measured against).
    let all = clean(&["--dry-run"]);
    assert_eq!(
        sessions_of(&all),
        ["agent:main:openai-user:105", "agent:main:openai-user:106"],
        "{all:#}"
    );
    // The fix probe prints for user 106: 106's lock only, 105's left alone, even for real.
    let r = clean(&["--container", &c106.name]);
    assert_eq!(sessions_of(&r), ["agent:main:openai-user:106"], "{r:#}");
    assert_eq!(r["locks"][0]["action"], "removed", "{r:#}");
    assert_eq!(r["summary"]["places"], 1, "{r:#}");
    let left = fs::read_dir(users.join("user-105/.openclaw/agents/main/sessions"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".lock")
        })
        .count();
    assert_eq!(left, 1, "user 105's lock was touched");
    drop((c105, c106));
}

/// `--user-dir-prefix ''`: users dirs named by the id alone are taken too, and narrowed.
#[test]
fn dirs_named_by_the_id_alone() {
    docker::require();
    let tmp = tempfile::tempdir().unwrap();
    let users = tmp.path().join("users");
    let prefix = unique("zl-ids-");
    let mut containers = Vec::new();
    for id in ["7", "8"] {
        let state = user_dir(&users, id);
        let bare = users.join(id);
        fs::rename(state.parent().unwrap(), &bare).unwrap();
        containers.push(user_container(&prefix, id, &bare.join(".openclaw")));
    }
    let scan = |extra: &[&str]| {
        run(zaki(tmp.path())
            .args([
                "scan",
                "--format",
                "json",
                "--prefix",
                &prefix,
                "--users-dir",
            ])
            .arg(&users)
            .args(extra))
    };
    // As before: refused, and the error says what to add.
    let o = scan(&["--no-containers"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--user-dir-prefix ''"),
        "{}",
        stderr(&o)
    );
    let o = scan(&["--user-dir-prefix", ""]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = json(&o);
    assert_eq!(r["summary"]["locks"], 2, "{r:#}");
    let o = scan(&["--user-dir-prefix", "", "--container", &containers[1].name]);
    let r = json(&o);
    assert_eq!(sessions_of(&r), ["agent:main:openai-user:8"], "{r:#}");
}

/// `scan --container` on a stopped container whose bind-mounted state dir (not in the users
/// layout) holds a stale lock said `0 locks in 0 places`, exit 0: the dir is found from the
/// container's mounts and read from the host; nothing runs in it, so the lock is stale.
/// `probe` of that user says what is there instead of "could not look".
#[test]
fn a_stopped_containers_dir_is_read_from_the_host() {
    docker::require();
    let tmp = tempfile::tempdir().unwrap();
    let state = user_dir(&tmp.path().join("elsewhere"), "77");
    let prefix = unique("zl-stopped-");
    let c = user_container(&prefix, "77", &state);
    c.stop();
    let o = run(zaki(tmp.path()).args(["scan", "--no-host", "--container", &c.name]));
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(out.contains("scan: 1 lock in 1 place: 1 stale"), "{out}");
    let o = run(zaki(tmp.path()).args([
        "scan",
        "--format",
        "json",
        "--no-host",
        "--container",
        &c.name,
    ]));
    let r = json(&o);
    let l = &r["locks"][0];
    assert_eq!(l["status"], "stale", "{r:#}");
    assert_eq!(l["location"], format!("container:{}", c.name), "{r:#}");
    assert_eq!(r["containers"][0]["observed"], "host", "{r:#}");
    assert_eq!(
        r["containers"][0]["error"],
        serde_json::Value::Null,
        "{r:#}"
    );

    // The probe: the gateway does not answer (stopped), but its lock is read from the host.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let table = tmp.path().join("users.json");
    fs::write(
        &table,
        serde_json::json!({"77": {"port": port, "token": "t"}}).to_string(),
    )
    .unwrap();
    let o = run(zaki(tmp.path())
        .args(["probe", "77", "--attempts", "1", "--prefix", &prefix])
        .arg("--users-file")
        .arg(&table));
    let out = stdout(&o);
    let line = out
        .lines()
        .find(|l| l.contains("user session"))
        .unwrap_or_else(|| panic!("{out}\n{}", stderr(&o)));
    assert!(!line.contains("could not look"), "{out}");
    assert!(line.contains("is stale"), "{out}");
}
