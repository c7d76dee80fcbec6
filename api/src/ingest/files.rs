//! Files for `screenplay ingest`: folders walked with `.gitignore` and
//! `.ignore` rules (the `ignore` crate, as ripgrep does), hidden and build
//! folders left out, and every file left out reported with its reason.

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use super::extract::{self, Extracted};

/// Folders never walked into, ignore files or not.
const SKIPPED_DIRS: &[&str] = &["node_modules", "target", "__pycache__", "venv", "dist", "build"];

/// Largest file read (bigger ones fail with a reason).
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// A file to ingest and the source path it is stored under: relative to
/// the folder named on the command line (`/`-separated), or the file's own
/// name for a file named there. So `screenplay ingest notes/` stores
/// `notes/参考/雨夜.md` as `参考/雨夜.md`, wherever it runs from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundFile {
    pub path: PathBuf,
    pub source_path: String,
}

/// What the walk found: files to read; paths left out by a rule (hidden,
/// ignored, unsupported type) and paths that failed, each with a reason.
#[derive(Debug, Default)]
pub struct Found {
    pub files: Vec<FoundFile>,
    pub skipped: Vec<(PathBuf, String)>,
    pub failed: Vec<(PathBuf, String)>,
}

/// Expands `paths`: files as given, folders walked (sorted, so runs are repeatable).
pub fn collect(paths: &[PathBuf]) -> Found {
    let mut found = Found::default();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk(path, &mut found),
            Ok(meta) if meta.is_file() => found.files.push(FoundFile {
                source_path: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| path.display().to_string()),
                path: path.clone(),
            }),
            Ok(_) => found.failed.push((path.clone(), "not a regular file or folder".into())),
            Err(e) => found.failed.push((path.clone(), e.to_string())),
        }
    }
    found
}

fn builder(root: &Path) -> ignore::WalkBuilder {
    let mut builder = ignore::WalkBuilder::new(root);
    builder
        .require_git(false)
        .git_global(false)
        .follow_links(false)
        .sort_by_file_name(|a, b| a.cmp(b));
    builder
}

/// Two walks: with the ignore rules (what is read), then without them, to
/// name each path the rules left out (a left-out folder once, not its files).
fn walk(root: &Path, found: &mut Found) {
    let mut kept: HashSet<PathBuf> = HashSet::new();
    let mut walker = builder(root);
    walker.filter_entry(|e| !(e.depth() > 0 && (e.file_name() == ".git" || is_skipped_dir(e))));
    for entry in walker.build() {
        match entry {
            Ok(entry) => {
                kept.insert(entry.path().to_path_buf());
                if entry.file_type().is_some_and(|t| t.is_file()) {
                    add_file(root, entry.path(), found);
                }
            }
            Err(e) => found.failed.push((root.to_path_buf(), e.to_string())),
        }
    }
    let kept = Arc::new(kept);
    let left_out: Arc<Mutex<Vec<(PathBuf, String)>>> = Arc::default();
    let mut all = builder(root);
    all.standard_filters(false);
    let (seen, out) = (Arc::clone(&kept), Arc::clone(&left_out));
    all.filter_entry(move |e| {
        if e.depth() == 0 || e.file_name() == ".git" || seen.contains(e.path()) {
            return e.file_name() != ".git" || e.depth() == 0;
        }
        if let Ok(mut out) = out.lock() {
            out.push((e.path().to_path_buf(), left_out_reason(e)));
        }
        false
    });
    for _ in all.build() {}
    if let Ok(mut left_out) = left_out.lock() {
        found.skipped.append(&mut left_out);
    }
}

fn is_skipped_dir(e: &ignore::DirEntry) -> bool {
    e.file_type().is_some_and(|t| t.is_dir()) && SKIPPED_DIRS.contains(&e.file_name().to_string_lossy().as_ref())
}

fn left_out_reason(e: &ignore::DirEntry) -> String {
    let folder = e.file_type().is_some_and(|t| t.is_dir());
    let what = if folder { "folder" } else { "file" };
    if e.file_name().to_string_lossy().starts_with('.') {
        format!("hidden {what}")
    } else if is_skipped_dir(e) {
        "build or dependency folder".to_owned()
    } else {
        format!("{what} ignored by .gitignore or .ignore rules")
    }
}

fn add_file(root: &Path, path: &Path, found: &mut Found) {
    let relative = path.strip_prefix(root).unwrap_or(path);
    let source_path = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    if !extract::is_supported_name(&source_path) {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default();
        let reason = if ext.is_empty() {
            "unsupported file type (no extension)".to_owned()
        } else {
            format!("unsupported file type (.{ext})")
        };
        found.skipped.push((path.to_path_buf(), reason));
        return;
    }
    found.files.push(FoundFile {
        path: path.to_path_buf(),
        source_path,
    });
}

/// The text of a file, or why it cannot be ingested.
pub fn read(path: &Path) -> Result<Extracted, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("larger than {} MiB", MAX_FILE_BYTES >> 20));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    extract::extract(&path.to_string_lossy(), &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_report_what_the_rules_leave_out() {
        let dir = std::env::temp_dir().join(format!("screenplay-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["notes", "drafts", "node_modules/x", ".cache", ".git"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        for (file, text) in [
            (".gitignore", "drafts/\n*.log\n"),
            ("notes/a.md", "# A"),
            ("notes/b.pdf", "%PDF-"),
            ("notes/c.png", "png"),
            ("notes/run.log", "log"),
            ("drafts/d.md", "d"),
            ("node_modules/x/e.md", "e"),
            (".cache/f.md", "f"),
            (".git/config", "g"),
        ] {
            std::fs::write(dir.join(file), text).unwrap();
        }
        let found = collect(std::slice::from_ref(&dir));
        let files: Vec<&str> = found.files.iter().map(|f| f.source_path.as_str()).collect();
        assert_eq!(files, ["notes/a.md", "notes/b.pdf"]);
        let skipped: Vec<(String, &str)> = found
            .skipped
            .iter()
            .map(|(p, r)| (p.strip_prefix(&dir).unwrap().display().to_string(), r.as_str()))
            .collect();
        let expect = [
            (".cache", "hidden folder"),
            (".gitignore", "hidden file"),
            ("drafts", "folder ignored by .gitignore or .ignore rules"),
            ("node_modules", "build or dependency folder"),
            ("notes/c.png", "unsupported file type (.png)"),
            ("notes/run.log", "file ignored by .gitignore or .ignore rules"),
        ];
        let mut skipped_sorted = skipped.clone();
        skipped_sorted.sort();
        assert_eq!(skipped_sorted, expect.map(|(p, r)| (p.to_owned(), r)).to_vec());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
