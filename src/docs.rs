//! Man pages and shell completions, generated from the clap definitions so they cannot drift.
//! The committed copies in `man/` and `completions/` are checked against these by the tests.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

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
    out
}

/// Man pages: `zaki-locks.1` and one per visible subcommand (`zaki-locks-scan.1`, …).
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    let cmd = Cli::command();
    let mut pages = vec![(format!("{BIN}.1"), render(cmd.clone()))];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("{BIN}-{}", sub.get_name());
        let sub = sub.clone().name(name.clone()).display_name(name.clone());
        pages.push((format!("{name}.1"), render(sub)));
    }
    pages
}

fn render(cmd: clap::Command) -> Vec<u8> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .expect("rendering into memory cannot fail");
    out
}
