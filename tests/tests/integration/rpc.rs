//! The server functions over HTTP, as the browser calls them: accounts, sessions, projects, members,
//! bad input, and the cross-tenant matrix.

use crate::fixtures::count;
use serde_json::{Value, json};
use tests::{RpcClient, TestApp, TestDb, spawn_app, spawn_app_on};

pub const PASSWORD: &str = "correct horse battery";

pub async fn signed_up(app: &TestApp, email: &str, team: &str) -> (RpcClient, Value) {
    let browser = app.browser();
    let session = browser
        .ok(
            "sign_up",
            json!({"form": {"email": email, "password": PASSWORD, "display_name": "Ada", "tenant_name": team}}),
        )
        .await;
    (browser, session)
}

/// Invites `email` as `role` through `inviter`, on an app without e-mail: the answer carries the
/// link to hand over. Returns the link's token.
pub async fn invite(inviter: &RpcClient, email: &str, role: &str) -> String {
    let sent = inviter
        .ok("invite_member", json!({"email": email, "role": role}))
        .await;
    assert_eq!(sent["invitation"]["email"], email, "{sent}");
    let url = sent["link"].as_str().expect("a link to hand over");
    url.rsplit('/').next().expect("a token").to_owned()
}

pub fn project(name: &str) -> Value {
    json!({"form": {"name": name, "description": "Widgets", "github_repo": "acme/widgets", "github_branch": "", "github_path": "docs"}})
}

#[tokio::test]
async fn sign_up_sets_a_safe_session_cookie_and_signs_in() {
    let app = spawn_app().await;
    let browser = app.browser();
    let response = browser
        .raw("sign_up", json!({"form": {"email": "ada@example.com", "password": PASSWORD, "display_name": "Ada", "tenant_name": "Engines"}}))
        .await;
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("cairn_session="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain http: no Secure, or the browser would drop it"
    );
    let session: Value = response.json().await.unwrap();
    assert_eq!(session["email"], "ada@example.com");
    assert_eq!(session["tenants"][0]["name"], "Engines");
    assert_eq!(session["tenants"][0]["role"], "owner");
    assert_eq!(
        browser.ok("session", json!({})).await["email"],
        "ada@example.com"
    );
}

#[tokio::test]
async fn the_cookie_is_secure_behind_an_https_proxy() {
    let app = spawn_app_on(TestDb::migrated().await, |s| {
        s.server.trust_proxy_headers = true
    })
    .await
    .unwrap();
    let response = app
        .browser()
        .http
        .post(app.url("/api/v1/sign_up"))
        .header("x-forwarded-proto", "https")
        .json(&json!({"form": {"email": "ada@example.com", "password": PASSWORD, "display_name": "Ada", "tenant_name": "E"}}))
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("; Secure")
    );
}

#[tokio::test]
async fn log_out_revokes_the_session_on_the_server() {
    let app = spawn_app().await;
    let (browser, _) = signed_up(&app, "ada@example.com", "Engines").await;
    // Keep a copy of the cookie, as a thief would.
    let response = browser.raw("session", json!({})).await;
    assert_eq!(response.status(), 200);
    let stolen = app.browser();
    let login = stolen
        .raw(
            "log_in",
            json!({"form": {"email": "ada@example.com", "password": PASSWORD}}),
        )
        .await;
    let token = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    browser.ok("log_out", json!({})).await;
    assert_eq!(browser.ok("session", json!({})).await, Value::Null);
    // The other session (a second login) is unaffected; replaying a logged-out cookie is not.
    assert_eq!(
        stolen.ok("session", json!({})).await["email"],
        "ada@example.com"
    );
    stolen.ok("log_out", json!({})).await;
    let replay = app
        .client
        .post(app.url("/api/v1/list_projects"))
        .header("cookie", token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 401);
    assert_eq!(
        replay.json::<Value>().await.unwrap(),
        json!({"kind": "unauthorized"})
    );
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_creates_nothing() {
    let app = spawn_app().await;
    let browser = app.browser();
    let (status, body) = browser
        .call("sign_up", json!({"form": {"email": "ada@example.com", "password": "short", "display_name": "Ada", "tenant_name": "E"}}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body,
        json!({"kind": "invalid", "field": "password", "reason": "must be at least 10 characters"})
    );
    let (status, body) = browser
        .call("sign_up", json!({"form": {"email": "nope"}}))
        .await;
    assert!((400..500).contains(&status), "{status} {body}");
    assert_eq!(body["kind"], "invalid", "{body}");
    let (status, body) = browser.call("log_in", json!("not even an object")).await;
    assert!((400..500).contains(&status), "{status} {body}");
    let owner = app.db.owner().await;
    assert_eq!(count(&owner, "SELECT count(*) FROM users", vec![]).await, 0);
    assert_eq!(
        count(&owner, "SELECT count(*) FROM tenants", vec![]).await,
        0
    );

    let (browser, _) = signed_up(&app, "ada@example.com", "Engines").await;
    for (form, field) in [
        (
            json!({"name": "", "description": "", "github_repo": "", "github_branch": "", "github_path": ""}),
            "name",
        ),
        (
            json!({"name": "X", "description": "", "github_repo": "acme", "github_branch": "", "github_path": ""}),
            "github_repo",
        ),
        (
            json!({"name": "X", "description": "", "github_repo": "a/b", "github_branch": "x..y", "github_path": ""}),
            "github_branch",
        ),
        (
            json!({"name": "X", "description": "", "github_repo": "a/b", "github_branch": "", "github_path": "../etc"}),
            "github_path",
        ),
        (
            json!({"name": "X", "description": "", "github_repo": "a/b", "github_branch": "", "github_path": "/abs"}),
            "github_path",
        ),
    ] {
        let (status, body) = browser.call("create_project", json!({"form": form})).await;
        assert_eq!(
            (status, body["field"].as_str()),
            (422, Some(field)),
            "{body}"
        );
    }
    assert_eq!(
        count(&owner, "SELECT count(*) FROM projects", vec![]).await,
        0
    );
}

#[tokio::test]
async fn log_in_errors_are_uniform_and_rate_limited() {
    let app = spawn_app().await;
    signed_up(&app, "ada@example.com", "Engines").await;
    let browser = app.browser();
    let wrong = browser
        .call(
            "log_in",
            json!({"form": {"email": "ada@example.com", "password": "wrong password"}}),
        )
        .await;
    let unknown = browser
        .call(
            "log_in",
            json!({"form": {"email": "bob@example.com", "password": PASSWORD}}),
        )
        .await;
    assert_eq!(wrong, (401, json!({"kind": "unauthorized"})));
    assert_eq!(unknown, wrong);
    for _ in 0..4 {
        browser
            .call(
                "log_in",
                json!({"form": {"email": "ada@example.com", "password": "wrong password"}}),
            )
            .await;
    }
    let (status, body) = browser
        .call(
            "log_in",
            json!({"form": {"email": "ada@example.com", "password": PASSWORD}}),
        )
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["kind"], "rate_limited");
    assert!(body["retry_after_secs"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn project_crud_through_the_api() {
    let app = spawn_app().await;
    let (browser, _) = signed_up(&app, "ada@example.com", "Engines").await;
    assert_eq!(browser.ok("list_projects", json!({})).await, json!([]));
    let created = browser.ok("create_project", project("Widgets")).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created["github"]["repo"],
        json!({"owner": "acme", "name": "widgets"})
    );
    assert_eq!(created["github"]["branch"], "main");
    assert_eq!(created["github"]["path"], "docs");
    let (status, body) = browser.call("create_project", project("widgets")).await;
    assert_eq!(
        (status, body["kind"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    let updated = browser.ok("update_project", json!({"id": id, "form": {"name": "Gadgets", "description": "", "github_repo": "", "github_branch": "", "github_path": ""}})).await;
    assert_eq!(
        (updated["name"].as_str(), &updated["github"]),
        (Some("Gadgets"), &Value::Null)
    );
    assert_eq!(
        browser.ok("get_project", json!({"id": id})).await["name"],
        "Gadgets"
    );
    browser.ok("delete_project", json!({"id": id})).await;
    let (status, _) = browser.call("get_project", json!({"id": id})).await;
    assert_eq!(status, 404);
    let (status, body) = browser
        .call("get_project", json!({"id": "not-a-uuid"}))
        .await;
    assert!((400..500).contains(&status), "{status} {body}");
}

#[tokio::test]
async fn tenants_members_and_switching() {
    let app = spawn_app().await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let (bob, bob_session) = signed_up(&app, "bob@example.com", "Bob's").await;
    let bob_id = bob_session["user_id"].clone();
    let token = invite(&ada, "bob@example.com", "member").await;
    let joined = bob.ok("accept_invitation", json!({"token": token})).await;
    assert_eq!(joined["tenants"].as_array().unwrap().len(), 2);
    let engines = ada.ok("session", json!({})).await["active_tenant"].clone();
    let switched = bob.ok("switch_tenant", json!({"tenant_id": engines})).await;
    assert_eq!(switched["active_tenant"], engines);
    assert_eq!(switched["tenants"].as_array().unwrap().len(), 2);
    // Two members of one tenant see and edit the same projects.
    let created = ada.ok("create_project", project("Shared")).await;
    assert_eq!(
        bob.ok("list_projects", json!({})).await[0]["id"],
        created["id"]
    );
    // A member cannot delete projects or remove people.
    let (status, body) = bob
        .call("delete_project", json!({"id": created["id"]}))
        .await;
    assert_eq!(
        (status, body["kind"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    // Nor see whom the team invited (their addresses are the managers' business).
    invite(&ada, "carol@example.com", "member").await;
    let (status, body) = bob.call("list_invitations", json!({})).await;
    assert_eq!(
        (status, body["kind"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    assert_eq!(
        ada.ok("list_invitations", json!({})).await[0]["email"],
        "carol@example.com"
    );
    let members = ada.ok("list_members", json!({})).await;
    assert_eq!(members.as_array().unwrap().len(), 2);
    ada.ok("remove_member", json!({"user_id": bob_id})).await;
    let (status, _) = bob.call("list_projects", json!({})).await;
    assert_eq!(status, 404, "removed from the active tenant");
}

/// Every server function that takes an id, called by a member of another tenant with the first
/// tenant's ids: `NotFound`, exactly like an id that does not exist, and nothing changes.
#[tokio::test]
async fn cross_tenant_matrix() {
    let app = spawn_app().await;
    let (ada, ada_session) = signed_up(&app, "ada@example.com", "Engines").await;
    let (mallory, _) = signed_up(&app, "mallory@example.com", "Mallory's").await;
    let project_id = ada.ok("create_project", project("Secret")).await["id"].clone();
    let ada_tenant = ada_session["active_tenant"].clone();
    let ada_user = ada_session["user_id"].clone();
    let missing = json!(uuid::Uuid::new_v4().to_string());

    type ArgsFor = Box<dyn Fn(&Value) -> Value>;
    let calls: Vec<(&str, ArgsFor)> = vec![
        ("get_project", Box::new(|id| json!({"id": id}))),
        (
            "update_project",
            Box::new(
                |id| json!({"id": id, "form": {"name": "pwned", "description": "", "github_repo": "", "github_branch": "", "github_path": ""}}),
            ),
        ),
        ("delete_project", Box::new(|id| json!({"id": id}))),
    ];
    // As a browser, and as a script with a write token of Mallory's team.
    let mallory_script = mallory.token_client("write").await;
    for client in [&mallory, &mallory_script] {
        for (name, args) in &calls {
            let foreign = client.call(name, args(&project_id)).await;
            let absent = client.call(name, args(&missing)).await;
            assert_eq!(
                foreign,
                (404, json!({"kind": "not_found"})),
                "{name} with a foreign id"
            );
            assert_eq!(
                foreign, absent,
                "{name}: foreign and missing ids must look the same"
            );
        }
    }
    let foreign = mallory
        .call("switch_tenant", json!({"tenant_id": ada_tenant}))
        .await;
    let absent = mallory
        .call("switch_tenant", json!({"tenant_id": missing}))
        .await;
    assert_eq!(foreign, (404, json!({"kind": "not_found"})));
    assert_eq!(foreign, absent);
    let foreign = mallory
        .call("remove_member", json!({"user_id": ada_user}))
        .await;
    let absent = mallory
        .call("remove_member", json!({"user_id": missing}))
        .await;
    assert_eq!(
        foreign, absent,
        "remove_member: foreign and missing look the same"
    );
    assert!(foreign.0 == 404 || foreign.0 == 403, "{foreign:?}");

    // Ada's invitations, her members' roles and her sessions are as missing to Mallory.
    let invitation = ada
        .ok(
            "invite_member",
            json!({"email": "carol@example.com", "role": "member"}),
        )
        .await["invitation"]["id"]
        .clone();
    let ada_session_id = ada.ok("list_sessions", json!({})).await[0]["id"].clone();
    let id_calls: Vec<(&str, ArgsFor)> = vec![
        ("resend_invitation", Box::new(|id| json!({"id": id}))),
        ("revoke_invitation", Box::new(|id| json!({"id": id}))),
        ("revoke_session", Box::new(|id| json!({"id": id}))),
        (
            "change_member_role",
            Box::new(|id| json!({"user_id": id, "role": "member"})),
        ),
    ];
    for ((name, args), id) in
        id_calls
            .iter()
            .zip([&invitation, &invitation, &ada_session_id, &ada_user])
    {
        let foreign = mallory.call(name, args(id)).await;
        let absent = mallory.call(name, args(&missing)).await;
        assert_eq!(
            foreign,
            (404, json!({"kind": "not_found"})),
            "{name} with a foreign id"
        );
        assert_eq!(foreign, absent, "{name}: foreign and missing look the same");
    }
    assert_eq!(
        ada.ok("list_invitations", json!({})).await[0]["id"],
        invitation,
        "still pending"
    );
    assert_eq!(
        ada.ok("session", json!({})).await["email"],
        "ada@example.com"
    );

    // Nothing changed for Ada.
    let owner = app.db.owner().await;
    let untouched = count(
        &owner,
        "SELECT count(*) FROM projects WHERE name = 'Secret'",
        vec![],
    )
    .await;
    assert_eq!(untouched, 1);
    assert_eq!(
        count(&owner, "SELECT count(*) FROM memberships", vec![]).await,
        2
    );
    assert_eq!(
        ada.ok("get_project", json!({"id": project_id})).await["name"],
        "Secret"
    );
    assert_eq!(mallory.ok("list_projects", json!({})).await, json!([]));
}
