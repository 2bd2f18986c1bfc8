//! The verifier's modules import one another in one direction only. This reads the
//! sources (whole-line comments aside), takes every `crate::<module>` path and, in a
//! submodule, every `super::` path as an import, and fails on a cycle, naming it. It also
//! keeps the two modules that only gather public paths (`entry`, `genesis`) out of the
//! crate's own imports, so that they can never close a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Module name (`audit`, `audit::leaf`) to the modules its file imports.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// The identifier at the start of `s`.
fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The names after every `prefix` in `code`: `prefix name` and `prefix{a, b::c}`.
fn paths_after<'a>(code: &'a str, prefix: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            out.extend(group.split(',').map(|p| ident(p.trim())));
        } else {
            out.push(ident(rest));
        }
    }
    out.retain(|name| !name.is_empty());
    out
}

fn code_of(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: Vec<(String, Option<String>, String)> = Vec::new();
    for entry in fs::read_dir(&src).expect("read src") {
        let path = entry.expect("dir entry").path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            for sub in fs::read_dir(&path).expect("read a submodule directory") {
                let sub = sub.expect("dir entry").path();
                let child = sub.file_stem().unwrap().to_string_lossy().into_owned();
                files.push((
                    format!("{name}::{child}"),
                    Some(name.clone()),
                    code_of(&sub),
                ));
            }
        } else if name != "lib" {
            files.push((name, None, code_of(&path)));
        }
    }
    let top: BTreeSet<String> = files
        .iter()
        .filter(|(_, parent, _)| parent.is_none())
        .map(|(name, _, _)| name.clone())
        .collect();
    let mut graph = Graph::new();
    for (name, parent, code) in &files {
        let mut deps: BTreeSet<String> = paths_after(code, "crate::")
            .into_iter()
            .filter(|m| top.contains(*m))
            .map(String::from)
            .collect();
        if let Some(parent) = parent {
            for item in paths_after(code, "super::") {
                let sibling = format!("{parent}::{item}");
                let is_sibling = files.iter().any(|(n, _, _)| *n == sibling);
                deps.insert(if is_sibling { sibling } else { parent.clone() });
            }
        } else {
            // A parent imports the submodules it declares.
            for (child, of, _) in &files {
                if of.as_deref() == Some(name.as_str()) {
                    deps.insert(child.clone());
                }
            }
        }
        deps.remove(name);
        graph.insert(name.clone(), deps);
    }
    graph
}

/// A cycle through `node`, if the search from it finds one.
fn cycle_from(
    graph: &Graph,
    node: &str,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|n| n == node) {
        let mut cycle = path[at..].to_vec();
        cycle.push(node.to_string());
        return Some(cycle);
    }
    if done.contains(node) {
        return None;
    }
    path.push(node.to_string());
    for dep in graph.get(node).into_iter().flatten() {
        if let Some(cycle) = cycle_from(graph, dep, path, done) {
            return Some(cycle);
        }
    }
    path.pop();
    done.insert(node.to_string());
    None
}

#[test]
fn modules_import_each_other_one_way() {
    let graph = graph();
    assert!(graph.contains_key("entry_codec") && graph.contains_key("audit::leaf"));
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = cycle_from(&graph, node, &mut Vec::new(), &mut done) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn nothing_in_the_crate_imports_the_public_path_modules() {
    for (name, deps) in graph() {
        for gathering in ["entry", "genesis"] {
            assert!(!deps.contains(gathering), "{name} imports {gathering}");
        }
    }
}

#[test]
fn the_graph_reader_sees_a_cycle() {
    let mut graph = Graph::new();
    for (from, to) in [("a", "b"), ("b", "c"), ("c", "a")] {
        graph.entry(from.into()).or_default().insert(to.into());
    }
    let cycle = cycle_from(&graph, "a", &mut Vec::new(), &mut BTreeSet::new());
    assert_eq!(cycle.unwrap(), ["a", "b", "c", "a"]);
    assert_eq!(
        paths_after("use crate::{a::X, b};\nlet x = crate::c::f();", "crate::"),
        ["a", "b", "c"]
    );
}
