//! What the operator reads says what the tool does: `--help` and the man pages (rendered by
//! `man`, as the operator reads them) state the holder rule that keeps held locks, and name
//! every status, reason, JSON field and metric a real run prints.
//!
//! Needs man-db (scripts/test.sh installs it).

use crate::common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Proc, stderr, stdout};
use serde_json::Value;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A committed man page as `man -l` shows it, overstrike removed, on one line per paragraph
/// word run (whitespace collapsed, hyphenation at line ends undone).
fn man(page: &str) -> String {
    let o = Command::new("man")
        .arg("-l")
        .arg(repo().join("man").join(page))
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env_remove("MAN_KEEP_FORMATTING")
        .output()
        .expect("man is installed (scripts/test.sh installs man-db)");
    assert!(o.status.success(), "man -l {page}: {}", stderr(&o));
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

/// Words joined by single spaces, with `man`'s end-of-line hyphenation (U+2010) undone.
fn flat(text: &str) -> String {
    text.replace("\u{2010}\n", "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A tagged item of a rendered page: the tag alone on its line, or the tag followed by its
/// text on the same line, at the 7-column indent.
fn has_item(page: &str, tag: &str) -> bool {
    page.lines().any(|l| {
        l.strip_prefix("       ")
            .is_some_and(|r| r == tag || r.starts_with(&format!("{tag} ")))
    })
}

/// The owner's starttime (field 22 of `/proc/<pid>/stat`), as OpenClaw 2026.3+ writes it.
fn starttime(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.split(' ').nth(19).unwrap().parse().unwrap()
}

fn created_ago(seconds: i64) -> String {
    (chrono::Utc::now() - chrono::TimeDelta::seconds(seconds))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Two locks held open by their live owners, a minute old, and one whose owner has exited.
fn tree(tmp: &Path) -> (PathBuf, Vec<Proc>) {
    let root = tmp.join(".openclaw");
    let sessions = root.join("agents/main/sessions");
    fs::create_dir_all(&sessions).unwrap();
    let mut held = Vec::new();
    for name in ["held-1", "held-2"] {
        let lock = sessions.join(format!("{name}.jsonl.lock"));
        let p = Proc::holding(&lock);
        let payload = format!(
            "{{\n  \"pid\": {},\n  \"createdAt\": \"{}\",\n  \"starttime\": {}\n}}",
            p.pid(),
            created_ago(60),
            starttime(p.pid())
        );
        fs::write(&lock, payload).unwrap();
        held.push(p);
    }
    let mut gone = Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    fs::write(
        sessions.join("dead.jsonl.lock"),
        format!(
            "{{\"pid\": {dead}, \"createdAt\": \"{}\"}}",
            created_ago(60)
        ),
    )
    .unwrap();
    (root, held)
}

/// The issue's case: `--older-than 5s --allow-short-threshold` keeps every held lock (wedged,
/// not removed), and `--help`, `-h` and every man page now say so instead of "stale whoever
/// holds it" and "removes locks in use".
#[test]
fn a_short_threshold_keeps_held_locks_and_the_docs_say_so() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _held) = tree(tmp.path());
    let o = common::run(
        common::zaki(tmp.path())
            .args([
                "clean",
                "--dry-run",
                "--older-than",
                "5s",
                "--allow-short-threshold",
                "--no-containers",
                "--format",
                "json",
                "--root",
            ])
            .arg(&root),
    );
    let report = common::json(&o);
    let locks = common::by_name(&report);
    for name in ["held-1.jsonl.lock", "held-2.jsonl.lock"] {
        let l = &locks[name];
        assert_eq!(l["status"], "wedged", "{l}");
        assert_eq!(l["action"], "kept", "{l}");
        assert_eq!(l["held_open"], true, "{l}");
    }
    assert_eq!(locks["dead.jsonl.lock"]["action"], "would-remove");

    let said = [
        "A lock some process holds open is never removed, whatever its age",
        "Held locks are still never removed",
    ];
    let wrong = ["stale whoever holds it", "removes locks in use"];
    for cmd in ["scan", "clean", "watch", "probe"] {
        let help = stdout(&common::run(common::zaki(tmp.path()).args([cmd, "--help"])));
        let page = flat(&man(&format!("zaki-locks-{cmd}.1")));
        for (what, text) in [("--help", flat(&help)), ("man page", page)] {
            for s in said {
                assert!(text.contains(s), "{cmd} {what} lacks {s:?}:\n{text}");
            }
            for w in wrong {
                assert!(!text.contains(w), "{cmd} {what} still says {w:?}");
            }
        }
        let short = flat(&stdout(&common::run(
            common::zaki(tmp.path()).args([cmd, "-h"]),
        )));
        assert!(
            short.contains("past which a lock nobody holds open is too-old"),
            "{cmd} -h:\n{short}"
        );
    }
    let main = man("zaki-locks.1");
    assert!(main.lines().any(|l| l == "STALENESS"), "{main}");
    assert!(flat(&main).contains("STALENESS The holder rule comes first: a lock that some process holds open is never removed, whatever its age"));
    assert!(flat(&main).contains("--allow-short-threshold still keeps every held lock"));
}

/// Every status, reason and owner state a real run reports, and every JSON field it prints
/// (and the nested objects' fields), is an item of `man zaki-locks`; so is every metric family
/// `scan --format prometheus` writes, with the `wedged_locks`, `holders_unseen_locks`,
/// `places`, `orphan_claims` and `running_turns` the page used to lack.
#[test]
fn the_man_page_names_everything_a_run_prints() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _held) = tree(tmp.path());
    let main = man("zaki-locks.1");
    let scan = |extra: &[&str]| {
        let mut c = common::zaki(tmp.path());
        c.args(["scan", "--no-containers", "--older-than", "5s"])
            .args(["--allow-short-threshold", "--root"])
            .arg(&root)
            .args(extra);
        common::run(c)
    };
    let report: Value = common::json(&scan(&["--format", "json"]));
    let mut words = BTreeSet::new();
    for l in report["locks"].as_array().unwrap() {
        words.insert(l["status"].as_str().unwrap().to_owned());
        words.insert(l["owner_state"].as_str().unwrap().to_owned());
        for r in l["reasons"].as_array().unwrap() {
            words.insert(r.as_str().unwrap().to_owned());
        }
    }
    assert!(
        words.contains("wedged") && words.contains("dead-pid"),
        "{words:?}"
    );
    for w in ["held", "stale", "unjudged", "no-holder", "leaked", "wedged"] {
        words.insert(w.to_owned());
    }
    for w in &words {
        assert!(
            has_item(&main, w),
            "man zaki-locks has no item {w}:\n{main}"
        );
    }
    let mut fields = BTreeSet::new();
    for (k, v) in report.as_object().unwrap() {
        fields.insert(k.clone());
        let (inner, sep) = match v {
            Value::Array(a) => (a.first(), "[]."),
            o @ Value::Object(_) => (Some(o), "."),
            _ => (None, ""),
        };
        if let Some(Value::Object(o)) = inner {
            fields.extend(o.keys().map(|f| format!("{k}{sep}{f}")));
        }
    }
    for f in [
        "locks[].status",
        "locks[].held_open",
        "locks[].holders",
        "locks[].visibility",
        "locks[].wedged",
        "places",
    ] {
        assert!(fields.contains(f), "a real report has no {f}: {fields:?}");
    }
    for f in &fields {
        assert!(has_item(&main, f), "man zaki-locks has no JSON field {f}");
    }
    let metrics = stdout(&scan(&["--format", "prometheus", "--held-over", "1m"]));
    let families: BTreeSet<&str> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    for f in [
        "zaki_locks_wedged_locks",
        "zaki_locks_holders_unseen_locks",
        "zaki_locks_places",
        "zaki_locks_orphan_claims",
        "zaki_locks_running_turns",
    ] {
        assert!(families.contains(f), "scan wrote no {f}");
    }
    let items = flat(&main);
    for f in &families {
        assert!(items.contains(f), "man zaki-locks has no metric {f}");
    }
}

fn read(path: &str) -> String {
    fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The `## ` headings of a markdown file, as GitHub makes their anchors.
fn anchors(markdown: &str) -> BTreeSet<String> {
    markdown
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|h| h.trim_start_matches('#').trim().to_lowercase())
        .map(|h| {
            h.chars()
                .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect()
}

/// Every relative link `[text](target)` of a markdown file, as (file, anchor).
fn links(markdown: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = markdown;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        let target = &rest[..rest.find(')').unwrap()];
        if target.contains("://") {
            continue;
        }
        let (file, anchor) = match target.split_once('#') {
            Some((f, a)) => (f.to_owned(), Some(a.to_owned())),
            None => (target.to_owned(), None),
        };
        out.push((file, anchor));
    }
    out
}

/// The README is an operator's guide: short, the expected layout near the top, a row for every
/// status the judge has (from the man page, which prints the code's list), the alerts, a short
/// threat model; the reference moved to docs/, and every link from the README and docs/ lands
/// on a file and a heading that exist.
#[test]
fn the_readme_is_a_guide_and_its_links_land() {
    let readme = read("README.md");
    let lines = readme.lines().count();
    assert!(
        lines <= 350,
        "README.md has {lines} lines: move reference material to docs/"
    );
    let at = |h: &str| {
        readme
            .find(&format!("\n## {h}"))
            .unwrap_or_else(|| panic!("README has no section {h}"))
    };
    assert!(at("The layout it expects") < at("Install"));
    assert!(at("Install") < at("On a new machine"));
    assert!(at("On a new machine") < at("What each status means"));
    for s in [
        "`user-<id>`",
        "`zaki-user-<id>`",
        "/var/zaki-platform/users/user-<id>/.openclaw",
    ] {
        assert!(readme[..at("Install")].contains(s), "layout: no {s}");
    }

    // The STATUS section's items, as the code lists them (the page is generated from it).
    let roff = String::from_utf8(zaki_locks::cli::docs::man_page(None).unwrap()).unwrap();
    let statuses = &roff[roff.find(".SH STATUS").unwrap()..roff.find(".SH REASONS").unwrap()];
    let names: Vec<&str> = statuses
        .lines()
        .filter_map(|l| l.strip_prefix("\\fB")?.strip_suffix("\\fR"))
        .collect();
    assert_eq!(
        names,
        ["held", "wedged", "unheld", "stale", "unjudged"],
        "{statuses}"
    );
    for n in names {
        assert!(
            readme.contains(&format!("| `{n}` |")),
            "README: no row for status {n}"
        );
    }
    for r in ["no-holder", "leaked", "wedged", "dead-pid", "too-old"] {
        assert!(readme.contains(&format!("`{r}`")), "README: no reason {r}");
    }

    let threat = &readme[at("Threat model") + 1..];
    let threat = &threat[..threat.find("\n## ").unwrap()];
    let body = threat.lines().skip(1).filter(|l| !l.is_empty()).count();
    assert!(
        (3..=8).contains(&body),
        "Threat model: {body} lines:\n{threat}"
    );
    assert!(threat.contains("(docs/safety.md"), "{threat}");
    assert!(readme.contains("(contrib/prometheus/zaki-locks.rules.yml)"));
    assert!(
        readme.contains("\nscripts/test.sh\n"),
        "the test command .ci/run refers to"
    );

    for file in [
        "README.md",
        "docs/reference.md",
        "docs/safety.md",
        "docs/benchmarks.md",
        "docs/contributing.md",
    ] {
        let text = read(file);
        let dir = Path::new(file).parent().unwrap();
        for (target, anchor) in links(&text) {
            let path = if target.is_empty() {
                PathBuf::from(file)
            } else {
                dir.join(&target)
            };
            let full = repo().join(&path);
            assert!(
                full.exists(),
                "{file}: link to {} that does not exist",
                path.display()
            );
            if let Some(a) = anchor {
                let heads = anchors(&fs::read_to_string(&full).unwrap());
                assert!(
                    heads.contains(&a),
                    "{file}: no heading #{a} in {}: {heads:?}",
                    path.display()
                );
            }
        }
    }
    // The detail moved, not lost.
    assert!(read("docs/safety.md").contains("## Threat model: hostile tenants"));
    assert!(read("docs/reference.md").contains("## JSON schema (`--format json`)"));
    assert!(read("docs/benchmarks.md").contains("cargo bench --bench scan"));
}

/// Every path to the binary in the README, docs/ and the units is the one the package installs
/// (/usr/bin/zaki-locks), the README's install line puts it there too, and no stale count of
/// tests is left in the docs.
#[test]
fn the_docs_name_the_binary_where_the_package_puts_it() {
    let cargo = read("Cargo.toml");
    assert!(cargo.contains(r#"["target/release/zaki-locks", "usr/bin/", "755"]"#));
    let mut texts: Vec<(String, String)> = [
        "README.md",
        "docs/reference.md",
        "docs/safety.md",
        "docs/contributing.md",
        "docs/benchmarks.md",
    ]
    .iter()
    .map(|f| (f.to_string(), read(f)))
    .collect();
    for unit in fs::read_dir(repo().join("scripts/systemd")).unwrap() {
        let p = unit.unwrap().path();
        texts.push((p.display().to_string(), fs::read_to_string(&p).unwrap()));
    }
    let mut seen = 0;
    for (file, text) in &texts {
        let mut from = 0;
        while let Some(i) = text[from..].find("bin/zaki-locks") {
            let end = from + i + "bin/zaki-locks".len();
            let start = text[..end]
                .rfind(|c: char| c.is_whitespace() || "`'\"(=".contains(c))
                .map_or(0, |s| s + 1);
            assert_eq!(&text[start..end], "/usr/bin/zaki-locks", "{file}");
            seen += 1;
            from = end;
        }
        for w in text.split_whitespace().collect::<Vec<_>>().windows(2) {
            assert!(
                !(w[0].trim_start_matches('(').parse::<u32>().is_ok()
                    && w[1].starts_with("tests)")),
                "{file}: a count of tests, stale as soon as one is added: {w:?}"
            );
        }
    }
    assert!(seen >= 6, "{seen}");
    let readme = read("README.md");
    let install = readme
        .lines()
        .find(|l| l.starts_with("install -Dm755 target/release/zaki-locks"))
        .unwrap();
    assert!(install.ends_with(" -t /usr/bin/"), "{install}");
}
