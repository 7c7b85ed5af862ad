//! The acceptance tree: 2,000 users × 20 sessions, two locks each in every state the
//! policy knows, plus decoys. `clean` must remove exactly the stale locks.

use crate::common;

use std::process::Command;

use common::tree::{LiveOwners, generate};
use common::*;

#[test]
fn clean_removes_exactly_the_stale_locks_of_2000_users() {
    let tmp = tempfile::tempdir().unwrap();
    let owners = LiveOwners::spawn();
    let tree = tmp.path().join("users");
    let exp = generate(&tree, 2000, 20, &owners.owners);
    assert_eq!(exp.stale.len() + exp.live.len(), 4000);

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
    assert_eq!(r["summary"]["locks"], 4000);
    assert_eq!(r["summary"]["stale"], exp.stale.len());
    assert_eq!(r["summary"]["places"], 2000);

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
