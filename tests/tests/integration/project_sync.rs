//! Project Sync against a local GitHub serving real git repositories: first sync, re-sync after
//! edits, adds, deletes and a rename, an unchanged branch (one 304), skips by reason, the scan
//! path, GitHub's faults (the previous state intact after a failure), one run per project, and
//! the cross-tenant matrix.

use crate::fixtures::{count, exec};
use crate::job_events::{open_stream, read_events};
use crate::rpc::signed_up;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use std::time::Duration;
use tests::github_double::{Fault, GitHubDouble, GitRepo};
use tests::served::ServedCairn;
use tests::{RpcClient, TestApp, TestDb, spawn_app_on};

/// An app whose GitHub is `github`, with small limits so tests stay quick.
async fn app_with(github: &GitHubDouble) -> TestApp {
    let api_url = github.api_url();
    spawn_app_on(TestDb::migrated().await, move |settings| {
        settings.github.api_url = api_url;
        settings.github.retry_pause_ms = 10;
        settings.github.max_rate_limit_wait_secs = 5;
        settings.github.max_file_bytes = 1000;
    })
    .await
    .unwrap()
}

pub(crate) async fn linked_project(client: &RpcClient, repo: &str, path: &str) -> String {
    let project = client
        .ok(
            "create_project",
            json!({"form": {"name": format!("{repo} {path}"), "description": "",
                   "github_repo": repo, "github_branch": "main", "github_path": path}}),
        )
        .await;
    project["id"].as_str().unwrap().to_owned()
}

/// Presses Sync and follows the sync's event stream to its end; the sync as it finished, and
/// every event seen.
pub(crate) async fn sync(
    app: &TestApp,
    client: &RpcClient,
    project: &str,
) -> (Value, Vec<crate::job_events::Sse>) {
    let started = client
        .ok("sync_project", json!({"project_id": project}))
        .await;
    let job = serde_json::from_value(started["job_id"].clone()).unwrap();
    let stream = open_stream(client, app, job, None).await;
    let (events, _) = read_events(stream, |seen| seen.iter().any(|e| e.event == "end")).await;
    let done = client.ok("get_sync", json!({"id": started["id"]})).await;
    (done, events)
}

async fn active_files(client: &RpcClient, project: &str) -> Vec<(String, String)> {
    let page = client
        .ok(
            "list_memory",
            json!({"project_id": project, "query": {"status": "active", "kind": "file", "text": "", "page": 0}}),
        )
        .await;
    let mut files: Vec<(String, String)> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["source_path"].as_str().unwrap().to_owned(),
                e["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    files.sort();
    files
}

fn blob_requests(github: &GitHubDouble) -> usize {
    github
        .requests()
        .iter()
        .filter(|r| r.contains("/git/blobs/"))
        .count()
}

fn widgets() -> GitRepo {
    let repo = GitRepo::new();
    repo.write(
        "README.md",
        "# Widgets\nHow to deploy the widget service.\n",
    );
    repo.write("src/main.rs", "fn main() { widgets::run(); }\n");
    repo.write("src/lib.rs", "pub fn run() {}\n");
    repo.write("docs/guide.md", "A guide.\n");
    repo.write("logo.png", [0x89, b'P', b'N', b'G', 0, 0, 0, 13]);
    repo.write("node_modules/left-pad/index.js", "module.exports = 1;\n");
    repo.write("Cargo.lock", "# generated\n");
    repo.write("big.txt", "x".repeat(5000));
    repo.commit("first");
    repo
}

#[tokio::test]
async fn a_sync_imports_the_branch_and_the_next_ones_fetch_only_what_changed() {
    let github = GitHubDouble::start().await;
    let repo = widgets();
    github.serve("acme/widgets", repo.path());
    let app = app_with(&github).await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = linked_project(&ada, "acme/widgets", "").await;

    // First sync: four text files in, four files skipped by reason.
    let (first, events) = sync(&app, &ada, &project).await;
    assert_eq!(first["status"], "completed", "{first}");
    assert_eq!(first["trigger"], "button");
    assert_eq!(first["requested_by"], "Ada");
    let counts = &first["counts"];
    assert_eq!(counts["scanned"], 8, "{counts}");
    assert_eq!(counts["added"], 4);
    assert_eq!(
        counts["skipped"],
        json!({"binary": 1, "ignored": 2, "too_large": 1})
    );
    assert_eq!(first["head_sha"], repo.run(&["rev-parse", "HEAD"]));
    // The skipped files are kept by name, each with why.
    let changes = ada.ok("sync_changes", json!({"id": first["id"]})).await;
    let skipped: Vec<(String, String)> = changes["skipped"]
        .as_array()
        .expect("a list of skipped files")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().into(),
                f["why"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    for (path, why) in [
        ("Cargo.lock", "a lock file"),
        ("logo.png", "binary (.png)"),
        (
            "node_modules/left-pad/index.js",
            "in a node_modules/ folder (dependencies or build output)",
        ),
    ] {
        assert!(
            skipped.contains(&(path.into(), why.into())),
            "{path}: {skipped:?}"
        );
    }
    assert!(
        skipped
            .iter()
            .any(|(path, why)| path == "big.txt" && why.starts_with("5 KiB, more than the ")),
        "{skipped:?}"
    );
    // Head, tree, and one blob per imported file.
    assert_eq!(first["github_requests"], 6, "{:?}", github.requests());
    assert_eq!(blob_requests(&github), 4);
    // The banner's phases, in order, on the stream.
    let phases: Vec<String> = events
        .iter()
        .filter(|e| e.event == "progress")
        .map(|e| e.data["progress"]["phase"].as_str().unwrap().to_owned())
        .collect();
    let mut seen = phases.clone();
    seen.dedup();
    assert_eq!(
        seen,
        vec!["prepare", "scan", "import", "finalize"],
        "{phases:?}"
    );
    assert_eq!(
        active_files(&ada, &project).await,
        vec![
            (
                "README.md".into(),
                "# Widgets\nHow to deploy the widget service.\n".into()
            ),
            ("docs/guide.md".into(), "A guide.\n".into()),
            ("src/lib.rs".into(), "pub fn run() {}\n".into()),
            (
                "src/main.rs".into(),
                "fn main() { widgets::run(); }\n".into()
            ),
        ]
    );
    let owner = app.db.owner().await;
    let languages = count(
        &owner,
        "SELECT count(*) FROM memory_entries WHERE language = 'rust' AND byte_size > 0 AND status = 'active'",
        vec![],
    )
    .await;
    assert_eq!(languages, 2);

    // Edit one file, add one, delete one, rename one without changing it.
    repo.write("src/lib.rs", "pub fn run() { println!(\"v2\"); }\n");
    repo.write("src/new.rs", "pub fn new() {}\n");
    repo.run(&["rm", "-q", "docs/guide.md"]);
    repo.run(&["mv", "src/main.rs", "src/app.rs"]);
    let second_commit = repo.commit("second");
    let main_entry = count(
        &owner,
        "SELECT count(*) FROM memory_entries WHERE source_path = 'src/main.rs'",
        vec![],
    )
    .await;
    assert_eq!(main_entry, 1);
    github.clear_requests();
    let (second, _) = sync(&app, &ada, &project).await;
    let counts = &second["counts"];
    assert_eq!(
        second["status"],
        "completed",
        "{second} {:?}",
        github.requests()
    );
    assert_eq!(
        (
            &counts["added"],
            &counts["changed"],
            &counts["moved"],
            &counts["removed"],
            &counts["unchanged"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(1), &json!(1)),
        "{counts}"
    );
    // Only the new and the changed file were fetched: the rename cost nothing.
    assert_eq!(blob_requests(&github), 2, "{:?}", github.requests());
    assert_eq!(second["github_requests"], 4);
    assert_eq!(
        active_files(&ada, &project).await,
        vec![
            (
                "README.md".into(),
                "# Widgets\nHow to deploy the widget service.\n".into()
            ),
            (
                "src/app.rs".into(),
                "fn main() { widgets::run(); }\n".into()
            ),
            (
                "src/lib.rs".into(),
                "pub fn run() { println!(\"v2\"); }\n".into()
            ),
            ("src/new.rs".into(), "pub fn new() {}\n".into()),
        ]
    );
    // The renamed entry is the same entry, re-pointed; the old versions are superseded by this sync.
    let repointed = count(
        &owner,
        "SELECT count(*) FROM memory_entries WHERE source_path = 'src/app.rs' AND status = 'active'
           AND created_at < (SELECT created_at FROM project_syncs WHERE id = $1)",
        vec![
            uuid::Uuid::parse_str(second["id"].as_str().unwrap())
                .unwrap()
                .into(),
        ],
    )
    .await;
    assert_eq!(repointed, 1);
    let superseded = count(
        &owner,
        "SELECT count(*) FROM memory_entries WHERE status = 'superseded' AND superseded_by_sync_id = $1",
        vec![uuid::Uuid::parse_str(second["id"].as_str().unwrap()).unwrap().into()],
    )
    .await;
    assert_eq!(superseded, 2, "the old src/lib.rs and docs/guide.md");
    // A file entry opens as highlighted code, made on the server (text escaped); not for others.
    let page = ada
        .ok(
            "list_memory",
            json!({"project_id": project, "query": {"status": "active", "kind": "file", "text": "", "page": 0}}),
        )
        .await;
    let lib = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source_path"] == "src/lib.rs")
        .unwrap()
        .clone();
    assert_eq!(lib["language"], "rust");
    // Its page on GitHub, at the commit this sync read.
    let lib_on_github = format!(
        "{}/acme/widgets/blob/{second_commit}/src/lib.rs",
        github.api_url().trim_end_matches('/')
    );
    let (entry, html) = {
        let opened = ada.ok("get_memory_entry", json!({"id": lib["id"]})).await;
        assert_eq!(opened[2], lib_on_github, "{opened}");
        (opened[0].clone(), opened[1].as_str().unwrap().to_owned())
    };
    assert_eq!(entry["content"], "pub fn run() { println!(\"v2\"); }\n");
    assert!(html.contains("<span class=\"hl-"), "{html}");
    let css = ada.ok("code_stylesheet", json!({})).await;
    assert!(css.as_str().unwrap().contains(".hl-"), "{css}");
    // The string's quotes arrive escaped, as text.
    assert!(html.contains("v2") && html.contains("&quot;"), "{html}");
    assert!(!html.contains("<script"), "{html}");
    let (status, _) = bob_call_memory(&app, &lib["id"]).await;
    assert_eq!(status, 404);
    // The sync's own list of what it changed, path by path.
    let mut changes = ada.ok("sync_changes", json!({"id": second["id"]})).await;
    assert_eq!(changes["skipped"].as_array().map(Vec::len), Some(4));
    changes.as_object_mut().unwrap().remove("skipped");
    assert_eq!(
        changes,
        json!({"added": ["src/new.rs"], "changed": ["src/lib.rs"], "moved": ["src/app.rs"],
               "removed": ["docs/guide.md"], "more": false})
    );
    // Each path's change, as a line diff between the entry before and the entry after.
    let file_change = |path: &str| {
        ada.call(
            "sync_file_change",
            json!({"id": second["id"], "path": path}),
        )
    };
    let lines = |change: &Value| -> Vec<String> {
        change["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                format!(
                    "{}{}",
                    l["sign"].as_str().unwrap(),
                    l["text"].as_str().unwrap()
                )
            })
            .collect()
    };
    let (status, changed) = file_change("src/lib.rs").await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        lines(&changed),
        [
            "@@@ -1,1 +1,1 @@",
            "-pub fn run() {}",
            "+pub fn run() { println!(\"v2\"); }"
        ]
    );
    assert!(changed["old_entry"].is_string() && changed["new_entry"].is_string());
    assert_ne!(changed["old_entry"], changed["new_entry"]);
    let (_, removed) = file_change("docs/guide.md").await;
    assert_eq!(lines(&removed), ["@@@ -1,1 +0,0 @@", "-A guide."]);
    assert!(removed["new_entry"].is_null(), "{removed}");
    let (_, moved) = file_change("src/app.rs").await;
    assert_eq!(lines(&moved), Vec::<String>::new(), "{moved}");
    assert!(moved["old_entry"].is_null() && moved["new_entry"].is_string());
    // A path the sync did not touch, and another team asking: not found.
    assert_eq!(file_change("README.md").await.0, 404);
    let (bob, _) = signed_up(&app, "bob-diff@example.com", "Bob's diffs").await;
    let (status, _) = bob
        .call(
            "sync_file_change",
            json!({"id": second["id"], "path": "src/lib.rs"}),
        )
        .await;
    assert_eq!(status, 404);

    // Nothing pushed: one conditional request, answered 304.
    github.clear_requests();
    let (third, _) = sync(&app, &ada, &project).await;
    assert_eq!(third["status"], "completed");
    assert_eq!(
        github.requests(),
        vec!["304 /repos/acme/widgets/branches/main".to_owned()]
    );
    assert_eq!(third["counts"]["unchanged"], 4);
    assert_eq!(third["head_sha"], second["head_sha"]);

    // History, newest first, chained.
    let history = ada.ok("list_syncs", json!({"project_id": project})).await;
    let ids: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![
            third["id"].as_str().unwrap(),
            second["id"].as_str().unwrap(),
            first["id"].as_str().unwrap()
        ]
    );
    let audited = count(
        &owner,
        "SELECT count(*) FROM audit_log WHERE action = 'sync.complete' AND detail->'by_job'->>'kind' = 'project.sync'",
        vec![],
    )
    .await;
    assert_eq!(audited, 3);

    // The Files view: the active files by path (the removed guide is not among them).
    let tree = ada
        .ok("memory_file_tree", json!({"project_id": project}))
        .await;
    let paths: Vec<&str> = tree["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["README.md", "src/app.rs", "src/lib.rs", "src/new.rs"]
    );
    assert_eq!(tree["more"], false);

    // Linked to another repository, the project's synced files still open where they came from.
    ada.ok(
        "update_project",
        json!({"id": project, "form": {"name": "Widgets", "description": "", "github_repo": "acme/elsewhere",
               "github_branch": "main", "github_path": ""}}),
    )
    .await;
    let opened = ada.ok("get_memory_entry", json!({"id": lib["id"]})).await;
    assert_eq!(opened[2], lib_on_github, "{opened}");
}

#[tokio::test]
async fn the_scan_path_limits_the_import_and_an_empty_repository_is_an_empty_sync() {
    let github = GitHubDouble::start().await;
    let repo = widgets();
    github.serve("acme/widgets", repo.path());
    let empty = GitRepo::new();
    github.serve("acme/empty", empty.path());
    let app = app_with(&github).await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;

    let docs = linked_project(&ada, "acme/widgets", "docs").await;
    let (synced, _) = sync(&app, &ada, &docs).await;
    assert_eq!(synced["status"], "completed", "{synced}");
    assert_eq!(synced["counts"]["scanned"], 1);
    assert_eq!(
        active_files(&ada, &docs).await,
        vec![("docs/guide.md".into(), "A guide.\n".into())]
    );

    let nothing = linked_project(&ada, "acme/empty", "").await;
    let (synced, _) = sync(&app, &ada, &nothing).await;
    assert_eq!(synced["status"], "completed", "{synced}");
    assert!(active_files(&ada, &nothing).await.is_empty());
}

#[tokio::test]
async fn github_faults_are_retried_waited_out_or_reported_and_a_failure_changes_nothing() {
    let github = GitHubDouble::start().await;
    let repo = widgets();
    github.serve("acme/widgets", repo.path());
    let app = app_with(&github).await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = linked_project(&ada, "acme/widgets", "").await;

    // A 5xx and a connection cut mid-answer on the head, a truncated tree: all survived.
    github.inject(Fault::ServerError(502));
    github.inject(Fault::DropConnection);
    github.truncate_trees(true);
    let (synced, _) = sync(&app, &ada, &project).await;
    github.truncate_trees(false);
    assert_eq!(synced["status"], "completed", "{synced}");
    assert_eq!(
        synced["counts"]["added"], 4,
        "the truncated tree was walked"
    );
    let before = active_files(&ada, &project).await;
    assert_eq!(before.len(), 4);

    // A secondary rate limit for a second: the sync says it waits, then goes on.
    repo.write("src/lib.rs", "pub fn run() { /* v2 */ }\n");
    repo.commit("second");
    github.inject(Fault::SecondaryLimit { retry_after: 1 });
    let (waited, events) = sync(&app, &ada, &project).await;
    assert_eq!(waited["status"], "completed", "{waited}");
    assert!(
        events
            .iter()
            .any(|e| e.event == "progress" && e.data["progress"]["waiting_until"].is_string()),
        "the banner said it was waiting for GitHub"
    );

    // With a token (the team's own allowance), a limit that resets later than the sync is willing
    // to wait: it fails saying until when, and the Memory Hub keeps what it had. (Without a token
    // the sync waits in the queue instead: `syncs_without_a_token_wait_in_the_queue_…`.)
    ada.ok(
        "set_github_token",
        json!({"project_id": project, "token": "github_pat_ada"}),
    )
    .await;
    let before = active_files(&ada, &project).await;
    repo.write("src/lib.rs", "pub fn run() { /* v3 */ }\n");
    repo.commit("third");
    github.inject(Fault::PrimaryLimit { reset_in: 3600 });
    let (limited, _) = sync(&app, &ada, &project).await;
    assert_eq!(limited["status"], "failed", "{limited}");
    assert!(
        limited["error"]
            .as_str()
            .unwrap()
            .contains("rate limit is reached until"),
        "{limited}"
    );
    assert_eq!(active_files(&ada, &project).await, before);

    // 401: the token is named as the problem; nothing changes; the next sync is not blocked.
    github.inject(Fault::Unauthorized);
    let (refused, _) = sync(&app, &ada, &project).await;
    assert_eq!(refused["status"], "failed", "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("token"),
        "{refused}"
    );
    assert_eq!(active_files(&ada, &project).await, before);
    let (recovered, _) = sync(&app, &ada, &project).await;
    assert_eq!(recovered["status"], "completed", "{recovered}");
    assert!(
        active_files(&ada, &project)
            .await
            .contains(&("src/lib.rs".into(), "pub fn run() { /* v3 */ }\n".into()))
    );

    // A repository that does not exist.
    let missing = linked_project(&ada, "acme/missing", "").await;
    let (missing, _) = sync(&app, &ada, &missing).await;
    assert_eq!(missing["status"], "failed");
    assert!(
        missing["error"].as_str().unwrap().contains("not found"),
        "{missing}"
    );
}

#[tokio::test]
async fn two_presses_at_once_start_one_sync_and_other_teams_see_none_of_it() {
    let github = GitHubDouble::start().await;
    let repo = widgets();
    github.serve("acme/widgets", repo.path());
    let app = app_with(&github).await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let (bob, _) = signed_up(&app, "bob@example.com", "Bob's").await;
    let project = linked_project(&ada, "acme/widgets", "").await;

    let press = || ada.call("sync_project", json!({"project_id": project}));
    let (a, b) = tokio::join!(press(), press());
    assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
    assert_eq!(a.1["id"], b.1["id"], "one sync");
    let owner = app.db.owner().await;
    let jobs = count(
        &owner,
        "SELECT count(*) FROM jobs WHERE kind = 'project.sync'",
        vec![],
    )
    .await;
    assert_eq!(jobs, 1);

    // Bob's team cannot see, start, follow or cancel any of it, as a browser or as a script.
    let bob_script = bob.token_client("write").await;
    let sync_id = a.1["id"].clone();
    for (name, args) in [
        ("sync_project", json!({"project_id": project})),
        ("list_syncs", json!({"project_id": project})),
        ("get_sync", json!({"id": sync_id})),
        ("cancel_sync", json!({"id": sync_id})),
        ("start_sync", json!({"project_id": project})),
        ("sync_changes", json!({"id": sync_id})),
        (
            "sync_file_change",
            json!({"id": sync_id, "path": "README.md"}),
        ),
        ("source_secrets", json!({"project_id": project})),
        ("new_webhook_secret", json!({"project_id": project})),
        ("clear_webhook_secret", json!({"project_id": project})),
        ("clear_github_token", json!({"project_id": project})),
    ] {
        let (status, body) = bob.call(name, args.clone()).await;
        assert_eq!(status, 404, "{name}: {body}");
        let (status, body) = bob_script.call(name, args).await;
        assert_eq!(status, 404, "{name} with a token: {body}");
    }
    let job = serde_json::from_value(a.1["job_id"].clone()).unwrap();
    assert_eq!(open_stream(&bob, &app, job, None).await.status(), 404);
    assert_eq!(
        open_stream(&bob_script, &app, job, None).await.status(),
        404
    );

    // A project without a repository cannot be synced.
    let plain = ada
        .ok(
            "create_project",
            json!({"form": {"name": "Plain", "description": "", "github_repo": "", "github_branch": "", "github_path": ""}}),
        )
        .await;
    let (status, body) = ada
        .call("sync_project", json!({"project_id": plain["id"]}))
        .await;
    assert_eq!(status, 422, "{body}");

    // Let the sync finish before the app stops.
    let stream = open_stream(&ada, &app, job, None).await;
    read_events(stream, |seen| seen.iter().any(|e| e.event == "end")).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
}

#[tokio::test]
async fn a_private_repository_needs_the_token_which_is_stored_sealed_and_never_shown() {
    let github = GitHubDouble::start().await;
    let repo = widgets();
    github.serve("acme/widgets", repo.path());
    github.require_token("github_pat_right");
    let app = app_with(&github).await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let (bob, _) = signed_up(&app, "bob@example.com", "Bob's").await;
    let project = linked_project(&ada, "acme/widgets", "").await;

    let (refused, _) = sync(&app, &ada, &project).await;
    assert_eq!(refused["status"], "failed");
    assert!(
        refused["error"].as_str().unwrap().contains("token"),
        "{refused}"
    );

    // A malformed token is refused naming the field; another team's member cannot set one.
    let (status, body) = ada
        .call(
            "set_github_token",
            json!({"project_id": project, "token": "two words"}),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("github_token")),
        "{body}"
    );
    let (status, _) = bob
        .call(
            "set_github_token",
            json!({"project_id": project, "token": "github_pat_bob"}),
        )
        .await;
    assert_eq!(status, 404);
    ada.ok(
        "set_github_token",
        json!({"project_id": project, "token": " github_pat_right "}),
    )
    .await;
    let shown = ada
        .ok("source_secrets", json!({"project_id": project}))
        .await;
    assert!(shown["github_token_set_at"].is_string(), "{shown}");
    assert!(!shown.to_string().contains("github_pat_right"), "{shown}");
    // At rest it is sealed: the token's bytes are nowhere in the row.
    let owner = app.db.owner().await;
    let plain = count(
        &owner,
        "SELECT count(*) FROM project_secrets WHERE position(convert_to('github_pat_right', 'UTF8') in sealed) > 0",
        vec![],
    )
    .await;
    assert_eq!(plain, 0);
    let sealed = count(
        &owner,
        "SELECT count(*) FROM project_secrets WHERE kind = 'github_token' AND key_id = '1'",
        vec![],
    )
    .await;
    assert_eq!(sealed, 1);

    let (synced, _) = sync(&app, &ada, &project).await;
    assert_eq!(synced["status"], "completed", "{synced}");
    assert_eq!(active_files(&ada, &project).await.len(), 4);

    // Removed: the next sync is refused again.
    ada.ok("clear_github_token", json!({"project_id": project}))
        .await;
    repo.write("src/lib.rs", "pub fn run() { /* v2 */ }\n");
    repo.commit("second");
    let (refused, _) = sync(&app, &ada, &project).await;
    assert_eq!(refused["status"], "failed");
}

fn signed(secret: &str, body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

async fn deliver(app: &TestApp, event: &str, body: &[u8], signature: Option<&str>) -> (u16, Value) {
    let mut request = app
        .client
        .post(app.url("/api/v1/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", uuid::Uuid::new_v4().to_string())
        // GitHub is another site.
        .header("origin", "https://github.com")
        .body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header("x-hub-signature-256", signature);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A push's payload; each one new (as each push names the commit it brought).
fn push(branch: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "ref": format!("refs/heads/{branch}"),
        "before": "0000000000000000000000000000000000000000",
        "after": format!("{}{}", uuid::Uuid::new_v4().simple(), "00000000"),
        "repository": {"id": 1, "name": "widgets", "full_name": "acme/widgets",
                       "owner": {"name": "acme", "login": "acme"}},
        "pusher": {"name": "ada"},
    }))
    .unwrap()
}

#[tokio::test]
async fn signed_pushes_to_the_branch_start_one_sync_and_anything_unsigned_starts_nothing() {
    let github = GitHubDouble::start().await;
    let repo = widgets();
    github.serve("acme/widgets", repo.path());
    let app = app_with(&github).await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = linked_project(&ada, "acme/widgets", "").await;
    let secret = ada
        .ok("new_webhook_secret", json!({"project_id": project}))
        .await;
    let secret = secret.as_str().unwrap().to_owned();
    let shown = ada
        .ok("source_secrets", json!({"project_id": project}))
        .await;
    assert!(
        shown["webhook_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/api/v1/webhooks/github/{project}"))
    );
    assert!(!shown.to_string().contains(&secret));
    let body = push("main");

    // Unsigned, wrongly signed, signed for another body, signed with another secret: 401, nothing.
    assert_eq!(deliver(&app, "push", &body, None).await.0, 401);
    assert_eq!(deliver(&app, "push", &body, Some("sha256=00")).await.0, 401);
    assert_eq!(
        deliver(&app, "push", &body, Some(&signed(&secret, b"{}")))
            .await
            .0,
        401
    );
    assert_eq!(
        deliver(&app, "push", &body, Some(&signed("not the secret", &body)))
            .await
            .0,
        401
    );
    assert_eq!(
        deliver(
            &app,
            "push",
            b"not json",
            Some(&signed(&secret, b"not json"))
        )
        .await
        .0,
        422
    );
    // Verified but not for the branch, or not a push: ignored.
    let other = push("feature");
    let (status, answer) = deliver(&app, "push", &other, Some(&signed(&secret, &other))).await;
    assert_eq!((status, &answer["ignored"]), (200, &json!(1)), "{answer}");
    let (status, _) = deliver(&app, "ping", &body, Some(&signed(&secret, &body))).await;
    assert_eq!(status, 200);
    let owner = app.db.owner().await;
    let syncs_so_far = count(&owner, "SELECT count(*) FROM project_syncs", vec![]).await;
    assert_eq!(syncs_so_far, 0);

    // A burst of five pushes: one sync.
    repo.write("src/lib.rs", "pub fn run() { /* pushed */ }\n");
    repo.commit("pushed");
    let mut ids = Vec::new();
    for _ in 0..5 {
        let body = push("main");
        let (status, answer) = deliver(&app, "push", &body, Some(&signed(&secret, &body))).await;
        assert_eq!(status, 202, "{answer}");
        ids.push(answer["syncs"][0].clone());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let sync_id = ids.remove(0);
    let started = ada.ok("get_sync", json!({"id": sync_id})).await;
    assert_eq!(started["trigger"], "webhook");
    assert!(started["requested_by"].is_null());
    let job = serde_json::from_value(started["job_id"].clone()).unwrap();
    let stream = open_stream(&ada, &app, job, None).await;
    read_events(stream, |seen| seen.iter().any(|e| e.event == "end")).await;
    let done = ada.ok("get_sync", json!({"id": sync_id})).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(active_files(&ada, &project).await.contains(&(
        "src/lib.rs".into(),
        "pub fn run() { /* pushed */ }\n".into()
    )));
    let syncs = count(&owner, "SELECT count(*) FROM project_syncs", vec![]).await;
    assert_eq!(syncs, 1);

    // A push while a sync runs (it may have read the branch before the push): one more sync
    // follows, and the Memory Hub ends with the last push.
    github.slow_blobs(Duration::from_millis(400));
    repo.write("src/lib.rs", "pub fn run() { /* first */ }\n");
    repo.commit("first of two");
    let body = push("main");
    let (_, answer) = deliver(&app, "push", &body, Some(&signed(&secret, &body))).await;
    let running_id = answer["syncs"][0].clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let sync = ada.ok("get_sync", json!({"id": running_id})).await;
        if sync["phase"] == "import" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never importing: {sync}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    repo.write("src/lib.rs", "pub fn run() { /* second */ }\n");
    repo.commit("second of two");
    let body = push("main");
    let (_, answer) = deliver(&app, "push", &body, Some(&signed(&secret, &body))).await;
    assert_eq!(answer["syncs"][0], running_id, "joined the running sync");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let files = active_files(&ada, &project).await;
        if files.contains(&(
            "src/lib.rs".into(),
            "pub fn run() { /* second */ }\n".into(),
        )) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the second push never arrived: {files:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let history = ada.ok("list_syncs", json!({"project_id": project})).await;
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 3, "{history:?}");
    assert!(history.iter().all(|s| s["trigger"] == "webhook"));
    // Removing the secret: the same signed push starts nothing any more.
    ada.ok("clear_webhook_secret", json!({"project_id": project}))
        .await;
    assert_eq!(
        deliver(&app, "push", &body, Some(&signed(&secret, &body)))
            .await
            .0,
        401
    );
    let shown = ada
        .ok("source_secrets", json!({"project_id": project}))
        .await;
    assert!(shown["webhook_secret_set_at"].is_null(), "{shown}");
    let audited = count(
        &owner,
        "SELECT count(*) FROM audit_log WHERE action = 'sync.start' AND detail->>'by_system' = 'github.push'",
        vec![],
    )
    .await;
    // The burst's sync and the one the later push joined; the follow-up was started by that sync.
    assert_eq!(audited, 2);
}

/// Runs `cairn sync` against the test database; its exit code, stdout and stderr.
async fn cairn_sync(app: &TestApp, github: &GitHubDouble, args: &[&str]) -> (i32, String, String) {
    let output = tokio::process::Command::new(tests::cairn_bin())
        .arg("sync")
        .args(args)
        .env("DATABASE_URL", app.db.owner_url())
        .env("CAIRN_DATABASE__APP_URL", app.db.app_url())
        .env("CAIRN_DATA_DIR", &app.data_dir)
        .env("CAIRN_GITHUB__API_URL", github.api_url())
        .env("CAIRN_GITHUB__RETRY_PAUSE_MS", "10")
        // As the app's (`app_with`): whichever of the two runs the sync, it skips alike.
        .env("CAIRN_GITHUB__MAX_FILE_BYTES", "1000")
        .env("CAIRN_LOG__FILTER", "warn")
        .output()
        .await
        .expect("running cairn sync");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_command_line_syncs_a_project_and_says_how_it_went() {
    let github = GitHubDouble::start().await;
    let repo = widgets();
    repo.run(&["branch", "release"]);
    repo.write("src/lib.rs", "pub fn run() { /* main moved on */ }\n");
    repo.commit("main moves on");
    github.serve("acme/widgets", repo.path());
    let app = app_with(&github).await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = linked_project(&ada, "acme/widgets", "").await;

    // The app is up too: whichever instance claims the job runs it.
    let (code, out, err) = cairn_sync(&app, &github, &[&project]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("completed: +4 added"), "{out}");
    let history = ada.ok("list_syncs", json!({"project_id": project})).await;
    assert_eq!(history[0]["trigger"], "cli");
    assert_eq!(history[0]["branch"], "main");
    assert!(active_files(&ada, &project).await.contains(&(
        "src/lib.rs".into(),
        "pub fn run() { /* main moved on */ }\n".into()
    )));

    // Another branch, once.
    let (code, out, err) = cairn_sync(&app, &github, &[&project, "--branch", "release"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        active_files(&ada, &project)
            .await
            .contains(&("src/lib.rs".into(), "pub fn run() {}\n".into()))
    );

    // A project that does not exist, and one whose repository does not: clear reasons, non-zero.
    let (code, _, err) = cairn_sync(&app, &github, &[&uuid::Uuid::now_v7().to_string()]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no project"), "{err}");
    let missing = linked_project(&ada, "acme/missing", "").await;
    let (code, _, err) = cairn_sync(&app, &github, &[&missing]).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("failed") && err.contains("not found"), "{err}");
    assert!(err.contains("Changed nothing"), "{err}");
}

#[tokio::test]
async fn many_files_come_in_one_archive_and_a_cut_archive_falls_back_to_blobs() {
    let github = GitHubDouble::start().await;
    let repo = widgets();
    github.serve("acme/widgets", repo.path());
    let api_url = github.api_url();
    let app = spawn_app_on(TestDb::migrated().await, move |settings| {
        settings.github.api_url = api_url;
        settings.github.retry_pause_ms = 10;
        settings.github.max_file_bytes = 1000;
        // Every import through the archive.
        settings.github.archive_threshold = 1;
    })
    .await
    .unwrap();
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = linked_project(&ada, "acme/widgets", "").await;

    let (first, _) = sync(&app, &ada, &project).await;
    assert_eq!(first["status"], "completed", "{first}");
    let requests = github.requests();
    assert_eq!(requests.len(), 4, "{requests:?}");
    assert!(
        requests[2].starts_with("302 /repos/acme/widgets/tarball/"),
        "{requests:?}"
    );
    assert!(
        requests[3].starts_with("200 /_codeload/acme/widgets/"),
        "{requests:?}"
    );
    assert_eq!(blob_requests(&github), 0);
    assert_eq!(first["counts"]["added"], 4);
    assert_eq!(
        active_files(&ada, &project).await,
        vec![
            (
                "README.md".into(),
                "# Widgets\nHow to deploy the widget service.\n".into()
            ),
            ("docs/guide.md".into(), "A guide.\n".into()),
            ("src/lib.rs".into(), "pub fn run() {}\n".into()),
            (
                "src/main.rs".into(),
                "fn main() { widgets::run(); }\n".into()
            ),
        ]
    );

    // The archive breaks off: the files it did not deliver come blob by blob, and the sync is whole.
    repo.write("src/lib.rs", "pub fn run() { /* v2 */ }\n");
    repo.write("src/new.rs", "pub fn new() {}\n");
    repo.commit("second");
    github.clear_requests();
    github.cut_archives(true);
    let (second, _) = sync(&app, &ada, &project).await;
    github.cut_archives(false);
    assert_eq!(
        second["status"],
        "completed",
        "{second} {:?}",
        github.requests()
    );
    assert_eq!(blob_requests(&github), 2, "{:?}", github.requests());
    let files = active_files(&ada, &project).await;
    assert!(files.contains(&("src/lib.rs".into(), "pub fn run() { /* v2 */ }\n".into())));
    assert!(files.contains(&("src/new.rs".into(), "pub fn new() {}\n".into())));
}

/// `cairn worker` on the test database and the local GitHub, taking over silent jobs after 2 s.
fn worker_process(app: &TestApp, github: &GitHubDouble) -> tokio::process::Child {
    tests::worker_command(app)
        .env("CAIRN_GITHUB__API_URL", github.api_url())
        .env("CAIRN_GITHUB__FETCH_CONCURRENCY", "1")
        .env("CAIRN_GITHUB__MAX_FILE_BYTES", "1000")
        .spawn()
        .expect("starting cairn worker")
}

#[tokio::test]
async fn a_worker_killed_mid_import_changes_nothing_and_the_sync_is_taken_over_and_completed() {
    let github = GitHubDouble::start().await;
    let repo = widgets();
    github.serve("acme/widgets", repo.path());
    github.slow_blobs(Duration::from_millis(400));
    let api_url = github.api_url();
    // A web-only instance: syncs run in `cairn worker` processes.
    let app = spawn_app_on(TestDb::migrated().await, move |settings| {
        settings.github.api_url = api_url;
        settings.jobs.enabled = false;
        settings.jobs.stale_after_secs = Some(2);
    })
    .await
    .unwrap();
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = linked_project(&ada, "acme/widgets", "").await;

    let mut first_worker = worker_process(&app, &github);
    let started = ada.ok("sync_project", json!({"project_id": project})).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let sync = ada.ok("get_sync", json!({"id": started["id"]})).await;
        if sync["phase"] == "import" && blob_requests(&github) >= 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never importing: {sync}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // SIGKILL, mid-import: no cleanup runs.
    first_worker.start_kill().unwrap();
    first_worker.wait().await.unwrap();
    assert!(
        active_files(&ada, &project).await.is_empty(),
        "half a sync became visible"
    );
    let orphaned = ada.ok("get_sync", json!({"id": started["id"]})).await;
    assert_eq!(orphaned["status"], "running");

    // Another worker takes it over once the first one's heartbeat is 2 s old, and runs it whole.
    github.slow_blobs(Duration::ZERO);
    let mut second_worker = worker_process(&app, &github);
    let job = serde_json::from_value(started["job_id"].clone()).unwrap();
    let stream = open_stream(&ada, &app, job, None).await;
    let (events, _) = read_events(stream, |seen| seen.iter().any(|e| e.event == "end")).await;
    second_worker.start_kill().unwrap();
    let _ = second_worker.wait().await;
    let done = ada.ok("get_sync", json!({"id": started["id"]})).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["counts"]["added"], 4);
    assert!(done["error"].is_null(), "{done}");
    let statuses: Vec<&str> = events
        .iter()
        .filter(|e| e.event != "progress")
        .map(|e| e.data["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        vec!["queued", "running", "queued", "running", "completed"]
    );
    assert_eq!(active_files(&ada, &project).await.len(), 4);
    // One sync in the history: the run that died was taken over, not left to block the next one.
    let history = ada.ok("list_syncs", json!({"project_id": project})).await;
    assert_eq!(history.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_branch_picker_lists_every_branch_across_pages() {
    let github = GitHubDouble::start().await;
    let repo = widgets();
    for n in 0..150 {
        repo.run(&["branch", &format!("feature-{n:03}")]);
    }
    github.serve("acme/widgets", repo.path());
    let app = app_with(&github).await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let (bob, _) = signed_up(&app, "bob@example.com", "Bob's").await;

    let choices = ada
        .ok(
            "list_branches",
            json!({"github_repo": "https://github.com/acme/widgets", "project_id": null}),
        )
        .await;
    assert_eq!(choices["default_branch"], "main");
    assert_eq!(choices["branches"].as_array().unwrap().len(), 151);
    assert_eq!(choices["more"], false);
    assert!(
        github
            .requests()
            .iter()
            .any(|r| r.contains("/branches?per_page=100&page=2")),
        "{:?}",
        github.requests()
    );

    // A repository GitHub does not know, and text that is no repository: the field says so.
    for repo in ["acme/missing", "not a repository"] {
        let (status, body) = ada
            .call(
                "list_branches",
                json!({"github_repo": repo, "project_id": null}),
            )
            .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (422, Some("github_repo")),
            "{body}"
        );
    }
    // Another team's project (and its token) is not reachable through the picker.
    let project = linked_project(&ada, "acme/widgets", "").await;
    let (status, _) = bob
        .call(
            "list_branches",
            json!({"github_repo": "acme/widgets", "project_id": project}),
        )
        .await;
    assert_eq!(status, 404);
}

/// Another team's member asks for an entry.
async fn bob_call_memory(app: &TestApp, id: &Value) -> (u16, Value) {
    let (bob, _) = signed_up(app, "bob@example.com", "Bob's").await;
    bob.call("get_memory_entry", json!({"id": id})).await
}

#[tokio::test]
async fn the_memory_list_shows_a_file_as_a_row_an_excerpt_when_searched_and_its_page_the_whole_file()
 {
    let github = GitHubDouble::start().await;
    let repo = GitRepo::new();
    let long = format!("{}THE-END-MARKER\n", "line of text\n".repeat(60));
    repo.write("notes/long.md", &long);
    repo.commit("one long file");
    github.serve("acme/long", repo.path());
    let app = app_with(&github).await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = linked_project(&ada, "acme/long", "").await;
    let (synced, _) = sync(&app, &ada, &project).await;
    assert_eq!(synced["status"], "completed", "{synced}");

    let list = ada
        .get(&format!("/projects/{project}/memory"))
        .await
        .text()
        .await
        .unwrap();
    // A row: its path, size and lines, none of its text.
    assert!(list.contains("notes/long.md"), "{list}");
    assert!(list.contains("795 B · 61 lines"), "{list}");
    assert!(!list.contains("line of text"), "no text in a row");
    // Searched for, it shows an excerpt: why it matched, never the whole file.
    let searched = ada
        .get(&format!("/projects/{project}/memory?q=line"))
        .await
        .text()
        .await
        .unwrap();
    assert!(searched.contains("line of text"), "the excerpt is shown");
    assert!(
        !searched.contains("THE-END-MARKER"),
        "the whole file is not in the list page"
    );
    let entries = ada
        .ok(
            "list_memory",
            json!({"project_id": project, "query": {"status": "active", "kind": "file", "text": "", "page": 0}}),
        )
        .await;
    let id = entries["entries"][0]["id"].as_str().unwrap().to_owned();
    let page = ada
        .get(&format!("/projects/{project}/memory/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("THE-END-MARKER"),
        "the file's page has all of it"
    );
}

#[tokio::test]
async fn a_projects_own_patterns_leave_files_out_and_count_them_as_ignored() {
    let github = GitHubDouble::start().await;
    let repo = widgets();
    github.serve("acme/widgets", repo.path());
    let app = app_with(&github).await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = ada
        .ok(
            "create_project",
            json!({"form": {"name": "Widgets", "description": "", "github_repo": "acme/widgets",
                   "github_branch": "main", "github_path": "", "sync_ignore": "docs/\n*.rs\n"}}),
        )
        .await;
    assert_eq!(project["sync_ignore"], json!(["docs/", "*.rs"]));
    let id = project["id"].as_str().unwrap().to_owned();
    let (synced, _) = sync(&app, &ada, &id).await;
    assert_eq!(synced["status"], "completed", "{synced}");
    // docs/guide.md, src/main.rs and src/lib.rs join the two default-ignored files.
    assert_eq!(
        synced["counts"]["skipped"],
        json!({"binary": 1, "ignored": 5, "too_large": 1})
    );
    assert_eq!(
        active_files(&ada, &id).await,
        vec![(
            "README.md".into(),
            "# Widgets\nHow to deploy the widget service.\n".into()
        )]
    );
    // Too many lines is refused, naming the field.
    let many: String = (0..101).map(|n| format!("p{n}/\n")).collect();
    let (status, body) = ada
        .call(
            "update_project",
            json!({"id": id, "form": {"name": "Widgets", "description": "", "github_repo": "acme/widgets",
                   "github_branch": "main", "github_path": "", "sync_ignore": many}}),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("sync_ignore")),
        "{body}"
    );
}

/// Moves every scheduled project's last check back past its interval, as if the minutes passed.
async fn schedule_turn_comes(app: &TestApp) {
    use sea_orm::ConnectionTrait;
    let owner = app.db.owner().await;
    owner
        .execute_unprepared(
            "UPDATE projects SET sync_checked_at = now() - interval '1 hour'
              WHERE sync_every_minutes IS NOT NULL",
        )
        .await
        .unwrap();
    owner.close().await.unwrap();
}

/// Waits until the project's history holds `n` syncs and the newest is over; the history.
async fn history_of(client: &RpcClient, project: &str, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let history = client
            .ok("list_syncs", json!({"project_id": project}))
            .await;
        let history = history.as_array().unwrap().clone();
        let over = history
            .first()
            .is_some_and(|s| !matches!(s["status"].as_str(), Some("queued" | "running")));
        if history.len() >= n && over {
            return history;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waiting for {n} syncs: {history:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_schedule_syncs_when_the_branch_moved_and_an_unchanged_branch_costs_one_304_and_no_sync()
{
    let github = GitHubDouble::start().await;
    let repo = widgets();
    github.serve("acme/widgets", repo.path());
    let api_url = github.api_url();
    let app = spawn_app_on(TestDb::migrated().await, move |settings| {
        settings.github.api_url = api_url;
        settings.github.retry_pause_ms = 10;
        settings.github.max_file_bytes = 1000;
        settings.jobs.schedule_check_secs = 1;
    })
    .await
    .unwrap();
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = ada
        .ok(
            "create_project",
            json!({"form": {"name": "Widgets", "description": "", "github_repo": "acme/widgets",
                   "github_branch": "main", "github_path": "", "sync_every_minutes": "60"}}),
        )
        .await;
    assert_eq!(project["sync_every_minutes"], 60);
    let id = project["id"].as_str().unwrap().to_owned();

    // A new schedule checks at once; never synced, so the branch is new to it: a sync starts.
    let history = history_of(&ada, &id, 1).await;
    assert_eq!(history.len(), 1);
    assert_eq!(
        (&history[0]["trigger"], &history[0]["status"]),
        (&json!("schedule"), &json!("completed")),
        "{history:?}"
    );
    assert_eq!(history[0]["requested_by"], Value::Null);
    assert_eq!(active_files(&ada, &id).await.len(), 4);
    let checked = ada.ok("get_project", json!({"id": id})).await;
    assert_eq!(checked["sync_every_minutes"], 60);
    assert!(
        checked["sync_checked_at"]
            .as_str()
            .is_some_and(|at| at.ends_with("+00:00")),
        "{checked}"
    );

    // Within the interval nothing is asked.
    github.clear_requests();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(github.requests(), Vec::<String>::new());

    // Its turn, nothing pushed: one conditional request answered 304, and no sync.
    schedule_turn_comes(&app).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while github.requests().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no check was made");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        github.requests(),
        vec!["304 /repos/acme/widgets/branches/main".to_owned()]
    );
    let unchanged = ada.ok("list_syncs", json!({"project_id": id})).await;
    assert_eq!(unchanged.as_array().unwrap().len(), 1, "{unchanged}");

    // A push later, its next turn syncs just that file.
    repo.write("src/lib.rs", "pub fn run() { println!(\"v2\"); }\n");
    repo.commit("v2");
    schedule_turn_comes(&app).await;
    let history = history_of(&ada, &id, 2).await;
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(
        (&history[0]["trigger"], &history[0]["status"]),
        (&json!("schedule"), &json!("completed")),
        "{history:?}"
    );
    let changes = ada
        .ok("sync_changes", json!({"id": history[0]["id"]}))
        .await;
    assert_eq!(changes["changed"], json!(["src/lib.rs"]), "{changes}");
    assert_eq!(changes["added"], json!([]), "{changes}");

    // Taking the schedule off stops the checks.
    ada.ok(
        "update_project",
        json!({"id": id, "form": {"name": "Widgets", "description": "", "github_repo": "acme/widgets",
               "github_branch": "main", "github_path": "", "sync_every_minutes": ""}}),
    )
    .await;
    github.clear_requests();
    schedule_turn_comes(&app).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(github.requests(), Vec::<String>::new());

    // Out of range, or without a repository, is refused naming the field.
    for (repo, minutes) in [("acme/widgets", "0"), ("", "15")] {
        let (status, body) = ada
            .call(
                "update_project",
                json!({"id": id, "form": {"name": "Widgets", "description": "", "github_repo": repo,
                       "github_branch": "", "github_path": "", "sync_every_minutes": minutes}}),
            )
            .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (422, Some("sync_every_minutes")),
            "{body}"
        );
    }
}

/// A repository as real ones are: files whose language Cairn does not know (LICENSE, .gitignore,
/// a script without an extension) beside ones it does.
fn ruby_gem() -> GitRepo {
    let repo = GitRepo::new();
    repo.write("a.rb", "puts 'a'\n");
    repo.write("LICENSE", "MIT License\n");
    repo.write(".gitignore", "/pkg\n");
    repo.write("bin/console", "#!/usr/bin/env ruby\nrequire 'a'\n");
    repo.commit("first");
    repo
}

#[tokio::test]
async fn files_of_no_known_language_sync_from_the_command_line_and_the_button() {
    let github = GitHubDouble::start().await;
    let repo = ruby_gem();
    github.serve("acme/gem", repo.path());
    let app = app_with(&github).await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = linked_project(&ada, "acme/gem", "").await;

    let started = std::time::Instant::now();
    let (code, out, err) = cairn_sync(&app, &github, &[&project]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("completed: +4 added"), "{out}");
    assert!(err.contains("attempt 1 of 3 started"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30));
    let files = active_files(&ada, &project).await;
    assert_eq!(files.len(), 4, "{files:?}");
    let languages = count(
        &app.db.owner().await,
        "SELECT count(*) FROM memory_entries WHERE status = 'active' AND language IS NULL",
        vec![],
    )
    .await;
    assert_eq!(
        languages, 3,
        "LICENSE, .gitignore and bin/console have none"
    );
    // The command line acts for nobody.
    assert!(
        created_by(&app, &project)
            .await
            .iter()
            .all(|(_, by)| by.is_none())
    );

    // The button, with one more unknown file and a change: the same.
    repo.write("CHANGELOG", "0.1.0\n");
    repo.write("a.rb", "puts 'b'\n");
    repo.commit("second");
    let (second, _) = sync(&app, &ada, &project).await;
    assert_eq!(second["status"], "completed", "{second}");
    assert_eq!(
        (
            second["counts"]["added"].as_u64(),
            second["counts"]["changed"].as_u64()
        ),
        (Some(1), Some(1))
    );
}

#[tokio::test]
async fn a_sync_can_be_cancelled_in_any_state_and_a_finished_one_is_left_as_it_is() {
    let github = GitHubDouble::start().await;
    let repo = widgets();
    github.serve("acme/widgets", repo.path());
    let api_url = github.api_url();
    // No worker here: what runs, or seems to, is arranged below.
    let app = spawn_app_on(TestDb::migrated().await, move |settings| {
        settings.github.api_url = api_url;
        settings.jobs.enabled = false;
    })
    .await
    .unwrap();
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = linked_project(&ada, "acme/widgets", "").await;
    let owner = app.db.owner().await;
    let sync_status = |id: Value| {
        let ada = ada.clone();
        async move { ada.ok("get_sync", json!({"id": id})).await["status"].clone() }
    };

    // Queued: cancelled at once.
    let queued = ada.ok("sync_project", json!({"project_id": project})).await;
    ada.ok("cancel_sync", json!({"id": queued["id"]})).await;
    assert_eq!(sync_status(queued["id"].clone()).await, "cancelled");

    // Running on a worker that died two minutes ago: cancelled at once, not left for the reaper.
    let dead = ada.ok("sync_project", json!({"project_id": project})).await;
    exec(
        &owner,
        "UPDATE jobs SET status = 'running', attempts = 1, locked_by = 'gone',
                heartbeat_at = now() - interval '2 minutes' WHERE id = $1",
        vec![
            uuid::Uuid::parse_str(dead["job_id"].as_str().unwrap())
                .unwrap()
                .into(),
        ],
    )
    .await;
    exec(
        &owner,
        "UPDATE project_syncs SET status = 'running', phase = 'import' WHERE id = $1",
        vec![
            uuid::Uuid::parse_str(dead["id"].as_str().unwrap())
                .unwrap()
                .into(),
        ],
    )
    .await;
    ada.ok("cancel_sync", json!({"id": dead["id"]})).await;
    assert_eq!(sync_status(dead["id"].clone()).await, "cancelled");

    // Open, but its job is over (or gone): nothing would ever close it; cancel does.
    let orphan = ada.ok("sync_project", json!({"project_id": project})).await;
    exec(
        &owner,
        "DELETE FROM jobs WHERE id = $1",
        vec![
            uuid::Uuid::parse_str(orphan["job_id"].as_str().unwrap())
                .unwrap()
                .into(),
        ],
    )
    .await;
    exec(
        &owner,
        "UPDATE project_syncs SET status = 'running' WHERE id = $1",
        vec![
            uuid::Uuid::parse_str(orphan["id"].as_str().unwrap())
                .unwrap()
                .into(),
        ],
    )
    .await;
    ada.ok("cancel_sync", json!({"id": orphan["id"]})).await;
    assert_eq!(sync_status(orphan["id"].clone()).await, "cancelled");
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM audit_log WHERE action = 'sync.cancel' AND target_id = $1",
            vec![
                uuid::Uuid::parse_str(orphan["id"].as_str().unwrap())
                    .unwrap()
                    .into()
            ],
        )
        .await,
        1
    );

    // Finished: left as it is, and saying so is not an error. And the project can sync again.
    ada.ok("cancel_sync", json!({"id": queued["id"]})).await;
    assert_eq!(sync_status(queued["id"].clone()).await, "cancelled");
    let history = ada.ok("list_syncs", json!({"project_id": project})).await;
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "cancelled"),
        "{history}"
    );
    // Each says it changed nothing.
    let page = ada
        .get(&format!("/projects/{project}/sources"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(page.matches("Changed nothing").count(), 3, "{page}");
}

#[tokio::test]
async fn a_running_sync_stops_soon_after_cancel_and_its_history_says_it_changed_nothing() {
    let github = GitHubDouble::start().await;
    let repo = widgets();
    github.serve("acme/widgets", repo.path());
    // Slow enough that the import is under way for seconds.
    github.slow_blobs(Duration::from_secs(3));
    let app = app_with(&github).await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = linked_project(&ada, "acme/widgets", "").await;
    let started = ada.ok("sync_project", json!({"project_id": project})).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let now = ada.ok("get_sync", json!({"id": started["id"]})).await;
        // The blobs it asked for take three seconds to come.
        if now["phase"] == "import" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let asked = std::time::Instant::now();
    ada.ok("cancel_sync", json!({"id": started["id"]})).await;
    loop {
        let now = ada.ok("get_sync", json!({"id": started["id"]})).await;
        if now["status"] == "cancelled" {
            break;
        }
        assert!(
            asked.elapsed() < jobs::CANCEL_GRACE + Duration::from_secs(3),
            "still {now}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(active_files(&ada, &project).await.is_empty());
    let page = ada
        .get(&format!("/projects/{project}/sources"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Changed nothing (it had found +4 added, 4 skipped; fetched"),
        "{page}"
    );
    assert!(!page.contains(">+4 added"), "{page}");
}

#[tokio::test]
async fn the_command_line_reports_each_attempt_and_exits_with_the_reason_when_they_all_fail() {
    let github = GitHubDouble::start().await;
    let repo = widgets();
    github.serve("acme/widgets", repo.path());
    // Each blob takes longer than an attempt may run.
    github.slow_blobs(Duration::from_secs(4));
    let api_url = github.api_url();
    // Only the command runs jobs.
    let app = spawn_app_on(TestDb::migrated().await, move |settings| {
        settings.github.api_url = api_url;
        settings.jobs.enabled = false;
    })
    .await
    .unwrap();
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = linked_project(&ada, "acme/widgets", "").await;

    let started = std::time::Instant::now();
    let output = tokio::process::Command::new(tests::cairn_bin())
        .args(["sync", &project])
        .env("DATABASE_URL", app.db.owner_url())
        .env("CAIRN_DATABASE__APP_URL", app.db.app_url())
        .env("CAIRN_DATA_DIR", &app.data_dir)
        .env("CAIRN_GITHUB__API_URL", github.api_url())
        .env("CAIRN_JOBS__ATTEMPT_TIMEOUT_SECS", "1")
        .env("CAIRN_LOG__FILTER", "error")
        .output()
        .await
        .expect("running cairn sync");
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    for attempt in 1..=3 {
        assert!(
            err.contains(&format!("attempt {attempt} of 3 started")),
            "{err}"
        );
    }
    assert!(
        err.contains("attempt 1 of 3 failed: the attempt ran longer than its limit of 1 s and was stopped; it will be tried again"),
        "{err}"
    );
    assert!(
        err.contains("failed: the attempt ran longer than its limit of 1 s"),
        "{err}"
    );
    assert!(err.contains("Changed nothing"), "{err}");
    // Three attempts of about a second, and the pauses between them (2 s, 4 s).
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert!(active_files(&ada, &project).await.is_empty());
}

/// Who each file entry was created by, by path (`None`: nobody asked for the sync).
async fn created_by(app: &TestApp, project: &str) -> Vec<(String, Option<String>)> {
    use sea_orm::ConnectionTrait;
    let rows = app
        .db
        .owner()
        .await
        .query_all_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT e.source_path, u.email FROM memory_entries e LEFT JOIN users u ON u.id = e.created_by
              WHERE e.project_id = $1 AND e.kind = 'file' AND e.status = 'active' ORDER BY 1",
            [uuid::Uuid::parse_str(project).unwrap().into()],
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| {
            (
                row.try_get("", "source_path").unwrap(),
                row.try_get("", "email").unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_push_during_a_members_sync_queues_one_that_is_nobodys() {
    let github = GitHubDouble::start().await;
    let repo = widgets();
    github.serve("acme/widgets", repo.path());
    github.slow_blobs(Duration::from_millis(500));
    let app = app_with(&github).await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = linked_project(&ada, "acme/widgets", "").await;
    let secret = ada
        .ok("new_webhook_secret", json!({"project_id": project}))
        .await;
    let secret = secret.as_str().unwrap().to_owned();

    let pressed = ada.ok("sync_project", json!({"project_id": project})).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while ada.ok("get_sync", json!({"id": pressed["id"]})).await["phase"] != "import" {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    repo.write("src/pushed.rs", "// pushed\n");
    repo.commit("pushed");
    let body = push("main");
    let (_, answer) = deliver(&app, "push", &body, Some(&signed(&secret, &body))).await;
    assert_eq!(answer["syncs"][0], pressed["id"], "joined the running sync");
    let history = history_of(&ada, &project, 2).await;
    assert_eq!(history.len(), 2, "{history:?}");
    let (follow_up, first) = (&history[0], &history[1]);
    assert_eq!(first["requested_by"], "Ada");
    assert_eq!(follow_up["trigger"], "webhook");
    assert_eq!(follow_up["requested_by"], Value::Null, "{follow_up}");
    assert_eq!(follow_up["status"], "completed", "{follow_up}");
    // Its job acts for nobody, and what it wrote is nobody's; what Ada's sync wrote is hers.
    assert_eq!(
        count(
            &app.db.owner().await,
            "SELECT count(*) FROM jobs WHERE id = $1 AND requested_by IS NULL",
            vec![
                uuid::Uuid::parse_str(follow_up["job_id"].as_str().unwrap())
                    .unwrap()
                    .into()
            ],
        )
        .await,
        1
    );
    let by = created_by(&app, &project).await;
    assert!(by.contains(&("src/pushed.rs".into(), None)), "{by:?}");
    assert!(
        by.contains(&("src/main.rs".into(), Some("ada@example.com".into()))),
        "{by:?}"
    );
}

#[tokio::test]
async fn a_schedule_after_an_empty_repository_syncs_its_first_commit() {
    let github = GitHubDouble::start().await;
    let repo = GitRepo::new();
    github.serve("acme/empty", repo.path());
    let api_url = github.api_url();
    let app = spawn_app_on(TestDb::migrated().await, move |settings| {
        settings.github.api_url = api_url;
        settings.github.retry_pause_ms = 10;
        settings.jobs.schedule_check_secs = 1;
    })
    .await
    .unwrap();
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = ada
        .ok(
            "create_project",
            json!({"form": {"name": "Empty", "description": "", "github_repo": "acme/empty",
                   "github_branch": "main", "github_path": "", "sync_every_minutes": "60"}}),
        )
        .await;
    let id = project["id"].as_str().unwrap().to_owned();
    // Synced while empty: a completed sync with nothing in it, and no ETag for the next check.
    let (empty, _) = sync(&app, &ada, &id).await;
    assert_eq!(empty["status"], "completed", "{empty}");
    let history = history_of(&ada, &id, 1).await;
    assert_eq!(history[0]["status"], "completed", "{history:?}");
    assert_eq!(history[0]["counts"]["scanned"], 0);
    assert!(active_files(&ada, &id).await.is_empty());

    // Its first commit; the next turn asks without an ETag, finds the branch, and syncs it.
    repo.write("README.md", "# First\n");
    repo.commit("first");
    schedule_turn_comes(&app).await;
    let history = history_of(&ada, &id, 2).await;
    assert_eq!(
        (&history[0]["trigger"], &history[0]["status"]),
        (&json!("schedule"), &json!("completed")),
        "{history:?}"
    );
    assert_eq!(
        active_files(&ada, &id).await,
        vec![("README.md".into(), "# First\n".into())]
    );
    // Scheduled syncs are nobody's.
    assert_eq!(
        created_by(&app, &id).await,
        vec![("README.md".into(), None)]
    );
}

fn signal(child: &tokio::process::Child, signal: &str) {
    let pid = child.id().expect("a running worker").to_string();
    let sent = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .expect("kill");
    assert!(sent.success(), "kill {signal} {pid}");
}

#[tokio::test]
async fn a_worker_stalled_past_its_lease_is_taken_over_and_on_waking_writes_nothing() {
    let github = GitHubDouble::start().await;
    let repo = widgets();
    github.serve("acme/widgets", repo.path());
    github.slow_blobs(Duration::from_millis(600));
    let api_url = github.api_url();
    let app = spawn_app_on(TestDb::migrated().await, move |settings| {
        settings.github.api_url = api_url;
        settings.jobs.enabled = false;
        settings.jobs.stale_after_secs = Some(2);
    })
    .await
    .unwrap();
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = linked_project(&ada, "acme/widgets", "").await;

    // The first worker, its log kept: it will be stopped mid-import, as a long GC pause, a
    // network partition or SIGSTOP would.
    let log_path = app.data_dir.join("stalled-worker.log");
    std::fs::create_dir_all(&app.data_dir).unwrap();
    let log = std::fs::File::create(&log_path).unwrap();
    let mut stalled = {
        let mut command = tokio::process::Command::new(tests::cairn_bin());
        command
            .arg("worker")
            .env("DATABASE_URL", app.db.owner_url())
            .env("CAIRN_DATABASE__APP_URL", app.db.app_url())
            .env("CAIRN_DATA_DIR", &app.data_dir)
            .env("CAIRN_GITHUB__API_URL", github.api_url())
            .env("CAIRN_GITHUB__FETCH_CONCURRENCY", "1")
            .env("CAIRN_GITHUB__MAX_FILE_BYTES", "1000")
            .env("CAIRN_JOBS__STALE_AFTER_SECS", "2")
            .env("CAIRN_STORAGE__SWEEP_INTERVAL_SECS", "0")
            .env("CAIRN_LOG__FILTER", "warn")
            .stderr(std::process::Stdio::from(log.try_clone().unwrap()))
            .stdout(std::process::Stdio::from(log))
            .kill_on_drop(true);
        command.spawn().expect("starting cairn worker")
    };
    let started = ada.ok("sync_project", json!({"project_id": project})).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let sync = ada.ok("get_sync", json!({"id": started["id"]})).await;
        if sync["phase"] == "import" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{sync}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(&stalled, "-STOP");

    // Another worker takes the job over once the first one's heartbeat is 2 s old, and finishes.
    let mut second = worker_process(&app, &github);
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    loop {
        let sync = ada.ok("get_sync", json!({"id": started["id"]})).await;
        if sync["status"] == "completed" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{sync}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The first one wakes up in the middle of its import: whatever it still tries is refused.
    signal(&stalled, "-CONT");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        stalled.try_wait().unwrap().is_none(),
        "the woken worker keeps running"
    );
    let logged = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logged.contains("no longer this runtime's") || logged.contains("no longer holds the job"),
        "{logged}"
    );
    stalled.start_kill().unwrap();
    let _ = stalled.wait().await;
    second.start_kill().unwrap();
    let _ = second.wait().await;

    let done = ada.ok("get_sync", json!({"id": started["id"]})).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(done["error"].is_null(), "{done}");
    let owner = app.db.owner().await;
    let job = uuid::Uuid::parse_str(started["job_id"].as_str().unwrap()).unwrap();
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM jobs WHERE id = $1 AND status = 'completed' AND attempts = 2",
            vec![job.into()],
        )
        .await,
        1
    );
    // Exactly the files of one finalize: one entry per path, all active.
    let project_id = uuid::Uuid::parse_str(&project).unwrap();
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM memory_entries WHERE project_id = $1 AND kind = 'file'",
            vec![project_id.into()],
        )
        .await,
        4
    );
    assert_eq!(active_files(&ada, &project).await.len(), 4);
    let history = ada.ok("list_syncs", json!({"project_id": project})).await;
    assert_eq!(history.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_path_has_one_active_entry_even_when_two_writers_race() {
    let github = GitHubDouble::start().await;
    let repo = widgets();
    github.serve("acme/widgets", repo.path());
    let app = app_with(&github).await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = linked_project(&ada, "acme/widgets", "").await;
    let (synced, _) = sync(&app, &ada, &project).await;
    assert_eq!(synced["status"], "completed");
    let owner = app.db.owner().await;
    // A second active row for a path, as a second finalize would write: refused by the database.
    let refused = crate::fixtures::try_exec(
        &owner,
        "INSERT INTO memory_entries (id, tenant_id, project_id, kind, title, content, source_path,
                                     blob_sha, status)
         SELECT gen_random_uuid(), tenant_id, project_id, 'file', title, 'x', source_path, 'x', 'active'
           FROM memory_entries WHERE project_id = $1 AND source_path = 'src/main.rs'",
        vec![uuid::Uuid::parse_str(&project).unwrap().into()],
    )
    .await;
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .contains("memory_entries_one_active_path")
    );
}

#[tokio::test]
async fn the_jobs_page_shows_a_failed_sync_to_managers_and_trying_it_again_starts_a_new_one() {
    let github = GitHubDouble::start().await;
    let repo = widgets();
    github.serve("acme/widgets", repo.path());
    let app = app_with(&github).await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = linked_project(&ada, "acme/widgets", "").await;
    github.inject(Fault::Unauthorized);
    let (failed, _) = sync(&app, &ada, &project).await;
    assert_eq!(failed["status"], "failed", "{failed}");

    let jobs = ada.ok("list_jobs", json!({})).await;
    let job = &jobs[0];
    assert!(
        job["title"]
            .as_str()
            .unwrap()
            .starts_with("Sync of acme/widgets"),
        "{job}"
    );
    assert_eq!(job["status"], "failed");
    assert_eq!(job["requested_by"], "Ada");
    assert_eq!(job["retryable"], true);
    assert!(
        job["last_error"].as_str().unwrap().contains("token"),
        "{job}"
    );
    let page = ada.get("/jobs").await.text().await.unwrap();
    assert!(
        page.contains("Sync of acme/widgets") && page.contains("Try again"),
        "{page}"
    );
    assert!(page.contains(r#"href="/jobs""#), "managers get the link");

    // A member sees neither the page's contents nor the link, and cannot retry.
    let (bob, _) = signed_up(&app, "bob@example.com", "Bob's").await;
    let token = crate::rpc::invite(&ada, "bob@example.com", "member").await;
    bob.ok("accept_invitation", json!({"token": token})).await;
    let engines = ada.ok("session", json!({})).await["active_tenant"].clone();
    bob.ok("switch_tenant", json!({"tenant_id": engines})).await;
    assert_eq!(bob.call("list_jobs", json!({})).await.0, 403);
    assert_eq!(bob.call("retry_job", json!({"id": job["id"]})).await.0, 403);
    let page = bob.get("/projects").await.text().await.unwrap();
    assert!(!page.contains(r#"href="/jobs""#));
    // Another team does not find it at all.
    let (eve, _) = signed_up(&app, "eve@example.com", "Eve's").await;
    assert_eq!(eve.ok("list_jobs", json!({})).await, json!([]));
    assert_eq!(eve.call("retry_job", json!({"id": job["id"]})).await.0, 404);

    // Trying it again starts a new sync of the project, which completes; the failed one stays.
    ada.ok("retry_job", json!({"id": job["id"]})).await;
    let history = history_of(&ada, &project, 2).await;
    assert_eq!(history[0]["status"], "completed", "{history:?}");
    assert_eq!(history[1]["status"], "failed");
    // The run is finished before its job is marked so: wait (bounded) for the job too.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let new_job = loop {
        let job = ada.ok("list_jobs", json!({})).await[0].clone();
        if job["status"] != "running" || tokio::time::Instant::now() > deadline {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let new_job = &new_job;
    assert_eq!(new_job["status"], "completed");
    let (status, body) = ada.call("retry_job", json!({"id": new_job["id"]})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        count(
            &app.db.owner().await,
            "SELECT count(*) FROM audit_log WHERE action = 'job.retry'",
            vec![],
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_replayed_delivery_does_nothing_and_one_address_is_limited() {
    let github = GitHubDouble::start().await;
    let repo = widgets();
    github.serve("acme/widgets", repo.path());
    let app = app_with(&github).await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = linked_project(&ada, "acme/widgets", "").await;
    let secret = ada
        .ok("new_webhook_secret", json!({"project_id": project}))
        .await;
    let secret = secret.as_str().unwrap().to_owned();
    let body = push("main");
    let (status, first) = deliver(&app, "push", &body, Some(&signed(&secret, &body))).await;
    assert_eq!(status, 202, "{first}");
    history_of(&ada, &project, 1).await;
    // The same signed body again, under a new delivery id: answered, nothing started.
    let (status, again) = deliver(&app, "push", &body, Some(&signed(&secret, &body))).await;
    assert_eq!((status, &again["replayed"]), (200, &json!(true)), "{again}");
    assert_eq!(
        ada.ok("list_syncs", json!({"project_id": project}))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // One address sending without end: past 600 a minute, refused before anything is verified.
    let mut refused = 0;
    let unsigned = push("main");
    for _ in 0..620 {
        let (status, _) = deliver(&app, "push", &unsigned, Some("sha256=00")).await;
        if status == 429 {
            refused += 1;
        } else {
            assert_eq!(status, 401);
        }
    }
    assert!(refused >= 18, "{refused}");
}

/// About 1 MiB of source-looking text (exactly `github.max_file_bytes`' default, so imported).
fn one_mebibyte_of_text() -> Vec<u8> {
    let line = b"pub fn expansion() -> &'static str { \"one blob under many paths\" }\n";
    let mut text = Vec::with_capacity(1024 * 1024);
    while text.len() + line.len() <= 1024 * 1024 {
        text.extend_from_slice(line);
    }
    text.resize(1024 * 1024, b'\n');
    text
}

/// Polls the sync until it has finished; the sync as it finished.
async fn finished(client: &RpcClient, sync: &Value, within: Duration) -> Value {
    let deadline = std::time::Instant::now() + within;
    loop {
        let now = client.ok("get_sync", json!({"id": sync["id"]})).await;
        if now["status"] != "queued" && now["status"] != "running" {
            return now;
        }
        assert!(std::time::Instant::now() < deadline, "still running: {now}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A public repository of a few kilobytes that lists one 1 MiB blob under 10,000 paths (git
/// stores it once): the server holds and stores it once, stays within 128 MiB above idle, and a
/// re-sync that copies it to 1,000 more paths fetches and stores nothing new. `cairn serve` in a
/// process of its own, so its memory is its own.
#[tokio::test]
async fn one_blob_under_ten_thousand_paths_is_fetched_and_stored_once() {
    let github = GitHubDouble::start().await;
    let repo = GitRepo::new();
    let text = one_mebibyte_of_text();
    let paths: Vec<String> = (0..10_000)
        .map(|n| format!("copies/d{:02}/f{n}.rs", n % 100))
        .collect();
    repo.commit_copies(&text, &paths, "10,000 paths, one blob");
    github.serve("bomb/expansion", repo.path());
    let db = TestDb::migrated().await;
    let served =
        ServedCairn::start(&db, "warn", &[("CAIRN_GITHUB__API_URL", github.api_url())]).await;
    let ada = served.browser();
    ada.ok(
        "sign_up",
        json!({"form": {"email": "ada@example.com", "password": crate::rpc::PASSWORD,
               "display_name": "Ada", "tenant_name": "Engines"}}),
    )
    .await;
    let project = linked_project(&ada, "bomb/expansion", "").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = served.pid();
    let idle = tests::rss_kib(pid);
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(idle));
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak.fetch_max(tests::rss_kib(pid), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let started = std::time::Instant::now();
    let sync = ada.ok("sync_project", json!({"project_id": project})).await;
    let done = finished(&ada, &sync, Duration::from_secs(120)).await;
    let took = started.elapsed();
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    sampler.await.unwrap();
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["counts"]["added"], 10_000, "{done}");
    let above_idle_mib = peak
        .load(std::sync::atomic::Ordering::Relaxed)
        .saturating_sub(idle)
        / 1024;
    eprintln!(
        "10,000 paths of one 1 MiB blob: {:.1} s, peak RSS {above_idle_mib} MiB above idle",
        took.as_secs_f64()
    );
    assert!(above_idle_mib < 128, "{above_idle_mib} MiB above idle");
    // One request for the blob's contents, one stored copy, entries holding no text of their own.
    assert_eq!(blob_requests(&github), 1, "{:?}", github.requests());
    let owner = db.owner().await;
    assert_eq!(
        count(&owner, "SELECT count(*) FROM memory_blobs", vec![]).await,
        1
    );
    assert_eq!(
        count(
            &owner,
            "SELECT sum(byte_size)::bigint FROM memory_blobs",
            vec![]
        )
        .await,
        1024 * 1024
    );
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM memory_entries WHERE kind = 'file' AND status = 'active'
                AND content = '' AND byte_size = 1048576",
            vec![]
        )
        .await,
        10_000
    );
    // The Memory Hub shows and finds each path's text.
    let found = ada
        .ok(
            "list_memory",
            json!({"project_id": project, "query": {"status": "active", "kind": "file",
                   "text": "expansion", "page": 0}}),
        )
        .await;
    let first = &found["entries"][0];
    assert!(
        first["source_path"]
            .as_str()
            .unwrap()
            .starts_with("copies/"),
        "{first}"
    );
    assert!(
        first["content"]
            .as_str()
            .unwrap()
            .starts_with("pub fn expansion()"),
        "{first}"
    );
    assert_eq!(found["has_more"], true);
    // The list carries each file's start (one character more says there is more); its page, all.
    assert_eq!(first["content"].as_str().unwrap().chars().count(), 4001);
    // Its row says its whole size, not that of the start it carries.
    assert_eq!(first["byte_size"], 1024 * 1024);
    let list = ada
        .get(&format!("/projects/{project}/memory?kind=file"))
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains("1 MiB"), "the row's size");
    let entry = ada.ok("get_memory_entry", json!({"id": first["id"]})).await;
    assert_eq!(entry[0]["content"].as_str().unwrap().len(), 1024 * 1024);

    // 1,000 more copies: nothing fetched, nothing new stored.
    github.clear_requests();
    let more: Vec<String> = (0..1_000).map(|n| format!("more/f{n}.rs")).collect();
    repo.commit_copies(&text, &more, "1,000 more copies");
    let sync = ada.ok("sync_project", json!({"project_id": project})).await;
    let again = finished(&ada, &sync, Duration::from_secs(120)).await;
    assert_eq!(again["status"], "completed", "{again}");
    assert_eq!(again["counts"]["added"], 1_000, "{again}");
    assert_eq!(again["counts"]["unchanged"], 10_000, "{again}");
    assert_eq!(blob_requests(&github), 0, "{:?}", github.requests());
    assert_eq!(
        count(&owner, "SELECT count(*) FROM memory_blobs", vec![]).await,
        1
    );
}

/// `github.max_files` and `github.max_sync_bytes`: a branch past either fails the sync before
/// anything is fetched, saying which limit and how to stay under it, and the Memory Hub keeps
/// what it had.
#[tokio::test]
async fn a_branch_past_the_file_or_byte_limit_fails_clearly_and_changes_nothing() {
    let github = GitHubDouble::start().await;
    let api_url = github.api_url();
    let app = spawn_app_on(TestDb::migrated().await, move |settings| {
        settings.github.api_url = api_url;
        settings.github.retry_pause_ms = 10;
        settings.github.max_files = 25;
        settings.github.max_sync_bytes = 8 * 1024;
    })
    .await
    .unwrap();
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let repo = GitRepo::new();
    for n in 0..10 {
        repo.write(&format!("src/f{n}.rs"), format!("// v1 {n}\n").repeat(50));
    }
    repo.commit("ten files");
    github.serve("acme/limits", repo.path());
    let project = linked_project(&ada, "acme/limits", "").await;
    let (first, _) = sync(&app, &ada, &project).await;
    assert_eq!(first["status"], "completed", "{first}");
    let before = active_files(&ada, &project).await;
    assert_eq!(before.len(), 10);
    let owner = app.db.owner().await;
    let blobs_before = count(&owner, "SELECT count(*) FROM memory_blobs", vec![]).await;

    // 30 files to import: past github.max_files (25).
    for n in 10..30 {
        repo.write(&format!("src/f{n}.rs"), format!("// v1 {n}\n"));
    }
    repo.commit("thirty files");
    github.clear_requests();
    let (too_many, _) = sync(&app, &ada, &project).await;
    assert_eq!(too_many["status"], "failed", "{too_many}");
    let error = too_many["error"].as_str().unwrap();
    assert!(
        error.contains("30 files") && error.contains("github.max_files"),
        "{error}"
    );
    assert_eq!(blob_requests(&github), 0);
    assert_eq!(active_files(&ada, &project).await, before);

    // Back to ten files, each now ~1.2 KiB and new: 12 KiB past github.max_sync_bytes (8 KiB).
    for n in 10..30 {
        repo.run(&["rm", "-q", &format!("src/f{n}.rs")]);
    }
    for n in 0..10 {
        repo.write(&format!("src/f{n}.rs"), format!("// v2 {n}\n").repeat(150));
    }
    repo.commit("bigger files");
    let (too_big, _) = sync(&app, &ada, &project).await;
    assert_eq!(too_big["status"], "failed", "{too_big}");
    let error = too_big["error"].as_str().unwrap();
    assert!(error.contains("github.max_sync_bytes"), "{error}");
    assert_eq!(blob_requests(&github), 0);
    assert_eq!(active_files(&ada, &project).await, before);
    assert_eq!(
        count(&owner, "SELECT count(*) FROM memory_blobs", vec![]).await,
        blobs_before
    );
}

/// Polls the sync until it is back in the queue waiting for GitHub; its `waiting_until`.
async fn waiting_for_github(app: &TestApp, client: &RpcClient, sync: &Value) -> String {
    let owner = app.db.owner().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let now = client.ok("get_sync", json!({"id": sync["id"]})).await;
        assert!(
            now["status"] == "queued" || now["status"] == "running",
            "it did not wait: {now}"
        );
        let row = owner
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT status, progress->>'waiting_until' AS until FROM project_syncs WHERE id = $1",
                [uuid::Uuid::parse_str(sync["id"].as_str().unwrap())
                    .unwrap()
                    .into()],
            ))
            .await
            .unwrap()
            .unwrap();
        let status: String = row.try_get("", "status").unwrap();
        let until: Option<String> = row.try_get("", "until").unwrap();
        if let (true, Some(until)) = (status == "queued", until) {
            return until;
        }
        assert!(std::time::Instant::now() < deadline, "{now}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Syncs without a token share the instance's hourly allowance from GitHub (60 an hour per
/// address; 10 here). One that runs out part-way waits in the queue until the allowance comes
/// back, saying so, instead of failing; one started meanwhile waits without asking GitHub
/// anything; a project with a token is not held up; when the window resets both complete, the
/// first fetching only the blobs it had not fetched yet.
#[tokio::test]
async fn syncs_without_a_token_wait_in_the_queue_for_githubs_hourly_allowance() {
    let github = GitHubDouble::start().await;
    github.limit_unauthenticated(10);
    let app = app_with(&github).await;
    let owner = app.db.owner().await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let (bob, _) = signed_up(&app, "bob@example.com", "Looms").await;
    // Ada's repository: the head, its tree and 3 blobs, 5 requests.
    let small = GitRepo::new();
    for n in 0..3 {
        small.write(
            &format!("src/small_{n}.rs"),
            format!("pub fn small_{n}() {{}}\n"),
        );
    }
    small.commit("three files");
    github.serve("acme/small", small.path());
    let ada_project = linked_project(&ada, "acme/small", "").await;
    let (first, _) = sync(&app, &ada, &ada_project).await;
    assert_eq!(first["status"], "completed", "{first}");

    // Bob's needs 10 (8 blobs); 5 are left: it runs out part-way and goes back in the queue.
    let big = GitRepo::new();
    for n in 0..8 {
        big.write(
            &format!("src/big_{n}.rs"),
            format!("pub fn big_{n}() {{}}\n"),
        );
    }
    big.commit("eight files");
    github.serve("acme/big", big.path());
    let bob_project = linked_project(&bob, "acme/big", "").await;
    github.clear_requests();
    let bobs = bob
        .ok("sync_project", json!({"project_id": bob_project}))
        .await;
    let until = waiting_for_github(&app, &bob, &bobs).await;
    let until = chrono::DateTime::parse_from_rfc3339(&until).unwrap();
    let wait = until.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(wait > chrono::Duration::minutes(55), "{wait}");
    let job = uuid::Uuid::parse_str(bobs["job_id"].as_str().unwrap()).unwrap();
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM jobs WHERE id = $1 AND status = 'queued' AND attempts = 0
                AND run_after > now() + interval '55 minutes'
                AND last_error LIKE '%allowance for requests without a token%'",
            vec![job.into()],
        )
        .await,
        1,
        "queued until the reset, the attempt not counted, saying why"
    );
    let fetched_before = github
        .requests()
        .iter()
        .filter(|r| r.starts_with("200 ") && r.contains("/git/blobs/"))
        .count();
    assert!((1..8).contains(&fetched_before), "{:?}", github.requests());

    // Ada's next sync waits at once, asking GitHub nothing.
    small.write("src/small_0.rs", "pub fn small_0() { /* v2 */ }\n");
    small.commit("second");
    github.clear_requests();
    let adas = ada
        .ok("sync_project", json!({"project_id": ada_project}))
        .await;
    waiting_for_github(&app, &ada, &adas).await;
    assert_eq!(github.requests(), Vec::<String>::new());
    // `cairn sync` says so and leaves the sync queued rather than wait an hour.
    let bobs_second = linked_project(&bob, "acme/small", "").await;
    let (code, _, stderr) = cairn_sync(&app, &github, &[&bobs_second]).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("waiting: GitHub's hourly allowance for requests without a token"),
        "{stderr}"
    );
    assert_eq!(github.requests(), Vec::<String>::new());

    // A project with a token has an allowance of its own.
    let (cy, _) = signed_up(&app, "cy@example.com", "Mills").await;
    let cys_project = linked_project(&cy, "acme/small", "").await;
    cy.ok(
        "set_github_token",
        json!({"project_id": cys_project, "token": "github_pat_cy"}),
    )
    .await;
    let (cys, _) = sync(&app, &cy, &cys_project).await;
    assert_eq!(cys["status"], "completed", "{cys}");

    // The window resets (GitHub's real 60 this time): they all run and complete; Bob's fetches
    // only the blobs it lacked.
    github.limit_unauthenticated(60);
    github.clear_requests();
    exec(
        &owner,
        "UPDATE github_quota SET reset_at = now() - interval '1 second'",
        vec![],
    )
    .await;
    exec(
        &owner,
        "UPDATE jobs SET run_after = now() WHERE status = 'queued'",
        vec![],
    )
    .await;
    for (client, started) in [(&bob, &bobs), (&ada, &adas)] {
        let done = finished(client, started, Duration::from_secs(30)).await;
        assert_eq!(done["status"], "completed", "{done}");
    }
    let big_blobs = github
        .requests()
        .iter()
        .filter(|r| r.contains("/repos/acme/big/git/blobs/"))
        .count();
    assert_eq!(
        big_blobs,
        8 - fetched_before,
        "only the blobs Bob's first attempt had not fetched: {:?}",
        github.requests()
    );
    assert_eq!(active_files(&bob, &bob_project).await.len(), 8);
}

async fn deliver_to(
    app: &TestApp,
    path: &str,
    body: Vec<u8>,
    signature: Option<&str>,
) -> (u16, Value, Duration) {
    let mut request = app
        .client
        .post(app.url(path))
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .header("x-github-delivery", uuid::Uuid::new_v4().to_string())
        .header("origin", "https://github.com")
        .body(body);
    if let Some(signature) = signature {
        request = request.header("x-hub-signature-256", signature);
    }
    let started = std::time::Instant::now();
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, started.elapsed())
}

/// At a project's own webhook address the project's secret checks the signature over the raw
/// bytes before any of them is parsed: a body that is not JSON at all, wrongly signed, is 401
/// there (where the shared address, which must read the payload to find the projects, says 422);
/// a signed push starts the sync; a signed delivery about another repository is ignored; an
/// address that is no project's, or a project without a secret, is 401 like a wrong signature.
#[tokio::test]
async fn a_projects_own_webhook_address_checks_the_signature_before_reading_the_body() {
    let github = GitHubDouble::start().await;
    let repo = widgets();
    github.serve("acme/widgets", repo.path());
    let app = app_with(&github).await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = linked_project(&ada, "acme/widgets", "").await;
    let bare = linked_project(&ada, "acme/widgets", "docs").await;
    let secret = ada
        .ok("new_webhook_secret", json!({"project_id": project}))
        .await;
    let secret = secret.as_str().unwrap().to_owned();
    let shown = ada
        .ok("source_secrets", json!({"project_id": project}))
        .await;
    let own = format!("/api/v1/webhooks/github/{project}");
    assert!(
        shown["webhook_url"].as_str().unwrap().ends_with(&own),
        "{shown}"
    );

    // 25 MiB that is not JSON: at the project's address, with a malformed signature 401 on the
    // head alone; with a well-formed wrong one 401 once the signature is checked, never parsed.
    let junk = vec![b'['; 25 * 1024 * 1024];
    let (status, _, took) = deliver_to(&app, &own, junk.clone(), Some("sha256=00")).await;
    assert_eq!(status, 401);
    eprintln!("25 MiB, malformed signature, at a project's address: 401 in {took:?}");
    let wrong = signed("not the secret", &junk);
    let (status, _, took) = deliver_to(&app, &own, junk.clone(), Some(&wrong)).await;
    assert_eq!(status, 401);
    eprintln!("25 MiB, wrong signature, at a project's address: 401 in {took:?}");
    // The shared address has to read it to know whose it would be.
    let (status, body, _) =
        deliver_to(&app, "/api/v1/webhooks/github", junk, Some("sha256=00")).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("body")),
        "{body}"
    );

    // Unsigned, wrongly signed, no such project, a project without a secret: 401, nothing.
    let body = push("main");
    for (path, signature) in [
        (own.clone(), None),
        (own.clone(), Some(signed("not the secret", &body))),
        (
            format!("/api/v1/webhooks/github/{}", uuid::Uuid::now_v7()),
            Some(signed(&secret, &body)),
        ),
        (
            "/api/v1/webhooks/github/not-a-project".to_owned(),
            Some(signed(&secret, &body)),
        ),
        (
            format!("/api/v1/webhooks/github/{bare}"),
            Some(signed(&secret, &body)),
        ),
    ] {
        let (status, answer, _) = deliver_to(&app, &path, body.clone(), signature.as_deref()).await;
        assert_eq!(status, 401, "{path}: {answer}");
    }
    assert_eq!(
        count(
            &app.db.owner().await,
            "SELECT count(*) FROM project_syncs",
            vec![]
        )
        .await,
        0
    );

    // Signed, JSON that is no payload: 422 (only now is it read).
    let (status, answer, _) =
        deliver_to(&app, &own, b"[1]".to_vec(), Some(&signed(&secret, b"[1]"))).await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (422, Some("body")),
        "{answer}"
    );
    // Signed, about another repository: ignored.
    let other = String::from_utf8(push("main"))
        .unwrap()
        .replace("\"widgets\"", "\"gadgets\"")
        .into_bytes();
    let (status, answer, _) =
        deliver_to(&app, &own, other.clone(), Some(&signed(&secret, &other))).await;
    assert_eq!(
        (status, answer["ignored"].as_u64()),
        (200, Some(1)),
        "{answer}"
    );
    // Signed push to the branch: the sync starts.
    let (status, answer, _) =
        deliver_to(&app, &own, body.clone(), Some(&signed(&secret, &body))).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["syncs"].as_array().unwrap().len(), 1);
    // The same bytes again: a replay.
    let (status, answer, _) =
        deliver_to(&app, &own, body.clone(), Some(&signed(&secret, &body))).await;
    assert_eq!(
        (status, answer["replayed"].as_bool()),
        (200, Some(true)),
        "{answer}"
    );
}
