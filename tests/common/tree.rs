//! A generated tree of host gateways (`gw-<id>/.openclaw/agents/main/sessions/…`, 20 sessions
//! each, like a platform user) with locks in every state the policy knows, plus decoys the tool
//! must never touch. Not `user-<id>`: that name means a container's bind mount, whose pids are
//! not host pids, and these locks' owners are host processes. Shared by the 2,000-user
//! test and the benchmark, so both measure the same thing.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The real processes the generated locks name.
pub struct Owners {
    /// A live process that started before every lock naming it was created.
    pub live: u32,
    /// A pid that has exited and been reaped.
    pub dead: u32,
    /// A thread id of a live process.
    pub thread: u32,
    /// An exited, unreaped child.
    pub zombie: u32,
    /// A live process started less than a minute ago (after the locks naming it).
    pub recycled: u32,
}

/// The real processes behind [`Owners`], alive (or unreaped) as long as this is.
pub struct LiveOwners {
    pub owners: Owners,
    _live: super::Proc,
    _zombie: super::Zombie,
    _thread: super::Thread,
    _recycled: super::Proc,
}

impl LiveOwners {
    /// Spawns them; generate the tree within a minute, so that the "recycled" owner started
    /// after its locks' `createdAt` (60 s ago) and the live one before theirs (now).
    pub fn spawn() -> LiveOwners {
        let live = super::Proc::sleep();
        let zombie = super::Zombie::new();
        let thread = super::Thread::new();
        let recycled = super::Proc::sleep();
        LiveOwners {
            owners: Owners {
                live: live.pid(),
                dead: super::dead_pid(),
                thread: thread.tid,
                zombie: zombie.pid(),
                recycled: recycled.pid(),
            },
            _live: live,
            _zombie: zombie,
            _thread: thread,
            _recycled: recycled,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Live,
    LiveWithStarttime,
    LiveStore,
    EmptyFresh,
    MalformedFresh,
    Dead,
    TooOld,
    Thread,
    Zombie,
    Recycled,
    WrongStarttime,
    EmptyOld,
    MalformedOld,
}

pub const KINDS: [Kind; 13] = [
    Kind::Live,
    Kind::Dead,
    Kind::EmptyFresh,
    Kind::TooOld,
    Kind::LiveWithStarttime,
    Kind::Thread,
    Kind::MalformedFresh,
    Kind::Zombie,
    Kind::LiveStore,
    Kind::Recycled,
    Kind::WrongStarttime,
    Kind::EmptyOld,
    Kind::MalformedOld,
];

impl Kind {
    pub fn stale(self) -> bool {
        !matches!(
            self,
            Kind::Live
                | Kind::LiveWithStarttime
                | Kind::LiveStore
                | Kind::EmptyFresh
                | Kind::MalformedFresh
        )
    }
}

/// What a generated tree holds.
#[derive(Default)]
pub struct Expected {
    /// State dirs (`user-<id>/.openclaw`).
    pub state_dirs: Vec<PathBuf>,
    pub stale: Vec<PathBuf>,
    pub live: Vec<PathBuf>,
    /// Files that look like locks but are not session locks: never touched.
    pub decoys: Vec<PathBuf>,
    /// The live locks held open (by this process), as OpenClaw holds its lock for the whole
    /// hold: without a holder a lock is stale once unchanged for 10 s (issue 10).
    pub held: Vec<fs::File>,
}

const HOUR: Duration = Duration::from_secs(3600);

/// Writes `users` users with `sessions` transcripts each and two locks per user, cycling through
/// every [`Kind`].
pub fn generate(root: &Path, users: usize, sessions: usize, owners: &Owners) -> Expected {
    let mut exp = Expected::default();
    let live_start = super::starttime_of(owners.live);
    for u in 0..users {
        let id = 100_000 + u;
        let user = root.join(format!("gw-{id}"));
        let state = user.join(".openclaw");
        let dir = state.join("agents/main/sessions");
        fs::create_dir_all(&dir).unwrap();
        fs::create_dir_all(state.join("agents/main/agent")).unwrap();
        fs::write(
            state.join("openclaw.json"),
            "{\"gateway\":{\"port\":18789}}",
        )
        .unwrap();
        let mut store = String::from("{");
        for s in 0..sessions {
            let sid = format!("{id:06}-{s:04}-4f1c-9a7e-3d2b1c0a9f8e");
            fs::write(dir.join(format!("{sid}.jsonl")), "{\"type\":\"session\"}\n").unwrap();
            if s > 0 {
                store.push(',');
            }
            let key = if s == 0 {
                format!("agent:main:openai-user:{id}")
            } else {
                format!("agent:main:openai-user:{id}-{s}")
            };
            store.push_str(&format!(
                "\"{key}\":{{\"sessionId\":\"{sid}\",\"updatedAt\":1764000000000}}"
            ));
        }
        store.push('}');
        fs::write(dir.join("sessions.json"), store).unwrap();

        // The workspace is bind-mounted too and is large; it must not be walked.
        let ws = user.join("workspace");
        fs::create_dir_all(ws.join("memory")).unwrap();
        fs::write(ws.join("AGENTS.md"), "# agents\n").unwrap();
        fs::write(ws.join("memory/2026-11-24.md"), "notes\n").unwrap();

        // Decoys: lock-like names in places that are not a sessions dir, or other names.
        for decoy in [
            ws.join("copy.jsonl.lock"),
            state.join("gateway.lock"),
            dir.join("other.lock"),
            state.join("agents/main/agent/x.jsonl.lock"),
        ] {
            fs::write(
                &decoy,
                format!(
                    "{{\"pid\": {}, \"createdAt\": \"2020-01-01T00:00:00Z\"}}",
                    owners.dead
                ),
            )
            .unwrap();
            exp.decoys.push(decoy);
        }

        for j in 0..2 {
            let kind = KINDS[(u * 2 + j) % KINDS.len()];
            let sid = format!("{id:06}-{j:04}-4f1c-9a7e-3d2b1c0a9f8e");
            let name = if kind == Kind::LiveStore {
                "sessions.json.lock".to_owned()
            } else {
                format!("{sid}.jsonl.lock")
            };
            let path = dir.join(name);
            let now = Duration::ZERO;
            let body = match kind {
                Kind::Live | Kind::LiveStore => super::legacy_payload(owners.live, now),
                Kind::LiveWithStarttime => super::starttime_payload(owners.live, now, live_start),
                Kind::WrongStarttime => super::starttime_payload(owners.live, now, live_start + 1),
                Kind::Dead => super::legacy_payload(owners.dead, now),
                Kind::TooOld => super::legacy_payload(owners.live, 2 * HOUR),
                Kind::Thread => super::legacy_payload(owners.thread, now),
                Kind::Zombie => super::legacy_payload(owners.zombie, now),
                Kind::Recycled => super::legacy_payload(owners.recycled, Duration::from_secs(60)),
                Kind::EmptyFresh | Kind::EmptyOld => String::new(),
                Kind::MalformedFresh | Kind::MalformedOld => "{\n  \"pid\": 12".to_owned(),
            };
            fs::write(&path, body).unwrap();
            if matches!(kind, Kind::EmptyOld | Kind::MalformedOld) {
                super::set_mtime(&path, HOUR);
            }
            if kind.stale() {
                exp.stale.push(path);
            } else {
                exp.held.push(fs::File::open(&path).unwrap());
                exp.live.push(path);
            }
        }
        exp.state_dirs.push(state);
    }
    exp
}
