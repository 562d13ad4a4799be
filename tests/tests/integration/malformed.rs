//! Requests the server cannot read: each is answered 422 naming the field and saying what is wrong
//! in words, with none of the JSON parser's text, and changes nothing.

use crate::fixtures::count;
use crate::rpc::{PASSWORD, signed_up};
use serde_json::{Value, json};
use tests::spawn_app;

/// Asserts a 422 for `field` and returns its reason, checking it carries no parser internals.
fn refused(status: u16, body: &Value, field: &str) -> String {
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["kind"], "invalid", "{body}");
    assert_eq!(body["field"], field, "{body}");
    let text = body.to_string();
    for internal in ["line ", "column", "`"] {
        assert!(!text.contains(internal), "{internal:?} in {text}");
    }
    body["reason"].as_str().expect("a reason").to_owned()
}

#[tokio::test]
async fn malformed_requests_name_the_field_and_create_nothing() {
    let app = spawn_app().await;
    let (browser, _) = signed_up(&app, "ada@example.com", "Team").await;

    let (status, body) = browser
        .call(
            "set_memory_status",
            json!({"id": uuid::Uuid::new_v4(), "status": "god"}),
        )
        .await;
    let reason = refused(status, &body, "status");
    assert!(reason.starts_with("must be one of"), "{body}");

    let (status, body) = browser
        .call(
            "create_project",
            json!({"form": {"name": 5, "description": "", "github_repo": "", "github_branch": "", "github_path": ""}}),
        )
        .await;
    assert_eq!(refused(status, &body, "name"), "must be text");

    let (status, body) = browser
        .call("get_project", json!({"id": "not-a-uuid"}))
        .await;
    assert_eq!(refused(status, &body, "id"), "is not a valid id");

    let (status, body) = app
        .browser()
        .call(
            "sign_up",
            json!({"form": {"email": "bob@example.com", "display_name": "Bob", "tenant_name": "Bobs"}}),
        )
        .await;
    assert_eq!(refused(status, &body, "password"), "is required");

    let response = browser
        .http
        .post(app.url("/api/v1/create_project"))
        .header("content-type", "application/json")
        .body(r#"{"form":"#)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(refused(status, &body, "request"), "is not valid JSON");

    let owner = app.db.owner().await;
    assert_eq!(
        count(&owner, "SELECT count(*) FROM projects", vec![]).await,
        0
    );
    assert_eq!(
        count(&owner, "SELECT count(*) FROM users", vec![]).await,
        1,
        "only Ada signed up"
    );
    // The well-formed request still works: the refusals above were about the input only.
    browser
        .ok(
            "log_in",
            json!({"form": {"email": "ada@example.com", "password": PASSWORD}}),
        )
        .await;
}
