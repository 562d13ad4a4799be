//! The migration guard against a real database: what it refuses, what it lets through, and that the
//! embedding column and its data survive every refusal.

use crate::fixtures::{axis_vector, count, exec, seed_tenant};
use migration::guard::{self, GuardedMigrator, MigrateOptions, MigrationError, SchemaChange};
use migration::sea_orm_migration::prelude::*;
use migration::sea_orm_migration::sea_orm::{
    DatabaseConnection, DbBackend, Statement, TransactionTrait,
};
use tests::{TestDb, cairn_bin, workspace_bin};

/// A migration made of one SQL string, for proposing schema changes in tests.
struct SqlMigration {
    name: &'static str,
    sql: &'static str,
}

#[async_trait::async_trait]
impl MigrationTrait for SqlMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(self.sql)
            .await
            .map(|_| ())
    }
}

impl MigrationName for SqlMigration {
    fn name(&self) -> &str {
        self.name
    }
}

/// Cairn's migrations followed by one proposed migration; optionally marked destructive.
macro_rules! proposing {
    ($migrator:ident, $name:literal, $sql:literal, destructive = $destructive:literal) => {
        struct $migrator;
        impl MigratorTrait for $migrator {
            fn migrations() -> Vec<Box<dyn MigrationTrait>> {
                let mut all = migration::Migrator::migrations();
                all.push(Box::new(SqlMigration {
                    name: $name,
                    sql: $sql,
                }));
                all
            }
        }
        impl GuardedMigrator for $migrator {
            fn destructive_migrations() -> Vec<&'static str> {
                if $destructive { vec![$name] } else { vec![] }
            }
        }
    };
}

proposing!(
    DropsEmbedding,
    "m20990101_000001_drop_insight_embedding",
    "ALTER TABLE workflow_insights DROP COLUMN embedding",
    destructive = false
);
proposing!(
    RetypesEmbedding,
    "m20990101_000002_retype_insight_embedding",
    "DROP INDEX workflow_insights_embedding_hnsw_idx;
     ALTER TABLE workflow_insights ALTER COLUMN embedding TYPE real[] USING embedding::real[]",
    destructive = false
);
proposing!(
    DropsEmbeddingIndex,
    "m20990101_000003_drop_insight_embedding_index",
    "DROP INDEX workflow_insights_embedding_hnsw_idx",
    destructive = false
);
proposing!(
    DropsEmbeddingOnPurpose,
    "m20990101_000004_drop_insight_embedding_on_purpose",
    "ALTER TABLE workflow_insights DROP COLUMN embedding",
    destructive = true
);
proposing!(
    AddsArchivedAt,
    "m20990101_000005_add_project_archived_at",
    "ALTER TABLE projects ADD COLUMN archived_at timestamptz;
     CREATE INDEX projects_archived_at_idx ON projects (archived_at)",
    destructive = false
);

proposing!(
    DropsChunkVectors,
    "m20990101_000006_drop_chunk_vectors_embedding",
    "ALTER TABLE chunk_vectors DROP COLUMN embedding",
    destructive = false
);

async fn embedding_of(owner: &DatabaseConnection, insight: uuid::Uuid) -> String {
    owner
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT embedding::text AS e FROM workflow_insights WHERE id = $1",
            [insight.into()],
        ))
        .await
        .unwrap()
        .expect("the insight row")
        .try_get("", "e")
        .unwrap()
}

async fn applied(owner: &DatabaseConnection) -> i64 {
    count(owner, "SELECT count(*) FROM seaql_migrations", vec![]).await
}

#[tokio::test]
async fn additive_migrations_apply_normally_and_are_recorded() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    let before = applied(&owner).await;
    let report = guard::migrate::<AddsArchivedAt>(&owner, MigrateOptions::default())
        .await
        .unwrap();
    assert!(report.applied);
    assert_eq!(report.planned.len(), 1);
    assert!(
        report.planned[0]
            .changes
            .contains(&SchemaChange::ColumnAdded {
                table: "projects".into(),
                column: "archived_at".into(),
                data_type: "timestamp with time zone".into(),
            })
    );
    assert_eq!(applied(&owner).await, before + 1);
    assert_eq!(
        report.protected_verified.len(),
        3,
        "every embedding column verified (memory entries, insights, chunk vectors)"
    );
    assert!(
        guard::check_drift(&owner).await.unwrap().is_clean(),
        "the new schema is recorded"
    );
    let again = guard::migrate::<AddsArchivedAt>(&owner, MigrateOptions::default())
        .await
        .unwrap();
    assert!(again.planned.is_empty() && !again.applied);
}

#[tokio::test]
async fn dropping_the_embedding_column_is_refused_and_its_data_survives() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    let s = seed_tenant(&owner, "alpha").await;
    let before = applied(&owner).await;
    let error = guard::migrate::<DropsEmbedding>(&owner, MigrateOptions::default())
        .await
        .unwrap_err();
    match &error {
        MigrationError::Destructive {
            migration,
            changes,
            marked,
        } => {
            assert_eq!(migration, "m20990101_000001_drop_insight_embedding");
            assert!(!marked);
            assert!(changes.iter().any(|c| matches!(c,
                SchemaChange::ColumnDropped { table, column, .. } if table == "workflow_insights" && column == "embedding")));
            assert!(changes.iter().any(|c| matches!(c,
                SchemaChange::IndexDropped { index, .. } if index == "workflow_insights_embedding_hnsw_idx")));
        }
        other => panic!("expected a destructive refusal, got {other}"),
    }
    // Even --allow-destructive does not let an unmarked migration through.
    let allowed = MigrateOptions {
        allow_destructive: true,
        dry_run: false,
    };
    assert!(matches!(
        guard::migrate::<DropsEmbedding>(&owner, allowed).await,
        Err(MigrationError::Destructive { marked: false, .. })
    ));
    assert_eq!(embedding_of(&owner, s.insight).await, axis_vector(0));
    assert_eq!(applied(&owner).await, before, "nothing recorded as applied");
    assert!(guard::check_drift(&owner).await.unwrap().is_clean());
}

/// The search vectors are protected like every embedding: a migration dropping them is refused and
/// they survive. The per-space indexes Cairn makes and drops as teams change models are not drift.
#[tokio::test]
async fn chunk_vectors_cannot_be_dropped_and_space_indexes_are_not_drift() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    let s = seed_tenant(&owner, "alpha").await;
    let vectors = |owner: &DatabaseConnection| {
        let owner = owner.clone();
        async move {
            count(
                &owner,
                "SELECT count(*) FROM chunk_vectors WHERE tenant_id = $1",
                vec![s.tenant.into()],
            )
            .await
        }
    };
    assert_eq!(vectors(&owner).await, 1);
    let error = guard::migrate::<DropsChunkVectors>(&owner, MigrateOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, MigrationError::Destructive { changes, .. } if changes.iter().any(|c| matches!(c,
            SchemaChange::ColumnDropped { table, column, .. } if table == "chunk_vectors" && column == "embedding"))),
        "{error}"
    );
    assert_eq!(vectors(&owner).await, 1, "the vectors survive");

    // A space's own index, made as the app makes it (in the team's context), then dropped with the
    // space: neither is drift.
    let space: uuid::Uuid = owner
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id FROM embedding_spaces WHERE tenant_id = $1",
            [s.tenant.into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "id")
        .unwrap();
    let in_team = |sql: &'static str| {
        let owner = owner.clone();
        async move {
            let txn = owner.begin().await.unwrap();
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT set_config('app.tenant_id', $1, true)",
                [s.tenant.to_string().into()],
            ))
            .await
            .unwrap();
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                [space.into()],
            ))
            .await
            .unwrap();
            txn.commit().await.unwrap();
        }
    };
    in_team("SELECT cairn_index_embedding_space($1)").await;
    let indexes = count(
        &owner,
        "SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'chunk_vectors_space_%'",
        vec![],
    )
    .await;
    assert_eq!(indexes, 1);
    assert!(guard::check_drift(&owner).await.unwrap().is_clean());
    exec(
        &owner,
        "UPDATE embedding_spaces SET status = 'retired' WHERE id = $1",
        vec![space.into()],
    )
    .await;
    in_team("SELECT cairn_drop_embedding_space($1)").await;
    assert_eq!(vectors(&owner).await, 0);
    assert!(guard::check_drift(&owner).await.unwrap().is_clean());
}

#[tokio::test]
async fn retyping_the_embedding_column_is_refused_and_its_data_survives() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    let s = seed_tenant(&owner, "alpha").await;
    let error = guard::migrate::<RetypesEmbedding>(&owner, MigrateOptions::default())
        .await
        .unwrap_err();
    let MigrationError::Destructive { changes, .. } = &error else {
        panic!("got {error}")
    };
    assert!(changes.contains(&SchemaChange::ColumnTypeChanged {
        table: "workflow_insights".into(),
        column: "embedding".into(),
        from: "vector(1536)".into(),
        to: "real[]".into(),
    }));
    assert_eq!(embedding_of(&owner, s.insight).await, axis_vector(0));
    let column_type = owner
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute
              WHERE attrelid = 'workflow_insights'::regclass AND attname = 'embedding'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<String>("", "t")
        .unwrap();
    assert_eq!(column_type, "vector(1536)");
}

#[tokio::test]
async fn dropping_the_embedding_index_is_refused() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    let error = guard::migrate::<DropsEmbeddingIndex>(&owner, MigrateOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, MigrationError::Destructive { .. }),
        "{error}"
    );
    assert_eq!(
        count(&owner, "SELECT count(*) FROM pg_indexes WHERE indexname = 'workflow_insights_embedding_hnsw_idx'", vec![]).await,
        1
    );
}

#[tokio::test]
async fn a_marked_destructive_migration_needs_the_flag_and_then_backs_up_first() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    let s = seed_tenant(&owner, "alpha").await;

    let error = guard::migrate::<DropsEmbeddingOnPurpose>(&owner, MigrateOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, MigrationError::Destructive { marked: true, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("--allow-destructive"));
    assert_eq!(embedding_of(&owner, s.insight).await, axis_vector(0));

    let dry = MigrateOptions {
        allow_destructive: true,
        dry_run: true,
    };
    let plan = guard::migrate::<DropsEmbeddingOnPurpose>(&owner, dry)
        .await
        .unwrap();
    assert!(!plan.applied);
    assert_eq!(
        embedding_of(&owner, s.insight).await,
        axis_vector(0),
        "a dry run changes nothing"
    );

    let allowed = MigrateOptions {
        allow_destructive: true,
        dry_run: false,
    };
    let report = guard::migrate::<DropsEmbeddingOnPurpose>(&owner, allowed)
        .await
        .unwrap();
    assert!(report.applied);
    assert_eq!(report.backups.len(), 1);
    let backup = &report.backups[0];
    assert!(
        backup.starts_with("cairn_backup.workflow_insights_"),
        "{backup}"
    );
    let saved = owner
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("SELECT embedding::text AS e FROM {backup} WHERE id = $1"),
            [s.insight.into()],
        ))
        .await
        .unwrap()
        .expect("the row in the backup")
        .try_get::<String>("", "e")
        .unwrap();
    assert_eq!(
        saved,
        axis_vector(0),
        "the backup holds the embedding that was dropped"
    );
    assert_eq!(
        report.protected_verified.len(),
        2,
        "memory_entries.embedding and chunk_vectors.embedding remain"
    );
}

#[tokio::test]
async fn a_hand_dropped_embedding_is_drift_with_exact_repair_sql_and_blocks_migrate() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    seed_tenant(&owner, "alpha").await;
    exec(
        &owner,
        "ALTER TABLE workflow_insights DROP COLUMN embedding",
        vec![],
    )
    .await;

    let drift = guard::check_drift(&owner).await.unwrap();
    assert!(!drift.is_clean());
    let repair = drift.repair_sql();
    assert!(
        repair.contains("ALTER TABLE workflow_insights ADD COLUMN embedding vector(1536);"),
        "{repair}"
    );
    assert!(
        repair.contains("CREATE INDEX workflow_insights_embedding_hnsw_idx ON public.workflow_insights USING hnsw (embedding vector_cosine_ops);"),
        "{repair}"
    );
    assert!(drift.to_string().contains("[protected]"));

    // migrate refuses to run over it, even an additive migration.
    let error = guard::migrate::<AddsArchivedAt>(&owner, MigrateOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, MigrationError::Drift(_)), "{error}");
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM information_schema.columns WHERE column_name = 'archived_at'",
            vec![]
        )
        .await,
        0
    );

    // The repair SQL, run as printed, removes the drift.
    owner.execute_unprepared(&repair).await.unwrap();
    assert!(guard::check_drift(&owner).await.unwrap().is_clean());
    guard::migrate::<AddsArchivedAt>(&owner, MigrateOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn cairn_db_check_exits_nonzero_on_drift_and_migrate_refuses() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    let run = |args: &[&str]| {
        std::process::Command::new(cairn_bin())
            .args(args)
            .env("DATABASE_URL", db.owner_url())
            .env("CAIRN_DATABASE__APP_URL", db.app_url())
            .env("CAIRN_LOG__FILTER", "warn")
            .output()
            .expect("running cairn")
    };
    let clean = run(&["db", "check"]);
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );

    exec(
        &owner,
        "ALTER TABLE memory_entries DROP COLUMN embedding",
        vec![],
    )
    .await;
    let drifted = run(&["db", "check"]);
    let stdout = String::from_utf8_lossy(&drifted.stdout);
    assert_eq!(drifted.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("ALTER TABLE memory_entries ADD COLUMN embedding vector(1536);"),
        "{stdout}"
    );

    let migrate = run(&["db", "migrate"]);
    assert_eq!(migrate.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&migrate.stderr).contains("refusing to migrate over drift"));
}

#[tokio::test]
async fn the_standalone_migration_binary_migrates_grants_and_checks() {
    let db = TestDb::empty().await;
    let run = |args: &[&str]| {
        std::process::Command::new(workspace_bin("cairn-migration"))
            .args(args)
            .env("DATABASE_URL", db.owner_url())
            .output()
            .expect("running cairn-migration")
    };
    let migrate = run(&["migrate"]);
    let stdout = String::from_utf8_lossy(&migrate.stdout);
    assert!(
        migrate.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    assert!(
        stdout.contains("applied m20261122_000001_initial_schema"),
        "{stdout}"
    );
    // The app role was granted access (row-level security still hides every row).
    assert_eq!(
        count(&db.app().await, "SELECT count(*) FROM projects", vec![]).await,
        0
    );
    assert!(run(&["check"]).status.success());
    exec(
        &db.owner().await,
        "DROP INDEX workflow_insights_embedding_hnsw_idx",
        vec![],
    )
    .await;
    let check = run(&["check"]);
    assert_eq!(check.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&check.stdout)
            .contains("CREATE INDEX workflow_insights_embedding_hnsw_idx")
    );
}

#[tokio::test]
async fn two_instances_starting_together_migrate_once() {
    let db = TestDb::empty().await;
    let (first, second) = tokio::join!(
        tests::spawn_app_on(db.clone(), |_| {}),
        tests::spawn_app_on(db.clone(), |_| {}),
    );
    let (first, second) = (
        first.expect("the first instance starts"),
        second.expect("the second instance starts"),
    );
    let owner = db.owner().await;
    let applied = applied(&owner).await;
    assert_eq!(
        applied,
        migration::Migrator::migrations().len() as i64,
        "each migration recorded once"
    );
    for app in [&first, &second] {
        assert_eq!(app.get("/readyz").await.status(), 200);
    }
    first.stop().await.unwrap();
    second.stop().await.unwrap();
}

/// Cairn's migrations before the one that makes a path's active entry unique.
struct BeforeOneActivePath;
impl MigratorTrait for BeforeOneActivePath {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = migration::Migrator::migrations();
        all.retain(|m| m.name() < "m20261206_000013_one_active_path");
        all
    }
}
impl GuardedMigrator for BeforeOneActivePath {}

#[tokio::test]
async fn duplicate_active_entries_are_superseded_not_lost_before_a_path_gets_one() {
    let log = tests::log_capture::LogCapture::default();
    let _logging = log.start();
    let db = TestDb::empty().await;
    let owner = db.owner().await;
    guard::migrate::<BeforeOneActivePath>(&owner, MigrateOptions::default())
        .await
        .unwrap();
    // A team and a project, written as the schema stood then (the shared fixture knows later tables).
    let (tenant, project) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    exec(
        &owner,
        "INSERT INTO tenants (id, name) VALUES ($1, 'alpha')",
        vec![tenant.into()],
    )
    .await;
    exec(
        &owner,
        "INSERT INTO projects (id, tenant_id, name) VALUES ($1, $2, 'Widgets')",
        vec![project.into(), tenant.into()],
    )
    .await;
    // Three active versions of one path, two of another, one of a third, and two manual entries
    // (no path): as two finalizes racing, or two restores, could leave them.
    let mut newest = Vec::new();
    for (path, versions) in [("src/a.rs", 3), ("src/b.rs", 2), ("src/c.rs", 1)] {
        for version in 0..versions {
            let id = uuid::Uuid::new_v4();
            exec(
                &owner,
                "INSERT INTO memory_entries (id, tenant_id, project_id, kind, title, content,
                                             source_path, blob_sha, status, created_at)
                 VALUES ($1, $2, $3, 'file', $4, $5, $4, $5, 'active',
                         now() - make_interval(mins => $6))",
                vec![
                    id.into(),
                    tenant.into(),
                    project.into(),
                    path.into(),
                    format!("version {version}").into(),
                    (10 - version).into(),
                ],
            )
            .await;
            if version == versions - 1 {
                newest.push(id);
            }
        }
    }
    for title in ["a manual entry", "another"] {
        exec(
            &owner,
            "INSERT INTO memory_entries (id, tenant_id, project_id, kind, title, content, status)
             VALUES ($1, $2, $3, 'manual', $4, 'text', 'active')",
            vec![
                uuid::Uuid::new_v4().into(),
                tenant.into(),
                project.into(),
                title.into(),
            ],
        )
        .await;
    }
    let rows_before = count(&owner, "SELECT count(*) FROM memory_entries", vec![]).await;

    let report = guard::migrate::<migration::Migrator>(&owner, MigrateOptions::default())
        .await
        .unwrap();
    assert!(report.applied);
    // Nothing deleted; all but the newest of each path superseded; manual entries untouched.
    assert_eq!(
        count(&owner, "SELECT count(*) FROM memory_entries", vec![]).await,
        rows_before
    );
    let active_files = count(
        &owner,
        "SELECT count(*) FROM memory_entries WHERE kind = 'file' AND status = 'active' AND id = ANY($1)",
        vec![newest.clone().into()],
    )
    .await;
    assert_eq!(active_files, 3, "the newest of each path stays active");
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM memory_entries WHERE status = 'superseded'",
            vec![]
        )
        .await,
        3
    );
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM memory_entries WHERE kind = 'manual' AND status = 'active'",
            vec![]
        )
        .await,
        2
    );
    let logged = log.text();
    assert!(
        logged.contains("resolved=3") && logged.contains("all but the newest of each superseded"),
        "{logged}"
    );
    // From now on the database refuses a second active entry for a path.
    let second = crate::fixtures::try_exec(
        &owner,
        "UPDATE memory_entries SET status = 'active' WHERE status = 'superseded' AND source_path = 'src/a.rs'",
        vec![],
    )
    .await;
    assert!(second.is_err());
}

/// Cairn's migrations before file contents moved to blobs.
struct BeforeBlobs;
impl MigratorTrait for BeforeBlobs {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = migration::Migrator::migrations();
        all.retain(|m| m.name() < "m20261206_000019_memory_blobs");
        all
    }
}
impl GuardedMigrator for BeforeBlobs {}

/// Moving file texts into blobs loses nothing: entries of one SHA share one blob, an entry that
/// disagrees with its blob keeps its own text, and every entry reads back exactly as before.
#[tokio::test]
async fn file_texts_move_into_blobs_and_every_entry_reads_as_before() {
    let db = TestDb::empty().await;
    let owner = db.owner().await;
    guard::migrate::<BeforeBlobs>(&owner, MigrateOptions::default())
        .await
        .unwrap();
    let (tenant, project) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    exec(
        &owner,
        "INSERT INTO tenants (id, name) VALUES ($1, 'alpha')",
        vec![tenant.into()],
    )
    .await;
    exec(
        &owner,
        "INSERT INTO projects (id, tenant_id, name) VALUES ($1, $2, 'Widgets')",
        vec![project.into(), tenant.into()],
    )
    .await;
    // (kind, path, sha, text, status): two paths of one blob, an older version of one of them
    // (superseded), a row that disagrees with the others about a SHA, an empty file, a manual entry.
    let rows = [
        (
            "file",
            Some("src/a.rs"),
            Some("aaa"),
            "fn a() {}\n",
            "active",
        ),
        (
            "file",
            Some("src/copy.rs"),
            Some("aaa"),
            "fn a() {}\n",
            "active",
        ),
        (
            "file",
            Some("src/a.rs"),
            Some("old"),
            "fn a_old() {}\n",
            "superseded",
        ),
        (
            "file",
            Some("src/odd.rs"),
            Some("aaa"),
            "not what aaa holds\n",
            "superseded",
        ),
        ("file", Some("src/empty.rs"), Some("e69de29"), "", "active"),
        ("manual", None, None, "Remember the deploy", "active"),
    ];
    let before = count(&owner, "SELECT count(*) FROM memory_entries", vec![]).await;
    assert_eq!(before, 0);
    for (n, (kind, path, sha, text, status)) in rows.iter().enumerate() {
        exec(
            &owner,
            "INSERT INTO memory_entries (id, tenant_id, project_id, kind, title, content,
                                         source_path, blob_sha, status, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() - make_interval(mins => $10))",
            vec![
                uuid::Uuid::new_v4().into(),
                tenant.into(),
                project.into(),
                (*kind).into(),
                path.unwrap_or("a note").into(),
                (*text).into(),
                path.map(str::to_owned).into(),
                sha.map(str::to_owned).into(),
                (*status).into(),
                (10 - n as i32).into(),
            ],
        )
        .await;
    }
    let report = guard::migrate::<migration::Migrator>(&owner, MigrateOptions::default())
        .await
        .unwrap();
    assert!(report.applied);
    assert_eq!(
        count(&owner, "SELECT count(*) FROM memory_entries", vec![]).await,
        rows.len() as i64
    );
    // One blob per SHA that had text; the two copies point at it and hold nothing themselves.
    assert_eq!(
        count(&owner, "SELECT count(*) FROM memory_blobs", vec![]).await,
        2
    );
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM memory_entries WHERE kind = 'file' AND content = ''",
            vec![]
        )
        .await,
        4,
        "a.rs, copy.rs, the old a.rs and the empty file"
    );
    // Every entry reads exactly as it did, the way the Memory Hub reads it.
    let read = owner
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT title, COALESCE((SELECT b.content FROM memory_blobs b
                      WHERE memory_entries.content = '' AND b.tenant_id = memory_entries.tenant_id
                        AND b.sha = memory_entries.blob_sha), memory_entries.content) AS text,
                    blob_sha
               FROM memory_entries",
            [],
        ))
        .await
        .unwrap();
    let mut now: Vec<(String, String)> = read
        .iter()
        .map(|row| {
            (
                format!(
                    "{} {}",
                    row.try_get::<String>("", "title").unwrap(),
                    row.try_get::<Option<String>>("", "blob_sha")
                        .unwrap()
                        .unwrap_or_default()
                ),
                row.try_get::<String>("", "text").unwrap(),
            )
        })
        .collect();
    let mut was: Vec<(String, String)> = rows
        .iter()
        .map(|(_, path, sha, text, _)| {
            (
                format!("{} {}", path.unwrap_or("a note"), sha.unwrap_or_default()),
                (*text).to_owned(),
            )
        })
        .collect();
    now.sort();
    was.sort();
    assert_eq!(now, was);
}

/// Cairn's migrations before spend became a ledger.
struct BeforeSpendLedger;
impl MigratorTrait for BeforeSpendLedger {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = migration::Migrator::migrations();
        all.retain(|m| m.name() < "m20261206_000020_ai_spend");
        all
    }
}
impl GuardedMigrator for BeforeSpendLedger {}

/// The month's spend, summed from the attempts until now, is copied into the ledger whole (one
/// charge per answer and provider), and the attempts stay.
#[tokio::test]
async fn spend_so_far_is_copied_into_the_ledger() {
    let db = TestDb::empty().await;
    let owner = db.owner().await;
    guard::migrate::<BeforeSpendLedger>(&owner, MigrateOptions::default())
        .await
        .unwrap();
    let (tenant, project, note, answer) = (
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
    );
    for (sql, values) in [
        (
            "INSERT INTO tenants (id, name) VALUES ($1, 'alpha')",
            vec![tenant.into()],
        ),
        (
            "INSERT INTO projects (id, tenant_id, name) VALUES ($1, $2, 'Widgets')",
            vec![project.into(), tenant.into()],
        ),
        (
            "INSERT INTO project_notes (id, tenant_id, project_id, title, body)
             VALUES ($1, $2, $3, 'Deploys', 'Blue-green')",
            vec![note.into(), tenant.into(), project.into()],
        ),
        (
            "INSERT INTO note_answers (id, tenant_id, note_id, question, status, error)
             VALUES ($1, $2, $3, 'How?', 'failed', 'no answer')",
            vec![answer.into(), tenant.into(), note.into()],
        ),
    ] {
        exec(&owner, sql, values).await;
    }
    for (seq, provider, cost) in [
        (0, "anthropic", 0.25),
        (1, "openai", 0.5),
        (2, "openai", 0.125),
        (3, "gemini", 0.0),
    ] {
        exec(
            &owner,
            "INSERT INTO ai_attempts (id, tenant_id, answer_id, seq, provider, provider_kind, model,
                                      class, cost_usd)
             VALUES ($1, $2, $3, $4, $5, 'open_ai', 'm', 'server_error', $6)",
            vec![
                uuid::Uuid::new_v4().into(),
                tenant.into(),
                answer.into(),
                seq.into(),
                provider.into(),
                cost.into(),
            ],
        )
        .await;
    }
    guard::migrate::<migration::Migrator>(&owner, MigrateOptions::default())
        .await
        .unwrap();
    let charges = owner
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT provider, amount_usd::float8 AS amount FROM ai_spend
              WHERE status = 'charged' AND answer_id = $1 ORDER BY provider",
            [answer.into()],
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (
                row.try_get::<String>("", "provider").unwrap(),
                row.try_get::<f64>("", "amount").unwrap(),
            )
        })
        .collect::<Vec<_>>();
    assert_eq!(
        charges,
        vec![("anthropic".to_owned(), 0.25), ("openai".to_owned(), 0.625)]
    );
    assert_eq!(
        count(&owner, "SELECT count(*) FROM ai_attempts", vec![]).await,
        4
    );
}
