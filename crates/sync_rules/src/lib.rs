#![doc = include_str!("../README.md")]

use api::github::ScanPath;
use domain::syncs::ActiveFile;
use github::TreeFile;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// What the diff decided.
pub struct Diff {
    /// New and changed files: their contents are needed.
    pub fetch: Vec<TreeFile>,
    /// Entries replaced by a changed file.
    pub replaced: Vec<uuid::Uuid>,
    /// Entries gone from the branch.
    pub removed: Vec<uuid::Uuid>,
    /// Entries whose contents moved to another path: (entry, new path).
    pub moved: Vec<(uuid::Uuid, String)>,
    /// Files as the Memory Hub holds them.
    pub unchanged: u32,
    /// Files new to the Memory Hub.
    pub added: u32,
    /// Files whose contents changed.
    pub changed: u32,
}

/// Compares the tree with the active entries on (path, blob SHA).
pub fn diff(candidates: Vec<TreeFile>, active: Vec<ActiveFile>) -> Diff {
    let in_tree: HashSet<&str> = candidates.iter().map(|f| f.path.as_str()).collect();
    let by_path: HashMap<&str, &ActiveFile> = active.iter().map(|a| (a.path.as_str(), a)).collect();
    // Entries whose path is gone, by contents: candidates for a move.
    let mut gone_by_sha: HashMap<&str, Vec<&ActiveFile>> = HashMap::new();
    for entry in active.iter().filter(|a| !in_tree.contains(a.path.as_str())) {
        gone_by_sha
            .entry(entry.blob_sha.as_str())
            .or_default()
            .push(entry);
    }
    let mut out = Diff {
        fetch: Vec::new(),
        replaced: Vec::new(),
        removed: Vec::new(),
        moved: Vec::new(),
        unchanged: 0,
        added: 0,
        changed: 0,
    };
    let mut new_paths = Vec::new();
    for file in candidates {
        match by_path.get(file.path.as_str()) {
            Some(entry) if entry.blob_sha == file.blob_sha => out.unchanged += 1,
            Some(entry) => {
                out.replaced.push(entry.id);
                out.changed += 1;
                out.fetch.push(file);
            }
            None => new_paths.push(file),
        }
    }
    for file in new_paths {
        let moved_from = gone_by_sha
            .get_mut(file.blob_sha.as_str())
            .and_then(|entries| entries.pop());
        match moved_from {
            Some(entry) => out.moved.push((entry.id, file.path)),
            None => {
                out.added += 1;
                out.fetch.push(file);
            }
        }
    }
    out.removed = gone_by_sha
        .into_values()
        .flatten()
        .map(|entry| entry.id)
        .collect();
    out
}

/// Whether `path` is under the scan path.
pub fn under(scan_path: &ScanPath, path: &str) -> bool {
    let prefix = scan_path.as_str().trim_matches('/');
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Folders nobody wants in a knowledge base: dependencies, build output, caches.
const IGNORED_FOLDERS: &[&str] = &[
    "node_modules",
    "vendor",
    "dist",
    "build",
    "target",
    ".git",
    "__pycache__",
    ".venv",
    ".next",
    "coverage",
];

/// Generated files: lock files and minified bundles.
const IGNORED_FILES: &[&str] = &[
    "Cargo.lock",
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "poetry.lock",
    "Gemfile.lock",
    "composer.lock",
    "go.sum",
    "bun.lockb",
];

const BINARY_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "ico", "bmp", "tiff", "psd", "pdf", "zip", "gz", "tgz",
    "bz2", "xz", "7z", "tar", "rar", "jar", "war", "class", "so", "dll", "dylib", "exe", "bin",
    "o", "a", "wasm", "woff", "woff2", "ttf", "otf", "eot", "mp3", "mp4", "mov", "avi", "webm",
    "ogg", "wav", "flac", "sqlite", "db", "pyc",
];

/// Why a tree file is not imported, if it is not: `ignored`, `binary` or `too_large`.
pub fn skip_reason(file: &TreeFile, max_bytes: u64) -> Option<&'static str> {
    skip_explained(file, max_bytes).map(|(reason, _)| reason)
}

/// Why a tree file is not imported, if it is not: the reason's key (`ignored`, `binary`,
/// `too_large`, as counted) and what a person reads on the sync's page ("a lock file").
pub fn skip_explained(file: &TreeFile, max_bytes: u64) -> Option<(&'static str, String)> {
    let name = file.path.rsplit('/').next().unwrap_or(&file.path);
    let ignored = |why: String| Some(("ignored", why));
    match file.mode.as_str() {
        "120000" => return ignored("a symbolic link".into()),
        "160000" => return ignored("a submodule".into()),
        _ => {}
    }
    if IGNORED_FILES.contains(&name) {
        return ignored("a lock file".into());
    }
    if name.ends_with(".min.js") {
        return ignored("minified code".into());
    }
    if name.ends_with(".map") {
        return ignored("a source map".into());
    }
    if let Some(folder) = file
        .path
        .split('/')
        .rev()
        .skip(1)
        .find(|folder| IGNORED_FOLDERS.contains(folder))
    {
        return ignored(format!(
            "in a {folder}/ folder (dependencies or build output)"
        ));
    }
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    if let Some(extension) = extension.filter(|e| BINARY_EXTENSIONS.contains(&e.as_str())) {
        return Some(("binary", format!("binary (.{extension})")));
    }
    if file.size > max_bytes {
        return Some((
            "too_large",
            format!(
                "{}, more than the {} a file may have",
                api::notes::human_bytes(file.size),
                api::notes::human_bytes(max_bytes)
            ),
        ));
    }
    None
}

/// Whether one of the project's own patterns leaves `path` out: `folder/` (that folder, at any
/// depth), `*.ext` (a file type), or a path or file name.
pub fn ignored_by(patterns: &[String], path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    patterns.iter().any(|pattern| {
        let pattern = pattern.trim().trim_start_matches('/');
        if let Some(folder) = pattern.strip_suffix('/') {
            !folder.is_empty()
                && (path.starts_with(&format!("{folder}/"))
                    || path.contains(&format!("/{folder}/")))
        } else if let Some(extension) = pattern.strip_prefix("*.") {
            name.ends_with(&format!(".{extension}"))
        } else {
            path == pattern || name == pattern
        }
    })
}

/// The file's text; `None` for binary contents (a NUL byte, or not UTF-8).
pub fn text_of(bytes: Vec<u8>) -> Option<String> {
    if bytes.contains(&0) {
        return None;
    }
    String::from_utf8(bytes).ok()
}

/// The language a file's name says it is in.
pub fn language_of(path: &str) -> Option<&'static str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name {
        "Dockerfile" => return Some("dockerfile"),
        "Makefile" => return Some("makefile"),
        _ => {}
    }
    let extension = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match extension.as_str() {
        "rs" => "rust",
        "ts" | "tsx" => "typescript",
        "js" | "jsx" | "mjs" | "cjs" => "javascript",
        "py" => "python",
        "go" => "go",
        "java" => "java",
        "kt" | "kts" => "kotlin",
        "rb" => "ruby",
        "php" => "php",
        "c" | "h" => "c",
        "cc" | "cpp" | "cxx" | "hpp" | "hh" => "cpp",
        "cs" => "csharp",
        "swift" => "swift",
        "scala" => "scala",
        "sh" | "bash" => "shell",
        "sql" => "sql",
        "md" | "markdown" => "markdown",
        "toml" => "toml",
        "yaml" | "yml" => "yaml",
        "json" => "json",
        "html" | "htm" => "html",
        "css" => "css",
        "scss" => "scss",
        "vue" => "vue",
        "svelte" => "svelte",
        "proto" => "protobuf",
        "tf" => "terraform",
        "txt" => "text",
        _ => return None,
    })
}

/// Seconds left, from the pace so far.
pub fn eta(started: Instant, done: u32, total: u32) -> Option<u64> {
    (done > 0).then(|| {
        let per_file = started.elapsed().as_secs_f64() / f64::from(done);
        (per_file * f64::from(total.saturating_sub(done))).ceil() as u64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, sha: &str) -> TreeFile {
        TreeFile {
            path: path.into(),
            blob_sha: sha.into(),
            size: 10,
            mode: "100644".into(),
        }
    }

    fn entry(path: &str, sha: &str) -> ActiveFile {
        ActiveFile {
            id: uuid::Uuid::new_v4(),
            path: path.into(),
            blob_sha: sha.into(),
        }
    }

    #[test]
    fn the_diff_fetches_only_new_and_changed_contents_and_re_points_moves() {
        let kept = entry("a.rs", "1");
        let edited = entry("b.rs", "2");
        let renamed = entry("old/c.rs", "3");
        let deleted = entry("d.rs", "4");
        let active = vec![
            kept.clone(),
            edited.clone(),
            renamed.clone(),
            deleted.clone(),
        ];
        let tree = vec![
            file("a.rs", "1"),
            file("b.rs", "22"),
            file("new/c.rs", "3"),
            file("e.rs", "5"),
        ];
        let diff = diff(tree, active);
        let fetched: Vec<&str> = diff.fetch.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(fetched, vec!["b.rs", "e.rs"]);
        assert_eq!(diff.unchanged, 1);
        assert_eq!((diff.added, diff.changed), (1, 1));
        assert_eq!(diff.replaced, vec![edited.id]);
        assert_eq!(diff.moved, vec![(renamed.id, "new/c.rs".to_owned())]);
        assert_eq!(diff.removed, vec![deleted.id]);
    }

    #[test]
    fn skips_have_reasons() {
        let big = TreeFile {
            size: 2_000_000,
            ..file("src/big.rs", "1")
        };
        assert_eq!(skip_reason(&big, 1_048_576), Some("too_large"));
        assert_eq!(
            skip_reason(&file("web/node_modules/x/index.js", "1"), 1_048_576),
            Some("ignored")
        );
        assert_eq!(
            skip_reason(&file("Cargo.lock", "1"), 1_048_576),
            Some("ignored")
        );
        assert_eq!(
            skip_reason(&file("logo.PNG", "1"), 1_048_576),
            Some("binary")
        );
        assert_eq!(skip_reason(&file("src/main.rs", "1"), 1_048_576), None);
        assert_eq!(
            skip_explained(&big, 1_048_576).map(|(_, why)| why),
            Some(format!(
                "{}, more than the 1 MiB a file may have",
                api::notes::human_bytes(big.size)
            ))
        );
        assert_eq!(
            skip_explained(&file("web/node_modules/x/index.js", "1"), 1_048_576),
            Some((
                "ignored",
                "in a node_modules/ folder (dependencies or build output)".into()
            ))
        );
        assert_eq!(
            skip_explained(&file("Cargo.lock", "1"), 1_048_576),
            Some(("ignored", "a lock file".into()))
        );
        assert_eq!(text_of(vec![b'a', 0, b'b']), None);
        assert_eq!(
            text_of(b"fn main() {}".to_vec()).as_deref(),
            Some("fn main() {}")
        );
    }

    #[test]
    fn a_projects_own_patterns_name_folders_file_types_and_paths() {
        let patterns = vec![
            "generated/".to_owned(),
            "*.snap".to_owned(),
            "docs/old.md".to_owned(),
        ];
        assert!(ignored_by(&patterns, "generated/a.rs"));
        assert!(ignored_by(&patterns, "src/generated/a.rs"));
        assert!(!ignored_by(&patterns, "src/generated.rs"));
        assert!(ignored_by(&patterns, "tests/__snapshots__/x.snap"));
        assert!(ignored_by(&patterns, "docs/old.md"));
        assert!(!ignored_by(&patterns, "docs/new.md"));
        assert!(!ignored_by(&[], "anything"));
    }

    #[test]
    fn the_scan_path_is_a_folder_not_a_prefix() {
        let docs = ScanPath::parse("docs").unwrap();
        assert!(under(&docs, "docs/a.md"));
        assert!(!under(&docs, "docs2/a.md"));
        assert!(under(&ScanPath::parse("").unwrap(), "anything.md"));
    }
}
