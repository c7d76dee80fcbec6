//! The shape of `api/src`: the layer rule written at the top of
//! `api/src/lib.rs` holds (every import points down the list), no files
//! import each other in a circle, and no function is too long to read at once.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use crate::helpers::rust_source::{SourceFile, functions, read_tree, references, target_file};

/// Longest function body allowed, in lines.
const MAX_FUNCTION_LINES: usize = 100;

/// The layers as `api/src/lib.rs` lists them, top first: its doc lines of
/// the form ``//! `name`, `name` — description``.
fn layers_of(lib_rs: &str) -> Vec<Vec<String>> {
    lib_rs
        .lines()
        .filter_map(|l| l.strip_prefix("//! `"))
        .filter_map(|l| l.split_once(" — "))
        .map(|(names, _)| {
            names
                .split(',')
                .map(|n| n.trim().trim_matches('`').to_owned())
                .filter(|n| !n.is_empty())
                .collect()
        })
        .collect()
}

/// Everything wrong with the tree at `src`: upward imports, circles, long functions.
fn problems(src: &Path) -> Vec<String> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let layers = layers_of(&lib);
    let mut out = Vec::new();
    if layers.is_empty() {
        return vec!["lib.rs lists no layers (doc lines such as ``//! `db`, `auth` — leaves``)".into()];
    }
    let layer_of: BTreeMap<String, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, names)| names.iter().map(move |n| (n.clone(), i)))
        .collect();
    let files = read_tree(src);
    let modules: BTreeMap<Vec<String>, String> = files.iter().map(|f| (f.module.clone(), f.path.clone())).collect();
    for f in files.iter().filter(|f| !f.module.is_empty()) {
        if !layer_of.contains_key(&f.module[0]) {
            out.push(format!("{}: module `{}` is in no layer of lib.rs", f.path, f.module[0]));
        }
    }
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for f in files.iter().filter(|f| !f.module.is_empty()) {
        out.extend(upward_imports(f, &layer_of, &layers));
        let edges = graph.entry(&f.path).or_default();
        for r in references(f) {
            if let Some(target) = target_file(&modules, &r.path)
                && target != &f.path
                && target != "lib.rs"
            {
                edges.insert(target);
            }
        }
    }
    for group in circles(&graph) {
        let cycle = shortest_cycle(&graph, &group);
        out.push(format!(
            "files import each other in a circle: {} ({} file(s) in all)",
            cycle.join(" -> "),
            group.len()
        ));
    }
    for f in &files {
        for func in functions(&f.tokens) {
            if func.lines > MAX_FUNCTION_LINES {
                out.push(format!(
                    "{}:{}: fn {} is {} lines (at most {MAX_FUNCTION_LINES})",
                    f.path, func.line, func.name, func.lines
                ));
            }
        }
    }
    out
}

fn upward_imports(f: &SourceFile, layer_of: &BTreeMap<String, usize>, layers: &[Vec<String>]) -> Vec<String> {
    let Some(&own) = layer_of.get(&f.module[0]) else {
        return Vec::new();
    };
    references(f)
        .into_iter()
        .filter_map(|r| {
            let top = r.path.first()?;
            let &layer = layer_of.get(top)?;
            (layer < own).then(|| {
                format!(
                    "{}:{}: imports crate::{} (layer `{}` is above `{}`)",
                    f.path,
                    r.line,
                    r.path.join("::"),
                    layers[layer].join(", "),
                    layers[own].join(", ")
                )
            })
        })
        .collect()
}

/// Strongly connected groups of more than one file (Tarjan), each as a cycle.
fn circles<'a>(graph: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Vec<Vec<&'a str>> {
    struct Walk<'a, 'g> {
        graph: &'g BTreeMap<&'a str, BTreeSet<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        groups: Vec<Vec<&'a str>>,
    }
    impl<'a> Walk<'a, '_> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for &w in self.graph.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut group = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    group.push(w);
                    if w == v {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.reverse();
                    self.groups.push(group);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        groups: Vec::new(),
    };
    for &v in graph.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.groups
}

/// The shortest import path from the group's first file back to itself.
fn shortest_cycle<'a>(graph: &BTreeMap<&'a str, BTreeSet<&'a str>>, group: &[&'a str]) -> Vec<&'a str> {
    let members: BTreeSet<&str> = group.iter().copied().collect();
    let start = group[0];
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in graph.get(v).into_iter().flatten().filter(|w| members.contains(*w)) {
            if w == start {
                let mut path = vec![v];
                while let Some(&prev) = came_from.get(path[path.len() - 1]) {
                    path.push(prev);
                }
                if path[path.len() - 1] != start {
                    path.push(start);
                }
                path.reverse();
                path.push(start);
                return path;
            }
            if w != start && !came_from.contains_key(w) {
                came_from.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    group.to_vec()
}

/// The longest functions of the tree at `src`, longest first.
fn longest_functions(src: &Path, n: usize) -> Vec<String> {
    let mut all: Vec<(usize, String)> = read_tree(src)
        .iter()
        .flat_map(|f| {
            functions(&f.tokens)
                .into_iter()
                .map(move |func| (func.lines, format!("{}:{} fn {}", f.path, func.line, func.name)))
        })
        .collect();
    all.sort_by_key(|f| std::cmp::Reverse(f.0));
    all.into_iter()
        .take(n)
        .map(|(lines, at)| format!("{lines:>4} lines  {at}"))
        .collect()
}

#[test]
fn api_src_follows_the_layer_rule() {
    let src = crate::helpers::checkout().join("api/src");
    // `cargo test --test it layout -- --nocapture` shows the longest.
    println!(
        "longest functions of api/src:\n{}",
        longest_functions(&src, 5).join("\n")
    );
    let found = problems(&src);
    assert!(found.is_empty(), "api/src breaks its layout:\n{}", found.join("\n"));
}

/// A tree with an upward import, a circle and a long function is refused,
/// each named: the check can fail.
#[test]
fn the_layout_check_names_what_is_wrong() {
    let dir = std::env::temp_dir().join(format!("layout-check-{}", uuid::Uuid::new_v4()));
    let write = |rel: &str, text: &str| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write(
        "lib.rs",
        "//! Layers, top first:\n//!\n//! `http` — routes\n//! `db`, `text` — leaves\n//!\npub mod http;\npub mod db;\npub mod text;\n",
    );
    write("http.rs", "use crate::db::Pool;\npub fn serve() {}\n");
    write("db/mod.rs", "mod pool;\npub use pool::Pool;\n");
    write(
        "db/pool.rs",
        "use crate::{http::serve, text::{a, b}};\npub struct Pool;\n",
    );
    let long_body = "    let _ = 1;\n".repeat(MAX_FUNCTION_LINES);
    write(
        "text.rs",
        &format!("pub fn a() {{}}\npub fn b() {{ super::db::touch(); }}\nfn long() {{\n{long_body}}}\n"),
    );
    let found = problems(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    let text = found.join("\n");
    assert!(
        text.contains("db/pool.rs:1: imports crate::http::serve (layer `http` is above `db, text`)"),
        "{text}"
    );
    assert!(text.contains("circle"), "{text}");
    assert!(text.contains("fn long is"), "{text}");
    assert!(!text.contains("crate::text::a"), "a sideways import is allowed: {text}");
    assert!(!text.contains("http.rs:1"), "a downward import is allowed: {text}");
}
