//! What the application role may do with the migrated schema.

use crate::guard::HISTORY_TABLE;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbErr};

/// Grants `role` (the role Cairn serves requests as) data access to every table: row-level security
/// narrows it to one tenant. Migration bookkeeping stays read-only for it. Idempotent; run after every
/// migration, as the schema owner.
pub async fn grant_app_role<C: ConnectionTrait>(owner: &C, role: &str) -> Result<(), DbErr> {
    let role = format!("\"{}\"", role.replace('"', "\"\""));
    owner
        .execute_unprepared(&format!(
            "GRANT USAGE ON SCHEMA public TO {role};
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
             GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};
             DO $$ BEGIN
                 IF to_regprocedure('public.cairn_session_context(text)') IS NOT NULL THEN
                     EXECUTE 'GRANT EXECUTE ON FUNCTION cairn_session_context(text) TO {role}';
                 END IF;
             END $$;
             REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON seaql_migrations FROM {role};
             DO $$ BEGIN
                 IF to_regclass('public.{HISTORY_TABLE}') IS NOT NULL THEN
                     EXECUTE 'REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {HISTORY_TABLE} FROM {role}';
                 END IF;
             END $$;"
        ))
        .await
        .map(|_| ())
}
