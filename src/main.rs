use std::process::ExitCode;

use clap::Parser;
use zaki_locks::cli::{args::Cli, resolve};
use zaki_locks::commands::app;
use zaki_locks::model::exit_codes;

fn main() -> ExitCode {
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
