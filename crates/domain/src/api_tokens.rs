//! Personal API tokens: a member makes them for the team they are in (on their account page),
//! sees them listed (never the token again), and revokes them. Requests made with one are opened
//! by `Db::enter_token`.

use crate::audit::AuditAction;
use crate::{Db, DomainError, TenantTxn, audit};
use api::ids::ApiTokenId;
use api::tokens::{ApiToken, ApiTokenForm, NewApiToken, TokenScope};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement};
use uuid::Uuid;

/// How stale `last_used_at` may get before a request writes it again.
const USE_NOTED_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// What every token starts with: easy to recognise in a leak scan, and in `Authorization`.
pub const TOKEN_PREFIX: &str = "cairn_";

/// Makes a token for the signed-in member in their active team. The token is in the answer and
/// nowhere else: only its hash is stored. Only from a browser session (a token makes no tokens).
pub async fn create(tx: &TenantTxn, form: &ApiTokenForm) -> Result<NewApiToken, DomainError> {
    let ctx = tx.ctx();
    ctx.require(api::tenants::Permission::ManageTokens)?;
    let valid = form.parse()?;
    let user = ctx
        .user_id()
        .ok_or_else(|| DomainError::Forbidden("only a member makes tokens".into()))?;
    let secret = format!("{TOKEN_PREFIX}{}", crate::accounts::new_token());
    let id = Uuid::now_v7();
    let row = tx
        .txn()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "INSERT INTO api_tokens (id, tenant_id, user_id, name, token_hash, scope, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(days => $7))
                 RETURNING {COLUMNS}"
            ),
            [
                id.into(),
                ctx.tenant_id().into_uuid().into(),
                user.into_uuid().into(),
                valid.name.clone().into(),
                crate::accounts::token_hash(&secret).into(),
                valid.scope.as_str().into(),
                i32::try_from(valid.days).unwrap_or(1).into(),
            ],
        ))
        .await?
        .ok_or_else(|| DomainError::Internal("a new token answered no row".into()))?;
    audit::record(
        tx.txn(),
        ctx,
        AuditAction::ApiTokenCreate,
        id,
        serde_json::json!({"name": valid.name, "scope": valid.scope.as_str(), "days": valid.days}),
    )
    .await?;
    Ok(NewApiToken {
        token: to_dto(&row)?,
        secret,
    })
}

/// The member's own tokens in this team, newest first.
pub async fn list(tx: &TenantTxn) -> Result<Vec<ApiToken>, DomainError> {
    let ctx = tx.ctx();
    ctx.require(api::tenants::Permission::ManageTokens)?;
    let Some(user) = ctx.user_id() else {
        return Ok(Vec::new());
    };
    let rows = tx
        .txn()
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "SELECT {COLUMNS} FROM api_tokens
                  WHERE tenant_id = $1 AND user_id = $2
                  ORDER BY created_at DESC"
            ),
            [ctx.tenant_id().into_uuid().into(), user.into_uuid().into()],
        ))
        .await?;
    rows.iter().map(to_dto).collect()
}

/// Revokes one of the member's own tokens: it stops working at once. Another member's token, or
/// another team's, is `NotFound`.
pub async fn revoke(tx: &TenantTxn, id: ApiTokenId) -> Result<ApiToken, DomainError> {
    let ctx = tx.ctx();
    ctx.require(api::tenants::Permission::ManageTokens)?;
    let user = ctx.user_id().ok_or(DomainError::NotFound)?;
    let row = tx
        .txn()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())
                  WHERE id = $1 AND tenant_id = $2 AND user_id = $3
                  RETURNING {COLUMNS}"
            ),
            [
                id.into_uuid().into(),
                ctx.tenant_id().into_uuid().into(),
                user.into_uuid().into(),
            ],
        ))
        .await?
        .ok_or(DomainError::NotFound)?;
    audit::record(
        tx.txn(),
        ctx,
        AuditAction::ApiTokenRevoke,
        id.into_uuid(),
        serde_json::json!({}),
    )
    .await?;
    to_dto(&row)
}

/// Notes that a token was used, when its last noted use is older than a minute: on its own
/// connection, in the background (the request's transaction may be read-only, or rolled back).
pub(crate) fn note_use(
    db: &Db,
    token_id: Uuid,
    last_used_at: Option<chrono::DateTime<chrono::FixedOffset>>,
) {
    if last_used_at
        .is_some_and(|at| chrono::Utc::now() - at.with_timezone(&chrono::Utc) < USE_NOTED_EVERY)
    {
        return;
    }
    let conn = db.connection().clone();
    tokio::spawn(async move {
        let noted = conn
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT cairn_note_token_use($1)",
                [token_id.into()],
            ))
            .await;
        if let Err(error) = noted {
            tracing::debug!(%error, "noting a token's use");
        }
    });
}

const COLUMNS: &str = "id, name, scope, created_at, expires_at, last_used_at, revoked_at";

fn to_dto(row: &QueryResult) -> Result<ApiToken, DomainError> {
    let time = |column: &str| -> Result<Option<String>, DomainError> {
        Ok(row
            .try_get::<Option<chrono::DateTime<chrono::FixedOffset>>>("", column)?
            .map(|t| t.to_rfc3339()))
    };
    let scope: String = row.try_get("", "scope")?;
    Ok(ApiToken {
        id: ApiTokenId::from_uuid(row.try_get("", "id")?),
        name: row.try_get("", "name")?,
        scope: TokenScope::parse(&scope)
            .ok_or_else(|| DomainError::Internal(format!("token scope {scope:?}")))?,
        created_at: time("created_at")?.unwrap_or_default(),
        expires_at: time("expires_at")?.unwrap_or_default(),
        last_used_at: time("last_used_at")?,
        revoked: time("revoked_at")?.is_some(),
    })
}
