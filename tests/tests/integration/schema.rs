//! The schema's own guarantees: cascades, uniqueness, one active run per project, vectors.

use crate::fixtures::{axis_vector, count, exec, seed_tenant, try_exec};
use domain::DomainError;
use domain::sea_orm::{ConnectionTrait, DbBackend, Statement};
use tests::TestDb;
use uuid::Uuid;

#[tokio::test]
async fn deleting_a_note_removes_its_images() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    let s = seed_tenant(&owner, "alpha").await;
    exec(
        &owner,
        "DELETE FROM project_notes WHERE id = $1",
        vec![s.note.into()],
    )
    .await;
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM note_images WHERE id = $1",
            vec![s.image.into()]
        )
        .await,
        0
    );
}

#[tokio::test]
async fn deleting_a_memory_entry_removes_its_images() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    let s = seed_tenant(&owner, "alpha").await;
    let image = Uuid::new_v4();
    exec(
        &owner,
        "INSERT INTO note_images (id, tenant_id, memory_entry_id, image_key, content_type, byte_size, width, height)
         VALUES ($1, $2, $3, 'k.png', 'image/png', 1, 1, 1)",
        vec![image.into(), s.tenant.into(), s.entry.into()],
    )
    .await;
    exec(
        &owner,
        "DELETE FROM memory_entries WHERE id = $1",
        vec![s.entry.into()],
    )
    .await;
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM note_images WHERE id = $1",
            vec![image.into()]
        )
        .await,
        0
    );
}

#[tokio::test]
async fn deleting_a_project_removes_everything_in_it_and_nothing_else() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    let a = seed_tenant(&owner, "alpha").await;
    let b = seed_tenant(&owner, "beta").await;
    exec(
        &owner,
        "DELETE FROM projects WHERE id = $1",
        vec![a.project.into()],
    )
    .await;
    for table in [
        "project_notes",
        "note_images",
        "memory_entries",
        "project_syncs",
        "code_analysis_runs",
        "workflow_insights",
    ] {
        let sql = format!("SELECT count(*) FROM {table} WHERE tenant_id = $1");
        assert_eq!(
            count(&owner, &sql, vec![a.tenant.into()]).await,
            0,
            "{table} of the deleted project"
        );
        assert_eq!(
            count(&owner, &sql, vec![b.tenant.into()]).await,
            1,
            "{table} of the other tenant"
        );
    }
}

#[tokio::test]
async fn an_image_key_is_unique_per_note_and_maps_to_conflict() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    let s = seed_tenant(&owner, "alpha").await;
    let duplicate = try_exec(&owner, "INSERT INTO note_images (id, tenant_id, note_id, image_key, content_type, byte_size, width, height)
             SELECT $1, tenant_id, note_id, image_key, content_type, byte_size, width, height
               FROM note_images WHERE id = $2", vec![Uuid::new_v4().into(), s.image.into()]).await
        .expect_err("a second row with the same (note_id, image_key) must be refused");
    assert!(matches!(
        DomainError::from(duplicate),
        DomainError::Conflict(_)
    ));
}

#[tokio::test]
async fn an_image_must_belong_to_something_and_to_its_own_tenant() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    let a = seed_tenant(&owner, "alpha").await;
    let b = seed_tenant(&owner, "beta").await;
    let orphan = owner
        .execute_unprepared(&format!(
            "INSERT INTO note_images (id, tenant_id, image_key, content_type, byte_size, width, height)
             VALUES ('{}', '{}', 'k.png', 'image/png', 1, 1, 1)",
            Uuid::new_v4(),
            a.tenant
        ))
        .await;
    assert!(
        orphan.is_err(),
        "an image with neither note nor memory entry"
    );
    // Even the owner role (which bypasses RLS) cannot attach tenant A's image to tenant B's note.
    let crossed = owner
        .execute_unprepared(&format!(
            "INSERT INTO note_images (id, tenant_id, note_id, image_key, content_type, byte_size, width, height)
             VALUES ('{}', '{}', '{}', 'x.png', 'image/png', 1, 1, 1)",
            Uuid::new_v4(),
            a.tenant,
            b.note
        ))
        .await;
    assert!(crossed.is_err(), "a row referencing another tenant's note");
}

#[tokio::test]
async fn only_one_queued_or_running_sync_per_project() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    let s = seed_tenant(&owner, "alpha").await;
    let insert = "INSERT INTO project_syncs (id, tenant_id, project_id, branch, status) VALUES ($1, $2, $3, 'main', $4)";
    let first = Uuid::new_v4();
    exec(
        &owner,
        insert,
        vec![
            first.into(),
            s.tenant.into(),
            s.project.into(),
            "queued".into(),
        ],
    )
    .await;
    for status in ["queued", "running"] {
        let second = try_exec(
            &owner,
            insert,
            vec![
                Uuid::new_v4().into(),
                s.tenant.into(),
                s.project.into(),
                status.into(),
            ],
        )
        .await
        .expect_err("a second active sync must be refused by the database");
        assert!(matches!(
            DomainError::from(second),
            DomainError::Conflict(_)
        ));
    }
    exec(
        &owner,
        "UPDATE project_syncs SET status = 'completed' WHERE id = $1",
        vec![first.into()],
    )
    .await;
    exec(
        &owner,
        insert,
        vec![
            Uuid::new_v4().into(),
            s.tenant.into(),
            s.project.into(),
            "running".into(),
        ],
    )
    .await;
}

#[tokio::test]
async fn only_one_queued_or_running_analysis_per_project() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    let s = seed_tenant(&owner, "alpha").await;
    let insert = "INSERT INTO code_analysis_runs (id, tenant_id, project_id, status) VALUES ($1, $2, $3, 'running')";
    exec(
        &owner,
        insert,
        vec![Uuid::new_v4().into(), s.tenant.into(), s.project.into()],
    )
    .await;
    let second = try_exec(
        &owner,
        insert,
        vec![Uuid::new_v4().into(), s.tenant.into(), s.project.into()],
    )
    .await;
    assert!(second.is_err());
}

#[tokio::test]
async fn a_sync_is_the_previous_of_at_most_one_sync() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    let s = seed_tenant(&owner, "alpha").await;
    let insert =
        "INSERT INTO project_syncs (id, tenant_id, project_id, branch, status, previous_sync_id)
                  VALUES ($1, $2, $3, 'main', 'completed', $4)";
    exec(
        &owner,
        insert,
        vec![
            Uuid::new_v4().into(),
            s.tenant.into(),
            s.project.into(),
            s.sync.into(),
        ],
    )
    .await;
    let fork = try_exec(
        &owner,
        insert,
        vec![
            Uuid::new_v4().into(),
            s.tenant.into(),
            s.project.into(),
            s.sync.into(),
        ],
    )
    .await;
    assert!(fork.is_err(), "two syncs claiming the same previous sync");
}

#[tokio::test]
async fn insights_are_found_by_cosine_distance_through_the_hnsw_index() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    let s = seed_tenant(&owner, "alpha").await;
    for axis in [1, 2] {
        exec(
            &owner,
            "INSERT INTO workflow_insights (id, tenant_id, project_id, content, embedding)
             VALUES ($1, $2, $3, $4, $5::vector)",
            vec![
                Uuid::new_v4().into(),
                s.tenant.into(),
                s.project.into(),
                format!("axis {axis}").into(),
                axis_vector(axis).into(),
            ],
        )
        .await;
    }
    let index = count(
        &owner,
        "SELECT count(*) FROM pg_indexes WHERE tablename = 'workflow_insights'
            AND indexdef LIKE '%USING hnsw (embedding vector_cosine_ops)%'",
        vec![],
    )
    .await;
    assert_eq!(index, 1);
    // Force the index so the test proves it answers, not just that it exists.
    owner
        .execute_unprepared("SET enable_seqscan = off")
        .await
        .unwrap();
    let nearest = owner
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT content FROM workflow_insights ORDER BY embedding <=> $1::vector LIMIT 1",
            [axis_vector(2).into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<String>("", "content")
        .unwrap();
    assert_eq!(nearest, "axis 2");
}

#[tokio::test]
async fn memory_entries_are_searchable_by_full_text() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    seed_tenant(&owner, "alpha").await;
    // The seeded file entry's text is its blob's; its title is its own.
    let matching = |words: &'static str| {
        let owner = &owner;
        async move {
            count(
                owner,
                "SELECT count(*) FROM memory_entries e
                   LEFT JOIN memory_blobs b ON b.tenant_id = e.tenant_id AND b.sha = e.blob_sha
                  WHERE e.search_vector @@ websearch_to_tsquery('english', $1)
                     OR b.search_vector @@ websearch_to_tsquery('english', $1)",
                vec![words.into()],
            )
            .await
        }
    };
    assert_eq!(matching("deploying").await, 1, "by the blob's text");
    assert_eq!(matching("README.md").await, 1, "by the title");
    assert_eq!(matching("kubernetes").await, 0);
}
