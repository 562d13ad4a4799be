//! `cairn_image_tenants()`: the tenants that have image rows, for the storage sweeper.
//!
//! The sweeper compares stored objects with image rows tenant by tenant, inside each tenant's
//! row-level-security transaction. Objects name their tenant in their key; a tenant whose rows point
//! at objects that are all gone has no key to name it, and row-level security hides every tenant's
//! rows until one is chosen. This function runs as the schema owner and reveals only tenant ids.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                r#"
CREATE FUNCTION cairn_image_tenants()
RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$ SELECT DISTINCT tenant_id FROM note_images $$;
REVOKE ALL ON FUNCTION cairn_image_tenants() FROM PUBLIC;
"#,
            )
            .await?;
        Ok(())
    }
}
