//! Account abuse figures, against a running Cairn that trusts `X-Forwarded-For` (so one machine can
//! play many clients):
//! 1. 300 concurrent sign-ups from one address;
//! 2. 300 concurrent sign-ups from 300 addresses (only the password-hashing bound holds them);
//! 3. 40 concurrent wrong passwords for one account.
//!
//! `account-abuse BASE_URL SERVER_PID`: prints the answers by status, the time each burst took and
//! the server's resident memory before and at its peak (sampled from /proc every 2 ms).

use benches::rss_kib;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Sends `requests` at once (each a POST of its JSON body with its `X-Forwarded-For`), sampling
/// the server's memory meanwhile; prints the answers by status.
async fn burst(
    label: &str,
    base: &str,
    pid: u32,
    requests: Vec<(String, serde_json::Value, String)>,
) {
    let peak = Arc::new(AtomicU64::new(0));
    let running = Arc::new(AtomicBool::new(true));
    let idle = rss_kib(pid);
    let sampler = {
        let (peak, running) = (peak.clone(), running.clone());
        tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let started = Instant::now();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let calls = requests.into_iter().map(|(name, body, forwarded)| {
        let http = http.clone();
        let url = format!("{base}/api/v1/{name}");
        async move {
            let started = Instant::now();
            let status = http
                .post(url)
                .header("x-forwarded-for", forwarded)
                .json(&body)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            (status, started.elapsed())
        }
    });
    let answers = futures_util::future::join_all(calls).await;
    let elapsed = started.elapsed();
    running.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for (status, _) in &answers {
        *by_status.entry(*status).or_default() += 1;
    }
    let mut times: Vec<Duration> = answers.iter().map(|(_, t)| *t).collect();
    times.sort();
    let ms = |d: Duration| d.as_millis();
    let statuses: Vec<String> = by_status.iter().map(|(s, n)| format!("{s}: {n}")).collect();
    println!(
        "{label}: {} in {:.2} s; answers {}; latency median {} ms, max {} ms; server RSS idle {} MiB, peak {} MiB (+{} MiB)",
        answers.len(),
        elapsed.as_secs_f64(),
        statuses.join(", "),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
        idle / 1024,
        peak.load(Ordering::Relaxed) / 1024,
        peak.load(Ordering::Relaxed).saturating_sub(idle) / 1024,
    );
}

fn sign_up(i: usize, prefix: &str) -> serde_json::Value {
    json!({"form": {"email": format!("{prefix}{i}@bench.example"), "password": "correct horse battery", "display_name": "Bench", "tenant_name": "Bench"}})
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .expect("usage: account-abuse BASE_URL SERVER_PID");
    let pid: u32 = args
        .next()
        .and_then(|p| p.parse().ok())
        .expect("SERVER_PID");

    let one_address: Vec<_> = (0..300)
        .map(|i| ("sign_up".into(), sign_up(i, "one"), "203.0.113.1".into()))
        .collect();
    burst(
        "300 concurrent sign-ups, one address",
        &base,
        pid,
        one_address,
    )
    .await;

    let many_addresses: Vec<_> = (0..300)
        .map(|i| {
            let forwarded = format!("10.{}.{}.1", i / 250, i % 250);
            ("sign_up".into(), sign_up(i, "many"), forwarded)
        })
        .collect();
    burst(
        "300 concurrent sign-ups, 300 addresses",
        &base,
        pid,
        many_addresses,
    )
    .await;

    let guesses: Vec<_> = (0..40)
        .map(|i| {
            (
                "log_in".into(),
                json!({"form": {"email": "one0@bench.example", "password": "wrong password!"}}),
                format!("198.51.100.{i}"),
            )
        })
        .collect();
    burst(
        "40 concurrent wrong passwords, one account",
        &base,
        pid,
        guesses,
    )
    .await;
}
