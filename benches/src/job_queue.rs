//! Job queue figures against a real Postgres (the one `cairn serve` runs on):
//! 1. enqueue-to-start latency on an idle queue (one job at a time, a runtime waiting);
//! 2. the same while two runtimes work through a stream of jobs (a busy queue);
//! 3. no-op jobs per second with one runtime and with two (as two instances would), and with one
//!    runtime running 4 at once;
//! 4. enqueue-to-start of syncs while 4 long AI jobs run on the same instance (their own queue).
//!
//! `job-queue APP_DATABASE_URL`

use jobs::{Enqueue, JobFailure, JobKind, Runtime, enqueue};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct NoOp;

#[derive(Serialize, Deserialize)]
struct Tick {
    n: u64,
}

impl JobKind for NoOp {
    const NAME: &'static str = "bench.noop";
    type Payload = Tick;
}

/// A long AI step (its own queue).
struct AiStep;

impl JobKind for AiStep {
    const NAME: &'static str = "bench.ai_step";
    const QUEUE: &'static str = "ai";
    type Payload = Tick;
}

/// A sync's start (its own queue).
struct SyncStart;

impl JobKind for SyncStart {
    const NAME: &'static str = "bench.sync_start";
    const QUEUE: &'static str = "sync";
    type Payload = Tick;
}

type Started = Arc<Mutex<HashMap<u64, Instant>>>;

async fn pool(url: &str, size: u32) -> DatabaseConnection {
    let mut options = ConnectOptions::new(url);
    options.max_connections(size).sqlx_logging(false);
    Database::connect(options).await.expect("connecting")
}

fn runtime(db: DatabaseConnection, url: &str, name: &str, started: Started) -> Runtime {
    Runtime::new(db, name)
        .listening_on(url)
        .register::<NoOp, _, _>(move |_ctx, tick: Tick| {
            let started = started.clone();
            async move {
                started
                    .lock()
                    .map_err(|_| JobFailure::Fatal("poisoned".into()))?
                    .insert(tick.n, Instant::now());
                Ok(())
            }
        })
}

fn percentiles(label: &str, samples: Vec<Duration>) {
    println!(
        "{label}: {}",
        benches::latency_line("jobs", "enqueue-to-start", samples)
    );
}

async fn clear(db: &DatabaseConnection) {
    use sea_orm::ConnectionTrait;
    db.execute_unprepared("DELETE FROM jobs WHERE kind LIKE 'bench.%'")
        .await
        .expect("clearing");
}

#[tokio::main]
async fn main() {
    let url = std::env::args()
        .nth(1)
        .expect("usage: job-queue APP_DATABASE_URL");
    let db = pool(&url, 8).await;
    clear(&db).await;

    // 1. Idle queue: one runtime waiting; jobs enqueued one at a time, 20 ms apart.
    let started: Started = Arc::default();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let wait_stop = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let worker = tokio::spawn(
        runtime(pool(&url, 2).await, &url, "bench-a", started.clone())
            .run(wait_stop(stopped.clone())),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut enqueued = HashMap::new();
    for n in 0..200u64 {
        enqueued.insert(n, Instant::now());
        enqueue::<NoOp>(&db, &Tick { n }, Enqueue::default())
            .await
            .expect("enqueue");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let latencies: Vec<Duration> = {
        let started = started.lock().expect("lock");
        enqueued
            .iter()
            .filter_map(|(n, at)| started.get(n).map(|s| s.duration_since(*at)))
            .collect()
    };
    percentiles("idle queue, 1 runtime", latencies);

    // 2. Busy queue: a second runtime joins; 2,000 jobs enqueued by 8 writers as fast as they go.
    started.lock().expect("lock").clear();
    let second = tokio::spawn(
        runtime(pool(&url, 2).await, &url, "bench-b", started.clone())
            .run(wait_stop(stopped.clone())),
    );
    let enqueued: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let writers = (0..8u64).map(|w| {
        let db = db.clone();
        let enqueued = enqueued.clone();
        async move {
            for i in 0..250u64 {
                let n = 10_000 + w * 1000 + i;
                enqueued.lock().expect("lock").insert(n, Instant::now());
                enqueue::<NoOp>(&db, &Tick { n }, Enqueue::default())
                    .await
                    .expect("enqueue");
            }
        }
    });
    futures_util::future::join_all(writers).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while started.lock().expect("lock").len() < 2000 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let latencies: Vec<Duration> = {
        let started = started.lock().expect("lock");
        let enqueued = enqueued.lock().expect("lock");
        enqueued
            .iter()
            .filter_map(|(n, at)| started.get(n).map(|s| s.duration_since(*at)))
            .collect()
    };
    percentiles(
        "busy queue (2,000 jobs from 8 writers), 2 runtimes",
        latencies,
    );
    let _ = stop.send(true);
    let _ = worker.await;
    let _ = second.await;

    // 3. Throughput: 3,000 due jobs, drained by one runtime, then by two at once.
    for runtimes in [1usize, 2] {
        clear(&db).await;
        for n in 0..3000u64 {
            enqueue::<NoOp>(&db, &Tick { n }, Enqueue::default())
                .await
                .expect("enqueue");
        }
        let mut all = Vec::new();
        for r in 0..runtimes {
            all.push(runtime(
                pool(&url, 2).await,
                &url,
                &format!("bench-{r}"),
                Arc::default(),
            ));
        }
        let begun = Instant::now();
        let ran: usize = futures_util::future::join_all(all.iter().map(|r| r.run_until_idle()))
            .await
            .into_iter()
            .map(|ran| ran.expect("running"))
            .sum();
        let elapsed = begun.elapsed();
        println!(
            "throughput, {runtimes} runtime(s): {ran} no-op jobs in {:.2} s = {:.0} jobs/s",
            elapsed.as_secs_f64(),
            ran as f64 / elapsed.as_secs_f64()
        );
    }

    // 3b. One runtime running 1 and then 4 jobs at once (`Runtime::run`, as `cairn serve` does).
    for workers in [1usize, 4] {
        clear(&db).await;
        for n in 0..3000u64 {
            enqueue::<NoOp>(&db, &Tick { n }, Enqueue::default())
                .await
                .expect("enqueue");
        }
        let started: Started = Arc::default();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let serving = runtime(pool(&url, 6).await, &url, "bench-w", started.clone())
            .workers("default", workers);
        let begun = Instant::now();
        let worker = tokio::spawn(serving.run(wait_stop(stopped)));
        let deadline = Instant::now() + Duration::from_secs(120);
        while count_done(&db).await < 3000 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let elapsed = begun.elapsed();
        let _ = stop.send(true);
        let _ = worker.await;
        println!(
            "throughput, 1 runtime running {workers} at once: 3000 no-op jobs in {:.2} s = {:.0} jobs/s",
            elapsed.as_secs_f64(),
            3000.0 / elapsed.as_secs_f64()
        );
    }

    // 4. Syncs while 4 long AI jobs run: 4 AI workers and 2 sync workers on one instance.
    clear(&db).await;
    let started: Started = Arc::default();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mixed = Runtime::new(pool(&url, 8).await, "bench-mixed")
        .listening_on(&url)
        .workers("ai", 4)
        .workers("sync", 2)
        .register::<AiStep, _, _>(|_ctx, _tick: Tick| async {
            // Longer than the syncs below take to go through.
            tokio::time::sleep(Duration::from_secs(8)).await;
            Ok(())
        })
        .register::<SyncStart, _, _>({
            let started = started.clone();
            move |_ctx, tick: Tick| {
                let started = started.clone();
                async move {
                    started
                        .lock()
                        .map_err(|_| JobFailure::Fatal("poisoned".into()))?
                        .insert(tick.n, Instant::now());
                    Ok(())
                }
            }
        });
    let worker = tokio::spawn(mixed.run(wait_stop(stopped)));
    for n in 0..4u64 {
        enqueue::<AiStep>(&db, &Tick { n }, Enqueue::default())
            .await
            .expect("enqueue");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut enqueued = HashMap::new();
    for n in 0..200u64 {
        enqueued.insert(n, Instant::now());
        enqueue::<SyncStart>(&db, &Tick { n }, Enqueue::default())
            .await
            .expect("enqueue");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let latencies: Vec<Duration> = {
        let started = started.lock().expect("lock");
        enqueued
            .iter()
            .filter_map(|(n, at)| started.get(n).map(|s| s.duration_since(*at)))
            .collect()
    };
    percentiles("syncs while 4 AI jobs run (their own queue)", latencies);
    let _ = stop.send(true);
    let _ = worker.await;
    clear(&db).await;
}

async fn count_done(db: &DatabaseConnection) -> i64 {
    use sea_orm::ConnectionTrait;
    db.query_one_raw(sea_orm::Statement::from_string(
        sea_orm::DbBackend::Postgres,
        "SELECT count(*) AS n FROM jobs WHERE kind = 'bench.noop' AND status = 'completed'",
    ))
    .await
    .expect("counting")
    .and_then(|row| row.try_get::<i64>("", "n").ok())
    .unwrap_or(0)
}
