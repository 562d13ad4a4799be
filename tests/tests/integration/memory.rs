//! The Memory Hub: filters, full-text search, manual entries, supersede and restore.

use crate::fixtures::{exec, seed_tenant};
use crate::rpc::{project, signed_up};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use tests::{TestDb, spawn_app};
use uuid::Uuid;

fn titles(page: &Value) -> Vec<String> {
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_memory_hub_filters_searches_edits_supersedes_and_restores() {
    let app = spawn_app().await;
    let (ada, session) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = ada.ok("create_project", project("Widgets")).await;
    let tenant: Uuid = serde_json::from_value(session["active_tenant"].clone()).unwrap();
    let project_id: Uuid = serde_json::from_value(project["id"].clone()).unwrap();

    let manual = ada
        .ok(
            "create_memory_entry",
            json!({"project_id": project["id"], "form": {"title": "Retry policy", "content": "Retry payments three times with backoff."}}),
        )
        .await;
    assert_eq!(
        (&manual["kind"], &manual["status"]),
        (&json!("manual"), &json!("active"))
    );
    ada.ok(
        "create_memory_entry",
        json!({"project_id": project["id"], "form": {"title": "Glossary", "content": "A widget is a thing; payments are mentioned once."}}),
    )
    .await;

    // Two file entries as a sync imports them (one superseded by a newer version), and an image
    // attached to one of them.
    let owner = app.db.owner().await;
    let file_old = Uuid::now_v7();
    let file_new = Uuid::now_v7();
    for (id, status, content) in [
        (file_old, "superseded", "old readme about deployment"),
        (
            file_new,
            "active",
            "Deployment: run the payments worker with two replicas.",
        ),
    ] {
        exec(
            &owner,
            "INSERT INTO memory_entries (id, tenant_id, project_id, kind, title, content, source_path, blob_sha, status)
             VALUES ($1, $2, $3, 'file', 'README.md', $4, 'README.md', 'abc', $5)",
            vec![id.into(), tenant.into(), project_id.into(), content.into(), status.into()],
        )
        .await;
    }
    exec(
        &owner,
        "INSERT INTO note_images (id, tenant_id, memory_entry_id, image_key, content_type, byte_size, width, height, sort_order)
         VALUES ($1, $2, $3, 'tenants/x/memory/diagram.png', 'image/png', 10, 4, 3, 0)",
        vec![Uuid::now_v7().into(), tenant.into(), file_new.into()],
    )
    .await;

    let list = |query: Value| {
        let ada = ada.clone();
        let project_id = project["id"].clone();
        async move {
            ada.ok(
                "list_memory",
                json!({"project_id": project_id, "query": query}),
            )
            .await
        }
    };
    let all = list(json!({"status": null, "kind": null, "text": "", "page": 0})).await;
    assert_eq!(all["entries"].as_array().unwrap().len(), 4);
    assert_eq!(all["has_more"], false);
    let active_files =
        list(json!({"status": "active", "kind": "file", "text": "", "page": 0})).await;
    assert_eq!(titles(&active_files), ["README.md"]);
    assert_eq!(
        active_files["entries"][0]["images"][0]["width"], 4,
        "images come with their entries"
    );
    let superseded =
        list(json!({"status": "superseded", "kind": null, "text": "", "page": 0})).await;
    assert_eq!(
        superseded["entries"][0]["content"],
        "old readme about deployment"
    );

    // Full text: stemming ("retries" finds "Retry"), title matches rank first, web-search syntax.
    let found = list(json!({"status": null, "kind": null, "text": "retries", "page": 0})).await;
    assert_eq!(titles(&found), ["Retry policy"]);
    let found =
        list(json!({"status": "active", "kind": null, "text": "payments", "page": 0})).await;
    assert_eq!(titles(&found).len(), 3);
    let found =
        list(json!({"status": null, "kind": null, "text": "payments -widget", "page": 0})).await;
    assert!(!titles(&found).contains(&"Glossary".to_owned()), "{found}");
    let found =
        list(json!({"status": null, "kind": null, "text": "\"two replicas\"", "page": 0})).await;
    assert_eq!(titles(&found), ["README.md"]);
    let nothing =
        list(json!({"status": null, "kind": null, "text": "' OR 1=1 --", "page": 0})).await;
    assert!(
        nothing["entries"].as_array().unwrap().is_empty(),
        "search text is data, never SQL"
    );

    // Manual entries are edited; imported ones are not (the next sync would overwrite the edit).
    let edited = ada
        .ok("update_memory_entry", json!({"id": manual["id"], "form": {"title": "Retry policy", "content": "Five times."}}))
        .await;
    assert_eq!(edited["content"], "Five times.");
    let (status, error) = ada
        .call(
            "update_memory_entry",
            json!({"id": file_new.to_string(), "form": {"title": "x", "content": "y"}}),
        )
        .await;
    assert_eq!(status, 409, "{error}");
    let (status, error) = ada
        .call(
            "create_memory_entry",
            json!({"project_id": project["id"], "form": {"title": "", "content": "y"}}),
        )
        .await;
    assert_eq!((status, &error["field"]), (422, &json!("title")));

    // Supersede and restore; a path has one active version.
    let retired = ada
        .ok(
            "set_memory_status",
            json!({"id": manual["id"], "status": "superseded"}),
        )
        .await;
    assert_eq!(retired["status"], "superseded");
    let restored = ada
        .ok(
            "set_memory_status",
            json!({"id": manual["id"], "status": "active"}),
        )
        .await;
    assert_eq!(restored["status"], "active");
    // Restoring the earlier version of a file makes it the path's active entry, and supersedes the
    // version that was active, in one step: a path never has two.
    let restored = ada
        .ok(
            "set_memory_status",
            json!({"id": file_old.to_string(), "status": "active"}),
        )
        .await;
    assert_eq!(restored["status"], "active");
    let active_readmes = ada
        .ok(
            "list_memory",
            json!({"project_id": project["id"], "query": {"status": "active", "kind": "file", "text": "", "page": 0}}),
        )
        .await;
    let paths: Vec<&str> = active_readmes["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source_path"] == "README.md")
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec![file_old.to_string().as_str()]);
    assert_eq!(restored["content"], "old readme about deployment");
}

#[tokio::test]
async fn memory_pages_hold_fifty_entries() {
    let app = spawn_app().await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = ada.ok("create_project", project("Widgets")).await;
    for i in 0..51 {
        ada.ok(
            "create_memory_entry",
            json!({"project_id": project["id"], "form": {"title": format!("Entry {i}"), "content": "text"}}),
        )
        .await;
    }
    let first = ada
        .ok("list_memory", json!({"project_id": project["id"], "query": {"status": null, "kind": null, "text": "", "page": 0}}))
        .await;
    assert_eq!(
        (
            first["entries"].as_array().unwrap().len(),
            &first["has_more"]
        ),
        (50, &json!(true))
    );
    assert_eq!(
        first["entries"][0]["title"], "Entry 50",
        "most recently changed first"
    );
    let second = ada
        .ok("list_memory", json!({"project_id": project["id"], "query": {"status": null, "kind": null, "text": "", "page": 1}}))
        .await;
    assert_eq!(titles(&second), ["Entry 0"]);
    assert_eq!(second["has_more"], false);
}

/// File contents no entry points at (a deleted project's, a sync's that never finished) are
/// removed by the sweep once unused for a day, across teams; one an entry points at stays however
/// old, and one a sync just found stays.
#[tokio::test]
async fn unused_file_contents_are_swept_after_a_day() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    let alpha = seed_tenant(&owner, "alpha").await;
    let beta = seed_tenant(&owner, "beta").await;
    for (tenant, sha) in [
        (alpha.tenant, "orphan-old"),
        (beta.tenant, "orphan-old"),
        (alpha.tenant, "orphan-new"),
    ] {
        exec(
            &owner,
            "INSERT INTO memory_blobs (tenant_id, sha, content, byte_size) VALUES ($1, $2, 'gone', 4)",
            vec![tenant.into(), sha.into()],
        )
        .await;
    }
    // Everything unused for two days, but the new orphan (a sync found it a moment ago).
    exec(
        &owner,
        "UPDATE memory_blobs SET used_at = now() - interval '2 days' WHERE sha <> 'orphan-new'",
        vec![],
    )
    .await;
    let removed = domain::blobs::sweep(
        &domain::Db::new(db.app().await),
        domain::blobs::UNUSED_BLOB_GRACE,
    )
    .await
    .unwrap();
    assert_eq!(removed, 2, "both teams' old orphans");
    let left = owner
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT sha FROM memory_blobs ORDER BY sha",
            [],
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String>("", "sha").unwrap())
        .collect::<Vec<_>>();
    // The fixtures' blob (an entry of each team points at it) and the recently used orphan.
    assert_eq!(left, vec!["abc123", "abc123", "orphan-new"]);
}
