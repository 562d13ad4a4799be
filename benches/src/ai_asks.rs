//! "Ask about this note" under load, against a running Cairn: `ai-asks BASE_URL SERVER_PID`. Starts
//! the local OpenAI-compatible server in this process, signs up, adds it as the team's provider,
//! then asks about a note 200 times at once through `ask_note` (the router, the answer and its
//! attempts stored); prints errors, latency percentiles and the server's resident memory before and
//! at its peak (sampled from /proc every 2 ms).

use benches::{latency_line, rss_kib};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tests::llm_double::LlmDouble;

const ASKS: usize = 200;

async fn call(http: &reqwest::Client, base: &str, name: &str, args: Value) -> (u16, Value) {
    let response = http
        .post(format!("{base}/api/v1/{name}"))
        .json(&args)
        .send()
        .await
        .expect(name);
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let base = args.next().expect("BASE_URL");
    let pid: u32 = args.next().expect("SERVER_PID").parse().expect("a pid");
    let double = LlmDouble::start().await;
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let ok = |(status, body): (u16, Value)| {
        assert!((200..300).contains(&status), "{status}: {body}");
        body
    };
    ok(call(&http, &base, "sign_up", json!({"form": {"email": "bench@example.com", "password": "correct horse battery staple", "display_name": "Bench", "tenant_name": "Bench"}})).await);
    ok(call(&http, &base, "save_ai_provider", json!({"id": null, "form": {"name": "openai", "kind": "open_ai", "base_url": double.base_url("openai"), "api_key": "sk-bench-0123456789", "models": "gpt-4o-mini"}})).await);
    let project = ok(call(&http, &base, "create_project", json!({"form": {"name": "Bench", "description": "", "github_repo": "", "github_branch": "", "github_path": ""}})).await);
    let note = ok(call(&http, &base, "create_note", json!({"project_id": project["id"], "form": {"title": "Deploys", "body": "We deploy with the blue-green script."}})).await);

    // Warm up: one ask.
    ok(call(
        &http,
        &base,
        "ask_note",
        json!({"note_id": note["id"], "question": "How?"}),
    )
    .await);
    let idle = rss_kib(pid);
    let peak = Arc::new(AtomicU64::new(idle));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let started = Instant::now();
    let asks = (0..ASKS).map(|n| {
        let (http, base, note) = (http.clone(), base.clone(), note["id"].clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let (status, body) = call(
                &http,
                &base,
                "ask_note",
                json!({"note_id": note, "question": format!("Question {n}?")}),
            )
            .await;
            (
                status == 200 && body["status"] == "answered",
                started.elapsed(),
            )
        })
    });
    let mut errors = 0;
    let mut latencies = Vec::new();
    for ask in futures_util::future::join_all(asks).await {
        let (answered, took) = ask.expect("task");
        if !answered {
            errors += 1;
        }
        latencies.push(took);
    }
    let all = started.elapsed();
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    println!(
        "{}; {errors} errors; all in {:.0} ms; server RSS {} MiB before, {} MiB at peak",
        latency_line("concurrent asks (ask_note)", "latency", latencies),
        all.as_secs_f64() * 1000.0,
        idle / 1024,
        peak.load(Ordering::Relaxed) / 1024
    );
    let stored = double.seen().len();
    println!("{stored} requests reached the provider (1 warm-up + {ASKS})");
}
