//! The job runtime on a real database: two runtimes (as two instances would) sharing one queue,
//! retries, cancel, the reaper, and the storage sweep as a scheduled job.

use crate::fixtures::{count, exec};
use jobs::{Enqueue, JobFailure, JobKind, Runtime, enqueue};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tests::{TestDb, spawn_app_on};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Count {
    n: u32,
}

/// Records each run of each job.
struct Counting;
impl JobKind for Counting {
    const NAME: &'static str = "test.counting";
    type Payload = Count;
}

/// Always asks for another attempt.
struct Flaky;
impl JobKind for Flaky {
    const NAME: &'static str = "test.flaky";
    type Payload = Count;
    const MAX_ATTEMPTS: i32 = 3;
    fn backoff(_attempt: i32) -> Duration {
        Duration::ZERO
    }
}

/// Works in steps until cancelled.
struct LongRunning;
impl JobKind for LongRunning {
    const NAME: &'static str = "test.long";
    type Payload = Count;
}

/// Reaped into failure, not queued again.
struct FailWhenStale;
impl JobKind for FailWhenStale {
    const NAME: &'static str = "test.fail_when_stale";
    type Payload = Count;
    const REQUEUE_WHEN_STALE: bool = false;
}

type Runs = Arc<Mutex<HashMap<u32, u32>>>;

fn counting_runtime(db: domain::sea_orm::DatabaseConnection, name: &str, runs: Runs) -> Runtime {
    Runtime::new(db, name).register::<Counting, _, _>(move |_ctx, payload: Count| {
        let runs = runs.clone();
        async move {
            // A little work, so that the two runtimes really overlap.
            tokio::time::sleep(Duration::from_millis(5)).await;
            *runs.lock().unwrap().entry(payload.n).or_default() += 1;
            Ok(())
        }
    })
}

async fn status_counts(db: &domain::sea_orm::DatabaseConnection, kind: &str, status: &str) -> i64 {
    count(
        db,
        "SELECT count(*) FROM jobs WHERE kind = $1 AND status = $2",
        vec![kind.into(), status.into()],
    )
    .await
}

#[tokio::test]
async fn every_job_runs_exactly_once_whichever_of_two_instances_claims_it() {
    let db = TestDb::migrated().await;
    let app = db.app().await;
    for n in 0..60 {
        enqueue::<Counting>(&app, &Count { n }, Enqueue::default())
            .await
            .unwrap();
    }
    let runs: Runs = Arc::default();
    let a = counting_runtime(db.app().await, "instance-a", runs.clone());
    let b = counting_runtime(db.app().await, "instance-b", runs.clone());
    let (ran_a, ran_b) = tokio::join!(a.run_until_idle(), b.run_until_idle());
    let (ran_a, ran_b) = (ran_a.unwrap(), ran_b.unwrap());
    assert_eq!(ran_a + ran_b, 60);
    assert!(
        ran_a > 0 && ran_b > 0,
        "both instances worked: {ran_a} + {ran_b}"
    );
    {
        let runs = runs.lock().unwrap();
        assert_eq!(runs.len(), 60);
        assert!(runs.values().all(|&times| times == 1), "{runs:?}");
    }
    assert_eq!(status_counts(&app, Counting::NAME, "completed").await, 60);
    let by_instance = count(
        &db.owner().await,
        "SELECT count(DISTINCT id) FROM jobs WHERE locked_by IS NOT NULL",
        vec![],
    )
    .await;
    assert_eq!(by_instance, 0, "finished jobs hold no lock");
}

#[tokio::test]
async fn retries_stop_at_the_bound_and_a_payload_that_does_not_fit_is_never_run() {
    let db = TestDb::migrated().await;
    let app = db.app().await;
    let attempts = Arc::new(Mutex::new(0));
    let seen = attempts.clone();
    let runtime = Runtime::new(db.app().await, "instance").register::<Flaky, _, _>(
        move |ctx, _payload: Count| {
            let seen = seen.clone();
            async move {
                *seen.lock().unwrap() += 1;
                Err(JobFailure::Retry(format!(
                    "GitHub answered 502 (attempt {})",
                    ctx.attempt()
                )))
            }
        },
    );
    enqueue::<Flaky>(&app, &Count { n: 1 }, Enqueue::default())
        .await
        .unwrap();
    runtime.run_until_idle().await.unwrap();
    assert_eq!(*attempts.lock().unwrap(), 3, "MAX_ATTEMPTS");
    let owner = db.owner().await;
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM jobs WHERE status = 'failed' AND attempts = 3
               AND last_error = 'GitHub answered 502 (attempt 3)'",
            vec![]
        )
        .await,
        1
    );

    // A payload that does not parse as its kind's fails at once, without running the body.
    exec(
        &owner,
        "INSERT INTO jobs (id, kind, payload, max_attempts) VALUES ($1, 'test.flaky', '{\"n\": \"two\"}', 3)",
        vec![Uuid::new_v4().into()],
    )
    .await;
    runtime.run_until_idle().await.unwrap();
    assert_eq!(*attempts.lock().unwrap(), 3, "the body never ran");
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM jobs WHERE status = 'failed' AND attempts = 1 AND last_error LIKE 'payload does not fit test.flaky%'",
            vec![]
        )
        .await,
        1
    );
}

#[tokio::test]
async fn cancel_stops_a_queued_job_at_once_and_a_running_one_at_its_next_step() {
    let db = TestDb::migrated().await;
    let app = db.app().await;
    let steps = Arc::new(Mutex::new(0u32));
    let counted = steps.clone();
    let runtime = Runtime::new(db.app().await, "instance").register::<LongRunning, _, _>(
        move |ctx, _payload: Count| {
            let counted = counted.clone();
            async move {
                loop {
                    if ctx
                        .cancelled()
                        .await
                        .map_err(|e| JobFailure::Retry(e.to_string()))?
                    {
                        return Err(JobFailure::Cancelled);
                    }
                    *counted.lock().unwrap() += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        },
    );
    let queued = enqueue::<LongRunning>(
        &app,
        &Count { n: 1 },
        Enqueue {
            run_after: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
            ..Enqueue::default()
        },
    )
    .await
    .unwrap()
    .unwrap();
    assert!(jobs::cancel(&app, queued).await.unwrap());
    assert_eq!(status_counts(&app, LongRunning::NAME, "cancelled").await, 1);

    let running = enqueue::<LongRunning>(&app, &Count { n: 2 }, Enqueue::default())
        .await
        .unwrap()
        .unwrap();
    let worker = tokio::spawn(async move { runtime.run_one().await });
    while *steps.lock().unwrap() < 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(jobs::cancel(&app, running).await.unwrap());
    assert!(worker.await.unwrap().unwrap(), "the job ran, then stopped");
    assert_eq!(status_counts(&app, LongRunning::NAME, "cancelled").await, 2);
    assert!(
        !jobs::cancel(&app, running).await.unwrap(),
        "nothing left to cancel"
    );
}

#[tokio::test]
async fn a_job_whose_instance_died_is_reaped_and_run_again_or_failed_per_kind() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    // As `kill -9` leaves them: running, claimed by an instance that no longer beats.
    for (kind, n) in [("test.counting", 7), ("test.fail_when_stale", 8)] {
        exec(
            &owner,
            "INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, heartbeat_at, locked_by, started_at)
             VALUES ($1, $2, $3, 'running', 1, 3, now() - interval '10 minutes', 'dead-instance', now() - interval '11 minutes')",
            vec![Uuid::new_v4().into(), kind.into(), serde_json::json!({"n": n}).into()],
        )
        .await;
    }
    let runs: Runs = Arc::default();
    let runtime = counting_runtime(db.app().await, "survivor", runs.clone())
        .register::<FailWhenStale, _, _>(|_ctx, _payload: Count| async { Ok(()) });
    runtime.run_until_idle().await.unwrap();
    assert_eq!(
        runs.lock().unwrap().get(&7),
        Some(&1),
        "re-run by the survivor"
    );
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM jobs WHERE kind = 'test.counting' AND status = 'completed' AND attempts = 2",
            vec![]
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM jobs WHERE kind = 'test.fail_when_stale' AND status = 'failed'
               AND last_error LIKE '%no heartbeat%'",
            vec![]
        )
        .await,
        1
    );
}

#[tokio::test]
async fn the_storage_sweep_runs_as_a_job_once_per_interval_across_two_instances() {
    let db = TestDb::migrated().await;
    let every_second = |s: &mut server::config::Settings| s.storage.sweep_interval_secs = 1;
    let first = spawn_app_on(db.clone(), every_second).await.unwrap();
    let second = spawn_app_on(db.clone(), every_second).await.unwrap();
    let owner = db.owner().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while count(
        &owner,
        "SELECT count(*) FROM jobs WHERE kind = 'storage.sweep' AND status = 'completed'",
        vec![],
    )
    .await
        < 3
    {
        assert!(std::time::Instant::now() < deadline, "no sweeps ran");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first.stop().await.unwrap();
    second.stop().await.unwrap();
    // Each one-second slot has one sweep, whichever instance enqueued it; none failed.
    let slots = count(
        &owner,
        "SELECT count(DISTINCT unique_key) FROM jobs WHERE kind = 'storage.sweep'",
        vec![],
    )
    .await;
    let sweeps = count(
        &owner,
        "SELECT count(*) FROM jobs WHERE kind = 'storage.sweep'",
        vec![],
    )
    .await;
    assert_eq!(slots, sweeps);
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM jobs WHERE kind = 'storage.sweep' AND status = 'failed'",
            vec![]
        )
        .await,
        0
    );
}
