//! Pooled connections come back clean: no transaction, no tenant. A `BEGIN` cancelled in flight
//! leaves nothing open; a connection that comes back inside a transaction anyway is rolled back,
//! closed and counted, and never hands its tenant to the next user; and every page the server
//! renders, loaded many times at once by two teams, shows exactly its own team's data, the same
//! every time, with no "transaction in progress" warning.

use crate::rpc::signed_up;
use futures_util::StreamExt;
use sea_orm::sqlx::{Executor, Row};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::json;
use std::time::Duration;
use tests::github_double::{GitHubDouble, GitRepo};
use tests::log_capture::LogCapture;
use tests::served::ServedCairn;
use tests::{RpcClient, TestDb, spawn_app_on};

/// Whether the pool's next connection is inside a transaction, and the tenant it holds.
async fn next_connection_state(pool: &sea_orm::DatabaseConnection) -> (bool, String) {
    let mut conn = pool
        .get_postgres_connection_pool()
        .acquire()
        .await
        .expect("a connection");
    let row = conn
        .fetch_one(sea_orm::sqlx::raw_sql(
            "SELECT transaction_timestamp() <> statement_timestamp() AS in_transaction,
                    coalesce(current_setting('app.tenant_id', true), '') AS tenant",
        ))
        .await
        .expect("asking the connection");
    (row.get("in_transaction"), row.get("tenant"))
}

#[tokio::test]
async fn a_begin_cancelled_in_flight_leaves_no_transaction_open() {
    let db = TestDb::migrated().await;
    let health = domain::PoolHealth::default();
    // One connection: every transaction below runs on the same one.
    let pool = server::database::connect_checked(&db.app_url(), 1, &health)
        .await
        .unwrap();
    let mut cancelled_in_flight = 0;
    for polls in 0..60 {
        let begin = pool.begin();
        tokio::pin!(begin);
        let mut done = false;
        for _ in 0..=polls % 4 {
            if futures_util::poll!(begin.as_mut()).is_ready() {
                done = true;
                break;
            }
        }
        if !done {
            cancelled_in_flight += 1;
        }
        // Dropped here, finished or not: a page's read that nobody waits for any more.
    }
    assert!(
        cancelled_in_flight > 10,
        "only {cancelled_in_flight} begins were cut off while in flight"
    );
    let (in_transaction, tenant) = next_connection_state(&pool).await;
    assert!(!in_transaction);
    assert_eq!(tenant, "");
    assert_eq!(
        health.returned_dirty(),
        0,
        "a cancelled BEGIN left its connection inside a transaction"
    );
}

#[tokio::test]
async fn a_connection_returned_inside_a_transaction_never_hands_its_tenant_to_the_next_user() {
    let log = LogCapture::default();
    let _logging = log.start();
    // One pooled connection, so the next user gets exactly the one left dirty.
    let app = spawn_app_on(TestDb::migrated().await, |settings| {
        settings.database.max_connections = 1;
    })
    .await
    .unwrap();
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    ada.ok("create_project", json!({"form": {"name": "Analytical Engine", "description": "", "github_repo": "", "github_branch": "", "github_path": ""}}))
        .await;
    let (bob, _) = signed_up(&app, "bob@example.com", "Looms").await;
    bob.ok("create_project", json!({"form": {"name": "Jacquard", "description": "", "github_repo": "", "github_branch": "", "github_path": ""}}))
        .await;
    let ada_tenant = app
        .db
        .owner()
        .await
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT id::text AS id FROM tenants WHERE name = 'Engines'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<String>("", "id")
        .unwrap();

    // Behind the driver's back: a transaction opened, Ada's team set in it, and the connection
    // handed back to the pool as it is.
    let pool = app.state.ctx.db.connection().clone();
    {
        let mut conn = pool.get_postgres_connection_pool().acquire().await.unwrap();
        conn.execute(sea_orm::sqlx::raw_sql("BEGIN")).await.unwrap();
        conn.execute(
            sea_orm::sqlx::query("SELECT set_config('app.tenant_id', $1, true)").bind(&ada_tenant),
        )
        .await
        .unwrap();
    }

    // The next user of the pool reads tenant rows with no tenant of its own (as the queue, the
    // schedule and the command line do): it must see nothing of Ada's.
    let visible = pool
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT name FROM projects",
        ))
        .await
        .unwrap();
    assert!(
        visible.is_empty(),
        "the next user saw {} project(s) of another team",
        visible.len()
    );
    // Bob's requests see Bob's team only.
    let listed = bob.ok("list_projects", json!({})).await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Jacquard"]);
    let page = bob.get("/projects").await.text().await.unwrap();
    assert!(page.contains("Jacquard") && !page.contains("Analytical"));

    // The check caught it, said so, and counted it; the connection after it is clean.
    assert_eq!(app.state.ctx.db.pool_health().returned_dirty(), 1);
    let (in_transaction, tenant) = next_connection_state(&pool).await;
    assert!(!in_transaction);
    assert_eq!(tenant, "");
    let logged = log.text();
    assert!(
        logged.contains("came back to the pool inside a transaction"),
        "{logged}"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("cairn_db_connections_returned_dirty_total 1"),
        "{metrics}"
    );
}

/// A team with a project linked to its own repository, synced, a note and a manual memory entry;
/// the pages to load and the words each must show.
struct Team {
    client: RpcClient,
    /// Served by the local GitHub for as long as the team lives.
    _repo: GitRepo,
    /// Words only this team's pages contain.
    marker: String,
    pages: Vec<(String, Vec<String>)>,
}

async fn team(client: RpcClient, github: &GitHubDouble, who: &str, word: &str) -> Team {
    client
        .ok(
            "sign_up",
            json!({"form": {"email": format!("{who}@example.com"), "password": crate::rpc::PASSWORD,
                   "display_name": who, "tenant_name": format!("{word} team")}}),
        )
        .await;
    let repo = GitRepo::new();
    repo.write(&format!("src/{word}.rs"), format!("pub fn {word}() {{}}\n"));
    // No language Cairn knows: imported with none.
    repo.write("LICENSE", format!("{word} licence\n"));
    let head = repo.commit("first");
    github.serve(&format!("{word}/repo"), repo.path());
    let project = client
        .ok(
            "create_project",
            json!({"form": {"name": format!("{word} project"), "description": format!("All about {word}"),
                   "github_repo": format!("{word}/repo"), "github_branch": "main", "github_path": ""}}),
        )
        .await;
    let project_id = project["id"].as_str().unwrap().to_owned();
    let sync = client
        .ok("sync_project", json!({"project_id": project_id}))
        .await;
    let sync_id = sync["id"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let now = client.ok("get_sync", json!({"id": sync_id})).await;
        if now["status"] == "completed" {
            break;
        }
        assert!(
            (now["status"] == "queued" || now["status"] == "running")
                && std::time::Instant::now() < deadline,
            "{now}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let note = client
        .ok(
            "create_note",
            json!({"project_id": project_id, "form": {"title": format!("{word} note"), "body": format!("Notes on {word}")}}),
        )
        .await;
    let entry = client
        .ok(
            "create_memory_entry",
            json!({"project_id": project_id, "form": {"title": format!("{word} memory"), "content": format!("Remember {word}")}}),
        )
        .await;
    let files = client
        .ok(
            "list_memory",
            json!({"project_id": project_id, "query": {"status": "active", "kind": "file", "text": "", "page": 0}}),
        )
        .await;
    let file = files["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source_path"] == format!("src/{word}.rs"))
        .expect("the synced file")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (p, n, e) = (
        project_id.as_str(),
        note["id"].as_str().unwrap(),
        entry["id"].as_str().unwrap(),
    );
    let short = head.get(..7).unwrap().to_owned();
    let named = format!("{word} project");
    let pages = vec![
        ("/".to_owned(), vec![]),
        ("/projects".to_owned(), vec![named.clone()]),
        (
            format!("/projects/{p}"),
            vec![named.clone(), format!("completed · {short}")],
        ),
        (format!("/projects/{p}/notes"), vec![format!("{word} note")]),
        (
            format!("/projects/{p}/notes/{n}"),
            vec![format!("Notes on {word}")],
        ),
        (
            format!("/projects/{p}/memory"),
            vec![format!("{word} memory"), format!("src/{word}.rs")],
        ),
        (
            format!("/projects/{p}/memory/{e}"),
            vec![format!("Remember {word}")],
        ),
        // A file entry: its code highlighted on the server.
        (
            format!("/projects/{p}/memory/{file}"),
            vec![format!("src/{word}.rs"), "hl-code".to_owned()],
        ),
        (format!("/projects/{p}/sources"), vec![short.clone()]),
        (
            format!("/projects/{p}/sources/syncs/{sync_id}"),
            vec![format!("src/{word}.rs")],
        ),
        (format!("/projects/{p}/settings"), vec![named.clone()]),
        ("/team".to_owned(), vec![format!("{who}@example.com")]),
        ("/ai".to_owned(), vec![]),
        ("/account".to_owned(), vec![format!("{who}@example.com")]),
    ];
    Team {
        client,
        _repo: repo,
        marker: word.to_owned(),
        pages,
    }
}

/// `cairn serve` as deployed (its multi-threaded runtime: a page's reads really race each other),
/// its log read afterwards.
#[tokio::test]
async fn every_page_loaded_at_once_by_two_teams_shows_its_own_team_every_time() {
    let github = GitHubDouble::start().await;
    let db = TestDb::migrated().await;
    let served = ServedCairn::start(
        &db,
        "warn",
        &[
            ("CAIRN_GITHUB__API_URL", github.api_url()),
            // A small pool, as a modest instance has: connections are reused all the time.
            ("CAIRN_DATABASE__MAX_CONNECTIONS", "4".to_owned()),
        ],
    )
    .await;
    let teams = [
        team(served.browser(), &github, "ada", "saffron").await,
        team(served.browser(), &github, "bob", "indigo").await,
    ];

    // Every page, 20 times, for both teams, interleaved: one request at a time, then 16 at a
    // time (each way of loading once found pages wrong).
    let mut loads = Vec::new();
    for round in 0..20 {
        for page_index in 0..teams[0].pages.len() {
            for (who, team) in teams.iter().enumerate() {
                loads.push((round, team, &teams[1 - who], page_index));
            }
        }
    }
    let total = loads.len() * 2;
    let mut failures = Vec::new();
    for at_once in [1, 16] {
        let found: Vec<String> = futures_util::stream::iter(loads.clone())
            .map(|(round, team, other, page_index)| async move {
                let (path, words) = &team.pages[page_index];
                let response = team.client.get(path).await;
                let status = response.status();
                let html = response.text().await.unwrap_or_default();
                let mut wrong = Vec::new();
                if status != 200 {
                    wrong.push(format!("status {status}"));
                }
                for word in words {
                    if !html.contains(word.as_str()) {
                        wrong.push(format!("lacks {word:?}"));
                    }
                }
                if html.contains(other.marker.as_str()) {
                    wrong.push(format!("shows the other team's {:?}", other.marker));
                }
                (!wrong.is_empty()).then(|| {
                    format!(
                        "{at_once} at a time, round {round} {path}: {}",
                        wrong.join(", ")
                    )
                })
            })
            .buffer_unordered(at_once)
            .filter_map(|failure| async move { failure })
            .collect()
            .await;
        failures.extend(found);
    }
    let metrics = served.browser().get("/metrics").await.text().await.unwrap();
    let log: String = served
        .log()
        .lines()
        .filter(|line| line.contains("WARN") || line.contains("ERROR"))
        .take(40)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        failures.is_empty(),
        "{} of {total} loads were wrong:\n{}\n{log}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        metrics.contains("cairn_db_connections_returned_dirty_total 0"),
        "{metrics}\n{log}"
    );
    // Not a warning of any kind: no "already a transaction in progress", no connection caught
    // dirty, no server function running after its request was gone.
    assert!(log.is_empty(), "{log}");
}
