//! What the operator touches, where they touch it: the completions loaded in real bash, zsh
//! and fish (typed into interactive shells in tmux, and bash's own completion function called
//! the way readline calls it), the scan table in a real 80-column terminal (tmux), and the man
//! pages rendered by `man`.
//!
//! Needs tmux, bash, zsh, fish and man-db (scripts/test.sh installs them).

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{legacy_payload, stderr, stdout};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn need(tool: &str) {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{tool} is not installed: run scripts/test.sh (it installs it)"
    );
}

/// A dir holding `zaki-locks` (a symlink to the binary under test), to put first in PATH.
fn bin_dir(tmp: &Path) -> PathBuf {
    let dir = tmp.join("bin");
    fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(common::bin(), dir.join("zaki-locks")).unwrap();
    dir
}

/// A stand-in `docker` in `bin` that lists two containers for `docker ps -a` (what the
/// completions ask), so that completion is tested without an engine.
fn docker_stub(bin: &Path) {
    let docker = bin.join("docker");
    fs::write(
        &docker,
        "#!/bin/sh\n[ \"$1 $2\" = \"ps -a\" ] && printf 'zaki-user-105\\nzaki-user-106\\n'\n",
    )
    .unwrap();
    fs::set_permissions(&docker, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

/// A tmux session of its own (own socket), killed when dropped.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn start(tmp: &Path, cols: u16, rows: u16, shell: &[&str], env: &[(&str, String)]) -> Tmux {
        need("tmux");
        let socket = tmp.join("tmux.sock");
        let mut cmd = Command::new("tmux");
        cmd.arg("-S")
            .arg(&socket)
            .args(["-f", "/dev/null", "new-session", "-d", "-x"])
            .arg(cols.to_string())
            .arg("-y")
            .arg(rows.to_string());
        for (k, v) in env {
            cmd.arg("-e").arg(format!("{k}={v}"));
        }
        cmd.args(shell);
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "tmux: {}", stderr(&o));
        let t = Tmux { socket };
        // The window must really be that wide, whatever the tmux defaults.
        t.tmux(&[
            "resize-window",
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
        ]);
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let o = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        stdout(&o)
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", "0", k]);
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    fn literal(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "0", "-l", text]);
        std::thread::sleep(Duration::from_millis(150));
    }

    /// The screen, one string per row, as the terminal shows it (no joining of wrapped rows).
    fn screen(&self) -> Vec<String> {
        self.tmux(&["capture-pane", "-p", "-t", "0"])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Waits until the screen holds every one of `want`; panics with the screen if it never does.
    fn wait_for(&self, want: &[&str], what: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let screen = self.screen();
            let text = screen.join("\n");
            if want.iter().all(|w| text.contains(w)) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("{what}: never saw {want:?} on the screen:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

fn path_env(tmp: &Path) -> (&'static str, String) {
    (
        "PATH",
        format!(
            "{}:{}",
            bin_dir(tmp).display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    )
}

/// bash's completion function for `words` (the last one being completed), called as readline
/// calls it: COMP_WORDS/COMP_CWORD set, then `_zaki__locks cmd cur prev`.
fn bash_complete(words: &[&str]) -> Vec<String> {
    need("bash");
    let script = repo().join("completions/zaki-locks.bash");
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let n = words.len();
    let prog = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE=\"${{COMP_WORDS[*]}}\"\n\
         _zaki__locks zaki-locks '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        n - 1,
        words[n - 1],
        words[n - 2],
    );
    let o = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &prog])
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(o.status.success(), "bash: {}", stderr(&o));
    stdout(&o).lines().map(str::to_owned).collect()
}

#[test]
fn bash_completes_after_the_subcommand() {
    let got = bash_complete(&["zaki-locks", "clean", "--"]);
    for want in [
        "--dry-run",
        "--older-than",
        "--log-format",
        "--run-lock",
        "--allow-short-threshold",
    ] {
        assert!(got.iter().any(|g| g == want), "clean --<TAB>: {got:?}");
    }
    assert!(
        !got.iter().any(|g| g == "--fail-on-stale"),
        "clean offered scan's flag: {got:?}"
    );
    let got = bash_complete(&["zaki-locks", "clean", "--log-format", ""]);
    assert_eq!(got, ["auto", "human", "kv", "json"], "--log-format <TAB>");
    let got = bash_complete(&["zaki-locks", "scan", "--format", ""]);
    assert_eq!(got, ["table", "tsv", "json", "prometheus"]);
    let got = bash_complete(&["zaki-locks", "man", ""]);
    assert!(got.iter().any(|g| g == "clean"), "man <TAB>: {got:?}");
}

#[test]
fn bash_completes_interactively() {
    need("bash");
    let tmp = tempfile::tempdir().unwrap();
    let t = Tmux::start(
        tmp.path(),
        100,
        30,
        &["bash", "--norc", "--noprofile"],
        &[path_env(tmp.path()), ("PS1", "$ ".into())],
    );
    let script = repo().join("completions/zaki-locks.bash");
    t.literal(&format!("source {}", script.display()));
    t.keys(&["Enter"]);
    t.literal("zaki-locks clean --log-f");
    t.keys(&["Tab"]);
    t.wait_for(&["$ zaki-locks clean --log-format\n"], "--log-f<TAB>");
    t.keys(&["Tab", "Tab"]);
    let screen = t.wait_for(&["auto", "human", "kv", "json"], "--log-format <TAB><TAB>");
    assert!(
        !screen.iter().any(|l| l.contains("Cargo.toml")),
        "file names offered"
    );
}

/// Directories complete level by level with no space after each (`--root a<TAB>` gives
/// `aaa/`, then `bbb/`), and `--container` offers the engine's container names (from `docker
/// ps -a`: here a stand-in `docker` first in PATH that prints two names).
#[test]
fn bash_completes_dirs_and_container_names() {
    need("bash");
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join("work/aaa/bbb/ccc")).unwrap();
    let bin = bin_dir(tmp.path());
    docker_stub(&bin);
    let t = Tmux::start(
        tmp.path(),
        100,
        30,
        &["bash", "--norc", "--noprofile"],
        &[("PS1", "$ ".into())],
    );
    let script = repo().join("completions/zaki-locks.bash");
    // PATH set in the shell itself: a tmux server may keep its own.
    t.literal(&format!(
        "export PATH={}:$PATH; source {}; cd {}",
        bin.display(),
        script.display(),
        tmp.path().join("work").display()
    ));
    t.keys(&["Enter"]);
    t.literal("zaki-locks scan --root a");
    t.keys(&["Tab"]);
    t.wait_for(&["$ zaki-locks scan --root aaa/"], "--root a<TAB>");
    t.keys(&["Tab"]);
    let screen = t.wait_for(&["$ zaki-locks scan --root aaa/bbb/"], "--root aaa/<TAB>");
    assert!(
        !screen.join("\n").contains("aaa/ "),
        "a space after a dir: {screen:?}"
    );
    t.keys(&["C-c"]);
    t.literal("zaki-locks clean --container zaki-u");
    t.keys(&["Tab"]);
    t.wait_for(
        &["$ zaki-locks clean --container zaki-user-10"],
        "--container zaki-u<TAB>",
    );
    t.keys(&["Tab", "Tab"]);
    t.wait_for(&["zaki-user-105  zaki-user-106"], "--container <TAB><TAB>");
}

/// `-h` is short (one line per option, where our texts are ours), `--help` long; both are
/// wrapped to the terminal (clap's wrap_help), here 80 columns.
#[test]
fn help_is_short_and_long_and_fits_the_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let t = Tmux::start(
        tmp.path(),
        80,
        200,
        &["bash", "--norc", "--noprofile"],
        &[("PS1", "$ ".into())],
    );
    let bin = common::bin();
    t.literal(&format!("clear; {} clean -h; echo E\"\"ND", bin.display()));
    t.keys(&["Enter"]);
    let short = t.wait_for(&["\nEND"], "clean -h").join("\n");
    t.literal(&format!(
        "clear; {} clean --help | cat; echo END",
        bin.display()
    ));
    t.keys(&["Enter"]);
    let long = t.wait_for(&["\nEND"], "clean --help").join("\n");
    for text in [&short, &long] {
        let wide: Vec<&str> = text.lines().filter(|l| l.chars().count() > 80).collect();
        assert!(wide.is_empty(), "wider than the terminal: {wide:?}");
    }
    let lines = |t: &str| t.trim_end().lines().count();
    assert!(
        lines(&short) * 2 < lines(&long),
        "-h {} lines, --help {}",
        lines(&short),
        lines(&long)
    );
    assert!(short.contains("--dry-run"), "{short}");
    // One screen: the rarely used options are in --help only, and -h says so.
    assert!(
        lines(&short) <= 40,
        "-h is {} lines:\n{short}",
        lines(&short)
    );
    assert!(!short.contains("--container-state-dir"), "{short}");
    assert!(long.contains("--container-state-dir"), "{long}");
    assert!(short.contains("More options, exit statuses"), "{short}");
    assert!(!short.contains("Exit status:"), "{short}");
    assert!(long.contains("Exit status:"), "{long}");
    let flat = long.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("one line each on stderr, with its fix"),
        "{long}"
    );
}

#[test]
fn zsh_completes_interactively() {
    need("zsh");
    let tmp = tempfile::tempdir().unwrap();
    let fpath = tmp.path().join("zfunc");
    fs::create_dir_all(&fpath).unwrap();
    fs::copy(
        repo().join("completions/_zaki-locks"),
        fpath.join("_zaki-locks"),
    )
    .unwrap();
    let t = Tmux::start(tmp.path(), 120, 40, &["zsh", "-f"], &[path_env(tmp.path())]);
    t.literal(&format!(
        "PS1='%% '; fpath=({} $fpath); autoload -U compinit; compinit -u -D",
        fpath.display()
    ));
    t.keys(&["Enter"]);
    t.literal("zaki-locks clean --log-format ");
    t.keys(&["Tab"]);
    t.wait_for(&["auto", "human", "kv", "json"], "zsh --log-format <TAB>");
    t.keys(&["C-c"]);
    t.literal("zaki-locks clean --dry");
    t.keys(&["Tab"]);
    t.wait_for(&["zaki-locks clean --dry-run"], "zsh clean --dry<TAB>");
    // `--container` offers the engine's container names (a stand-in `docker` first in PATH,
    // as for bash).
    docker_stub(&tmp.path().join("bin"));
    t.keys(&["C-c"]);
    // PATH set in the shell itself: a tmux server may keep its own.
    t.literal(&format!(
        "export PATH={}:$PATH",
        tmp.path().join("bin").display()
    ));
    t.keys(&["Enter"]);
    t.literal("zaki-locks clean --container zaki-u");
    t.keys(&["Tab"]);
    t.wait_for(
        &["zaki-locks clean --container zaki-user-10"],
        "zsh --container zaki-u<TAB>",
    );
    t.keys(&["Tab"]);
    t.wait_for(
        &["zaki-user-105", "zaki-user-106"],
        "zsh --container <TAB><TAB>",
    );
}

#[test]
fn fish_completes() {
    need("fish");
    let script = repo().join("completions/zaki-locks.fish");
    let complete = |line: &str| {
        let o = Command::new("fish")
            .args(["--no-config", "-c"])
            .arg(format!("source {}; complete -C '{line}'", script.display()))
            .output()
            .unwrap();
        assert!(o.status.success(), "fish: {}", stderr(&o));
        stdout(&o)
    };
    let got = complete("zaki-locks clean --");
    assert!(
        got.contains("--dry-run")
            && got.contains("--log-format")
            && !got.contains("--fail-on-stale"),
        "{got}"
    );
    let got = complete("zaki-locks clean --log-format ");
    let mut words: Vec<&str> = got.lines().map(|l| l.split('\t').next().unwrap()).collect();
    words.sort();
    assert_eq!(words, ["auto", "human", "json", "kv"], "{got}");
}

/// A state dir with locks named as OpenClaw names them (UUIDs), held (open by their live
/// owner) and stale.
fn demo_tree(tmp: &Path) -> (PathBuf, Vec<common::Proc>) {
    let state = tmp.join("demo/.openclaw");
    let dir = state.join("agents/main/sessions");
    fs::create_dir_all(&dir).unwrap();
    let mut index = serde_json::Map::new();
    let mut live = Vec::new();
    for i in 0..6 {
        let id = format!("0f3c9a2e-05ef-4fc9-bfd6-df9a78f28{i:03}");
        let pid = if i % 2 == 0 {
            // Held open by its live owner, as OpenClaw holds its lock for the whole hold.
            let p = common::Proc::holding(&dir.join(format!("{id}.jsonl.lock")));
            let pid = p.pid();
            live.push(p);
            pid
        } else {
            common::dead_pid()
        };
        let ago = if i % 2 == 0 { 0 } else { 60 * i as u64 };
        fs::write(
            dir.join(format!("{id}.jsonl.lock")),
            legacy_payload(pid, Duration::from_secs(ago)),
        )
        .unwrap();
        index.insert(
            format!("agent:main:openai-user:{}", 1_000_000_000 + i),
            serde_json::json!({"sessionId": id}),
        );
    }
    fs::write(
        dir.join("sessions.json"),
        serde_json::Value::Object(index).to_string(),
    )
    .unwrap();
    (state, live)
}

#[test]
fn the_table_fits_an_80_column_terminal_one_line_per_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let (state, _live) = demo_tree(tmp.path());
    let t = Tmux::start(
        tmp.path(),
        80,
        50,
        &["bash", "--norc", "--noprofile"],
        &[("PS1", "$ ".into()), ("NO_COLOR", "1".into())],
    );
    t.literal(&format!(
        "clear; {} scan --no-containers --root {}; echo END",
        common::bin().display(),
        state.display()
    ));
    t.keys(&["Enter"]);
    let screen = t.wait_for(&["scan: 6 locks", "\nEND"], "scan in 80 columns");
    let start = screen
        .iter()
        .position(|l| l.starts_with("WHERE"))
        .unwrap_or_else(|| panic!("no header:\n{}", screen.join("\n")));
    let rows: Vec<&String> = screen[start + 1..]
        .iter()
        .take_while(|l| !l.starts_with("scan:"))
        .collect();
    let shown = screen.join("\n");
    assert_eq!(rows.len(), 6, "one row per lock:\n{shown}");
    for r in &rows {
        assert!(r.chars().count() <= 80, "row wider than 80: {r:?}");
        assert!(r.starts_with("host"), "a lock's row was wrapped:\n{shown}");
        assert!(
            r.contains(" held ") || r.contains(" stale "),
            "no status word: {r:?}"
        );
    }
    assert!(
        rows.iter().any(|r| r.contains("user:1000000005")),
        "{shown}"
    );
    // The reason's key word and the lock's session id survive the cut (not `dead-p…`, not
    // `….jsonl.lock`).
    for r in rows.iter().filter(|r| r.contains(" stale ")) {
        assert!(r.contains(" dead-pid "), "{shown}");
        assert!(r.contains("0f3c9a2e"), "session id cut: {r:?}\n{shown}");
    }
    assert!(
        !shown.contains(&state.display().to_string()),
        "full path shown by default:\n{shown}"
    );

    // A wide terminal: the whole relative path, copyable; --full-paths: the full one.
    let t = Tmux::start(
        &tmp.path().join("wide").tap_mkdir(),
        200,
        50,
        &["bash", "--norc", "--noprofile"],
        &[("PS1", "$ ".into())],
    );
    t.literal(&format!(
        "clear; {} scan --no-containers --full-paths --root {}; echo END",
        common::bin().display(),
        state.display()
    ));
    t.keys(&["Enter"]);
    let screen = t.wait_for(&["scan: 6 locks", "\nEND"], "scan in 200 columns");
    let full = state
        .join("agents/main/sessions/0f3c9a2e-05ef-4fc9-bfd6-df9a78f28001.jsonl.lock")
        .display()
        .to_string();
    assert!(
        screen.iter().any(|l| l.ends_with(&full)),
        "{full} not whole on one line:\n{}",
        screen.join("\n")
    );
}

/// `--color always` in a real 80-column terminal: the status words are coloured, and the
/// coloured rows line up with the header as plain ones do (the colour takes no column).
#[test]
fn the_coloured_table_lines_up_in_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let (state, _live) = demo_tree(tmp.path());
    let t = Tmux::start(
        tmp.path(),
        80,
        50,
        &["bash", "--norc", "--noprofile"],
        &[("PS1", "$ ".into()), ("NO_COLOR", "1".into())],
    );
    t.literal(&format!(
        "clear; {} scan --no-containers --color always --root {}; echo END",
        common::bin().display(),
        state.display()
    ));
    t.keys(&["Enter"]);
    let screen = t.wait_for(&["scan: 6 locks", "\nEND"], "coloured scan in 80 columns");
    let shown = screen.join("\n");
    let start = screen
        .iter()
        .position(|l| l.starts_with("WHERE"))
        .unwrap_or_else(|| panic!("no header:\n{shown}"));
    let header = &screen[start];
    let rows = &screen[start + 1..start + 7];
    for col in ["STATUS", "AGE", "PID", "SESSION", "LOCK"] {
        let at = header
            .find(col)
            .unwrap_or_else(|| panic!("no {col}:\n{shown}"));
        for r in rows {
            // Columns, not bytes: a cut cell starts with a three-byte `…`.
            let r: Vec<char> = r.chars().collect();
            assert!(r.len() <= 80, "row wider than 80:\n{shown}");
            assert!(
                r[at - 2..at] == [' ', ' '] && r[at] != ' ',
                "{col} not at column {at}:\n{shown}"
            );
        }
    }
    // The terminal got the colour of each status word: red (1) stale, green (2) held, in
    // either spelling of the palette colour (`ESC[31m` or `ESC[38;5;1m`).
    let styled = t.tmux(&["capture-pane", "-p", "-e", "-t", "0"]);
    for (word, n) in [("stale", 1), ("held", 2)] {
        assert!(
            [format!("\x1b[3{n}m{word}"), format!("\x1b[38;5;{n}m{word}")]
                .iter()
                .any(|c| styled.contains(c)),
            "{word} not coloured {n}: {styled:?}"
        );
    }
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for PathBuf {
    fn tap_mkdir(self) -> Self {
        fs::create_dir_all(&self).unwrap();
        self
    }
}

/// In a pipe (`| less`, `| head`, `| grep`) the table stays aligned, as `docker ps` and `ps`
/// keep theirs: never cut without a width, cut at `COLUMNS` when set, coloured with `--color
/// always`; tab-separated lines only on request (`--format tsv`).
#[test]
fn the_table_in_a_pipe_stays_aligned_tsv_on_request() {
    let tmp = tempfile::tempdir().unwrap();
    let (state, _live) = demo_tree(tmp.path());
    let scan = |extra: &[&str], columns: Option<&str>| {
        let mut c = common::zaki(tmp.path());
        c.args(["scan", "--no-containers", "--root"])
            .arg(&state)
            .args(extra)
            .env_remove("COLUMNS");
        if let Some(n) = columns {
            c.env("COLUMNS", n);
        }
        let o = common::run(c);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        stdout(&o)
    };
    // No width known: aligned like the terminal's, nothing cut.
    let out = scan(&[], None);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 8, "{out}");
    assert!(lines[0].starts_with("WHERE  STATUS  AGE"), "{out}");
    assert!(!out.contains('\t') && !out.contains('…'), "{out}");
    let at = lines[0].find("LOCK").unwrap();
    for l in &lines[1..7] {
        assert_eq!(&l[at..at + 21], "agents/main/sessions/", "{out}");
        assert!(l.ends_with(".jsonl.lock"), "{l:?}");
    }
    // COLUMNS: cut to it, keeping the session ids.
    let out = scan(&[], Some("80"));
    for l in out.lines() {
        assert!(l.chars().count() <= 80, "{l:?}");
    }
    assert!(out.contains("user:1000000005"), "{out}");
    // --color always is honoured in a pipe.
    let out = scan(&["--color", "always"], None);
    assert!(out.contains("\x1b[38;5;1mstale"), "{out:?}");
    // --format tsv: one tab-separated line each, never cut.
    let out = scan(&["--format", "tsv"], Some("40"));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "WHERE\tSTATUS\tAGE\tPID\tOWNER\tWHY\tSESSION\tLOCK"
    );
    assert_eq!(lines.len(), 8, "{out}");
    for l in &lines[1..7] {
        let cells: Vec<&str> = l.split('\t').collect();
        assert_eq!(cells.len(), 8, "{l:?}");
        assert!(
            cells[7].starts_with("agents/main/sessions/0f3c9a2e-"),
            "{l:?}"
        );
    }
    assert!(
        !out.contains('|') && !out.contains("+--"),
        "a bordered table: {out}"
    );
}

/// Piped through `head` and `cat` in a real terminal: the aligned table, as in the terminal.
#[test]
fn the_table_piped_in_a_terminal_is_the_table() {
    let tmp = tempfile::tempdir().unwrap();
    let (state, _live) = demo_tree(tmp.path());
    let t = Tmux::start(
        tmp.path(),
        80,
        50,
        &["bash", "--norc", "--noprofile"],
        &[("PS1", "$ ".into()), ("NO_COLOR", "1".into())],
    );
    t.literal(&format!(
        "clear; {} scan --no-containers --root {} | head -3; echo END",
        common::bin().display(),
        state.display()
    ));
    t.keys(&["Enter"]);
    let screen = t.wait_for(&["\nEND"], "scan | head in 80 columns");
    let shown = screen.join("\n");
    let start = screen
        .iter()
        .position(|l| l.starts_with("WHERE  STATUS"))
        .unwrap_or_else(|| panic!("no aligned header:\n{shown}"));
    assert!(screen[start].contains("  LOCK"), "{shown}");
    assert!(screen[start + 1].starts_with("host   "), "{shown}");
    assert!(!shown.contains('\t'), "{shown}");
}

fn render_man(page: &Path) -> String {
    need("man");
    let o = Command::new("man")
        .arg("-l")
        .arg(page)
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env_remove("MAN_KEEP_FORMATTING")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "man -l {}: {}",
        page.display(),
        stderr(&o)
    );
    // Overstrike (bold, underline) away: what the reader sees.
    let mut text = String::new();
    for c in stdout(&o).chars() {
        if c == '\u{8}' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    text
}

#[test]
fn man_pages_render_with_every_section_and_no_raw_roff() {
    for (name, _) in zaki_locks::cli::docs::man_pages() {
        let page = repo().join("man").join(&name);
        let text = render_man(&page);
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "EXIT STATUS",
            "ENVIRONMENT",
            "FILES",
            "EXAMPLES",
            "SEE ALSO",
        ] {
            assert!(
                text.lines().any(|l| l == section),
                "{name}: no {section} section:\n{text}"
            );
        }
        assert!(!text.contains("\nEXTRA"), "{name}: raw clap EXTRA section");
        for raw in ["\\f", "\\-", "\\e", "\\&", ".TP", ".PP", ".SH"] {
            assert!(!text.contains(raw), "{name}: raw roff {raw:?}:\n{text}");
        }
        for l in text.lines() {
            assert!(
                l.chars().count() <= 80,
                "{name}: a line wider than 80: {l:?}"
            );
        }
        for var in [
            "NO_COLOR",
            "DOCKER_HOST",
            "DOCKER_TLS_VERIFY",
            "DOCKER_CERT_PATH",
            "OPENCLAW_STATE_DIR",
            "ZAKI_LOCKS_RUN_LOCK",
        ] {
            assert!(text.contains(var), "{name}: no {var}");
        }
    }
    let clean = render_man(&repo().join("man/zaki-locks-clean.1"));
    assert!(
        clean.contains("\n       zaki-locks clean [OPTIONS]\n"),
        "synopsis:\n{clean}"
    );
    assert!(clean.contains("130, 143") && !clean.contains("fail-on-stale:"));
    let watch = render_man(&repo().join("man/zaki-locks-watch.1"));
    assert!(watch.contains("stopped by SIGTERM"), "{watch}");
    let main = render_man(&repo().join("man/zaki-locks.1"));
    for s in ["STALENESS", "SAFETY", "JSON OUTPUT", "METRICS"] {
        assert!(main.lines().any(|l| l == s), "main page: no {s}");
    }
    let probe = render_man(&repo().join("man/zaki-locks-probe.1"));
    assert!(
        probe.contains("zaki-locks probe [OPTIONS] USER_ID"),
        "{probe}"
    );
}

/// The exit statuses in `--help`, in the man page and in the README are the same codes.
#[test]
fn help_man_and_readme_agree_on_exit_statuses() {
    let tmp = tempfile::tempdir().unwrap();
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    for cmd in ["scan", "clean", "watch", "probe"] {
        let o = common::run(common::zaki(tmp.path()).args([cmd, "--help"]));
        let help = stdout(&o);
        let man = render_man(&repo().join(format!("man/zaki-locks-{cmd}.1")));
        for (code, meaning) in zaki_locks::model::exit_codes::table(cmd) {
            let first: String = meaning
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ");
            assert!(
                help.contains(&format!("  {code}")),
                "{cmd} --help: no {code}"
            );
            assert!(help.contains(&first), "{cmd} --help: no {first:?}");
            let flat = man.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(flat.contains(&first), "man {cmd}: no {first:?}");
            assert!(
                readme.contains(&format!("| {code} |")) || readme.contains(&format!("{code} `")),
                "README: no exit status {code} ({cmd})"
            );
        }
    }
    let o = common::run(common::zaki(tmp.path()).arg("--help"));
    assert!(stdout(&o).contains("  man "), "man hidden from --help");
}
