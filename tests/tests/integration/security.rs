//! Holes a stranger with a free account could use, each closed and tried here.

use crate::rpc::signed_up;
use serde_json::json;
use std::sync::{Arc, Mutex};
use tests::github_double::{GitHubDouble, GitRepo};
use tests::{LocalServer, TestDb, spawn_app_on};

/// Two free ports where the second's address starts with the first's (`…:4123` and `…:41231`).
fn lookalike_ports() -> (u16, u16) {
    for base in (2001..6553u16).step_by(97) {
        let lookalike = base * 10 + 1;
        let free = |port: u16| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
        if free(base) && free(lookalike) {
            return (base, lookalike);
        }
    }
    panic!("no pair of free ports");
}

#[tokio::test]
async fn the_token_never_follows_an_archive_redirect_to_a_lookalike_address() {
    let (api_port, lookalike_port) = lookalike_ports();
    let github = GitHubDouble::start_on(api_port).await;
    // The lookalike host records what it is sent, and fails (the sync then fetches blob by blob).
    let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let recorded = seen.clone();
    let router = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let recorded = recorded.clone();
        async move {
            recorded.lock().unwrap().push(
                headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
            );
            axum::http::StatusCode::BAD_GATEWAY
        }
    });
    let _lookalike = LocalServer::start(router, lookalike_port, "the lookalike host").await;
    let api = github.api_url();
    assert!(format!("http://127.0.0.1:{lookalike_port}").starts_with(&api));
    github.redirect_archives_to(&format!("http://127.0.0.1:{lookalike_port}"));

    let repo = GitRepo::new();
    for n in 0..3 {
        repo.write(&format!("src/{n}.rs"), format!("pub fn f{n}() {{}}\n"));
    }
    repo.commit("first");
    github.serve("acme/private", repo.path());
    github.require_token("ghp_privateprivateprivate");
    let app = spawn_app_on(TestDb::migrated().await, move |settings| {
        settings.github.api_url = api;
        settings.github.retry_pause_ms = 10;
        // Every import through the archive.
        settings.github.archive_threshold = 1;
    })
    .await
    .unwrap();
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = ada
        .ok(
            "create_project",
            json!({"form": {"name": "Private", "description": "", "github_repo": "acme/private",
                   "github_branch": "main", "github_path": ""}}),
        )
        .await;
    ada.ok(
        "set_github_token",
        json!({"project_id": project["id"], "token": "ghp_privateprivateprivate"}),
    )
    .await;
    let started = ada
        .ok("sync_project", json!({"project_id": project["id"]}))
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let done = loop {
        let now = ada.ok("get_sync", json!({"id": started["id"]})).await;
        if now["status"] == "completed" || now["status"] == "failed" {
            break now;
        }
        assert!(std::time::Instant::now() < deadline, "{now}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["counts"]["added"], 3);
    let seen = seen.lock().unwrap().clone();
    assert!(
        !seen.is_empty(),
        "the archive was asked for at the lookalike"
    );
    assert!(
        seen.iter().all(Option::is_none),
        "the token went to another host: {seen:?}"
    );
}
