//! Files for `screenplay ingest`: folders walked recursively for text,
//! Markdown, Fountain and source code; hidden and build folders skipped.

use std::path::{Path, PathBuf};

/// Extensions picked up when walking a folder (files named on the command
/// line are always tried).
pub const TEXT_EXTENSIONS: &[&str] = &[
    "txt", "text", "md", "markdown", "mdx", "rst", "adoc", "org", "fountain", "spmd", "fdx", "tex", "csv", "tsv",
    "json", "yaml", "yml", "toml", "xml", "html", "htm", "rs", "py", "js", "mjs", "ts", "tsx", "jsx", "go", "java",
    "kt", "scala", "c", "h", "cc", "cpp", "hpp", "cs", "rb", "php", "swift", "m", "sh", "bash", "sql", "lua", "r",
    "jl", "hs", "ml", "ex", "exs", "erl", "clj", "dart", "vue", "svelte", "css", "scss",
];

/// Folders never walked into.
const SKIPPED_DIRS: &[&str] = &["node_modules", "target", "__pycache__", "venv", "dist", "build"];

/// Largest file read (bigger ones fail with a reason).
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// A file to ingest and the source path it is stored under: relative to
/// the folder named on the command line (`/`-separated), or the file's own
/// name for a file named there. So `screenplay ingest notes/` stores
/// `notes/参考/雨夜.md` as `参考/雨夜.md`, wherever it runs from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundFile {
    pub path: PathBuf,
    pub source_path: String,
}

/// What the walk found: files to read, and paths that failed with a reason.
#[derive(Debug, Default)]
pub struct Found {
    pub files: Vec<FoundFile>,
    pub failed: Vec<(PathBuf, String)>,
}

/// Expands `paths`: files as given, folders walked (sorted, so runs are repeatable).
pub fn collect(paths: &[PathBuf]) -> Found {
    let mut found = Found::default();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk(path, path, &mut found),
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

fn walk(root: &Path, dir: &Path, found: &mut Found) {
    let mut entries: Vec<_> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.filter_map(Result::ok).collect(),
        Err(e) => {
            found.failed.push((dir.to_path_buf(), e.to_string()));
            return;
        }
    };
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_str()) {
                walk(root, &path, found);
            }
        } else if kind.is_file() && has_text_extension(&path) {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let source_path = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            found.files.push(FoundFile { path, source_path });
        }
    }
}

fn has_text_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| TEXT_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The text of a file, or why it cannot be ingested.
pub fn read_text(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("larger than {} MiB", MAX_FILE_BYTES / (1024 * 1024)));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    text_of(&bytes)
}

/// UTF-8 text without NUL bytes (a BOM is dropped), or why not.
pub fn text_of(bytes: &[u8]) -> Result<String, String> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if bytes.contains(&0) {
        return Err("binary file (contains NUL bytes)".into());
    }
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| "not UTF-8 text".to_owned())?;
    if text.trim().is_empty() {
        return Err("empty".into());
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_checks() {
        assert_eq!(text_of(b"\xef\xbb\xbfhello").as_deref(), Ok("hello"));
        assert!(text_of(b"a\0b").is_err());
        assert!(text_of(&[0xff, 0xfe, 0x41]).is_err());
        assert!(text_of(b"  \n").is_err());
    }
}
