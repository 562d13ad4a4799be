//! Accounts a team can trust, tried as an attacker would: cross-site requests, concurrent guessing,
//! bursts of sign-ups, owners removing each other at once, squatted addresses; and invitations,
//! resets and sessions as their users would, with mail through a real SMTP server.

use crate::fixtures::{count, exec};
use crate::rpc::{PASSWORD, invite, signed_up};
use serde_json::{Value, json};
use tests::{RpcClient, TestApp, TestDb, mailbox, spawn_app, spawn_app_on, spawn_app_with_mail};

fn log_in_body(email: &str, password: &str) -> Value {
    json!({"form": {"email": email, "password": password}})
}

async fn sessions(app: &TestApp) -> i64 {
    count(
        &app.db.owner().await,
        "SELECT count(*) FROM sessions",
        vec![],
    )
    .await
}

fn token_of(link: &str) -> String {
    link.rsplit('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn requests_from_other_sites_and_calls_that_are_not_json_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let before = sessions(&app).await;
    let http = &app.client;
    let log_in = app.url("/api/v1/log_in");
    let body = log_in_body("ada@example.com", PASSWORD).to_string();

    // Login CSRF: a foreign page posts text/plain (no preflight) to sign the visitor in.
    let response = http
        .post(&log_in)
        .header("content-type", "text/plain")
        .header("origin", "https://evil.example")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.headers().get("set-cookie").is_none());
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"kind": "forbidden", "reason": "requests from other sites are refused"})
    );
    // The same as JSON, from the foreign origin, or announced only by Sec-Fetch-Site, or `null`.
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("origin", "http://127.0.0.1.evil.example"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ] {
        let response = http
            .post(&log_in)
            .header("content-type", "application/json")
            .header(name, value)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{name}: {value}");
    }
    // From Cairn's own origin, text/plain still never reaches a server function.
    let response = http
        .post(&log_in)
        .header("content-type", "text/plain")
        .header("origin", app.url(""))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"kind": "invalid", "field": "content_type", "reason": "must be application/json"})
    );
    assert_eq!(sessions(&app).await, before, "no session was created");

    // An upload from another site, with the member's cookie, is refused before a byte is stored.
    let project = ada.ok("create_project", crate::rpc::project("P")).await;
    let note = ada
        .ok(
            "create_note",
            json!({"project_id": project["id"], "form": {"title": "N", "body": ""}}),
        )
        .await;
    let response = ada
        .http
        .post(app.url(&format!("/api/v1/notes/{}/images", note["id"].as_str().unwrap())))
        .header("content-type", "text/plain")
        .header("origin", "https://evil.example")
        .body(b"GIF89a\x02\x00\x02\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x02\x00\x02\x00\x00\x02\x02D\x01\x00;".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(
        count(
            &app.db.owner().await,
            "SELECT count(*) FROM note_images",
            vec![]
        )
        .await,
        0
    );
    assert!(app.stored_objects().await.is_empty());

    // Same origin, and clients that are no browser (no Origin, no Sec-Fetch-Site), pass.
    let response = http
        .post(&log_in)
        .header("content-type", "application/json")
        .header("origin", app.url(""))
        .header("sec-fetch-site", "same-origin")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("referrer-policy")
            .is_some_and(|v| v == "same-origin")
    );
}

#[tokio::test]
async fn the_configured_public_url_passes_and_secure_cookies_are_host_prefixed() {
    let app = spawn_app_on(TestDb::migrated().await, |s| {
        s.server.public_url = Some("https://cairn.example.com/".into());
        s.server.secure_cookies = true;
    })
    .await
    .unwrap();
    let response = app
        .client
        .post(app.url("/api/v1/sign_up"))
        .header("origin", "https://cairn.example.com")
        .json(&json!({"form": {"email": "ada@example.com", "password": PASSWORD, "display_name": "Ada", "tenant_name": "E"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("__Host-cairn_session="), "{cookie}");
    assert!(
        cookie.contains("; Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Domain"), "{cookie}");
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    // The prefixed cookie is the session; the same token under the plain name is not.
    let session = |cookie: String| {
        let http = app.client.clone();
        let url = app.url("/api/v1/session");
        async move {
            http.post(url)
                .header("cookie", cookie)
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        session(format!("__Host-cairn_session={token}")).await["email"],
        "ada@example.com"
    );
    assert_eq!(session(format!("cairn_session={token}")).await, Value::Null);
}

#[tokio::test]
async fn forty_concurrent_wrong_passwords_are_checked_five_times_and_refused_with_429() {
    let app = spawn_app().await;
    signed_up(&app, "ada@example.com", "Engines").await;
    let attempts = (0..40).map(|_| {
        let client = app.browser();
        async move {
            let response = client
                .raw("log_in", log_in_body("ada@example.com", "wrong password!"))
                .await;
            let retry_after = response.headers().get("retry-after").cloned();
            (response.status().as_u16(), retry_after)
        }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let unauthorized = answers.iter().filter(|(s, _)| *s == 401).count();
    let limited: Vec<_> = answers.iter().filter(|(s, _)| *s == 429).collect();
    assert_eq!(unauthorized, 5, "{answers:?}");
    assert_eq!(limited.len(), 35, "{answers:?}");
    assert!(
        limited.iter().all(|(_, retry)| retry.is_some()),
        "Retry-After on every 429"
    );
    // Even the right password now waits.
    let (status, body) = app
        .browser()
        .call("log_in", log_in_body("ada@example.com", PASSWORD))
        .await;
    assert_eq!((status, body["kind"].as_str()), (429, Some("rate_limited")));
}

#[tokio::test]
async fn sign_ups_are_limited_per_address_and_ipv6_per_64() {
    let app = spawn_app_on(TestDb::migrated().await, |s| {
        s.server.trust_proxy_headers = true;
    })
    .await
    .unwrap();
    let sign_up = |i: usize, forwarded: String| {
        let client = app.browser();
        let url = app.url("/api/v1/sign_up");
        async move {
            let response = client
                .http
                .post(url)
                .header("x-forwarded-for", forwarded)
                .json(&json!({"form": {"email": format!("u{i}@example.com"), "password": PASSWORD, "display_name": "U", "tenant_name": "T"}}))
                .send()
                .await
                .unwrap();
            response.status().as_u16()
        }
    };
    // Ten per hour from one address; the client named by a trusted proxy is the rightmost entry,
    // so a spoofed left entry changes nothing.
    let mut statuses = Vec::new();
    for i in 0..11 {
        statuses.push(sign_up(i, format!("6.6.6.{i}, 203.0.113.7")).await);
    }
    assert_eq!(statuses[..10], [200; 10]);
    assert_eq!(statuses[10], 429);
    // Addresses of one IPv6 /64 count as one.
    let mut statuses = Vec::new();
    for i in 0..11 {
        statuses.push(sign_up(100 + i, format!("2001:db8:0:1::{:x}", i + 1)).await);
    }
    assert_eq!(statuses[10], 429, "{statuses:?}");
    // Another address is not held back.
    assert_eq!(sign_up(200, "198.51.100.1".into()).await, 200);
    assert_eq!(
        count(&app.db.owner().await, "SELECT count(*) FROM users", vec![]).await,
        21
    );
}

#[tokio::test]
async fn saturated_password_hashing_answers_503_with_retry_after_and_creates_nothing() {
    let app = spawn_app_on(TestDb::migrated().await, |s| {
        s.server.trust_proxy_headers = true;
        s.accounts.password_hashing_memory_mib = 19; // one hash at a time
        s.accounts.password_hashing_wait_ms = 1;
    })
    .await
    .unwrap();
    let attempts = (0..12).map(|i| {
        let client = app.browser();
        let url = app.url("/api/v1/sign_up");
        async move {
            let response = client
                .http
                .post(url)
                .header("x-forwarded-for", format!("198.51.100.{i}"))
                .json(&json!({"form": {"email": format!("u{i}@example.com"), "password": PASSWORD, "display_name": "U", "tenant_name": "T"}}))
                .send()
                .await
                .unwrap();
            let retry_after = response.headers().get("retry-after").cloned();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (status, retry_after, body)
        }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let created = answers.iter().filter(|(s, _, _)| *s == 200).count();
    let busy: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 503).collect();
    assert!(created >= 1, "{answers:?}");
    assert!(
        !busy.is_empty(),
        "twelve at once on one permit: {answers:?}"
    );
    assert_eq!(created + busy.len(), 12, "{answers:?}");
    for (_, retry_after, body) in &busy {
        assert!(retry_after.is_some());
        assert_eq!(body["kind"], "unavailable");
    }
    assert_eq!(
        count(&app.db.owner().await, "SELECT count(*) FROM users", vec![]).await,
        created as i64,
        "a refused sign-up leaves no account"
    );
}

#[tokio::test]
async fn two_owners_removing_each_other_at_once_leave_the_team_one_owner() {
    let app = spawn_app().await;
    for round in 0..3 {
        let (ada, ada_session) =
            signed_up(&app, &format!("ada{round}@example.com"), "Engines").await;
        let (bob, bob_session) = signed_up(&app, &format!("bob{round}@example.com"), "B").await;
        let token = invite(&ada, &format!("bob{round}@example.com"), "owner").await;
        bob.ok("accept_invitation", json!({"token": token})).await;
        let tenant = ada_session["active_tenant"].clone();
        let (a, b) = tokio::join!(
            ada.call("remove_member", json!({"user_id": bob_session["user_id"]})),
            bob.call("remove_member", json!({"user_id": ada_session["user_id"]})),
        );
        let owners = count(
            &app.db.owner().await,
            "SELECT count(*) FROM memberships WHERE tenant_id = $1 AND role = 'owner'",
            vec![
                uuid::Uuid::parse_str(tenant.as_str().unwrap())
                    .unwrap()
                    .into(),
            ],
        )
        .await;
        assert_eq!(owners, 1, "round {round}: {a:?} {b:?}");
        assert_eq!(
            [a.0, b.0].iter().filter(|s| **s == 200).count(),
            1,
            "{a:?} {b:?}"
        );
    }
}

#[tokio::test]
async fn the_database_keeps_an_owner_when_two_transactions_race() {
    use domain::sea_orm::{ConnectionTrait, TransactionTrait};
    let app = spawn_app().await;
    let (ada, ada_session) = signed_up(&app, "ada@example.com", "Engines").await;
    let (bob, bob_session) = signed_up(&app, "bob@example.com", "B").await;
    let token = invite(&ada, "bob@example.com", "owner").await;
    bob.ok("accept_invitation", json!({"token": token})).await;
    let tenant = ada_session["active_tenant"].as_str().unwrap().to_owned();
    let pool = app.db.app().await;
    let scoped = |pool: domain::sea_orm::DatabaseConnection, tenant: String| async move {
        let txn = pool.begin().await.unwrap();
        exec(
            &txn,
            "SELECT set_config('app.tenant_id', $1, true)",
            vec![tenant.into()],
        )
        .await;
        txn
    };
    // A removes Bob and holds its transaction open; B, removing Ada, must wait for it.
    let first = scoped(pool.clone(), tenant.clone()).await;
    exec(
        &first,
        "DELETE FROM memberships WHERE user_id = $1::uuid",
        vec![bob_session["user_id"].as_str().unwrap().into()],
    )
    .await;
    let second = scoped(pool.clone(), tenant.clone()).await;
    let ada_id = ada_session["user_id"].as_str().unwrap().to_owned();
    let racing = tokio::spawn(async move {
        let outcome = crate::fixtures::try_exec(
            &second,
            "DELETE FROM memberships WHERE user_id = $1::uuid",
            vec![ada_id.into()],
        )
        .await;
        (outcome, second)
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        !racing.is_finished(),
        "the second removal waits for the first"
    );
    first.commit().await.unwrap();
    let (outcome, second) = racing.await.unwrap();
    let error = outcome.expect_err("the last owner stays");
    assert!(
        matches!(domain::DomainError::from(error), domain::DomainError::Conflict(ref m) if m.contains("at least one owner")),
    );
    drop(second);
    // Demoting the last owner is refused the same way, and the API says so in words.
    let (status, body) = ada
        .call(
            "change_member_role",
            json!({"user_id": ada_session["user_id"], "role": "member"}),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            409,
            json!({"kind": "conflict", "message": "a team needs at least one owner"})
        )
    );
    let _ = pool.execute_unprepared("SELECT 1").await;
}

#[tokio::test]
async fn invitations_by_mail_need_the_address_and_a_squatter_loses_it_to_its_owner() {
    let app = spawn_app_with_mail().await;
    let (ada, ada_session) = signed_up(&app, "ada@squat.example", "Acme").await;
    // Someone registered dev@squat.example before its owner did.
    let (squatter, _) = signed_up(&app, "dev@squat.example", "Squat").await;

    // Inviting answers alike for an address with and without an account, and shows no link.
    let with_account = ada
        .ok(
            "invite_member",
            json!({"email": "dev@squat.example", "role": "member"}),
        )
        .await;
    let without = ada
        .ok(
            "invite_member",
            json!({"email": "new@squat.example", "role": "admin"}),
        )
        .await;
    assert_eq!(with_account["link"], Value::Null, "mailed, shown to nobody");
    assert_eq!(without["link"], Value::Null);
    let keys = |v: &Value| {
        let mut keys: Vec<String> = v["invitation"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&with_account), keys(&without));

    // A role that does not exist is named, in words (the parser's text never reaches the client).
    let (status, body) = ada
        .call(
            "invite_member",
            json!({"email": "dev@squat.example", "role": "god"}),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            422,
            json!({"kind": "invalid", "field": "role", "reason": "must be one of owner, admin, member"})
        )
    );

    // The squatter, signed in with that address but without the link, is in no new team.
    let tenants = squatter.ok("session", json!({})).await["tenants"].clone();
    assert_eq!(tenants.as_array().unwrap().len(), 1);

    // The owner of the address receives the invitation by mail.
    let mail = &mailbox::wait_for("dev@squat.example", "/invite/", 1).await[0];
    assert!(
        mail.subject.contains("invited you to Acme"),
        "{}",
        mail.subject
    );
    let link = mail.link("/invite/").expect("an invitation link");
    assert!(link.starts_with(&app.url("/invite/")), "{link}");
    let token = token_of(&link);
    let owner = app.browser();
    let view = owner.ok("view_invitation", json!({"token": token})).await;
    assert_eq!(view["email"], "dev@squat.example");
    assert_eq!(view["team_name"], "Acme");
    assert_eq!(view["state"], "pending");
    assert_eq!(view["account_exists"], true);
    // Signing up from the link is not possible while the address has an account...
    let (status, _) = owner
        .call(
            "sign_up_invited",
            json!({"token": token, "form": {"display_name": "Dev", "password": PASSWORD}}),
        )
        .await;
    assert_eq!(status, 409);
    // ...so the owner resets its password from their inbox: the squatter is signed out.
    owner
        .ok(
            "request_password_reset",
            json!({"email": "dev@squat.example"}),
        )
        .await;
    let reset = mailbox::wait_for("dev@squat.example", "/reset-password/", 1).await;
    let reset_link = reset
        .iter()
        .find_map(|m| m.link("/reset-password/"))
        .expect("a reset link");
    let new_password = "the owner's own passphrase";
    let signed_in = owner
        .ok(
            "reset_password",
            json!({"token": token_of(&reset_link), "password": new_password}),
        )
        .await;
    assert_eq!(
        signed_in["email_verified"], true,
        "the link proved the address"
    );
    assert_eq!(squatter.ok("session", json!({})).await, Value::Null);
    let (status, _) = app
        .browser()
        .call(
            "reset_password",
            json!({"token": token_of(&reset_link), "password": "another new password"}),
        )
        .await;
    assert_eq!(status, 422, "a reset link works once");

    // Now the owner accepts and is in Acme, as a member.
    let joined = owner.ok("accept_invitation", json!({"token": token})).await;
    let acme = ada_session["active_tenant"].clone();
    assert_eq!(joined["active_tenant"], acme);
    assert!(
        joined["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == acme && t["role"] == "member")
    );
    let (status, body) = owner
        .call("accept_invitation", json!({"token": token}))
        .await;
    assert_eq!((status, body["kind"].as_str()), (409, Some("conflict")));

    // A newcomer signs up from the link, with the invited address fixed, and lands in Acme.
    let newcomer_mail = &mailbox::wait_for("new@squat.example", "/invite/", 1).await[0];
    let newcomer_token = token_of(&newcomer_mail.link("/invite/").unwrap());
    let newcomer = app.browser();
    // Somebody signed in with another address cannot use it.
    let (status, body) = ada
        .call("accept_invitation", json!({"token": newcomer_token}))
        .await;
    assert_eq!(status, 403, "{body}");
    let session = newcomer
        .ok(
            "sign_up_invited",
            json!({"token": newcomer_token, "form": {"display_name": "Newt", "password": PASSWORD}}),
        )
        .await;
    assert_eq!(session["email"], "new@squat.example");
    assert_eq!(session["active_tenant"], acme);
    assert_eq!(session["email_verified"], true);
    assert_eq!(session["tenants"][0]["role"], "admin");
    assert_eq!(newcomer.ok("list_projects", json!({})).await, json!([]));
    let members = ada.ok("list_members", json!({})).await;
    assert_eq!(members.as_array().unwrap().len(), 3);

    let audited = count(
        &app.db.owner().await,
        "SELECT count(*) FROM audit_log WHERE action = 'invitation.accept'",
        vec![],
    )
    .await;
    assert_eq!(audited, 2);
}

#[tokio::test]
async fn invitations_are_revoked_sent_again_and_expire_with_an_audit_trail() {
    let app = spawn_app_with_mail().await;
    let (ada, _) = signed_up(&app, "ada@revoke.example", "Acme").await;
    let sent = ada
        .ok(
            "invite_member",
            json!({"email": "x@revoke.example", "role": "member"}),
        )
        .await;
    let id = sent["invitation"]["id"].clone();
    // Sending again makes a new link; the first stops working.
    ada.ok("resend_invitation", json!({"id": id})).await;
    let mails = mailbox::wait_for("x@revoke.example", "/invite/", 2).await;
    let tokens: Vec<String> = mails
        .iter()
        .map(|m| token_of(&m.link("/invite/").unwrap()))
        .collect();
    let reader = app.browser();
    let states: Vec<u16> = futures_util::future::join_all(
        tokens
            .iter()
            .map(|t| reader.call("view_invitation", json!({"token": t}))),
    )
    .await
    .into_iter()
    .map(|(status, _)| status)
    .collect();
    assert_eq!(
        states.iter().filter(|s| **s == 404).count(),
        1,
        "exactly the older link is dead: {states:?}"
    );
    // One address gets at most three sends an hour from one team.
    ada.ok("resend_invitation", json!({"id": id})).await;
    let (status, body) = ada.call("resend_invitation", json!({"id": id})).await;
    assert_eq!((status, body["kind"].as_str()), (429, Some("rate_limited")));

    // Revoked: the link says so and cannot be accepted.
    let newest = token_of(
        &mailbox::wait_for("x@revoke.example", "/invite/", 3)
            .await
            .last()
            .unwrap()
            .link("/invite/")
            .unwrap(),
    );
    ada.ok("revoke_invitation", json!({"id": id})).await;
    let (x, _) = signed_up(&app, "x@revoke.example", "X").await;
    assert_eq!(
        x.ok("view_invitation", json!({"token": newest})).await["state"],
        "revoked"
    );
    let (status, _) = x.call("accept_invitation", json!({"token": newest})).await;
    assert_eq!(status, 409);

    // Expired after seven days: no longer listed, its link says so, and the expiry is audited.
    let sent = ada
        .ok(
            "invite_member",
            json!({"email": "y@revoke.example", "role": "member"}),
        )
        .await;
    let y_token = token_of(
        &mailbox::wait_for("y@revoke.example", "/invite/", 1).await[0]
            .link("/invite/")
            .unwrap(),
    );
    exec(
        &app.db.owner().await,
        "UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = $1::uuid",
        vec![sent["invitation"]["id"].as_str().unwrap().into()],
    )
    .await;
    assert_eq!(ada.ok("list_invitations", json!({})).await, json!([]));
    assert_eq!(
        reader
            .ok("view_invitation", json!({"token": y_token}))
            .await["state"],
        "expired"
    );
    let owner = app.db.owner().await;
    for action in [
        "invitation.create",
        "invitation.resend",
        "invitation.revoke",
        "invitation.expire",
    ] {
        let n = count(
            &owner,
            "SELECT count(*) FROM audit_log WHERE action = $1",
            vec![action.into()],
        )
        .await;
        assert!(n >= 1, "{action} audited");
    }
    let expire_actor = count(
        &owner,
        "SELECT count(*) FROM audit_log WHERE action = 'invitation.expire' AND actor_user_id IS NULL",
        vec![],
    )
    .await;
    assert_eq!(expire_actor, 1, "expiring is Cairn's doing");
    // A member may not invite; an admin may not invite an owner.
    let m_token = invite_by_mail(&ada, "m@revoke.example", "member").await;
    let (m, _) = signed_up(&app, "m@revoke.example", "M").await;
    m.ok("accept_invitation", json!({"token": m_token})).await;
    let (status, _) = m
        .call(
            "invite_member",
            json!({"email": "z@revoke.example", "role": "member"}),
        )
        .await;
    assert_eq!(status, 403);
}

/// Invites and returns the link's token, read from the mail.
async fn invite_by_mail(inviter: &RpcClient, email: &str, role: &str) -> String {
    let before = mailbox::messages_to(email, "/invite/").len();
    inviter
        .ok("invite_member", json!({"email": email, "role": role}))
        .await;
    let mails = mailbox::wait_for(email, "/invite/", before + 1).await;
    token_of(&mails.last().unwrap().link("/invite/").unwrap())
}

#[tokio::test]
async fn an_invitation_whose_mail_cannot_leave_is_not_kept() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let app = spawn_app_on(TestDb::migrated().await, |s| {
        s.mail.smtp_url = Some(format!("smtp://127.0.0.1:{port}").into());
    })
    .await
    .unwrap();
    let (ada, _) = signed_up(&app, "ada@nomail.example", "Acme").await;
    let (status, body) = ada
        .call(
            "invite_member",
            json!({"email": "x@nomail.example", "role": "member"}),
        )
        .await;
    assert_eq!(
        (status, body),
        (503, json!({"kind": "unavailable", "service": "e-mail"}))
    );
    assert_eq!(
        count(
            &app.db.owner().await,
            "SELECT count(*) FROM invitations",
            vec![]
        )
        .await,
        0
    );
}

#[tokio::test]
async fn passwords_change_sessions_are_listed_revoked_and_end_when_idle() {
    let app = spawn_app_with_mail().await;
    let (laptop, _) = signed_up(&app, "ada@sessions.example", "Acme").await;
    let phone = app.browser();
    phone
        .ok("log_in", log_in_body("ada@sessions.example", PASSWORD))
        .await;
    let tablet = app.browser();
    tablet
        .ok("log_in", log_in_body("ada@sessions.example", PASSWORD))
        .await;

    let list = laptop.ok("list_sessions", json!({})).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    // Revoke the phone's session from the laptop.
    let phone_id = phone
        .ok("list_sessions", json!({}))
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .clone();
    laptop.ok("revoke_session", json!({"id": phone_id})).await;
    assert_eq!(phone.ok("session", json!({})).await, Value::Null);
    // Another user's session id is not found.
    let (mallory, _) = signed_up(&app, "mallory@example.com", "M").await;
    let (status, _) = mallory
        .call("revoke_session", json!({"id": list[0]["id"]}))
        .await;
    assert_eq!(status, 404);

    // A wrong current password changes nothing; the right one signs the other sessions out.
    let (status, body) = laptop
        .call(
            "change_password",
            json!({"form": {"current_password": "not it at all", "new_password": "a brand new passphrase"}}),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("current_password"))
    );
    let revoked = laptop
        .ok(
            "change_password",
            json!({"form": {"current_password": PASSWORD, "new_password": "a brand new passphrase"}}),
        )
        .await;
    assert_eq!(revoked, 1, "the tablet");
    assert_eq!(tablet.ok("session", json!({})).await, Value::Null);
    assert_eq!(
        laptop.ok("session", json!({})).await["email"],
        "ada@sessions.example"
    );
    // "Sign out all other sessions" ends a desk's session, not the laptop's own.
    let desk = app.browser();
    desk.ok(
        "log_in",
        log_in_body("ada@sessions.example", "a brand new passphrase"),
    )
    .await;
    let page = laptop.get("/account").await.text().await.unwrap();
    assert!(page.contains("Sign out all other sessions"), "{page}");
    assert!(
        page.contains("aria-label=\"Sign out "),
        "session buttons are named"
    );
    assert_eq!(laptop.ok("revoke_other_sessions", json!({})).await, 1);
    assert_eq!(desk.ok("session", json!({})).await, Value::Null);
    assert_ne!(laptop.ok("session", json!({})).await, Value::Null);
    assert_eq!(laptop.ok("revoke_other_sessions", json!({})).await, 0);
    let page = laptop.get("/account").await.text().await.unwrap();
    assert!(!page.contains("Sign out all other sessions"), "none left");
    app.browser()
        .ok(
            "log_in",
            log_in_body("ada@sessions.example", "a brand new passphrase"),
        )
        .await;

    // Verification by e-mail: sign-up sent a link; following it verifies the address.
    let mail = mailbox::wait_for("ada@sessions.example", "/verify-email/", 1).await;
    let link = mail
        .iter()
        .find_map(|m| m.link("/verify-email/"))
        .expect("a verification link");
    assert_eq!(
        laptop.ok("session", json!({})).await["email_verified"],
        false
    );
    // Asking again sends a fresh link; either link verifies.
    laptop.ok("send_verification_email", json!({})).await;
    mailbox::wait_for("ada@sessions.example", "/verify-email/", 2).await;
    app.browser()
        .ok("verify_email", json!({"token": token_of(&link)}))
        .await;
    assert_eq!(
        laptop.ok("session", json!({})).await["email_verified"],
        true
    );
    // Verified: asking again sends nothing, and a used link does not work twice.
    laptop.ok("send_verification_email", json!({})).await;
    let (status, _) = app
        .browser()
        .call("verify_email", json!({"token": token_of(&link)}))
        .await;
    assert_eq!(status, 422);

    // A session unused for longer than the idle timeout (7 days) has ended.
    exec(
        &app.db.owner().await,
        "UPDATE sessions SET last_seen_at = now() - interval '8 days'",
        vec![],
    )
    .await;
    assert_eq!(laptop.ok("session", json!({})).await, Value::Null);
    let (status, _) = laptop.call("list_projects", json!({})).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn password_reset_answers_alike_for_unknown_addresses_and_needs_mail() {
    let app = spawn_app_with_mail().await;
    signed_up(&app, "ada@reset.example", "Acme").await;
    let anyone = app.browser();
    assert_eq!(
        anyone
            .ok(
                "request_password_reset",
                json!({"email": "ada@reset.example"})
            )
            .await,
        anyone
            .ok(
                "request_password_reset",
                json!({"email": "nobody@reset.example"})
            )
            .await
    );
    mailbox::wait_for("ada@reset.example", "/reset-password/", 1).await;
    assert!(mailbox::messages_to("nobody@reset.example", "/").is_empty());

    let without_mail = spawn_app().await;
    let (status, body) = without_mail
        .browser()
        .call(
            "request_password_reset",
            json!({"email": "ada@reset.example"}),
        )
        .await;
    assert_eq!((status, body["kind"].as_str()), (503, Some("unavailable")));
    let (someone, _) = signed_up(&without_mail, "bo@reset.example", "Bo").await;
    let (status, body) = someone.call("send_verification_email", json!({})).await;
    assert_eq!((status, body["kind"].as_str()), (503, Some("unavailable")));
}

#[tokio::test]
async fn an_empty_smtp_url_means_no_mail_and_the_inviter_gets_the_link() {
    // A compose file's unset variable arrives as an empty string.
    let app = spawn_app_on(TestDb::migrated().await, |s| {
        s.mail.smtp_url = Some(String::new().into());
    })
    .await
    .expect("an empty SMTP URL is no SMTP URL");
    let (ada, _) = signed_up(&app, "ada@empty.example", "Acme").await;
    let token = invite(&ada, "x@empty.example", "member").await;
    assert!(!token.is_empty());
    assert_eq!(ada.ok("mail_enabled", json!({})).await, json!(false));
}

#[tokio::test]
async fn a_new_address_is_used_only_once_its_link_is_followed_and_a_name_changes_at_once() {
    let app = spawn_app_with_mail().await;
    let (ada, _) = signed_up(&app, "ada@move.example", "Acme").await;
    signed_up(&app, "taken@move.example", "Other").await;

    // The name, at once; an empty one is refused.
    ada.ok("rename_account", json!({"display_name": "  Ada Lovelace "}))
        .await;
    assert_eq!(
        ada.ok("session", json!({})).await["display_name"],
        "Ada Lovelace"
    );
    let (status, body) = ada
        .call("rename_account", json!({"display_name": " "}))
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("display_name"))
    );

    // A change needs the password, a free address, and not the same one.
    let change = |email: &str, password: &str| {
        ada.call(
            "change_email",
            json!({"new_email": email, "password": password}),
        )
    };
    let (status, body) = change("new@move.example", "not the password").await;
    assert_eq!((status, body["field"].as_str()), (422, Some("password")));
    let (status, body) = change("TAKEN@move.example", PASSWORD).await;
    assert_eq!(
        (status, body["kind"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    let (status, body) = change("ada@move.example", PASSWORD).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("new_email")));
    let (status, body) = change("not an address", PASSWORD).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("new_email")));
    assert!(mailbox::messages_to("taken@move.example", "/verify-email/").len() <= 1);

    // The link goes to the new address; until it is followed, the old one is the account's.
    let (status, body) = change("new@move.example", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    let mail = &mailbox::wait_for("new@move.example", "/verify-email/", 1).await[0];
    let link = mail.link("/verify-email/").expect("a link");
    let session = ada.ok("session", json!({})).await;
    assert_eq!(session["email"], "ada@move.example");
    app.browser()
        .ok("log_in", log_in_body("ada@move.example", PASSWORD))
        .await;
    let (status, _) = app
        .browser()
        .call("log_in", log_in_body("new@move.example", PASSWORD))
        .await;
    assert_eq!(status, 401);

    // Followed (by anyone holding the link: it went to the new address): the account's address
    // is the new one, verified; the old one no longer signs in; the link works once.
    app.browser()
        .ok("verify_email", json!({"token": token_of(&link)}))
        .await;
    let session = ada.ok("session", json!({})).await;
    assert_eq!(
        (&session["email"], &session["email_verified"]),
        (&json!("new@move.example"), &json!(true))
    );
    app.browser()
        .ok("log_in", log_in_body("new@move.example", PASSWORD))
        .await;
    let (status, _) = app
        .browser()
        .call("log_in", log_in_body("ada@move.example", PASSWORD))
        .await;
    assert_eq!(status, 401);
    let (status, _) = app
        .browser()
        .call("verify_email", json!({"token": token_of(&link)}))
        .await;
    assert_eq!(status, 422);

    // Two links to one address: once the first makes it somebody's, the second cannot.
    let (bo, _) = signed_up(&app, "bo@move.example", "Bo's").await;
    let (cy, _) = signed_up(&app, "cy@move.example", "Cy's").await;
    for client in [&bo, &cy] {
        client
            .ok(
                "change_email",
                json!({"new_email": "shared@move.example", "password": PASSWORD}),
            )
            .await;
    }
    let links: Vec<String> = mailbox::wait_for("shared@move.example", "/verify-email/", 2)
        .await
        .iter()
        .filter_map(|m| m.link("/verify-email/"))
        .collect();
    app.browser()
        .ok("verify_email", json!({"token": token_of(&links[0])}))
        .await;
    let (status, body) = app
        .browser()
        .call("verify_email", json!({"token": token_of(&links[1])}))
        .await;
    assert_eq!(
        (status, body["kind"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    let owners = count(
        &app.db.owner().await,
        "SELECT count(*) FROM users WHERE lower(email) = 'shared@move.example'",
        vec![],
    )
    .await;
    assert_eq!(owners, 1);

    // Without mail no address can be proven: changing is refused, and the page says how to
    // verify (the operator's command), which works.
    let without_mail = spawn_app().await;
    let (dee, _) = signed_up(&without_mail, "dee@move.example", "Dee's").await;
    let (status, body) = dee
        .call(
            "change_email",
            json!({"new_email": "dee2@move.example", "password": PASSWORD}),
        )
        .await;
    assert_eq!((status, body["kind"].as_str()), (503, Some("unavailable")));
    let page = dee.get("/account").await.text().await.unwrap();
    assert!(
        page.contains("cairn accounts verify-email dee@move.example"),
        "the account page says how to verify without mail"
    );
    let verify = |address: &'static str| {
        let mut command = tests::cairn_command(&without_mail);
        command.args(["accounts", "verify-email", address]);
        async move { command.output().await.expect("running cairn") }
    };
    let unknown = verify("nobody@move.example").await;
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no account uses nobody@move.example")
    );
    assert_eq!(dee.ok("session", json!({})).await["email_verified"], false);
    let done = verify("Dee@Move.example").await;
    assert_eq!(
        done.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert_eq!(dee.ok("session", json!({})).await["email_verified"], true);
}
