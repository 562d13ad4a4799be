//! Liveness, readiness, request ids and the error boundary, through HTTP.

use crate::fixtures::exec;
use serde_json::{Value, json};
use tests::{TestDb, spawn_app, spawn_app_on};

#[tokio::test]
async fn healthz_and_readyz_answer_when_everything_is_up() {
    let app = spawn_app().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({"status": "ready", "database": "ok", "migrations": "current"})
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_the_clients() {
    let app = spawn_app().await;
    let generated = app.get("/healthz").await;
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    let kept = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "support-ticket-42")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "support-ticket-42");
}

#[tokio::test]
async fn unknown_routes_get_a_404_page_or_the_stable_error_shape() {
    let app = spawn_app().await;
    let api = app.get("/api/v1/no_such_function").await;
    assert_eq!(api.status(), 404);
    assert_eq!(
        api.json::<Value>().await.unwrap(),
        json!({"kind": "not_found"})
    );
    let page = app.get("/no/such/page").await;
    assert_eq!(page.status(), 404);
    assert!(page.text().await.unwrap().contains("Page not found"));
}

#[tokio::test]
async fn readyz_reports_pending_migrations() {
    let db = TestDb::empty().await;
    let app = spawn_app_on(db, |settings| settings.database.migrate_on_start = false)
        .await
        .expect("the app starts without migrating");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(
        body["pending_migrations"][0],
        "m20261122_000001_initial_schema"
    );
    // Liveness does not depend on the database.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn readyz_reports_an_unreachable_database_without_leaking_details() {
    let app = spawn_app().await;
    let superuser = server::database::connect(&app.db.admin_url(), 1)
        .await
        .unwrap();
    exec(
        &superuser,
        &format!(
            "ALTER DATABASE {} WITH ALLOW_CONNECTIONS false",
            app.db.name
        ),
        vec![],
    )
    .await;
    exec(
        &superuser,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        vec![app.db.name.clone().into()],
    )
    .await;
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "not_ready", "database": "unreachable"})
    );
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn the_server_stops_gracefully_when_asked() {
    let app = spawn_app().await;
    let address = app.address;
    app.stop().await.expect("a clean stop");
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "the port is closed"
    );
}
