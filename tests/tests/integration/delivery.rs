//! How the browser gets Cairn: the bundle's files compressed at build time, named by their content
//! and kept for a year; pages and answers compressed as they are sent; pages never kept but
//! revalidated by their `ETag`; event streams never compressed (see `job_events`).

use crate::rpc::{project, signed_up};
use serde_json::{Value, json};
use std::io::Read;
use tests::{repo_root, spawn_app};

fn built(file: &str) -> Vec<u8> {
    let path = repo_root().join("target/site/pkg").join(file);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run `trunk build --release`)", path.display()))
}

fn manifest() -> Value {
    serde_json::from_slice(&built("manifest.json")).expect("pkg/manifest.json")
}

/// The body as the server meant it, whatever it was sent as.
fn decoded(encoding: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        None => out.extend_from_slice(body),
        Some("br") => {
            brotli_decompressor::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .expect("Brotli");
        }
        Some("gzip") => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .expect("gzip");
        }
        Some(other) => panic!("unexpected encoding {other}"),
    }
    out
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn the_bundle_is_sent_compressed_named_by_its_content_and_kept_for_a_year() {
    let app = spawn_app().await;
    let manifest = manifest();
    let mut files: Vec<String> = manifest["assets"]
        .as_object()
        .expect("assets")
        .values()
        .map(|name| name.as_str().unwrap().to_owned())
        .collect();
    let bundles = manifest["bundles"].as_array().expect("bundles");
    assert!(!bundles.is_empty());
    for bundle in bundles {
        files.push(bundle["js"].as_str().unwrap().to_owned());
        files.push(bundle["wasm"].as_str().unwrap().to_owned());
    }

    // The page links the stylesheet and names the bundles by the names the build gave them.
    let page = app.get("/login").await.text().await.unwrap();
    assert!(
        page.contains(&format!(
            "/pkg/{}",
            manifest["assets"]["cairn.css"].as_str().unwrap()
        )),
        "{page}"
    );
    for bundle in bundles {
        assert!(page.contains(bundle["wasm"].as_str().unwrap()), "{page}");
    }

    let client = reqwest::Client::new();
    for file in &files {
        let original = built(file);
        for (accepted, sent) in [
            ("br, gzip", Some("br")),
            ("gzip, deflate", Some("gzip")),
            ("gzip;q=0.5, br;q=1", Some("br")),
            ("identity", None),
        ] {
            let response = client
                .get(app.url(&format!("/pkg/{file}")))
                .header("accept-encoding", accepted)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{file}");
            assert_eq!(
                header(&response, "cache-control"),
                Some("public, max-age=31536000, immutable"),
                "{file}"
            );
            // The tiny icon's gzip twin is worth keeping or not; every other file has both.
            let encoding = header(&response, "content-encoding").map(str::to_owned);
            if file.ends_with(".svg") && encoding.is_none() {
                continue;
            }
            assert_eq!(encoding.as_deref(), sent, "{file} for {accepted:?}");
            if sent.is_some() {
                assert!(
                    header(&response, "vary")
                        .is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding")),
                    "{file}"
                );
            }
            let body = response.bytes().await.unwrap();
            if sent.is_some() {
                assert!(
                    body.len() < original.len(),
                    "{file}: {} B sent for {} B",
                    body.len(),
                    original.len()
                );
            }
            assert_eq!(decoded(sent, &body), original, "{file} for {accepted:?}");
        }
        // The wasm module is sent as wasm, which browsers compile while it downloads.
        if file.ends_with(".wasm") {
            let response = client
                .get(app.url(&format!("/pkg/{file}")))
                .send()
                .await
                .unwrap();
            assert_eq!(header(&response, "content-type"), Some("application/wasm"));
        }
    }

    // A name without its content's hash is asked again every time; a missing file is 404.
    let unnamed = client
        .get(app.url("/pkg/manifest.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(unnamed.status(), 200);
    assert_eq!(header(&unnamed, "cache-control"), Some("no-cache"));
    let missing = client
        .get(app.url("/pkg/accounts-0123456789abcdef_bg.wasm"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(header(&missing, "cache-control"), None);
}

#[tokio::test]
async fn pages_are_compressed_revalidated_by_their_etag_and_never_kept() {
    let app = spawn_app().await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    for n in 0..12 {
        ada.ok("create_project", project(&format!("Widgets {n}")))
            .await;
    }
    let page = |tag: Option<String>| {
        let mut request = ada
            .http
            .get(app.url("/projects"))
            .header("accept-encoding", "br, gzip");
        if let Some(tag) = tag {
            request = request.header("if-none-match", tag);
        }
        request.send()
    };

    let first = page(None).await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "content-encoding"), Some("br"));
    assert_eq!(header(&first, "cache-control"), Some("no-cache"));
    let tag = header(&first, "etag").expect("an ETag").to_owned();
    assert!(tag.starts_with("W/\""), "{tag}");
    let html = String::from_utf8(decoded(Some("br"), &first.bytes().await.unwrap())).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.contains("Widgets 11"),
        "{html}"
    );

    // Unchanged: 304, no body, the same tag.
    let again = page(Some(tag.clone())).await.unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, "etag"), Some(tag.as_str()));
    assert_eq!(header(&again, "cache-control"), Some("no-cache"));
    assert!(again.bytes().await.unwrap().is_empty());

    // Changed: the whole page again, under a new tag.
    ada.ok("create_project", project("Gears")).await;
    let changed = page(Some(tag.clone())).await.unwrap();
    assert_eq!(changed.status(), 200);
    assert_ne!(header(&changed, "etag"), Some(tag.as_str()));
    let html = String::from_utf8(decoded(Some("br"), &changed.bytes().await.unwrap())).unwrap();
    assert!(html.contains("Gears"));

    // A browser that accepts nothing compressed gets the page as it is.
    let plain = ada.get("/projects").await;
    assert_eq!(header(&plain, "content-encoding"), None);
    assert!(plain.text().await.unwrap().contains("Gears"));

    // An answer above a kilobyte is compressed; a small one is not worth it.
    let list = ada
        .authorised(ada.http.post(app.url("/api/v1/list_projects")))
        .header("accept-encoding", "gzip")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);
    assert_eq!(header(&list, "content-encoding"), Some("gzip"));
    let projects: Value =
        serde_json::from_slice(&decoded(Some("gzip"), &list.bytes().await.unwrap())).unwrap();
    assert_eq!(projects.as_array().map(Vec::len), Some(13));
    let health = app
        .client
        .get(app.url("/healthz"))
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&health, "content-encoding"), None);
}

/// The islands on `html`, and the bundles it preloads (by name).
fn islands_and_bundles(html: &str, manifest: &Value) -> (Vec<String>, Vec<String>) {
    let islands = html
        .split("<leptos-island data-component=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect();
    let bundles = manifest["bundles"]
        .as_array()
        .expect("bundles")
        .iter()
        .filter(|bundle| {
            html.contains(&format!(
                r#"<link href="/pkg/{}" rel="modulepreload">"#,
                bundle["js"].as_str().unwrap()
            ))
        })
        .map(|bundle| bundle["name"].as_str().unwrap().to_owned())
        .collect();
    (islands, bundles)
}

#[tokio::test]
async fn every_page_names_one_bundle_and_it_holds_every_island_on_the_page() {
    let app = spawn_app().await;
    let manifest = manifest();
    let holds = |bundle: &str, island: &str| {
        manifest["bundles"].as_array().unwrap().iter().any(|b| {
            b["name"] == bundle && b["islands"].as_array().unwrap().iter().any(|i| i == island)
        })
    };
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = ada.ok("create_project", project("Widgets")).await;
    let project = project["id"].as_str().unwrap().to_owned();
    let note = ada
        .ok(
            "create_note",
            json!({"project_id": project, "form": {"title": "t", "body": "b"}}),
        )
        .await;
    let entry = ada
        .ok(
            "create_memory_entry",
            json!({"project_id": project, "form": {"title": "t", "content": "c"}}),
        )
        .await;
    let invited = ada
        .ok(
            "invite_member",
            json!({"email": "bob@example.com", "role": "member"}),
        )
        .await;
    let invitation = invited["link"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();

    let signed_out = app.browser();
    let mut pages = vec![
        (&signed_out, "/login".to_owned(), "welcome"),
        (&signed_out, "/signup".to_owned(), "welcome"),
        (&signed_out, "/forgot-password".to_owned(), "welcome"),
        (&signed_out, format!("/invite/{invitation}"), "accounts"),
    ];
    for (path, bundle) in [
        ("/projects".to_owned(), "projects"),
        ("/projects/new".to_owned(), "projects"),
        (format!("/projects/{project}"), "projects"),
        (format!("/projects/{project}/notes"), "projects"),
        (
            format!("/projects/{project}/notes/{}", note["id"].as_str().unwrap()),
            "notes",
        ),
        (format!("/projects/{project}/memory"), "projects"),
        (
            format!(
                "/projects/{project}/memory/{}",
                entry["id"].as_str().unwrap()
            ),
            "projects",
        ),
        (format!("/projects/{project}/sources"), "sources"),
        (format!("/projects/{project}/settings"), "projects"),
        ("/jobs".to_owned(), "projects"),
        ("/search?q=t".to_owned(), "projects"),
        ("/team".to_owned(), "accounts"),
        ("/account".to_owned(), "accounts"),
        (format!("/invite/{invitation}"), "accounts"),
        ("/ai".to_owned(), "ai"),
        ("/workflows".to_owned(), "ai"),
    ] {
        pages.push((&ada, path, bundle));
    }
    for (client, path, expected) in pages {
        let response = client.get(&path).await;
        assert_eq!(response.status(), 200, "{path}");
        let html = response.text().await.unwrap();
        let (islands, bundles) = islands_and_bundles(&html, &manifest);
        assert_eq!(bundles, [expected], "{path} names its area's bundle");
        assert!(!islands.is_empty(), "{path} has islands");
        for island in &islands {
            assert!(
                holds(expected, island),
                "{path}: {island} is not in the {expected} bundle"
            );
        }
    }
}
