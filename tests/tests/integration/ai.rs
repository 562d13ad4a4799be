//! AI in the app, against the local OpenAI-compatible server: a team's providers (keys sealed,
//! never returned), its chain and budget, "Ask about this note" with its images, the incident
//! replayed end to end, the answer streamed, provider states kept across calls, and the
//! cross-tenant matrix over every new function.

use crate::fixtures::count;
use crate::rpc::{invite, signed_up};
use serde_json::{Value, json};
use tests::llm_double::{LlmDouble, Reply};
use tests::{RpcClient, TestApp, spawn_app};

const KEY: &str = "sk-ant-api03-secretsecretsecret0123456789";

pub(crate) async fn provider(
    client: &RpcClient,
    double: &LlmDouble,
    name: &str,
    kind: &str,
    model: &str,
) -> Value {
    client
        .ok(
            "save_ai_provider",
            json!({"id": null, "form": {"name": name, "kind": kind, "base_url": double.base_url(name),
                   "api_key": KEY, "models": model}}),
        )
        .await
}

/// Ada's team with the three providers of the incident, in that order, and a note with two images.
pub(crate) async fn team_with_chain(
    app: &TestApp,
    double: &LlmDouble,
) -> (RpcClient, Value, Value) {
    let (ada, _) = signed_up(app, "ada@example.com", "Engines").await;
    let anthropic = provider(
        &ada,
        double,
        "anthropic",
        "anthropic",
        "claude-sonnet-4-20250514",
    )
    .await;
    provider(&ada, double, "openai", "open_ai", "gpt-4o-mini").await;
    provider(&ada, double, "gemini", "gemini", "gemini-2.5-flash").await;
    ada.ok(
        "set_ai_settings",
        json!({"form": {"chain": "anthropic/claude-sonnet-4-20250514\nopenai/gpt-4o-mini\ngemini/gemini-2.5-flash",
                        "fall_over_on_refusal": false, "monthly_budget_usd": ""}}),
    )
    .await;
    let project = ada
        .ok(
            "create_project",
            json!({"form": {"name": "Widgets", "description": "", "github_repo": "", "github_branch": "", "github_path": ""}}),
        )
        .await;
    let note = ada
        .ok(
            "create_note",
            json!({"project_id": project["id"], "form": {"title": "Deploys", "body": "We deploy with the blue-green script."}}),
        )
        .await;
    let note_id = note["id"].as_str().unwrap();
    for rgb in [[200, 0, 0], [0, 0, 200]] {
        let (status, image) = ada.upload(note_id, tests::images::png(4, 4, rgb)).await;
        assert_eq!(status, 201, "{image}");
        ada.ok(
            "set_image_description",
            json!({"id": image["id"], "description": format!("screenshot {rgb:?}")}),
        )
        .await;
    }
    (ada, anthropic, note)
}

fn classes(answer: &Value) -> Vec<(String, Value)> {
    answer["attempts"]
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

#[tokio::test]
async fn the_incident_ends_with_the_third_answer_stored_the_first_in_cooldown_and_three_attempts() {
    let double = LlmDouble::start().await;
    let app = spawn_app().await;
    let (ada, anthropic, note) = team_with_chain(&app, &double).await;
    double.reply("anthropic", Reply::anthropic_out_of_credit());
    double.reply("openai", Reply::Empty);
    double.reply(
        "gemini",
        Reply::Text("Run the blue-green script, then check the screenshots.".into()),
    );

    let answer = ada
        .ok(
            "ask_note",
            json!({"note_id": note["id"], "question": "How do we deploy?"}),
        )
        .await;
    assert_eq!(answer["status"], "answered", "{answer}");
    assert_eq!(
        answer["answer"],
        "Run the blue-green script, then check the screenshots."
    );
    assert_eq!(
        (answer["provider"].as_str(), answer["model"].as_str()),
        (Some("gemini"), Some("gemini-2.5-flash"))
    );
    assert_eq!(
        classes(&answer),
        vec![
            ("anthropic".into(), json!("out_of_credit")),
            ("openai".into(), json!("empty_output")),
            ("gemini".into(), Value::Null)
        ]
    );
    assert!(answer["cost_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(answer["tokens_out"], 8);
    // The note's text and both images went to the vision model; a caption each would have gone
    // to a model without vision.
    let seen = double.seen();
    let parts = seen[0].body["messages"][1]["content"].as_array().unwrap();
    assert!(
        parts[0]["text"]
            .as_str()
            .unwrap()
            .contains("blue-green script")
    );
    assert_eq!(parts.iter().filter(|p| p["type"] == "image_url").count(), 2);
    assert!(
        parts[1]["image_url"]["url"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );

    // Kept on the note, with its attempts.
    let kept = ada
        .ok("list_note_answers", json!({"note_id": note["id"]}))
        .await;
    assert_eq!(kept[0], answer);
    assert_eq!(
        count(
            &app.db.owner().await,
            "SELECT count(*) FROM ai_attempts",
            vec![]
        )
        .await,
        3
    );

    // Anthropic is out of credit, for every call after this one, on any instance.
    let providers = ada.ok("list_ai_providers", json!({})).await;
    let first = &providers
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "anthropic")
        .unwrap()
        .clone();
    assert!(first["out_of_credit_since"].is_string(), "{first}");
    assert!(
        first["last_error"]
            .as_str()
            .unwrap()
            .contains("credit balance"),
        "{first}"
    );
    double.clear();
    let again = ada
        .ok(
            "ask_note",
            json!({"note_id": note["id"], "question": "And rollback?"}),
        )
        .await;
    assert_eq!(
        classes(&again),
        vec![
            ("anthropic".into(), json!("cooling_down")),
            ("openai".into(), Value::Null)
        ]
    );
    assert!(double.seen().iter().all(|s| s.provider != "anthropic"));
    // The model picker greys it out.
    let models = ada.ok("list_ai_models", json!({})).await;
    let claude = models
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["provider"] == "anthropic")
        .unwrap();
    assert!(
        claude["unavailable"]
            .as_str()
            .unwrap()
            .contains("out of credit"),
        "{claude}"
    );
    assert_eq!(claude["vision"], true);
    assert_eq!(claude["price_in"], 3.0);

    // An admin clears it after topping up; test connection proves it.
    let cleared = ada
        .ok("clear_ai_provider", json!({"id": anthropic["id"]}))
        .await;
    assert_eq!(cleared["out_of_credit_since"], Value::Null);
    assert_eq!(cleared["last_error"], Value::Null, "{cleared}");
    let tested = ada
        .ok("test_ai_provider", json!({"id": anthropic["id"]}))
        .await;
    assert_eq!(tested["class"], Value::Null, "{tested}");
    // A test that finds it broke records that.
    double.reply("anthropic", Reply::anthropic_billing());
    let tested = ada
        .ok("test_ai_provider", json!({"id": anthropic["id"]}))
        .await;
    assert_eq!(
        (tested["class"].as_str(), tested["status"].as_u64()),
        (Some("out_of_credit"), Some(402))
    );
    let providers = ada.ok("list_ai_providers", json!({})).await;
    assert!(providers.to_string().contains("out_of_credit_since\":\"20"));

    // The key is never given back, nor written to the audit log.
    for listed in [
        providers.to_string(),
        ada.ok("list_ai_models", json!({})).await.to_string(),
        answer.to_string(),
    ] {
        assert!(!listed.contains(KEY));
        assert!(!listed.contains("secretsecret"));
    }
    assert!(providers[0]["key_set_at"].is_string());
    let audit = count(
        &app.db.owner().await,
        &format!("SELECT count(*) FROM audit_log WHERE detail::text LIKE '%secretsecret%' OR action LIKE 'ai_%' AND detail::text LIKE '%{KEY}%'"),
        vec![],
    )
    .await;
    assert_eq!(audit, 0);
    let sealed_plain = count(
        &app.db.owner().await,
        "SELECT count(*) FROM ai_providers WHERE position('secretsecret'::bytea in sealed_key) > 0",
        vec![],
    )
    .await;
    assert_eq!(sealed_plain, 0, "keys are sealed at rest");
}

#[tokio::test]
async fn the_answer_streams_over_sse_and_is_kept_whole() {
    let double = LlmDouble::start().await;
    let app = spawn_app().await;
    let (ada, _, note) = team_with_chain(&app, &double).await;
    double.reply("anthropic", Reply::StreamDiesBeforeFirstToken);
    double.reply("anthropic", Reply::StreamDiesBeforeFirstToken);
    double.reply("anthropic", Reply::StreamDiesBeforeFirstToken);
    double.reply(
        "openai",
        Reply::Text("Blue-green, then smoke tests.".into()),
    );
    let response = ask_streaming(&app, &ada, &note, "How do we deploy?").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let body = response.text().await.unwrap();
    let mut text = String::new();
    let mut last = Value::Null;
    let mut shown = Value::Null;
    let mut tried = Vec::new();
    for block in body.split("\n\n") {
        let event = block
            .lines()
            .find_map(|l| l.strip_prefix("event: "))
            .unwrap_or_default();
        let data: String = block
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .collect();
        match event {
            "text" => text.push_str(
                serde_json::from_str::<Value>(&data).unwrap()["text"]
                    .as_str()
                    .unwrap(),
            ),
            "answer" => last = serde_json::from_str(&data).unwrap(),
            "shown" => shown = serde_json::from_str(&data).unwrap(),
            "attempt" => tried.push(serde_json::from_str::<Value>(&data).unwrap()),
            _ => {}
        }
    }
    assert_eq!(text, "Blue-green, then smoke tests.");
    // The reader heard each model being tried, and why the one before gave no answer.
    assert_eq!(tried[0]["provider"], "anthropic", "{tried:?}");
    assert_eq!(tried[0]["kind"], "Anthropic");
    assert_eq!(tried[0]["after"], Value::Null);
    let last_try = tried.last().unwrap();
    assert_eq!(last_try["provider"], "openai", "{tried:?}");
    assert_eq!(last_try["model"], "gpt-4o-mini");
    assert!(
        last_try["after"]
            .as_str()
            .unwrap()
            .starts_with("Anthropic: "),
        "{tried:?}"
    );
    assert_eq!(
        tried.len(),
        last["attempts"].as_array().unwrap().len(),
        "one event per attempt: {tried:?}"
    );
    // The answer as the page shows it, its Markdown rendered.
    assert_eq!(
        shown["html"], "<p>Blue-green, then smoke tests.</p>\n",
        "{shown}"
    );
    assert_eq!(last["answer"], "Blue-green, then smoke tests.");
    assert_eq!(last["status"], "answered");
    let first_token =
        last["attempts"].as_array().unwrap().last().unwrap()["first_token_ms"].clone();
    assert!(first_token.is_u64(), "{last}");

    // Before the model is asked: a bad question or another team's note is a plain JSON error.
    let response = ask_streaming(&app, &ada, &note, "   ").await;
    assert_eq!(response.status(), 422);
    let response = ada
        .http
        .post(app.url(&format!(
            "/api/v1/notes/{}/ask",
            note["id"].as_str().unwrap()
        )))
        .header("content-type", "application/json")
        .body(r#"{"question": 42, "model": "x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    // Neither bad question was recorded.
    let kept = ada
        .ok("list_note_answers", json!({"note_id": note["id"]}))
        .await;
    assert_eq!(kept.as_array().unwrap().len(), 1, "{kept}");
    let (bob, _) = signed_up(&app, "bob@example.com", "Bob's").await;
    let response = bob
        .http
        .post(app.url(&format!(
            "/api/v1/notes/{}/ask",
            note["id"].as_str().unwrap()
        )))
        .json(&json!({"question": "What is in it?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn a_budget_refuses_before_sending_and_an_answer_nobody_gave_is_stored_as_failed() {
    let double = LlmDouble::start().await;
    let app = spawn_app().await;
    let (ada, _, note) = team_with_chain(&app, &double).await;
    ada.ok(
        "set_ai_settings",
        json!({"form": {"chain": "anthropic/claude-sonnet-4-20250514\ngemini/gemini-2.5-flash",
                        "fall_over_on_refusal": false, "monthly_budget_usd": "0.0001"}}),
    )
    .await;
    let refused = ada
        .ok(
            "ask_note",
            json!({"note_id": note["id"], "question": "Summarise"}),
        )
        .await;
    assert_eq!(refused["status"], "failed");
    assert!(
        refused["error"].as_str().unwrap().contains("budget"),
        "{refused}"
    );
    assert_eq!(refused["answer"], Value::Null);
    assert!(double.seen().is_empty(), "nothing was sent");

    // A provider's own budget: its model is skipped unsent, the next one answers. Claude Sonnet's
    // worst case for 1,024 tokens is over $0.015; Gemini Flash's under $0.003.
    ada.ok(
        "set_ai_settings",
        json!({"form": {"chain": "anthropic/claude-sonnet-4-20250514\ngemini/gemini-2.5-flash",
                        "fall_over_on_refusal": false, "monthly_budget_usd": ""}}),
    )
    .await;
    let providers = ada.ok("list_ai_providers", json!({})).await;
    let anthropic = providers
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "anthropic")
        .unwrap()
        .clone();
    let capped = ada
        .ok(
            "save_ai_provider",
            json!({"id": anthropic["id"], "form": {"name": "anthropic", "kind": "anthropic",
                   "base_url": double.base_url("anthropic"), "api_key": "",
                   "models": "claude-sonnet-4-20250514", "budget_usd": "0.01"}}),
        )
        .await;
    assert_eq!(capped["monthly_budget_usd"], 0.01);
    assert!(
        capped["key_set_at"].is_string(),
        "an empty key keeps the one set"
    );
    let answer = ada
        .ok(
            "ask_note",
            json!({"note_id": note["id"], "question": "Summarise"}),
        )
        .await;
    assert_eq!(
        classes(&answer),
        vec![
            ("anthropic".into(), json!("over_budget")),
            ("gemini".into(), Value::Null)
        ]
    );
    assert!(
        answer["attempts"][0]["error"]
            .as_str()
            .unwrap()
            .contains("anthropic's own budget")
    );
    assert!(double.seen().iter().all(|s| s.provider != "anthropic"));
    let (status, body) = ada
        .call(
            "save_ai_provider",
            json!({"id": anthropic["id"], "form": {"name": "anthropic", "kind": "anthropic",
                   "base_url": "", "api_key": "", "models": "claude-sonnet-4-20250514", "budget_usd": "lots"}}),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("budget_usd")),
        "{body}"
    );
    // Emptied, the provider's budget is gone (not kept), and its models are asked again.
    let uncapped = ada
        .ok(
            "save_ai_provider",
            json!({"id": anthropic["id"], "form": {"name": "anthropic", "kind": "anthropic",
                   "base_url": double.base_url("anthropic"), "api_key": "",
                   "models": "claude-sonnet-4-20250514", "budget_usd": ""}}),
        )
        .await;
    assert_eq!(uncapped["monthly_budget_usd"], Value::Null, "{uncapped}");
    let answer = ada
        .ok(
            "ask_note",
            json!({"note_id": note["id"], "question": "Summarise again"}),
        )
        .await;
    assert_eq!(classes(&answer)[0], ("anthropic".into(), Value::Null));

    // Every model empty: failed, saying so; nothing empty stored as an answer.
    ada.ok(
        "set_ai_settings",
        json!({"form": {"chain": "openai/gpt-4o-mini\ngemini/gemini-2.5-flash",
                        "fall_over_on_refusal": false, "monthly_budget_usd": "25"}}),
    )
    .await;
    double.reply("openai", Reply::Empty);
    double.reply("gemini", Reply::ReasoningOnly);
    let failed = ada
        .ok(
            "ask_note",
            json!({"note_id": note["id"], "question": "Summarise"}),
        )
        .await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("OpenAI: empty → Gemini: empty"),
        "{failed}"
    );
    let settings = ada.ok("get_ai_settings", json!({})).await;
    assert_eq!(settings["monthly_budget_usd"], 25.0);
    // The database refuses an empty success too.
    let owner = app.db.owner().await;
    let refused = crate::fixtures::try_exec(
        &owner,
        "UPDATE note_answers SET status = 'answered', answer = '  ' WHERE id = $1",
        vec![
            uuid::Uuid::parse_str(failed["id"].as_str().unwrap())
                .unwrap()
                .into(),
        ],
    )
    .await;
    assert!(refused.is_err());

    // A chain naming a model the team did not enable is refused, naming the field.
    let (status, body) = ada
        .call(
            "set_ai_settings",
            json!({"form": {"chain": "openai/gpt-5", "fall_over_on_refusal": false, "monthly_budget_usd": ""}}),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("chain")),
        "{body}"
    );
}

#[tokio::test]
async fn without_a_provider_ai_says_how_to_add_one_and_members_cannot_manage_them() {
    let app = spawn_app().await;
    let double = LlmDouble::start().await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = ada
        .ok(
            "create_project",
            json!({"form": {"name": "W", "description": "", "github_repo": "", "github_branch": "", "github_path": ""}}),
        )
        .await;
    let note = ada
        .ok(
            "create_note",
            json!({"project_id": project["id"], "form": {"title": "T", "body": "B"}}),
        )
        .await;
    let (status, body) = ada
        .call(
            "ask_note",
            json!({"note_id": note["id"], "question": "Why?"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("AI page"),
        "{body}"
    );
    assert_eq!(ada.ok("list_ai_models", json!({})).await, json!([]));
    assert_eq!(ada.ok("list_ai_providers", json!({})).await, json!([]));
    assert_eq!(ada.ok("ai_available", json!({})).await, json!(false));

    // Bad forms name their field.
    for (form, field) in [
        (
            json!({"name": "Bad Name!", "kind": "open_ai", "base_url": "", "api_key": "", "models": "m"}),
            "name",
        ),
        (
            json!({"name": "x", "kind": "acme", "base_url": "", "api_key": "", "models": "m"}),
            "kind",
        ),
        (
            json!({"name": "x", "kind": "custom", "base_url": "", "api_key": "", "models": "m"}),
            "base_url",
        ),
        (
            json!({"name": "x", "kind": "custom", "base_url": "ftp://x", "api_key": "", "models": "m"}),
            "base_url",
        ),
        (
            json!({"name": "x", "kind": "open_ai", "base_url": "", "api_key": "a b", "models": "m"}),
            "api_key",
        ),
        (
            json!({"name": "x", "kind": "open_ai", "base_url": "", "api_key": "", "models": ""}),
            "models",
        ),
    ] {
        let (status, body) = ada
            .call("save_ai_provider", json!({"id": null, "form": form}))
            .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (422, Some(field)),
            "{body}"
        );
    }
    // Names are unique in the team.
    provider(&ada, &double, "local", "llama_cpp", "smollm2-135m").await;
    assert_eq!(ada.ok("ai_available", json!({})).await, json!(true));
    let (status, body) = ada
        .call(
            "save_ai_provider",
            json!({"id": null, "form": {"name": "local", "kind": "ollama", "base_url": "", "api_key": "", "models": "llama3.2"}}),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("name")),
        "{body}"
    );

    // A member uses AI but does not manage it.
    let (bob, _) = signed_up(&app, "bob@example.com", "Bob's").await;
    let token = invite(&ada, "bob@example.com", "member").await;
    bob.ok("accept_invitation", json!({"token": token})).await;
    let engines = ada.ok("session", json!({})).await["active_tenant"].clone();
    bob.ok("switch_tenant", json!({"tenant_id": engines})).await;
    let providers = bob.ok("list_ai_providers", json!({})).await;
    let id = providers[0]["id"].clone();
    for (name, args) in [
        (
            "save_ai_provider",
            json!({"id": null, "form": {"name": "mine", "kind": "ollama", "base_url": "", "api_key": "", "models": "llama3.2"}}),
        ),
        ("remove_ai_provider", json!({"id": id})),
        ("clear_ai_provider", json!({"id": id})),
        ("test_ai_provider", json!({"id": id})),
        (
            "set_ai_settings",
            json!({"form": {"chain": "", "fall_over_on_refusal": false, "monthly_budget_usd": ""}}),
        ),
    ] {
        let (status, body) = bob.call(name, args).await;
        assert_eq!(status, 403, "{name}: {body}");
    }
    let answer = bob
        .ok(
            "ask_note",
            json!({"note_id": note["id"], "question": "Why?"}),
        )
        .await;
    assert_eq!(answer["status"], "answered", "{answer}");
}

#[tokio::test]
async fn another_teams_providers_notes_and_answers_are_not_found() {
    let double = LlmDouble::start().await;
    let app = spawn_app().await;
    let (ada, anthropic, note) = team_with_chain(&app, &double).await;
    let answer = ada
        .ok(
            "ask_note",
            json!({"note_id": note["id"], "question": "How?"}),
        )
        .await;
    assert_eq!(answer["status"], "answered");
    let (eve, _) = signed_up(&app, "eve@example.com", "Eve's").await;
    for (name, args) in [
        (
            "save_ai_provider",
            json!({"id": anthropic["id"], "form": {"name": "stolen", "kind": "open_ai", "base_url": "", "api_key": "", "models": "gpt-4o-mini"}}),
        ),
        ("remove_ai_provider", json!({"id": anthropic["id"]})),
        ("clear_ai_provider", json!({"id": anthropic["id"]})),
        ("test_ai_provider", json!({"id": anthropic["id"]})),
        (
            "ask_note",
            json!({"note_id": note["id"], "question": "What does it say?"}),
        ),
        ("list_note_answers", json!({"note_id": note["id"]})),
    ] {
        let (status, body) = eve.call(name, args).await;
        assert!(matches!(status, 404 | 403), "{name}: {status} {body}");
        assert!(!body.to_string().contains("blue-green"), "{name}: {body}");
    }
    // Eve sees none of Ada's providers, settings, models or spend.
    assert_eq!(eve.ok("list_ai_providers", json!({})).await, json!([]));
    assert_eq!(eve.ok("list_ai_models", json!({})).await, json!([]));
    assert_eq!(eve.ok("ai_available", json!({})).await, json!(false));
    let settings = eve.ok("get_ai_settings", json!({})).await;
    assert_eq!(
        (
            settings["chain"].clone(),
            settings["spent_this_month_usd"].clone()
        ),
        (json!([]), json!(0.0))
    );
    // Ada's provider is unchanged.
    let providers = ada.ok("list_ai_providers", json!({})).await;
    assert_eq!(providers.as_array().unwrap().len(), 3);
    assert!(providers.to_string().contains("\"anthropic\""));
}

#[tokio::test]
async fn an_admin_adds_a_model_the_catalog_lacks_and_its_prices_count() {
    let double = LlmDouble::start().await;
    let app = spawn_app().await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let local = provider(&ada, &double, "local", "llama_cpp", "smollm2-135m").await;
    let added = ada
        .ok(
            "add_ai_model",
            json!({"provider_id": local["id"], "form": {"id": "qwen2.5-7b", "context_window": "32,768",
                   "price_in": "0.5", "price_out": "$1.5", "vision": true}}),
        )
        .await;
    assert_eq!(added["models"], json!(["smollm2-135m", "qwen2.5-7b"]));
    let models = ada.ok("list_ai_models", json!({})).await;
    let qwen = models
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "qwen2.5-7b")
        .unwrap();
    assert_eq!(
        (
            &qwen["context_window"],
            &qwen["price_in"],
            &qwen["price_out"],
            &qwen["vision"]
        ),
        (&json!(32768), &json!(0.5), &json!(1.5), &json!(true))
    );
    ada.ok(
        "set_ai_settings",
        json!({"form": {"chain": "local/qwen2.5-7b", "fall_over_on_refusal": false, "monthly_budget_usd": ""}}),
    )
    .await;
    let project = ada
        .ok(
            "create_project",
            json!({"form": {"name": "W", "description": "", "github_repo": "", "github_branch": "", "github_path": ""}}),
        )
        .await;
    let note = ada
        .ok(
            "create_note",
            json!({"project_id": project["id"], "form": {"title": "T", "body": "B"}}),
        )
        .await;
    double.reply("local", Reply::Text("Four words in all.".into()));
    let answer = ada
        .ok(
            "ask_note",
            json!({"note_id": note["id"], "question": "Why?"}),
        )
        .await;
    assert_eq!(answer["model"], "qwen2.5-7b");
    let cost = answer["cost_usd"].as_f64().unwrap();
    assert!(
        (cost - (12.0 * 0.5 + 4.0 * 1.5) / 1e6).abs() < 1e-9,
        "{cost}"
    );
    for (form, field) in [
        (
            json!({"id": "x", "context_window": "lots", "price_in": "0", "price_out": "0", "vision": false}),
            "context_window",
        ),
        (
            json!({"id": "x", "context_window": "1000", "price_in": "-1", "price_out": "0", "vision": false}),
            "price_in",
        ),
        (
            json!({"id": "a b", "context_window": "1000", "price_in": "0", "price_out": "0", "vision": false}),
            "model_id",
        ),
    ] {
        let (status, body) = ada
            .call(
                "add_ai_model",
                json!({"provider_id": local["id"], "form": form}),
            )
            .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (422, Some(field)),
            "{body}"
        );
    }
    let (eve, _) = signed_up(&app, "eve@example.com", "Eve's").await;
    let (status, _) = eve
        .call(
            "add_ai_model",
            json!({"provider_id": local["id"], "form": {"id": "x", "context_window": "1000", "price_in": "0", "price_out": "0", "vision": false}}),
        )
        .await;
    assert!(matches!(status, 403 | 404), "{status}");
}

/// `cairn serve` as deployed, its log at `debug` kept in a file: a key the provider echoes back in
/// its 401 (as OpenAI does) appears in no answer and in no line of the log.
#[tokio::test]
async fn a_key_appears_in_no_answer_and_no_log_line_even_when_the_provider_echoes_it() {
    use std::process::{Command, Stdio};
    const ECHOED: &str = "sk-proj-echoedechoedechoed0123456789";
    let double = LlmDouble::start().await;
    double.reply("openai", Reply::unauthorized(ECHOED));
    double.reply("openai", Reply::unauthorized(ECHOED));
    let data_dir =
        tests::test_data_root().join(format!("keylog-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&data_dir).unwrap();
    let log_path = data_dir.join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(tests::cairn_bin())
        .arg("serve")
        .env_remove("DATABASE_URL")
        .env("CAIRN_DATA_DIR", &data_dir)
        .env("CAIRN_SERVER__PORT", port.to_string())
        .env("CAIRN_DATABASE__EMBEDDED__PORT", "0")
        .env("CAIRN_DATABASE__EMBEDDED__EPHEMERAL", "true")
        .env("CAIRN_LOG__FILTER", "debug")
        // The local provider server is on this machine, as an operator's Ollama would be.
        .env(
            "CAIRN_LLM__ALLOWED_PRIVATE_HOSTS",
            r#"["127.0.0.1", "localhost"]"#,
        )
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while !http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(
            child.try_wait().unwrap().is_none(),
            "cairn serve exited early"
        );
        assert!(std::time::Instant::now() < deadline, "not ready after 90 s");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let call = |name: &'static str, args: Value| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let response = http
                .post(format!("{base}/api/v1/{name}"))
                .json(&args)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            (status, text)
        }
    };
    let mut answers = String::new();
    let (status, text) = call("sign_up", json!({"form": {"email": "ada@example.com", "password": "correct horse battery", "display_name": "Ada", "tenant_name": "Engines"}})).await;
    assert_eq!(status, 200, "{text}");
    let (status, provider) = call("save_ai_provider", json!({"id": null, "form": {"name": "openai", "kind": "open_ai", "base_url": double.base_url("openai"), "api_key": ECHOED, "models": "gpt-4o-mini"}})).await;
    assert_eq!(status, 200, "{provider}");
    answers.push_str(&provider);
    let provider: Value = serde_json::from_str(&provider).unwrap();
    let (_, project) = call("create_project", json!({"form": {"name": "W", "description": "", "github_repo": "", "github_branch": "", "github_path": ""}})).await;
    let project: Value = serde_json::from_str(&project).unwrap();
    let (_, note) = call(
        "create_note",
        json!({"project_id": project["id"], "form": {"title": "T", "body": "B"}}),
    )
    .await;
    let note: Value = serde_json::from_str(&note).unwrap();
    let (status, asked) = call(
        "ask_note",
        json!({"note_id": note["id"], "question": "Why?"}),
    )
    .await;
    assert_eq!(status, 200, "{asked}");
    assert!(asked.contains("\"status\":\"failed\""), "{asked}");
    assert!(
        asked.contains("key refused") || asked.contains("redacted"),
        "{asked}"
    );
    answers.push_str(&asked);
    let (_, tested) = call("test_ai_provider", json!({"id": provider["id"]})).await;
    answers.push_str(&tested);
    for name in ["list_ai_providers", "get_ai_settings", "list_ai_models"] {
        answers.push_str(&call(name, json!({})).await.1);
    }
    answers.push_str(
        &call("list_note_answers", json!({"note_id": note["id"]}))
            .await
            .1,
    );
    // The key did reach the provider, as it must.
    assert!(
        double
            .seen()
            .iter()
            .any(|s| s.authorization.as_deref() == Some(&format!("Bearer {ECHOED}")))
    );
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let _ = child.wait();
    let logged = std::fs::read_to_string(&log_path).unwrap();
    assert!(logged.lines().count() > 10, "the log was kept: {logged}");
    for (what, text) in [("an answer", &answers), ("the log", &logged)] {
        assert!(!text.contains(ECHOED), "the key is in {what}");
        assert!(
            !text.contains("echoedechoed"),
            "part of the key is in {what}"
        );
    }
}

/// Asks `question` about `note` on the streaming route, as the note page does.
async fn ask_streaming(
    app: &TestApp,
    client: &RpcClient,
    note: &Value,
    question: &str,
) -> reqwest::Response {
    client
        .http
        .post(app.url(&format!(
            "/api/v1/notes/{}/ask",
            note["id"].as_str().unwrap()
        )))
        .json(&json!({ "question": question }))
        .send()
        .await
        .unwrap()
}

/// A team with one provider of the double (named `name`, its own reply queue) as its chain, and a
/// note to ask about.
async fn team_asking(
    app: &TestApp,
    double: &LlmDouble,
    email: &str,
    name: &str,
) -> (RpcClient, Value) {
    let (client, _) = signed_up(app, email, name).await;
    provider(&client, double, name, "open_ai", "gpt-4o-mini").await;
    client
        .ok(
            "set_ai_settings",
            json!({"form": {"chain": format!("{name}/gpt-4o-mini"), "fall_over_on_refusal": false,
                            "monthly_budget_usd": ""}}),
        )
        .await;
    let project = client
        .ok(
            "create_project",
            json!({"form": {"name": "Widgets", "description": "", "github_repo": "", "github_branch": "", "github_path": ""}}),
        )
        .await;
    let note = client
        .ok(
            "create_note",
            json!({"project_id": project["id"], "form": {"title": "Deploys", "body": "Blue-green."}}),
        )
        .await;
    (client, note)
}

/// Asks in flight are capped per team (429) and per instance (503), both with `Retry-After`, and
/// a slot comes back when its answer is stored. Nothing refused reaches a provider or stores an
/// answer.
#[tokio::test]
async fn asks_in_flight_are_capped_per_team_and_per_instance() {
    let double = LlmDouble::start().await;
    let app = tests::spawn_app_on(tests::TestDb::migrated().await, |settings| {
        settings.llm.max_asks_per_team = 2;
        settings.llm.max_asks_in_flight = 3;
    })
    .await
    .unwrap();
    let (ada, ada_note) = team_asking(&app, &double, "ada@example.com", "alpha").await;
    let (bob, bob_note) = team_asking(&app, &double, "bob@example.com", "beta").await;
    for _ in 0..2 {
        double.reply("alpha", Reply::Hang(std::time::Duration::from_millis(1500)));
    }
    double.reply("beta", Reply::Hang(std::time::Duration::from_millis(1500)));
    let ask = |client: &RpcClient, note: &Value| {
        let (client, note) = (client.clone(), note["id"].clone());
        tokio::spawn(async move {
            client
                .call(
                    "ask_note",
                    json!({"note_id": note, "question": "How do we deploy?"}),
                )
                .await
        })
    };
    // Ada's team asks four times at once: two are answered, two are told to come back.
    let adas: Vec<_> = (0..4).map(|_| ask(&ada, &ada_note)).collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while double.seen().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            double.seen().len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Bob's team asks twice while two of Ada's are in flight: one fits the instance, one does not.
    let bobs: Vec<_> = (0..2).map(|_| ask(&bob, &bob_note)).collect();
    let mut statuses = Vec::new();
    for (who, asks) in [("ada", adas), ("bob", bobs)] {
        for handle in asks {
            let (status, body) = handle.await.unwrap();
            if status != 200 {
                assert_eq!(body["retry_after_secs"], 5, "{body}");
            } else {
                assert_eq!(body["status"], "answered", "{body}");
            }
            statuses.push((who, status));
        }
    }
    statuses.sort();
    assert_eq!(
        statuses,
        vec![
            ("ada", 200),
            ("ada", 200),
            ("ada", 429),
            ("ada", 429),
            ("bob", 200),
            ("bob", 503)
        ]
    );
    assert_eq!(double.seen().len(), 3, "nothing refused reached a provider");
    assert_eq!(
        count(
            &app.db.owner().await,
            "SELECT count(*) FROM note_answers",
            vec![]
        )
        .await,
        3
    );
    // The slots came back with the answers.
    let (status, again) = ada
        .call(
            "ask_note",
            json!({"note_id": ada_note["id"], "question": "And now?"}),
        )
        .await;
    assert_eq!(
        (status, again["status"].as_str()),
        (200, Some("answered")),
        "{again}"
    );
}

/// An ask whose provider keeps streaming ends at `llm.ask_deadline_secs`: the answer is stored as
/// failed, saying so, and the team's slot comes back.
#[tokio::test]
async fn an_ask_ends_at_its_deadline_however_steadily_the_provider_sends() {
    let double = LlmDouble::start().await;
    let app = tests::spawn_app_on(tests::TestDb::migrated().await, |settings| {
        settings.llm.ask_deadline_secs = 2;
        settings.llm.max_asks_per_team = 1;
    })
    .await
    .unwrap();
    let (ada, note) = team_asking(&app, &double, "ada@example.com", "alpha").await;
    double.reply(
        "alpha",
        Reply::Endless("more ".into(), std::time::Duration::from_millis(100)),
    );
    let started = std::time::Instant::now();
    let response = ask_streaming(&app, &ada, &note, "How do we deploy?").await;
    assert_eq!(response.status(), 200);
    let events = tokio::time::timeout(std::time::Duration::from_secs(10), response.text())
        .await
        .expect("the stream ended")
        .unwrap();
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    assert!(events.contains("event: text"), "{events}");
    let answer = events
        .split("event: answer\ndata: ")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .expect("an answer event");
    let answer: Value = serde_json::from_str(answer).unwrap();
    assert_eq!(answer["status"], "failed", "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or_default()
            .contains("deadline"),
        "{answer}"
    );
    assert_eq!(
        answer["attempts"][0]["class"], "deadline_passed",
        "{answer}"
    );
    // Its slot is free again.
    let (status, again) = ada
        .call(
            "ask_note",
            json!({"note_id": note["id"], "question": "And now?"}),
        )
        .await;
    assert_eq!(
        (status, again["status"].as_str()),
        (200, Some("answered")),
        "{again}"
    );
}

/// Stop: the reader closes the stream while the model writes. The call ends at once (long before
/// its deadline), the answer is kept as stopped with the attempt's estimated cost, and its slot is
/// free again.
#[tokio::test]
async fn a_stopped_answer_ends_the_call_and_is_kept_as_stopped_with_its_cost() {
    let double = LlmDouble::start().await;
    let app = tests::spawn_app_on(tests::TestDb::migrated().await, |settings| {
        settings.llm.ask_deadline_secs = 60;
        settings.llm.max_asks_per_team = 1;
    })
    .await
    .unwrap();
    let (ada, note) = team_asking(&app, &double, "ada@example.com", "alpha").await;
    double.reply(
        "alpha",
        Reply::Endless("more ".into(), std::time::Duration::from_millis(50)),
    );
    let mut response = ask_streaming(&app, &ada, &note, "How do we deploy?").await;
    assert_eq!(response.status(), 200);
    let mut seen = String::new();
    while !seen.contains("event: text") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), response.chunk())
            .await
            .expect("text within 10 s")
            .unwrap()
            .expect("the stream goes on");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: attempt"), "{seen}");
    let stopped_at = std::time::Instant::now();
    drop(response);
    let answer = loop {
        let answers = ada
            .ok("list_note_answers", json!({"note_id": note["id"]}))
            .await;
        let answer = answers[0].clone();
        if answer["status"] != "running" {
            break answer;
        }
        assert!(
            stopped_at.elapsed() < std::time::Duration::from_secs(10),
            "still running 10 s after the stop: {answer}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(answer["status"], "failed", "{answer}");
    let attempt = &answer["attempts"][0];
    assert_eq!(attempt["class"], "stopped", "{answer}");
    assert!(
        attempt["error"]
            .as_str()
            .unwrap()
            .starts_with("stopped by the asker after"),
        "{answer}"
    );
    assert!(attempt["tokens_in"].as_u64().unwrap() > 0, "{answer}");
    assert!(attempt["tokens_out"].as_u64().unwrap() > 0, "{answer}");
    assert!(answer["cost_usd"].as_f64().unwrap() > 0.0, "{answer}");
    assert_eq!(answer["attempts"].as_array().unwrap().len(), 1);
    // Its slot is free again: the next question is answered.
    double.reply("alpha", Reply::Text("Blue-green.".into()));
    let (status, again) = ada
        .call(
            "ask_note",
            json!({"note_id": note["id"], "question": "And now?"}),
        )
        .await;
    assert_eq!(
        (status, again["status"].as_str()),
        (200, Some("answered")),
        "{again}"
    );
}

/// Twenty questions at once with a budget for one (gpt-4o-mini's worst case for this note is
/// about $0.00062 against $0.0009): the first reserves its worst case under the team's lock, the
/// others find too little left, and exactly one reaches the provider. The spend is a ledger, so
/// deleting the note keeps the month's spend.
#[tokio::test]
async fn twenty_questions_at_once_with_a_budget_for_one_send_one_and_deleting_keeps_the_spend() {
    let double = LlmDouble::start().await;
    let app = tests::spawn_app_on(tests::TestDb::migrated().await, |settings| {
        settings.llm.max_asks_per_team = 20;
    })
    .await
    .unwrap();
    let (ada, note) = team_asking(&app, &double, "ada@example.com", "alpha").await;
    ada.ok(
        "set_ai_settings",
        json!({"form": {"chain": "alpha/gpt-4o-mini", "fall_over_on_refusal": false,
                        "monthly_budget_usd": "0.0009"}}),
    )
    .await;
    // The first to be sent takes a while, so that every other question is asked meanwhile.
    double.reply("alpha", Reply::Hang(std::time::Duration::from_millis(1500)));
    let asks: Vec<_> = (0..20)
        .map(|n| {
            let (client, note) = (ada.clone(), note["id"].clone());
            tokio::spawn(async move {
                client
                    .ok(
                        "ask_note",
                        json!({"note_id": note, "question": format!("Question {n}?")}),
                    )
                    .await
            })
        })
        .collect();
    let mut answered = 0;
    for ask in asks {
        let answer = ask.await.unwrap();
        if answer["status"] == "answered" {
            answered += 1;
        } else {
            assert!(
                answer["error"].as_str().unwrap().contains("budget"),
                "{answer}"
            );
        }
    }
    assert_eq!(double.seen().len(), 1, "one question reached the provider");
    assert_eq!(answered, 1);
    let owner = app.db.owner().await;
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM ai_spend WHERE status = 'reserved'",
            vec![]
        )
        .await,
        0,
        "every reservation was settled"
    );
    let spent = ada.ok("get_ai_settings", json!({})).await["spent_this_month_usd"]
        .as_f64()
        .unwrap();
    assert!(spent > 0.0, "{spent}");

    // Deleting the note (and with it its answers and their attempts) keeps the month's spend.
    ada.ok("delete_note", json!({"id": note["id"]})).await;
    assert_eq!(
        count(&owner, "SELECT count(*) FROM note_answers", vec![]).await,
        0
    );
    let after = ada.ok("get_ai_settings", json!({})).await["spent_this_month_usd"]
        .as_f64()
        .unwrap();
    assert!((after - spent).abs() < 1e-12, "{spent} then {after}");
}

/// A team without providers of its own spends on the instance's only up to
/// `llm.team_monthly_budget_usd`; at 0 the instance's providers are not for teams at all.
/// The AI page shows the server's providers (read-only, with their state), says they answer the
/// team's questions while it has none of its own, and warns before a team provider replaces them.
#[tokio::test]
async fn the_ai_page_shows_the_servers_providers_and_whether_they_answer_this_team() {
    let double = LlmDouble::start().await;
    let shared = double.server_provider("shared", "open_ai", "gpt-4o-mini");
    let app = tests::spawn_app_on(tests::TestDb::migrated().await, move |settings| {
        settings.llm.providers = vec![shared];
        settings.llm.team_monthly_budget_usd = 5.0;
    })
    .await
    .unwrap();
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let instance = ada.ok("get_instance_ai", json!({})).await;
    assert_eq!(instance["applies"], true, "{instance}");
    assert_eq!(instance["chain"], json!(["shared/gpt-4o-mini"]));
    assert_eq!(instance["providers"][0]["kind"], "OpenAI");
    assert_eq!(instance["providers"][0]["state"], "ready");
    let page = ada.get("/ai").await.text().await.unwrap();
    for said in [
        "From the server's configuration",
        "This team has no AI provider of its own",
        "These answer this team's questions, as it has no provider of its own: up to $5.00 a month",
        "id=\"replaces-instance\"",
        "shared/gpt-4o-mini",
        "this team's monthly share of the server's providers",
    ] {
        assert!(page.contains(said), "{said} not in {page}");
    }
    assert!(!page.contains("No AI provider yet"), "{page}");
    // With a provider of its own, the server's are listed as not used, and nothing warns.
    provider(&ada, &double, "own", "open_ai", "gpt-4o-mini").await;
    let instance = ada.ok("get_instance_ai", json!({})).await;
    assert_eq!(instance["applies"], false, "{instance}");
    let page = ada.get("/ai").await.text().await.unwrap();
    assert!(page.contains("Not used by this team"), "{page}");
    assert!(!page.contains("replaces-instance"), "{page}");
    // Without a server's provider, nothing of the kind is shown.
    let plain = tests::spawn_app().await;
    let (bob, _) = signed_up(&plain, "bob@example.com", "Looms").await;
    assert_eq!(bob.ok("get_instance_ai", json!({})).await, Value::Null);
    let page = bob.get("/ai").await.text().await.unwrap();
    assert!(page.contains("No AI provider yet"), "{page}");
    assert!(!page.contains("From the server"), "{page}");
}

#[tokio::test]
async fn a_team_spends_on_the_instances_providers_only_up_to_its_share() {
    let double = LlmDouble::start().await;
    let shared = double.server_provider("shared", "open_ai", "gpt-4o-mini");
    let instance = move |share: f64| {
        let shared = shared.clone();
        move |settings: &mut server::config::Settings| {
            settings.llm.providers = vec![shared];
            settings.llm.team_monthly_budget_usd = share;
        }
    };
    // A share smaller than one question's worst case: refused before anything is sent.
    let app = tests::spawn_app_on(tests::TestDb::migrated().await, instance(0.0001))
        .await
        .unwrap();
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let note = note_of(&ada).await;
    let refused = ada
        .ok(
            "ask_note",
            json!({"note_id": note["id"], "question": "How?"}),
        )
        .await;
    assert_eq!(refused["status"], "failed", "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("budget"),
        "{refused}"
    );
    assert!(double.seen().is_empty(), "nothing was sent");
    // A share that fits: answered on the instance's provider.
    let app = tests::spawn_app_on(tests::TestDb::migrated().await, instance(5.0))
        .await
        .unwrap();
    let (bob, _) = signed_up(&app, "bob@example.com", "Looms").await;
    let note = note_of(&bob).await;
    let answered = bob
        .ok(
            "ask_note",
            json!({"note_id": note["id"], "question": "How?"}),
        )
        .await;
    assert_eq!(answered["status"], "answered", "{answered}");
    assert_eq!(answered["provider"], "shared");
    // 0: the instance's providers are the instance's; the team is told to add its own.
    let app = tests::spawn_app_on(tests::TestDb::migrated().await, instance(0.0))
        .await
        .unwrap();
    let (cy, _) = signed_up(&app, "cy@example.com", "Mills").await;
    let note = note_of(&cy).await;
    let (status, body) = cy
        .call(
            "ask_note",
            json!({"note_id": note["id"], "question": "How?"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("provider"),
        "{body}"
    );
    assert_eq!(double.seen().len(), 1);
}

async fn note_of(client: &RpcClient) -> Value {
    let project = client
        .ok(
            "create_project",
            json!({"form": {"name": "Widgets", "description": "", "github_repo": "", "github_branch": "", "github_path": ""}}),
        )
        .await;
    client
        .ok(
            "create_note",
            json!({"project_id": project["id"], "form": {"title": "Deploys", "body": "Blue-green."}}),
        )
        .await
}
