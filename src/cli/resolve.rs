//! Every flag, environment variable and terminal check, resolved once into plain values, as fd's
//! `construct_config` does. `main` parses, [`Env::read`] looks at the process once, and the pure
//! [`resolve`] turns both into a [`Config`]; below this, nothing reads clap's structs, the
//! environment, or whether a stream is a terminal.

use std::path::PathBuf;

use chrono::TimeDelta;

use crate::cli::args::{self as cli, Cli, ColorChoice, LogFormat};
use crate::cli::docs;
use crate::commands::config::*;
use crate::find::survey::ContainerSearch;
use crate::find::walk::HostSearch;
use crate::judge::lock::Policy;
use crate::report::output::LogStyle;

/// The process's surroundings, read once: the only impure input of [`resolve`].
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub stdout_tty: bool,
    pub stderr_tty: bool,
    /// `NO_COLOR` set and not empty.
    pub no_color: bool,
    /// The width to lay tables out in: stdout's, when it is a terminal, else `COLUMNS` (as
    /// `ps` reads it in a pipe); `None`: not cut.
    pub columns: Option<usize>,
    /// `OPENCLAW_STATE_DIR`, when set and not empty.
    pub openclaw_state_dir: Option<PathBuf>,
    /// `DOCKER_HOST`, when set and not empty.
    pub docker_host: Option<String>,
    /// `/run/zaki-locks.lock` as root, else in `XDG_RUNTIME_DIR` (see `runlock`).
    pub default_run_lock: PathBuf,
}

impl Env {
    pub fn read() -> Env {
        use std::io::IsTerminal;
        let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let stdout_tty = std::io::stdout().is_terminal();
        Env {
            stdout_tty,
            stderr_tty: std::io::stderr().is_terminal(),
            no_color: set("NO_COLOR").is_some(),
            columns: stdout_tty
                .then(stdout_columns)
                .flatten()
                .or_else(|| columns_env(std::env::var("COLUMNS").ok().as_deref())),
            openclaw_state_dir: set("OPENCLAW_STATE_DIR").map(PathBuf::from),
            docker_host: set("DOCKER_HOST").and_then(|h| h.into_string().ok()),
            default_run_lock: crate::sys::runlock::default_path(),
        }
    }
}

/// `COLUMNS`, when it is a width (a positive number of columns).
fn columns_env(v: Option<&str>) -> Option<usize> {
    v?.trim().parse().ok().filter(|&n| n > 0)
}

/// The terminal's width in columns (TIOCGWINSZ on stdout).
fn stdout_columns() -> Option<usize> {
    let mut ws = nix::libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ fills the winsize it is given and nothing else.
    let r = unsafe { nix::libc::ioctl(1, nix::libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_col > 0).then_some(usize::from(ws.ws_col))
}

/// The state dirs looked at when neither `--root` nor `--users-dir` is given.
pub const DEFAULT_ROOT: &str = "/root/.openclaw";
pub const DEFAULT_USERS_DIR: &str = "/var/zaki-platform/users";

/// The command line and the environment, resolved. Pure: every decision about defaults,
/// environment variables and terminals is made here, and tested below.
pub fn resolve(cli: Cli, env: &Env) -> Config {
    let colour = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => env.stdout_tty && !env.no_color,
    };
    match cli.command {
        cli::Command::Scan(a) => Config::Scan(Scan {
            places: places(&a.places, env),
            // `scan` removes nothing: it need not wait for a second look at unheld locks.
            policy: Policy {
                second_look: false,
                ..policy(&a.judge)
            },
            output: match a.format {
                f @ (cli::ScanFormat::Table | cli::ScanFormat::Tsv) => {
                    ScanOutput::Table(TableStyle {
                        colour: colour && f == cli::ScanFormat::Table,
                        full_paths: a.full_paths,
                        columns: env.columns,
                        tsv: f == cli::ScanFormat::Tsv,
                    })
                }
                cli::ScanFormat::Json => ScanOutput::Json,
                cli::ScanFormat::Prometheus => ScanOutput::Prometheus,
            },
            stale_only: a.stale_only,
            fail_on_stale: a.fail_on_stale,
            held_over: a.held_over,
            fail_on_held: a.fail_on_held,
            metrics_file: a.metrics_file,
        }),
        cli::Command::Clean(a) => Config::Clean(Clean {
            restart_orphaned: (a.restart.restart_orphaned && !a.dry_run).then(|| {
                restarts(
                    &a.restart,
                    a.run_lock.as_deref().unwrap_or(&env.default_run_lock),
                )
            }),
            places: places(&a.places, env),
            policy: policy(&a.judge),
            dry_run: a.dry_run,
            quiet: a.quiet,
            output: match a.format {
                cli::CleanFormat::Text => CleanOutput::Text(log_style(a.log_format, env)),
                cli::CleanFormat::Json => CleanOutput::Json,
            },
            run_lock: (!a.dry_run).then(|| RunLock {
                path: a.run_lock.unwrap_or_else(|| env.default_run_lock.clone()),
                wait: a.wait,
                hung_after: a.hung_after,
            }),
            metrics_file: a.metrics_file,
        }),
        cli::Command::Watch(a) => Config::Watch(Watch {
            restart_orphaned: a.restart.restart_orphaned.then(|| {
                restarts(
                    &a.restart,
                    a.run_lock.as_deref().unwrap_or(&env.default_run_lock),
                )
            }),
            places: places(&a.places, env),
            policy: policy(&a.judge),
            interval: a.interval,
            settle: a.settle,
            style: log_style(a.log_format, env),
            run_lock: RunLock {
                path: a.run_lock.unwrap_or_else(|| env.default_run_lock.clone()),
                wait: a.wait,
                hung_after: 3 * a.interval,
            },
            metrics_file: a.metrics_file,
        }),
        cli::Command::Probe(a) => Config::Probe(probe(a, env)),
        cli::Command::Completions { shell } => Config::Print(docs::completion(shell)),
        // clap accepted only a page in MAN_PAGES, each of which is rendered.
        cli::Command::Man { page } => {
            Config::Print(docs::man_page(page.as_deref()).unwrap_or_default())
        }
    }
}

/// `--older-than` as the policy's threshold. The parser bounds it to a year, so it always fits.
/// `--restart-orphaned`'s bounds; its memory lives beside the run lock (the run-state dir).
fn restarts(a: &cli::RestartArgs, run_lock: &std::path::Path) -> crate::commands::config::Restarts {
    crate::commands::config::Restarts {
        min_uptime: a.restart_min_uptime,
        budget: crate::judge::restart::Budget {
            restarts: a.restart_max,
            time: a.restart_budget,
        },
        memory: crate::sys::restarts::path(run_lock),
    }
}

fn policy(j: &cli::JudgeArgs) -> Policy {
    Policy {
        stale_after: TimeDelta::from_std(j.older_than).unwrap_or(TimeDelta::MAX),
        ..Policy::default()
    }
}

/// `auto`: sentences for people on a terminal, key=value lines for journald and files.
fn log_style(f: LogFormat, env: &Env) -> LogStyle {
    match f {
        LogFormat::Auto if env.stdout_tty => LogStyle::Human,
        LogFormat::Auto | LogFormat::Kv => LogStyle::Kv,
        LogFormat::Human => LogStyle::Human,
        LogFormat::Json => LogStyle::Json,
    }
}

/// `--docker-host`, else `$DOCKER_HOST`; empty: the local socket.
fn docker_hosts(given: &[String], env: &Env) -> Vec<String> {
    if given.is_empty() {
        env.docker_host.iter().cloned().collect()
    } else {
        given.to_vec()
    }
}

fn places(p: &cli::PlaceArgs, env: &Env) -> Places {
    let host = (!p.no_host).then(|| host_search(p, env));
    let containers = (!p.no_containers).then(|| ContainerSearch {
        docker_hosts: docker_hosts(&p.docker_host, env),
        prefix: p.prefix.clone(),
        names: p.container.clone(),
        state_dirs: p.container_state_dir.clone(),
        timeout: p.container_timeout,
        via_exec: p.via_exec,
    });
    Places {
        host,
        containers,
        jobs: usize::from(p.jobs),
        timeout: p.container_timeout,
        place_timeout: p.place_timeout,
        progress: env.stderr_tty,
    }
}

/// The host side. `--container zaki-user-<id>` narrows it to those users' dirs (`user-<id>`
/// below the users dirs): the host's own state dirs are no container's, so they are left out
/// unless given with `--root`.
fn host_search(p: &cli::PlaceArgs, env: &Env) -> HostSearch {
    let only_users = (!p.container.is_empty()).then(|| {
        p.container
            .iter()
            .filter_map(|c| c.strip_prefix(&p.prefix))
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect()
    });
    let explicit = !p.root.is_empty() || !p.users_dir.is_empty();
    let (roots, users_dirs) = match (explicit, &only_users) {
        (true, _) => (p.root.clone(), p.users_dir.clone()),
        (false, Some(_)) => (Vec::new(), vec![PathBuf::from(DEFAULT_USERS_DIR)]),
        (false, None) => {
            let mut roots = vec![PathBuf::from(DEFAULT_ROOT)];
            roots.extend(env.openclaw_state_dir.clone());
            (roots, vec![PathBuf::from(DEFAULT_USERS_DIR)])
        }
    };
    HostSearch {
        roots,
        users_dirs,
        explicit,
        user_dir_prefix: p.user_dir_prefix.clone(),
        only_users,
    }
}

fn probe(a: cli::ProbeArgs, env: &Env) -> Probe {
    let container = format!("{}{}", a.prefix, a.user);
    let docker_host = a.docker_host.or_else(|| env.docker_host.clone());
    let places = Places {
        host: None,
        containers: Some(ContainerSearch {
            docker_hosts: docker_host.iter().cloned().collect(),
            prefix: a.prefix.clone(),
            names: vec![container.clone()],
            state_dirs: a.container_state_dir.clone(),
            timeout: a.container_timeout,
            via_exec: false,
        }),
        jobs: 1,
        timeout: a.container_timeout,
        place_timeout: crate::commands::config::DEFAULT_PLACE_TIMEOUT,
        progress: false,
    };
    Probe {
        policy: policy(&a.judge),
        user: a.user,
        users_file: a.users_file,
        gateway_host: a.gateway_host,
        container,
        places,
        attempts: a.attempts,
        timeout: a.timeout,
        backoff: a.backoff,
        talk_as: if a.as_user {
            TalkAs::User
        } else {
            TalkAs::Probe(a.session_user)
        },
        message: a.message,
        agent: a.agent,
        inject_lock: a.inject_lock,
        clean_on_failure: a.clean_on_failure,
        output: match a.format {
            cli::ProbeFormat::Text => ProbeOutput::Text,
            cli::ProbeFormat::Json => ProbeOutput::Json,
            cli::ProbeFormat::Prometheus => ProbeOutput::Prometheus,
        },
        metrics_file: a.metrics_file,
        metrics_user_label: a.metrics_user_label,
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use std::time::Duration;

    fn env() -> Env {
        Env {
            default_run_lock: PathBuf::from("/run/zaki-locks.lock"),
            ..Env::default()
        }
    }

    fn config(args: &[&str], env: &Env) -> Config {
        let cli = Cli::try_parse_from(std::iter::once("zaki-locks").chain(args.iter().copied()))
            .expect("a valid command line");
        resolve(cli, env)
    }

    #[test]
    fn default_places_follow_the_environment() {
        let e = Env {
            openclaw_state_dir: Some(PathBuf::from("/srv/oc")),
            docker_host: Some("tcp://d:2376".into()),
            ..env()
        };
        let Config::Scan(s) = config(&["scan"], &e) else {
            panic!("scan")
        };
        let host = s.places.host.expect("host places");
        assert_eq!(host.roots, [PathBuf::from(DEFAULT_ROOT), "/srv/oc".into()]);
        assert_eq!(host.users_dirs, [PathBuf::from(DEFAULT_USERS_DIR)]);
        assert!(!host.explicit);
        let c = s.places.containers.expect("containers");
        assert_eq!(c.docker_hosts, ["tcp://d:2376"]);
        assert_eq!(c.prefix, "zaki-user-");
    }

    #[test]
    fn explicit_places_replace_the_defaults_and_the_environment() {
        let e = Env {
            openclaw_state_dir: Some(PathBuf::from("/srv/oc")),
            docker_host: Some("tcp://d:2376".into()),
            ..env()
        };
        let Config::Clean(c) = config(
            &["clean", "--root", "/a", "--docker-host", "unix:///x.sock"],
            &e,
        ) else {
            panic!("clean")
        };
        let host = c.places.host.expect("host places");
        assert_eq!(host.roots, [PathBuf::from("/a")]);
        assert!(host.users_dirs.is_empty() && host.explicit);
        let docker = c.places.containers.expect("containers").docker_hosts;
        assert_eq!(docker, ["unix:///x.sock"]);
    }

    /// `--container zaki-user-106` looks at user 106's dir on the host, not user 105's, nor
    /// the host's own state dirs (issue 22: its fix would have removed user 105's lock).
    #[test]
    fn a_container_narrows_the_host_to_its_users_dir() {
        let e = Env {
            openclaw_state_dir: Some(PathBuf::from("/srv/oc")),
            ..env()
        };
        let host = |args: &[&str]| match config(args, &e) {
            Config::Scan(s) => s.places.host.expect("host places"),
            other => panic!("scan, not {other:?}"),
        };
        let h = host(&["scan", "--container", "zaki-user-106"]);
        assert_eq!(h.only_users.as_deref(), Some(&["106".to_owned()][..]));
        assert!(h.roots.is_empty(), "{:?}", h.roots);
        assert_eq!(h.users_dirs, [PathBuf::from(DEFAULT_USERS_DIR)]);
        // Given places stay, narrowed; a name without the prefix is no user's dir.
        let h = host(&[
            "scan",
            "--container",
            "web",
            "--users-dir",
            "/u",
            "--root",
            "/r",
        ]);
        assert_eq!(h.only_users.as_deref(), Some(&[][..]));
        assert_eq!(h.roots, [PathBuf::from("/r")]);
        let h = host(&[
            "scan",
            "--container",
            "u-7",
            "--prefix",
            "u-",
            "--user-dir-prefix",
            "",
        ]);
        assert_eq!(h.only_users.as_deref(), Some(&["7".to_owned()][..]));
        assert_eq!(h.user_dir_prefix, "");
        // No container named: every user, and the host's own dirs.
        let h = host(&["scan"]);
        assert_eq!((h.only_users, h.roots.len()), (None, 2));
    }

    #[test]
    fn no_host_and_no_containers_leave_those_out() {
        let Config::Scan(s) = config(&["scan", "--no-host"], &env()) else {
            panic!("scan")
        };
        assert!(s.places.host.is_none() && s.places.containers.is_some());
        let Config::Scan(s) = config(&["scan", "--no-containers"], &env()) else {
            panic!("scan")
        };
        assert!(s.places.host.is_some() && s.places.containers.is_none());
    }

    #[test]
    fn colour_and_log_style_follow_the_terminal() {
        let tty = Env {
            stdout_tty: true,
            columns: Some(80),
            ..env()
        };
        let table = |e: &Env, extra: &[&str]| {
            let mut args = vec!["scan"];
            args.extend(extra);
            match config(&args, e) {
                Config::Scan(Scan {
                    output: ScanOutput::Table(t),
                    ..
                }) => t,
                other => panic!("a table, not {other:?}"),
            }
        };
        assert!(table(&tty, &[]).colour);
        assert_eq!(table(&tty, &[]).columns, Some(80));
        assert!(!table(&env(), &[]).colour);
        let no_color = Env {
            no_color: true,
            ..tty.clone()
        };
        assert!(!table(&no_color, &[]).colour);
        assert!(table(&no_color, &["--color", "always"]).colour);
        assert!(!table(&tty, &["--color", "never"]).colour);

        let style = |e: &Env, extra: &[&str]| {
            let mut args = vec!["clean"];
            args.extend(extra);
            match config(&args, e) {
                Config::Clean(Clean {
                    output: CleanOutput::Text(s),
                    ..
                }) => s,
                other => panic!("text, not {other:?}"),
            }
        };
        assert_eq!(style(&tty, &[]), LogStyle::Human);
        assert_eq!(style(&env(), &[]), LogStyle::Kv);
        assert_eq!(style(&tty, &["--log-format", "kv"]), LogStyle::Kv);
        assert_eq!(style(&env(), &["--log-format", "json"]), LogStyle::Json);
    }

    #[test]
    fn a_dry_run_takes_no_run_lock_and_restarts_nothing() {
        let Config::Clean(c) = config(&["clean", "--restart-orphaned"], &env()) else {
            panic!("clean")
        };
        assert_eq!(
            c.run_lock,
            Some(RunLock {
                path: "/run/zaki-locks.lock".into(),
                wait: Duration::from_secs(10),
                hung_after: Duration::from_secs(15 * 60),
            })
        );
        let r = c.restart_orphaned.unwrap();
        assert_eq!(r.min_uptime, Duration::from_secs(60));
        assert_eq!(
            (r.budget.restarts, r.budget.time),
            (3, Duration::from_secs(60))
        );
        assert_eq!(
            r.memory,
            std::path::Path::new("/run/zaki-locks-restarts.json")
        );
        let Config::Clean(c) = config(&["clean", "-n", "--restart-orphaned"], &env()) else {
            panic!("clean")
        };
        assert_eq!((c.run_lock, c.restart_orphaned), (None, None));
    }

    #[test]
    fn the_probe_looks_only_at_the_users_container() {
        let e = Env {
            docker_host: Some("tcp://d:2376".into()),
            ..env()
        };
        let Config::Probe(p) = config(&["probe", "42", "--prefix", "u-"], &e) else {
            panic!("probe")
        };
        assert_eq!(p.container, "u-42");
        assert_eq!(p.docker_host(), Some("tcp://d:2376"));
        assert!(p.places.host.is_none());
        let c = p.places.containers.expect("containers");
        assert_eq!(c.names, ["u-42"]);
        assert_eq!(c.docker_hosts, ["tcp://d:2376"]);
        assert!(!c.via_exec);
        assert_eq!(p.talk_as, TalkAs::Probe("zaki-locks-probe".into()));
        let Config::Probe(p) = config(&["probe", "42", "--as-user"], &e) else {
            panic!("probe")
        };
        assert_eq!(p.talk_as, TalkAs::User);
    }

    #[test]
    fn one_container_keeps_the_engines_and_drops_the_host() {
        let Config::Watch(w) = config(&["watch", "--root", "/a", "--via-exec"], &env()) else {
            panic!("watch")
        };
        let one = w.places.only_container("zaki-user-7");
        assert!(one.host.is_none());
        let c = one.containers.expect("containers");
        assert_eq!(c.names, ["zaki-user-7"]);
        assert!(c.via_exec);
    }
}
