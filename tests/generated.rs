//! The committed man pages and completions are exactly what the clap definitions generate.
//! After changing the CLI, refresh them with: ZAKI_BLESS=1 cargo test --release --test suite generated::

use crate::common;

use std::fs;
use std::path::Path;

use zaki_locks::cli::docs;

fn check(path: &Path, want: &[u8], stale: &mut Vec<String>) {
    if std::env::var_os("ZAKI_BLESS").is_some() {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, want).unwrap();
        return;
    }
    match fs::read(path) {
        Ok(have) if have == want => {}
        _ => stale.push(path.display().to_string()),
    }
}

#[test]
fn man_pages_and_completions_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stale = Vec::new();
    for (name, body) in docs::man_pages() {
        check(&root.join("man").join(name), &body, &mut stale);
    }
    for (shell, file) in docs::COMPLETION_FILES {
        check(
            &root.join("completions").join(file),
            &docs::completion(shell),
            &mut stale,
        );
    }
    assert!(
        stale.is_empty(),
        "stale generated files {stale:?}: run `ZAKI_BLESS=1 cargo test --release --test suite generated::` and commit them"
    );
}

#[test]
fn the_binary_prints_the_same_completions_and_man_page() {
    let tmp = tempfile::tempdir().unwrap();
    for (shell, _) in docs::COMPLETION_FILES {
        let o = common::run(common::zaki(tmp.path()).args(["completions", &shell.to_string()]));
        assert_eq!(o.status.code(), Some(0));
        assert_eq!(o.stdout, docs::completion(shell), "{shell}");
    }
    let o = common::run(common::zaki(tmp.path()).args(["man"]));
    assert_eq!(o.stdout, docs::man_pages()[0].1);
    assert!(String::from_utf8_lossy(&o.stdout).contains("EXIT STATUS"));
    // A page that does not exist is a usage error, with the pages that do.
    let o = common::run(common::zaki(tmp.path()).args(["man", "nope"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(common::stderr(&o).contains("possible values: scan, clean"));
}

fn readme() -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

/// The lines of the README's ``` blocks, in order.
fn readme_code_lines() -> Vec<String> {
    let mut inside = false;
    let mut out = Vec::new();
    for l in readme().lines() {
        if l.starts_with("```") {
            inside = !inside;
        } else if inside {
            out.push(l.to_owned());
        }
    }
    out
}

/// The first commands a new operator copies look before they remove: `scan`, then
/// `clean --dry-run`, then `clean`.
#[test]
fn the_readme_leads_with_scan_then_a_dry_run() {
    let runs: Vec<String> = readme_code_lines()
        .into_iter()
        .filter_map(|l| {
            let l = l.trim_start_matches("$ ").to_owned();
            let at = l.find("zaki-locks ")?;
            let words: Vec<&str> = l[at + "zaki-locks ".len()..].split_whitespace().collect();
            matches!(words.first(), Some(&"scan" | &"clean")).then(|| words.join(" "))
        })
        .collect();
    assert!(runs[0].starts_with("scan"), "first command: {runs:?}");
    let first_clean = runs.iter().position(|r| r.starts_with("clean")).unwrap();
    assert!(
        runs[first_clean].contains("--dry-run"),
        "the first clean is not a dry run: {runs:?}"
    );
    // The section for a new machine, in that order.
    let text = readme();
    let section = &text[text.find("## On a new machine").unwrap()..];
    let section = &section[..section[3..].find("\n## ").unwrap()];
    let (a, b, c) = (
        section.find("zaki-locks scan").unwrap(),
        section.find("zaki-locks clean --dry-run").unwrap(),
        section.find("zaki-locks clean    ").unwrap(),
    );
    assert!(a < b && b < c, "{section}");
}

/// The binary goes where the package puts it (/usr/bin, where the units and the cron line run
/// it), and the man pages and completions under the same prefix.
#[test]
fn the_readme_installs_everything_under_one_prefix() {
    let lines = readme_code_lines();
    let install = lines
        .iter()
        .position(|l| l.starts_with("install -Dm755 target/release/zaki-locks"))
        .expect("an install line for the binary");
    let bin = lines[install].split_whitespace().last().unwrap();
    assert_eq!(bin, "/usr/bin/", "{}", lines[install]);
    let root = bin.trim_end_matches('/').trim_end_matches("/bin");
    let dests: Vec<&String> = lines[install + 1..]
        .iter()
        .take_while(|l| l.starts_with("install "))
        .collect();
    assert_eq!(dests.len(), 4, "{dests:?}");
    for l in dests {
        let dest = l.split_whitespace().last().unwrap();
        assert!(
            dest.starts_with(&format!("{root}/share/")),
            "{dest} is not under {root}: {l}"
        );
    }
}
