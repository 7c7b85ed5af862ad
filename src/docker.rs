//! Talking to Docker engines over their API (bollard): list and inspect containers, run one
//! script per container with a timeout. Nothing here knows about locks.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::query_parameters::ListContainersOptions;
use futures_util::StreamExt;

/// Largest exec output kept; a listing of every lock in a container is far below this.
const MAX_OUTPUT: usize = 16 * 1024 * 1024;

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
            DockerError::Exec { code, stderr } => {
                write!(f, "exec failed with status {code}: {}", stderr.trim())
            }
        }
    }
}

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

/// The engine `connect` would ask: `url`, else `DOCKER_HOST`, else the local socket.
pub fn label(url: Option<&str>) -> String {
    let from_env = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty());
    url.map(str::to_owned)
        .or(from_env)
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_owned())
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

/// Connects like the docker CLI: `url`, else `DOCKER_HOST`, else the local socket; TLS for
/// tcp when `DOCKER_TLS_VERIFY` is set (certificates from `DOCKER_CERT_PATH`).
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

/// A container event (`start`, `restart`, …).
#[derive(Debug, Clone)]
pub struct Event {
    pub action: String,
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
                action: e.action.unwrap_or_default(),
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
        let work = async {
            let exec = self
                .client
                .create_exec(
                    container,
                    CreateExecOptions {
                        cmd: Some(cmd),
                        attach_stdout: Some(true),
                        attach_stderr: Some(true),
                        ..Default::default()
                    },
                )
                .await
                .map_err(api)?;
            let mut stdout = Vec::new();
            let mut stderr = Vec::new();
            match self.client.start_exec(&exec.id, None).await.map_err(api)? {
                StartExecResults::Attached { mut output, .. } => {
                    while let Some(chunk) = output.next().await {
                        match chunk.map_err(api)? {
                            bollard::container::LogOutput::StdOut { message }
                                if stdout.len() < MAX_OUTPUT =>
                            {
                                stdout.extend_from_slice(&message)
                            }
                            bollard::container::LogOutput::StdErr { message }
                                if stderr.len() < 64 * 1024 =>
                            {
                                stderr.extend_from_slice(&message)
                            }
                            _ => {}
                        }
                    }
                }
                StartExecResults::Detached => {}
            }
            let code = self
                .client
                .inspect_exec(&exec.id)
                .await
                .map_err(api)?
                .exit_code
                .unwrap_or(-1);
            let out = String::from_utf8_lossy(&stdout).into_owned();
            let err = String::from_utf8_lossy(&stderr).into_owned();
            match code {
                0 => Ok(out),
                126 | 127 if !out.starts_with("zaki-locks") => Err(DockerError::NoShell),
                code => Err(DockerError::Exec { code, stderr: err }),
            }
        };
        tokio::time::timeout(timeout, work)
            .await
            .unwrap_or(Err(DockerError::Timeout(timeout)))
    }
}
