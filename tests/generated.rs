//! The committed man pages and completions are exactly what the clap definitions generate.
//! After changing the CLI, refresh them with: ZAKI_BLESS=1 cargo test --test generated

mod common;

use std::fs;
use std::path::Path;

use zaki_locks::docs;

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
        "stale generated files {stale:?}: run `ZAKI_BLESS=1 cargo test --test generated` and commit them"
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
