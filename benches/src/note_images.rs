//! Upload and render figures for notes with many images, against a running Cairn.
//!
//! `note-images BASE_URL SERVER_PID`: signs up, then
//! 1. uploads 20 images of 5 MiB at once and 100 images of 5 MiB at once (20 concurrent), printing
//!    the aggregate throughput and the server's resident memory before and at its peak (sampled
//!    from /proc every 2 ms while the uploads run);
//! 2. server-renders a note holding 50 images 200 times and prints the latency percentiles.

use benches::rss_kib;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const MIB: usize = 1024 * 1024;

struct Cairn {
    base: String,
    http: reqwest::Client,
}

impl Cairn {
    async fn call(&self, name: &str, args: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/api/v1/{name}", self.base))
            .json(&args)
            .send()
            .await
            .expect(name);
        assert!(
            response.status().is_success(),
            "{name}: {}",
            response.status()
        );
        response.json().await.expect("json")
    }

    async fn note(&self, project: &Value, title: &str) -> String {
        let note = self
            .call(
                "create_note",
                json!({"project_id": project["id"], "form": {"title": title, "body": "Benchmark"}}),
            )
            .await;
        note["id"].as_str().expect("id").to_owned()
    }

    async fn upload(&self, note: &str, bytes: bytes::Bytes) {
        let response = self
            .http
            .post(format!("{}/api/v1/notes/{note}/images", self.base))
            .body(bytes)
            .send()
            .await
            .expect("upload");
        assert_eq!(
            response.status().as_u16(),
            201,
            "{}",
            response.text().await.unwrap_or_default()
        );
    }
}

/// Uploads `count` copies of `image`, `concurrency` at a time, spread over notes of at most 50.
async fn upload_run(
    cairn: &Arc<Cairn>,
    project: &Value,
    pid: u32,
    count: usize,
    concurrency: usize,
    image: bytes::Bytes,
) {
    let mut notes = Vec::new();
    for n in 0..count.div_ceil(50) {
        notes.push(
            cairn
                .note(project, &format!("Upload run {count}/{n}"))
                .await,
        );
    }
    let idle = rss_kib(pid);
    let peak = Arc::new(AtomicU64::new(idle));
    let running = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, running) = (peak.clone(), running.clone());
        std::thread::spawn(move || {
            while running.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..count {
        let (cairn, image, semaphore) = (cairn.clone(), image.clone(), semaphore.clone());
        let note = notes[i / 50].clone();
        tasks.push(tokio::spawn(async move {
            let _permit = semaphore.acquire_owned().await.expect("semaphore");
            cairn.upload(&note, image).await;
        }));
    }
    for task in tasks {
        task.await.expect("upload task");
    }
    let elapsed = started.elapsed();
    running.store(false, Ordering::Relaxed);
    sampler.join().expect("sampler");
    let bytes = (count * image.len()) as f64;
    let peak = peak.load(Ordering::Relaxed);
    println!(
        "upload {count} x {:.1} MiB, {concurrency} at once: {:.2} s, {:.0} MB/s ({:.0} MiB/s); server RSS idle {} MiB, peak {} MiB, peak above idle {} MiB",
        image.len() as f64 / MIB as f64,
        elapsed.as_secs_f64(),
        bytes / elapsed.as_secs_f64() / 1e6,
        bytes / elapsed.as_secs_f64() / MIB as f64,
        idle / 1024,
        peak / 1024,
        peak.saturating_sub(idle) / 1024,
    );
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let base = args.next().expect("usage: note-images BASE_URL SERVER_PID");
    let pid: u32 = args
        .next()
        .and_then(|p| p.parse().ok())
        .expect("SERVER_PID");
    let cairn = Arc::new(Cairn {
        base,
        http: reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .expect("client"),
    });
    cairn
        .call("sign_up", json!({"form": {"email": "bench@example.com", "password": "correct horse battery", "display_name": "Bench", "tenant_name": "Bench"}}))
        .await;
    let project = cairn
        .call("create_project", json!({"form": {"name": "Bench", "description": "", "github_repo": "", "github_branch": "", "github_path": ""}}))
        .await;

    // A real 5 MiB PNG (uncompressed pixel data), the same bytes for every upload.
    let image = bytes::Bytes::from(tests::images::png_of_size(5 * MIB, [120, 60, 200]));
    // Warm the server's pools and allocator with one small run first.
    upload_run(&cairn, &project, pid, 4, 4, image.clone()).await;
    upload_run(&cairn, &project, pid, 20, 20, image.clone()).await;
    upload_run(&cairn, &project, pid, 100, 20, image.clone()).await;

    // Server-side render of a note with 50 images.
    let note = cairn.note(&project, "Fifty screenshots").await;
    let small = bytes::Bytes::from(tests::images::png(320, 200, [30, 140, 90]));
    for _ in 0..50 {
        cairn.upload(&note, small.clone()).await;
    }
    let page = format!(
        "{}/projects/{}/notes/{note}",
        cairn.base,
        project["id"].as_str().expect("id")
    );
    let first = cairn
        .http
        .get(&page)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert_eq!(
        first.matches("class=\"thumb\"").count(),
        50,
        "the page renders all 50 images"
    );
    for _ in 0..20 {
        cairn
            .http
            .get(&page)
            .send()
            .await
            .expect("page")
            .bytes()
            .await
            .expect("html");
    }
    let mut times = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        let body = cairn
            .http
            .get(&page)
            .send()
            .await
            .expect("page")
            .bytes()
            .await
            .expect("html");
        times.push(started.elapsed());
        assert!(body.len() > 10_000);
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "SSR note with 50 images ({} KiB of HTML), 200 requests: median {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        first.len() / 1024,
        ms(times[100]),
        ms(times[190]),
        ms(times[198]),
        ms(times[199]),
    );
}
