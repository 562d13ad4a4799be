//! What the application role may do with the migrated schema.

use crate::guard::HISTORY_TABLE;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbErr};

/// The schema owner's SECURITY DEFINER functions the application role may call.
const OWNER_FUNCTIONS: &[&str] = &[
    "cairn_session_context(text, interval)",
    "cairn_image_tenants()",
    "cairn_invitation_by_token(text)",
    "cairn_webhook_targets(text, text)",
    "cairn_project_tenant(uuid)",
    "cairn_due_scheduled_syncs(integer)",
    "cairn_prune_job_events(interval)",
    "cairn_token_context(text)",
    "cairn_note_token_use(uuid)",
    "cairn_sweep_memory_blobs(interval)",
    "cairn_note_tenant(uuid)",
    "cairn_index_embedding_space(uuid)",
    "cairn_drop_embedding_space(uuid)",
    "cairn_space_tenant(uuid)",
    "cairn_teams_with_embedding_spaces()",
    "cairn_knowledge_by_words(tsquery, tsquery, integer, uuid, text[], text, text, uuid)",
];

/// Grants `role` (the role Cairn serves requests as) data access to every table: row-level security
/// narrows it to one tenant. Migration bookkeeping stays read-only for it. Idempotent; run after every
/// migration, as the schema owner.
pub async fn grant_app_role<C: ConnectionTrait>(owner: &C, role: &str) -> Result<(), DbErr> {
    let role = format!("\"{}\"", role.replace('"', "\"\""));
    // Functions created by later migrations may not exist yet when an older schema is granted.
    let functions: String = OWNER_FUNCTIONS
        .iter()
        .map(|function| {
            format!(
                "DO $$ BEGIN
                     IF to_regprocedure('public.{function}') IS NOT NULL THEN
                         EXECUTE 'GRANT EXECUTE ON FUNCTION {function} TO {role}';
                     END IF;
                 END $$;"
            )
        })
        .collect();
    owner
        .execute_unprepared(&format!(
            "GRANT USAGE ON SCHEMA public TO {role};
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
             GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};
             {functions}
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
