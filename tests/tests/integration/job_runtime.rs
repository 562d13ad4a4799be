//! The job runtime on a real database: two runtimes (as two instances would) sharing one queue,
//! retries, cancel, the reaper, and the storage sweep as a scheduled job.

use crate::fixtures::{count, exec};
use domain::sea_orm::ConnectionTrait;
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
    assert!(
        jobs::cancel(&app, queued, jobs::DEFAULT_STALE_AFTER)
            .await
            .unwrap()
    );
    assert_eq!(status_counts(&app, LongRunning::NAME, "cancelled").await, 1);

    let running = enqueue::<LongRunning>(&app, &Count { n: 2 }, Enqueue::default())
        .await
        .unwrap()
        .unwrap();
    let worker = tokio::spawn(async move { runtime.run_one().await });
    while *steps.lock().unwrap() < 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        jobs::cancel(&app, running, jobs::DEFAULT_STALE_AFTER)
            .await
            .unwrap()
    );
    assert!(worker.await.unwrap().unwrap(), "the job ran, then stopped");
    assert_eq!(status_counts(&app, LongRunning::NAME, "cancelled").await, 2);
    assert!(
        !jobs::cancel(&app, running, jobs::DEFAULT_STALE_AFTER)
            .await
            .unwrap(),
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
    // And one that already used its last attempt: an instance died of it three times.
    exec(
        &owner,
        "INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, heartbeat_at, locked_by, started_at)
         VALUES ($1, 'test.counting', $2, 'running', 3, 3, now() - interval '10 minutes', 'dead-instance', now() - interval '11 minutes')",
        vec![Uuid::new_v4().into(), serde_json::json!({"n": 9}).into()],
    )
    .await;
    let runs: Runs = Arc::default();
    let runtime = counting_runtime(db.app().await, "survivor", runs.clone())
        .register::<FailWhenStale, _, _>(|_ctx, _payload: Count| async { Ok(()) });
    runtime.run_until_idle().await.unwrap();
    // Its instance may have died of it: queued again, but not straight into the same crash.
    assert_eq!(runs.lock().unwrap().get(&7), None, "re-run at once");
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM jobs WHERE kind = 'test.counting' AND status = 'queued'
               AND run_after > now() + interval '1 second'",
            vec![]
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM jobs WHERE payload->>'n' = '9' AND status = 'failed'
               AND last_error LIKE '%no heartbeat%'",
            vec![]
        )
        .await,
        1,
        "no attempt after the last"
    );
    exec(
        &owner,
        "UPDATE jobs SET run_after = now() WHERE status = 'queued'",
        vec![],
    )
    .await;
    runtime.run_until_idle().await.unwrap();
    assert_eq!(
        runs.lock().unwrap().get(&7),
        Some(&1),
        "re-run by the survivor after the pause"
    );
    assert_eq!(runs.lock().unwrap().get(&9), None);
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

/// Panics in its body (as a `Value::Array` of absent values once did in a sync's finalize).
struct Panicking;
impl JobKind for Panicking {
    const NAME: &'static str = "test.panicking";
    type Payload = Count;
}

/// Sleeps for `n` seconds without ever looking at a cancel.
struct Stubborn;
impl JobKind for Stubborn {
    const NAME: &'static str = "test.stubborn";
    type Payload = Count;
}

/// [`Stubborn`], with attempts of at most two seconds.
struct Slow;
impl JobKind for Slow {
    const NAME: &'static str = "test.slow";
    type Payload = Count;
    const MAX_ATTEMPTS: i32 = 2;
    const TIMEOUT: Duration = Duration::from_secs(2);
    fn backoff(_attempt: i32) -> Duration {
        Duration::ZERO
    }
}

fn panicking_runtime(db: domain::sea_orm::DatabaseConnection, runs: Runs) -> Runtime {
    counting_runtime(db, "instance", runs)
        .register::<Panicking, _, _>(|_ctx, payload: Count| async move {
            assert!(
                payload.n == 0,
                "This Value::Array should consist of Value::String"
            );
            Ok(())
        })
        .register::<Stubborn, _, _>(|_ctx, payload: Count| async move {
            tokio::time::sleep(Duration::from_secs(u64::from(payload.n))).await;
            Ok(())
        })
        .register::<Slow, _, _>(|_ctx, payload: Count| async move {
            tokio::time::sleep(Duration::from_secs(u64::from(payload.n))).await;
            Ok(())
        })
}

#[tokio::test]
async fn a_panic_fails_its_attempt_with_the_message_and_the_runtime_goes_on() {
    let db = TestDb::migrated().await;
    let app = db.app().await;
    let runs: Runs = Arc::default();
    let runtime = panicking_runtime(db.app().await, runs.clone());
    let panics = enqueue::<Panicking>(&app, &Count { n: 1 }, Enqueue::default())
        .await
        .unwrap()
        .unwrap();
    enqueue::<Counting>(&app, &Count { n: 2 }, Enqueue::default())
        .await
        .unwrap();

    // A runtime as `cairn serve` runs it, until shutdown.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(runtime.run(async {
        let _ = stopped.await;
    }));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while runs.lock().unwrap().get(&2).is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the job after the panic never ran"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let owner = db.owner().await;
    // Failed at once, with the panic's message: another attempt would panic again.
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM jobs WHERE id = $1 AND status = 'failed' AND attempts = 1
               AND locked_by IS NULL
               AND last_error = 'the job panicked: This Value::Array should consist of Value::String'",
            vec![panics.into()],
        )
        .await,
        1
    );
    // Shutdown is prompt: nothing is stuck waiting for a dead task.
    let asked = std::time::Instant::now();
    stop.send(()).unwrap();
    running.await.unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
}

#[tokio::test]
async fn a_job_that_ignores_a_cancel_or_outlives_its_timeout_is_stopped_by_its_runtime() {
    let db = TestDb::migrated().await;
    let app = db.app().await;
    let owner = db.owner().await;
    let runtime = panicking_runtime(db.app().await, Arc::default());

    // Asked to stop, it never looks: its runtime drops its work after the grace.
    let stubborn = enqueue::<Stubborn>(&app, &Count { n: 60 }, Enqueue::default())
        .await
        .unwrap()
        .unwrap();
    let worker = tokio::spawn({
        let runtime = runtime.clone();
        async move { runtime.run_one().await }
    });
    while count(
        &owner,
        "SELECT count(*) FROM jobs WHERE id = $1 AND status = 'running'",
        vec![stubborn.into()],
    )
    .await
        == 0
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let asked = std::time::Instant::now();
    assert!(
        jobs::cancel(&app, stubborn, jobs::DEFAULT_STALE_AFTER)
            .await
            .unwrap()
    );
    assert!(worker.await.unwrap().unwrap());
    let took = asked.elapsed();
    assert!(
        took >= jobs::CANCEL_GRACE && took < jobs::CANCEL_GRACE + Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM jobs WHERE id = $1 AND status = 'cancelled'",
            vec![stubborn.into()]
        )
        .await,
        1
    );

    // Past its kind's timeout, each attempt is stopped and the job fails saying so.
    let slow = enqueue::<Slow>(&app, &Count { n: 60 }, Enqueue::default())
        .await
        .unwrap()
        .unwrap();
    let started = std::time::Instant::now();
    runtime.run_until_idle().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM jobs WHERE id = $1 AND status = 'failed' AND attempts = 2
               AND last_error = 'the attempt ran longer than its limit of 2 s and was stopped'",
            vec![slow.into()]
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_runtime_whose_job_was_taken_back_stops_it_and_writes_nothing_more() {
    let db = TestDb::migrated().await;
    let app = db.app().await;
    let owner = db.owner().await;
    let runtime = panicking_runtime(db.app().await, Arc::default());
    let job = enqueue::<Stubborn>(&app, &Count { n: 60 }, Enqueue::default())
        .await
        .unwrap()
        .unwrap();
    let worker = tokio::spawn(async move { runtime.run_one().await });
    while count(
        &owner,
        "SELECT count(*) FROM jobs WHERE id = $1 AND status = 'running'",
        vec![job.into()],
    )
    .await
        == 0
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // As if this runtime had stalled past its staleness limit: reaped, and claimed by another
    // instance for its next attempt.
    exec(
        &owner,
        "UPDATE jobs SET locked_by = 'another-instance', attempts = attempts + 1 WHERE id = $1",
        vec![job.into()],
    )
    .await;
    let stopped = tokio::time::timeout(Duration::from_secs(5), worker)
        .await
        .expect("the runtime noticed at its next heartbeat");
    assert!(stopped.unwrap().unwrap());
    // The other instance's attempt is untouched: still running, still its own.
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM jobs WHERE id = $1 AND status = 'running'
               AND locked_by = 'another-instance' AND attempts = 2",
            vec![job.into()]
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_cancel_of_a_job_whose_worker_is_gone_ends_it_as_cancelled() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    let app = db.app().await;
    // Silent for two minutes: its instance died.
    let stale = Uuid::new_v4();
    // Silent for ten seconds (within the limit): asked to stop; the reaper ends it once stale.
    let quiet = Uuid::new_v4();
    for (id, silent_for) in [(stale, "2 minutes"), (quiet, "10 seconds")] {
        exec(
            &owner,
            &format!(
                "INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, heartbeat_at, locked_by, started_at)
                 VALUES ($1, 'test.counting', '{{\"n\": 1}}', 'running', 1, 3, now() - interval '{silent_for}', 'dead-instance', now())"
            ),
            vec![id.into()],
        )
        .await;
    }
    assert!(
        jobs::cancel(&app, stale, jobs::DEFAULT_STALE_AFTER)
            .await
            .unwrap()
    );
    assert!(
        jobs::cancel(&app, quiet, jobs::DEFAULT_STALE_AFTER)
            .await
            .unwrap()
    );
    let status = |id: Uuid| {
        let owner = owner.clone();
        async move {
            let row = owner
                .query_one_raw(domain::sea_orm::Statement::from_sql_and_values(
                    domain::sea_orm::DbBackend::Postgres,
                    "SELECT status FROM jobs WHERE id = $1",
                    [id.into()],
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<String>("", "status").unwrap()
        }
    };
    assert_eq!(status(stale).await, "cancelled");
    assert_eq!(status(quiet).await, "running");
    // The reaper (with a 5 s limit here) ends it as cancelled, not failed, and never re-runs it.
    let runs: Runs = Arc::default();
    let runtime = counting_runtime(db.app().await, "survivor", runs.clone())
        .stale_after(Some(Duration::from_secs(5)));
    runtime.run_until_idle().await.unwrap();
    assert_eq!(status(quiet).await, "cancelled");
    assert!(runs.lock().unwrap().is_empty());
}

/// A long AI step: works until cancelled.
struct LongAiStep;
impl JobKind for LongAiStep {
    const NAME: &'static str = "test.ai_step";
    const QUEUE: &'static str = "ai";
    type Payload = Count;
}

/// A sync: records when it started.
struct QuickSync;
impl JobKind for QuickSync {
    const NAME: &'static str = "test.quick_sync";
    const QUEUE: &'static str = "sync";
    type Payload = Count;
}

#[tokio::test]
async fn a_long_job_of_one_queue_never_delays_a_job_of_another() {
    let db = TestDb::migrated().await;
    let app = db.app().await;
    let started: Arc<Mutex<Option<std::time::Instant>>> = Arc::default();
    let ai_running = Arc::new(tokio::sync::Notify::new());
    let runtime = Runtime::new(db.app().await, "instance")
        .listening_on(db.app_url())
        .register::<LongAiStep, _, _>({
            let ai_running = ai_running.clone();
            move |ctx, _payload: Count| {
                let ai_running = ai_running.clone();
                async move {
                    ai_running.notify_one();
                    // Sixty seconds, unless cancelled.
                    for _ in 0..600 {
                        if ctx.cancelled().await.unwrap_or(true) {
                            return Err(JobFailure::Cancelled);
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Ok(())
                }
            }
        })
        .register::<QuickSync, _, _>({
            let started = started.clone();
            move |_ctx, _payload: Count| {
                let started = started.clone();
                async move {
                    *started.lock().unwrap() = Some(std::time::Instant::now());
                    Ok(())
                }
            }
        });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(runtime.run(async {
        let _ = stopped.await;
    }));
    let step = enqueue::<LongAiStep>(&app, &Count { n: 1 }, Enqueue::default())
        .await
        .unwrap()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), ai_running.notified())
        .await
        .expect("the AI step started");
    let enqueued = std::time::Instant::now();
    enqueue::<QuickSync>(&app, &Count { n: 2 }, Enqueue::default())
        .await
        .unwrap();
    let deadline = enqueued + Duration::from_secs(5);
    let waited = loop {
        if let Some(at) = *started.lock().unwrap() {
            break at.duration_since(enqueued);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the sync never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert!(waited < Duration::from_millis(200), "{waited:?}");
    jobs::cancel(&app, step, jobs::DEFAULT_STALE_AFTER)
        .await
        .unwrap();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the runtime stopped")
        .unwrap();
}

#[tokio::test]
async fn one_teams_fifty_jobs_take_turns_with_another_teams_one() {
    let db = TestDb::migrated().await;
    let app = db.app().await;
    let owner = db.owner().await;
    let (busy, quiet) = (Uuid::new_v4(), Uuid::new_v4());
    for (tenant, name) in [(busy, "busy"), (quiet, "quiet")] {
        exec(
            &owner,
            "INSERT INTO tenants (id, name) VALUES ($1, $2)",
            vec![tenant.into(), name.into()],
        )
        .await;
    }
    for n in 0..50 {
        enqueue::<Counting>(
            &app,
            &Count { n },
            Enqueue {
                for_tenant: Some(busy),
                ..Enqueue::default()
            },
        )
        .await
        .unwrap();
    }
    enqueue::<Counting>(
        &app,
        &Count { n: 1000 },
        Enqueue {
            for_tenant: Some(quiet),
            ..Enqueue::default()
        },
    )
    .await
    .unwrap();
    let order: Arc<Mutex<Vec<u32>>> = Arc::default();
    let runtime = Runtime::new(db.app().await, "instance").register::<Counting, _, _>({
        let order = order.clone();
        move |_ctx, payload: Count| {
            let order = order.clone();
            async move {
                order.lock().unwrap().push(payload.n);
                Ok(())
            }
        }
    });
    runtime.run_until_idle().await.unwrap();
    let order = order.lock().unwrap().clone();
    assert_eq!(order.len(), 51);
    let quiet_turn = order.iter().position(|&n| n == 1000).unwrap();
    assert!(
        quiet_turn < 4,
        "the quiet team's job ran after {quiet_turn} of the busy team's: {order:?}"
    );
}

#[tokio::test]
async fn old_job_events_are_pruned_by_a_daily_job_and_recent_ones_kept() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    let tenant = Uuid::new_v4();
    exec(
        &owner,
        "INSERT INTO tenants (id, name) VALUES ($1, 'pruned')",
        vec![tenant.into()],
    )
    .await;
    // A team's job that finished 40 days ago, one that finished yesterday, one still running, and
    // a schedule check of no team that finished 40 days ago. Each team job has its status events.
    let (old, recent, running, old_check) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    for (id, for_tenant, status, finished) in [
        (old, Some(tenant), "completed", Some("40 days")),
        (recent, Some(tenant), "failed", Some("1 day")),
        (running, Some(tenant), "running", None),
        (old_check, None, "completed", Some("40 days")),
    ] {
        exec(
            &owner,
            &format!(
                "INSERT INTO jobs (id, kind, for_tenant, status, max_attempts, finished_at)
                 VALUES ($1, 'test.old', $2, $3, 1, {})",
                finished.map_or("NULL".to_owned(), |ago| format!("now() - interval '{ago}'"))
            ),
            vec![id.into(), for_tenant.into(), status.into()],
        )
        .await;
    }
    let events_of = |job: Uuid| {
        let owner = owner.clone();
        async move {
            count(
                &owner,
                "SELECT count(*) FROM job_events WHERE job_id = $1",
                vec![job.into()],
            )
            .await
        }
    };
    assert!(events_of(old).await > 0);

    // The instance schedules the pruning at start; its job runs in the maintenance queue.
    let app = spawn_app_on(db.clone(), |_| {}).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while count(
        &owner,
        "SELECT count(*) FROM jobs WHERE kind = 'jobs.prune_events' AND status = 'completed'",
        vec![],
    )
    .await
        == 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the pruning job never ran"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(events_of(old).await, 0);
    assert!(events_of(recent).await > 0, "yesterday's events are kept");
    assert!(events_of(running).await > 0);
    // The team's old job row stays (its sync's history may name it); the old check of no team goes.
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM jobs WHERE id = ANY($1)",
            vec![vec![old, recent, running].into()],
        )
        .await,
        3
    );
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM jobs WHERE id = $1",
            vec![old_check.into()],
        )
        .await,
        0
    );
    app.stop().await.unwrap();
}
