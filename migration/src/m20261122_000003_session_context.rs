//! One round trip from a session token to who is acting where: `cairn_session_context(token_hash)`.
//!
//! Row-level security keeps memberships invisible until `app.user_id` is set, which would take a
//! transaction and three more round trips per request just to learn the caller's role. This function
//! runs as the schema owner (SECURITY DEFINER) and answers only for a token hash, which only the
//! cookie's holder can produce: a valid, unexpired, unrevoked session, its user, its active tenant if
//! the user is still a member of it, and the role there.

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
CREATE FUNCTION cairn_session_context(token_hash text)
RETURNS TABLE (session_id uuid, user_id uuid, tenant_id uuid, role text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
    SELECT s.id, s.user_id, m.tenant_id, m.role
      FROM sessions s
      LEFT JOIN memberships m ON m.tenant_id = s.active_tenant_id AND m.user_id = s.user_id
     WHERE s.token_hash = cairn_session_context.token_hash
       AND s.revoked_at IS NULL
       AND s.expires_at > now()
$$;
REVOKE ALL ON FUNCTION cairn_session_context(text) FROM PUBLIC;
"#,
            )
            .await?;
        Ok(())
    }
}
