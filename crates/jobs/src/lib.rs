#![doc = include_str!("../README.md")]

use futures_util::future::BoxFuture;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// A kind of background work: its name in the queue, its payload, and how it is retried and reaped.
pub trait JobKind: Send + Sync + 'static {
    /// The kind's name in the `jobs` table.
    const NAME: &'static str;
    /// The queue its jobs wait in. Each queue has workers of its own on every instance
    /// ([`Runtime::workers`]), so a long job of one queue (an AI step) never delays another's (a
    /// sync).
    const QUEUE: &'static str = "default";
    /// What a job of this kind carries.
    type Payload: Serialize + DeserializeOwned + Send + 'static;
    /// Attempts before the job fails for good.
    const MAX_ATTEMPTS: i32 = 3;
    /// A running job whose heartbeat is older than this is reaped (its instance died or hangs).
    const STALE_AFTER: Duration = DEFAULT_STALE_AFTER;
    /// Whether the reaper queues a stale job again (while attempts remain) or fails it.
    const REQUEUE_WHEN_STALE: bool = true;
    /// The longest one attempt may run: past it, the runtime drops the attempt's work and fails
    /// the attempt (retried while attempts remain), so no attempt runs for ever.
    const TIMEOUT: Duration = Duration::from_secs(3600);

    /// The wait before attempt `attempt + 1` after attempt `attempt` failed.
    fn backoff(attempt: i32) -> Duration {
        Duration::from_secs(2u64.saturating_pow(attempt.clamp(0, 16) as u32).min(300))
    }
}

/// Pauses before re-running a reaped job are the kind's backoff for attempts 1 to this (later
/// attempts wait as long as this one).
const CRASH_PAUSES: i32 = 16;

/// [`JobKind::STALE_AFTER`] unless a kind says otherwise.
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(60);

/// The queue's own failures (the database, a payload that cannot be written).
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The database failed.
    #[error("job queue database error: {0}")]
    Database(#[from] DbErr),
    /// The payload could not be serialized.
    #[error("job payload: {0}")]
    Payload(#[from] serde_json::Error),
}

/// Why a job's attempt did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobFailure {
    /// Worth another attempt (a service was down): retried after the kind's backoff, while attempts
    /// remain.
    Retry(String),
    /// Never worth another attempt: the job fails now.
    Fatal(String),
    /// The job saw its cancel request and stopped.
    Cancelled,
    /// Not now: a shared allowance (an hourly quota) is used up until `until`. The job waits in
    /// the queue until then, saying why, and the attempt is not counted.
    Postpone {
        /// When to run it again.
        until: chrono::DateTime<chrono::Utc>,
        /// Why, for the job's row.
        reason: String,
    },
}

/// Options of one enqueued job.
#[derive(Debug, Clone, Default)]
pub struct Enqueue {
    /// The tenant the job acts for (its work runs in that tenant's transaction).
    pub for_tenant: Option<Uuid>,
    /// The user who asked for it, if a user did (the job acts on their behalf).
    pub requested_by: Option<Uuid>,
    /// At most one job ever carries this key; a second enqueue with it adds nothing.
    pub unique_key: Option<String>,
    /// Not before this moment.
    pub run_after: Option<chrono::DateTime<chrono::Utc>>,
}

/// The channel an enqueue notifies (at commit), so idle runtimes start at once instead of at their
/// next poll.
const CHANNEL: &str = "cairn_jobs";

/// Enqueues a job of kind `K` on `db` (a connection, or the caller's transaction: the job then
/// exists only if the transaction commits). `None` when `unique_key` was taken already.
pub async fn enqueue<K: JobKind>(
    db: &impl ConnectionTrait,
    payload: &K::Payload,
    options: Enqueue,
) -> Result<Option<Uuid>, JobError> {
    let id = Uuid::now_v7();
    let payload = serde_json::to_value(payload)?;
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "WITH inserted AS (
                 INSERT INTO jobs (id, kind, for_tenant, payload, max_attempts, unique_key, run_after,
                                   requested_by)
                 VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now()), $8)
                 ON CONFLICT (unique_key) DO NOTHING
                 RETURNING id, kind)
             SELECT id, pg_notify('cairn_jobs', kind) FROM inserted",
            [
                id.into(),
                K::NAME.into(),
                options.for_tenant.into(),
                payload.into(),
                K::MAX_ATTEMPTS.into(),
                options.unique_key.into(),
                options.run_after.map(|at| at.fixed_offset()).into(),
                options.requested_by.into(),
            ],
        ))
        .await?;
    Ok(row.map(|_| id))
}

/// Cancels a job: a queued one at once, a running one at its next step (or, when it does not stop
/// within [`CANCEL_GRACE`], by its runtime dropping its work), and a running one whose heartbeat is
/// older than `stale_after` at once: its worker is gone and nothing else would end it. Whether it
/// was found still open.
pub async fn cancel(
    db: &impl ConnectionTrait,
    id: Uuid,
    stale_after: Duration,
) -> Result<bool, JobError> {
    let done = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE jobs
                SET cancel_requested = true,
                    status = CASE WHEN status = 'queued' OR heartbeat_at < now() - make_interval(secs => $2)
                                  THEN 'cancelled' ELSE status END,
                    locked_by = CASE WHEN status = 'queued' OR heartbeat_at < now() - make_interval(secs => $2)
                                     THEN NULL ELSE locked_by END,
                    finished_at = CASE WHEN status = 'queued' OR heartbeat_at < now() - make_interval(secs => $2)
                                       THEN now() ELSE finished_at END
              WHERE id = $1 AND status IN ('queued', 'running')",
            [id.into(), stale_after.as_secs_f64().into()],
        ))
        .await?;
    Ok(done.rows_affected() > 0)
}

/// How late after a heartbeat goes stale a reaper may notice it: runtimes reap before each claim,
/// and an idle one polls every second by default.
const REAP_SLACK: Duration = Duration::from_secs(5);

/// How long a running job asked to stop is given to stop at its own next step before its runtime
/// drops its work: a job waiting on a slow call does not hold a cancel for longer than this.
pub const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// The longest a job of `K` can stay unfinished once claimed, with the runtimes' overrides
/// (`None`: the kind's own limits): every attempt ends by its timeout, or (its worker gone) by the
/// reaper once its heartbeat is stale, and the pauses between attempts. How long a caller waiting
/// for such a job may wait at most.
pub fn lifetime<K: JobKind>(timeout: Option<Duration>, stale_after: Option<Duration>) -> Duration {
    let timeout = timeout.unwrap_or(K::TIMEOUT);
    let stale_after = stale_after.unwrap_or(K::STALE_AFTER);
    let attempts = K::MAX_ATTEMPTS.max(1);
    let mut total = Duration::ZERO;
    for attempt in 1..=attempts {
        total += timeout + stale_after + REAP_SLACK;
        if attempt < attempts {
            total += K::backoff(attempt);
        }
    }
    total
}

/// What a running job knows of itself.
#[derive(Clone)]
pub struct JobCtx {
    id: Uuid,
    kind: &'static str,
    attempt: i32,
    for_tenant: Option<Uuid>,
    requested_by: Option<Uuid>,
    db: DatabaseConnection,
}

impl JobCtx {
    /// The job's id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The job's kind ([`JobKind::NAME`]).
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The user who asked for the job, if a user did.
    pub fn requested_by(&self) -> Option<Uuid> {
        self.requested_by
    }

    /// Which attempt this is, from 1.
    pub fn attempt(&self) -> i32 {
        self.attempt
    }

    /// The tenant the job acts for, if any.
    pub fn for_tenant(&self) -> Option<Uuid> {
        self.for_tenant
    }

    /// Whether a cancel was requested: a job checks this between its steps and then returns
    /// [`JobFailure::Cancelled`].
    pub async fn cancelled(&self) -> Result<bool, JobError> {
        let row = self
            .db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT cancel_requested FROM jobs WHERE id = $1",
                [self.id.into()],
            ))
            .await?;
        Ok(match row {
            Some(row) => row.try_get("", "cancel_requested")?,
            None => true,
        })
    }
}

type Handler = Arc<
    dyn Fn(JobCtx, serde_json::Value) -> BoxFuture<'static, Result<(), JobFailure>> + Send + Sync,
>;

#[derive(Clone)]
struct Registered {
    handler: Handler,
    queue: &'static str,
    stale_after: Duration,
    timeout: Duration,
    requeue_when_stale: bool,
    backoff: fn(i32) -> Duration,
}

/// Runs jobs of the registered kinds from the shared queue, one at a time per runtime.
#[derive(Clone)]
pub struct Runtime {
    db: DatabaseConnection,
    instance: String,
    kinds: Arc<HashMap<&'static str, Registered>>,
    poll: Duration,
    listen_url: Option<String>,
    stale_after: Option<Duration>,
    timeout: Option<Duration>,
    workers: Arc<HashMap<String, usize>>,
}

/// Completes when a job was enqueued (never, without a listener). A broken connection is reopened by
/// the listener on the next call; meanwhile this waits a moment instead of spinning.
async fn notified(listener: &mut Option<sea_orm::sqlx::postgres::PgListener>) {
    match listener {
        Some(listener) => {
            if let Err(error) = listener.recv().await {
                tracing::debug!(%error, "job notifications interrupted");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        None => std::future::pending().await,
    }
}

/// What a heartbeat found.
enum Beat {
    /// The job is still this runtime's attempt; whether a cancel was asked for.
    Owned { cancel_requested: bool },
    /// The job is no longer this runtime's attempt (reaped, cancelled as stale, re-claimed).
    Lost,
    /// The heartbeat could not be written (the database did not answer).
    Unknown,
}

/// The outcome of a job's task: what it returned, or its panic as a failure.
fn outcome_of(
    joined: Result<Result<(), JobFailure>, tokio::task::JoinError>,
) -> Result<(), JobFailure> {
    match joined {
        Ok(outcome) => outcome,
        Err(error) if error.is_panic() => {
            let panic = error.into_panic();
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_owned());
            tracing::error!(panic = %message, "a job panicked");
            Err(JobFailure::Fatal(format!("the job panicked: {message}")))
        }
        // Only this runtime aborts a job's task, and it does not wait for it then.
        Err(_) => Err(JobFailure::Cancelled),
    }
}

/// A claimed job.
struct Claimed {
    id: Uuid,
    kind: String,
    payload: serde_json::Value,
    attempts: i32,
    max_attempts: i32,
    for_tenant: Option<Uuid>,
    requested_by: Option<Uuid>,
}

impl Runtime {
    /// A runtime on `db`, named `instance` in the rows it claims (`locked_by`).
    pub fn new(db: DatabaseConnection, instance: impl Into<String>) -> Self {
        Self {
            db,
            instance: instance.into(),
            kinds: Arc::new(HashMap::new()),
            poll: Duration::from_secs(1),
            listen_url: None,
            stale_after: None,
            timeout: None,
            workers: Arc::new(HashMap::new()),
        }
    }

    /// Runs up to `count` jobs of `queue` at once in [`Runtime::run`] (1 unless set).
    pub fn workers(mut self, queue: &str, count: usize) -> Self {
        Arc::make_mut(&mut self.workers).insert(queue.to_owned(), count.max(1));
        self
    }

    /// Listens for enqueued jobs on a connection of its own to `url` (the same database), so an
    /// idle runtime starts a new job at once rather than at its next poll.
    pub fn listening_on(self, url: impl Into<String>) -> Self {
        Self {
            listen_url: Some(url.into()),
            ..self
        }
    }

    /// Reaps a running job of any kind once its heartbeat is older than `limit`, instead of its
    /// kind's own [`JobKind::STALE_AFTER`] (`None`: each kind's own). Every runtime sharing a queue
    /// should use the same value.
    pub fn stale_after(self, limit: Option<Duration>) -> Self {
        Self {
            stale_after: limit,
            ..self
        }
    }

    /// Stops an attempt of any kind once it has run for `limit`, instead of its kind's own
    /// [`JobKind::TIMEOUT`] (`None`: each kind's own).
    pub fn attempt_timeout(self, limit: Option<Duration>) -> Self {
        Self {
            timeout: limit,
            ..self
        }
    }

    /// How long an idle runtime waits before looking for work again.
    pub fn polling_every(self, poll: Duration) -> Self {
        Self { poll, ..self }
    }

    /// Runs `handler` for jobs of kind `K`. Register every kind before [`Runtime::run`].
    pub fn register<K, F, Fut>(mut self, handler: F) -> Self
    where
        K: JobKind,
        F: Fn(JobCtx, K::Payload) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobFailure>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let erased: Handler = Arc::new(move |ctx, payload| {
            let handler = handler.clone();
            Box::pin(async move {
                // Parsed on the way out too: a payload that does not fit its kind never runs.
                let payload: K::Payload = serde_json::from_value(payload).map_err(|e| {
                    JobFailure::Fatal(format!("payload does not fit {}: {e}", K::NAME))
                })?;
                handler(ctx, payload).await
            })
        });
        Arc::make_mut(&mut self.kinds).insert(
            K::NAME,
            Registered {
                handler: erased,
                queue: K::QUEUE,
                stale_after: K::STALE_AFTER,
                timeout: K::TIMEOUT,
                requeue_when_stale: K::REQUEUE_WHEN_STALE,
                backoff: K::backoff,
            },
        );
        self
    }

    /// Enqueues `K` with `payload` once per `interval` slot, checking every `interval / 4`: however
    /// many instances run this schedule, one job per slot exists.
    pub fn every<K: JobKind>(
        &self,
        interval: Duration,
        payload: K::Payload,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()>
    where
        K::Payload: Sync,
    {
        let db = self.db.clone();
        let secs = interval.as_secs().max(1);
        tokio::spawn(async move {
            tokio::pin!(shutdown);
            let mut ticks = tokio::time::interval(Duration::from_secs(secs).div_f64(4.0));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = &mut shutdown => return,
                    _ = ticks.tick() => {}
                }
                let slot = chrono::Utc::now().timestamp().max(0) as u64 / secs;
                let options = Enqueue {
                    unique_key: Some(format!("{}@{slot}", K::NAME)),
                    ..Enqueue::default()
                };
                if let Err(error) = enqueue::<K>(&db, &payload, options).await {
                    tracing::warn!(kind = K::NAME, %error, "scheduling a job");
                }
            }
        })
    }

    /// Claims and runs jobs until `shutdown` completes; the jobs under way then finish first.
    ///
    /// Each queue of the registered kinds is served by a loop of its own, running up to its
    /// [`Runtime::workers`] jobs at once: claiming while a slot is free, and otherwise waiting for
    /// a job to end, a job to be enqueued (the listener) or the next poll.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let (wake, woken) = tokio::sync::watch::channel(0u64);
        let listening = self.listen_url.is_some().then(|| {
            let runtime = self.clone();
            let mut stopping = stopping.clone();
            tokio::spawn(async move {
                let mut listener = runtime.listener().await;
                loop {
                    tokio::select! {
                        _ = stopping.wait_for(|stop| *stop) => return,
                        () = notified(&mut listener) => wake.send_modify(|n| *n += 1),
                    }
                }
            })
        });
        let mut queues: Vec<&'static str> = self.kinds.values().map(|k| k.queue).collect();
        queues.sort_unstable();
        queues.dedup();
        let loops: Vec<_> = queues
            .into_iter()
            .map(|queue| {
                tokio::spawn(
                    self.clone()
                        .serve_queue(queue, woken.clone(), stopping.clone()),
                )
            })
            .collect();
        shutdown.await;
        let _ = stop.send(true);
        for served in loops {
            let _ = served.await;
        }
        if let Some(listening) = listening {
            let _ = listening.await;
        }
    }

    /// One queue's loop in [`Runtime::run`].
    async fn serve_queue(
        self,
        queue: &'static str,
        mut woken: tokio::sync::watch::Receiver<u64>,
        mut stopping: tokio::sync::watch::Receiver<bool>,
    ) {
        let kinds: Vec<&'static str> = self
            .kinds
            .iter()
            .filter(|(_, kind)| kind.queue == queue)
            .map(|(name, _)| *name)
            .collect();
        let slots = self.workers.get(queue).copied().unwrap_or(1);
        let mut running = tokio::task::JoinSet::new();
        while !*stopping.borrow() {
            if let Err(error) = self.reap_kinds(&kinds).await {
                tracing::warn!(%error, queue, "reaping stale jobs");
            }
            while running.len() < slots {
                match self.claim(&kinds).await {
                    Ok(Some(job)) => {
                        let runtime = self.clone();
                        running.spawn(async move {
                            if let Err(error) = runtime.run_claimed(job).await {
                                tracing::warn!(%error, "finishing a job");
                            }
                        });
                    }
                    Ok(None) => break,
                    Err(error) => {
                        tracing::warn!(%error, queue, "claiming a job");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = stopping.changed() => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
                () = tokio::time::sleep(self.poll) => {}
                _ = woken.changed() => {}
            }
        }
        while running.join_next().await.is_some() {}
    }

    async fn listener(&self) -> Option<sea_orm::sqlx::postgres::PgListener> {
        let url = self.listen_url.as_deref()?;
        let listening = async {
            let mut listener = sea_orm::sqlx::postgres::PgListener::connect(url).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sea_orm::sqlx::Error>(listener)
        };
        match listening.await {
            Ok(listener) => Some(listener),
            Err(error) => {
                tracing::warn!(%error, "listening for jobs; polling only");
                None
            }
        }
    }

    /// Runs due jobs until none is left (what tests use instead of sleeping); how many ran.
    pub async fn run_until_idle(&self) -> Result<usize, JobError> {
        let mut ran = 0;
        self.reap().await?;
        while self.run_one().await? {
            ran += 1;
        }
        Ok(ran)
    }

    /// Takes stale running jobs back: a job whose heartbeat is older than its kind's limit is
    /// queued again (while attempts remain and its kind says so) or failed; one asked to stop is
    /// cancelled. How many were taken.
    pub async fn reap(&self) -> Result<u64, JobError> {
        let kinds: Vec<&'static str> = self.kinds.keys().copied().collect();
        self.reap_kinds(&kinds).await
    }

    async fn reap_kinds(&self, kinds: &[&'static str]) -> Result<u64, JobError> {
        let mut reaped = 0;
        for (name, kind) in self.kinds.iter().filter(|(name, _)| kinds.contains(name)) {
            let done = self
                .db
                .execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "UPDATE jobs
                        SET status = CASE WHEN cancel_requested THEN 'cancelled'
                                          WHEN $3 AND attempts < max_attempts THEN 'queued'
                                          ELSE 'failed' END,
                            finished_at = CASE WHEN $3 AND attempts < max_attempts AND NOT cancel_requested
                                               THEN NULL ELSE now() END,
                            last_error = CASE WHEN cancel_requested THEN last_error
                                              ELSE 'its instance stopped answering (no heartbeat)' END,
                            -- An instance that died running it may have died of it (a repository
                            -- that exhausts memory): the next attempt waits the kind's backoff,
                            -- never straight into the same crash, and the attempts are capped.
                            run_after = now() + make_interval(
                                secs => ($4::float8[])[least(greatest(attempts, 1), $5)]),
                            locked_by = NULL
                      WHERE kind = $1 AND status = 'running'
                        AND heartbeat_at < now() - make_interval(secs => $2)",
                    [
                        (*name).into(),
                        self.stale_after
                            .unwrap_or(kind.stale_after)
                            .as_secs_f64()
                            .into(),
                        kind.requeue_when_stale.into(),
                        sea_orm::Value::from(
                            (1..=CRASH_PAUSES)
                                .map(|attempt| (kind.backoff)(attempt).as_secs_f64())
                                .collect::<Vec<f64>>(),
                        ),
                        CRASH_PAUSES.into(),
                    ],
                ))
                .await?;
            if done.rows_affected() > 0 {
                tracing::warn!(
                    kind = name,
                    jobs = done.rows_affected(),
                    "reaped stale jobs"
                );
            }
            reaped += done.rows_affected();
        }
        Ok(reaped)
    }

    /// Claims one due job of a registered kind and runs it; whether there was one.
    ///
    /// The job's work runs as a task of its own, so that whatever it does cannot take the runtime
    /// down: a panic ends the attempt (the job fails with the panic's message: a panic is a defect,
    /// and another attempt would run into it again) and the runtime goes on with the next job. While
    /// it runs, its heartbeat also reads whether the job is still this runtime's (the reaper may
    /// have taken it back, and another instance claimed it) and whether a cancel was asked for; the
    /// work is dropped when the job is no longer its own, when it outlives its timeout, and when it
    /// does not stop within [`CANCEL_GRACE`] of a cancel.
    pub async fn run_one(&self) -> Result<bool, JobError> {
        let kinds: Vec<&'static str> = self.kinds.keys().copied().collect();
        let Some(job) = self.claim(&kinds).await? else {
            return Ok(false);
        };
        self.run_claimed(job).await?;
        Ok(true)
    }

    /// Runs a claimed job to the end of its attempt and records how it ended.
    async fn run_claimed(&self, mut job: Claimed) -> Result<(), JobError> {
        let Some((&kind_name, kind)) = self.kinds.get_key_value(job.kind.as_str()) else {
            return Ok(());
        };
        let ctx = JobCtx {
            id: job.id,
            kind: kind_name,
            attempt: job.attempts,
            for_tenant: job.for_tenant,
            requested_by: job.requested_by,
            db: self.db.clone(),
        };
        let mut work = tokio::spawn((kind.handler)(ctx, std::mem::take(&mut job.payload)));
        let stale_after = self.stale_after.unwrap_or(kind.stale_after);
        // Often enough to notice a cancel soon, and at least three times per staleness limit.
        let beat = (stale_after / 3).clamp(Duration::from_millis(100), Duration::from_secs(1));
        let mut heartbeat = tokio::time::interval(beat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.tick().await;
        let timeout = self.timeout.unwrap_or(kind.timeout);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut cancel_seen: Option<tokio::time::Instant> = None;
        let outcome = loop {
            tokio::select! {
                joined = &mut work => break outcome_of(joined),
                _ = heartbeat.tick() => {}
            }
            match self.beat(&job).await {
                Beat::Owned { cancel_requested } => {
                    let now = tokio::time::Instant::now();
                    if cancel_requested {
                        let since = *cancel_seen.get_or_insert(now);
                        if now - since >= CANCEL_GRACE {
                            work.abort();
                            tracing::warn!(kind = %job.kind, job = %job.id, "the job did not stop within the cancel grace: its work was dropped");
                            break Err(JobFailure::Cancelled);
                        }
                    }
                    if now >= deadline {
                        work.abort();
                        if cancel_seen.is_some() {
                            break Err(JobFailure::Cancelled);
                        }
                        break Err(JobFailure::Retry(format!(
                            "the attempt ran longer than its limit of {} s and was stopped",
                            timeout.as_secs()
                        )));
                    }
                }
                Beat::Lost => {
                    // Reaped (this runtime stalled past the staleness limit) and perhaps running
                    // elsewhere now: whatever this attempt would still write is no longer its own.
                    work.abort();
                    tracing::warn!(kind = %job.kind, job = %job.id, "the job is no longer this runtime's: its work was dropped");
                    return Ok(());
                }
                Beat::Unknown => {}
            }
        };
        self.finish(&job, kind, outcome).await
    }

    /// Claims the next due job of `kinds`. Fair across teams: the team whose last job of these
    /// kinds started longest ago (or never, in the last minute) goes first, then the oldest due
    /// job. One team's fifty queued jobs take turns with another team's one.
    async fn claim(&self, kinds: &[&'static str]) -> Result<Option<Claimed>, JobError> {
        let kinds: Vec<String> = kinds.iter().map(|k| (*k).to_owned()).collect();
        let row = self
            .db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE jobs
                    SET status = 'running', attempts = attempts + 1, heartbeat_at = now(),
                        started_at = coalesce(started_at, now()), claimed_at = now(), locked_by = $2
                  WHERE id = (WITH turns AS (
                                   SELECT for_tenant, max(claimed_at) AS last_turn
                                     FROM jobs
                                    WHERE claimed_at > now() - interval '1 minute'
                                      AND kind = ANY($1) AND for_tenant IS NOT NULL
                                    GROUP BY for_tenant)
                              SELECT j.id FROM jobs j LEFT JOIN turns t ON t.for_tenant = j.for_tenant
                               WHERE j.status = 'queued' AND j.run_after <= now() AND j.kind = ANY($1)
                               ORDER BY t.last_turn NULLS FIRST, j.run_after
                               LIMIT 1
                               FOR UPDATE OF j SKIP LOCKED)
                  RETURNING id, kind, payload, attempts, max_attempts, for_tenant, requested_by",
                [kinds.into(), self.instance.clone().into()],
            ))
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(Claimed {
            id: row.try_get("", "id")?,
            kind: row.try_get("", "kind")?,
            payload: row.try_get("", "payload")?,
            attempts: row.try_get("", "attempts")?,
            max_attempts: row.try_get("", "max_attempts")?,
            for_tenant: row.try_get("", "for_tenant")?,
            requested_by: row.try_get("", "requested_by")?,
        }))
    }

    /// Writes the job's heartbeat, if the job is still this runtime's attempt.
    async fn beat(&self, job: &Claimed) -> Beat {
        let beat = self
            .db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE jobs SET heartbeat_at = now()
                  WHERE id = $1 AND status = 'running' AND locked_by = $2 AND attempts = $3
                 RETURNING cancel_requested",
                [
                    job.id.into(),
                    self.instance.clone().into(),
                    job.attempts.into(),
                ],
            ))
            .await;
        match beat {
            Ok(Some(row)) => Beat::Owned {
                cancel_requested: row.try_get("", "cancel_requested").unwrap_or(false),
            },
            Ok(None) => Beat::Lost,
            Err(error) => {
                tracing::warn!(%error, job = %job.id, "writing a job's heartbeat");
                Beat::Unknown
            }
        }
    }

    async fn finish(
        &self,
        job: &Claimed,
        kind: &Registered,
        outcome: Result<(), JobFailure>,
    ) -> Result<(), JobError> {
        let mut refund = 0;
        let (status, error, retry_in) = match outcome {
            Ok(()) => ("completed", None, None),
            Err(JobFailure::Cancelled) => ("cancelled", None, None),
            Err(JobFailure::Fatal(error)) => ("failed", Some(error), None),
            Err(JobFailure::Retry(error)) if job.attempts < job.max_attempts => {
                ("queued", Some(error), Some((kind.backoff)(job.attempts)))
            }
            Err(JobFailure::Retry(error)) => ("failed", Some(error), None),
            Err(JobFailure::Postpone { until, reason }) => {
                refund = 1;
                let wait = (until - chrono::Utc::now()).to_std().unwrap_or_default();
                ("queued", Some(reason), Some(wait))
            }
        };
        if let Some(error) = &error {
            tracing::warn!(kind = %job.kind, job = %job.id, attempt = job.attempts, status, %error, "job attempt failed");
        }
        let finished = self
            .db
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE jobs
                    SET status = $2, last_error = coalesce($3, last_error), locked_by = NULL,
                        run_after = now() + make_interval(secs => $4),
                        finished_at = CASE WHEN $2 = 'queued' THEN NULL ELSE now() END,
                        attempts = attempts - $7
                  WHERE id = $1 AND status = 'running' AND locked_by = $5 AND attempts = $6",
                [
                    job.id.into(),
                    status.into(),
                    error.into(),
                    retry_in.unwrap_or_default().as_secs_f64().into(),
                    self.instance.clone().into(),
                    job.attempts.into(),
                    refund.into(),
                ],
            ))
            .await?;
        if finished.rows_affected() == 0 {
            // Reaped or cancelled as stale meanwhile: the job's row says what happened to it.
            tracing::warn!(kind = %job.kind, job = %job.id, status, "the job was no longer this runtime's when its attempt ended");
        }
        Ok(())
    }
}
