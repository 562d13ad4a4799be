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

/// Sends a raw HTTP/1.1 request head and `body_bytes` of the body (as `chunked` when `chunked`),
/// and answers the status line the server sent, and how long it took.
async fn raw_post(
    address: std::net::SocketAddr,
    path: &str,
    declared: Option<u64>,
    body_bytes: usize,
) -> (String, std::time::Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let started = std::time::Instant::now();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let length = match declared {
        Some(length) => format!("content-length: {length}\r\n"),
        None => "transfer-encoding: chunked\r\n".to_owned(),
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n{length}\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0;
    while sent < body_bytes {
        let piece = chunk.len().min(body_bytes - sent);
        let written = if declared.is_none() {
            let mut framed = format!("{piece:x}\r\n").into_bytes();
            framed.extend_from_slice(&chunk[..piece]);
            framed.extend_from_slice(b"\r\n");
            stream.write_all(&framed).await
        } else {
            stream.write_all(&chunk[..piece]).await
        };
        // The server may answer and close before the body is all sent: that is the point.
        if written.is_err() {
            break;
        }
        sent += piece;
    }
    if declared.is_none() && sent >= body_bytes {
        let _ = stream.write_all(b"0\r\n\r\n").await;
    }
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("an answer in time")
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&answer[..n]).to_string();
    (
        text.lines().next().unwrap_or_default().to_owned(),
        started.elapsed(),
    )
}

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn an_oversized_server_function_body_is_413_before_it_is_read() {
    let app = tests::spawn_app().await;
    let before = resident_kib();
    // 200 MiB declared: refused on the head alone.
    let (status, took) = raw_post(
        app.address,
        "/api/v1/sign_up",
        Some(200 * 1024 * 1024),
        256 * 1024,
    )
    .await;
    assert!(status.contains("413"), "{status}");
    assert!(took < std::time::Duration::from_secs(1), "{took:?}");
    // Chunked, without a length: refused once past the limit (1 MiB), not read to its end.
    let (status, _) = raw_post(app.address, "/api/v1/sign_up", None, 3 * 1024 * 1024).await;
    assert!(status.contains("413"), "{status}");
    let grew_mib = resident_kib().saturating_sub(before) / 1024;
    assert!(grew_mib < 32, "the server grew by {grew_mib} MiB");
    // A body within the limit still works (and says what is wrong with it).
    let (status, _) = raw_post(app.address, "/api/v1/sign_up", Some(2), 2).await;
    assert!(status.contains("422") || status.contains("400"), "{status}");
    assert_eq!(
        crate::fixtures::count(&app.db.owner().await, "SELECT count(*) FROM users", vec![]).await,
        0
    );
}

#[tokio::test]
async fn a_projects_github_token_reads_only_the_repository_it_was_given_for() {
    let github = GitHubDouble::start().await;
    for name in ["acme/private", "acme/secret"] {
        let repo = GitRepo::new();
        repo.write("README.md", format!("# {name}\n"));
        repo.commit("first");
        github.serve(name, repo.path());
        std::mem::forget(repo);
    }
    github.require_token("ghp_orgwideorgwideorgwide");
    let api = github.api_url();
    let app = spawn_app_on(TestDb::migrated().await, move |settings| {
        settings.github.api_url = api;
        settings.github.retry_pause_ms = 10;
    })
    .await
    .unwrap();
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let form = |repo: &str, name: &str| json!({"name": name, "description": "", "github_repo": repo, "github_branch": "main", "github_path": ""});
    let project = ada
        .ok(
            "create_project",
            json!({"form": form("acme/private", "Private")}),
        )
        .await;
    let id = project["id"].clone();
    ada.ok(
        "set_github_token",
        json!({"project_id": id, "token": "ghp_orgwideorgwideorgwide"}),
    )
    .await;
    let (bob, _) = signed_up(&app, "bob@example.com", "Bob's").await;
    let invitation = crate::rpc::invite(&ada, "bob@example.com", "member").await;
    bob.ok("accept_invitation", json!({"token": invitation}))
        .await;
    let engines = ada.ok("session", json!({})).await["active_tenant"].clone();
    bob.ok("switch_tenant", json!({"tenant_id": engines})).await;

    // The branch picker uses the project's token for the project's repository only: asked about
    // another one, it asks GitHub without it (and learns nothing of a private repository).
    let listed = bob
        .ok(
            "list_branches",
            json!({"github_repo": "acme/private", "project_id": id}),
        )
        .await;
    assert_eq!(listed["branches"], json!(["main"]));
    let (status, body) = bob
        .call(
            "list_branches",
            json!({"github_repo": "acme/secret", "project_id": id}),
        )
        .await;
    assert_eq!(status, 422, "{body}");

    // A member renames the project freely, but does not re-point it while it has a token.
    bob.ok(
        "update_project",
        json!({"id": id, "form": form("acme/private", "Renamed")}),
    )
    .await;
    let (status, body) = bob
        .call(
            "update_project",
            json!({"id": id, "form": form("acme/secret", "Renamed")}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let kept = ada.ok("get_project", json!({"id": id})).await;
    assert_eq!(
        kept["github"]["repo"],
        json!({"owner": "acme", "name": "private"})
    );

    // An owner may, and the token given for the old repository goes with it.
    ada.ok(
        "update_project",
        json!({"id": id, "form": form("acme/secret", "Renamed")}),
    )
    .await;
    let secrets = ada.ok("source_secrets", json!({"project_id": id})).await;
    assert!(secrets["github_token_set_at"].is_null(), "{secrets}");
    let started = ada.ok("sync_project", json!({"project_id": id})).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let done = loop {
        let now = ada.ok("get_sync", json!({"id": started["id"]})).await;
        if now["status"] == "completed" || now["status"] == "failed" {
            break now;
        }
        assert!(std::time::Instant::now() < deadline, "{now}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(done["status"], "failed", "{done}");
    assert!(done["error"].as_str().unwrap().contains("token"), "{done}");
}

#[tokio::test]
async fn a_providers_key_goes_only_to_the_address_it_was_given_for() {
    use tests::llm_double::LlmDouble;
    let double = LlmDouble::start().await;
    let app = tests::spawn_app().await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    const FIRST: &str = "sk-first-key-of-the-team-0123456789";
    const SECOND: &str = "sk-second-key-of-the-team-987654321";
    let form = |base_url: String, key: &str| {
        json!({"name": "openai", "kind": "open_ai", "base_url": base_url, "api_key": key,
               "models": "gpt-4o-mini"})
    };
    let provider = ada
        .ok(
            "save_ai_provider",
            json!({"id": null, "form": form(double.base_url("openai"), FIRST)}),
        )
        .await;
    // Pointed at another server without entering the key again: refused, nothing sent.
    let (status, body) = ada
        .call(
            "save_ai_provider",
            json!({"id": provider["id"], "form": form(double.base_url("collector"), "")}),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("api_key")),
        "{body}"
    );
    ada.ok("test_ai_provider", json!({"id": provider["id"]}))
        .await;
    // With the key entered again, it goes there.
    ada.ok(
        "save_ai_provider",
        json!({"id": provider["id"], "form": form(double.base_url("collector"), SECOND)}),
    )
    .await;
    ada.ok("test_ai_provider", json!({"id": provider["id"]}))
        .await;
    // Moved behind the form's back (in the database): the key opens for no other address, and
    // nothing is sent with it.
    crate::fixtures::exec(
        &app.db.owner().await,
        "UPDATE ai_providers SET base_url = $1 WHERE name = 'openai'",
        vec![double.base_url("tampered").into()],
    )
    .await;
    let _ = ada
        .call("test_ai_provider", json!({"id": provider["id"]}))
        .await;
    let seen = double.seen();
    let keys_at = |provider: &str| -> Vec<Option<String>> {
        seen.iter()
            .filter(|s| s.provider == provider)
            .map(|s| s.authorization.clone())
            .collect()
    };
    assert_eq!(keys_at("openai"), vec![Some(format!("Bearer {FIRST}"))]);
    assert_eq!(keys_at("collector"), vec![Some(format!("Bearer {SECOND}"))]);
    assert!(
        keys_at("tampered")
            .iter()
            .all(|auth| auth.as_deref().is_none_or(|a| !a.contains("sk-"))),
        "{:?}",
        keys_at("tampered")
    );
}

/// `cairn secrets reseal` with `current` (id, base64) and `previous` keys, on `app`'s database.
async fn reseal(
    db: &TestDb,
    current: (&str, &str),
    previous: &[(&str, &str)],
) -> (i32, String, String) {
    let data_dir =
        tests::test_data_root().join(format!("reseal-{}", uuid::Uuid::new_v4().simple()));
    let mut command = tokio::process::Command::new(tests::cairn_bin());
    command
        .args(["secrets", "reseal"])
        .env("DATABASE_URL", db.owner_url())
        .env("CAIRN_DATABASE__APP_URL", db.app_url())
        .env("CAIRN_DATA_DIR", &data_dir)
        .env("CAIRN_SECRETS__KEY_ID", current.0)
        .env("CAIRN_SECRETS__KEY", current.1)
        .env("CAIRN_LOG__FILTER", "error");
    for (id, key) in previous {
        command.env(format!("CAIRN_SECRETS__PREVIOUS_KEYS__{id}"), key);
    }
    let output = command
        .output()
        .await
        .expect("running cairn secrets reseal");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn keys_rotate_end_to_end_and_the_old_one_can_be_retired() {
    use tests::llm_double::LlmDouble;
    const OLD: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const NEW: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
    const STRANGER: &str = "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=";
    let double = LlmDouble::start().await;
    let db = TestDb::migrated().await;
    let with_key = |id: &'static str, key: &'static str| {
        move |settings: &mut server::config::Settings| {
            settings.secrets.key_id = id.into();
            settings.secrets.key = Some(key.to_owned().into());
        }
    };
    let app = spawn_app_on(db.clone(), with_key("old", OLD))
        .await
        .unwrap();
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = ada
        .ok(
            "create_project",
            json!({"form": {"name": "W", "description": "", "github_repo": "acme/w", "github_branch": "main", "github_path": ""}}),
        )
        .await;
    ada.ok(
        "set_github_token",
        json!({"project_id": project["id"], "token": "ghp_rotaterotaterotate"}),
    )
    .await;
    ada.ok("new_webhook_secret", json!({"project_id": project["id"]}))
        .await;
    let provider = ada
        .ok(
            "save_ai_provider",
            json!({"id": null, "form": {"name": "openai", "kind": "open_ai", "base_url": double.base_url("openai"),
                   "api_key": "sk-rotaterotaterotate0123", "models": "gpt-4o-mini"}}),
        )
        .await;
    let owner = db.owner().await;
    let sealed_with = |key_id: &'static str| {
        let owner = owner.clone();
        async move {
            crate::fixtures::count(
                &owner,
                "SELECT (SELECT count(*) FROM project_secrets WHERE key_id = $1)
                      + (SELECT count(*) FROM ai_providers WHERE key_id = $1)",
                vec![key_id.into()],
            )
            .await
        }
    };
    assert_eq!(sealed_with("old").await, 3);
    app.stop().await.unwrap();

    // A key that opens nothing: everything is listed, nothing is changed, exit 1.
    let (code, _, err) = reseal(&db, ("stranger", STRANGER), &[]).await;
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.matches("no configured key opens").count(), 3, "{err}");
    assert_eq!(sealed_with("old").await, 3);

    // The new key, with the old one still there to open: everything sealed with the new one.
    let (code, out, err) = reseal(&db, ("new", NEW), &[("old", OLD)]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("resealed 2 project secret(s) and 1 AI provider key(s)"),
        "{out}"
    );
    assert_eq!(sealed_with("new").await, 3);

    // The old key retired: the instance, with the new key alone, still uses every secret.
    let app = spawn_app_on(db.clone(), with_key("new", NEW))
        .await
        .unwrap();
    let ada = app.browser();
    ada.ok(
        "log_in",
        json!({"form": {"email": "ada@example.com", "password": crate::rpc::PASSWORD}}),
    )
    .await;
    let tested = ada
        .ok("test_ai_provider", json!({"id": provider["id"]}))
        .await;
    assert_eq!(tested["class"], serde_json::Value::Null, "{tested}");
    let seen = double.seen();
    assert_eq!(
        seen.last().unwrap().authorization.as_deref(),
        Some("Bearer sk-rotaterotaterotate0123")
    );
}

#[tokio::test]
async fn an_oversized_webhook_delivery_is_413_before_it_is_read() {
    let app = tests::spawn_app().await;
    let (status, took) = raw_post(
        app.address,
        "/api/v1/webhooks/github",
        Some(26 * 1024 * 1024),
        256 * 1024,
    )
    .await;
    assert!(status.contains("413"), "{status}");
    assert!(took < std::time::Duration::from_secs(1), "{took:?}");
}

/// A stranger's team cannot make Cairn reach the instance's own machine, the cloud's metadata
/// address or the private network: not by address, not by a name that resolves there, not by a
/// provider moved in the database; and no redirect is followed.
#[tokio::test]
async fn a_teams_provider_reaches_no_private_address() {
    use tests::llm_double::LlmDouble;
    let double = LlmDouble::start().await;
    let port = double
        .base_url("x")
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    // An instance that allows teams no private address (the default).
    let app = spawn_app_on(TestDb::migrated().await, |settings| {
        settings.llm.allowed_private_hosts.clear();
    })
    .await
    .unwrap();
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let form = |base_url: &str| {
        json!({"id": null, "form": {"name": "probe", "kind": "custom", "base_url": base_url,
               "api_key": "", "models": "m"}})
    };
    for base_url in [
        format!("http://127.0.0.1:{port}/openai/v1"),
        format!("http://127.1.2.3:{port}/openai/v1"),
        format!("http://localhost:{port}/openai/v1"),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "http://10.0.0.7:8080/v1".to_owned(),
        "http://192.168.1.1/v1".to_owned(),
        "http://100.100.100.200/v1".to_owned(),
        format!("http://[::1]:{port}/openai/v1"),
        format!("http://[::ffff:127.0.0.1]:{port}/openai/v1"),
        "http://[fd00::1]/v1".to_owned(),
        "http://0.0.0.0:80/v1".to_owned(),
        // Choosing the path after the base URL, and a user name instead of a key.
        "https://api.openai.com/v1/files?x=".to_owned(),
        "https://api.openai.com/v1#".to_owned(),
        "https://me:pw@api.openai.com/v1".to_owned(),
    ] {
        let (status, body) = ada.call("save_ai_provider", form(&base_url)).await;
        assert_eq!(
            (status, body["field"].as_str()),
            (422, Some("base_url")),
            "{base_url}: {body}"
        );
    }
    // Moved in the database (or saved before these checks, or a name whose address changed since):
    // refused at the connection, by name through the resolver, by address before anything is sent.
    let moved = ada
        .ok(
            "save_ai_provider",
            json!({"id": null, "form": {"name": "moved", "kind": "custom",
                   "base_url": "https://api.example.com/v1", "api_key": "", "models": "m"}}),
        )
        .await;
    let owner = app.db.owner().await;
    for base_url in [
        double.base_url("by-address"),
        format!("http://localhost:{port}/by-name/v1"),
        double
            .base_url("by-mapped-address")
            .replace("127.0.0.1", "[::ffff:7f00:1]"),
    ] {
        crate::fixtures::exec(
            &owner,
            "UPDATE ai_providers SET base_url = $1 WHERE name = 'moved'",
            vec![base_url.clone().into()],
        )
        .await;
        let test = ada.ok("test_ai_provider", json!({"id": moved["id"]})).await;
        assert_eq!(test["class"], "connection", "{base_url}: {test}");
        assert!(
            test["message"]
                .as_str()
                .unwrap()
                .contains("not sent: it leads to a loopback address"),
            "{base_url}: {test}"
        );
    }
    assert!(double.seen().is_empty(), "{:?}", double.seen());
}

/// A provider's address that answers with a redirect is not followed there, even to an address
/// the instance allows.
#[tokio::test]
async fn a_providers_redirect_is_not_followed() {
    use tests::llm_double::LlmDouble;
    let double = LlmDouble::start().await;
    let target = double.base_url("behind");
    let redirector = LocalServer::start(
        axum::Router::new().fallback(move || {
            let target = target.clone();
            async move {
                (
                    axum::http::StatusCode::TEMPORARY_REDIRECT,
                    [("location", format!("{target}/chat/completions"))],
                )
            }
        }),
        0,
        "the redirector",
    )
    .await;
    let app = tests::spawn_app().await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let provider = ada
        .ok(
            "save_ai_provider",
            json!({"id": null, "form": {"name": "redirects", "kind": "custom",
                   "base_url": format!("http://{}/v1", redirector.address), "api_key": "",
                   "models": "m"}}),
        )
        .await;
    let test = ada
        .ok("test_ai_provider", json!({"id": provider["id"]}))
        .await;
    assert_eq!(test["status"], 307, "{test}");
    assert!(
        test["message"]
            .as_str()
            .unwrap()
            .contains("HTTP 307, without a provider's error message"),
        "{test}"
    );
    assert!(double.seen().is_empty(), "{:?}", double.seen());
}

/// What a provider's address answers besides a provider's error (a web page, another service's
/// JSON) is never shown in Test connection nor stored as the provider's last error.
#[tokio::test]
async fn only_a_providers_error_message_is_shown() {
    use tests::llm_double::{LlmDouble, Reply};
    let double = LlmDouble::start().await;
    let app = tests::spawn_app().await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let provider = ada
        .ok(
            "save_ai_provider",
            json!({"id": null, "form": {"name": "internal", "kind": "custom",
                   "base_url": double.base_url("internal"), "api_key": "", "models": "m"}}),
        )
        .await;
    // A 404 is not tried again; a 500 is, twice.
    for (status, body, sent) in [
        (
            404,
            "<html><title>Jenkins</title><body>admin console: build #42</body></html>",
            1,
        ),
        (
            500,
            r#"{"Code":"InternalError","detail":"db password is hunter2"}"#,
            3,
        ),
    ] {
        for _ in 0..sent {
            double.reply(
                "internal",
                Reply::Error {
                    status,
                    body: body.into(),
                    retry_after: None,
                },
            );
        }
        let test = ada
            .ok("test_ai_provider", json!({"id": provider["id"]}))
            .await;
        let message = test["message"].as_str().unwrap();
        assert!(
            message.contains(&format!(
                "HTTP {status}, without a provider's error message"
            )),
            "{test}"
        );
        let listed = ada.ok("list_ai_providers", json!({})).await;
        let last_error = listed[0]["last_error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        for secret in ["Jenkins", "admin console", "hunter2", "InternalError"] {
            assert!(!message.contains(secret), "{test}");
            assert!(!last_error.contains(secret), "{listed}");
        }
        assert_eq!(double.seen().len(), sent);
        double.clear();
        ada.ok("clear_ai_provider", json!({"id": provider["id"]}))
            .await;
    }
    // A provider's own error still says what it said.
    double.reply("internal", Reply::unauthorized("sk-nope"));
    let test = ada
        .ok("test_ai_provider", json!({"id": provider["id"]}))
        .await;
    assert!(
        test["message"]
            .as_str()
            .unwrap()
            .contains("HTTP 401: Incorrect API key provided"),
        "{test}"
    );
}
