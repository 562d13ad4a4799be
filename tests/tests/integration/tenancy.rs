//! Tenant isolation in the database: row-level security as the application role.

use crate::fixtures::{count, exec, seed_tenant};
use api::ids::{TenantId, UserId};
use api::tenants::Role;
use domain::entities::projects;
use domain::sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set, TransactionTrait};
use domain::{Db, DomainError, TenantCtx};
use tests::{TestDb, spawn_app_on};
use uuid::Uuid;

/// Every table that carries `tenant_id`, plus `tenants` itself.
fn tenant_tables() -> impl Iterator<Item = &'static str> {
    std::iter::once("tenants").chain(migration::TENANT_TABLES.iter().copied())
}

#[tokio::test]
async fn the_app_role_is_neither_superuser_nor_bypassrls() {
    let db = TestDb::migrated().await;
    let app = db.app().await;
    let unsafe_roles = count(
        &app,
        "SELECT count(*) FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolbypassrls)",
        vec![],
    )
    .await;
    assert_eq!(unsafe_roles, 0);
}

#[tokio::test]
async fn every_tenant_table_forces_row_level_security() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    for table in tenant_tables() {
        let forced = count(
            &owner,
            "SELECT count(*) FROM pg_class WHERE relname = $1 AND relrowsecurity AND relforcerowsecurity",
            vec![table.into()],
        )
        .await;
        assert_eq!(
            forced, 1,
            "{table} must ENABLE and FORCE row-level security"
        );
    }
    let unprotected = count(
        &owner,
        "SELECT count(*) FROM information_schema.columns c JOIN pg_class t ON t.relname = c.table_name
          WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND NOT t.relforcerowsecurity",
        vec![],
    )
    .await;
    assert_eq!(
        unprotected, 0,
        "a table with tenant_id lacks forced row-level security"
    );
}

#[tokio::test]
async fn with_no_tenant_set_the_app_role_sees_no_rows() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    seed_tenant(&owner, "alpha").await;
    seed_tenant(&owner, "beta").await;
    let app = db.app().await;
    for table in tenant_tables() {
        let sql = format!("SELECT count(*) FROM {table}");
        assert!(count(&owner, &sql, vec![]).await > 0, "seeded {table}");
        assert_eq!(
            count(&app, &sql, vec![]).await,
            0,
            "{table} leaks rows without a tenant"
        );
    }
}

#[tokio::test]
async fn tenant_a_cannot_read_update_or_delete_tenant_b_rows_even_by_id() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    let a = seed_tenant(&owner, "alpha").await;
    let b = seed_tenant(&owner, "beta").await;
    let app = Db::new(db.app().await);
    let ctx_a = TenantCtx::for_member(
        &app,
        UserId::from_uuid(a.user),
        TenantId::from_uuid(a.tenant),
    )
    .await
    .expect("a's owner is a member of a");
    assert_eq!(ctx_a.role(), Role::Owner);

    let txn = app.begin_tenant(&ctx_a).await.unwrap();
    // Read by id: A's own rows are there, B's are not.
    for (table, own, foreign) in [
        ("projects", a.project, b.project),
        ("project_notes", a.note, b.note),
        ("note_images", a.image, b.image),
        ("memory_entries", a.entry, b.entry),
        ("project_syncs", a.sync, b.sync),
        ("workflow_insights", a.insight, b.insight),
    ] {
        let sql = format!("SELECT count(*) FROM {table} WHERE id = $1");
        assert_eq!(count(&txn, &sql, vec![own.into()]).await, 1, "own {table}");
        assert_eq!(
            count(&txn, &sql, vec![foreign.into()]).await,
            0,
            "foreign {table}"
        );
    }
    assert!(
        projects::Entity::find_by_id(b.project)
            .one(&txn)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(count(&txn, "SELECT count(*) FROM tenants", vec![]).await, 1);

    // Update and delete by id touch nothing.
    let renamed = exec(
        &txn,
        "UPDATE projects SET name = 'pwned' WHERE id = $1",
        vec![b.project.into()],
    )
    .await;
    let deleted = exec(
        &txn,
        "DELETE FROM project_notes WHERE id = $1",
        vec![b.note.into()],
    )
    .await;
    let wiped = exec(&txn, "DELETE FROM workflow_insights", vec![]).await;
    assert_eq!((renamed, deleted), (0, 0));
    assert_eq!(wiped, 1, "only A's own insight");

    // Writing a row into B, or moving A's row to B, is refused by the policy's WITH CHECK.
    let foreign_insert = projects::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(b.tenant),
        name: Set("smuggled".into()),
        description: Set(String::new()),
        github_path: Set(String::new()),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    assert!(
        foreign_insert.is_err(),
        "inserting into another tenant must fail"
    );
    txn.rollback().await.unwrap();

    let txn = app.begin_tenant(&ctx_a).await.unwrap();
    let moved = txn
        .execute_unprepared(&format!(
            "UPDATE projects SET tenant_id = '{}' WHERE id = '{}'",
            b.tenant, a.project
        ))
        .await;
    assert!(moved.is_err(), "moving a row to another tenant must fail");
    txn.rollback().await.unwrap();

    // B's rows are untouched, as the owner sees them.
    let name = count(
        &owner,
        "SELECT count(*) FROM projects WHERE id = $1 AND name = 'beta project'",
        vec![b.project.into()],
    )
    .await;
    assert_eq!(name, 1);
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM project_notes WHERE id = $1",
            vec![b.note.into()]
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &owner,
            "SELECT count(*) FROM workflow_insights WHERE id = $1",
            vec![b.insight.into()]
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_foreign_tenant_is_answered_like_a_missing_one() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    let a = seed_tenant(&owner, "alpha").await;
    let b = seed_tenant(&owner, "beta").await;
    let app = Db::new(db.app().await);

    let foreign = TenantCtx::for_member(
        &app,
        UserId::from_uuid(a.user),
        TenantId::from_uuid(b.tenant),
    )
    .await;
    let missing = TenantCtx::for_member(
        &app,
        UserId::from_uuid(a.user),
        TenantId::from_uuid(Uuid::new_v4()),
    )
    .await;
    assert!(matches!(foreign, Err(DomainError::NotFound)), "{foreign:?}");
    assert!(matches!(missing, Err(DomainError::NotFound)), "{missing:?}");
}

#[tokio::test]
async fn a_user_sees_only_their_own_memberships_before_choosing_a_tenant() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    let a = seed_tenant(&owner, "alpha").await;
    seed_tenant(&owner, "beta").await;
    let app = Db::new(db.app().await);
    let txn = app.begin_as_user(UserId::from_uuid(a.user)).await.unwrap();
    assert_eq!(
        count(&txn, "SELECT count(*) FROM memberships", vec![]).await,
        1
    );
    assert_eq!(count(&txn, "SELECT count(*) FROM tenants", vec![]).await, 1);
    assert_eq!(
        count(&txn, "SELECT count(*) FROM projects", vec![]).await,
        0
    );
    txn.commit().await.unwrap();
}

#[tokio::test]
async fn the_tenant_setting_does_not_outlive_its_transaction_on_a_pooled_connection() {
    let db = TestDb::migrated().await;
    let owner = db.owner().await;
    let a = seed_tenant(&owner, "alpha").await;
    // One connection, so the second query must reuse the one the tenant transaction ran on.
    let pool = server::database::connect(&db.app_url(), 1).await.unwrap();
    let app = Db::new(pool.clone());
    let ctx = TenantCtx::for_member(
        &app,
        UserId::from_uuid(a.user),
        TenantId::from_uuid(a.tenant),
    )
    .await
    .unwrap();
    let txn = app.begin_tenant(&ctx).await.unwrap();
    assert_eq!(
        count(&txn, "SELECT count(*) FROM projects", vec![]).await,
        1
    );
    txn.commit().await.unwrap();
    assert_eq!(
        count(&pool, "SELECT count(*) FROM projects", vec![]).await,
        0
    );
    let outside = pool.begin().await.unwrap();
    assert_eq!(
        count(&outside, "SELECT count(*) FROM projects", vec![]).await,
        0
    );
    outside.commit().await.unwrap();
}

#[tokio::test]
async fn the_server_refuses_to_serve_as_a_role_that_bypasses_rls() {
    let db = TestDb::migrated().await;
    let owner_url = db.owner_url();
    let result = spawn_app_on(db, |settings| {
        settings.database.app_url = Some(owner_url.into());
    })
    .await;
    let error = format!("{:#}", result.err().expect("building must fail"));
    assert!(error.contains("BYPASSRLS"), "{error}");
}
