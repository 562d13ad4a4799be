//! Personal API tokens: a member's bearer credential for one team (scripts, the command line
//! against a remote server, coding agents), with a scope (`read` or `write`), an expiry, and the
//! time it was last used. Only a hash of the token is stored; the token itself is shown once.
//!
//! `cairn_token_context(token_hash)` answers, in one round trip and without a tenant set, who a
//! live token acts as (a token that is revoked, expired, or whose member left the team answers
//! nothing), like `cairn_session_context` for sessions. `cairn_note_token_use(token_id)` records
//! its use from outside the request's transaction (which may be read-only).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            r#"
CREATE TABLE api_tokens (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    token_hash    text NOT NULL UNIQUE,
    scope         text NOT NULL CHECK (scope IN ('read', 'write')),
    expires_at    timestamptz NOT NULL,
    last_used_at  timestamptz,
    revoked_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_tokens_user_idx ON api_tokens (tenant_id, user_id);

CREATE FUNCTION cairn_token_context(token_hash text)
RETURNS TABLE (token_id uuid, user_id uuid, tenant_id uuid, role text, scope text,
               last_used_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
    SELECT t.id, t.user_id, t.tenant_id, m.role, t.scope, t.last_used_at
      FROM api_tokens t
      JOIN memberships m ON m.tenant_id = t.tenant_id AND m.user_id = t.user_id
     WHERE t.token_hash = cairn_token_context.token_hash
       AND t.revoked_at IS NULL
       AND t.expires_at > now()
$$;
REVOKE ALL ON FUNCTION cairn_token_context(text) FROM PUBLIC;

CREATE FUNCTION cairn_note_token_use(token_id uuid) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
    UPDATE api_tokens SET last_used_at = now() WHERE id = cairn_note_token_use.token_id
$$;
REVOKE ALL ON FUNCTION cairn_note_token_use(uuid) FROM PUBLIC;
"#,
        )
        .await?;
        db.execute_unprepared(&crate::m20261122_000001_initial_schema::tenant_policy_sql(
            "api_tokens",
        ))
        .await?;
        Ok(())
    }
}
