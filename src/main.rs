use std::ffi::OsStr;
use std::process::ExitCode;

use clap::Parser;
use zaki_locks::cli::{args::Cli, resolve};
use zaki_locks::commands::app;
use zaki_locks::model::exit_codes;
use zaki_locks::observe::claims::reader;

fn main() -> ExitCode {
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
