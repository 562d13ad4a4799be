//! Pages as the server sends them: whole, with their data, before the first byte; a 302 to the log-in
//! page for a signed-out visitor; and the interactive parts as islands for the browser bundle.

use crate::rpc::{project, signed_up};
use tests::spawn_app;

#[tokio::test]
async fn pages_arrive_whole_and_the_signed_out_are_sent_to_log_in() {
    let app = spawn_app().await;
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in [
        "/projects",
        "/projects/new",
        "/team",
        "/projects/6b1f8a52-3d0c-4f57-9a3e-2f8d7c1b0e44/notes",
    ] {
        let response = anonymous
            .get(app.url(path))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302, "{path}");
        assert_eq!(response.headers()["location"], "/login", "{path}");
    }

    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let created = ada.ok("create_project", project("Widgets")).await;
    let page = ada.get("/projects").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    // The list is in the document itself, not streamed in after it.
    assert!(html.contains("<h2>Widgets"), "{html}");
    assert!(html.contains("acme/widgets"), "{html}");
    // The account menu is an island: the bundle hydrates it, and nothing else of the page.
    assert!(
        html.contains(r#"<leptos-island data-component="AccountMenu_"#),
        "{html}"
    );
    assert!(html.contains("_bg.wasm\""), "{html}");

    // An island gets what it edits as props, in the page.
    let id = created["id"].as_str().unwrap();
    let settings = ada.get(&format!("/projects/{id}/settings")).await;
    assert_eq!(settings.status(), 200);
    let html = settings.text().await.unwrap();
    assert!(
        html.contains(r#"<leptos-island data-component="ProjectSettings_"#),
        "{html}"
    );
    assert!(html.contains("data-props="), "{html}");
    assert!(html.contains(id), "{html}");
}
