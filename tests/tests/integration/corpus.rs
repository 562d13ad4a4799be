//! Project Sync on real repositories: the published source trees of `tests/corpus/manifest.txt`
//! (Rust crates, npm packages, Python sdists, fetched by `scripts/corpus.sh` through their
//! registries), each committed as a git repository, served by the local GitHub and synced with the
//! instance's default limits. Every file must end up either as an active entry with exactly its
//! contents, or counted as skipped with its reason; the expectation comes from this test's own walk
//! of the tree on disk, not from the sync's code.

use crate::fixtures::count;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tests::github_double::{GitHubDouble, GitRepo};
use tests::{RpcClient, TestApp, TestDb, spawn_app_on};

/// One tree of the manifest, as unpacked by `scripts/corpus.sh`.
struct Tree {
    ecosystem: String,
    name: String,
    version: String,
    dir: PathBuf,
}

/// The corpus folder: `CAIRN_TEST_CORPUS_DIR`, which `scripts/test.sh` sets after fetching it.
fn corpus() -> Vec<Tree> {
    let root = std::env::var_os("CAIRN_TEST_CORPUS_DIR").map(PathBuf::from).expect(
        "CAIRN_TEST_CORPUS_DIR is not set: run scripts/test.sh, or scripts/corpus.sh and set it to the folder it prints",
    );
    let manifest = std::fs::read_to_string(tests::repo_root().join("tests/corpus/manifest.txt"))
        .expect("the corpus manifest");
    manifest
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let mut fields = line.split_whitespace();
            let (ecosystem, name, version) = (
                fields.next().expect("ecosystem").to_owned(),
                fields.next().expect("name").to_owned(),
                fields.next().expect("version").to_owned(),
            );
            let dir = root
                .join(&ecosystem)
                .join(format!("{}-{version}", name.replace('/', "__")));
            assert!(
                dir.is_dir(),
                "{} is missing: run scripts/corpus.sh",
                dir.display()
            );
            Tree {
                ecosystem,
                name,
                version,
                dir,
            }
        })
        .collect()
}

/// What the sync should make of a tree, by the rules the README states.
#[derive(Debug, Default)]
struct Expected {
    scanned: u32,
    /// Path → (bytes, SHA-256 of the contents).
    active: BTreeMap<String, (i64, String)>,
    skipped: BTreeMap<String, u32>,
}

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
const LOCK_FILES: &[&str] = &[
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
const BINARY_TYPES: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "ico", "bmp", "tiff", "psd", "pdf", "zip", "gz", "tgz",
    "bz2", "xz", "7z", "tar", "rar", "jar", "war", "class", "so", "dll", "dylib", "exe", "bin",
    "o", "a", "wasm", "woff", "woff2", "ttf", "otf", "eot", "mp3", "mp4", "mov", "avi", "webm",
    "ogg", "wav", "flac", "sqlite", "db", "pyc",
];
/// `github.max_file_bytes`' default.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

fn walk(root: &Path, dir: &Path, out: &mut Expected) {
    for entry in std::fs::read_dir(dir).expect("reading a folder") {
        let entry = entry.expect("a folder entry");
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).expect("metadata");
        if meta.is_dir() {
            walk(root, &path, out);
            continue;
        }
        let relative = path
            .strip_prefix(root)
            .expect("under the root")
            .to_str()
            .expect("a UTF-8 path")
            .replace('\\', "/");
        out.scanned += 1;
        let name = relative.rsplit('/').next().unwrap_or(&relative);
        let in_ignored_folder = relative
            .split('/')
            .rev()
            .skip(1)
            .any(|folder| IGNORED_FOLDERS.contains(&folder));
        let reason = if meta.file_type().is_symlink()
            || in_ignored_folder
            || LOCK_FILES.contains(&name)
            || name.ends_with(".min.js")
            || name.ends_with(".map")
        {
            Some("ignored")
        } else if name
            .rsplit_once('.')
            .is_some_and(|(_, ext)| BINARY_TYPES.contains(&ext.to_ascii_lowercase().as_str()))
        {
            Some("binary")
        } else if meta.len() > MAX_FILE_BYTES {
            Some("too_large")
        } else {
            let bytes = std::fs::read(&path).expect("reading a file");
            match String::from_utf8(bytes) {
                Ok(text) if !text.contains('\0') => {
                    let digest = hex(&Sha256::digest(text.as_bytes()));
                    out.active
                        .insert(relative.clone(), (text.len() as i64, digest));
                    None
                }
                _ => Some("binary"),
            }
        };
        if let Some(reason) = reason {
            *out.skipped.entry(reason.to_owned()).or_default() += 1;
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn sync_to_the_end(client: &RpcClient, project: &str, within: Duration) -> Value {
    let started = client
        .ok("sync_project", json!({"project_id": project}))
        .await;
    let deadline = Instant::now() + within;
    loop {
        let sync = client.ok("get_sync", json!({"id": started["id"]})).await;
        if ["completed", "failed", "cancelled"].contains(&sync["status"].as_str().unwrap_or("")) {
            return sync;
        }
        assert!(
            Instant::now() < deadline,
            "the sync did not end within {within:?}: {sync}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn published_source_trees_sync_every_file_or_say_why_not() {
    let trees = corpus();
    assert!(
        trees.len() >= 20,
        "the manifest lists {} trees",
        trees.len()
    );
    let ecosystems: std::collections::BTreeSet<&str> =
        trees.iter().map(|t| t.ecosystem.as_str()).collect();
    assert_eq!(ecosystems.len(), 3, "{ecosystems:?}");

    let github = GitHubDouble::start().await;
    let api_url = github.api_url();
    // The instance's defaults (file size limit, archive threshold), as a deployment has them.
    let app: TestApp = spawn_app_on(TestDb::migrated().await, move |settings| {
        settings.github.api_url = api_url;
    })
    .await
    .unwrap();
    let (ada, _) = crate::rpc::signed_up(&app, "ada@example.com", "Corpus").await;
    let owner = app.db.owner().await;

    let mut report = Vec::new();
    let mut absent_languages = 0;
    for tree in &trees {
        let mut expected = Expected::default();
        walk(&tree.dir, &tree.dir, &mut expected);
        let repo = GitRepo::of_tree(&tree.dir);
        let slug = format!(
            "{}-{}",
            tree.ecosystem,
            tree.name.replace(['/', '@'], "").to_ascii_lowercase()
        );
        github.serve(&format!("corpus/{slug}"), repo.path());
        let project = ada
            .ok(
                "create_project",
                json!({"form": {"name": format!("{} {}", tree.name, tree.version), "description": "",
                       "github_repo": format!("corpus/{slug}"), "github_branch": "main", "github_path": ""}}),
            )
            .await;
        let project_id = project["id"].as_str().unwrap().to_owned();

        let started = Instant::now();
        let sync = sync_to_the_end(&ada, &project_id, Duration::from_secs(600)).await;
        let took = started.elapsed();
        let label = format!("{} {} {}", tree.ecosystem, tree.name, tree.version);
        assert_eq!(sync["status"], "completed", "{label}: {sync}");
        let counts = &sync["counts"];
        assert_eq!(counts["scanned"], expected.scanned, "{label}: {counts}");
        assert_eq!(
            counts["added"],
            expected.active.len() as u64,
            "{label}: {counts}"
        );
        assert_eq!(
            counts["skipped"],
            serde_json::to_value(&expected.skipped).unwrap(),
            "{label}"
        );

        // Each active entry holds exactly its file: path, size and contents.
        let rows = owner
            .query_all_raw(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT e.source_path, e.byte_size,
                        encode(sha256(convert_to(b.content, 'UTF8')), 'hex') AS digest,
                        e.language IS NULL AS no_language
                   FROM memory_entries e
                   JOIN memory_blobs b ON b.tenant_id = e.tenant_id AND b.sha = e.blob_sha
                  WHERE e.project_id = $1 AND e.status = 'active' AND e.kind = 'file'
                    AND e.content = ''",
                [uuid::Uuid::parse_str(&project_id).unwrap().into()],
            ))
            .await
            .unwrap();
        let mut active = BTreeMap::new();
        for row in rows {
            let path: String = row.try_get("", "source_path").unwrap();
            let size: i64 = row.try_get("", "byte_size").unwrap();
            let digest: String = row.try_get("", "digest").unwrap();
            if row.try_get::<bool>("", "no_language").unwrap() {
                absent_languages += 1;
            }
            active.insert(path, (size, digest));
        }
        let missing: Vec<&String> = expected
            .active
            .keys()
            .filter(|p| !active.contains_key(*p))
            .collect();
        let extra: Vec<&String> = active
            .keys()
            .filter(|p| !expected.active.contains_key(*p))
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{label}: not imported {missing:?}; not expected {extra:?}"
        );
        for (path, want) in &expected.active {
            assert_eq!(&active[path], want, "{label}: {path}");
        }
        report.push(format!(
            "{label}: {} files, {} active, skipped {:?}, {} GitHub requests, {:.1} s",
            expected.scanned,
            expected.active.len(),
            expected.skipped,
            sync["github_requests"],
            took.as_secs_f64()
        ));
    }
    // Files whose language Cairn does not know (LICENSE, .gitignore, Makefile-less scripts) are
    // imported with no language: the case that once failed every such sync.
    assert!(absent_languages > 100, "{absent_languages}");
    let syncs = count(
        &owner,
        "SELECT count(*) FROM project_syncs WHERE status = 'completed'",
        vec![],
    )
    .await;
    assert_eq!(syncs, trees.len() as i64);
    eprintln!("{}", report.join("\n"));
}
