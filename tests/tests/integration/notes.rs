//! Notes with many images: CRUD, streamed uploads checked by their bytes, order, captions, serving,
//! deletion down to the stored objects, the sweeper, and every refusal leaving nothing behind.

use crate::fixtures::count;
use crate::rpc::{project, signed_up};
use serde_json::{Value, json};
use tests::images::{HTML_AS_PNG, SVG, png, png_header, png_of_size};
use tests::{RpcClient, TestApp, TestDb, spawn_app, spawn_app_on};

async fn note_in_new_project(app: &TestApp, email: &str) -> (RpcClient, Value, Value) {
    let (browser, _) = signed_up(app, email, "Engines").await;
    let project = browser.ok("create_project", project("Widgets")).await;
    let note = browser
        .ok(
            "create_note",
            json!({"project_id": project["id"], "form": {"title": "Login flow", "body": "Steps"}}),
        )
        .await;
    (browser, project, note)
}

fn id(value: &Value) -> &str {
    value["id"].as_str().expect("an id")
}

async fn image_rows(app: &TestApp) -> i64 {
    count(
        &app.db.owner().await,
        "SELECT count(*) FROM note_images",
        vec![],
    )
    .await
}

#[tokio::test]
async fn notes_are_created_listed_newest_first_edited_and_rendered_safely() {
    let app = spawn_app().await;
    let (browser, project, first) = note_in_new_project(&app, "ada@example.com").await;
    let second = browser
        .ok(
            "create_note",
            json!({"project_id": project["id"], "form": {
                "title": "  Checkout  ",
                "body": "# Plan\n\n<script>alert(1)</script>\n\n[click](javascript:alert(1)) <img src=x onerror=alert(1)>"
            }}),
        )
        .await;
    assert_eq!(second["title"], "Checkout");
    let html = second["body_html"].as_str().unwrap();
    assert!(html.contains("<h1>Plan</h1>"), "{html}");
    assert!(
        !html.contains("<script") && !html.contains("<img") && !html.contains("javascript:"),
        "{html}"
    );
    assert!(
        html.contains("&lt;script&gt;"),
        "raw HTML is shown as text: {html}"
    );

    let (notes_page, has_more) = {
        let listed = browser
            .ok(
                "list_notes",
                json!({"project_id": project["id"], "page": 0}),
            )
            .await;
        (listed[0].clone(), listed[1].clone())
    };
    let titles: Vec<&str> = notes_page
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Checkout", "Login flow"], "newest first");
    assert_eq!(has_more, false);

    let edited = browser
        .ok(
            "update_note",
            json!({"id": first["id"], "form": {"title": "Login", "body": "**bold**"}}),
        )
        .await;
    assert_eq!(edited["body_html"], "<p><strong>bold</strong></p>\n");
    assert_eq!(
        browser.ok("get_note", json!({"id": first["id"]})).await["title"],
        "Login"
    );

    let (status, error) = browser
        .call(
            "update_note",
            json!({"id": first["id"], "form": {"title": "  ", "body": ""}}),
        )
        .await;
    assert_eq!((status, &error["field"]), (422, &json!("title")));
    assert_eq!(
        browser.ok("get_note", json!({"id": first["id"]})).await["title"],
        "Login",
        "unchanged"
    );
}

#[tokio::test]
async fn images_upload_in_order_with_their_size_and_are_served_privately_with_caching() {
    let app = spawn_app().await;
    let (browser, _, note) = note_in_new_project(&app, "ada@example.com").await;
    let colours = [[200, 30, 30], [30, 160, 60], [40, 70, 200]];
    let mut uploaded = Vec::new();
    for (i, rgb) in colours.iter().enumerate() {
        let (status, image) = browser
            .upload(id(&note), png(64 + i as u32, 48, *rgb))
            .await;
        assert_eq!(status, 201, "{image}");
        uploaded.push(image);
    }
    assert_eq!(
        (
            &uploaded[1]["width"],
            &uploaded[1]["height"],
            &uploaded[1]["content_type"]
        ),
        (&json!(65), &json!(48), &json!("image/png"))
    );
    let fetched = browser.ok("get_note", json!({"id": note["id"]})).await;
    let orders: Vec<i64> = fetched["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sort_order"].as_i64().unwrap())
        .collect();
    assert_eq!(orders, [0, 1, 2]);

    // Keys are the server's: tenants/{tenant}/notes/{note}/{uuid}.png.
    let objects = app.stored_objects().await;
    assert_eq!(objects.len(), 3, "{objects:?}");
    for key in &objects {
        let parts: Vec<&str> = key.split('/').collect();
        assert_eq!(
            (parts[0], parts[2], parts[3]),
            ("tenants", "notes", id(&note)),
            "{key}"
        );
        assert!(
            parts[4].ends_with(".png")
                && uuid::Uuid::parse_str(parts[4].trim_end_matches(".png")).is_ok(),
            "{key}"
        );
    }

    // Served to the member, with caching headers and the exact bytes.
    let path = format!("/api/v1/images/{}", id(&uploaded[0]));
    let response = browser.get(&path).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(
        headers["cache-control"],
        "private, max-age=31536000, immutable"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert_eq!(
        response.bytes().await.unwrap().as_ref(),
        png(64, 48, colours[0]).as_slice()
    );
    let revalidated = browser
        .http
        .get(app.url(&path))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);
    assert_eq!(revalidated.headers()["etag"].to_str().unwrap(), etag);

    // Not to anyone without a session.
    assert_eq!(app.get(&path).await.status(), 401);
}

#[tokio::test]
async fn bad_uploads_are_refused_clearly_and_leave_nothing_behind() {
    let app = spawn_app_on(TestDb::migrated().await, |s| {
        s.storage.max_image_bytes = 64 * 1024;
        s.storage.max_images_per_note = 2;
    })
    .await
    .unwrap();
    let (browser, _, note) = note_in_new_project(&app, "ada@example.com").await;
    let mut truncated = png(40, 40, [1, 2, 3]);
    truncated.truncate(20);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "html named .png",
            HTML_AS_PNG.to_vec(),
            "is not a PNG, JPEG, GIF or WebP image",
        ),
        ("svg", SVG.to_vec(), "is not a PNG, JPEG, GIF or WebP image"),
        ("empty", Vec::new(), "is empty"),
        (
            "truncated png",
            truncated,
            "looks like PNG but its size cannot be read: the file is damaged",
        ),
        (
            "over the size limit",
            png_of_size(100 * 1024, [9, 9, 9]),
            "is larger than the 64 KiB limit",
        ),
    ];
    for (case, bytes, reason) in cases {
        let (status, error) = browser.upload(id(&note), bytes).await;
        assert_eq!(
            (status, error),
            (
                422,
                json!({"kind": "invalid", "field": "file", "reason": reason})
            ),
            "{case}"
        );
    }
    assert_eq!(image_rows(&app).await, 0);
    assert!(
        app.stored_objects().await.is_empty(),
        "{:?}",
        app.stored_objects().await
    );

    // An upload without a Content-Length (chunked) that grows past the limit is cut off too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = png_of_size(100 * 1024, [5, 5, 5])
        .chunks(8 * 1024)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let response = browser
        .http
        .post(app.url(&format!("/api/v1/notes/{}/images", id(&note))))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    assert!(
        app.stored_objects().await.is_empty(),
        "the aborted upload left {:?}",
        app.stored_objects().await
    );

    // The per-note limit.
    for rgb in [[1, 1, 1], [2, 2, 2]] {
        assert_eq!(browser.upload(id(&note), png(8, 8, rgb)).await.0, 201);
    }
    let (status, error) = browser.upload(id(&note), png(8, 8, [3, 3, 3])).await;
    assert_eq!(status, 422);
    assert_eq!(
        error["reason"],
        "this note already has 2 images, the most a note can hold"
    );
    assert_eq!(image_rows(&app).await, 2);
    assert_eq!(app.stored_objects().await.len(), 2);

    // A note id that is not one.
    let (status, _) = browser.upload("not-a-note", png(8, 8, [1, 1, 1])).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn images_too_large_to_show_are_refused_before_anything_is_stored() {
    let app = spawn_app().await;
    let (browser, _, note) = note_in_new_project(&app, "ada@example.com").await;
    let cases = [
        (
            "a 33-byte file claiming 2^31-1 pixels a side",
            png_header(2_147_483_647, 2_147_483_647),
            "is 2147483647 × 2147483647 pixels; images may be at most 16384 pixels a side and 50 \
             megapixels",
        ),
        (
            "wider than the side limit",
            png_header(20_000, 10),
            "is 20000 × 10 pixels; images may be at most 16384 pixels a side and 50 megapixels",
        ),
        (
            "within the side limit but 60 megapixels",
            png_header(10_000, 6_000),
            "is 10000 × 6000 pixels; images may be at most 16384 pixels a side and 50 megapixels",
        ),
    ];
    for (case, bytes, reason) in cases {
        let (status, error) = browser.upload(id(&note), bytes).await;
        assert_eq!(
            (status, error),
            (
                422,
                json!({"kind": "invalid", "field": "file", "reason": reason})
            ),
            "{case}"
        );
        assert_eq!(image_rows(&app).await, 0, "{case}");
        assert!(app.stored_objects().await.is_empty(), "{case}");
    }

    // The limits are settings.
    let app = spawn_app_on(TestDb::migrated().await, |s| {
        s.storage.max_image_width = 100;
        s.storage.max_image_height = 100;
        s.storage.max_image_pixels = 5_000;
    })
    .await
    .unwrap();
    let (browser, _, note) = note_in_new_project(&app, "ada@example.com").await;
    let (status, error) = browser.upload(id(&note), png(200, 10, [1, 2, 3])).await;
    assert_eq!(
        (status, &error["reason"]),
        (
            422,
            &json!(
                "is 200 × 10 pixels; images may be at most 100 pixels a side and 5000 pixels in all"
            )
        )
    );
    assert_eq!(image_rows(&app).await, 0);
    assert!(app.stored_objects().await.is_empty());
    let (status, image) = browser.upload(id(&note), png(50, 50, [1, 2, 3])).await;
    assert_eq!(status, 201, "{image}");
    assert_eq!(
        (&image["width"], &image["height"]),
        (&json!(50), &json!(50))
    );
    assert_eq!(image_rows(&app).await, 1);
    assert_eq!(app.stored_objects().await.len(), 1);
}

#[tokio::test]
async fn concurrent_uploads_never_pass_the_per_note_limit() {
    let app = spawn_app_on(TestDb::migrated().await, |s| {
        s.storage.max_images_per_note = 5
    })
    .await
    .unwrap();
    let (browser, _, note) = note_in_new_project(&app, "ada@example.com").await;
    let uploads = (0..8u8).map(|i| {
        let browser = browser.clone();
        let note_id = id(&note).to_owned();
        async move {
            browser
                .upload(&note_id, png(16, 16, [i * 20, 0, 0]))
                .await
                .0
        }
    });
    let statuses = futures_util::future::join_all(uploads).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 422).count(),
        3,
        "{statuses:?}"
    );
    let owner = app.db.owner().await;
    assert_eq!(
        count(
            &owner,
            "SELECT count(DISTINCT sort_order) FROM note_images",
            vec![]
        )
        .await,
        5
    );
    assert_eq!(
        app.stored_objects().await.len(),
        5,
        "refused uploads leave no object"
    );
}

#[tokio::test]
async fn images_are_reordered_in_one_step_captioned_and_removed() {
    let app = spawn_app().await;
    let (browser, _, note) = note_in_new_project(&app, "ada@example.com").await;
    let mut ids = Vec::new();
    for rgb in [[1, 1, 1], [2, 2, 2], [3, 3, 3]] {
        ids.push(browser.upload(id(&note), png(8, 8, rgb)).await.1["id"].clone());
    }
    let reversed: Vec<Value> = ids.iter().rev().cloned().collect();
    let images = browser
        .ok(
            "reorder_images",
            json!({"note_id": note["id"], "image_ids": reversed}),
        )
        .await;
    let order: Vec<Value> = images
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    assert_eq!(order, reversed);

    // Lists that do not name each image exactly once are refused, and the order stays.
    let other_note = browser
        .ok(
            "create_note",
            json!({"project_id": note["project_id"], "form": {"title": "Other", "body": ""}}),
        )
        .await;
    let stranger = browser
        .upload(id(&other_note), png(8, 8, [9, 9, 9]))
        .await
        .1["id"]
        .clone();
    for bad in [
        json!([ids[0], ids[1]]),
        json!([ids[0], ids[1], ids[1]]),
        json!([ids[0], ids[1], ids[2], ids[2]]),
        json!([ids[0], ids[1], stranger]),
        json!([]),
    ] {
        let (status, error) = browser
            .call(
                "reorder_images",
                json!({"note_id": note["id"], "image_ids": bad}),
            )
            .await;
        assert_eq!(
            (status, &error["field"]),
            (422, &json!("image_ids")),
            "{bad}"
        );
    }
    let fetched = browser.ok("get_note", json!({"id": note["id"]})).await;
    let order: Vec<Value> = fetched["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    assert_eq!(order, reversed, "a refused reorder changes nothing");

    let captioned = browser
        .ok(
            "set_image_description",
            json!({"id": ids[1], "description": "  The login page  "}),
        )
        .await;
    assert_eq!(captioned["description"], "The login page");
    let (status, error) = browser
        .call(
            "set_image_description",
            json!({"id": ids[1], "description": "x".repeat(501)}),
        )
        .await;
    assert_eq!((status, &error["field"]), (422, &json!("description")));

    browser.ok("remove_image", json!({"id": ids[0]})).await;
    let fetched = browser.ok("get_note", json!({"id": note["id"]})).await;
    assert_eq!(fetched["images"].as_array().unwrap().len(), 2);
    assert_eq!(fetched["images"][1]["description"], "The login page");
    assert_eq!(
        app.stored_objects().await.len(),
        3,
        "2 left on this note + 1 on the other"
    );
    assert_eq!(
        browser.call("remove_image", json!({"id": ids[0]})).await.0,
        404
    );
}

#[tokio::test]
async fn deleting_a_note_or_a_project_removes_rows_and_stored_objects() {
    let app = spawn_app().await;
    let (browser, project, note) = note_in_new_project(&app, "ada@example.com").await;
    for rgb in [[1, 1, 1], [2, 2, 2], [3, 3, 3]] {
        assert_eq!(browser.upload(id(&note), png(8, 8, rgb)).await.0, 201);
    }
    let kept = browser
        .ok(
            "create_note",
            json!({"project_id": project["id"], "form": {"title": "Kept", "body": ""}}),
        )
        .await;
    assert_eq!(browser.upload(id(&kept), png(8, 8, [4, 4, 4])).await.0, 201);
    assert_eq!(app.stored_objects().await.len(), 4);

    browser.ok("delete_note", json!({"id": note["id"]})).await;
    assert_eq!(image_rows(&app).await, 1);
    let left = app.stored_objects().await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].contains(id(&kept)));
    if app.stores_locally() {
        assert!(
            !app.data_dir
                .join("objects/tenants")
                .join(left[0].split('/').nth(1).unwrap())
                .join("notes")
                .join(id(&note))
                .exists(),
            "the deleted note's folder is gone too"
        );
    }
    assert_eq!(
        browser.call("get_note", json!({"id": note["id"]})).await.0,
        404
    );

    browser
        .ok("delete_project", json!({"id": project["id"]}))
        .await;
    assert_eq!(image_rows(&app).await, 0);
    assert!(
        app.stored_objects().await.is_empty(),
        "{:?}",
        app.stored_objects().await
    );
    let owner = app.db.owner().await;
    assert_eq!(
        count(&owner, "SELECT count(*) FROM project_notes", vec![]).await,
        0
    );
}

#[tokio::test]
async fn the_sweeper_removes_orphans_and_reports_rows_whose_object_is_missing() {
    let app = spawn_app().await;
    let (browser, _, note) = note_in_new_project(&app, "ada@example.com").await;
    let kept = browser.upload(id(&note), png(8, 8, [1, 1, 1])).await.1;
    let lost = browser.upload(id(&note), png(8, 8, [2, 2, 2])).await.1;
    let objects = app.stored_objects().await;
    let tenant = objects[0].split('/').nth(1).unwrap().to_owned();

    // An object whose row never came (an upload cut off between the two), and a row whose object
    // was lost.
    let orphan = format!(
        "tenants/{tenant}/notes/{}/{}.png",
        id(&note),
        uuid::Uuid::now_v7()
    );
    app.put_object(&orphan, png(4, 4, [0, 0, 0])).await;
    let lost_key = objects.iter().find(|k| k.contains(id(&lost))).unwrap();
    app.delete_object(lost_key).await;

    // A missing object is a 404 for its image, not a crash.
    let missing = browser.get(&format!("/api/v1/images/{}", id(&lost))).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        browser.ok("get_note", json!({"id": note["id"]})).await["images"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Young orphans may be uploads in flight: left alone within the grace period.
    let state = &app.state;
    let report = domain::images::sweep(
        &state.ctx.db,
        &state.ctx.images,
        std::time::Duration::from_secs(3600),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            report.objects,
            report.orphans_removed,
            report.missing_objects
        ),
        (2, 0, 1)
    );
    assert!(app.stored_objects().await.contains(&orphan));

    let report = domain::images::sweep(&state.ctx.db, &state.ctx.images, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!((report.orphans_removed, report.missing_objects), (1, 1));
    assert!(!app.stored_objects().await.contains(&orphan));
    assert_eq!(app.stored_objects().await.len(), 1);
    assert!(app.stored_objects().await[0].contains(id(&kept)));
    assert_eq!(image_rows(&app).await, 2, "rows are reported, not deleted");
}

#[tokio::test]
async fn cross_tenant_matrix_for_notes_images_and_memory() {
    let app = spawn_app().await;
    let (ada, project, note) = note_in_new_project(&app, "ada@example.com").await;
    let image = ada.upload(id(&note), png(8, 8, [1, 1, 1])).await.1;
    let entry = ada
        .ok("create_memory_entry", json!({"project_id": project["id"], "form": {"title": "Secret", "content": "Launch codes"}}))
        .await;
    let (mallory, _) = signed_up(&app, "mallory@example.com", "Mallory's").await;
    let mallory_project = mallory
        .ok("create_project", crate::rpc::project("Mine"))
        .await;
    let mallory_note = mallory
        .ok(
            "create_note",
            json!({"project_id": mallory_project["id"], "form": {"title": "Mine", "body": ""}}),
        )
        .await;
    let missing = json!(uuid::Uuid::new_v4().to_string());

    type ArgsFor = Box<dyn Fn(&Value) -> Value>;
    let by_project: Vec<(&str, ArgsFor)> = vec![
        (
            "list_notes",
            Box::new(|id| json!({"project_id": id, "page": 0})),
        ),
        (
            "create_note",
            Box::new(|id| json!({"project_id": id, "form": {"title": "x", "body": ""}})),
        ),
        (
            "list_memory",
            Box::new(
                |id| json!({"project_id": id, "query": {"status": null, "kind": null, "text": "", "page": 0}}),
            ),
        ),
        (
            "create_memory_entry",
            Box::new(|id| json!({"project_id": id, "form": {"title": "x", "content": "y"}})),
        ),
        ("memory_file_tree", Box::new(|id| json!({"project_id": id}))),
    ];
    let by_note: Vec<(&str, ArgsFor)> = vec![
        ("get_note", Box::new(|id| json!({"id": id}))),
        (
            "update_note",
            Box::new(|id| json!({"id": id, "form": {"title": "pwned", "body": ""}})),
        ),
        (
            "reorder_images",
            Box::new(|id| json!({"note_id": id, "image_ids": []})),
        ),
        ("delete_note", Box::new(|id| json!({"id": id}))),
    ];
    let mallory_image = mallory
        .upload(id(&mallory_note), png(8, 8, [6, 6, 6]))
        .await
        .1;
    let by_image: Vec<(&str, ArgsFor)> = vec![
        (
            "set_image_description",
            Box::new(|id| json!({"id": id, "description": "pwned"})),
        ),
        ("remove_image", Box::new(|id| json!({"id": id}))),
    ];
    let by_entry: Vec<(&str, ArgsFor)> = vec![
        (
            "update_memory_entry",
            Box::new(|id| json!({"id": id, "form": {"title": "pwned", "content": "x"}})),
        ),
        (
            "set_memory_status",
            Box::new(|id| json!({"id": id, "status": "superseded"})),
        ),
    ];
    // As a browser, and as a script with a write token of Mallory's team: the same answers.
    let mallory_script = mallory.token_client("write").await;
    for client in [&mallory, &mallory_script] {
        for (calls, foreign_id) in [
            (&by_project, &project["id"]),
            (&by_note, &note["id"]),
            (&by_image, &image["id"]),
            (&by_entry, &entry["id"]),
        ] {
            for (name, args) in calls {
                let foreign = client.call(name, args(foreign_id)).await;
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
        let (status, body) = client.upload(id(&note), png(8, 8, [7, 7, 7])).await;
        assert_eq!((status, body), (404, json!({"kind": "not_found"})));
        let foreign = client.get(&format!("/api/v1/images/{}", id(&image))).await;
        assert_eq!(foreign.status(), 404);
    }
    // Reordering her own note with Ada's image id is a mismatch, not a way in.
    let (status, _) = mallory
        .call(
            "reorder_images",
            json!({"note_id": mallory_note["id"], "image_ids": [mallory_image["id"], image["id"]]}),
        )
        .await;
    assert_eq!(status, 422);

    // The upload and download routes.
    let (status, body) = mallory.upload(id(&note), png(8, 8, [7, 7, 7])).await;
    assert_eq!((status, body), (404, json!({"kind": "not_found"})));
    let foreign = mallory.get(&format!("/api/v1/images/{}", id(&image))).await;
    assert_eq!(foreign.status(), 404);
    let absent = mallory
        .get(&format!("/api/v1/images/{}", missing.as_str().unwrap()))
        .await;
    assert_eq!(absent.status(), 404);

    // Nothing of Ada's changed.
    let owner = app.db.owner().await;
    let ada_note = ada.ok("get_note", json!({"id": note["id"]})).await;
    assert_eq!(ada_note["title"], "Login flow");
    assert_eq!(ada_note["images"].as_array().unwrap().len(), 1);
    assert_eq!(ada_note["images"][0]["description"], "");
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM memory_entries WHERE title = 'Secret' AND status = 'active'",
            vec![]
        )
        .await,
        1
    );
    assert_eq!(
        ada.get(&format!("/api/v1/images/{}", id(&image)))
            .await
            .status(),
        200
    );
    assert_eq!(app.stored_objects().await.len(), 2);
}

#[tokio::test]
async fn an_upload_that_outlives_its_session_adds_nothing() {
    let app = spawn_app().await;
    let (browser, _, note) = note_in_new_project(&app, "ada@example.com").await;
    let image = png_of_size(256 * 1024, [9, 9, 9]);
    let (first, rest) = image.split_at(16 * 1024);
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    let request = browser
        .http
        .post(app.url(&format!("/api/v1/notes/{}/images", id(&note))))
        .body(reqwest::Body::wrap_stream(body))
        .send();
    let upload = tokio::spawn(request);

    // The upload starts with a valid session (its note and limit are checked then), and the session
    // is revoked while the rest of the body is still on its way.
    sender.send(Ok(first.to_vec())).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(browser.call("log_out", json!({})).await.0, 200);
    for chunk in rest.chunks(16 * 1024) {
        sender.send(Ok(chunk.to_vec())).await.unwrap();
    }
    drop(sender);

    let response = upload.await.unwrap().unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(image_rows(&app).await, 0);
    assert!(
        app.stored_objects().await.is_empty(),
        "the refused upload left {:?}",
        app.stored_objects().await
    );
}
