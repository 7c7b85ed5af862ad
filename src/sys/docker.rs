//! Talking to Docker engines over their API (bollard): list and inspect containers, run one
//! script per container with a timeout. Nothing here knows about locks.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::sys::proc::{Process, parse_ppid};
use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::query_parameters::ListContainersOptions;
use futures_util::StreamExt;

/// Kills a script (the pid it printed as `self`) and all its descendants inside a container, by
/// exec: for a remote engine, whose processes this host cannot signal.
pub const KILL_SCRIPT: &str = include_str!("../scripts/kill.sh");

/// `probe --inject-lock`'s lock owner in a container: prints its own stat line, then waits
/// until its stdin closes.
pub const HOLD_SCRIPT: &str = include_str!("../scripts/hold.sh");
/// Its `$0`: a command line OpenClaw 2026.5.12+ counts as one of its own (an argument that
/// ends in `/openclaw`), and that says whose process it is.
const HOLD_ARGV0: &str = "zaki-locks-probe/openclaw";
/// Most a holder's first line may take (a stat line is under 400 bytes).
const MAX_HOLD_LINE: usize = 4096;

/// Largest exec output read; a listing of every lock in a container is far below this (25,000
/// locks are about 10 MiB). Past it the container's result is an error naming the bound.
pub const MAX_OUTPUT: usize = 16 * 1024 * 1024;
/// Largest exec stderr kept (for the error message).
const MAX_STDERR: usize = 64 * 1024;

/// What went wrong talking to Docker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerError {
    /// The engine cannot be reached (no socket, refused, TLS failure, …).
    Unreachable(String),
    /// The engine answered with an error.
    Api(String),
    /// The exec did not finish in time.
    Timeout(Duration),
    /// The container has no `sh` to run the script.
    NoShell,
    /// The script ran but failed.
    Exec { code: i64, stderr: String },
    /// The exec printed more than the bound (bytes) allows.
    TooLarge(usize),
}

impl fmt::Display for DockerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DockerError::Unreachable(e) => write!(f, "Docker is not reachable: {e}"),
            DockerError::Api(e) => write!(f, "Docker API error: {e}"),
            DockerError::Timeout(d) => write!(
                f,
                "exec timed out after {} (raise --container-timeout)",
                humantime::format_duration(*d)
            ),
            DockerError::NoShell => {
                f.write_str("the container has no POSIX sh: cannot look inside")
            }
            DockerError::TooLarge(n) => write!(
                f,
                "exec output larger than {} (the bound per container): nothing judged there",
                crate::sys::safefs::bytes(*n as u64)
            ),
            DockerError::Exec { code, stderr } => {
                write!(f, "exec failed with status {code}: {}", stderr.trim())
            }
        }
    }
}

impl std::error::Error for DockerError {}

fn api(e: bollard::errors::Error) -> DockerError {
    use bollard::errors::Error as E;
    match e {
        E::DockerResponseServerError { message, .. } => DockerError::Api(message),
        other => DockerError::Unreachable(plain(&other)),
    }
}

/// A connection error in plain words: the cause at the bottom of the chain (no socket,
/// permission denied, refused, TLS), not the HTTP client's wrapper ("Error in the hyper legacy
/// client: client error (Connect)").
pub fn plain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut deepest = e.to_string();
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return io_words(io);
        }
        deepest = err.to_string();
        cur = err.source();
    }
    deepest
}

fn io_words(io: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match io.kind() {
        K::NotFound => "no such socket (is Docker installed and running?)".into(),
        K::PermissionDenied => {
            "permission denied on the socket (run as root or as a member of the docker group)"
                .into()
        }
        K::ConnectionRefused => "connection refused (is the Docker daemon running?)".into(),
        K::TimedOut => "timed out".into(),
        _ => {
            // io::Error's Display repeats its kind ("Connection refused (os error 111)").
            let s = io.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_lowercase(),
                None => s,
            }
        }
    }
}

/// The engine `connect` would ask: `url`, else the local socket. `DOCKER_HOST` is read once,
/// by `cli::resolve`, which passes it here as `url`.
pub fn label(url: Option<&str>) -> String {
    url.unwrap_or("unix:///var/run/docker.sock").to_owned()
}

/// One engine, connected and version-negotiated.
#[derive(Clone)]
pub struct Engine {
    /// As the operator would name it (`unix:///var/run/docker.sock`, `tcp://…`).
    pub label: String,
    client: Docker,
    /// Reached over a local unix socket: its containers' processes and bind-mount sources are
    /// on this machine, so they can be observed from here without exec.
    pub local: bool,
}

/// Connects to `url` (`--docker-host`, or `DOCKER_HOST` as `cli::resolve` read it), else the
/// local socket; TLS for tcp when `DOCKER_TLS_VERIFY` is set (certificates from
/// `DOCKER_CERT_PATH`, read by bollard).
pub async fn connect(url: Option<&str>, timeout: Duration) -> Result<Engine, DockerError> {
    let label = label(url);
    let client = Docker::connect_with_host(&label)
        .map_err(|e| DockerError::Unreachable(format!("{label}: {}", plain(&e))))?
        .with_timeout(timeout);
    let client = tokio::time::timeout(timeout, client.negotiate_version())
        .await
        .map_err(|_| DockerError::Unreachable(format!("{label}: no answer within {timeout:?}")))?
        .map_err(|e| match api(e) {
            DockerError::Unreachable(m) => DockerError::Unreachable(format!("{label}: {m}")),
            other => other,
        })?;
    let local = label.starts_with("unix://") || label.starts_with('/');
    Ok(Engine {
        label,
        client,
        local,
    })
}

/// The pid a script printed as `self <pid>` on its second line.
fn own_pid(head: &[u8]) -> Option<u64> {
    String::from_utf8_lossy(head)
        .lines()
        .find_map(|l| l.strip_prefix("self ")?.trim().parse().ok())
        .filter(|&p| p > 1)
}

/// SIGKILLs `root` and every process descending from it (found by the parent pids in
/// `/proc/*/stat`), children first stopped from forking by killing the root first.
fn kill_tree(root: i32) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let proc_root = std::path::Path::new("/proc");
    let parents: Vec<(i32, i32)> = std::fs::read_dir(proc_root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let stat = Process::open(proc_root, u64::try_from(pid).ok()?)
                .and_then(|p| p.stat())
                .ok()?;
            Some((pid, i32::try_from(parse_ppid(&stat)?).ok()?))
        })
        .collect();
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    for pid in tree {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// What an exec that ran to its end gave: its stdout on status 0; a missing shell when `sh` was
/// not found (126/127 before the script's header); else the status and stderr.
fn exec_result(code: i64, stdout: &[u8], stderr: &[u8]) -> Result<String, DockerError> {
    let out = String::from_utf8_lossy(stdout).into_owned();
    match code {
        0 => Ok(out),
        126 | 127 if !out.starts_with("zaki-locks") => Err(DockerError::NoShell),
        code => Err(DockerError::Exec {
            code,
            stderr: String::from_utf8_lossy(&stderr[..stderr.len().min(MAX_STDERR)]).into_owned(),
        }),
    }
}

/// A bind or volume mount of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// `bind`, `volume`, …
    pub kind: String,
    pub source: String,
    pub destination: String,
}

/// What the engine says about one container.
#[derive(Debug, Clone)]
pub struct Container {
    pub id: String,
    pub name: String,
    /// `running`, `exited`, `restarting`, …
    pub state: String,
    pub mounts: Vec<Mount>,
}

impl Container {
    pub fn running(&self) -> bool {
        self.state == "running"
    }
}

/// Details only inspect gives: the init's host pid and the environment.
#[derive(Debug, Clone, Default)]
pub struct Details {
    pub pid: Option<u64>,
    pub env: HashMap<String, String>,
    pub started_at: Option<String>,
}

/// A container's `start` or `restart` event.
#[derive(Debug, Clone)]
pub struct Event {
    pub name: String,
    /// When the engine saw it (Unix time, nanoseconds).
    pub time_nano: Option<i64>,
}

impl Engine {
    /// The engine's container `start` and `restart` events, as they happen. The stream ends
    /// (or yields an error) when the engine goes away.
    pub fn container_starts(
        &self,
    ) -> impl futures_util::Stream<Item = Result<Event, DockerError>> + use<> {
        let opts = bollard::query_parameters::EventsOptions {
            filters: Some(HashMap::from([
                ("type".to_owned(), vec!["container".to_owned()]),
                (
                    "event".to_owned(),
                    vec!["start".to_owned(), "restart".to_owned()],
                ),
            ])),
            ..Default::default()
        };
        // A long-lived request: no per-request timeout.
        let client = self
            .client
            .clone()
            .with_timeout(Duration::from_secs(100 * 365 * 86400));
        client.events(Some(opts)).map(|e| {
            let e = e.map_err(api)?;
            let actor = e.actor.unwrap_or_default();
            Ok(Event {
                name: actor
                    .attributes
                    .unwrap_or_default()
                    .remove("name")
                    .unwrap_or_default(),
                time_nano: e.time_nano,
            })
        })
    }

    /// Every container, running or not (stopped ones matter: their locks have no live owner).
    pub async fn containers(&self) -> Result<Vec<Container>, DockerError> {
        let opts = ListContainersOptions {
            all: true,
            ..Default::default()
        };
        let list = self.client.list_containers(Some(opts)).await.map_err(api)?;
        Ok(list
            .into_iter()
            .map(|c| Container {
                id: c.id.unwrap_or_default(),
                name: c
                    .names
                    .unwrap_or_default()
                    .first()
                    .map(|n| n.trim_start_matches('/').to_owned())
                    .unwrap_or_default(),
                state: c
                    .state
                    .map(|s| {
                        serde_json::to_value(s)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default()
                    })
                    .unwrap_or_default(),
                mounts: c
                    .mounts
                    .unwrap_or_default()
                    .into_iter()
                    .map(|m| Mount {
                        kind: m.typ.unwrap_or_default(),
                        source: m.source.unwrap_or_default(),
                        destination: m.destination.unwrap_or_default(),
                    })
                    .collect(),
            })
            .collect())
    }

    /// Restarts a container (`docker restart -t 10`), waiting up to a minute for the engine.
    pub async fn restart(&self, name: &str) -> Result<(), DockerError> {
        let opts = bollard::query_parameters::RestartContainerOptions {
            signal: None,
            t: Some(10),
        };
        self.client
            .clone()
            .with_timeout(Duration::from_secs(60))
            .restart_container(name, Some(opts))
            .await
            .map_err(api)
    }

    pub async fn details(&self, id: &str) -> Result<Details, DockerError> {
        let c = self.client.inspect_container(id, None).await.map_err(api)?;
        let state = c.state.unwrap_or_default();
        let env = c
            .config
            .and_then(|c| c.env)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
            })
            .collect();
        Ok(Details {
            pid: state.pid.filter(|&p| p > 0).map(|p| p as u64),
            env,
            started_at: state.started_at,
        })
    }

    /// Runs `sh -c script sh args…` in the container and returns its stdout.
    pub async fn run_script(
        &self,
        container: &str,
        script: &str,
        args: &[String],
        timeout: Duration,
    ) -> Result<String, DockerError> {
        let mut cmd = vec![
            "sh".to_owned(),
            "-c".to_owned(),
            script.to_owned(),
            "sh".to_owned(),
        ];
        cmd.extend(args.iter().cloned());
        let exec = tokio::time::timeout(
            timeout,
            self.client.create_exec(
                container,
                CreateExecOptions {
                    cmd: Some(cmd),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            ),
        )
        .await
        .map_err(|_| DockerError::Timeout(timeout))?
        .map_err(api)?;
        // The first bytes of stdout, where the script says its own pid (`self <pid>`).
        let head = Mutex::new(Vec::new());
        let work = async {
            let (stdout, stderr) = self.exec_output(&exec.id, &head).await?;
            let code = self
                .client
                .inspect_exec(&exec.id)
                .await
                .map_err(api)?
                .exit_code
                .unwrap_or(-1);
            exec_result(code, &stdout, &stderr)
        };
        let result = tokio::time::timeout(timeout, work)
            .await
            .unwrap_or(Err(DockerError::Timeout(timeout)));
        if matches!(
            result,
            Err(DockerError::Timeout(_) | DockerError::TooLarge(_))
        ) {
            let taken = std::mem::take(&mut *head.lock().unwrap_or_else(PoisonError::into_inner));
            let own = own_pid(&taken);
            self.kill_exec(container, &exec.id, own).await;
        }
        result
    }

    /// Starts [`HOLD_SCRIPT`] in `container` and waits (at most `timeout`) for its stat line:
    /// a live process of that container's PID namespace, for a lock to name as its owner.
    pub async fn hold(&self, container: &str, timeout: Duration) -> Result<Holder, DockerError> {
        let cmd = ["sh", "-c", HOLD_SCRIPT, HOLD_ARGV0].map(str::to_owned);
        let started = async {
            let exec = self
                .client
                .create_exec(
                    container,
                    CreateExecOptions {
                        cmd: Some(cmd.to_vec()),
                        attach_stdin: Some(true),
                        attach_stdout: Some(true),
                        attach_stderr: Some(true),
                        ..Default::default()
                    },
                )
                .await
                .map_err(api)?;
            let StartExecResults::Attached { output, input } =
                self.client.start_exec(&exec.id, None).await.map_err(api)?
            else {
                return Err(DockerError::Api("the exec started detached".into()));
            };
            Ok((exec.id, output, input))
        };
        let (id, mut output, input) = tokio::time::timeout(timeout, started)
            .await
            .map_err(|_| DockerError::Timeout(timeout))??;
        let line = tokio::time::timeout(timeout, first_line(&mut output)).await;
        let stat = match line {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => {
                self.kill_exec(container, &id, None).await;
                return Err(e);
            }
            Err(_) => {
                self.kill_exec(container, &id, None).await;
                return Err(DockerError::Timeout(timeout));
            }
        };
        let pid = stat.split(' ').next().and_then(|p| p.parse().ok());
        match (pid, crate::sys::proc::parse_stat(&stat).1) {
            (Some(pid), Some(starttime)) if pid > 1 => Ok(Holder {
                pid,
                starttime,
                container: container.to_owned(),
                id,
                input,
                output,
            }),
            _ => {
                self.kill_exec(container, &id, None).await;
                Err(DockerError::Exec {
                    code: -1,
                    stderr: format!(
                        "the holder printed {}, not its stat line",
                        crate::model::escape::text(&stat)
                    ),
                })
            }
        }
    }

    /// Starts the exec and reads its stdout (bounded: past [`MAX_OUTPUT`] an error) and the first
    /// [`MAX_STDERR`] bytes of its stderr, keeping stdout's first bytes in `head` as they come.
    async fn exec_output(
        &self,
        id: &str,
        head: &Mutex<Vec<u8>>,
    ) -> Result<(Vec<u8>, Vec<u8>), DockerError> {
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let StartExecResults::Attached { mut output, .. } =
            self.client.start_exec(id, None).await.map_err(api)?
        else {
            return Ok((stdout, stderr));
        };
        while let Some(chunk) = output.next().await {
            match chunk.map_err(api)? {
                bollard::container::LogOutput::StdOut { message } => {
                    // A hostile container can print without end: past the bound the
                    // container's result is an error, never a truncated listing.
                    if stdout.len() + message.len() > MAX_OUTPUT {
                        return Err(DockerError::TooLarge(MAX_OUTPUT));
                    }
                    stdout.extend_from_slice(&message);
                    let mut h = head.lock().unwrap_or_else(PoisonError::into_inner);
                    if h.len() < 64 {
                        let n = (64 - h.len()).min(message.len());
                        h.extend_from_slice(&message[..n]);
                    }
                }
                bollard::container::LogOutput::StdErr { message } if stderr.len() < MAX_STDERR => {
                    stderr.extend_from_slice(&message)
                }
                _ => {}
            }
        }
        Ok((stdout, stderr))
    }

    /// Kills what an abandoned exec started, so that a hung or flooding script does not keep
    /// running in the container. Docker has no call for it; on a local engine the exec's
    /// process is on this machine (its host pid from inspect), so it and every descendant get
    /// SIGKILL. On a remote engine one more exec kills the pid the script printed (`self`) and
    /// its children, when it printed one.
    async fn kill_exec(&self, container: &str, id: &str, own: Option<u64>) {
        if !self.local {
            // Another machine's processes: asked to kill themselves, by one more short exec.
            if let Some(pid) = own {
                let _ = Box::pin(self.run_script(
                    container,
                    KILL_SCRIPT,
                    &[pid.to_string()],
                    Duration::from_secs(5),
                ))
                .await;
            }
            return;
        }
        let Ok(Ok(info)) =
            tokio::time::timeout(Duration::from_secs(5), self.client.inspect_exec(id)).await
        else {
            return;
        };
        if let Some(pid) = info.pid.filter(|&p| p > 1)
            && info.running == Some(true)
        {
            kill_tree(pid as i32);
        }
    }
}

/// The first line of an exec's stdout, at most [`MAX_HOLD_LINE`] bytes; an error when the
/// exec ends first (its stderr as the reason: no shell, no /proc).
async fn first_line(
    output: &mut (
             impl futures_util::Stream<
        Item = Result<bollard::container::LogOutput, bollard::errors::Error>,
    > + Unpin
         ),
) -> Result<String, DockerError> {
    use bollard::container::LogOutput;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    while let Some(chunk) = output.next().await {
        match chunk.map_err(api)? {
            LogOutput::StdOut { message } => out.extend_from_slice(&message),
            LogOutput::StdErr { message } if err.len() < MAX_STDERR => {
                err.extend_from_slice(&message)
            }
            _ => {}
        }
        if let Some(end) = out.iter().position(|&b| b == b'\n') {
            return Ok(String::from_utf8_lossy(&out[..end]).into_owned());
        }
        if out.len() > MAX_HOLD_LINE {
            return Err(DockerError::TooLarge(MAX_HOLD_LINE));
        }
    }
    Err(exec_result(-1, &out, &err)
        .err()
        .unwrap_or(DockerError::Exec {
            code: -1,
            stderr: "the holder ended at once".into(),
        }))
}

/// A process of zaki-locks' own in a container ([`Engine::hold`]), alive until
/// [`Holder::release`], or until this process dies (Docker then closes its stdin).
pub struct Holder {
    /// Its pid in the container's PID namespace.
    pub pid: u64,
    /// Field 22 of its `/proc/<pid>/stat`, as OpenClaw 2026.3+ records an owner's.
    pub starttime: u64,
    container: String,
    id: String,
    input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
    output: std::pin::Pin<
        Box<
            dyn futures_util::Stream<
                    Item = Result<bollard::container::LogOutput, bollard::errors::Error>,
                > + Send,
        >,
    >,
}

impl Holder {
    /// Ends the holder: its stdin closed, it exits; if it has not within a second, it is
    /// killed as an abandoned exec is.
    pub async fn release(mut self, engine: &Engine) {
        use tokio::io::AsyncWriteExt;
        let _ = self.input.shutdown().await;
        let ended = async { while self.output.next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(1), ended)
            .await
            .is_err()
        {
            engine
                .kill_exec(&self.container, &self.id, Some(self.pid))
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_execs_status_decides_its_result() {
        assert_eq!(
            exec_result(0, b"zaki-locks 1\n", b"").unwrap(),
            "zaki-locks 1\n"
        );
        assert_eq!(
            exec_result(127, b"", b"sh: not found"),
            Err(DockerError::NoShell)
        );
        // The script started (its header is there), so its own status counts.
        let e = exec_result(127, b"zaki-locks 1\n", b"oops\n").unwrap_err();
        assert_eq!(e.to_string(), "exec failed with status 127: oops");
        let e = exec_result(2, b"", b" bad \n").unwrap_err();
        assert_eq!(e.to_string(), "exec failed with status 2: bad");
        assert_eq!(own_pid(b"zaki-locks 1\nself 42\n"), Some(42));
        assert_eq!(own_pid(b"zaki-locks 1\nself 1\n"), None, "never the init");
    }
}
