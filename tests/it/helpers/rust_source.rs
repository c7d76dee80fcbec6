//! Just enough of Rust's lexical structure to read a source tree's imports
//! and function lengths: tokens without comments, strings or characters.
//! Used by the layout check (`tests/it/layout.rs`).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

/// A token and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    Ident(String),
    /// `::`
    PathSep,
    Punct(char),
}

#[derive(Debug, Clone)]
pub struct Token {
    pub tok: Tok,
    pub line: usize,
}

/// Splits source text into identifiers and punctuation, skipping comments,
/// string, byte-string, raw-string and character literals and lifetimes.
pub fn lex(src: &str) -> Vec<Token> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0usize, 1usize);
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            i = skip_block_comment(&chars, i, &mut line);
        } else if let Some(end) = raw_string_end(&chars, i, &mut line) {
            i = end;
        } else if c == '"' || (c == 'b' && at(i + 1) == '"') {
            i = skip_string(&chars, if c == 'b' { i + 1 } else { i }, &mut line);
        } else if c == '\'' || (c == 'b' && at(i + 1) == '\'') {
            i = skip_char_or_lifetime(&chars, if c == 'b' { i + 1 } else { i });
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            out.push(Token {
                tok: Tok::Ident(word.trim_start_matches("r#").to_owned()),
                line,
            });
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.') {
                if chars[i] == '.' && !at(i + 1).is_ascii_digit() {
                    break;
                }
                i += 1;
            }
        } else if c == ':' && at(i + 1) == ':' {
            out.push(Token {
                tok: Tok::PathSep,
                line,
            });
            i += 2;
        } else {
            out.push(Token {
                tok: Tok::Punct(c),
                line,
            });
            i += 1;
        }
    }
    out
}

fn skip_block_comment(chars: &[char], mut i: usize, line: &mut usize) -> usize {
    let mut depth = 0;
    while i < chars.len() {
        if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
            depth += 1;
            i += 2;
        } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            if chars[i] == '\n' {
                *line += 1;
            }
            i += 1;
        }
    }
    i
}

/// The end of a raw string (`r"…"`, `r#"…"#`, `br#"…"#`) starting at `i`.
fn raw_string_end(chars: &[char], i: usize, line: &mut usize) -> Option<usize> {
    let mut j = i;
    if chars.get(j) == Some(&'b') {
        j += 1;
    }
    if chars.get(j) != Some(&'r') || (i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')) {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while chars.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    if chars.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < chars.len() {
        if chars[j] == '\n' {
            *line += 1;
        }
        if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(j)
}

fn skip_string(chars: &[char], mut i: usize, line: &mut usize) -> usize {
    i += 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            c => {
                if c == '\n' {
                    *line += 1;
                }
                i += 1;
            }
        }
    }
    i
}

/// `'a'`, `'\n'`, `'\u{1F600}'` are characters; `'a` is a lifetime.
fn skip_char_or_lifetime(chars: &[char], i: usize) -> usize {
    if chars.get(i + 1) == Some(&'\\') {
        let mut j = i + 2;
        while j < chars.len() && chars[j] != '\'' {
            j += 1;
        }
        return j + 1;
    }
    if chars.get(i + 2) == Some(&'\'') {
        return i + 3;
    }
    let mut j = i + 1;
    while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
        j += 1;
    }
    j
}

/// One source file of a crate: its module path and tokens.
pub struct SourceFile {
    /// Relative to the crate's `src`, e.g. `graphql/lifecycle/operation.rs`.
    pub path: String,
    /// `["graphql", "lifecycle", "operation"]`; `mod.rs` names its folder.
    pub module: Vec<String>,
    pub tokens: Vec<Token>,
}

/// Every `.rs` file under `src`.
pub fn read_tree(src: &Path) -> Vec<SourceFile> {
    let mut files = Vec::new();
    walk(src, src, &mut files);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<SourceFile>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push(SourceFile {
                module: module_of(&rel),
                tokens: lex(&text),
                path: rel,
            });
        }
    }
}

fn module_of(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel.trim_end_matches(".rs").split('/').map(str::to_owned).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// A path this file names, absolute from the crate root, with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub path: Vec<String>,
    pub line: usize,
}

/// Every crate-relative path a file names: `use` trees expanded, and paths
/// in code that start with `crate`, `super`, `self` or a child module.
/// Inline modules (`mod tests { … }`) are followed, so their `super::`
/// means the file itself.
pub fn references(file: &SourceFile) -> Vec<Reference> {
    let toks = &file.tokens;
    let children = child_modules(toks);
    let mut out = Vec::new();
    // Inline modules entered, with the brace depth their body started at.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        let module: Vec<String> = file
            .module
            .iter()
            .cloned()
            .chain(inline.iter().map(|(m, _)| m.clone()))
            .collect();
        let previous_is_dollar = i > 0 && toks[i - 1].tok == Tok::Punct('$');
        let previous_is_sep = i > 0 && toks[i - 1].tok == Tok::PathSep;
        match &toks[i].tok {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            Tok::Ident(w) if w == "mod" => {
                if let (Some(name), Some(Tok::Punct('{'))) = (ident(toks, i + 1), toks.get(i + 2).map(|t| &t.tok)) {
                    inline.push((name.to_owned(), depth));
                }
            }
            Tok::Ident(w) if w == "use" => {
                let (paths, end) = use_tree(toks, i + 1, Vec::new());
                for path in paths {
                    if let Some(abs) = absolute(&module, &children, &path) {
                        out.push(Reference {
                            path: abs,
                            line: toks[i].line,
                        });
                    }
                }
                i = end;
                continue;
            }
            Tok::Ident(_)
                if !previous_is_dollar
                    && !previous_is_sep
                    && toks.get(i + 1).is_some_and(|t| t.tok == Tok::PathSep) =>
            {
                let (path, end) = plain_path(toks, i);
                if let Some(abs) = absolute(&module, &children, &path) {
                    out.push(Reference {
                        path: abs,
                        line: toks[i].line,
                    });
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Modules declared in this file (`mod x;`, `pub mod x;`, `mod x { … }`).
fn child_modules(toks: &[Token]) -> BTreeSet<String> {
    toks.windows(2)
        .filter_map(|w| match (&w[0].tok, &w[1].tok) {
            (Tok::Ident(m), Tok::Ident(name)) if m == "mod" => Some(name.clone()),
            _ => None,
        })
        .collect()
}

fn ident(toks: &[Token], i: usize) -> Option<&str> {
    match toks.get(i).map(|t| &t.tok) {
        Some(Tok::Ident(w)) => Some(w),
        _ => None,
    }
}

/// `a::b::c` starting at `i`; returns the segments and the index after them.
fn plain_path(toks: &[Token], mut i: usize) -> (Vec<String>, usize) {
    let mut path = Vec::new();
    while let Some(w) = ident(toks, i) {
        path.push(w.to_owned());
        if toks.get(i + 1).map(|t| &t.tok) == Some(&Tok::PathSep) && ident(toks, i + 2).is_some() {
            i += 2;
        } else {
            i += 1;
            break;
        }
    }
    (path, i)
}

/// Expands a `use` tree starting at `i` (after `use`) under `prefix`.
fn use_tree(toks: &[Token], mut i: usize, prefix: Vec<String>) -> (Vec<Vec<String>>, usize) {
    let mut path = prefix;
    if toks.get(i).map(|t| &t.tok) == Some(&Tok::PathSep) {
        i += 1;
    }
    loop {
        match toks.get(i).map(|t| &t.tok) {
            Some(Tok::Ident(w)) if w == "as" => {
                i += 2;
            }
            Some(Tok::Ident(w)) => {
                path.push(w.clone());
                i += 1;
            }
            Some(Tok::PathSep) => i += 1,
            Some(Tok::Punct('*')) => i += 1,
            Some(Tok::Punct('{')) => {
                let mut all = Vec::new();
                i += 1;
                loop {
                    match toks.get(i).map(|t| &t.tok) {
                        Some(Tok::Punct('}')) => return (all, i + 1),
                        Some(Tok::Punct(',')) => i += 1,
                        None => return (all, i),
                        _ => {
                            let (mut sub, end) = use_tree(toks, i, path.clone());
                            all.append(&mut sub);
                            i = end;
                        }
                    }
                }
            }
            _ => return (vec![path], i),
        }
    }
}

/// The absolute module path of `path` as written in `module`, or `None`
/// when it names another crate.
fn absolute(module: &[String], children: &BTreeSet<String>, path: &[String]) -> Option<Vec<String>> {
    let first = path.first()?;
    let mut base = match first.as_str() {
        "crate" => return Some(path[1..].to_vec()),
        "self" | "super" => module.to_vec(),
        name if children.contains(name) => {
            let mut m = module.to_vec();
            m.push(name.to_owned());
            return Some(m.into_iter().chain(path[1..].iter().cloned()).collect());
        }
        _ => return None,
    };
    let mut rest = path;
    if first == "self" {
        rest = &rest[1..];
    }
    while rest.first().map(String::as_str) == Some("super") {
        base.pop()?;
        rest = &rest[1..];
    }
    Some(base.into_iter().chain(rest.iter().cloned()).collect())
}

/// The file a module path lands in: the deepest module of `path` that is a
/// file of the tree (`a/b.rs` or `a/b/mod.rs`).
pub fn target_file<'a>(modules: &'a BTreeMap<Vec<String>, String>, path: &[String]) -> Option<&'a String> {
    (1..=path.len()).rev().find_map(|n| modules.get(&path[..n]))
}

/// A function and its length in lines, from `fn` to its closing brace.
#[derive(Debug, Clone)]
pub struct FnLength {
    pub name: String,
    pub line: usize,
    pub lines: usize,
}

/// Every function with a body in the file.
pub fn functions(toks: &[Token]) -> Vec<FnLength> {
    let mut out = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        if t.tok != Tok::Ident("fn".into()) {
            continue;
        }
        let Some(name) = ident(toks, i + 1) else { continue };
        let Some(open) = body_start(toks, i + 2) else { continue };
        let Some(close) = matching_brace(toks, open) else {
            continue;
        };
        out.push(FnLength {
            name: name.to_owned(),
            line: t.line,
            lines: toks[close].line - t.line + 1,
        });
    }
    out
}

/// The `{` of a function's body, skipping its signature (`None` for `;`).
fn body_start(toks: &[Token], mut i: usize) -> Option<usize> {
    let mut depth = 0i32;
    while i < toks.len() {
        match toks[i].tok {
            Tok::Punct('(' | '[' | '<') => depth += 1,
            Tok::Punct(')' | ']') => depth -= 1,
            Tok::Punct('>') if depth > 0 && toks[i - 1].tok != Tok::Punct('-') => depth -= 1,
            Tok::Punct('{') if depth == 0 => return Some(i),
            Tok::Punct(';') if depth == 0 => return None,
            _ => {}
        }
        i += 1;
    }
    None
}

fn matching_brace(toks: &[Token], open: usize) -> Option<usize> {
    let mut depth = 0;
    for (j, t) in toks.iter().enumerate().skip(open) {
        match t.tok {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth -= 1;
                if depth == 0 {
                    return Some(j);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexer_skips_comments_strings_and_lifetimes() {
        let toks = lex("fn f<'a>(x: &'a str) -> char { /* crate::a */ let s = \"crate::b\"; r#\"crate::c\"#; 'x' }");
        let idents: Vec<_> = toks
            .iter()
            .filter_map(|t| match &t.tok {
                Tok::Ident(w) => Some(w.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(idents, ["fn", "f", "x", "str", "char", "let", "s"]);
    }
}
