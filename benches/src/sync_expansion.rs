//! The one-blob expansion repository: a public repository of a few kilobytes whose tree lists one
//! 1 MiB blob under many paths (git stores it once). Synced by the release server the script
//! started, at 1,500 and at 10,000 paths, each in a project of its own: wall time from pressing
//! Sync to the sync's end, the server's peak resident memory above its idle value (sampled every
//! 10 ms), GitHub requests, and what the database holds afterwards (entries, blobs, bytes).
//!
//! `sync-expansion SERVER_URL GITHUB_PORT SERVER_PID OWNER_DATABASE_URL`; `BENCH_PATHS`
//! (`1500,10000` by default) chooses the sizes.

use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tests::github_double::{GitHubDouble, GitRepo};

const BLOB_BYTES: usize = 1024 * 1024;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(server), Some(port), Some(pid), Some(database)) =
        (args.next(), args.next(), args.next(), args.next())
    else {
        panic!("usage: sync-expansion SERVER_URL GITHUB_PORT SERVER_PID OWNER_DATABASE_URL");
    };
    let port: u16 = port.parse().expect("port");
    let pid: u32 = pid.parse().expect("pid");
    let owner = Database::connect(database.as_str())
        .await
        .expect("the database");
    let github = GitHubDouble::start_on(port).await;

    let session = benches::Session::sign_up(&server).await;
    let call = |name: &'static str, args: Value| session.call(name, args);

    let mut repos = Vec::new();
    let sizes: Vec<usize> = std::env::var("BENCH_PATHS")
        .unwrap_or_else(|_| "1500,10000".into())
        .split(',')
        .map(|n| n.trim().parse().expect("BENCH_PATHS: numbers"))
        .collect();
    for paths in sizes {
        // A blob of its own per size: nothing is stored yet when each sync starts.
        let line = format!("pub fn expansion_{paths}() -> &'static str {{ \"one blob\" }}\n");
        let text: Vec<u8> = line.bytes().cycle().take(BLOB_BYTES).collect();
        let repo = GitRepo::new();
        let names: Vec<String> = (0..paths)
            .map(|n| format!("copies/d{:02}/f{n}.rs", n % 100))
            .collect();
        repo.commit_copies(&text, &names, "one blob under many paths");
        let size_kib = dir_size(&repo.path().join(".git")) / 1024;
        let name = format!("bench/expansion-{paths}");
        github.serve(&name, repo.path());
        let project = call("create_project", json!({"form": {"name": format!("Expansion {paths}"), "description": "", "github_repo": name, "github_branch": "main", "github_path": ""}})).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let idle = benches::rss_kib(pid);
        github.clear_requests();
        let peak = Arc::new(AtomicU64::new(idle));
        let sampling = Arc::new(AtomicBool::new(true));
        let sampler = {
            let (peak, sampling) = (peak.clone(), sampling.clone());
            tokio::spawn(async move {
                while sampling.load(Ordering::Relaxed) {
                    peak.fetch_max(benches::rss_kib(pid), Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        };
        let started = Instant::now();
        let sync = call("sync_project", json!({"project_id": project["id"]})).await;
        let done = loop {
            let now = call("get_sync", json!({"id": sync["id"]})).await;
            if now["status"] != "queued" && now["status"] != "running" {
                break now;
            }
            assert!(started.elapsed() < Duration::from_secs(600), "{now}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let took = started.elapsed();
        sampling.store(false, Ordering::Relaxed);
        let _ = sampler.await;
        let figures = stored_figures(&owner, project["id"].as_str().expect("id")).await;
        println!(
            "{paths} paths of one 1 MiB blob (repository {size_kib} KiB on disk): {} in {:.2} s, \
             {} GitHub requests, peak RSS {} MiB above idle ({} MiB idle); {figures}",
            done["status"],
            took.as_secs_f64(),
            github.requests().len(),
            peak.load(Ordering::Relaxed).saturating_sub(idle) / 1024,
            idle / 1024,
        );
        repos.push(repo);
    }
}

/// What the database holds for the project: entries and their own text, the team's blobs (a
/// server without blobs: the entries only), and the tables' sizes on disk.
async fn stored_figures(owner: &sea_orm::DatabaseConnection, project: &str) -> String {
    let project = uuid::Uuid::parse_str(project).expect("uuid");
    let query = |sql: &str| {
        owner.query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [project.into()],
        ))
    };
    let entries = query(
        "SELECT count(*) AS n, coalesce(sum(octet_length(content)), 0)::bigint AS bytes,
                pg_total_relation_size('memory_entries') AS table_bytes
           FROM memory_entries WHERE project_id = $1",
    )
    .await
    .expect("the entries")
    .expect("a row");
    let get =
        |row: &sea_orm::QueryResult, column: &str| row.try_get::<i64>("", column).expect(column);
    let mut figures = format!(
        "{} entries holding {} bytes of text (table {} MiB)",
        get(&entries, "n"),
        get(&entries, "bytes"),
        get(&entries, "table_bytes") / (1024 * 1024)
    );
    if let Ok(Some(blobs)) = query(
        "SELECT count(*) AS n, coalesce(sum(byte_size), 0)::bigint AS bytes,
                pg_total_relation_size('memory_blobs') AS table_bytes
           FROM memory_blobs WHERE $1::uuid IS NOT NULL",
    )
    .await
    {
        figures.push_str(&format!(
            ", {} blob row(s) holding {} bytes (table {} MiB)",
            get(&blobs, "n"),
            get(&blobs, "bytes"),
            get(&blobs, "table_bytes") / (1024 * 1024)
        ));
    }
    figures
}

/// Bytes under `dir`.
fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| match entry.metadata() {
                    Ok(meta) if meta.is_dir() => dir_size(&entry.path()),
                    Ok(meta) => meta.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}
