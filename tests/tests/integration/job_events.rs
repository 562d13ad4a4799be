//! Live job events over Server-Sent Events. The job runs on one instance (a job runtime with its
//! own pool, as a worker would) and its events are read from another (a full Cairn, with its own
//! listener): the only path between them is Postgres. Also: tenant checks on the stream, resuming
//! with `Last-Event-ID`, keep-alives, cancel through the API, and a job step that changes several
//! tables in one transaction.

use crate::fixtures::count;
use crate::rpc::signed_up;
use api::ids::{JobId, TenantId, UserId};
use domain::{Db, DomainError, TenantCtx, job_runs, notes, projects};
use futures_util::StreamExt;
use jobs::{JobCtx, JobFailure, JobKind, Runtime};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;
use tests::{RpcClient, TestApp, TestDb, spawn_app_on};

/// Reports `steps` progress events, a little apart, checking for a cancel between them.
struct Steps;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StepsPayload {
    steps: u32,
    pause_ms: u64,
}

impl JobKind for Steps {
    const NAME: &'static str = "test.steps";
    type Payload = StepsPayload;
    const MAX_ATTEMPTS: i32 = 1;
}

async fn run_steps(db: Db, job: JobCtx, payload: StepsPayload) -> Result<(), JobFailure> {
    let ctx = TenantCtx::for_job(&db, &job)
        .await
        .map_err(DomainError::into_job_failure)?;
    for step in 1..=payload.steps {
        if job
            .cancelled()
            .await
            .map_err(|e| JobFailure::Retry(e.to_string()))?
        {
            return Err(JobFailure::Cancelled);
        }
        db.transact(&ctx, async |tx| {
            job_runs::report_progress(tx, &json!({"step": step, "of": payload.steps})).await
        })
        .await
        .map_err(DomainError::into_job_failure)?;
        tokio::time::sleep(Duration::from_millis(payload.pause_ms)).await;
    }
    Ok(())
}

/// The worker instance: a runtime on a pool of its own that runs `Steps`.
fn worker(db: &TestDb, pool: sea_orm::DatabaseConnection) -> Runtime {
    let domain_db = Db::new(pool.clone());
    Runtime::new(pool, "worker-a")
        .listening_on(db.app_url())
        .register::<Steps, _, _>(move |job, payload| run_steps(domain_db.clone(), job, payload))
}

/// One event as the stream sent it.
#[derive(Debug, Clone)]
pub(crate) struct Sse {
    pub(crate) id: i64,
    pub(crate) event: String,
    pub(crate) data: Value,
}

/// Reads Server-Sent Events from `response` until `until` says stop or the stream ends, within
/// 20 s. Keep-alive comments are counted.
pub(crate) async fn read_events(
    response: reqwest::Response,
    until: impl Fn(&[Sse]) -> bool,
) -> (Vec<Sse>, usize) {
    let mut body = response.bytes_stream();
    let mut buffer = String::new();
    let mut events = Vec::new();
    let mut comments = 0;
    let reading = async {
        while let Some(chunk) = body.next().await {
            buffer.push_str(std::str::from_utf8(&chunk.expect("stream chunk")).expect("utf-8"));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), String::new());
                for line in block.lines() {
                    if line.starts_with(':') {
                        comments += 1;
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().parse::<i64>().expect("numeric id"));
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if let Some(id) = id {
                    events.push(Sse {
                        id,
                        event,
                        data: serde_json::from_str(&data).expect("JSON data"),
                    });
                }
                if until(&events) {
                    return;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), reading)
        .await
        .expect("the stream did not deliver in time");
    (events, comments)
}

pub(crate) async fn open_stream(
    client: &RpcClient,
    app: &TestApp,
    job: JobId,
    last: Option<i64>,
) -> reqwest::Response {
    let mut request = client.authorised(
        client
            .http
            .get(app.url(&format!("/api/v1/events/jobs/{job}"))),
    );
    if let Some(last) = last {
        request = request.header("last-event-id", last.to_string());
    }
    request.send().await.expect("opening the event stream")
}

/// A member's context, from the session the sign-up answered with.
async fn member_ctx(app: &TestApp, session: &Value) -> TenantCtx {
    let user: UserId = serde_json::from_value(session["user_id"].clone()).unwrap();
    let tenant: TenantId = serde_json::from_value(session["active_tenant"].clone()).unwrap();
    TenantCtx::for_member(&app.state.ctx.db, user, tenant)
        .await
        .unwrap()
}

async fn enqueue_steps(app: &TestApp, ctx: &TenantCtx, steps: u32, pause_ms: u64) -> JobId {
    app.state
        .ctx
        .db
        .transact(ctx, async |tx| {
            job_runs::enqueue::<Steps>(tx, &StepsPayload { steps, pause_ms }).await
        })
        .await
        .unwrap()
}

fn progress_steps(events: &[Sse]) -> Vec<i64> {
    events
        .iter()
        .filter(|e| e.event == "progress")
        .map(|e| e.data["progress"]["step"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn another_instance_streams_every_progress_event_in_order_and_resumes_after_last_event_id() {
    let db = TestDb::migrated().await;
    let worker_pool = db.app().await;
    let worker = worker(&db, worker_pool);
    let app = spawn_app_on(db, |_| {}).await.unwrap();
    let (ada, session) = signed_up(&app, "ada@example.com", "Engines").await;
    let ctx = member_ctx(&app, &session).await;
    let job = enqueue_steps(&app, &ctx, 12, 15).await;

    // Connected before the job starts: the stream waits, then follows it live.
    let stream = open_stream(&ada, &app, job, None).await;
    assert_eq!(stream.status(), 200);
    assert_eq!(
        stream.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let running = tokio::spawn(async move { worker.run_one().await.unwrap() });
    let (events, _) = read_events(stream, |seen| seen.iter().any(|e| e.event == "end")).await;
    assert!(running.await.unwrap(), "the worker ran the job");

    // Every event, once, in order: queued, running, 12 steps, completed (the end).
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
    assert_eq!(events.first().unwrap().data["status"], "queued");
    assert_eq!(events[1].data["status"], "running");
    assert_eq!(progress_steps(&events), (1..=12).collect::<Vec<_>>());
    let end = events.last().unwrap();
    assert_eq!(end.event, "end");
    assert_eq!(end.data["status"], "completed");
    assert_eq!(end.data["type"], "status");

    // A reconnect after step 5 gets steps 6..12 and the end, nothing it had already.
    let fifth = events
        .iter()
        .find(|e| e.event == "progress" && e.data["progress"]["step"] == 5)
        .unwrap()
        .id;
    let resumed = open_stream(&ada, &app, job, Some(fifth)).await;
    let (replayed, _) = read_events(resumed, |seen| seen.iter().any(|e| e.event == "end")).await;
    assert_eq!(progress_steps(&replayed), (6..=12).collect::<Vec<_>>());
    assert!(replayed.iter().all(|e| e.id > fifth));
    assert_eq!(replayed.last().unwrap().event, "end");
    // Resuming after the end: the stream closes at once, with nothing.
    let after_end = open_stream(&ada, &app, job, Some(end.id)).await;
    let (nothing, _) = read_events(after_end, |_| false).await;
    assert!(nothing.is_empty(), "{nothing:?}");
}

#[tokio::test]
async fn a_stream_is_for_members_of_the_jobs_tenant_only() {
    let app = spawn_app_on(TestDb::migrated().await, |_| {})
        .await
        .unwrap();
    let (ada, session) = signed_up(&app, "ada@example.com", "Engines").await;
    let (bob, _) = signed_up(&app, "bob@example.com", "Bob's").await;
    let ctx = member_ctx(&app, &session).await;
    let job = enqueue_steps(&app, &ctx, 1, 0).await;

    // Another tenant's job is exactly as missing as a job that does not exist.
    let foreign = open_stream(&bob, &app, job, None).await;
    assert_eq!(foreign.status(), 404);
    let body: Value = foreign.json().await.unwrap();
    assert_eq!(body["kind"], "not_found", "{body}");
    let unknown = open_stream(&ada, &app, JobId::from_uuid(uuid::Uuid::now_v7()), None).await;
    assert_eq!(unknown.status(), 404);
    let malformed = ada.get("/api/v1/events/jobs/not-a-uuid").await;
    assert_eq!(malformed.status(), 404);
    // Nobody signed in.
    let anonymous = app.get(&format!("/api/v1/events/jobs/{job}")).await;
    assert_eq!(anonymous.status(), 401);
    // Bob cannot cancel it either, and it is untouched.
    let (status, _) = bob.call("cancel_job", json!({"id": job})).await;
    assert_eq!(status, 404);
    let owner = app.db.owner().await;
    let queued = count(
        &owner,
        "SELECT count(*) FROM jobs WHERE id = $1 AND status = 'queued' AND NOT cancel_requested",
        vec![job.into_uuid().into()],
    )
    .await;
    assert_eq!(queued, 1);
}

#[tokio::test]
async fn an_idle_stream_sends_keep_alives() {
    let app = spawn_app_on(TestDb::migrated().await, |settings| {
        settings.server.sse_keep_alive_secs = 1;
    })
    .await
    .unwrap();
    let (ada, session) = signed_up(&app, "ada@example.com", "Engines").await;
    let ctx = member_ctx(&app, &session).await;
    // Nobody runs it: after its "queued" event the stream has nothing to say for a while.
    let job = enqueue_steps(&app, &ctx, 1, 0).await;
    // A browser that accepts compressed answers still gets the stream as it is: a compressor
    // would hold events back until it had enough to compress.
    let stream = ada
        .http
        .get(app.url(&format!("/api/v1/events/jobs/{job}")))
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .expect("opening the event stream");
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers().get("content-encoding"), None);
    let started = std::time::Instant::now();
    let mut body = stream.bytes_stream();
    let mut text = String::new();
    while started.elapsed() < Duration::from_millis(3500) {
        match tokio::time::timeout(Duration::from_millis(500), body.next()).await {
            Ok(Some(chunk)) => text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap()),
            Ok(None) => panic!("the stream ended: {text}"),
            Err(_) => {}
        }
    }
    assert!(text.contains("event: status"), "{text}");
    let keep_alives = text.lines().filter(|l| l.starts_with(':')).count();
    assert!(
        keep_alives >= 2,
        "{keep_alives} keep-alives in 3.5 s: {text:?}"
    );
}

#[tokio::test]
async fn cancel_through_the_api_stops_a_running_job_at_its_next_step() {
    let db = TestDb::migrated().await;
    let worker = worker(&db, db.app().await);
    let app = spawn_app_on(db, |_| {}).await.unwrap();
    let (ada, session) = signed_up(&app, "ada@example.com", "Engines").await;
    let ctx = member_ctx(&app, &session).await;
    let job = enqueue_steps(&app, &ctx, 200, 20).await;
    let stream = open_stream(&ada, &app, job, None).await;
    let running = tokio::spawn(async move { worker.run_one().await.unwrap() });

    // Cancel once three steps were reported.
    let canceller = ada.clone();
    let (events, _) = read_events(stream, move |seen| {
        if progress_steps(seen).len() == 3 {
            let canceller = canceller.clone();
            tokio::spawn(async move { canceller.ok("cancel_job", json!({"id": job})).await });
        }
        seen.iter().any(|e| e.event == "end")
    })
    .await;
    running.await.unwrap();
    let end = events.last().unwrap();
    assert_eq!(end.data["status"], "cancelled", "{events:?}");
    let steps = progress_steps(&events).len();
    assert!(
        (3..10).contains(&steps),
        "stopped soon after the cancel: {steps} steps"
    );
    // Cancelling what is over is refused; the cancel was audited as Ada's.
    let (status, body) = ada.call("cancel_job", json!({"id": job})).await;
    assert_eq!(status, 409, "{body}");
    let owner = app.db.owner().await;
    let audited = count(
        &owner,
        "SELECT count(*) FROM audit_log WHERE action = 'job.cancel' AND target_id = $1 AND actor_user_id IS NOT NULL",
        vec![job.into_uuid().into()],
    )
    .await;
    assert_eq!(audited, 1);
}

/// A step that writes to several tables (a project, a note, the audit log, the job's progress)
/// in one transaction through the domain's functions: all of it or none.
struct Import;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ImportPayload {
    name: String,
    fail_before_commit: bool,
}

impl JobKind for Import {
    const NAME: &'static str = "test.import";
    type Payload = ImportPayload;
    const MAX_ATTEMPTS: i32 = 1;
}

async fn import(db: Db, job: JobCtx, payload: ImportPayload) -> Result<(), JobFailure> {
    let ctx = TenantCtx::for_job(&db, &job)
        .await
        .map_err(DomainError::into_job_failure)?;
    db.transact(&ctx, async |tx| {
        let form = api::projects::ProjectForm {
            name: payload.name.clone(),
            description: String::new(),
            github_repo: String::new(),
            github_branch: String::new(),
            github_path: String::new(),
            sync_ignore: String::new(),
            sync_every_minutes: String::new(),
        }
        .parse()?;
        let created = projects::create(tx, form).await?;
        let note = api::notes::NoteForm {
            title: "Imported".into(),
            body: "From the job".into(),
        }
        .parse()?;
        notes::create(tx, created.id, note).await?;
        job_runs::report_progress(tx, &json!({"imported": payload.name})).await?;
        if payload.fail_before_commit {
            return Err(domain::DomainError::Unavailable {
                service: "GitHub".into(),
                retry_after_secs: None,
            });
        }
        Ok(())
    })
    .await
    .map_err(DomainError::into_job_failure)
}

#[tokio::test]
async fn a_job_step_changes_several_tables_in_one_transaction_as_the_job() {
    let db = TestDb::migrated().await;
    let pool = db.app().await;
    let domain_db = Db::new(pool.clone());
    let worker = Runtime::new(pool, "worker-a")
        .register::<Import, _, _>(move |job, payload| import(domain_db.clone(), job, payload));
    let app = spawn_app_on(db, |_| {}).await.unwrap();
    let (ada, session) = signed_up(&app, "ada@example.com", "Engines").await;
    let ctx = member_ctx(&app, &session).await;
    let enqueue = async |name: &str, fail: bool| {
        app.state
            .ctx
            .db
            .transact(&ctx, async |tx| {
                job_runs::enqueue::<Import>(
                    tx,
                    &ImportPayload {
                        name: name.into(),
                        fail_before_commit: fail,
                    },
                )
                .await
            })
            .await
            .unwrap()
    };
    let failing = enqueue("Half", true).await;
    let whole = enqueue("Whole", false).await;
    assert_eq!(worker.run_until_idle().await.unwrap(), 2);

    let owner = app.db.owner().await;
    let statuses = |job: JobId| {
        let owner = owner.clone();
        async move {
            count(
                &owner,
                "SELECT count(*) FROM jobs WHERE id = $1 AND status = 'completed'",
                vec![job.into_uuid().into()],
            )
            .await
        }
    };
    assert_eq!(statuses(whole).await, 1);
    assert_eq!(statuses(failing).await, 0);
    // The failed step left nothing: no project, no note, no audit entry, no progress event.
    let projects = ada.ok("list_projects", json!({})).await;
    let names: Vec<&str> = projects
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Whole"]);
    let notes = count(&owner, "SELECT count(*) FROM project_notes", vec![]).await;
    assert_eq!(notes, 1);
    let progress = count(
        &owner,
        "SELECT count(*) FROM job_events WHERE kind = 'progress' AND job_id = $1",
        vec![failing.into_uuid().into()],
    )
    .await;
    assert_eq!(progress, 0);
    // The whole one is audited as done by the job, on Ada's behalf (she asked for it).
    let by_job = count(
        &owner,
        "SELECT count(*) FROM audit_log
          WHERE action IN ('project.create', 'note.create')
            AND actor_user_id = $1 AND detail->'by_job'->>'kind' = 'test.import'
            AND detail->'by_job'->>'id' = $2",
        vec![
            ctx.user_id().unwrap().into_uuid().into(),
            whole.to_string().into(),
        ],
    )
    .await;
    assert_eq!(by_job, 2);
    let created_by = count(
        &owner,
        "SELECT count(*) FROM projects WHERE name = 'Whole' AND created_by = $1",
        vec![ctx.user_id().unwrap().into_uuid().into()],
    )
    .await;
    assert_eq!(created_by, 1);
}

#[tokio::test]
async fn a_worker_killed_mid_step_leaves_nothing_half_applied_and_another_instance_runs_the_job_again()
 {
    use tests::crash::{TwoTables, TwoTablesPayload};
    let app = spawn_app_on(TestDb::migrated().await, |_| {})
        .await
        .unwrap();
    let (ada, session) = signed_up(&app, "ada@example.com", "Engines").await;
    let ctx = member_ctx(&app, &session).await;
    let scratch = tempfile::tempdir().unwrap();
    let marker = scratch.path().join("halfway");
    let payload = TwoTablesPayload {
        name: "Imported".into(),
        halfway_marker: marker.clone(),
    };
    let job = app
        .state
        .ctx
        .db
        .transact(&ctx, async |tx| {
            job_runs::enqueue::<TwoTables>(tx, &payload).await
        })
        .await
        .unwrap();

    // A worker process claims the job and stops halfway through its step; it is killed there.
    let mut worker = std::process::Command::new(env!("CARGO_BIN_EXE_cairn-test-worker"))
        .arg(app.db.app_url())
        .spawn()
        .expect("starting the worker process");
    let started = std::time::Instant::now();
    while !marker.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the worker never got halfway"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.kill().expect("SIGKILL"); // std sends SIGKILL on Unix: no cleanup runs.
    worker.wait().unwrap();

    let owner = app.db.owner().await;
    let projects_now = async || count(&owner, "SELECT count(*) FROM projects", vec![]).await;
    let notes_now = async || count(&owner, "SELECT count(*) FROM project_notes", vec![]).await;
    assert_eq!(projects_now().await, 0, "half a step became visible");
    assert_eq!(notes_now().await, 0);
    let running = count(
        &owner,
        "SELECT count(*) FROM jobs WHERE id = $1 AND status = 'running' AND locked_by LIKE 'crash-worker-%'",
        vec![job.into_uuid().into()],
    )
    .await;
    assert_eq!(running, 1, "the dead worker still holds the job");

    // Another instance reaps it once its heartbeat is older than the kind's limit, and runs it.
    let takeover = tests::crash::runtime(app.db.app().await, "instance-b");
    let reaping = std::time::Instant::now();
    while takeover.reap().await.unwrap() == 0 {
        assert!(reaping.elapsed() < Duration::from_secs(15), "never reaped");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(run_after_its_pause(&takeover).await, 1);
    assert_eq!(projects_now().await, 1);
    assert_eq!(notes_now().await, 1);
    let completed = count(
        &owner,
        "SELECT count(*) FROM jobs WHERE id = $1 AND status = 'completed' AND attempts = 2",
        vec![job.into_uuid().into()],
    )
    .await;
    assert_eq!(completed, 1);

    // Its stream tells the story: the second attempt's progress only (the first was rolled back).
    let stream = open_stream(&ada, &app, job, None).await;
    let (events, _) = read_events(stream, |seen| seen.iter().any(|e| e.event == "end")).await;
    let statuses: Vec<&str> = events
        .iter()
        .filter(|e| e.event != "progress")
        .map(|e| e.data["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        vec!["queued", "running", "queued", "running", "completed"]
    );
    let requeued = events
        .iter()
        .find(|e| e.data["status"] == "queued" && e.data["attempt"] == 1)
        .unwrap();
    assert!(
        requeued.data["error"]
            .as_str()
            .unwrap()
            .contains("stopped answering"),
        "{requeued:?}"
    );
    assert_eq!(events.iter().filter(|e| e.event == "progress").count(), 1);
}

#[tokio::test]
async fn a_job_killed_after_two_paid_steps_runs_only_the_third_when_taken_over() {
    use tests::crash::{ThreeSteps, ThreeStepsPayload};
    use tests::llm_double::{LlmDouble, Reply};
    let double = LlmDouble::start().await;
    for answer in ["The outline.", "The plan.", "The review.", "Paid twice!"] {
        double.reply("openai", Reply::Text(answer.into()));
    }
    let app = spawn_app_on(TestDb::migrated().await, |_| {})
        .await
        .unwrap();
    let (ada, session) = signed_up(&app, "ada@example.com", "Engines").await;
    let ctx = member_ctx(&app, &session).await;
    let scratch = tempfile::tempdir().unwrap();
    let marker = scratch.path().join("halfway");
    let payload = ThreeStepsPayload {
        llm_url: double.base_url("openai"),
        halfway_marker: marker.clone(),
    };
    let job = app
        .state
        .ctx
        .db
        .transact(&ctx, async |tx| {
            job_runs::enqueue::<ThreeSteps>(tx, &payload).await
        })
        .await
        .unwrap();

    // A worker process runs the first two steps (two paid calls) and is killed after them.
    let mut worker = std::process::Command::new(env!("CARGO_BIN_EXE_cairn-test-worker"))
        .arg(app.db.app_url())
        .spawn()
        .expect("starting the worker process");
    let started = std::time::Instant::now();
    while !marker.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the worker never finished step two"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.kill().expect("SIGKILL");
    worker.wait().unwrap();
    assert_eq!(double.seen().len(), 2);

    // Another instance takes it over: it runs the third step only, and uses the stored outputs of
    // the first two.
    let takeover = tests::crash::runtime(app.db.app().await, "instance-b");
    let reaping = std::time::Instant::now();
    while takeover.reap().await.unwrap() == 0 {
        assert!(reaping.elapsed() < Duration::from_secs(15), "never reaped");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(run_after_its_pause(&takeover).await, 1);
    let seen = double.seen();
    assert_eq!(seen.len(), 3, "no step was paid for twice");
    assert!(
        seen[2].body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("review")
    );
    let owner = app.db.owner().await;
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM jobs WHERE id = $1 AND status = 'completed' AND attempts = 2",
            vec![job.into_uuid().into()],
        )
        .await,
        1
    );
    // Each step stored once, by the attempt that ran it, with its cost.
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM job_steps WHERE job_id = $1 AND cost_usd = 0.01
               AND ((step_key IN ('outline', 'plan') AND attempt = 1) OR (step_key = 'review' AND attempt = 2))",
            vec![job.into_uuid().into()],
        )
        .await,
        3
    );
    let stream = open_stream(&ada, &app, job, None).await;
    let (events, _) = read_events(stream, |seen| seen.iter().any(|e| e.event == "end")).await;
    let outputs = events
        .iter()
        .find(|e| e.event == "progress")
        .map(|e| e.data["progress"]["outputs"].clone())
        .unwrap();
    assert_eq!(
        outputs,
        serde_json::json!(["The outline.", "The plan.", "The review."])
    );
    // The steps are the team's rows: another team sees none of them.
    let (_, other) = signed_up(&app, "bob@example.com", "Looms").await;
    let bob = member_ctx(&app, &other).await;
    let tx = app.state.ctx.db.enter(&bob).await.unwrap();
    assert_eq!(
        count(tx.raw(), "SELECT count(*) FROM job_steps", vec![]).await,
        0
    );
}

/// Runs the reaped job once the pause before its next attempt is over (its instance may have died
/// of it, so it is not run at once); how many jobs ran.
async fn run_after_its_pause(runtime: &Runtime) -> usize {
    assert_eq!(
        runtime.run_until_idle().await.unwrap(),
        0,
        "a reaped job ran at once"
    );
    let waiting = std::time::Instant::now();
    loop {
        let ran = runtime.run_until_idle().await.unwrap();
        if ran > 0 {
            return ran;
        }
        assert!(
            waiting.elapsed() < Duration::from_secs(15),
            "the reaped job never ran again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One user opening 500 event streams at once gets their share (16) and 429 with `Retry-After`
/// for the rest; the instance's cap is 503 for anyone past it; a closed stream gives its slot back.
#[tokio::test]
async fn event_streams_are_capped_per_user_and_per_instance() {
    let app = spawn_app_on(TestDb::migrated().await, |settings| {
        settings.server.max_event_streams = 24;
        settings.server.sse_keep_alive_secs = 1;
    })
    .await
    .unwrap();
    let (ada, ada_session) = signed_up(&app, "ada@example.com", "Engines").await;
    let (bob, bob_session) = signed_up(&app, "bob@example.com", "Looms").await;
    // Jobs nobody runs here: their streams stay open.
    let ada_job = enqueue_steps(&app, &member_ctx(&app, &ada_session).await, 1, 0).await;
    let bob_job = enqueue_steps(&app, &member_ctx(&app, &bob_session).await, 1, 0).await;
    let open_many = |client: &RpcClient, job: JobId, n: usize| {
        let client = client.clone();
        let app = &app;
        async move {
            futures_util::future::join_all((0..n).map(|_| open_stream(&client, app, job, None)))
                .await
        }
    };
    let adas = open_many(&ada, ada_job, 500).await;
    let statuses = |responses: &[reqwest::Response]| {
        let mut counts = std::collections::BTreeMap::new();
        for response in responses {
            *counts.entry(response.status().as_u16()).or_insert(0) += 1;
        }
        counts
    };
    assert_eq!(
        statuses(&adas),
        std::collections::BTreeMap::from([(200, 16), (429, 484)])
    );
    let refused = adas.iter().find(|r| r.status() == 429).unwrap();
    assert_eq!(refused.headers()["retry-after"], "10");
    // Bob, another user: the instance has 8 more to give, then 503.
    let bobs = open_many(&bob, bob_job, 10).await;
    assert_eq!(
        statuses(&bobs),
        std::collections::BTreeMap::from([(200, 8), (503, 2)])
    );
    let open_now = async || {
        let metrics = app.get("/metrics").await.text().await.unwrap();
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("cairn_event_streams_open "))
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap()
    };
    assert_eq!(open_now().await, 24);
    // Ada closes hers: the slots come back once the server notices (at the next keep-alive).
    drop(adas);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while open_now().await > 8 {
        assert!(
            std::time::Instant::now() < deadline,
            "slots never came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let again = open_stream(&ada, &app, ada_job, None).await;
    assert_eq!(again.status(), 200);
    drop(bobs);
}
