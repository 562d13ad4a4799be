//! Personal API tokens: made on the account page (as a signed-in member), sent as
//! `Authorization: Bearer cairn_…` to the JSON RPC and the streaming routes, scoped to one team,
//! read-only or not, revocable, expiring, and void once their member leaves.

use crate::fixtures::{count, exec};
use crate::rpc::{invite, project, signed_up};
use serde_json::{Value, json};
use tests::{RpcClient, TestApp, spawn_app};

/// A client that sends `token` as a bearer token and keeps no cookies.
struct Bearer {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Bearer {
    fn new(app: &TestApp, token: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: app.url(""),
            token: token.to_owned(),
        }
    }

    async fn call(&self, name: &str, args: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/api/v1/{name}", self.base))
            .bearer_auth(&self.token)
            .json(&args)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

async fn token(client: &RpcClient, scope: &str) -> (String, Value) {
    let made = client
        .ok(
            "create_api_token",
            json!({"form": {"name": format!("{scope} token"), "scope": scope, "expires_in_days": "30"}}),
        )
        .await;
    let secret = made["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("cairn_"), "{made}");
    (secret, made["token"].clone())
}

#[tokio::test]
async fn a_token_acts_for_its_member_in_its_team_and_a_read_token_changes_nothing() {
    let app = spawn_app().await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let widgets = ada.ok("create_project", project("Widgets")).await;
    let (write, made) = token(&ada, "write").await;
    let (read, _) = token(&ada, "read").await;

    // The token is shown once: listed afterwards without it, and stored only as a hash.
    let listed = ada.ok("list_api_tokens", json!({})).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(!listed.to_string().contains(&write) && !listed.to_string().contains(&read));
    assert_eq!(listed[1]["id"], made["id"]);
    let owner = app.db.owner().await;
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM api_tokens WHERE token_hash = $1 OR token_hash = $2",
            vec![write.clone().into(), read.clone().into()],
        )
        .await,
        0,
        "the token itself is not stored"
    );

    // A write token reads and writes as Ada, in her team.
    let writer = Bearer::new(&app, &write);
    let (status, projects) = writer.call("list_projects", json!({})).await;
    assert_eq!(status, 200, "{projects}");
    assert_eq!(projects[0]["name"], "Widgets");
    let (status, created) = writer.call("create_project", project("Gadgets")).await;
    assert_eq!(status, 200, "{created}");

    // A read token reads; every write is refused (403) and changes nothing.
    let reader = Bearer::new(&app, &read);
    assert_eq!(reader.call("list_projects", json!({})).await.0, 200);
    let projects_before = count(&owner, "SELECT count(*) FROM projects", vec![]).await;
    for (name, args) in [
        ("create_project", project("Sprockets")),
        (
            "update_project",
            json!({"id": widgets["id"], "form": {"name": "Renamed", "description": "", "github_repo": "", "github_branch": "", "github_path": ""}}),
        ),
        ("delete_project", json!({"id": widgets["id"]})),
        (
            "create_note",
            json!({"project_id": widgets["id"], "form": {"title": "t", "body": "b"}}),
        ),
        (
            "create_memory_entry",
            json!({"project_id": widgets["id"], "form": {"title": "t", "content": "c"}}),
        ),
        (
            "invite_member",
            json!({"email": "x@example.com", "role": "member"}),
        ),
        ("sync_project", json!({"project_id": widgets["id"]})),
    ] {
        let (status, body) = reader.call(name, args).await;
        assert_eq!(status, 403, "{name}: {body}");
    }
    assert_eq!(
        count(&owner, "SELECT count(*) FROM projects", vec![]).await,
        projects_before
    );

    // Tokens make no tokens and do not manage the account.
    for (name, args) in [
        (
            "create_api_token",
            json!({"form": {"name": "n", "scope": "write", "expires_in_days": "1"}}),
        ),
        ("list_api_tokens", json!({})),
        ("list_sessions", json!({})),
    ] {
        let (status, body) = writer.call(name, args).await;
        assert!(matches!(status, 401 | 403), "{name}: {status} {body}");
    }

    // A cross-site request with a token is not a forged one: the token is the proof, and a
    // cookie sent beside it carries no authority.
    let cross_site = reqwest::Client::new()
        .post(app.url("/api/v1/list_projects"))
        .bearer_auth(&write)
        .header("origin", "https://elsewhere.example")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 200);
    let anonymous = reqwest::Client::new()
        .post(app.url("/api/v1/list_projects"))
        .header("authorization", "Bearer cairn_not-a-token")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn a_token_never_reaches_another_team_and_stops_when_revoked_expired_or_its_member_leaves() {
    let app = spawn_app().await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let (eve, _) = signed_up(&app, "eve@example.com", "Eve's").await;
    let eves = eve.ok("create_project", project("Secret")).await;
    let (ada_token, made) = token(&ada, "write").await;
    let ada_bearer = Bearer::new(&app, &ada_token);
    // Another team's rows are missing, as for a session.
    for (name, args) in [
        ("get_project", json!({"id": eves["id"]})),
        ("delete_project", json!({"id": eves["id"]})),
        ("list_notes", json!({"project_id": eves["id"], "page": 0})),
    ] {
        let (status, body) = ada_bearer.call(name, args).await;
        assert_eq!(status, 404, "{name}: {body}");
    }
    // Eve cannot revoke Ada's token.
    let (status, _) = eve
        .call("revoke_api_token", json!({"id": made["id"]}))
        .await;
    assert_eq!(status, 404);

    // Revoked: 401 at once.
    let (other, other_made) = token(&ada, "read").await;
    ada.ok("revoke_api_token", json!({"id": other_made["id"]}))
        .await;
    assert_eq!(
        Bearer::new(&app, &other)
            .call("list_projects", json!({}))
            .await
            .0,
        401
    );
    // Expired: 401.
    let (expiring, expiring_made) = token(&ada, "read").await;
    exec(
        &app.db.owner().await,
        "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1",
        vec![
            uuid::Uuid::parse_str(expiring_made["id"].as_str().unwrap())
                .unwrap()
                .into(),
        ],
    )
    .await;
    assert_eq!(
        Bearer::new(&app, &expiring)
            .call("list_projects", json!({}))
            .await
            .0,
        401
    );
    // Its member removed from the team: every token of theirs there stops.
    let (bob, _) = signed_up(&app, "bob@example.com", "Bob's").await;
    let invitation = invite(&ada, "bob@example.com", "member").await;
    bob.ok("accept_invitation", json!({"token": invitation}))
        .await;
    let (bob_token, _) = token(&bob, "write").await;
    let bob_bearer = Bearer::new(&app, &bob_token);
    let (status, projects) = bob_bearer.call("list_projects", json!({})).await;
    assert_eq!(status, 200, "{projects}");
    let bob_id = bob.ok("session", json!({})).await["user_id"].clone();
    ada.ok("remove_member", json!({"user_id": bob_id})).await;
    assert_eq!(bob_bearer.call("list_projects", json!({})).await.0, 401);
    // The token's use is noted.
    let used = ada.ok("list_api_tokens", json!({})).await;
    assert!(
        used.as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == made["id"] && t["last_used_at"].is_string()),
        "{used}"
    );
}

#[tokio::test]
async fn a_token_follows_a_jobs_events_and_reads_images_as_a_browser_would() {
    let app = spawn_app().await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let widgets = ada.ok("create_project", project("Widgets")).await;
    let note = ada
        .ok(
            "create_note",
            json!({"project_id": widgets["id"], "form": {"title": "Shot", "body": ""}}),
        )
        .await;
    let (status, image) = ada
        .upload(
            note["id"].as_str().unwrap(),
            tests::images::png(8, 8, [200, 40, 40]),
        )
        .await;
    assert_eq!(status, 201, "{image}");
    let (read, _) = token(&ada, "read").await;
    let http = reqwest::Client::new();
    let fetched = http
        .get(app.url(&format!("/api/v1/images/{}", image["id"].as_str().unwrap())))
        .bearer_auth(&read)
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.status(), 200);
    // A read token uploads nothing: refused before anything reaches storage.
    let objects_before = app.stored_objects().await;
    let refused = http
        .post(app.url(&format!(
            "/api/v1/notes/{}/images",
            note["id"].as_str().unwrap()
        )))
        .bearer_auth(&read)
        .header("content-type", "image/png")
        .body(tests::images::png(8, 8, [200, 40, 40]))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(app.stored_objects().await, objects_before);
    // Without a job of the team to follow: a job id of nobody's is 404 over the token, as for a
    // session.
    let stream = http
        .get(app.url(&format!("/api/v1/events/jobs/{}", uuid::Uuid::now_v7())))
        .bearer_auth(&read)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 404);
}

#[tokio::test]
async fn a_token_past_its_rate_waits_and_others_are_not_held_up() {
    let app = tests::spawn_app_on(tests::TestDb::migrated().await, |settings| {
        settings.server.api_token_requests_per_minute = 5;
    })
    .await
    .unwrap();
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let busy = ada.token_client("read").await;
    let other = ada.token_client("read").await;
    for _ in 0..5 {
        assert_eq!(busy.call("list_projects", json!({})).await.0, 200);
    }
    let limited = busy.raw("list_projects", json!({})).await;
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // Another token, and the browser, go on.
    assert_eq!(other.call("list_projects", json!({})).await.0, 200);
    assert_eq!(ada.call("list_projects", json!({})).await.0, 200);
}
