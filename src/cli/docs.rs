//! Man pages and shell completions, generated from the clap definitions so they cannot drift.
//! The committed copies in `man/` and `completions/` are checked against these by the tests.
//! The exit statuses come from [`crate::model::exit_codes`], like `--help`'s.

use std::fmt::Write as _;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::args::Cli;

pub const BIN: &str = "zaki-locks";

/// The shells whose completions are committed, with their conventional file names.
pub const COMPLETION_FILES: [(Shell, &str); 3] = [
    (Shell::Bash, "zaki-locks.bash"),
    (Shell::Zsh, "_zaki-locks"),
    (Shell::Fish, "zaki-locks.fish"),
];

pub fn completion(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN, &mut out);
    match shell {
        Shell::Bash => {
            let script = fix_bash(&String::from_utf8_lossy(&out));
            out = containers_bash(&script).into_bytes();
        }
        Shell::Fish => out = containers_fish(&String::from_utf8_lossy(&out)).into_bytes(),
        Shell::Zsh => out = containers_zsh(&String::from_utf8_lossy(&out)).into_bytes(),
        _ => {}
    }
    out
}

/// The engine's container names, as the shell asks for them when `--container` is completed
/// (clap_complete only writes values known in advance).
const DOCKER_NAMES: &str = "docker ps -a --format '{{.Names}}' 2>/dev/null";

/// bash: `--container <TAB>` offers the containers' names, not file names.
fn containers_bash(script: &str) -> String {
    let files = "--container)\n                    COMPREPLY=($(compgen -f \"${cur}\"))";
    let names = format!(
        "--container)\n                    COMPREPLY=($(compgen -W \"$({DOCKER_NAMES})\" -- \"${{cur}}\"))"
    );
    script.replace(files, &names)
}

/// zsh: the same, by an action that runs the listing when `--container` is completed.
fn containers_zsh(script: &str) -> String {
    let files = "--container=[Exactly this container (repeatable)]:NAME:_default'";
    let names = "--container=[Exactly this container (repeatable)]:NAME:{compadd -- ${(f)\"$(docker ps -a --format \"{{.Names}}\" 2>/dev/null)\"}}'";
    script.replace(files, names)
}

/// fish: the same, and no file names.
fn containers_fish(script: &str) -> String {
    script
        .lines()
        .map(|l| match l.contains(" -l container -d ") {
            true => format!("{l} -f -a \"({DOCKER_NAMES})\""),
            false => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// clap_complete names a subcommand's state `zaki__locks__subcmd__clean` where it is set but
/// `zaki__subcmd__locks__subcmd__clean` in the `case` that uses it (a clap_complete bug with
/// hyphenated binary names, open upstream), so nothing after the subcommand completed. Renames
/// the arms to the names that are set.
pub fn fix_bash(script: &str) -> String {
    let good = BIN.replace('-', "__");
    let bad = BIN.replace('-', "__subcmd__");
    script.replace(&format!("{bad}__subcmd__"), &format!("{good}__subcmd__"))
}

/// Man pages: `zaki-locks.1` and one per visible subcommand (`zaki-locks-scan.1`, …).
/// One man page: the main page (`None`) or a subcommand's (one of `MAN_PAGES`).
pub fn man_page(page: Option<&str>) -> Option<Vec<u8>> {
    let want = match page {
        None => format!("{BIN}.1"),
        Some(p) => format!("{BIN}-{p}.1"),
    };
    man_pages()
        .into_iter()
        .find(|(name, _)| *name == want)
        .map(|(_, body)| body)
}

pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    let cmd = Cli::command();
    let mut pages = vec![(format!("{BIN}.1"), render(cmd.clone(), None))];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let short = sub.get_name().to_owned();
        let name = format!("{BIN}-{short}");
        let sub = sub.clone().name(name.clone()).display_name(name.clone());
        pages.push((format!("{name}.1"), render(sub, Some(&short))));
    }
    pages
}

fn render(cmd: clap::Command, sub: Option<&str>) -> Vec<u8> {
    let cmd = cmd.version(env!("CARGO_PKG_VERSION"));
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    let io = (|| -> std::io::Result<()> {
        man.render_title(&mut out)?;
        man.render_name_section(&mut out)?;
        out.extend_from_slice(synopsis(sub).as_bytes());
        man.render_description_section(&mut out)?;
        if let Some(text) = sub.and_then(description) {
            out.extend_from_slice(paragraphs(text).as_bytes());
        }
        if cmd.get_arguments().any(|a| !a.is_hide_set()) {
            man.render_options_section(&mut out)?;
        }
        if sub.is_none() {
            man.render_subcommands_section(&mut out)?;
            for (title, text) in main_sections() {
                out.extend_from_slice(section(title, &text).as_bytes());
            }
        }
        if sub == Some("probe") {
            let fields = tagged(
                crate::report::probe::JSON_FIELDS
                    .iter()
                    .map(|(f, m)| (f.to_string(), *m)),
            );
            let text = format!("{PROBE_JSON_INTRO}\n\n{fields}");
            out.extend_from_slice(section("JSON OUTPUT", &text).as_bytes());
        }
        let name = sub.unwrap_or(BIN);
        out.extend_from_slice(exit_status(name).as_bytes());
        out.extend_from_slice(section("ENVIRONMENT", crate::cli::args::ENVIRONMENT).as_bytes());
        out.extend_from_slice(section("FILES", FILES).as_bytes());
        out.extend_from_slice(examples(name).as_bytes());
        out.extend_from_slice(see_also(sub).as_bytes());
        man.render_version_section(&mut out)
    })();
    io.expect("rendering into memory cannot fail");
    out
}

/// Text for roff: backslashes and hyphens escaped, and a leading `.` or `'` made literal.
pub fn roff_text(s: &str) -> String {
    let s = s.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with(['.', '\'']) {
        format!("\\&{s}")
    } else {
        s
    }
}

/// Paragraphs separated by blank lines; a paragraph whose lines start with two spaces is
/// shown as is (an example or a list), others are filled.
fn paragraphs(text: &str) -> String {
    let mut out = String::new();
    for para in text.trim_matches('\n').split("\n\n") {
        if para.starts_with("  ") {
            out.push_str(".PP\n.nf\n");
            for line in para.lines() {
                let _ = writeln!(out, "{}", roff_text(line));
            }
            out.push_str(".fi\n");
        } else if let Some((tag, rest)) = para.strip_prefix("* ").and_then(|p| p.split_once(": ")) {
            let _ = writeln!(out, ".TP\n\\fB{}\\fR", roff_text(tag));
            let _ = writeln!(out, "{}", roff_text(&rest.replace('\n', " ")));
        } else {
            let _ = writeln!(out, ".PP\n{}", roff_text(&para.replace('\n', " ")));
        }
    }
    out
}

fn section(title: &str, text: &str) -> String {
    format!(".SH {title}\n{}", paragraphs(text))
}

fn synopsis(sub: Option<&str>) -> String {
    let (cmd, rest) = match sub {
        None => (
            BIN.to_owned(),
            "[\\fB\\-\\-color\\fR \\fIWHEN\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR]",
        ),
        Some("probe") => (format!("{BIN} probe"), "[\\fIOPTIONS\\fR] \\fIUSER_ID\\fR"),
        Some("completions") => (format!("{BIN} completions"), "\\fISHELL\\fR"),
        Some("man") => (format!("{BIN} man"), "[\\fIPAGE\\fR]"),
        Some(s) => (format!("{BIN} {s}"), "[\\fIOPTIONS\\fR]"),
    };
    format!(".SH SYNOPSIS\n\\fB{}\\fR {rest}\n", roff_text(&cmd))
}

fn exit_status(command: &str) -> String {
    let mut out = String::from(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in crate::model::exit_codes::table(command) {
        let _ = writeln!(
            out,
            ".TP\n\\fB{}\\fR\n{}",
            roff_text(code),
            roff_text(meaning)
        );
    }
    out
}

fn examples(command: &str) -> String {
    let text = match command {
        "scan" => SCAN_EXAMPLES,
        "clean" => CLEAN_EXAMPLES,
        "watch" => WATCH_EXAMPLES,
        "probe" => PROBE_EXAMPLES,
        "completions" => COMPLETIONS_EXAMPLES,
        "man" => "  zaki-locks man clean | man -l -",
        _ => MAIN_EXAMPLES,
    };
    let mut out = String::from(".SH EXAMPLES\n.PP\n.nf\n");
    for line in text.lines() {
        let _ = writeln!(out, "{}", roff_text(line.trim_start()));
    }
    out.push_str(".fi\n");
    out
}

fn see_also(sub: Option<&str>) -> String {
    let mut refs: Vec<String> = std::iter::once(BIN.to_owned())
        .chain(
            crate::cli::args::MAN_PAGES
                .iter()
                .map(|p| format!("{BIN}-{p}")),
        )
        .filter(|p| Some(p.as_str()) != sub.map(|s| format!("{BIN}-{s}")).as_deref())
        .filter(|p| sub.is_some() || p != BIN)
        .map(|p| format!("\\fB{}\\fR(1)", roff_text(&p)))
        .collect();
    refs.extend(
        [
            ("docker", 1),
            ("cron", 8),
            ("systemd.timer", 5),
            ("flock", 2),
        ]
        .iter()
        .map(|(name, section)| format!("\\fB{}\\fR({section})", roff_text(name))),
    );
    format!(
        ".SH \"SEE ALSO\"\n{}\n.PP\nThe operator's guide is /usr/share/doc/zaki\\-locks/README.md; \
         docs/reference.md, docs/safety.md and docs/benchmarks.md beside it have every option \
         in detail and the JSON schema, the safety guarantees and threat model, and the \
         measurements.\n",
        refs.join(", ")
    )
}

/// A subcommand's page adds these paragraphs to its description.
fn description(sub: &str) -> Option<&'static str> {
    Some(match sub {
        "scan" => concat!(
            "Lists every session lock (agents/<agent>/sessions/<id>.jsonl.lock and ",
            "sessions.json.lock) under the default places or the ones given, on the host and in ",
            "the Docker containers selected by --prefix or --container. Nothing is removed.\n\n",
            "On a terminal the table shows one line per lock, its path relative to its state dir ",
            "(--full-paths for the full path); off a terminal the same columns are separated by ",
            "tabs. --format json prints the report described under JSON OUTPUT in zaki-locks(1).",
        ),
        "clean" => concat!(
            "Removes the stale session locks, judged as scan judges them, and prints one line ",
            "per removal with the reasons and the lock's content. A lock is removed only if it ",
            "is stale and still byte for byte the file that was judged; a live lock is never ",
            "removed. Safe to run from cron or the systemd timer every 5 minutes.\n\n",
            "Two cleans never overlap: clean holds a run lock (flock on /run/zaki-locks.lock as ",
            "root; --run-lock or ZAKI_LOCKS_RUN_LOCK to change it). A run that finds it held ",
            "waits --wait, then steps aside with exit 0, says which process holds it (pid and ",
            "command) and what to do, prints a JSON report with stepped_aside set under --format ",
            "json, and still writes its --metrics-file: zaki_locks_stepped_aside 1, ",
            "zaki_locks_last_run_success 1 and the last success time set to now, since the holder ",
            "does the job (its own metrics carry the lock counts). So a cron clean left next to a ",
            "watch does not look stale; watch --metrics-file writes the counts.",
            "--run-lock never truncates a file: a file that is not a run lock of zaki-locks (not ",
            "a regular file, or holding anything but a pid) is refused.\n\n",
            "--older-than below 5 minutes (OpenClaw's own max hold) is refused unless ",
            "--allow-short-threshold is given.",
        ),
        "watch" => concat!(
            "Follows the Docker engines' container start and restart events and cleans a ",
            "container's stale locks a --settle time after it starts (one pass per start: ",
            "Docker's restart sends both start and restart). Also runs a full clean at start-up, ",
            "every --interval and after reconnecting to an engine. It holds the run lock for as ",
            "long as it runs, so a cron clean steps aside; with --metrics-file it writes the ",
            "clean metrics (command=\"watch\") after every full pass.",
        ),
        "probe" => concat!(
            "Sends a test message to a user's gateway exactly as the router does, retries as it ",
            "does, and says why the user's bot is stuck: route, container, health, the user's ",
            "own session lock, each attempt, and a verdict. A lock that blocks the user's own ",
            "session (agent:main:openai-user:<id>) makes the verdict session-busy with the ",
            "command that fixes it, whatever the probe's own session did. When the lock could ",
            "not be looked at (Docker unreachable, container missing) the probe says so.\n\n",
            "The probe's metrics carry no user label unless --metrics-user-label is given: give ",
            "each probed user its own --metrics-file, or label only a few canary users.",
        ),
        "completions" => concat!(
            "Prints the completion script for a shell. The Debian package installs them for ",
            "bash, zsh and fish.",
        ),
        "man" => "Prints a man page as roff, for systems without the installed pages.",
        _ => return None,
    })
}

/// `* name: meaning` paragraphs (a tagged list in the page), one per item.
fn tagged<'a>(items: impl IntoIterator<Item = (String, &'a str)>) -> String {
    items
        .into_iter()
        .map(|(name, meaning)| format!("* {name}: {meaning}"))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The main page's own sections. The statuses, reasons, owner states, JSON fields and metric
/// families are the code's own lists (`judge::lock`'s `Status`, `Reason` and `OwnerState`
/// `MEANINGS`, `report::record::JSON_FIELDS`, `report::metrics::FAMILIES`), so the page names
/// every one the code has.
fn main_sections() -> Vec<(&'static str, String)> {
    use crate::judge::lock::{OwnerState, Reason, Status};
    use crate::report::metrics::FAMILIES;
    use crate::report::record::JSON_FIELDS;
    let statuses = tagged(Status::MEANINGS.iter().map(|(v, m)| (v.to_string(), *m)));
    let reasons = tagged(Reason::MEANINGS.iter().map(|(v, m)| (v.to_string(), *m)));
    let owners = tagged(
        OwnerState::MEANINGS
            .iter()
            .map(|(v, m)| (v.to_string(), *m)),
    );
    let fields = tagged(JSON_FIELDS.iter().map(|(f, m)| (f.to_string(), *m)));
    let families = tagged(FAMILIES.iter().map(|f| {
        let name = if f.labels.is_empty() {
            f.name.to_owned()
        } else {
            format!("{}{{{}}}", f.name, f.labels.join(","))
        };
        (name, f.help)
    }));
    vec![
        ("STALENESS", HOLDER_RULE.to_owned()),
        ("STATUS", format!("{STATUS_INTRO}\n\n{statuses}")),
        ("REASONS", format!("{REASONS_INTRO}\n\n{reasons}")),
        ("OWNER STATES", format!("{OWNERS_INTRO}\n\n{owners}")),
        ("SAFETY", SAFETY.to_owned()),
        ("JSON OUTPUT", format!("{JSON_INTRO}\n\n{fields}")),
        ("METRICS", format!("{METRICS_INTRO}\n\n{families}")),
    ]
}

const HOLDER_RULE: &str = "\
The holder rule comes first: a lock that some process holds open is never removed, whatever its age, its pid or \
--older-than: OpenClaw keeps its lock file open from the moment it creates it until it \
releases it, so who has the file open (the kernel's answer, a write lease) settles whether it \
is live. Held open past its max hold (the payload's maxHoldMs, else --older-than) it is \
wedged: removing the file cannot help the stuck gateway and would let a second writer in, so \
it is kept and its note names the fix (docker restart <container>, or restart the process). \
A process that has the lock open read-only (tail -f, a backup) is a reader, not a holder.\n\n\
A lock nobody holds open, where every process that could hold it was looked at (visibility \
complete), is stale once unchanged for 10 s (no-holder); while its owner may be alive it must \
be seen unheld twice, a second apart, before clean removes it. Where who holds it cannot be \
seen (a network filesystem, several hard links, some exec listings: visibility incomplete), \
the pid rules decide, and age alone never removes a lock whose owner may be alive.\n\n\
So --older-than does not make a held lock stale: it is the age past which an unheld lock is \
too-old, an empty or half-written lock's mtime must reach it before that lock is stale (it \
may be one being created), and a held lock without maxHoldMs is wedged past it. A clean \
--dry-run --older-than 5s --allow-short-threshold still keeps every held lock.";

const STATUS_INTRO: &str = "\
Each lock has one status: the STATUS column of the table, locks[].status in JSON, the state \
label of zaki_locks_locks (unjudged counts as skipped there).";

const REASONS_INTRO: &str = "\
Why a lock is stale, or what is wrong with a kept one: the WHY column, locks[].reasons in \
JSON. OpenClaw's own names, and ours. A lock a process holds open is kept whatever its \
reasons (see STALENESS).";

const OWNERS_INTRO: &str = "\
What the pid in the lock's payload turned out to be (the OWNER column, locks[].owner_state), \
judged in the PID namespace of the container that owns the lock.";

const SAFETY: &str = "\
zaki-locks runs as root among files that each user's AI agent can write. It opens nothing \
that is not a regular file, follows no symlink below a state dir, bounds every read, and \
removes a lock only if it is stale and unchanged since it was judged. When it is not sure \
(owner unobservable, file unreadable or changed) it keeps the lock and says why. SIGINT or \
SIGTERM finish the removal under way and remove nothing more.";

const JSON_INTRO: &str = "\
--format json prints one document with these fields; fields are only ever added, and version \
changes only for an incompatible change. probe --format json has its own document, listed in \
zaki-locks-probe(1).";

const PROBE_JSON_INTRO: &str = "\
--format json prints one document at the end, with these fields; fields are only ever added.";

const METRICS_INTRO: &str = "\
--format prometheus prints, and --metrics-file PATH writes atomically, these gauges in \
node_exporter's textfile format. The probe's carry a user label only with \
--metrics-user-label. Alerting rules for them: \
/usr/share/zaki-locks/prometheus/zaki-locks.rules.yml.";

const FILES: &str = "\
* /root/.openclaw: a default state dir (host gateway).\n\n\
* /var/zaki-platform/users: the default dir of user-<id>/.openclaw state dirs, each \
bind-mounted into container zaki-user-<id>.\n\n\
* /var/zaki-platform/router/users.json: the router table probe reads (--users-file).\n\n\
* /run/zaki-locks.lock: the run lock (root; else $XDG_RUNTIME_DIR/zaki-locks.lock).\n\n\
* /var/run/docker.sock: the default Docker engine.\n\n\
* /usr/lib/systemd/system/zaki-locks-clean.timer, zaki-locks-clean.service, \
zaki-locks-watch.service: the units (not enabled by the package).\n\n\
* /usr/share/zaki-locks/prometheus/zaki-locks.rules.yml: Prometheus alerting rules for the \
metrics (copy them into Prometheus's rule_files).";

const MAIN_EXAMPLES: &str = "\
  zaki-locks scan                      # what is there; nothing removed
  zaki-locks clean --dry-run           # what clean would remove
  zaki-locks clean                     # remove the stale locks
  zaki-locks probe 42                  # why is user 42's bot stuck?
  systemctl enable --now zaki-locks-clean.timer";

const SCAN_EXAMPLES: &str = "\
  zaki-locks scan
  zaki-locks scan --root /root/.openclaw --format json
  zaki-locks scan --users-dir /var/zaki-platform/users --stale-only
  zaki-locks scan --fail-on-stale --no-host --format prometheus
  zaki-locks scan --held-over 1m --fail-on-held";

const CLEAN_EXAMPLES: &str = "\
  zaki-locks clean --dry-run
  zaki-locks clean
  zaki-locks clean --container zaki-user-42
  # DIR: node_exporter's --collector.textfile.directory
  zaki-locks clean --quiet --metrics-file $DIR/zaki_locks_clean.prom";

const WATCH_EXAMPLES: &str = "\
  zaki-locks watch --log-format kv
  zaki-locks watch --metrics-file $DIR/zaki_locks_watch.prom";

const PROBE_EXAMPLES: &str = "\
  zaki-locks probe 42
  zaki-locks probe 42 --format json
  zaki-locks probe 42 --inject-lock 12s
  zaki-locks probe 42 --metrics-file $DIR/zaki_locks_probe_42.prom";

const COMPLETIONS_EXAMPLES: &str = "\
  cd /usr/local/share
  zaki-locks completions bash > bash-completion/completions/zaki-locks
  zaki-locks completions zsh > zsh/site-functions/_zaki-locks
  zaki-locks completions fish > fish/vendor_completions.d/zaki-locks.fish";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_clap_accepts_is_rendered() {
        for page in std::iter::once(None).chain(crate::cli::args::MAN_PAGES.map(Some)) {
            let body = man_page(page).unwrap_or_default();
            assert!(
                body.starts_with(b".ie") || body.starts_with(b".TH"),
                "{page:?}"
            );
        }
        assert_eq!(man_page(Some("nope")), None);
    }

    /// Every state the bash script sets has a `case` arm, and every arm is reachable.
    #[test]
    fn bash_script_states_match_their_arms() {
        let s = String::from_utf8(completion(Shell::Bash)).unwrap();
        let set: std::collections::BTreeSet<&str> = s
            .lines()
            .filter_map(|l| l.trim().strip_prefix("cmd=\""))
            .map(|l| l.trim_end_matches('"'))
            .filter(|l| !l.is_empty())
            .collect();
        let arms: std::collections::BTreeSet<&str> = s
            .lines()
            .filter(|l| l.starts_with("        ") && !l.starts_with("         "))
            .filter_map(|l| l.trim().strip_suffix(')'))
            .filter(|l| l.starts_with("zaki__") && !l.contains(','))
            .collect();
        assert!(set.len() > 5, "{set:?}");
        assert_eq!(set, arms);
    }

    #[test]
    fn help_names_every_variable() {
        assert_eq!(
            crate::cli::args::environment_names(),
            [
                "NO_COLOR",
                "DOCKER_HOST",
                "DOCKER_TLS_VERIFY",
                "DOCKER_CERT_PATH",
                "OPENCLAW_STATE_DIR",
                "ZAKI_LOCKS_RUN_LOCK"
            ]
        );
    }

    /// The main page, as `man` would show it before filling: roff escapes undone.
    fn main_page_text() -> String {
        String::from_utf8(man_page(None).unwrap())
            .unwrap()
            .replace("\\-", "-")
            .replace("\\e", "\\")
    }

    /// Every status, reason and owner state the judge has, every JSON field the report has and
    /// every metric family written is in `man zaki-locks`, with its meaning. (A variant without
    /// a meaning does not compile; a JSON field or metric missing from its list fails
    /// `record::tests` or `metrics::tests`.)
    #[test]
    fn the_main_page_names_every_status_reason_field_and_metric() {
        use crate::judge::lock::{OwnerState, Reason, Status};
        let page = main_page_text();
        let has = |name: &str, meaning: &str| {
            let tag = format!(".TP\n\\fB{name}\\fR\n{meaning}\n");
            assert!(
                page.contains(&tag),
                "man zaki-locks lacks {name}: {meaning}"
            );
        };
        for (s, m) in Status::MEANINGS {
            has(s.as_str(), m);
        }
        for (r, m) in Reason::MEANINGS {
            has(r.as_str(), m);
        }
        for (o, m) in OwnerState::MEANINGS {
            has(o.as_str(), m);
        }
        for (f, m) in crate::report::record::JSON_FIELDS {
            has(f, m);
        }
        let probe = String::from_utf8(man_page(Some("probe")).unwrap())
            .unwrap()
            .replace("\\-", "-");
        for (f, m) in crate::report::probe::JSON_FIELDS {
            let tag = format!(".TP\n\\fB{f}\\fR\n{m}\n");
            assert!(probe.contains(&tag), "man zaki-locks-probe lacks {f}: {m}");
        }
        for f in crate::report::metrics::FAMILIES {
            assert!(page.contains(&format!("\\fB{}", f.name)), "{}", f.name);
            assert!(page.contains(f.help), "{}", f.help);
        }
        for r in ["wedged", "leaked", "no-holder"] {
            assert!(Reason::MEANINGS.iter().any(|(x, _)| x.as_str() == r));
        }
        assert!(page.contains(".SH STALENESS\n.PP\nThe holder rule comes first"));
    }

    #[test]
    fn roff_escapes() {
        assert_eq!(roff_text(".x -y \\z"), "\\&.x \\-y \\ez");
    }
}
