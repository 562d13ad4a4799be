//! Live event latency across processes: a job in this process reports progress events (each its
//! own committed transaction, as a sync's steps would), and a Server-Sent Events client reads them
//! from `cairn serve`, another process with its own listener. The figure is from just before each
//! commit to the event's arrival at the client: Postgres NOTIFY, the server's fan-out, its re-read
//! under the session's row-level security, and HTTP.
//!
//! Then the cost of a job step's fence: the same empty transaction of a job, with its lease taken
//! (`Db::enter`: the job's row share-locked, still running as this attempt) and without
//! (`Db::begin_tenant`), 2,000 of each, alternating.
//!
//! `job-events APP_DATABASE_URL SERVER_URL`

use api::ids::{JobId, TenantId, UserId};
use domain::{Db, DomainError, TenantCtx, job_runs};
use futures_util::StreamExt;
use jobs::{JobCtx, JobFailure, JobKind, Runtime};
use sea_orm::{ConnectOptions, Database};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Progress;

#[derive(Serialize, Deserialize)]
struct Plan {
    events: u64,
    pause_ms: u64,
}

impl JobKind for Progress {
    const NAME: &'static str = "bench.progress";
    type Payload = Plan;
    const MAX_ATTEMPTS: i32 = 1;
}

type Stamps = Arc<Mutex<HashMap<u64, Instant>>>;

/// Times empty job transactions, fenced and not.
struct Fence;

impl JobKind for Fence {
    const NAME: &'static str = "bench.fence";
    type Payload = Plan;
    const MAX_ATTEMPTS: i32 = 1;
}

type Timings = Arc<Mutex<(Vec<Duration>, Vec<Duration>)>>;

async fn fence(db: Db, job: JobCtx, plan: Plan, timings: Timings) -> Result<(), JobFailure> {
    let fail = |e: DomainError| e.into_job_failure();
    let ctx = TenantCtx::for_job(&db, &job).await.map_err(fail)?;
    let (mut fenced, mut bare) = (Vec::new(), Vec::new());
    for _ in 0..plan.events {
        let begun = Instant::now();
        db.enter(&ctx)
            .await
            .map_err(fail)?
            .commit()
            .await
            .map_err(fail)?;
        fenced.push(begun.elapsed());
        let begun = Instant::now();
        let txn = db.begin_tenant(&ctx).await.map_err(fail)?;
        txn.commit()
            .await
            .map_err(|e| JobFailure::Retry(e.to_string()))?;
        bare.push(begun.elapsed());
    }
    *timings
        .lock()
        .map_err(|_| JobFailure::Fatal("poisoned".into()))? = (fenced, bare);
    Ok(())
}

async fn report(db: Db, job: JobCtx, plan: Plan, committed: Stamps) -> Result<(), JobFailure> {
    let ctx = TenantCtx::for_job(&db, &job)
        .await
        .map_err(DomainError::into_job_failure)?;
    for n in 1..=plan.events {
        let tx = db
            .enter(&ctx)
            .await
            .map_err(DomainError::into_job_failure)?;
        job_runs::report_progress(&tx, &serde_json::json!({ "n": n }))
            .await
            .map_err(DomainError::into_job_failure)?;
        committed
            .lock()
            .map_err(|_| JobFailure::Fatal("poisoned".into()))?
            .insert(n, Instant::now());
        tx.commit().await.map_err(DomainError::into_job_failure)?;
        tokio::time::sleep(Duration::from_millis(plan.pause_ms)).await;
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(app_url), Some(server)) = (args.next(), args.next()) else {
        panic!("usage: job-events APP_DATABASE_URL SERVER_URL");
    };
    let mut options = ConnectOptions::new(&app_url);
    options.max_connections(4).sqlx_logging(false);
    let pool = Database::connect(options).await.expect("connecting");
    let db = Db::new(pool.clone());

    // A member, signed in to the server like a browser.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let email = format!("bench-{}@example.com", uuid::Uuid::new_v4().simple());
    let session: serde_json::Value = browser
        .post(format!("{server}/api/v1/sign_up"))
        .json(&serde_json::json!({"form": {"email": email, "password": "correct horse battery", "display_name": "Bench", "tenant_name": "Bench"}}))
        .send()
        .await
        .expect("signing up")
        .json()
        .await
        .expect("session");
    let user: UserId = serde_json::from_value(session["user_id"].clone()).expect("user");
    let tenant: TenantId =
        serde_json::from_value(session["active_tenant"].clone()).expect("tenant");
    let ctx = TenantCtx::for_member(&db, user, tenant)
        .await
        .expect("member");

    for (label, events, pause_ms) in [
        ("steady, 1 event / 10 ms", 500, 10),
        ("burst, back to back", 500, 0),
    ] {
        let plan = Plan { events, pause_ms };
        let job: JobId = db
            .transact(&ctx, async |tx| {
                job_runs::enqueue::<Progress>(tx, &plan).await
            })
            .await
            .expect("enqueueing");
        let stream = browser
            .get(format!("{server}/api/v1/events/jobs/{job}"))
            .send()
            .await
            .expect("opening the stream");
        assert_eq!(stream.status(), 200);
        let committed: Stamps = Arc::default();
        let worker_stamps = committed.clone();
        let worker_db = db.clone();
        let worker = Runtime::new(pool.clone(), "bench-worker").register::<Progress, _, _>(
            move |job, plan| report(worker_db.clone(), job, plan, worker_stamps.clone()),
        );
        let running = tokio::spawn(async move { worker.run_one().await });

        let mut received: HashMap<u64, Instant> = HashMap::new();
        let mut body = stream.bytes_stream();
        let mut buffer = String::new();
        let reading = async {
            while let Some(chunk) = body.next().await {
                let now = Instant::now();
                buffer.push_str(std::str::from_utf8(&chunk.expect("chunk")).expect("utf-8"));
                while let Some(end) = buffer.find("\n\n") {
                    let block: String = buffer.drain(..end + 2).collect();
                    if block.contains("event: end") {
                        return;
                    }
                    if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: "))
                        && let Ok(event) = serde_json::from_str::<serde_json::Value>(data)
                        && let Some(n) = event["progress"]["n"].as_u64()
                    {
                        received.insert(n, now);
                    }
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(120), reading)
            .await
            .expect("the stream did not finish in time");
        running.await.expect("worker").expect("running the job");

        let committed = committed.lock().expect("stamps");
        let latencies: Vec<Duration> = received
            .iter()
            .filter_map(|(n, at)| committed.get(n).map(|sent| at.duration_since(*sent)))
            .collect();
        assert_eq!(latencies.len() as u64, events, "every event arrived");
        println!(
            "{label}: {}",
            benches::latency_line("events", "commit-to-client", latencies)
        );
    }

    // The fence's cost per job transaction.
    let plan = Plan {
        events: 2000,
        pause_ms: 0,
    };
    db.transact(&ctx, async |tx| job_runs::enqueue::<Fence>(tx, &plan).await)
        .await
        .expect("enqueueing");
    let timings: Timings = Arc::default();
    let (worker_db, worker_timings) = (db.clone(), timings.clone());
    let worker =
        Runtime::new(pool.clone(), "bench-fence").register::<Fence, _, _>(move |job, plan| {
            fence(worker_db.clone(), job, plan, worker_timings.clone())
        });
    worker.run_one().await.expect("running the fence job");
    let (fenced, bare) = std::mem::take(&mut *timings.lock().expect("timings"));
    let median = |mut samples: Vec<Duration>| {
        samples.sort();
        samples[samples.len() / 2]
    };
    let (fenced_median, bare_median) = (median(fenced.clone()), median(bare.clone()));
    println!(
        "job transaction with its lease: {}",
        benches::latency_line("transactions", "begin-to-commit", fenced)
    );
    println!(
        "job transaction without:        {}",
        benches::latency_line("transactions", "begin-to-commit", bare)
    );
    println!(
        "the fence costs {:.0} µs a transaction (median {:.0} µs against {:.0} µs)",
        (fenced_median.as_secs_f64() - bare_median.as_secs_f64()) * 1e6,
        fenced_median.as_secs_f64() * 1e6,
        bare_median.as_secs_f64() * 1e6,
    );
}
