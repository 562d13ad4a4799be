//! Accounts a team can trust: invitations that need the invited address, single-use links for
//! password resets and e-mail verification, verified addresses, rate limits decided atomically,
//! sessions that end when idle, and a team that always keeps an owner, enforced by the database.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(SCHEMA).await?;
        db.execute_unprepared(&crate::m20261122_000001_initial_schema::tenant_policy_sql(
            "invitations",
        ))
        .await?;
        Ok(())
    }
}

const SCHEMA: &str = r#"
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;

-- A team's invitation of an e-mail address. Only the SHA-256 of its token is kept: the token itself
-- travels in the link and nowhere else. At most one pending invitation per address per team.
CREATE TABLE invitations (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email         text NOT NULL,
    role          text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    token_hash    text NOT NULL UNIQUE,
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'accepted', 'revoked', 'expired')),
    invited_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    accepted_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    sent_by_mail  boolean NOT NULL DEFAULT false,
    send_count    integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_sent_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    finished_at   timestamptz
);
CREATE UNIQUE INDEX invitations_one_pending_per_address
    ON invitations (tenant_id, lower(email)) WHERE status = 'pending';
CREATE INDEX invitations_tenant_created_idx ON invitations (tenant_id, created_at DESC);

-- Single-use links sent to a user's address: a password reset, or the proof that the address is
-- theirs. Account data, not a tenant's. Only the token's SHA-256 is kept.
CREATE TABLE account_tokens (
    token_hash  text PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     text NOT NULL CHECK (purpose IN ('password_reset', 'email_verification')),
    email       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose);

-- Events counted by the rate limits (sign-ups, log-in attempts, resets, invitations), per bucket.
-- Shared by every instance; a bucket is decided under an advisory lock, so concurrent requests
-- cannot all pass a check made before any of them was counted. Replaces login_attempts, which is
-- kept, unused, until a marked destructive migration drops it.
CREATE TABLE rate_limit_events (
    id      bigserial PRIMARY KEY,
    bucket  text NOT NULL,
    at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rate_limit_events_bucket_at_idx ON rate_limit_events (bucket, at);

-- An invitation found by its token's hash, across tenants: the invitee is no member yet, so
-- row-level security would hide it. Answers only for a hash, which only the link's holder can make.
CREATE FUNCTION cairn_invitation_by_token(token_hash text)
RETURNS TABLE (id uuid, tenant_id uuid, tenant_name text, email text, role text, status text,
               expires_at timestamptz, inviter_name text, sent_by_mail boolean)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
    SELECT i.id, i.tenant_id, t.name, i.email, i.role, i.status, i.expires_at,
           coalesce(u.display_name, ''), i.sent_by_mail
      FROM invitations i
      JOIN tenants t ON t.id = i.tenant_id
      LEFT JOIN users u ON u.id = i.invited_by
     WHERE i.token_hash = cairn_invitation_by_token.token_hash
$$;
REVOKE ALL ON FUNCTION cairn_invitation_by_token(text) FROM PUBLIC;

-- A team keeps at least one owner, whatever runs concurrently: removing or demoting an owner first
-- locks the team's row, so two such changes to one team take turns, and the second one counts the
-- owners the first left (each statement of a plpgsql function sees what committed before it).
-- When the team itself is being deleted, its row is already gone and nothing is checked.
CREATE FUNCTION cairn_keep_an_owner() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.role = 'owner' THEN
        RETURN NEW;
    END IF;
    PERFORM 1 FROM tenants WHERE tenants.id = OLD.tenant_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN COALESCE(NEW, OLD);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM memberships m
                    WHERE m.tenant_id = OLD.tenant_id AND m.role = 'owner'
                      AND m.user_id <> OLD.user_id) THEN
        RAISE EXCEPTION 'a team needs at least one owner'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'memberships_keep_an_owner';
    END IF;
    RETURN COALESCE(NEW, OLD);
END
$$;
CREATE TRIGGER memberships_keep_an_owner
    BEFORE DELETE OR UPDATE OF role ON memberships
    FOR EACH ROW WHEN (OLD.role = 'owner')
    EXECUTE FUNCTION cairn_keep_an_owner();

-- Sessions also end after a time without use. The context now says when the session was last
-- seen, so the server can note its use (at most every few minutes, outside the request's own
-- transaction, which may be rolled back).
DROP FUNCTION cairn_session_context(text);
CREATE FUNCTION cairn_session_context(token_hash text, idle_timeout interval)
RETURNS TABLE (session_id uuid, user_id uuid, tenant_id uuid, role text, last_seen_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
    SELECT s.id, s.user_id, m.tenant_id, m.role, s.last_seen_at
      FROM sessions s
      LEFT JOIN memberships m ON m.tenant_id = s.active_tenant_id AND m.user_id = s.user_id
     WHERE s.token_hash = cairn_session_context.token_hash
       AND s.revoked_at IS NULL
       AND s.expires_at > now()
       AND s.last_seen_at > now() - idle_timeout
$$;
REVOKE ALL ON FUNCTION cairn_session_context(text, interval) FROM PUBLIC;
"#;
