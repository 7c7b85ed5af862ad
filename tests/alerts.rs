//! The Prometheus alerting rules shipped in `contrib/prometheus/` (installed by the package in
//! /usr/share/zaki-locks/prometheus/): `promtool check rules` accepts them, their unit tests
//! pass under `promtool test rules`, they use only metrics the tool writes, and the metrics a
//! real run writes fire them.
//!
//! Needs promtool (Debian package `prometheus`; scripts/test.sh installs it). Without it this
//! fails: it never skips.

use crate::common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Proc, stderr, stdout};

fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/prometheus")
}

fn rules() -> PathBuf {
    rules_dir().join("zaki-locks.rules.yml")
}

fn promtool(args: &[&str], dir: &Path) -> Output {
    let o = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "promtool cannot run ({e}): install it with `apt-get install -y prometheus` \
                 (scripts/test.sh does)"
            )
        });
    assert!(
        o.status.success(),
        "promtool {args:?} failed:\n{}{}",
        stdout(&o),
        stderr(&o)
    );
    o
}

/// Every `zaki_locks_…` name in a text.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("zaki_locks_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        out.insert(name);
    }
    out
}

#[test]
fn promtool_checks_the_rules_and_their_unit_tests_pass() {
    let o = promtool(&["check", "rules", "zaki-locks.rules.yml"], &rules_dir());
    assert!(
        stdout(&o).contains("SUCCESS: 10 rules found"),
        "{}",
        stdout(&o)
    );
    let o = promtool(
        &["test", "rules", "zaki-locks.rules.test.yml"],
        &rules_dir(),
    );
    assert!(stdout(&o).contains("SUCCESS"), "{}", stdout(&o));
}

/// The rules name only metric families the tool writes (the man page's METRICS list, which
/// is the code's own list), and cover what the operator must hear about.
#[test]
fn the_rules_use_only_metrics_the_tool_writes() {
    let text = fs::read_to_string(rules()).unwrap();
    let exprs: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter(|l| !l.contains("summary:") && !l.contains("description:"))
        .collect::<Vec<_>>()
        .join("\n");
    let used = metric_names(&exprs);
    let page = String::from_utf8(zaki_locks::cli::docs::man_page(None).unwrap()).unwrap();
    let metrics = &page[page.find(".SH METRICS").unwrap()..];
    let metrics = &metrics[..metrics[4..].find(".SH ").unwrap()];
    let written = metric_names(metrics);
    assert!(written.len() >= 20, "{written:?}");
    for m in &used {
        assert!(
            written.contains(m),
            "the rules use {m}, which zaki-locks does not write"
        );
    }
    for m in [
        "zaki_locks_stale_locks",
        "zaki_locks_removed_locks",
        "zaki_locks_wedged_locks",
        "zaki_locks_orphan_claims",
        "zaki_locks_holders_unseen_locks",
        "zaki_locks_docker_up",
        "zaki_locks_last_success_timestamp_seconds",
        "zaki_locks_stepped_aside",
        "zaki_locks_held_over_locks",
        "zaki_locks_probe_success",
        "zaki_locks_probe_verdict",
    ] {
        assert!(used.contains(m), "no rule uses {m}");
    }
}

/// One PromQL series per sample of a metrics text, with the labels node_exporter's scrape
/// adds, as promtool's `input_series`.
fn input_series(metrics: &str, minutes: usize) -> String {
    let mut out = String::new();
    for l in metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = l.rsplit_once(' ').unwrap();
        let series = match series.split_once('{') {
            Some((name, labels)) => format!("{name}{{instance=\"h1\",job=\"node\",{labels}"),
            None => format!("{series}{{instance=\"h1\",job=\"node\"}}"),
        };
        out.push_str(&format!(
            "      - series: '{}'\n        values: '{value}x{minutes}'\n",
            series.replace('\'', "''")
        ));
    }
    out
}

/// A real `scan --held-over 1m --format prometheus` of a wedged lock (held open by its live
/// owner past its maxHoldMs, as OpenClaw 2026.5.28+ writes it) and a dead owner's lock, kept
/// for 20 minutes, fires the wedged, stale and held-over alerts and no Docker one.
#[test]
fn a_real_runs_metrics_fire_the_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let sessions = tmp.path().join(".openclaw/agents/main/sessions");
    fs::create_dir_all(&sessions).unwrap();
    let created = |ago: i64| {
        (chrono::Utc::now() - chrono::TimeDelta::seconds(ago))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let lock = sessions.join("wedged.jsonl.lock");
    let holder = Proc::holding(&lock);
    let stat = fs::read_to_string(format!("/proc/{}/stat", holder.pid())).unwrap();
    let starttime = stat[stat.rfind(')').unwrap() + 2..]
        .split(' ')
        .nth(19)
        .unwrap();
    fs::write(
        &lock,
        format!(
            "{{\"pid\":{},\"createdAt\":\"{}\",\"starttime\":{starttime},\"maxHoldMs\":1000}}\n",
            holder.pid(),
            created(120)
        ),
    )
    .unwrap();
    let mut gone = Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    fs::write(
        sessions.join("dead.jsonl.lock"),
        format!("{{\"pid\":{dead},\"createdAt\":\"{}\"}}", created(60)),
    )
    .unwrap();
    let o = common::run(
        common::zaki(tmp.path())
            .args(["scan", "--no-containers", "--held-over", "1m"])
            .args(["--format", "prometheus", "--root"])
            .arg(tmp.path().join(".openclaw")),
    );
    let metrics = stdout(&o);
    assert!(
        metrics.contains("zaki_locks_wedged_locks{command=\"scan\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("zaki_locks_stale_locks{command=\"scan\"} 1"),
        "{metrics}"
    );

    let firing = |alert: &str, severity: &str| {
        format!(
            "          - labels: 'ALERTS{{alertname=\"{alert}\",alertstate=\"firing\",command=\"scan\",instance=\"h1\",job=\"node\",severity=\"{severity}\"}}'\n            value: 1\n"
        )
    };
    let test = format!(
        "rule_files:\n  - {rules}\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{series}    promql_expr_test:\n      - expr: 'ALERTS{{alertstate=\"firing\"}}'\n        eval_time: 20m\n        exp_samples:\n{a}{b}{c}",
        rules = rules().display(),
        series = input_series(&metrics, 30),
        a = firing("ZakiLocksHeldOver", "warning"),
        b = firing("ZakiLocksStaleLocksNotGoingAway", "warning"),
        c = firing("ZakiLocksWedged", "critical"),
    );
    let file = tmp.path().join("real.test.yml");
    fs::write(&file, &test).unwrap();
    let o = promtool(&["test", "rules", file.to_str().unwrap()], tmp.path());
    assert!(stdout(&o).contains("SUCCESS"), "{}\n{test}", stdout(&o));
}

/// The README's table of alerts and the shipped rules name the same alerts, and the README
/// links the rules file.
#[test]
fn the_readme_lists_every_shipped_alert() {
    let rules: BTreeSet<String> = fs::read_to_string(rules())
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .map(str::to_owned)
        .collect();
    assert_eq!(rules.len(), 10, "{rules:?}");
    let readme = fs::read_to_string(rules_dir().join("../../README.md")).unwrap();
    let listed: BTreeSet<String> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("| `ZakiLocks"))
        .filter_map(|l| l.split_once('`'))
        .map(|(name, _)| format!("ZakiLocks{name}"))
        .collect();
    assert_eq!(listed, rules, "README's alerts vs zaki-locks.rules.yml");
    assert!(readme.contains("/usr/share/zaki-locks/prometheus/zaki-locks.rules.yml"));
}
