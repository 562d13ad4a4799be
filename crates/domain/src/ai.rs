//! AI records: a team's providers (keys sealed like GitHub tokens, never shown), its default chain
//! and monthly budget, what each provider's state is (out of credit, key refused, cooling down),
//! and the answers asked about notes with every attempt of their chain. This crate calls no model:
//! the server's router does, and hands the results here as data.

use crate::audit::{self, AuditAction};
use crate::secrets::{Sealed, SecretKeys};
use crate::{DomainError, TenantTxn};
use api::ai::{
    AiProvider, AiSettings, AnswerStatus, Attempt, CustomModel, FailureClass, NoteAnswer,
    ProviderKind, ValidAiProvider,
};
use api::ids::{AiProviderId, NoteAnswerId, NoteId, UserId};
use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement, Value};
use secrecy::SecretString;
use uuid::Uuid;

/// A provider's state as kept between calls.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProviderState {
    /// Out of credit since.
    pub out_of_credit_since: Option<DateTime<Utc>>,
    /// Key refused since.
    pub key_refused_since: Option<DateTime<Utc>>,
    /// Cooling down until.
    pub cooling_until: Option<DateTime<Utc>>,
    /// The last failure, sanitised.
    pub last_error: Option<String>,
}

/// A provider with its key opened: for the router, never for display.
pub struct CallableProvider {
    /// Name in chains.
    pub name: String,
    /// Kind.
    pub kind: ProviderKind,
    /// API root.
    pub base_url: String,
    /// The key, opened.
    pub api_key: Option<SecretString>,
    /// Enabled models.
    pub models: Vec<String>,
    /// Models the team added that the catalog lacks.
    pub custom_models: Vec<CustomModel>,
    /// What is left of its own monthly budget, if it has one.
    pub budget_left_usd: Option<f64>,
    /// Its state.
    pub state: ProviderState,
}

fn require_admin(tx: &TenantTxn) -> Result<(), DomainError> {
    tx.ctx().require(api::tenants::Permission::ManageAi)
}

/// What binds a sealed key to its row and to where it may be sent: it opens only for the kind and
/// address it was given for, so a provider re-pointed behind the form's back (in the database)
/// has no key to send.
pub(crate) fn key_context(tenant: Uuid, provider: Uuid, kind: &str, base_url: &str) -> String {
    format!("cairn:{tenant}:ai_provider:{provider}:{kind}:{base_url}")
}

/// How keys sealed before they were bound to their address were bound: to their row only. They
/// still open while the provider keeps the kind and address they were used with (changing either
/// asks for the key again, which seals it bound).
pub(crate) fn legacy_key_context(tenant: Uuid, provider: Uuid) -> String {
    format!("cairn:{tenant}:ai_provider:{provider}")
}

fn tenant(tx: &TenantTxn) -> Value {
    tx.ctx().tenant_id().into_uuid().into()
}

const SELECT_PROVIDERS: &str = "SELECT p.id, p.name, p.kind, p.base_url, p.key_id, p.sealed_key,
        p.models, p.custom_models, p.monthly_budget_usd::float8 AS budget, p.out_of_credit_since, p.key_refused_since, p.cooling_until, p.last_error,
        p.updated_at,
        coalesce((SELECT sum(s.amount_usd) FROM ai_spend s
                   WHERE s.tenant_id = p.tenant_id AND s.provider = p.name AND s.status = 'charged'
                     AND s.created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'),
                 0)::float8 AS spent
   FROM ai_providers p";

/// A provider as `SELECT_PROVIDERS` reads it.
#[derive(FromQueryResult)]
struct ProviderRow {
    id: Uuid,
    name: String,
    kind: String,
    base_url: String,
    key_id: Option<String>,
    sealed_key: Option<Vec<u8>>,
    models: Vec<String>,
    custom_models: serde_json::Value,
    budget: Option<f64>,
    out_of_credit_since: Option<DateTime<FixedOffset>>,
    key_refused_since: Option<DateTime<FixedOffset>>,
    cooling_until: Option<DateTime<FixedOffset>>,
    last_error: Option<String>,
    updated_at: DateTime<FixedOffset>,
    spent: f64,
}

fn rfc3339(at: Option<DateTime<FixedOffset>>) -> Option<String> {
    at.map(|at| at.to_rfc3339())
}

fn utc(at: Option<DateTime<FixedOffset>>) -> Option<DateTime<Utc>> {
    at.map(|at| at.with_timezone(&Utc))
}

impl ProviderRow {
    fn kind(&self) -> Result<ProviderKind, DomainError> {
        ProviderKind::parse(&self.kind)
            .ok_or_else(|| DomainError::Internal(format!("provider kind {}", self.kind)))
    }

    fn custom_models(&self) -> Vec<CustomModel> {
        serde_json::from_value(self.custom_models.clone()).unwrap_or_default()
    }

    fn into_provider(self) -> Result<AiProvider, DomainError> {
        Ok(AiProvider {
            id: AiProviderId::from_uuid(self.id),
            kind: self.kind()?,
            custom_models: self.custom_models(),
            key_set_at: self.key_id.as_ref().map(|_| self.updated_at.to_rfc3339()),
            name: self.name,
            base_url: self.base_url,
            models: self.models,
            monthly_budget_usd: self.budget,
            out_of_credit_since: rfc3339(self.out_of_credit_since),
            key_refused_since: rfc3339(self.key_refused_since),
            cooling_until: rfc3339(self.cooling_until),
            last_error: self.last_error,
            spent_this_month_usd: self.spent,
        })
    }
}

/// Adds a model the catalog lacks to a provider (or replaces the one of that id), and enables it.
/// Owners and admins only.
pub async fn add_custom_model(
    tx: &TenantTxn,
    id: AiProviderId,
    model: &CustomModel,
) -> Result<AiProvider, DomainError> {
    require_admin(tx)?;
    let provider = get_provider(tx, id).await?;
    let mut models: Vec<CustomModel> = provider
        .custom_models
        .into_iter()
        .filter(|m| m.id != model.id)
        .collect();
    models.push(model.clone());
    let mut enabled = provider.models;
    if !enabled.contains(&model.id) {
        enabled.push(model.id.clone());
    }
    let custom = serde_json::to_value(&models)
        .map_err(|e| DomainError::Internal(format!("custom models: {e}")))?;
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE ai_providers SET custom_models = $3, models = $4, updated_at = now()
              WHERE id = $1 AND tenant_id = $2",
            [
                id.into_uuid().into(),
                tenant(tx),
                custom.into(),
                enabled.into(),
            ],
        ))
        .await?;
    audit::record(
        tx.txn(),
        tx.ctx(),
        AuditAction::AiProviderSet,
        id.into_uuid(),
        serde_json::json!({"name": provider.name, "model_added": model.id}),
    )
    .await?;
    get_provider(tx, id).await
}

/// The team's providers, never their keys.
pub async fn list_providers(tx: &TenantTxn) -> Result<Vec<AiProvider>, DomainError> {
    ProviderRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("{SELECT_PROVIDERS} WHERE p.tenant_id = $1 ORDER BY p.name"),
        [tenant(tx)],
    ))
    .all(tx.txn())
    .await?
    .into_iter()
    .map(ProviderRow::into_provider)
    .collect()
}

/// One of the team's providers; another team's is `NotFound`.
pub async fn get_provider(tx: &TenantTxn, id: AiProviderId) -> Result<AiProvider, DomainError> {
    ProviderRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("{SELECT_PROVIDERS} WHERE p.tenant_id = $1 AND p.id = $2"),
        [tenant(tx), id.into_uuid().into()],
    ))
    .one(tx.txn())
    .await?
    .ok_or(DomainError::NotFound)?
    .into_provider()
}

fn name_taken(error: sea_orm::DbErr) -> DomainError {
    if error
        .to_string()
        .contains("ai_providers_tenant_id_name_key")
    {
        DomainError::Invalid {
            field: "name".into(),
            reason: "another provider of this team has that name".into(),
        }
    } else {
        error.into()
    }
}

/// Adds a provider. Owners and admins only.
pub async fn add_provider(
    tx: &TenantTxn,
    keys: &SecretKeys,
    provider: &ValidAiProvider,
) -> Result<AiProvider, DomainError> {
    require_admin(tx)?;
    let id = Uuid::now_v7();
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO ai_providers (id, tenant_id, name, kind, base_url, models, created_by,
                                       monthly_budget_usd)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            [
                id.into(),
                tenant(tx),
                provider.name.clone().into(),
                provider.kind.as_str().into(),
                provider.base_url.clone().into(),
                provider.models.clone().into(),
                tx.ctx().user_id().map(UserId::into_uuid).into(),
                provider.monthly_budget_usd.into(),
            ],
        ))
        .await
        .map_err(name_taken)?;
    if let Some(key) = &provider.api_key {
        seal_key(tx, keys, id, provider, key).await?;
    }
    audit::record(
        tx.txn(),
        tx.ctx(),
        AuditAction::AiProviderSet,
        id,
        serde_json::json!({"name": provider.name, "kind": provider.kind.as_str(), "key_set": provider.api_key.is_some()}),
    )
    .await?;
    get_provider(tx, AiProviderId::from_uuid(id)).await
}

async fn seal_key(
    tx: &TenantTxn,
    keys: &SecretKeys,
    id: Uuid,
    provider: &ValidAiProvider,
    key: &str,
) -> Result<(), DomainError> {
    let sealed = keys.seal(
        key.as_bytes(),
        &key_context(
            tx.ctx().tenant_id().into_uuid(),
            id,
            provider.kind.as_str(),
            &provider.base_url,
        ),
    )?;
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE ai_providers SET key_id = $3, sealed_key = $4, updated_at = now(),
                    out_of_credit_since = NULL, key_refused_since = NULL, cooling_until = NULL
              WHERE id = $1 AND tenant_id = $2",
            [
                id.into(),
                tenant(tx),
                sealed.key_id.into(),
                sealed.blob.into(),
            ],
        ))
        .await?;
    Ok(())
}

/// Changes a provider (a key given replaces the one set; none keeps it). A key stays with the kind
/// and address it was given for: changing either needs the key again (`api_key`), or the form
/// could re-point someone's key at a server of one's own and press Test. Owners and admins only.
pub async fn update_provider(
    tx: &TenantTxn,
    keys: &SecretKeys,
    id: AiProviderId,
    provider: &ValidAiProvider,
) -> Result<AiProvider, DomainError> {
    require_admin(tx)?;
    let current = get_provider(tx, id).await?;
    let repointed = current.kind != provider.kind || current.base_url != provider.base_url;
    if repointed && current.key_set_at.is_some() && provider.api_key.is_none() {
        return Err(DomainError::Invalid {
            field: "api_key".into(),
            reason:
                "enter the key again: a key is kept only for the kind and address it was given for"
                    .into(),
        });
    }
    let updated = tx
        .txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE ai_providers SET name = $3, kind = $4, base_url = $5, models = $6,
                    monthly_budget_usd = $7, updated_at = now()
              WHERE id = $1 AND tenant_id = $2",
            [
                id.into_uuid().into(),
                tenant(tx),
                provider.name.clone().into(),
                provider.kind.as_str().into(),
                provider.base_url.clone().into(),
                provider.models.clone().into(),
                provider.monthly_budget_usd.into(),
            ],
        ))
        .await
        .map_err(name_taken)?;
    if updated.rows_affected() == 0 {
        return Err(DomainError::NotFound);
    }
    if let Some(key) = &provider.api_key {
        seal_key(tx, keys, id.into_uuid(), provider, key).await?;
    }
    audit::record(
        tx.txn(),
        tx.ctx(),
        AuditAction::AiProviderSet,
        id.into_uuid(),
        serde_json::json!({"name": provider.name, "kind": provider.kind.as_str(), "key_set": provider.api_key.is_some()}),
    )
    .await?;
    get_provider(tx, id).await
}

/// Removes a provider. Owners and admins only.
pub async fn remove_provider(tx: &TenantTxn, id: AiProviderId) -> Result<(), DomainError> {
    require_admin(tx)?;
    let provider = get_provider(tx, id).await?;
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM ai_providers WHERE id = $1 AND tenant_id = $2",
            [id.into_uuid().into(), tenant(tx)],
        ))
        .await?;
    audit::record(
        tx.txn(),
        tx.ctx(),
        AuditAction::AiProviderRemove,
        id.into_uuid(),
        serde_json::json!({"name": provider.name}),
    )
    .await
}

/// Clears "out of credit", "key refused" and a cooldown (an admin topped up the account). Owners
/// and admins only.
pub async fn clear_provider_state(
    tx: &TenantTxn,
    id: AiProviderId,
) -> Result<AiProvider, DomainError> {
    require_admin(tx)?;
    let provider = get_provider(tx, id).await?;
    record_state(tx, &provider.name, &ProviderState::default()).await?;
    audit::record(
        tx.txn(),
        tx.ctx(),
        AuditAction::AiProviderClear,
        id.into_uuid(),
        serde_json::json!({"name": provider.name}),
    )
    .await?;
    get_provider(tx, id).await
}

/// Saves what the router learnt of a provider. Every field is the state to keep, absent ones
/// included: no last error clears the one stored (a router starts from the stored state, so a
/// call that went well writes back the error it was given). `last_error_at` is when the stored
/// error last changed.
pub async fn record_state(
    tx: &TenantTxn,
    name: &str,
    state: &ProviderState,
) -> Result<(), DomainError> {
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE ai_providers
                SET out_of_credit_since = $3, key_refused_since = $4, cooling_until = $5,
                    last_error = $6,
                    last_error_at = CASE WHEN $6 IS NULL THEN NULL
                                         WHEN $6 IS DISTINCT FROM last_error THEN now()
                                         ELSE last_error_at END
              WHERE tenant_id = $1 AND name = $2",
            [
                tenant(tx),
                name.into(),
                state.out_of_credit_since.into(),
                state.key_refused_since.into(),
                state.cooling_until.into(),
                state.last_error.clone().into(),
            ],
        ))
        .await?;
    Ok(())
}

/// The team's providers with their keys opened, for the router.
pub async fn callable_providers(
    tx: &TenantTxn,
    keys: &SecretKeys,
) -> Result<Vec<CallableProvider>, DomainError> {
    let rows = ProviderRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("{SELECT_PROVIDERS} WHERE p.tenant_id = $1 ORDER BY p.name"),
        [tenant(tx)],
    ))
    .all(tx.txn())
    .await?;
    let tenant_id = tx.ctx().tenant_id().into_uuid();
    rows.into_iter()
        .map(|row| {
            let api_key = match (&row.key_id, &row.sealed_key) {
                (Some(key_id), Some(blob)) => {
                    let sealed = Sealed {
                        key_id: key_id.clone(),
                        blob: blob.clone(),
                    };
                    let bound = key_context(tenant_id, row.id, &row.kind, &row.base_url);
                    // A key that does not open for where the provider points now (it was moved
                    // behind the form's back) is not sent anywhere: the provider has no key.
                    let opened = keys
                        .open(&sealed, &bound)
                        .or_else(|_| keys.open(&sealed, &legacy_key_context(tenant_id, row.id)));
                    match opened {
                        Ok(plain) => Some(SecretString::from(String::from_utf8(plain).map_err(
                            |_| DomainError::Internal("a sealed key is not text".into()),
                        )?)),
                        Err(_) => {
                            tracing::error!(provider = %row.id, "a provider's key does not open for its address: not sent");
                            None
                        }
                    }
                }
                _ => None,
            };
            Ok(CallableProvider {
                kind: row.kind()?,
                custom_models: row.custom_models(),
                budget_left_usd: row.budget.map(|budget| budget - row.spent),
                name: row.name,
                base_url: row.base_url,
                api_key,
                models: row.models,
                state: ProviderState {
                    out_of_credit_since: utc(row.out_of_credit_since),
                    key_refused_since: utc(row.key_refused_since),
                    cooling_until: utc(row.cooling_until),
                    last_error: row.last_error,
                },
            })
        })
        .collect()
}

/// USD the team spent on AI this calendar month (UTC): what its providers charged, by the spend
/// ledger, which deleting an answer, a note or a provider does not change.
pub async fn spent_this_month(tx: &TenantTxn) -> Result<f64, DomainError> {
    month_spend(tx, false).await
}

/// A reservation older than this belongs to a question whose process died before settling it
/// (a question ends by its deadline, 10 minutes by default): it no longer holds the budget.
const RESERVATION_LIFETIME_SECS: f64 = 3600.0;

/// The team's charges this month, and with `reserved` its live reservations too.
async fn month_spend(tx: &TenantTxn, reserved: bool) -> Result<f64, DomainError> {
    #[derive(FromQueryResult)]
    struct Spend {
        spent: f64,
    }
    let row = Spend::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT coalesce(sum(amount_usd), 0)::float8 AS spent FROM ai_spend
              WHERE tenant_id = $1
                AND created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                AND (status = 'charged'
                     OR ($2 AND status = 'reserved'
                         AND created_at > now() - make_interval(secs => $3)))",
        [
            tenant(tx),
            reserved.into(),
            RESERVATION_LIFETIME_SECS.into(),
        ],
    ))
    .one(tx.txn())
    .await?
    .ok_or_else(|| DomainError::Internal("no spend row".into()))?;
    Ok(row.spent)
}

/// Reserves up to `worst_usd` of what is left of the team's month under `limit_usd` for the call
/// `call` (a question's answer, a workflow step), and answers how much: the call may spend no more than that (0 when nothing is
/// left; nothing is recorded then). The team's budget lock is held until the transaction ends, so
/// questions asked at once reserve one after the other and none counts what another reserved.
pub async fn reserve_spend(
    tx: &TenantTxn,
    call: Uuid,
    worst_usd: f64,
    limit_usd: f64,
) -> Result<f64, DomainError> {
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended('cairn.ai_spend:' || $1::text, 0))",
            [tenant(tx)],
        ))
        .await?;
    let committed = month_spend(tx, true).await?;
    let reserved = worst_usd.min(limit_usd - committed).max(0.0);
    if reserved > 0.0 {
        tx.txn()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO ai_spend (id, tenant_id, answer_id, status, amount_usd)
                 VALUES ($1, $2, $3, 'reserved', $4::float8)",
                [
                    Uuid::now_v7().into(),
                    tenant(tx),
                    call.into(),
                    reserved.into(),
                ],
            ))
            .await?;
    }
    Ok(reserved)
}

/// Settles a call's spend (a question's, a workflow step's; `call` is the id its reservation was
/// made under): its reservation is released and what each provider charged is recorded in the
/// ledger.
pub async fn settle_spend(
    tx: &TenantTxn,
    call: Uuid,
    attempts: &[Attempt],
) -> Result<(), DomainError> {
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE ai_spend SET status = 'released', settled_at = now()
              WHERE tenant_id = $1 AND answer_id = $2 AND status = 'reserved'",
            [tenant(tx), call.into()],
        ))
        .await?;
    let mut charged: Vec<(&str, f64)> = Vec::new();
    for attempt in attempts.iter().filter(|a| a.cost_usd > 0.0) {
        match charged.iter_mut().find(|(p, _)| *p == attempt.provider) {
            Some((_, sum)) => *sum += attempt.cost_usd,
            None => charged.push((&attempt.provider, attempt.cost_usd)),
        }
    }
    for (provider, amount) in charged {
        tx.txn()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO ai_spend (id, tenant_id, answer_id, provider, status, amount_usd,
                                       settled_at)
                 VALUES ($1, $2, $3, $4, 'charged', $5::float8, now())",
                [
                    Uuid::now_v7().into(),
                    tenant(tx),
                    call.into(),
                    provider.into(),
                    amount.into(),
                ],
            ))
            .await?;
    }
    Ok(())
}

/// The team's AI settings (defaults when never set).
pub async fn settings(tx: &TenantTxn) -> Result<AiSettings, DomainError> {
    #[derive(FromQueryResult)]
    struct Stored {
        chain: Vec<String>,
        fall_over_on_refusal: bool,
        budget: Option<f64>,
        confirm_above: Option<f64>,
    }
    let row = Stored::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT chain, fall_over_on_refusal, monthly_budget_usd::float8 AS budget,
                run_confirm_above_usd::float8 AS confirm_above
           FROM ai_settings WHERE tenant_id = $1",
        [tenant(tx)],
    ))
    .one(tx.txn())
    .await?;
    let mut settings = match row {
        Some(row) => AiSettings {
            chain: row.chain,
            fall_over_on_refusal: row.fall_over_on_refusal,
            monthly_budget_usd: row.budget,
            spent_this_month_usd: 0.0,
            run_confirm_above_usd: row.confirm_above,
        },
        None => AiSettings::default(),
    };
    settings.spent_this_month_usd = spent_this_month(tx).await?;
    Ok(settings)
}

/// Sets the team's chain and budget. Each step must name one of the team's providers and one of
/// its enabled models. Owners and admins only.
pub async fn set_settings(
    tx: &TenantTxn,
    valid: api::ai::ValidAiSettings,
) -> Result<AiSettings, DomainError> {
    let api::ai::ValidAiSettings {
        chain,
        fall_over_on_refusal,
        monthly_budget_usd,
        run_confirm_above_usd,
    } = valid;
    require_admin(tx)?;
    let providers = list_providers(tx).await?;
    for step in &chain {
        let known = step.split_once('/').is_some_and(|(name, model)| {
            providers
                .iter()
                .any(|p| p.name == name && p.models.iter().any(|m| m == model))
        });
        if !known {
            return Err(DomainError::Invalid {
                field: "chain".into(),
                reason: format!("{step} is not an enabled model of one of the team's providers"),
            });
        }
    }
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO ai_settings (tenant_id, chain, fall_over_on_refusal, monthly_budget_usd,
                                      updated_by, run_confirm_above_usd)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (tenant_id) DO UPDATE
                SET chain = EXCLUDED.chain, fall_over_on_refusal = EXCLUDED.fall_over_on_refusal,
                    monthly_budget_usd = EXCLUDED.monthly_budget_usd,
                    run_confirm_above_usd = EXCLUDED.run_confirm_above_usd,
                    updated_by = EXCLUDED.updated_by, updated_at = now()",
            [
                tenant(tx),
                chain.clone().into(),
                fall_over_on_refusal.into(),
                monthly_budget_usd.into(),
                tx.ctx().user_id().map(UserId::into_uuid).into(),
                run_confirm_above_usd.into(),
            ],
        ))
        .await?;
    audit::record(
        tx.txn(),
        tx.ctx(),
        AuditAction::AiSettingsSet,
        tx.ctx().tenant_id().into_uuid(),
        serde_json::json!({"chain": chain, "monthly_budget_usd": monthly_budget_usd}),
    )
    .await?;
    settings(tx).await
}

/// Records a question about a note, being answered. The note must be the team's.
pub async fn start_answer(
    tx: &TenantTxn,
    note: NoteId,
    question: &str,
) -> Result<NoteAnswerId, DomainError> {
    tx.find::<crate::entities::project_notes::Entity>(note.into_uuid())
        .await?;
    let id = Uuid::now_v7();
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO note_answers (id, tenant_id, note_id, question, status, asked_by)
             VALUES ($1, $2, $3, $4, 'running', $5)",
            [
                id.into(),
                tenant(tx),
                note.into_uuid().into(),
                question.into(),
                tx.ctx().user_id().map(UserId::into_uuid).into(),
            ],
        ))
        .await?;
    audit::record(
        tx.txn(),
        tx.ctx(),
        AuditAction::NoteAsk,
        id,
        serde_json::json!({"note": note.into_uuid()}),
    )
    .await?;
    Ok(NoteAnswerId::from_uuid(id))
}

/// How a call ended, for [`finish_answer`].
pub enum AnswerOutcome<'a> {
    /// Answered by `provider`'s `model` (the text is never empty: the router never calls an empty
    /// answer an answer, and the database refuses one too).
    Answered {
        /// The answer.
        text: &'a str,
        /// Who answered.
        provider: &'a str,
        /// With which model.
        model: &'a str,
    },
    /// No answer: why.
    Failed {
        /// What to tell the user.
        reason: &'a str,
    },
}

/// Closes an answer with its outcome and every attempt, in one statement batch.
pub async fn finish_answer(
    tx: &TenantTxn,
    id: NoteAnswerId,
    outcome: AnswerOutcome<'_>,
    attempts: &[Attempt],
    duration_ms: u32,
) -> Result<(), DomainError> {
    for (seq, attempt) in attempts.iter().enumerate() {
        tx.txn()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO ai_attempts (id, tenant_id, answer_id, seq, provider, provider_kind,
                                          model, class, status, error, tokens_in, tokens_out,
                                          cost_usd, latency_ms, first_token_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::float8, $14, $15)",
                [
                    Uuid::now_v7().into(),
                    tenant(tx),
                    id.into_uuid().into(),
                    i32::try_from(seq).unwrap_or(i32::MAX).into(),
                    attempt.provider.clone().into(),
                    attempt.provider_kind.as_str().into(),
                    attempt.model.clone().into(),
                    attempt.class.map(FailureClass::as_str).into(),
                    attempt.status.map(i32::from).into(),
                    attempt.error.clone().into(),
                    count(attempt.tokens_in).into(),
                    count(attempt.tokens_out).into(),
                    attempt.cost_usd.into(),
                    count(attempt.latency_ms).into(),
                    attempt.first_token_ms.map(count).into(),
                ],
            ))
            .await?;
    }
    settle_spend(tx, id.into_uuid(), attempts).await?;
    let tokens_in: u32 = attempts.iter().map(|a| a.tokens_in).sum();
    let tokens_out: u32 = attempts.iter().map(|a| a.tokens_out).sum();
    let cost: f64 = attempts.iter().map(|a| a.cost_usd).sum();
    let (status, answer, provider, model, error) = match outcome {
        AnswerOutcome::Answered {
            text,
            provider,
            model,
        } => (
            "answered",
            Some(text.to_owned()),
            Some(provider.to_owned()),
            Some(model.to_owned()),
            None,
        ),
        AnswerOutcome::Failed { reason } => ("failed", None, None, None, Some(reason.to_owned())),
    };
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE note_answers
                SET status = $3, answer = $4, provider = $5, model = $6, error = $7,
                    tokens_in = $8, tokens_out = $9, cost_usd = $10::float8, duration_ms = $11,
                    finished_at = now()
              WHERE id = $1 AND tenant_id = $2",
            [
                id.into_uuid().into(),
                tenant(tx),
                status.into(),
                answer.into(),
                provider.into(),
                model.into(),
                error.into(),
                count(tokens_in).into(),
                count(tokens_out).into(),
                cost.into(),
                count(duration_ms).into(),
            ],
        ))
        .await?;
    Ok(())
}

fn count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// An answer still running after this long was cut off (its server stopped mid-call): it reads as
/// failed, saying so.
const SELECT_ANSWERS: &str = "SELECT a.id, a.note_id, a.question,
        CASE WHEN a.status = 'running' AND a.created_at < now() - interval '15 minutes'
             THEN 'failed' ELSE a.status END AS status,
        a.answer, a.provider, a.model,
        CASE WHEN a.status = 'running' AND a.created_at < now() - interval '15 minutes'
             THEN 'the answer was cut off: the server stopped while asking' ELSE a.error END AS error,
        a.tokens_in, a.tokens_out, a.cost_usd::float8 AS cost,
        a.duration_ms, a.created_at, u.display_name AS asked_by, a.sources
   FROM note_answers a LEFT JOIN users u ON u.id = a.asked_by";

/// Keeps with the answer the knowledge sent with its question.
pub async fn record_sources(
    tx: &TenantTxn,
    id: NoteAnswerId,
    sources: &[api::knowledge::CitedSource],
) -> Result<(), DomainError> {
    crate::knowledge::keep_sources(
        tx,
        crate::knowledge::SourcesOf::Answer,
        id.into_uuid(),
        sources,
    )
    .await
}

/// An answer as `SELECT_ANSWERS` reads it.
#[derive(FromQueryResult)]
struct AnswerRow {
    id: Uuid,
    note_id: Uuid,
    question: String,
    status: String,
    answer: Option<String>,
    provider: Option<String>,
    model: Option<String>,
    error: Option<String>,
    tokens_in: i32,
    tokens_out: i32,
    cost: f64,
    duration_ms: Option<i32>,
    created_at: DateTime<FixedOffset>,
    asked_by: Option<String>,
    sources: serde_json::Value,
}

/// An attempt as stored in `ai_attempts`.
#[derive(FromQueryResult)]
struct AttemptRow {
    provider: String,
    provider_kind: String,
    model: String,
    class: Option<String>,
    status: Option<i32>,
    error: Option<String>,
    tokens_in: i32,
    tokens_out: i32,
    cost: f64,
    latency_ms: i32,
    first_token_ms: Option<i32>,
}

impl From<AttemptRow> for Attempt {
    fn from(row: AttemptRow) -> Self {
        Attempt {
            provider: row.provider,
            provider_kind: ProviderKind::parse(&row.provider_kind).unwrap_or(ProviderKind::Custom),
            model: row.model,
            class: row.class.as_deref().and_then(FailureClass::parse),
            status: row.status.and_then(|s| u16::try_from(s).ok()),
            error: row.error,
            tokens_in: crate::sql::unsigned(row.tokens_in),
            tokens_out: crate::sql::unsigned(row.tokens_out),
            cost_usd: row.cost,
            latency_ms: crate::sql::unsigned(row.latency_ms),
            first_token_ms: row.first_token_ms.and_then(|n| u32::try_from(n).ok()),
        }
    }
}

async fn with_attempts(tx: &TenantTxn, row: AnswerRow) -> Result<NoteAnswer, DomainError> {
    let attempts = AttemptRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT provider, provider_kind, model, class, status, error, tokens_in, tokens_out,
                cost_usd::float8 AS cost, latency_ms, first_token_ms
           FROM ai_attempts WHERE answer_id = $1 AND tenant_id = $2 ORDER BY seq",
        [row.id.into(), tenant(tx)],
    ))
    .all(tx.txn())
    .await?
    .into_iter()
    .map(Attempt::from)
    .collect();
    // Written by `record_sources` from the same type; an unreadable list shows as none.
    let sources = serde_json::from_value(row.sources).unwrap_or_default();
    Ok(NoteAnswer {
        sources,
        id: NoteAnswerId::from_uuid(row.id),
        note_id: NoteId::from_uuid(row.note_id),
        question: row.question,
        status: match row.status.as_str() {
            "answered" => AnswerStatus::Answered,
            "failed" => AnswerStatus::Failed,
            _ => AnswerStatus::Running,
        },
        answer: row.answer,
        provider: row.provider,
        model: row.model,
        error: row.error,
        tokens_in: crate::sql::unsigned(row.tokens_in),
        tokens_out: crate::sql::unsigned(row.tokens_out),
        cost_usd: row.cost,
        duration_ms: row.duration_ms.and_then(|n| u32::try_from(n).ok()),
        attempts,
        asked_by: row.asked_by,
        created_at: row.created_at.to_rfc3339(),
    })
}

/// One answer; another team's is `NotFound`.
pub async fn answer(tx: &TenantTxn, id: NoteAnswerId) -> Result<NoteAnswer, DomainError> {
    let row = AnswerRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("{SELECT_ANSWERS} WHERE a.id = $1 AND a.tenant_id = $2"),
        [id.into_uuid().into(), tenant(tx)],
    ))
    .one(tx.txn())
    .await?
    .ok_or(DomainError::NotFound)?;
    with_attempts(tx, row).await
}

/// A note's answers, newest first (at most 50).
pub async fn answers(tx: &TenantTxn, note: NoteId) -> Result<Vec<NoteAnswer>, DomainError> {
    tx.find::<crate::entities::project_notes::Entity>(note.into_uuid())
        .await?;
    let rows = AnswerRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "{SELECT_ANSWERS} WHERE a.note_id = $1 AND a.tenant_id = $2
              ORDER BY a.created_at DESC LIMIT 50"
        ),
        [note.into_uuid().into(), tenant(tx)],
    ))
    .all(tx.txn())
    .await?;
    let mut answers = Vec::with_capacity(rows.len());
    for row in rows {
        answers.push(with_attempts(tx, row).await?);
    }
    Ok(answers)
}
