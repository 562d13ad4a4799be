//! AI: a team's providers (each key sealed by the application, like GitHub tokens), the team's
//! default chain and monthly budget, and the answers asked about notes with every attempt of their
//! failover chain. An answer marked answered holds text: the database refuses an empty success too.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(SQL).await?;
        for table in ["ai_providers", "ai_settings", "note_answers", "ai_attempts"] {
            db.execute_unprepared(&crate::m20261122_000001_initial_schema::tenant_policy_sql(
                table,
            ))
            .await?;
        }
        Ok(())
    }
}

const SQL: &str = r#"
CREATE TABLE ai_providers (
    id                   uuid PRIMARY KEY,
    tenant_id            uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name                 text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
    kind                 text NOT NULL CHECK (kind IN ('open_ai', 'anthropic', 'gemini',
                                                       'open_router', 'ollama', 'llama_cpp', 'custom')),
    base_url             text NOT NULL,
    key_id               text,
    sealed_key           bytea,
    -- The models the team enabled, by id; and models it added that the catalog lacks.
    models               text[] NOT NULL DEFAULT '{}',
    custom_models        jsonb NOT NULL DEFAULT '[]'::jsonb,
    monthly_budget_usd   numeric(12, 4) CHECK (monthly_budget_usd >= 0),
    out_of_credit_since  timestamptz,
    key_refused_since    timestamptz,
    cooling_until        timestamptz,
    last_error           text,
    last_error_at        timestamptz,
    created_by           uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name),
    UNIQUE (id, tenant_id),
    CHECK ((key_id IS NULL) = (sealed_key IS NULL))
);

CREATE TABLE ai_settings (
    tenant_id             uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    -- provider/model names, in order.
    chain                 text[] NOT NULL DEFAULT '{}',
    fall_over_on_refusal  boolean NOT NULL DEFAULT false,
    monthly_budget_usd    numeric(12, 4) CHECK (monthly_budget_usd >= 0),
    updated_by            uuid REFERENCES users (id) ON DELETE SET NULL,
    updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE note_answers (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    note_id      uuid NOT NULL,
    question     text NOT NULL CHECK (length(question) BETWEEN 1 AND 4000),
    status       text NOT NULL CHECK (status IN ('running', 'answered', 'failed')),
    answer       text,
    provider     text,
    model        text,
    error        text,
    tokens_in    integer NOT NULL DEFAULT 0,
    tokens_out   integer NOT NULL DEFAULT 0,
    cost_usd     numeric(14, 8) NOT NULL DEFAULT 0,
    duration_ms  integer,
    asked_by     uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    UNIQUE (id, tenant_id),
    FOREIGN KEY (note_id, tenant_id) REFERENCES project_notes (id, tenant_id) ON DELETE CASCADE,
    CHECK (status <> 'answered' OR length(btrim(coalesce(answer, ''))) > 0)
);
CREATE INDEX note_answers_note_idx ON note_answers (note_id, created_at DESC);

CREATE TABLE ai_attempts (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    answer_id       uuid NOT NULL,
    seq             integer NOT NULL,
    provider        text NOT NULL,
    provider_kind   text NOT NULL,
    model           text NOT NULL,
    -- NULL: it answered.
    class           text,
    status          integer,
    error           text,
    tokens_in       integer NOT NULL DEFAULT 0,
    tokens_out      integer NOT NULL DEFAULT 0,
    cost_usd        numeric(14, 8) NOT NULL DEFAULT 0,
    latency_ms      integer NOT NULL DEFAULT 0,
    first_token_ms  integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (answer_id, seq),
    FOREIGN KEY (answer_id, tenant_id) REFERENCES note_answers (id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX ai_attempts_spend_idx ON ai_attempts (tenant_id, created_at);
"#;
