//! AI workflows against the local OpenAI-compatible server: the built-in "Image to
//! implementation" on a note with two screenshots, 13 action points planned one by one through the
//! incident (out of credit, then empty, then an answer), a plan that never names its action point
//! asked again, a plan that never arrives failing the run by name and a resume that asks only for
//! it, templates checked before they are saved, the budget checked before a run starts, and other
//! teams kept out.

use crate::ai::team_with_chain;
use crate::fixtures::count;
use crate::rpc::signed_up;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tests::llm_double::{LlmDouble, Reply};
use tests::{RpcClient, spawn_app};

pub(crate) const PROVIDERS: [&str; 3] = ["anthropic", "openai", "gemini"];
const ACTION_POINTS: usize = 13;

/// The user message of a chat request.
pub(crate) fn prompt(body: &Value) -> String {
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == "user")
        .map(|m| match &m["content"] {
            Value::String(text) => text.clone(),
            parts => parts
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        })
        .collect()
}

/// Which step of the built-in template a request is for, and the action point of a plan.
#[derive(Debug, PartialEq)]
pub(crate) enum Asked {
    ActionPoints,
    Plan(String),
    Review,
    Final,
}

pub(crate) fn asked(body: &Value) -> Asked {
    let text = prompt(body);
    if text.contains("List every distinct action point") {
        Asked::ActionPoints
    } else if let Some(rest) = text.split("Start with its id, ").nth(1) {
        Asked::Plan(rest.split(',').next().unwrap_or_default().to_owned())
    } else if text.starts_with("Review these implementation plans") {
        Asked::Review
    } else {
        Asked::Final
    }
}

fn action_points() -> Value {
    json!({"action_points": (1..=ACTION_POINTS).map(|n| json!({
        "id": format!("AP-{n}"),
        "title": format!("Change {n}"),
        "rationale": "The screenshot shows it.",
        "acceptance": "It works."
    })).collect::<Vec<_>>()})
}

/// What a well-behaved model answers each step.
pub(crate) fn answer(body: &Value) -> Reply {
    match asked(body) {
        Asked::ActionPoints => Reply::Json(action_points()),
        Asked::Plan(id) => Reply::Text(format!(
            "{id}\nFiles: src/{id}.rs\nCode: the change.\nTests: one.\nCommands: cargo test"
        )),
        Asked::Review => Reply::Json(json!({
            "review": "Do them in order; AP-3 and AP-9 touch the same form.",
            "insights": [
                {"title": "AP-3 and AP-9 conflict", "body": "Both change the payment form.",
                 "kind": "conflict", "severity": "high"},
                {"title": "No test covers refunds", "body": "Add one before AP-11.",
                 "kind": "gap", "severity": "medium"}
            ]
        })),
        Asked::Final => Reply::Text("Final prompt: implement AP-1 to AP-13 in order.".into()),
    }
}

/// Every provider of the chain answers by `respond`, given its name and the request.
fn all_providers(
    double: &LlmDouble,
    respond: impl Fn(&str, &Value) -> Reply + Clone + Send + Sync + 'static,
) {
    for provider in PROVIDERS {
        let respond = respond.clone();
        double.respond_with(provider, move |body| Some(respond(provider, body)));
    }
}

/// Every provider answers well, each plan after `pause` (so a run can be caught mid fan-out).
pub(crate) fn slow_plans(double: &LlmDouble, pause: Duration) {
    all_providers(double, move |_, body| match asked(body) {
        Asked::Plan(id) => Reply::TextAfter(format!("{id}\nA plan."), pause),
        _ => answer(body),
    });
}

/// Starts a run of the built-in template on the note.
async fn start_builtin(client: &RpcClient, note: &Value) -> Value {
    client
        .ok(
            "start_workflow_run",
            json!({"note_id": note["id"], "template": "Image to implementation"}),
        )
        .await
}

async fn finished(client: &RpcClient, run: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let now = client
            .ok("get_workflow_run", json!({"id": run["id"]}))
            .await;
        if !matches!(now["status"].as_str(), Some("queued" | "running")) {
            return now;
        }
        assert!(Instant::now() < deadline, "the run did not end: {now}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn classes(step: &Value) -> Vec<(String, Value)> {
    step["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["provider"].as_str().unwrap().to_owned(),
                a["class"].clone(),
            )
        })
        .collect()
}

fn plan_requests(double: &LlmDouble) -> Vec<String> {
    double
        .seen()
        .iter()
        .filter_map(|seen| match asked(&seen.body) {
            Asked::Plan(id) => Some(id),
            _ => None,
        })
        .collect()
}

/// The seeds' incident inside a run, and one plan that does not say which action point it is for:
/// the run completes with 13 / 13 planned, the review's trail has three attempts, the unnamed plan
/// was asked again, and no empty output is stored anywhere.
#[tokio::test]
async fn image_to_implementation_plans_every_action_point_through_the_incident() {
    let app = spawn_app().await;
    let double = LlmDouble::start().await;
    let (ada, _, note) = team_with_chain(&app, &double).await;
    let unnamed_once = Arc::new(AtomicBool::new(true));
    all_providers(&double, move |provider, body| {
        match (provider, asked(body)) {
            // The synthesis step meets the incident: out of credit, then empty.
            ("anthropic", Asked::Review) => Reply::anthropic_out_of_credit(),
            ("openai", Asked::Review) => Reply::Empty,
            // One plan forgets to say which action point it is for, the first time.
            (_, Asked::Plan(id)) if id == "AP-7" && unnamed_once.swap(false, Ordering::SeqCst) => {
                Reply::Text("Files: somewhere. Code: something.".into())
            }
            _ => answer(body),
        }
    });
    let run = start_builtin(&ada, &note).await;
    assert_eq!(run["status"], "queued", "{run}");
    assert_eq!(run["template_version"], 0, "the built-in template");
    let run = finished(&ada, &run).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["traced"], json!([13, 13]));

    let steps = run["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1 + ACTION_POINTS + 2, "{run}");
    let plans: Vec<&Value> = steps.iter().filter(|s| s["step_key"] == "plans").collect();
    assert_eq!(plans.len(), ACTION_POINTS);
    for plan in &plans {
        let id = plan["item"].as_str().unwrap();
        assert!(plan["output"].as_str().unwrap().contains(id), "{plan}");
    }
    // The unnamed plan was refused (an attempt that failed as invalid output) and asked again.
    let ap7 = plans.iter().find(|p| p["item"] == "AP-7").unwrap();
    assert_eq!(
        classes(ap7),
        vec![
            ("anthropic".to_owned(), json!("invalid_output")),
            ("anthropic".to_owned(), Value::Null)
        ],
        "{ap7}"
    );
    assert_eq!(plan_requests(&double).len(), ACTION_POINTS + 1);

    // The review's trail: out of credit, empty, answered.
    let review = steps.iter().find(|s| s["step_key"] == "review").unwrap();
    assert_eq!(
        classes(review),
        vec![
            ("anthropic".to_owned(), json!("out_of_credit")),
            ("openai".to_owned(), json!("empty_output")),
            ("gemini".to_owned(), Value::Null)
        ]
    );
    assert_eq!(review["provider"], "gemini");
    // The last step skips the provider out of credit without asking it.
    let last = steps
        .iter()
        .find(|s| s["step_key"] == "final_prompt")
        .unwrap();
    assert_eq!(
        classes(last)[0],
        ("anthropic".to_owned(), json!("cooling_down"))
    );

    // The screenshots went with the action points' request, and the plans saw the note's text.
    let first = &double.seen()[0].body;
    assert_eq!(asked(first), Asked::ActionPoints);
    let images = first["messages"]
        .to_string()
        .matches("data:image/png;base64,")
        .count();
    assert_eq!(images, 2);
    assert_eq!(
        first["response_format"],
        Value::Null,
        "Anthropic's endpoint is not asked for a response format; the answer is checked here"
    );
    let owner = app.db.owner().await;
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM workflow_steps WHERE length(btrim(output)) = 0",
            vec![]
        )
        .await,
        0
    );
    assert_eq!(
        ada.ok("list_workflow_runs", json!({"note_id": note["id"]}))
            .await[0]["id"],
        run["id"]
    );
    let listed = ada
        .ok(
            "list_project_workflow_runs",
            json!({"project_id": run["project_id"]}),
        )
        .await;
    assert_eq!(listed[0]["id"], run["id"]);
    assert_eq!(listed[0]["traced"], json!([13, 13]));

    // The review's key findings are kept as the project's insights, once.
    let insights = ada
        .ok(
            "list_workflow_insights",
            json!({"project_id": run["project_id"]}),
        )
        .await;
    let found: Vec<(&str, &str, &str)> = insights
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["title"].as_str().unwrap(),
                i["kind"].as_str().unwrap(),
                i["severity"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(found.len(), 2, "{insights}");
    assert!(found.contains(&("AP-3 and AP-9 conflict", "conflict", "high")));
    assert!(found.contains(&("No test covers refunds", "gap", "medium")));
    assert!(
        insights
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["run_id"] == run["id"] && i["step_key"] == "review")
    );

    // The report: downloadable, and kept as a searchable memory entry of the project.
    let report = ada.ok("workflow_report", json!({"id": run["id"]})).await;
    let report = report.as_str().unwrap();
    for part in [
        "```mermaid",
        "Traceability: 13 / 13 items planned.",
        "| plans — AP-13 |",
        "### final_prompt",
        run["id"].as_str().unwrap(),
    ] {
        assert!(
            report.contains(part),
            "{part} missing from the report:\n{report}"
        );
    }
    let memory = |kind: Value, text: &str| {
        json!({"project_id": run["project_id"],
               "query": {"status": null, "kind": kind, "text": text, "page": 0}})
    };
    let kept = ada
        .ok("list_memory", memory(json!("workflow_report"), ""))
        .await;
    assert_eq!(kept["entries"].as_array().unwrap().len(), 1, "{kept}");
    assert!(
        kept["entries"][0]["content"]
            .as_str()
            .unwrap()
            .contains("Traceability: 13 / 13")
    );
    let found = ada
        .ok("list_memory", memory(Value::Null, "traceability"))
        .await;
    assert_eq!(found["entries"][0]["kind"], "workflow_report", "{found}");
}

/// A plan that never arrives fails the run by name after it was asked three times, with the other
/// twelve stored; a resume asks only for the missing plan and the steps after it.
#[tokio::test]
async fn a_plan_that_never_arrives_fails_the_run_by_name_and_a_resume_pays_only_for_it() {
    let app = spawn_app().await;
    let double = LlmDouble::start().await;
    let (ada, _, note) = team_with_chain(&app, &double).await;
    let broken = Arc::new(AtomicBool::new(true));
    let asked_for_ap5 = Arc::new(AtomicUsize::new(0));
    {
        let (broken, asked_for_ap5) = (broken.clone(), asked_for_ap5.clone());
        all_providers(&double, move |_, body| match asked(body) {
            Asked::Plan(id) if id == "AP-5" && broken.load(Ordering::SeqCst) => {
                asked_for_ap5.fetch_add(1, Ordering::SeqCst);
                Reply::Empty
            }
            _ => answer(body),
        });
    }
    let run = start_builtin(&ada, &note).await;
    let failed = finished(&ada, &run).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("12 of 13 planned") && error.contains("AP-5"),
        "{error}"
    );
    assert_eq!(failed["traced"], json!([12, 13]));
    // Three asks, each down the whole chain: every provider answered empty each time.
    assert_eq!(asked_for_ap5.load(Ordering::SeqCst), 3 * PROVIDERS.len());
    assert!(
        !failed["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["item"] == "AP-5"),
        "nothing stored for the plan that never came"
    );
    assert!(
        !failed["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["step_key"] == "review"),
        "the run stopped at the fan-out"
    );

    // The provider behaves again; the resumed run asks only what is missing.
    broken.store(false, Ordering::SeqCst);
    double.clear();
    let resumed = ada
        .ok("resume_workflow_run", json!({"id": run["id"]}))
        .await;
    assert_eq!(resumed["status"], "queued");
    let done = finished(&ada, &resumed).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["traced"], json!([13, 13]));
    let asked_again: Vec<Asked> = double.seen().iter().map(|s| asked(&s.body)).collect();
    assert_eq!(
        asked_again,
        vec![Asked::Plan("AP-5".into()), Asked::Review, Asked::Final],
        "the action points and the twelve stored plans were not asked (nor paid) again"
    );
    // A completed run is not resumed.
    let (status, _) = ada
        .call("resume_workflow_run", json!({"id": run["id"]}))
        .await;
    assert_eq!(status, 409);
}

/// A template is checked whole before it is saved (an unknown reference is refused naming it); a
/// saved one is a new version and exports as TOML that imports back; a run whose worst case
/// exceeds the month's budget is refused before anything is sent; other teams see none of it.
#[tokio::test]
async fn templates_are_checked_runs_are_priced_first_and_other_teams_see_nothing() {
    let app = spawn_app().await;
    let double = LlmDouble::start().await;
    let (ada, _, note) = team_with_chain(&app, &double).await;

    let templates = ada.ok("list_workflow_templates", json!({})).await;
    let mut definition = templates[0]["definition"].clone();
    assert_eq!(definition["name"], "Image to implementation");
    definition["name"] = json!("Screens to plans");
    definition["steps"][2]["prompt"] = json!("Review {{note.author}} and {{steps.plans.output}}");
    let (status, body) = ada
        .call("save_workflow_template", json!({"definition": definition}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "steps[2].prompt");
    assert!(
        body["reason"]
            .as_str()
            .unwrap()
            .contains("{{note.author}} is not a reference"),
        "{body}"
    );
    definition["steps"][2]["prompt"] = json!("Review {{steps.plans.output}}");
    let saved = ada
        .ok("save_workflow_template", json!({"definition": definition}))
        .await;
    assert_eq!(saved["version"], 1);
    let file = ada
        .ok(
            "export_workflow_template",
            json!({"name": "Screens to plans"}),
        )
        .await;
    let imported = ada
        .ok("import_workflow_template", json!({"file": file}))
        .await;
    assert_eq!(imported["version"], 2);
    assert_eq!(imported["definition"], saved["definition"]);

    // A budget too small for the worst case: refused before anything is sent.
    ada.ok(
        "set_ai_settings",
        json!({"form": {"chain": "anthropic/claude-sonnet-4-20250514\nopenai/gpt-4o-mini\ngemini/gemini-2.5-flash",
                        "fall_over_on_refusal": false, "monthly_budget_usd": "0.05"}}),
    )
    .await;
    let (status, body) = ada
        .call(
            "start_workflow_run",
            json!({"note_id": note["id"], "template": "Screens to plans"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("may cost up to"),
        "{body}"
    );
    let owner = app.db.owner().await;
    assert_eq!(
        count(&owner, "SELECT count(*) FROM workflow_runs", vec![]).await,
        0
    );
    assert!(double.seen().is_empty(), "nothing was sent");

    // No monthly limit, but runs above $0.01 want a confirmation: refused without one, saying
    // so (the page asks), started with it.
    ada.ok(
        "set_ai_settings",
        json!({"form": {"chain": "gemini/gemini-2.5-flash", "fall_over_on_refusal": false,
                        "monthly_budget_usd": "", "run_confirm_above_usd": "0.01"}}),
    )
    .await;
    let settings = ada.ok("get_ai_settings", json!({})).await;
    assert_eq!(settings["run_confirm_above_usd"], 0.01);
    let (status, body) = ada
        .call(
            "start_workflow_run",
            json!({"note_id": note["id"], "template": "Image to implementation"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Confirm to start: this run may cost up to $"),
        "{body}"
    );
    assert_eq!(
        count(&owner, "SELECT count(*) FROM workflow_runs", vec![]).await,
        0
    );
    let run = ada
        .ok(
            "start_workflow_run",
            json!({"note_id": note["id"], "template": "Image to implementation", "confirm": true}),
        )
        .await;

    // Another team: every function with Ada's ids answers as for ids that do not exist.
    let (mallory, _) = signed_up(&app, "mallory@example.com", "Elsewhere").await;
    for (name, args) in [
        ("get_workflow_run", json!({"id": run["id"]})),
        ("resume_workflow_run", json!({"id": run["id"]})),
        (
            "rerun_workflow_from",
            json!({"id": run["id"], "from": "review"}),
        ),
        ("workflow_report", json!({"id": run["id"]})),
        (
            "list_workflow_insights",
            json!({"project_id": run["project_id"]}),
        ),
        (
            "list_project_workflow_runs",
            json!({"project_id": run["project_id"]}),
        ),
        ("list_workflow_runs", json!({"note_id": note["id"]})),
        (
            "start_workflow_run",
            json!({"note_id": note["id"], "template": "Image to implementation"}),
        ),
        (
            "export_workflow_template",
            json!({"name": "Screens to plans"}),
        ),
    ] {
        let (status, body) = mallory.call(name, args).await;
        assert_eq!(
            (status, body),
            (404, json!({"kind": "not_found"})),
            "{name}"
        );
    }
    let (status, listed) = mallory.call("list_workflow_templates", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().unwrap().len(), 1, "only the built-in one");
    finished(&ada, &run).await;
}

/// Cancel mid-run: the run stops at its next step boundary (no new plan is asked after the cancel
/// is seen), ends `cancelled` with what it stored kept, and a resume finishes it.
#[tokio::test]
async fn a_cancelled_run_stops_at_a_step_boundary_keeps_what_it_stored_and_resumes() {
    let app = spawn_app().await;
    let double = LlmDouble::start().await;
    let (ada, _, note) = team_with_chain(&app, &double).await;
    slow_plans(&double, Duration::from_millis(300));
    let run = start_builtin(&ada, &note).await;
    // Wait for the fan-out to be under way, then cancel.
    let deadline = Instant::now() + Duration::from_secs(30);
    while plan_requests(&double).is_empty() {
        assert!(Instant::now() < deadline, "no plan was asked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ada.ok("cancel_job", json!({"id": run["job_id"]})).await;
    let cancelled = finished(&ada, &run).await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    let asked_before = plan_requests(&double).len();
    assert!(
        asked_before < ACTION_POINTS,
        "the fan-out stopped early ({asked_before} plans asked)"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        plan_requests(&double).len(),
        asked_before,
        "nothing is asked after the run ended"
    );
    let kept = cancelled["steps"].as_array().unwrap().len();
    assert!(kept >= 1, "the action points are kept");

    let resumed = ada
        .ok("resume_workflow_run", json!({"id": run["id"]}))
        .await;
    let done = finished(&ada, &resumed).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["traced"], json!([13, 13]));
    // Every plan stored before the cancel was not asked again.
    let stored_before: Vec<String> = cancelled["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["item"].as_str().map(str::to_owned))
        .collect();
    let requests = plan_requests(&double);
    for id in &stored_before {
        assert_eq!(
            requests.iter().filter(|r| *r == id).count(),
            1,
            "{id} was stored before the cancel and asked once"
        );
    }
}

/// A `cairn worker` running a plan-by-plan fan-out, with its `workflow.run` job on its own queue.
fn worker(app: &tests::TestApp, name: &str) -> tokio::process::Child {
    std::fs::create_dir_all(&app.data_dir).unwrap();
    let log = std::fs::File::create(app.data_dir.join(format!("{name}.log"))).unwrap();
    tests::worker_command(app)
        .stderr(std::process::Stdio::from(log.try_clone().unwrap()))
        .stdout(std::process::Stdio::from(log))
        .spawn()
        .expect("starting cairn worker")
}

/// `kill -9` of the worker during the fan-out: another worker takes the run over and asks the
/// provider only for the plans not yet stored (each stored plan was asked exactly once).
#[tokio::test]
async fn a_worker_killed_mid_fan_out_is_taken_over_and_stored_plans_are_not_asked_again() {
    let app = tests::spawn_app_on(tests::TestDb::migrated().await, |settings| {
        settings.jobs.enabled = false;
    })
    .await
    .unwrap();
    let double = LlmDouble::start().await;
    let (ada, _, note) = team_with_chain(&app, &double).await;
    slow_plans(&double, Duration::from_millis(400));
    let mut first = worker(&app, "killed-worker");
    let run = start_builtin(&ada, &note).await;
    let deadline = Instant::now() + Duration::from_secs(40);
    let stored_at_kill = loop {
        let now = ada.ok("get_workflow_run", json!({"id": run["id"]})).await;
        let plans: Vec<String> = now["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["item"].as_str().map(str::to_owned))
            .collect();
        if plans.len() >= 4 {
            first.start_kill().unwrap();
            first.wait().await.unwrap();
            break plans;
        }
        assert!(Instant::now() < deadline, "no plans stored: {now}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // What the killed worker stored in its last moments counts as stored too.
    let stored_at_kill: Vec<String> =
        ada.ok("get_workflow_run", json!({"id": run["id"]})).await["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["item"].as_str().map(str::to_owned))
            .chain(stored_at_kill)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
    assert!(stored_at_kill.len() < ACTION_POINTS, "killed mid fan-out");

    let _second = worker(&app, "second-worker");
    let done = finished(&ada, &run).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["traced"], json!([13, 13]));
    let requests = plan_requests(&double);
    for id in &stored_at_kill {
        assert_eq!(
            requests.iter().filter(|r| *r == id).count(),
            1,
            "{id} was stored before the kill and asked once: {requests:?}"
        );
    }
    // At most the four in flight at the kill were asked twice.
    assert!(
        requests.len() <= ACTION_POINTS + 4,
        "{} plan requests: {requests:?}",
        requests.len()
    );
    assert_eq!(
        done["steps"].as_array().unwrap().len(),
        1 + ACTION_POINTS + 2,
        "one stored output per step and item"
    );
}

async fn cairn_workflow(app: &tests::TestApp, args: &[&str]) -> (i32, String, String) {
    let mut command = tests::cairn_command(app);
    command.args(["workflow", "run"]).args(args);
    tests::output_of(command).await
}

/// `cairn workflow run --note N`: queues the run, follows it step by step, writes the report and
/// says where; an unknown note or template is exit 2, a run that fails is exit 1 with its reason.
#[tokio::test]
async fn the_command_line_runs_a_workflow_follows_it_and_writes_its_report() {
    let app = spawn_app().await;
    let double = LlmDouble::start().await;
    let (_ada, _, note) = team_with_chain(&app, &double).await;
    all_providers(&double, |_, body| answer(body));
    let note_id = note["id"].as_str().unwrap();
    std::fs::create_dir_all(&app.data_dir).unwrap();
    let report = app.data_dir.join("checkout-report.md");
    let (code, out, err) = cairn_workflow(
        &app,
        &["--note", note_id, "--report", report.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("completed: 13 / 13 planned; 16 steps"),
        "{out}"
    );
    assert!(out.contains("checkout-report.md"), "{out}");
    assert!(err.contains("stored plans AP-13"), "{err}");
    let written = std::fs::read_to_string(&report).unwrap();
    assert!(
        written.contains("Traceability: 13 / 13 items planned."),
        "{written}"
    );

    let (code, _, err) = cairn_workflow(&app, &["--note", &uuid::Uuid::new_v4().to_string()]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no note"), "{err}");
    let (code, _, err) = cairn_workflow(&app, &["--note", note_id, "--template", "Nothing"]).await;
    assert_eq!(code, 2, "{err}");

    // A plan that never comes: exit 1, saying which.
    all_providers(&double, |_, body| match asked(body) {
        Asked::Plan(id) if id == "AP-2" => Reply::Empty,
        _ => answer(body),
    });
    let (code, out, err) = cairn_workflow(&app, &["--note", note_id]).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("failed") && err.contains("AP-2"), "{err}");
}

/// Re-run from the review: a new run copies the action points and the 13 plans (marked copied,
/// costing nothing) and asks only the review and the final prompt; the original stays as it was.
#[tokio::test]
async fn a_rerun_from_the_third_step_copies_the_first_two_and_asks_the_rest() {
    let app = spawn_app().await;
    let double = LlmDouble::start().await;
    let (ada, _, note) = team_with_chain(&app, &double).await;
    all_providers(&double, |_, body| answer(body));
    let run = start_builtin(&ada, &note).await;
    let original = finished(&ada, &run).await;
    assert_eq!(original["status"], "completed");
    double.clear();

    let (status, body) = ada
        .call(
            "rerun_workflow_from",
            json!({"id": run["id"], "from": "nothing"}),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("from")),
        "{body}"
    );
    let rerun = ada
        .ok(
            "rerun_workflow_from",
            json!({"id": run["id"], "from": "review"}),
        )
        .await;
    assert_ne!(rerun["id"], run["id"]);
    let rerun = finished(&ada, &rerun).await;
    assert_eq!(rerun["status"], "completed", "{rerun}");
    assert_eq!(rerun["traced"], json!([13, 13]));
    let asked_again: Vec<Asked> = double.seen().iter().map(|s| asked(&s.body)).collect();
    assert_eq!(asked_again, vec![Asked::Review, Asked::Final]);
    let statuses: Vec<(&str, &str)> = rerun["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["step_key"].as_str().unwrap(),
                s["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(statuses.len(), 16);
    for (key, status) in &statuses {
        let expected = if matches!(*key, "action_points" | "plans") {
            "copied"
        } else {
            "completed"
        };
        assert_eq!(*status, expected, "{key}");
    }
    // The copies cost nothing more; the original is untouched.
    let review_cost: f64 = rerun["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "completed")
        .map(|s| s["cost_usd"].as_f64().unwrap())
        .sum();
    assert!((rerun["cost_usd"].as_f64().unwrap() - review_cost).abs() < 1e-9);
    assert_eq!(
        ada.ok("get_workflow_run", json!({"id": run["id"]})).await,
        original
    );
}

/// A step's answer is shown on the run's stream while it comes: the final prompt's first model
/// breaks off part-way (the run moves on to the next model, as it would for an answer asked
/// whole), the second streams slowly; the stream shows the second model's words as they grow and
/// never mixes in the first's; once the step is stored, its preview is gone from the stream.
#[tokio::test]
async fn a_step_under_way_is_shown_as_it_streams_and_replaced_by_its_stored_output() {
    use crate::job_events::{open_stream, read_events};
    let app = spawn_app().await;
    let double = LlmDouble::start().await;
    let (ada, _, note) = team_with_chain(&app, &double).await;
    let words: Vec<String> = (1..=24).map(|n| format!("word{n}")).collect();
    let final_prompt = format!("Final prompt: {}", words.join(" "));
    let slow = final_prompt.clone();
    all_providers(&double, move |provider, body| {
        match (provider, asked(body)) {
            ("anthropic", Asked::Final) => Reply::StreamDiesAfter("Half of a prompt".into()),
            ("openai", Asked::Final) => Reply::SlowText(slow.clone(), Duration::from_millis(80)),
            _ => answer(body),
        }
    });
    let run = start_builtin(&ada, &note).await;
    let job = api::ids::JobId::parse(run["job_id"].as_str().unwrap()).unwrap();
    let stream = open_stream(&ada, &app, job, None).await;
    let (events, _) = read_events(stream, |events| {
        events.iter().any(|e| {
            let report = &e.data["progress"]["report"];
            report["provider"] == "openai"
                && report["text"].as_str().unwrap_or("").contains("word3")
        })
    })
    .await;
    let previews: Vec<&Value> = events
        .iter()
        .filter(|e| e.data["progress"]["live"].is_string())
        .map(|e| &e.data["progress"]["report"])
        .collect();
    assert!(!previews.is_empty());
    for preview in &previews {
        assert_eq!(preview["step_key"], "final_prompt", "{preview}");
        let text = preview["text"].as_str().unwrap();
        if preview["provider"] == "openai" {
            assert!(
                final_prompt.starts_with(text),
                "only the answering model's words: {text}"
            );
        }
    }

    let run = finished(&ada, &run).await;
    assert_eq!(run["status"], "completed", "{run}");
    let last = run["steps"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["output"], json!(final_prompt));
    assert_eq!(
        classes(&last),
        vec![
            ("anthropic".to_owned(), json!("stream_broken")),
            ("openai".to_owned(), Value::Null),
        ]
    );
    // Read again from the start: the stored steps and the end, no preview left behind.
    let stream = open_stream(&ada, &app, job, None).await;
    let (events, _) = read_events(stream, |events| events.iter().any(|e| e.event == "end")).await;
    assert!(
        events.iter().all(|e| e.data["progress"]["live"].is_null()),
        "{events:?}"
    );
    assert_eq!(
        events.iter().filter(|e| e.event == "progress").count(),
        1 + ACTION_POINTS + 2
    );
}

/// A step whose prompt uses `{{context}}` is sent the project's knowledge retrieved for the note,
/// numbered; the run keeps what was sent and shows it in its report, and a re-run sends the same.
#[tokio::test]
async fn a_context_reference_sends_the_projects_knowledge_and_the_run_keeps_it() {
    let app = spawn_app().await;
    let double = LlmDouble::start().await;
    let (ada, _, note) = team_with_chain(&app, &double).await;
    let project = note["project_id"].clone();
    let entry = ada
        .ok(
            "create_memory_entry",
            json!({"project_id": project, "form": {"title": "Deploy script",
                   "content": "The blue-green script switches the load balancer once health checks pass."}}),
        )
        .await;
    // Indexed (by the team's indexing job) before the run starts.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = ada
            .ok("search_knowledge", json!({"query": {"text": "balancer"}}))
            .await;
        if !found["hits"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "never indexed: {found}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ada.ok(
        "save_workflow_template",
        json!({"definition": {"name": "Triage", "steps": [{"key": "triage", "name": "Triage",
            "prompt": "Triage this note with what the project knows.\n\n{{context}}\nNote: {{note.title}}: {{note.body}}",
            "output": {"kind": "text"}, "max_tokens": 500}]}}),
    )
    .await;
    let run = ada
        .ok(
            "start_workflow_run",
            json!({"note_id": note["id"], "template": "Triage"}),
        )
        .await;
    let run = finished(&ada, &run).await;
    assert_eq!(run["status"], "completed", "{run}");
    let sources = run["sources"].as_array().unwrap();
    assert_eq!(sources[0]["title"], "Deploy script", "{run}");
    assert_eq!(sources[0]["n"], 1);
    let asked = double
        .seen()
        .into_iter()
        .rfind(|seen| seen.endpoint == "chat")
        .unwrap();
    let sent = prompt(&asked.body);
    for source in sources {
        let source: api::knowledge::CitedSource = serde_json::from_value(source.clone()).unwrap();
        assert!(
            sent.contains(&source.label()) && sent.contains(&source.text),
            "{sent}"
        );
    }
    let report = ada.ok("workflow_report", json!({"id": run["id"]})).await;
    assert!(
        report.as_str().unwrap().contains("[1] Deploy script"),
        "{report}"
    );
    // A re-run sends the context the first run kept, even once the project's knowledge changed.
    ada.ok(
        "update_memory_entry",
        json!({"id": entry["id"], "form": {"title": "Deploy script",
               "content": "The blue-green script now waits for two health checks in a row."}}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while ada
        .ok("search_knowledge", json!({"query": {"text": "waits"}}))
        .await["hits"]
        .as_array()
        .unwrap()
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the change was never indexed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let again = ada
        .ok(
            "rerun_workflow_from",
            json!({"id": run["id"], "from": "triage"}),
        )
        .await;
    let again = finished(&ada, &again).await;
    assert_eq!(again["status"], "completed", "{again}");
    assert_eq!(again["sources"], run["sources"]);
}
