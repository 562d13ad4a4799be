//! Workflow runs' own cost, against a running Cairn: `workflow-runs BASE_URL SERVER_PID`. Starts
//! the local OpenAI-compatible server in this process (answering every step at once: 13 action
//! points, a plan naming each, a review, a final prompt), adds it as the team's provider, then:
//! one run of the built-in template with its fan-out made sequential (so every step is on the
//! critical path), timed from start to completed, less the model time its attempts recorded; and
//! 100 runs of the built-in template queued at once, with the server's resident memory sampled.

use benches::{Session, rss_kib};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tests::llm_double::{LlmDouble, Reply};

const RUNS: usize = 100;

fn prompt(body: &Value) -> String {
    body["messages"].to_string()
}

fn answer(body: &Value) -> Reply {
    let text = prompt(body);
    if text.contains("List every distinct action point") {
        Reply::Json(json!({"action_points": (1..=13).map(|n| json!({
            "id": format!("AP-{n}"), "title": format!("Change {n}"),
            "rationale": "Shown.", "acceptance": "Works."
        })).collect::<Vec<_>>()}))
    } else if let Some(rest) = text.split("Start with its id, ").nth(1) {
        let id = rest.split(',').next().unwrap_or_default();
        Reply::Text(format!("{id}\nFiles: src/lib.rs\nTests: one."))
    } else if text.contains("Review these implementation plans") {
        Reply::Json(json!({"review": "In order.", "insights": [
            {"title": "A finding", "body": "Kept.", "kind": "risk", "severity": "low"}
        ]}))
    } else {
        Reply::Text("Done: in order.".into())
    }
}

async fn wait_done(session: &Session, id: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let run = session.call("get_workflow_run", json!({"id": id})).await;
        match run["status"].as_str() {
            Some("completed") => return run,
            Some("queued" | "running") => {}
            other => panic!("the run ended {other:?}: {run}"),
        }
        assert!(Instant::now() < deadline, "the run did not end");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn steps(run: &Value) -> &[Value] {
    run["steps"].as_array().map_or(&[], Vec::as_slice)
}

fn model_ms(run: &Value) -> u64 {
    steps(run)
        .iter()
        .flat_map(|s| s["attempts"].as_array().map_or(&[][..], Vec::as_slice))
        .map(|a| a["latency_ms"].as_u64().unwrap_or(0))
        .sum()
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let base = args.next().expect("BASE_URL");
    let pid: u32 = args.next().expect("SERVER_PID").parse().expect("a pid");
    let double = LlmDouble::start().await;
    double.respond_with("openai", |body| Some(answer(body)));
    let session = Session::sign_up(&base).await;
    session.call("save_ai_provider", json!({"id": null, "form": {"name": "openai", "kind": "open_ai", "base_url": double.base_url("openai"), "api_key": "sk-bench-0123456789", "models": "gpt-4o-mini"}})).await;
    let project = session.call("create_project", json!({"form": {"name": "Bench", "description": "Workflows", "github_repo": "", "github_branch": "", "github_path": ""}})).await;
    let note = session.call("create_note", json!({"project_id": project["id"], "form": {"title": "Checkout", "body": "The checkout needs thirteen changes."}})).await;

    // The built-in template, its fan-out one item at a time: every step on the critical path.
    let mut sequential =
        session.call("list_workflow_templates", json!({})).await[0]["definition"].clone();
    sequential["name"] = json!("Sequential");
    sequential["steps"][1]["fan_out"]["concurrency"] = json!(1);
    session
        .call("save_workflow_template", json!({"definition": sequential}))
        .await;

    let start = |template: &'static str| {
        let (session, note) = (session.clone(), note["id"].clone());
        async move {
            session
                .call(
                    "start_workflow_run",
                    json!({"note_id": note, "template": template}),
                )
                .await["id"]
                .clone()
        }
    };
    // Warm up, then five timed sequential runs.
    wait_done(&session, &start("Sequential").await).await;
    let mut overheads = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let run = wait_done(&session, &start("Sequential").await).await;
        let wall = started.elapsed();
        let stored = steps(&run).len() as f64;
        let model = Duration::from_millis(model_ms(&run));
        let overhead = wall.saturating_sub(model);
        overheads.push((wall, model, overhead, stored));
    }
    overheads.sort_by_key(|(_, _, overhead, _)| *overhead);
    for (wall, model, overhead, run_steps) in &overheads {
        println!(
            "sequential run of {run_steps} steps: {:.1} ms wall, {:.1} ms in the model's attempts, \
             Cairn {:.1} ms ({:.2} ms a step)",
            wall.as_secs_f64() * 1e3,
            model.as_secs_f64() * 1e3,
            overhead.as_secs_f64() * 1e3,
            overhead.as_secs_f64() * 1e3 / run_steps
        );
    }
    let (_, _, median, run_steps) = overheads[overheads.len() / 2];
    println!(
        "median: Cairn's overhead {:.1} ms a run, {:.2} ms a step",
        median.as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3 / run_steps
    );

    // 100 runs of the built-in template queued at once.
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
    let mut ids = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        ids.push(start("Image to implementation").await);
    }
    let queued = started.elapsed();
    let mut stored = 0;
    for id in &ids {
        stored += steps(&wait_done(&session, id).await).len();
    }
    let all = started.elapsed();
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    println!(
        "{RUNS} runs queued at once ({:.0} ms to queue): all completed in {:.1} s, {:.1} runs/s, \
         {:.0} steps/s ({stored} steps)",
        queued.as_secs_f64() * 1e3,
        all.as_secs_f64(),
        RUNS as f64 / all.as_secs_f64(),
        stored as f64 / all.as_secs_f64()
    );
    println!(
        "server RSS: {} MiB idle, {} MiB at peak (+{} MiB)",
        idle / 1024,
        peak.load(Ordering::Relaxed) / 1024,
        (peak.load(Ordering::Relaxed).saturating_sub(idle)) / 1024
    );
}
