//! Knowledge search: a team's entries and notes chunked and searchable by words without any
//! model; an embedding model chosen (its space built in the background, identical texts embedded
//! once, a failure mid-way resumed without embedding anything twice) and search fused with
//! meaning; a model change that builds beside the active space and switches when complete, the old
//! space kept until removed; other teams seeing nothing; and a real embedding model (the local
//! OpenAI-compatible server the test script starts) finding a text by its meaning alone.

use crate::ai::provider;
use crate::fixtures::exec;
use crate::project_sync::{linked_project, sync};
use crate::rpc::signed_up;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tests::github_double::{GitHubDouble, GitRepo};
use tests::llm_double::{LlmDouble, Reply};
use tests::{RpcClient, TestApp, TestDb, spawn_app, spawn_app_on};

/// Polls `search_knowledge` until `until` holds, within 30 s.
async fn search_until(client: &RpcClient, query: Value, until: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = client.ok("search_knowledge", json!({"query": query})).await;
        if until(&found) {
            return found;
        }
        assert!(Instant::now() < deadline, "never: {found}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls the team's spaces until `until` holds, within 60 s.
async fn spaces_until(client: &RpcClient, until: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let spaces = client.ok("list_embedding_spaces", json!({})).await;
        let spaces = spaces.as_array().cloned().unwrap_or_default();
        if until(&spaces) {
            return spaces;
        }
        assert!(Instant::now() < deadline, "never: {spaces:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Chooses `model` of `provider` as the team's embedding model; the space it answers.
async fn choose(client: &RpcClient, provider: &str, model: &str) -> Value {
    client
        .ok(
            "choose_embedding_model",
            json!({"choice": {"provider": provider, "model": model}}),
        )
        .await
}

fn text(query: &str) -> Value {
    json!({"text": query})
}

fn titles(found: &Value) -> Vec<String> {
    found["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["title"].as_str().unwrap().to_owned())
        .collect()
}

/// Inputs of the embedding requests the double received, in order.
fn embedded_inputs(double: &LlmDouble) -> Vec<String> {
    double
        .seen()
        .iter()
        .filter(|seen| seen.endpoint == "embeddings")
        .flat_map(|seen| {
            seen.body["input"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|i| i.as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

async fn team_with_project(app: &TestApp, email: &str) -> (RpcClient, Value) {
    let (client, _) = signed_up(app, email, "Engines").await;
    let project = client
        .ok(
            "create_project",
            json!({"form": {"name": "Widgets", "description": "", "github_repo": "", "github_branch": "", "github_path": ""}}),
        )
        .await;
    (client, project)
}

async fn manual(client: &RpcClient, project: &Value, title: &str, content: &str) -> Value {
    client
        .ok(
            "create_memory_entry",
            json!({"project_id": project["id"], "form": {"title": title, "content": content}}),
        )
        .await
}

#[tokio::test]
async fn words_first_then_meaning_once_the_space_is_built_and_identical_texts_are_embedded_once() {
    let app = spawn_app().await;
    let double = LlmDouble::start().await;
    let (ada, project) = team_with_project(&app, "ada@example.com").await;
    manual(
        &ada,
        &project,
        "Deploys",
        "We deploy with the blue-green script every Tuesday.",
    )
    .await;
    manual(
        &ada,
        &project,
        "Licence",
        "Copyright the Widgets authors. All rights reserved.",
    )
    .await;
    manual(
        &ada,
        &project,
        "Licence",
        "Copyright the Widgets authors. All rights reserved.",
    )
    .await;
    ada.ok(
        "create_note",
        json!({"project_id": project["id"], "form": {"title": "Release checklist", "body": "Run the blue-green switch, then watch the error rate."}}),
    )
    .await;

    // No model: words only, and the answer says so.
    let found = search_until(&ada, text("blue-green"), |f| {
        f["hits"].as_array().unwrap().len() == 2
    })
    .await;
    assert_eq!(found["mode"], "full_text");
    assert!(
        found["note"]
            .as_str()
            .unwrap()
            .contains("No embedding model"),
        "{found}"
    );
    let mut shown = titles(&found);
    shown.sort();
    assert_eq!(shown, ["Deploys", "Release checklist"]);
    let hit = &found["hits"][0];
    assert_eq!(hit["matched"], "words");
    assert!(
        hit["snippet"].as_str().unwrap().contains('\u{E000}'),
        "the words are marked: {hit}"
    );

    // A model chosen: its space builds, then search fuses words and meaning.
    provider(&ada, &double, "openai", "open_ai", "text-embedding-3-small").await;
    let space = choose(&ada, "openai", "text-embedding-3-small").await;
    assert_eq!(
        space["dimensions"], 8,
        "measured by asking the model: {space}"
    );
    let spaces = spaces_until(&ada, |s| s.first().is_some_and(|s| s["status"] == "active")).await;
    assert_eq!(spaces[0]["vectors"], spaces[0]["chunks"]);
    assert_eq!(spaces[0]["chunks"], 4);
    // The two identical licence entries were sent once (the probe sent "Cairn").
    let inputs = embedded_inputs(&double);
    assert_eq!(inputs[0], "Cairn");
    assert_eq!(
        inputs.len(),
        1 + 3,
        "four chunks, two of them the same text: {inputs:?}"
    );
    assert_eq!(
        inputs.iter().filter(|i| i.starts_with("Licence")).count(),
        1
    );

    let found = ada
        .ok("search_knowledge", json!({"query": text("blue-green")}))
        .await;
    assert_eq!(found["mode"], "hybrid", "{found}");
    assert!(found["note"].is_null());
    assert!(
        found["hits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["matched"] == "both"),
        "{found}"
    );
    assert_eq!(
        found["hits"].as_array().unwrap().len(),
        4,
        "meaning ranks every chunk: {found}"
    );
    // Filters narrow both sides.
    let notes = ada
        .ok(
            "search_knowledge",
            json!({"query": {"text": "blue-green", "kinds": ["note"]}}),
        )
        .await;
    assert_eq!(titles(&notes), ["Release checklist"]);
    assert!(
        notes["hits"][0]["link"]
            .as_str()
            .unwrap()
            .contains("/notes/"),
        "{notes}"
    );

    // Another team sees none of it, and cannot touch the space.
    let (bob, _) = team_with_project(&app, "bob@example.com").await;
    let theirs = bob
        .ok("search_knowledge", json!({"query": text("blue-green")}))
        .await;
    assert_eq!(theirs["hits"], json!([]));
    assert_eq!(bob.ok("list_embedding_spaces", json!({})).await, json!([]));
    assert_eq!(
        bob.ok("get_knowledge_indexing", json!({})).await,
        json!({"spaces": [], "state": {"state": "idle"}})
    );
    let (status, _) = bob
        .call("drop_embedding_space", json!({"id": space["id"]}))
        .await;
    assert_eq!(status, 404);
    // An empty search is refused, saying why.
    let (status, body) = ada
        .call("search_knowledge", json!({"query": text("   ")}))
        .await;
    assert_eq!(status, 422, "{body}");
    // Searching by meaning alone without an embedding model is refused, saying why; a way of
    // matching that does not exist is named as the field it is.
    let (status, body) = bob
        .call(
            "search_knowledge",
            json!({"query": {"text": "blue-green", "by": "meaning"}}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "by", "{body}");
    assert!(body["reason"].as_str().unwrap().contains("embedding model"));
    let (status, body) = ada
        .call(
            "search_knowledge",
            json!({"query": {"text": "blue-green", "by": "sideways"}}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("by"), "{body}");
}

#[tokio::test]
async fn a_model_change_builds_beside_the_active_space_switches_when_complete_and_keeps_the_old() {
    let app = spawn_app().await;
    let double = LlmDouble::start().await;
    let (ada, project) = team_with_project(&app, "ada@example.com").await;
    for n in 1..=70 {
        manual(
            &ada,
            &project,
            &format!("Entry {n}"),
            &format!("Fact number {n} about widgets."),
        )
        .await;
    }
    provider(&ada, &double, "openai", "open_ai", "text-embedding-3-small").await;
    provider(&ada, &double, "local16", "custom", "embed-16").await;
    let first = choose(&ada, "openai", "text-embedding-3-small").await;
    spaces_until(&ada, |s| {
        s.first()
            .is_some_and(|s| s["status"] == "active" && s["chunks"] == 70)
    })
    .await;

    // The new model's first request fails in a way no retry inside the call cures; the job's
    // next attempt starts from the first text without a vector.
    double.reply("local16", Reply::Text(String::new()));
    double.reply(
        "local16",
        Reply::Error {
            status: 400,
            body: r#"{"error":{"message":"Invalid 'input': too many tokens in one item.","type":"invalid_request_error","param":null,"code":null}}"#.into(),
            retry_after: None,
        },
    );
    let second = choose(&ada, "local16", "embed-16").await;
    assert_eq!(second["dimensions"], 16);
    assert_eq!(second["status"], "building");
    // Meanwhile search keeps the active space.
    let found = ada
        .ok("search_knowledge", json!({"query": text("widgets")}))
        .await;
    assert_eq!(found["mode"], "hybrid", "{found}");

    let spaces = spaces_until(&ada, |s| {
        s.iter()
            .any(|s| s["id"] == second["id"] && s["status"] == "active")
    })
    .await;
    let old = spaces.iter().find(|s| s["id"] == first["id"]).unwrap();
    assert_eq!(old["status"], "retired");
    assert_eq!(old["vectors"], 70, "the old space keeps its vectors");
    // Each text of the new model was embedded once: the request that failed stored nothing, the
    // ones before and after it cover the 70 texts exactly.
    let requests: Vec<Value> = double
        .seen()
        .iter()
        .filter(|s| s.endpoint == "embeddings" && s.provider == "local16")
        .map(|s| s.body.clone())
        .collect();
    let sizes: Vec<usize> = requests
        .iter()
        .map(|b| b["input"].as_array().map_or(1, Vec::len))
        .collect();
    assert_eq!(sizes[0], 1, "the probe: {sizes:?}");
    let stored: usize = sizes[1..].iter().sum::<usize>() - sizes[1];
    assert_eq!(sizes[1], 64, "the request that failed: {sizes:?}");
    assert_eq!(stored, 70, "{sizes:?}");
    // A custom server is told what it embeds (asymmetric models embed questions and passages
    // apart); OpenAI's API gets only its own fields.
    assert!(requests.iter().all(|b| b["input_type"] == "document"));
    let found = ada
        .ok("search_knowledge", json!({"query": text("widgets")}))
        .await;
    assert_eq!(found["mode"], "hybrid");
    let searched = double.seen();
    let query = searched
        .iter()
        .rev()
        .find(|s| s.endpoint == "embeddings" && s.provider == "local16")
        .unwrap();
    assert_eq!(query.body["input"], json!(["widgets"]), "{:?}", query.body);
    assert_eq!(query.body["input_type"], "query");
    assert!(
        searched
            .iter()
            .filter(|s| s.endpoint == "embeddings" && s.provider == "openai")
            .all(|s| s.body.get("input_type").is_none())
    );

    // The retired space is removed only on request, naming what it removes.
    let (status, _) = ada
        .call("drop_embedding_space", json!({"id": second["id"]}))
        .await;
    assert_eq!(status, 409, "the active space stays");
    let removed = ada
        .ok("drop_embedding_space", json!({"id": first["id"]}))
        .await;
    assert_eq!(removed, 70);
    let spaces = ada.ok("list_embedding_spaces", json!({})).await;
    assert_eq!(spaces.as_array().unwrap().len(), 1);
}

/// A real embedding model (multilingual-e5-small, served by the test script's local
/// OpenAI-compatible server): a question that shares no word with the text it needs finds it.
#[tokio::test]
async fn a_real_embedding_model_finds_a_text_by_its_meaning_alone() {
    let app = spawn_app().await;
    let (ada, project) = team_with_project(&app, "ada@example.com").await;
    manual(
        &ada,
        &project,
        "Payments",
        "Refunds are issued to the original card within five business days.",
    )
    .await;
    manual(
        &ada,
        &project,
        "Kitchen",
        "The office coffee machine is descaled on the first Monday of each month.",
    )
    .await;
    manual(
        &ada,
        &project,
        "Builds",
        "The CI pipeline caches the cargo registry between jobs.",
    )
    .await;
    let space = choose_local_model(&ada, Duration::from_secs(60)).await;
    assert_eq!(space["dimensions"], 384);
    // No word of the question is in the payments text.
    let found = ada
        .ok(
            "search_knowledge",
            json!({"query": text("how long until a customer gets money back")}),
        )
        .await;
    assert_eq!(found["mode"], "hybrid", "{found}");
    assert_eq!(found["hits"][0]["title"], "Payments", "{found}");
    assert_eq!(found["hits"][0]["matched"], "meaning");
}

/// Adds the real local embedding model (the server scripts/test.sh starts) as the team's provider
/// "local", chooses it and waits up to `patience` for its space to be active; the space.
pub(crate) async fn choose_local_model(client: &RpcClient, patience: Duration) -> Value {
    let base = std::env::var("CAIRN_TEST_EMBEDDINGS_URL").expect(
        "CAIRN_TEST_EMBEDDINGS_URL: the local embedding server scripts/test.sh starts (run the \
         tests with scripts/test.sh)",
    );
    client
        .ok(
            "save_ai_provider",
            json!({"id": null, "form": {"name": "local", "kind": "custom", "base_url": base,
                   "api_key": "", "models": "multilingual-e5-small-q4"}}),
        )
        .await;
    choose(client, "local", "multilingual-e5-small-q4").await;
    let deadline = Instant::now() + patience;
    loop {
        let spaces = client.ok("list_embedding_spaces", json!({})).await;
        if spaces[0]["status"] == "active" {
            return spaces[0].clone();
        }
        assert!(Instant::now() < deadline, "never active: {spaces}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Gives the team `n` chunks of one source, each with a random vector in its active space.
async fn seed_chunks(owner: &sea_orm::DatabaseConnection, project: &Value, n: i64) {
    let project: uuid::Uuid = project["id"].as_str().unwrap().parse().unwrap();
    exec(
        owner,
        "WITH team AS (SELECT tenant_id FROM projects WHERE id = $1),
              source AS (
                  INSERT INTO knowledge_sources (tenant_id, source_kind, source_id, project_id, source_hash)
                  SELECT tenant_id, 'manual', gen_random_uuid(), $1, 'seeded' FROM team
                  RETURNING tenant_id, source_id),
              chunks AS (
                  INSERT INTO knowledge_chunks (id, tenant_id, project_id, source_kind, source_id, seq,
                                                title, content, content_hash)
                  SELECT gen_random_uuid(), s.tenant_id, $1, 'manual', s.source_id, n,
                         'chunk ' || n, 'seeded text ' || n, md5($1::text || n)
                    FROM source s, generate_series(0, $2 - 1) AS n
                  RETURNING id, tenant_id, content_hash)
         INSERT INTO chunk_vectors (tenant_id, space_id, chunk_id, project_id, source_kind,
                                    content_hash, embedding)
         SELECT c.tenant_id, sp.id, c.id, $1, 'manual', c.content_hash,
                ARRAY(SELECT random() FROM generate_series(1, 8 + (c.id IS NULL)::int))::real[]::vector
           FROM chunks c JOIN embedding_spaces sp ON sp.tenant_id = c.tenant_id AND sp.status = 'active'",
        vec![project.into(), n.into()],
    )
    .await;
}

/// 20,000 chunks of one team, 1 % of them in one project: a search by meaning narrowed to that
/// project still fills the page with that project's chunks only, and its top 10 are the exact
/// nearest 10 (or nearly). (At this size the planner reads the project's 200 vectors exactly; where
/// it walks the space's index instead, iterative scans keep the filter from starving the page.)
/// Another team, whose own space is empty, finds none of them.
#[tokio::test]
async fn a_project_holding_one_percent_of_the_vectors_gets_a_full_page_of_its_own_nearest() {
    let app = spawn_app().await;
    let double = LlmDouble::start().await;
    let (ada, big) = team_with_project(&app, "ada@example.com").await;
    let small = ada
        .ok(
            "create_project",
            json!({"form": {"name": "Gadgets", "description": "", "github_repo": "", "github_branch": "", "github_path": ""}}),
        )
        .await;
    let (bob, _) = team_with_project(&app, "bob@example.com").await;
    for client in [&ada, &bob] {
        provider(
            client,
            &double,
            "openai",
            "open_ai",
            "text-embedding-3-small",
        )
        .await;
        choose(client, "openai", "text-embedding-3-small").await;
        spaces_until(client, |s| {
            s.first().is_some_and(|s| s["status"] == "active")
        })
        .await;
    }
    let owner = app.db.owner().await;
    seed_chunks(&owner, &big, 19_800).await;
    seed_chunks(&owner, &small, 200).await;
    exec(&owner, "ANALYZE chunk_vectors", vec![]).await;

    let query = "zzzz qqqq";
    let found = ada
        .ok(
            "search_knowledge",
            json!({"query": {"text": query, "project_id": small["id"]}}),
        )
        .await;
    assert_eq!(found["mode"], "hybrid", "{found}");
    let hits = found["hits"].as_array().unwrap();
    assert_eq!(hits.len(), api::knowledge::MAX_HITS, "a full page: {found}");
    assert!(
        hits.iter()
            .all(|h| h["project_id"] == small["id"] && h["matched"] == "meaning")
    );

    // The exact nearest 10, as a scan of every one of the project's vectors finds them (the
    // query's vector is the double's: its first bytes).
    let vector: Vec<String> = (0..8)
        .map(|i| (f32::from(query.as_bytes()[i]) / 255.0).to_string())
        .collect();
    let exact: Vec<String> = owner
        .query_all_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT c.title FROM chunk_vectors v JOIN knowledge_chunks c ON c.id = v.chunk_id
              WHERE v.project_id = $1
              ORDER BY v.embedding::vector(8) <=> $2::vector(8) LIMIT 10",
            [
                small["id"]
                    .as_str()
                    .unwrap()
                    .parse::<uuid::Uuid>()
                    .unwrap()
                    .into(),
                format!("[{}]", vector.join(",")).into(),
            ],
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String>("", "title").unwrap())
        .collect();
    let shown: Vec<String> = titles(&found).into_iter().take(10).collect();
    let recalled = exact.iter().filter(|t| shown.contains(t)).count();
    assert!(
        recalled >= 9,
        "recall@10 {recalled}/10: {shown:?} against {exact:?}"
    );
    // The whole team's search ranks across both projects; another team sees none of it.
    let everywhere = ada
        .ok("search_knowledge", json!({"query": text(query)}))
        .await;
    assert_eq!(
        everywhere["hits"].as_array().unwrap().len(),
        api::knowledge::MAX_HITS
    );
    let theirs = bob
        .ok("search_knowledge", json!({"query": text(query)}))
        .await;
    assert_eq!(theirs["hits"], json!([]), "{theirs}");
}

/// An app whose GitHub is the local double, taking files up to 100 KB.
pub(crate) async fn app_with_github(github: &GitHubDouble) -> TestApp {
    let api_url = github.api_url();
    spawn_app_on(TestDb::migrated().await, move |settings| {
        settings.github.api_url = api_url;
        settings.github.retry_pause_ms = 10;
    })
    .await
    .unwrap()
}

/// A Rust file of two functions, each long enough to be a chunk of its own.
fn two_functions(second_body: &str) -> String {
    let filler = |name: &str| {
        (1..=20)
            .map(|n| format!("    let {name}_{n} = compute_{name}({n}); // step {n} of {name}\n"))
            .collect::<String>()
    };
    format!(
        "/// Prices an order.\npub fn price() {{\n{}}}\n\n/// Ships an order.\npub fn ship() {{\n{}{second_body}}}\n",
        filler("price"),
        filler("ship")
    )
}

/// Polls until the team's active space has a vector for every chunk and `more` embedding inputs
/// arrived after `mark`.
async fn indexed_after(client: &RpcClient, double: &LlmDouble, mark: usize, more: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let spaces = client.ok("list_embedding_spaces", json!({})).await;
        let full = spaces[0]["vectors"] == spaces[0]["chunks"];
        if full && embedded_inputs(double).len() >= mark + more {
            return;
        }
        assert!(Instant::now() < deadline, "never indexed: {spaces}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A re-sync that changes one function of one file embeds that function's chunk only: the file's
/// other chunk and the other files keep their vectors.
#[tokio::test]
async fn a_resync_of_one_changed_file_embeds_only_its_changed_chunk() {
    let github = GitHubDouble::start().await;
    let repo = GitRepo::new();
    repo.write("src/orders.rs", two_functions(""));
    repo.write("src/lib.rs", "pub mod orders;\n");
    repo.write("README.md", "# Shop\nSells widgets.\n");
    repo.commit("first");
    github.serve("acme/shop", repo.path());
    let app = app_with_github(&github).await;
    let double = LlmDouble::start().await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = linked_project(&ada, "acme/shop", "").await;
    let (first, _) = sync(&app, &ada, &project).await;
    assert_eq!(first["status"], "completed", "{first}");
    provider(&ada, &double, "openai", "open_ai", "text-embedding-3-small").await;
    choose(&ada, "openai", "text-embedding-3-small").await;
    // The probe, and the four chunks: two of orders.rs, lib.rs, the README.
    indexed_after(&ada, &double, 0, 1 + 4).await;
    let spaces = ada.ok("list_embedding_spaces", json!({})).await;
    assert_eq!(spaces[0]["chunks"], 4, "{spaces}");
    let mark = embedded_inputs(&double).len();

    repo.write("src/orders.rs", two_functions("    notify_customer();\n"));
    repo.commit("ship tells the customer");
    let (second, _) = sync(&app, &ada, &project).await;
    assert_eq!(second["counts"]["changed"], 1, "{second}");
    indexed_after(&ada, &double, mark, 1).await;
    let sent: Vec<String> = embedded_inputs(&double).split_off(mark);
    assert_eq!(sent.len(), 1, "only the changed function: {sent:?}");
    assert!(sent[0].contains("notify_customer();") && sent[0].contains("pub fn ship()"));
    let spaces = ada.ok("list_embedding_spaces", json!({})).await;
    assert_eq!(spaces[0]["chunks"], 4);
    assert_eq!(spaces[0]["vectors"], 4);
}

/// An ask about a note whose answer lives in a synced file: the file's chunk is sent, numbered,
/// with the question; the answer cites it; the answer keeps exactly the text that was sent.
#[tokio::test]
async fn an_answer_cites_the_synced_file_it_came_from_and_keeps_what_the_model_saw() {
    let github = GitHubDouble::start().await;
    let repo = GitRepo::new();
    repo.write(
        "src/refunds.rs",
        "/// Refunds are collected and sent to the card network in one batch every night at 02:00,\n/// so a refund asked for in the morning reaches the card the next day.\npub fn batch_refunds() {}\n",
    );
    repo.write(
        "src/deploy.rs",
        "/// Blue-green switch of the web servers.\npub fn switch() {}\n",
    );
    repo.commit("first");
    github.serve("acme/shop", repo.path());
    let app = app_with_github(&github).await;
    let double = LlmDouble::start().await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = linked_project(&ada, "acme/shop", "").await;
    sync(&app, &ada, &project).await;
    provider(&ada, &double, "openai", "open_ai", "gpt-4o-mini").await;
    double.respond_with("openai", |_| {
        Some(Reply::Text(
            "Refunds go out in one nightly batch, so they reach the card the next day [1].".into(),
        ))
    });
    let note = ada
        .ok(
            "create_note",
            json!({"project_id": project, "form": {"title": "Complaint", "body": "A customer says their refund took two days."}}),
        )
        .await;
    search_until(&ada, text("refunds"), |found| {
        titles(found).contains(&"src/refunds.rs".to_owned())
    })
    .await;

    let answer = ada
        .ok(
            "ask_note",
            json!({"note_id": note["id"], "question": "Why did the refund take so long?"}),
        )
        .await;
    assert_eq!(answer["status"], "answered", "{answer}");
    assert!(answer["answer"].as_str().unwrap().contains("[1]"));
    let sources = answer["sources"].as_array().unwrap();
    assert_eq!(sources[0]["n"], 1);
    assert_eq!(sources[0]["title"], "src/refunds.rs", "{answer}");
    assert_eq!(sources[0]["lines"], json!([1, 3]));
    assert!(sources[0]["link"].as_str().unwrap().ends_with("#L1-L3"));
    assert!(
        sources.iter().all(|s| s["title"] != "Complaint"),
        "the note itself is not one of its sources"
    );
    // What the provider received is what the answer keeps.
    let asked = double
        .seen()
        .into_iter()
        .rfind(|seen| seen.endpoint == "chat")
        .unwrap();
    let prompt = crate::workflows::prompt(&asked.body);
    for source in sources {
        let source: api::knowledge::CitedSource = serde_json::from_value(source.clone()).unwrap();
        assert!(prompt.contains(&source.label()), "{prompt}");
        assert!(prompt.contains(&source.text), "{prompt}");
    }
    let kept = ada
        .ok("list_note_answers", json!({"note_id": note["id"]}))
        .await;
    assert_eq!(kept[0]["sources"], answer["sources"]);
}

async fn cairn_embeddings(app: &TestApp, args: &[&str]) -> (i32, String, String) {
    let mut command = tests::cairn_command(app);
    command.arg("embeddings").args(args);
    tests::output_of(command).await
}

/// `cairn embeddings backfill --team T` does the indexing itself (this app runs no jobs) and
/// follows it to the end; after a model change it builds the new space and search switches;
/// `drop-space` removes the retired one, and refuses the active one or an unknown id.
#[tokio::test]
async fn the_command_line_backfills_a_team_and_removes_a_retired_space() {
    let app = spawn_app_on(TestDb::migrated().await, |settings| {
        settings.jobs.enabled = false;
    })
    .await
    .unwrap();
    let double = LlmDouble::start().await;
    let (ada, project) = team_with_project(&app, "ada@example.com").await;
    for n in 1..=3 {
        manual(
            &ada,
            &project,
            &format!("Entry {n}"),
            &format!("Fact {n} about widgets."),
        )
        .await;
    }
    provider(&ada, &double, "openai", "open_ai", "text-embedding-3-small").await;
    provider(&ada, &double, "local16", "custom", "embed-16").await;
    let first = choose(&ada, "openai", "text-embedding-3-small").await;
    let owner = app.db.owner().await;
    let team: uuid::Uuid = owner
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT tenant_id FROM projects WHERE id = $1",
            [project["id"]
                .as_str()
                .unwrap()
                .parse::<uuid::Uuid>()
                .unwrap()
                .into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "tenant_id")
        .unwrap();
    let team = team.to_string();

    // Choosing a model the team has no provider for, or the one it has, changes nothing.
    let (status, body) = ada
        .call(
            "choose_embedding_model",
            json!({"choice": {"provider": "nope", "model": "text-embedding-3-small"}}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = ada
        .call(
            "choose_embedding_model",
            json!({"choice": {"provider": "openai", "model": "text-embedding-3-small"}}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let spaces = ada.ok("list_embedding_spaces", json!({})).await;
    assert_eq!(spaces.as_array().unwrap().len(), 1, "{spaces}");
    // "Index now" adds nothing while the team's indexing waits (this app runs no jobs).
    assert_eq!(
        ada.ok("start_knowledge_indexing", json!({})).await,
        Value::Null
    );

    let (code, out, err) = cairn_embeddings(&app, &["backfill", "--team", &team]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("openai/text-embedding-3-small: 3 of 3 chunks embedded"),
        "{out}"
    );
    // Now nothing waits: "Index now" queues a job, and a second press adds none.
    assert!(
        ada.ok("start_knowledge_indexing", json!({}))
            .await
            .is_string()
    );
    assert_eq!(
        ada.ok("start_knowledge_indexing", json!({})).await,
        Value::Null
    );
    // A member may search, but neither index nor choose nor remove.
    let (bob, _) = signed_up(&app, "bob@example.com", "Bob's").await;
    let token = crate::rpc::invite(&ada, "bob@example.com", "member").await;
    bob.ok("accept_invitation", json!({"token": token})).await;
    let engines = ada.ok("session", json!({})).await["active_tenant"].clone();
    bob.ok("switch_tenant", json!({"tenant_id": engines})).await;
    for (name, args) in [
        ("start_knowledge_indexing", json!({})),
        (
            "choose_embedding_model",
            json!({"choice": {"provider": "local16", "model": "embed-16"}}),
        ),
        ("drop_embedding_space", json!({"id": first["id"]})),
    ] {
        let (status, body) = bob.call(name, args).await;
        assert_eq!(status, 403, "{name}: {body}");
    }
    bob.ok("search_knowledge", json!({"query": text("widgets")}))
        .await;
    let second = choose(&ada, "local16", "embed-16").await;
    // Another team with a model of its own: without --team, every such team is filled.
    let (cy, cy_project) = team_with_project(&app, "cy@example.com").await;
    manual(&cy, &cy_project, "Only", "Cy's one fact.").await;
    provider(&cy, &double, "openai", "open_ai", "text-embedding-3-small").await;
    choose(&cy, "openai", "text-embedding-3-small").await;
    let (code, out, err) = cairn_embeddings(&app, &["backfill"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("local16/embed-16: 3 of 3 chunks embedded"),
        "{out}"
    );
    assert!(
        out.contains("openai/text-embedding-3-small: 1 of 1 chunks embedded"),
        "{out}"
    );
    let (code, _, err) = cairn_embeddings(
        &app,
        &["backfill", "--space", first["id"].as_str().unwrap()],
    )
    .await;
    assert_eq!(code, 1, "a space without its team: {err}");
    let spaces = ada.ok("list_embedding_spaces", json!({})).await;
    let status = |id: &Value| {
        spaces
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == *id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status(&second["id"]), "active");
    assert_eq!(status(&first["id"]), "retired");

    let first_id = first["id"].as_str().unwrap();
    let (code, _, err) =
        cairn_embeddings(&app, &["drop-space", second["id"].as_str().unwrap()]).await;
    assert_eq!(code, 2, "the active space stays: {err}");
    let (code, out, err) = cairn_embeddings(&app, &["drop-space", first_id]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("and its 3 vectors"), "{out}");
    let (code, _, err) = cairn_embeddings(&app, &["drop-space", first_id]).await;
    assert_eq!(code, 2);
    assert!(err.contains("no embedding space"), "{err}");
    let (code, _, err) = cairn_embeddings(
        &app,
        &["backfill", "--team", &uuid::Uuid::new_v4().to_string()],
    )
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("no team"), "{err}");
}

/// `cairn worker` on the test app's database.
fn worker_process(app: &TestApp) -> tokio::process::Child {
    tests::worker_command(app)
        .spawn()
        .expect("starting cairn worker")
}

/// The embedding requests after the model's probe, as the double received them: their inputs.
fn backfill_requests(double: &LlmDouble) -> Vec<Vec<String>> {
    double
        .seen()
        .iter()
        .filter(|seen| seen.endpoint == "embeddings")
        .skip(1)
        .map(|seen| {
            seen.body["input"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

/// A backfill whose worker is killed with SIGKILL while its second request is under way: what the
/// first request embedded stays stored, search keeps answering by words meanwhile, and another
/// worker takes the job over and embeds only what had no vector (the unanswered request's texts
/// once more, the first request's never again).
#[tokio::test]
async fn a_backfill_killed_mid_request_resumes_where_it_stopped_and_embeds_nothing_twice() {
    // A web-only instance: the backfill runs in `cairn worker` processes.
    let app = spawn_app_on(TestDb::migrated().await, |settings| {
        settings.jobs.enabled = false;
        settings.jobs.stale_after_secs = Some(2);
    })
    .await
    .unwrap();
    let double = LlmDouble::start().await;
    let (ada, project) = team_with_project(&app, "ada@example.com").await;
    for n in 0..150 {
        manual(
            &ada,
            &project,
            &format!("Runbook {n}"),
            &format!("Step {n}: restart the ingest worker number {n} after draining its queue."),
        )
        .await;
    }
    provider(&ada, &double, "openai", "open_ai", "text-embedding-3-small").await;
    choose(&ada, "openai", "text-embedding-3-small").await;
    // The first request (64 texts) is answered; the second never is.
    double.reply("openai", Reply::Text(String::new()));
    double.reply("openai", Reply::Hang(Duration::from_secs(300)));

    let mut first_worker = worker_process(&app);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let spaces = ada.ok("list_embedding_spaces", json!({})).await;
        if backfill_requests(&double).len() == 2 && spaces[0]["vectors"] == 64 {
            break;
        }
        assert!(Instant::now() < deadline, "never mid-backfill: {spaces}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first_worker.start_kill().unwrap();
    first_worker.wait().await.unwrap();
    let spaces = ada.ok("list_embedding_spaces", json!({})).await;
    assert_eq!(spaces[0]["status"], "building", "{spaces}");
    assert_eq!(spaces[0]["vectors"], 64, "{spaces}");
    assert_eq!(spaces[0]["chunks"], 150, "{spaces}");
    let meanwhile = ada
        .ok(
            "search_knowledge",
            json!({"query": text("ingest worker 7")}),
        )
        .await;
    assert_eq!(meanwhile["mode"], "full_text", "{meanwhile}");
    assert_eq!(meanwhile["hits"][0]["title"], "Runbook 7", "{meanwhile}");

    let mut second_worker = worker_process(&app);
    let deadline = Instant::now() + Duration::from_secs(60);
    let space = loop {
        let spaces = ada.ok("list_embedding_spaces", json!({})).await;
        if spaces[0]["status"] == "active" {
            break spaces[0].clone();
        }
        assert!(Instant::now() < deadline, "never taken over: {spaces}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    second_worker.start_kill().unwrap();
    let _ = second_worker.wait().await;
    assert_eq!(space["vectors"], 150, "{space}");

    let requests = backfill_requests(&double);
    let (answered_first, unanswered) = (&requests[0], &requests[1]);
    assert_eq!((answered_first.len(), unanswered.len()), (64, 64));
    let after: Vec<&String> = requests[2..].iter().flatten().collect();
    // The second worker sends exactly the 86 texts without a vector: never one the first request
    // embedded, and the unanswered request's again.
    assert_eq!(after.len(), 150 - 64, "{requests:?}");
    assert!(after.iter().all(|text| !answered_first.contains(text)));
    assert!(unanswered.iter().all(|text| after.contains(&text)));
    let distinct: std::collections::HashSet<&String> = after.iter().copied().collect();
    assert_eq!(distinct.len(), after.len(), "a text sent twice");
    let found = ada
        .ok(
            "search_knowledge",
            json!({"query": text("ingest worker 7")}),
        )
        .await;
    assert_eq!(found["mode"], "hybrid", "{found}");
}

/// A rate limit longer than the router waits in a request: the backfill waits in the queue until
/// it ends without using up one of its attempts (a large backfill meets many), and the AI page's
/// state says why and until when.
#[tokio::test]
async fn a_rate_limited_backfill_waits_in_the_queue_without_using_an_attempt() {
    let app = spawn_app().await;
    let double = LlmDouble::start().await;
    let (ada, project) = team_with_project(&app, "ada@example.com").await;
    manual(&ada, &project, "Runbook", "Restart the ingest worker.").await;
    provider(&ada, &double, "openai", "open_ai", "text-embedding-3-small").await;
    // The model's probe is answered; the backfill's first request is told to come back in an hour.
    double.reply("openai", Reply::Text(String::new()));
    double.reply("openai", Reply::rate_limited(Some(3600)));
    choose(&ada, "openai", "text-embedding-3-small").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let indexing = loop {
        let indexing = ada.ok("get_knowledge_indexing", json!({})).await;
        if indexing["state"]["state"] == "waiting" {
            break indexing;
        }
        assert!(Instant::now() < deadline, "never waiting: {indexing}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let reason = indexing["state"]["reason"].as_str().unwrap();
    assert!(reason.contains("rate limited"), "{indexing}");
    let retry_at: chrono::DateTime<chrono::Utc> = indexing["state"]["retry_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let wait = retry_at - chrono::Utc::now();
    assert!(
        wait > chrono::TimeDelta::minutes(55) && wait <= chrono::TimeDelta::minutes(61),
        "{indexing}"
    );
    assert_eq!(indexing["spaces"][0]["status"], "building");
    assert_eq!(indexing["spaces"][0]["vectors"], 0);
    let attempts: Vec<i32> = app
        .db
        .owner()
        .await
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT attempts FROM jobs WHERE kind = 'knowledge.index' AND status = 'queued'",
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get("", "attempts").unwrap())
        .collect();
    // (The job queued by the entry may have seen the space too and be waiting as well.)
    assert!(
        !attempts.is_empty() && attempts.iter().all(|a| *a == 0),
        "the wait used up an attempt: {attempts:?}"
    );
    // Meanwhile search answers by words, saying why.
    let found = ada
        .ok("search_knowledge", json!({"query": text("ingest worker")}))
        .await;
    assert_eq!(found["mode"], "full_text");
    assert_eq!(found["hits"][0]["title"], "Runbook");
}
