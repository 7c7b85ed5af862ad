//! The crate's shape, checked: modules import one way (no cycle), and the module map at the
//! top of `src/lib.rs` and in the README names every module, once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each top-level module and the top-level modules its non-test code names as `crate::x`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut add = |module: &str, text: &str| {
        let deps = graph.entry(module.to_owned()).or_default();
        // Unit tests may build fixtures from anywhere; only the code the program runs counts.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (i, _) in line.match_indices("crate::") {
                let name: String = line[i + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module {
                    deps.insert(name);
                }
            }
        }
    };
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            for sub in std::fs::read_dir(&path).unwrap() {
                let sub = sub.unwrap().path();
                if sub.extension().is_some_and(|e| e == "rs") {
                    add(&name, &std::fs::read_to_string(&sub).unwrap());
                }
            }
        } else if path.extension().is_some_and(|e| e == "rs") && name != "lib" && name != "main" {
            add(&name, &std::fs::read_to_string(&path).unwrap());
        }
    }
    graph
}

/// A cycle through `start`, if there is one (depth-first, shortest found first by BFS order).
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
    let graph = imports();
    assert!(graph.len() > 20, "modules found: {graph:?}");
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

#[test]
fn imports_point_down_the_module_map() {
    let graph = imports();
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    // The map's order: each module's first `[`name`]` in lib.rs's doc comment.
    let order: Vec<String> = lib
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .filter_map(|l| l.split("[`").nth(1)?.split('`').next().map(str::to_owned))
        .collect();
    let at = |m: &str| order.iter().position(|o| o == m);
    let mut up = Vec::new();
    for (module, deps) in &graph {
        for dep in deps {
            if let (Some(i), Some(j)) = (at(module), at(dep))
                && j <= i
            {
                up.push(format!("{module} → {dep}"));
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
fn the_module_maps_name_every_module() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let modules: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.trim().strip_suffix(';'))
        .filter_map(|l| {
            l.strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("mod "))
        })
        .collect();
    assert!(modules.len() > 20, "{modules:?}");
    for m in &modules {
        let entry = format!("[`{m}`]");
        assert_eq!(
            lib.matches(&entry).count(),
            1,
            "src/lib.rs's map names `{m}` once"
        );
        let line = format!("- `src/{m}");
        assert!(
            readme.contains(&line),
            "the README's Layout has a line for `{m}` ({line})"
        );
    }
}
