//! The acceptance tree: 2,000 users × 20 sessions, two locks each in every state the
//! policy knows, plus decoys. `clean` must remove exactly the stale locks. 2,100 of them, so
//! that a run takes its places in batches (of 1,024: issue 21), each with locks that need a
//! second look, and lists them all, in order, once.

use crate::common;

use std::process::Command;

use common::tree::{LiveOwners, generate};
use common::*;

#[test]
fn clean_removes_exactly_the_stale_locks_of_2100_users_in_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let owners = LiveOwners::spawn();
    let tree = tmp.path().join("users");
    let exp = generate(&tree, 2100, 20, &owners.owners);
    assert_eq!(exp.stale.len() + exp.live.len(), 4200);

    let roots = |c: &mut Command| {
        for d in &exp.state_dirs {
            c.arg("--root").arg(d);
        }
    };
    let mut scan = zaki(tmp.path());
    scan.args(["scan", "--no-containers", "--format", "json"]);
    roots(&mut scan);
    let o = run(&mut scan);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = json(&o);
    assert_eq!(r["summary"]["locks"], 4200);
    assert_eq!(r["summary"]["stale"], exp.stale.len());
    assert_eq!(r["summary"]["places"], 2100);
    // Every lock listed once, in order of path, across the batches.
    let paths: Vec<&str> = r["locks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths.len(), 4200);
    assert!(
        paths.windows(2).all(|w| w[0] < w[1]),
        "not in order, or twice"
    );
    let listed_stale = r["locks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["status"] == "stale")
        .count();
    assert_eq!(listed_stale, exp.stale.len());

    let mut clean = zaki(tmp.path());
    clean.args(["clean", "--no-containers", "--format", "json"]);
    roots(&mut clean);
    let o = run(&mut clean);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = json(&o);
    assert_eq!(
        r["summary"]["removed"],
        exp.stale.len(),
        "{:#}",
        r["summary"]
    );
    let removed = r["locks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["action"] == "removed")
        .count();
    assert_eq!(removed, exp.stale.len(), "each removal listed");

    let gone: Vec<_> = exp.live.iter().filter(|p| !p.exists()).collect();
    assert!(gone.is_empty(), "live locks removed: {gone:?}");
    let left: Vec<_> = exp.stale.iter().filter(|p| p.exists()).collect();
    assert!(left.is_empty(), "stale locks left: {left:?}");
    let touched: Vec<_> = exp.decoys.iter().filter(|p| !p.exists()).collect();
    assert!(touched.is_empty(), "decoys removed: {touched:?}");

    // A second run finds nothing to do.
    let o = run(&mut clean);
    assert_eq!(json(&o)["summary"]["removed"], 0);
    drop(owners);
}
