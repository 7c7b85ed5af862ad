use std::ffi::OsStr;
use std::process::ExitCode;

use clap::Parser;
use zaki_locks::cli::{args::Cli, resolve};
use zaki_locks::commands::app;
use zaki_locks::model::exit_codes;
use zaki_locks::observe::claims::reader;

fn main() -> ExitCode {
    one_malloc_arena();
    // The confined SQLite reader that scan, clean, watch and probe start (issue 19): not a
    // command for people, so not in clap's help, completions or man pages.
    if std::env::args_os().nth(1).as_deref() == Some(OsStr::new(reader::SUBCOMMAND)) {
        return match reader::serve() {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        };
    }
    let cli = Cli::parse();
    if let Err(e) = cli.validate() {
        e.exit();
    }
    // Panics still get color-eyre's report; ordinary errors are printed as one line below.
    let _ = color_eyre::install();
    let config = resolve::resolve(cli, &resolve::Env::read());
    match app::run(config) {
        Ok(code) => code,
        Err(e) => {
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            // Errors may quote tenant text (a path, a name): one escaped line.
            eprintln!(
                "zaki-locks: error: {}",
                zaki_locks::model::escape::text(&chain.join(": "))
            );
            exit_codes::Exit::Partial.into()
        }
    }
}

/// One malloc arena for the whole process. The walk's threads (issue 21) each got an arena of
/// their own from glibc, whose fragments stay until the run ends: 87 MB more at 50,000 users
/// (524 MB with one, 612 MB with two). Two threads contend little for one arena.
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tunable of glibc's allocator, before any thread starts.
    unsafe {
        nix::libc::mallopt(nix::libc::M_ARENA_MAX, 1);
    }
}
