//! The router's own cost, against the local OpenAI-compatible server: the latency it adds to a call
//! over a direct `async-openai` call to the same endpoint (p50, p99); the time from a credit error to
//! the fallback's request (measured where the server sees both requests arrive, so it includes the
//! error's trip back); and 200 concurrent calls through one router (errors, p99, this process's
//! RSS). Everything runs on 127.0.0.1 and stops by itself.

use api::ai::ProviderKind;
use async_openai::Client;
use async_openai::config::OpenAIConfig;
use benches::{latency_line, rss_kib};
use llm::{Catalog, Chain, ChatRequest, ProviderConfig, Router, RouterSettings};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tests::llm_double::{LlmDouble, Reply};

const CALLS: usize = 2000;

fn percentile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)]
}

#[tokio::main]
async fn main() {
    let double = LlmDouble::start().await;
    let provider = |name: &str, kind| ProviderConfig {
        name: name.into(),
        kind,
        base_url: double.base_url(name),
        api_key: Some("sk-bench".to_owned().into()),
    };
    let router = Arc::new(
        Router::new(
            vec![
                provider("anthropic", ProviderKind::Anthropic),
                provider("openai", ProviderKind::OpenAi),
            ],
            Catalog::builtin(),
            RouterSettings::default(),
        )
        .expect("router"),
    );
    let request = ChatRequest {
        user: "How do we deploy?".into(),
        max_tokens: 100,
        ..ChatRequest::default()
    };
    let openai_only = Chain::parse(["openai/gpt-4o-mini"]).expect("chain");
    let direct = Client::with_config(
        OpenAIConfig::new()
            .with_api_base(double.base_url("openai"))
            .with_api_key("sk-bench"),
    );
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "How do we deploy?"}], "max_tokens": 100, "stream": false});

    // Warm both paths (connections, allocations), then alternate them so drift hits both alike.
    for _ in 0..200 {
        let _: Value = direct
            .chat()
            .create_byot(body.clone())
            .await
            .expect("direct");
        router
            .chat(&openai_only, &request, None, None)
            .await
            .expect("router");
    }
    let (mut direct_samples, mut routed_samples) = (Vec::new(), Vec::new());
    for _ in 0..CALLS {
        let started = Instant::now();
        let _: Value = direct
            .chat()
            .create_byot(body.clone())
            .await
            .expect("direct");
        direct_samples.push(started.elapsed());
        let started = Instant::now();
        router
            .chat(&openai_only, &request, None, None)
            .await
            .expect("router");
        routed_samples.push(started.elapsed());
    }
    println!(
        "{}",
        latency_line(
            "direct async-openai calls",
            "latency",
            direct_samples.clone()
        )
    );
    println!(
        "{}",
        latency_line(
            "calls through the router",
            "latency",
            routed_samples.clone()
        )
    );
    let (d50, r50) = (
        percentile(&mut direct_samples, 0.5),
        percentile(&mut routed_samples, 0.5),
    );
    let (d99, r99) = (
        percentile(&mut direct_samples, 0.99),
        percentile(&mut routed_samples, 0.99),
    );
    let added = |r: Duration, d: Duration| (r.as_secs_f64() - d.as_secs_f64()) * 1000.0;
    println!(
        "router overhead: p50 {:+.3} ms, p99 {:+.3} ms (target: p50 ≤ 1 ms)",
        added(r50, d50),
        added(r99, d99)
    );

    // A credit error, then the fallback: the gap between the two requests' arrivals.
    let chain =
        Chain::parse(["anthropic/claude-sonnet-4-20250514", "openai/gpt-4o-mini"]).expect("chain");
    let mut gaps = Vec::new();
    for _ in 0..500 {
        double.clear();
        double.reply("anthropic", Reply::anthropic_out_of_credit());
        router.set_health("anthropic", llm::Health::default());
        let answer = router
            .chat(&chain, &request, None, None)
            .await
            .expect("fallback answers");
        assert_eq!(answer.provider, "openai");
        let seen = double.seen();
        gaps.push(seen[1].at - seen[0].at);
    }
    println!(
        "{}",
        latency_line(
            "credit errors",
            "first request in → fallback request in",
            gaps
        )
    );

    // 200 concurrent calls through one router.
    router.set_health("anthropic", llm::Health::default());
    let idle = rss_kib(std::process::id());
    let started = Instant::now();
    let calls = (0..200).map(|_| {
        let router = router.clone();
        let (chain, request) = (openai_only.clone(), request.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let outcome = router.chat(&chain, &request, None, None).await;
            (outcome.is_ok(), started.elapsed())
        })
    });
    let mut errors = 0;
    let mut latencies = Vec::new();
    for call in futures_util::future::join_all(calls).await {
        let (ok, took) = call.expect("task");
        if !ok {
            errors += 1;
        }
        latencies.push(took);
    }
    println!(
        "{}; {errors} errors; all in {:.0} ms; RSS {} MiB (idle {} MiB)",
        latency_line("concurrent calls", "latency", latencies),
        started.elapsed().as_secs_f64() * 1000.0,
        rss_kib(std::process::id()) / 1024,
        idle / 1024
    );
}
