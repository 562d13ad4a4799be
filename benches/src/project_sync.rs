//! Project Sync figures: a generated repository of 10,000 files (~40 MB), served by the local
//! GitHub (`tests::github_double`, real git objects) on the port `cairn serve` was told about, and
//! synced by the release server the script started: the first sync, a re-sync with 1 % of the
//! files changed, and a re-sync with nothing changed. Wall time from pressing Sync to the event
//! stream's end, GitHub requests (the double's log), and the server's resident memory above its
//! idle value (sampled every 10 ms).
//!
//! `project-sync SERVER_URL GITHUB_PORT SERVER_PID`

use futures_util::StreamExt;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tests::github_double::{GitHubDouble, GitRepo};

const FILES: usize = 10_000;
const FILE_BYTES: usize = 4_000;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(server), Some(port), Some(pid)) = (args.next(), args.next(), args.next()) else {
        panic!("usage: project-sync SERVER_URL GITHUB_PORT SERVER_PID");
    };
    let port: u16 = port.parse().expect("port");
    let pid: u32 = pid.parse().expect("pid");

    let generating = Instant::now();
    let repo = GitRepo::new();
    for n in 0..FILES {
        repo.write(&format!("src/m{:02}/file_{n}.rs", n % 100), contents(n, 0));
    }
    repo.commit("10,000 files");
    eprintln!(
        "generated the repository in {:.1} s",
        generating.elapsed().as_secs_f64()
    );
    let github = GitHubDouble::start_on(port).await;
    github.serve("bench/big", repo.path());

    let session = benches::Session::sign_up(&server).await;
    let call = |name: &'static str, args: Value| session.call(name, args);
    let browser = session.http.clone();
    let project = call("create_project", json!({"form": {"name": "Big", "description": "", "github_repo": "bench/big", "github_branch": "main", "github_path": ""}})).await;
    let project = project["id"].clone();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = benches::rss_kib(pid);

    let run = |label: &'static str| {
        let call = &call;
        let browser = browser.clone();
        let server = server.clone();
        let project = project.clone();
        let github = &github;
        async move {
            github.clear_requests();
            let peak = Arc::new(AtomicU64::new(0));
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
            let sync = call("sync_project", json!({"project_id": project})).await;
            let stream = browser
                .get(format!(
                    "{server}/api/v1/events/jobs/{}",
                    sync["job_id"].as_str().expect("a job")
                ))
                .send()
                .await
                .expect("stream");
            let mut body = stream.bytes_stream();
            let mut text = String::new();
            while let Some(chunk) = body.next().await {
                text.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
                if text.contains("event: end") {
                    break;
                }
            }
            let took = started.elapsed();
            sampling.store(false, Ordering::Relaxed);
            let _ = sampler.await;
            let done = call("get_sync", json!({"id": sync["id"]})).await;
            assert_eq!(done["status"], "completed", "{done}");
            let requests = github.requests().len();
            println!(
                "{label}: {:.2} s, {requests} GitHub requests, peak RSS {} MiB above idle ({} MiB idle); counts {}",
                took.as_secs_f64(),
                peak.load(Ordering::Relaxed).saturating_sub(idle) / 1024,
                idle / 1024,
                done["counts"],
            );
        }
    };

    run("first sync, 10,000 files").await;
    for n in (0..FILES).step_by(100) {
        repo.write(&format!("src/m{:02}/file_{n}.rs", n % 100), contents(n, 1));
    }
    repo.commit("1 % changed");
    run("re-sync, 100 files (1 %) changed").await;
    run("re-sync, nothing changed").await;
}

/// About `FILE_BYTES` of Rust-looking text, different per file and version.
fn contents(n: usize, version: usize) -> String {
    let mut text = format!("//! Module {n}, version {version}.\n\n");
    let mut line = 0;
    while text.len() < FILE_BYTES {
        text.push_str(&format!(
            "pub fn function_{n}_{line}(x: u64) -> u64 {{ x.wrapping_mul({}) ^ {version} }}\n",
            n * 31 + line
        ));
        line += 1;
    }
    text
}
