//! The crate's shape, checked from the folders themselves: `src/<folder>/` are the stages, in
//! the order of the map at the top of `src/lib.rs` (and the Source layout in docs/contributing.md); each folder's code
//! names only folders listed below it (`crate::<folder>`), modules import in no circle, and the
//! judge and the model do no I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The folders under `src/` that hold Rust modules (`scripts/` holds the exec scripts).
fn folders() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(src())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && p.join("mod.rs").is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// The map's order: the `- [`name`]` lines of lib.rs's doc comment, top first.
fn map_order() -> Vec<String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    lib.lines()
        .take_while(|l| l.starts_with("//!"))
        .filter_map(|l| l.strip_prefix("//! - [`"))
        .filter_map(|l| l.split('`').next().map(str::to_owned))
        .collect()
}

/// Every `.rs` file below `dir`, with its code that the program runs (unit tests cut off, and
/// comment lines dropped).
fn code_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(code_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            // Unit tests may build fixtures from anywhere; only the code the program runs counts.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let code: Vec<&str> = code
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect();
            out.push((path, code.join("\n")));
        }
    }
    out
}

/// The `crate::a::b` paths a text names, as (a, b) (b empty for `crate::a` alone).
fn crate_paths(code: &str) -> BTreeSet<(String, String)> {
    let word = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    code.match_indices("crate::")
        .map(|(i, _)| {
            let a = word(&code[i + 7..]);
            let rest = &code[i + 7 + a.len()..];
            let b = rest.strip_prefix("::").map(word).unwrap_or_default();
            (a, b)
        })
        .collect()
}

#[test]
fn the_map_lists_every_folder_once_and_the_contributing_guide_too() {
    let folders = folders();
    assert!(folders.len() >= 8, "{folders:?}");
    let order = map_order();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(
        sorted, folders,
        "src/lib.rs's map lists each folder of src/ once"
    );
    let layout = std::fs::read_to_string(src().join("../docs/contributing.md")).unwrap();
    for f in &folders {
        let line = format!("- `src/{f}/`");
        assert!(
            layout.contains(&line),
            "docs/contributing.md's Source layout has `{line}`"
        );
    }
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    for f in &folders {
        assert!(
            lib.lines().any(|l| l.ends_with(&format!("mod {f};"))),
            "lib.rs declares `{f}`"
        );
    }
}

#[test]
fn folders_import_only_folders_below_them() {
    let order = map_order();
    let at = |f: &str| order.iter().position(|o| o == f);
    let mut up = Vec::new();
    for folder in folders() {
        let me = at(&folder).unwrap();
        for (path, code) in code_files(&src().join(&folder)) {
            for (dep, _) in crate_paths(&code) {
                if let Some(j) = at(&dep)
                    && j < me
                {
                    let file = path.strip_prefix(src()).unwrap().display().to_string();
                    up.push(format!("{file}: {folder} → {dep}"));
                }
            }
        }
    }
    assert!(
        up.is_empty(),
        "imports pointing up the map in src/lib.rs:\n{}",
        up.join("\n")
    );
}

#[test]
fn the_judge_and_the_model_do_no_io() {
    // What a pure module has no business naming.
    const IO: [&str; 14] = [
        "std::fs",
        "std::net",
        "Command::new",
        "std::env",
        "std::io::Read",
        "File::",
        "nix::",
        "libc",
        "tokio",
        "rusqlite",
        "bollard",
        "hyper",
        "Utc::now",
        "SystemTime::now",
    ];
    let allowed = |folder: &str| -> &'static [&'static str] {
        match folder {
            "judge" => &["judge", "model"],
            _ => &["model"],
        }
    };
    let mut bad = Vec::new();
    for folder in ["judge", "model"] {
        for (path, code) in code_files(&src().join(folder)) {
            let file = path.strip_prefix(src()).unwrap().display().to_string();
            for word in IO {
                // Whole words only (`unix::` is not `nix::`).
                let named = code.match_indices(word).any(|(i, _)| {
                    !code[..i]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                });
                if named {
                    bad.push(format!("{file} names `{word}`"));
                }
            }
            for (dep, _) in crate_paths(&code) {
                if !allowed(folder).contains(&dep.as_str()) {
                    bad.push(format!("{file} imports crate::{dep}"));
                }
            }
        }
    }
    assert!(bad.is_empty(), "I/O in a pure folder:\n{}", bad.join("\n"));
}

/// Each module (a file, named by its path under `src/`) and the modules its code names.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for folder in folders() {
        for (path, code) in code_files(&src().join(&folder)) {
            let rel = path.strip_prefix(src().join(&folder)).unwrap();
            let module = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned();
            let me = format!("{folder}::{module}");
            let deps = graph.entry(me.clone()).or_default();
            for (a, b) in crate_paths(&code) {
                let dep = format!("{a}::{b}");
                if !b.is_empty() && dep != me && !b.chars().next().unwrap().is_uppercase() {
                    deps.insert(dep);
                }
            }
        }
    }
    graph
}

/// A cycle through `start`, if there is one (breadth first: the shortest).
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut queue = std::collections::VecDeque::from([vec![start.to_owned()]]);
    let mut seen = BTreeSet::new();
    while let Some(path) = queue.pop_front() {
        let last = path.last().unwrap();
        for next in graph.get(last).into_iter().flatten() {
            if next == start {
                let mut c = path.clone();
                c.push(next.clone());
                return Some(c);
            }
            if seen.insert(next.clone()) {
                let mut p = path.clone();
                p.push(next.clone());
                queue.push_back(p);
            }
        }
    }
    None
}

#[test]
fn no_module_imports_in_a_circle() {
    let graph = module_graph();
    assert!(graph.len() > 30, "modules found: {graph:?}");
    let cycles: BTreeSet<String> = graph
        .keys()
        .filter_map(|m| cycle(&graph, m))
        .map(|c| c.join(" → "))
        .collect();
    assert!(
        cycles.is_empty(),
        "import cycles:\n{}",
        cycles.into_iter().collect::<Vec<_>>().join("\n")
    );
}
