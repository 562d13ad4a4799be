//! A project's GitHub token and webhook secret: set by owners and admins, stored sealed
//! (`crate::secrets`), shown to nobody ("set", never the value), opened only by the sync that uses
//! the token and by the webhook receiver that checks a push's signature.

use crate::secrets::{Sealed, SecretKeys};
use crate::{DomainError, TenantTxn};
use api::ids::{ProjectId, UserId};
use api::syncs::GithubToken;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use secrecy::SecretString;

/// Which secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// The token syncs read the repository with.
    GithubToken,
    /// The secret GitHub signs the project's push webhooks with.
    WebhookSecret,
}

impl SecretKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::GithubToken => "github_token",
            Self::WebhookSecret => "webhook_secret",
        }
    }
}

/// What binds a sealed value to its row.
pub(crate) fn context(tenant: uuid::Uuid, project: uuid::Uuid, kind: SecretKind) -> String {
    format!("cairn:{tenant}:{project}:{}", kind.as_str())
}

fn require_manager(tx: &TenantTxn) -> Result<(), DomainError> {
    tx.ctx().require(api::tenants::Permission::ManageSources)
}

async fn store(
    tx: &TenantTxn,
    keys: &SecretKeys,
    project: ProjectId,
    kind: SecretKind,
    value: &str,
) -> Result<(), DomainError> {
    require_manager(tx)?;
    let row = tx
        .find::<crate::entities::projects::Entity>(project.into_uuid())
        .await?;
    let tenant = tx.ctx().tenant_id().into_uuid();
    let sealed = keys.seal(value.as_bytes(), &context(tenant, row.id, kind))?;
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO project_secrets (tenant_id, project_id, kind, key_id, sealed, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (project_id, kind) DO UPDATE
                SET key_id = EXCLUDED.key_id, sealed = EXCLUDED.sealed,
                    updated_by = EXCLUDED.updated_by, updated_at = now()",
            [
                tenant.into(),
                row.id.into(),
                kind.as_str().into(),
                sealed.key_id.into(),
                sealed.blob.into(),
                tx.ctx().user_id().map(UserId::into_uuid).into(),
            ],
        ))
        .await?;
    crate::audit::record(
        tx.txn(),
        tx.ctx(),
        crate::audit::AuditAction::SecretSet,
        row.id,
        serde_json::json!({"kind": kind.as_str()}),
    )
    .await
}

/// Sets (or replaces) the project's GitHub token.
pub async fn set_github_token(
    tx: &TenantTxn,
    keys: &SecretKeys,
    project: ProjectId,
    token: &GithubToken,
) -> Result<(), DomainError> {
    store(tx, keys, project, SecretKind::GithubToken, token.expose()).await
}

/// Makes a new webhook secret (the old one stops verifying) and answers it, to be shown once and
/// pasted into GitHub.
pub async fn new_webhook_secret(
    tx: &TenantTxn,
    keys: &SecretKeys,
    project: ProjectId,
) -> Result<String, DomainError> {
    let secret: String = rand::random::<[u8; 24]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    store(tx, keys, project, SecretKind::WebhookSecret, &secret).await?;
    Ok(secret)
}

/// Removes one of the project's secrets.
pub async fn clear(
    tx: &TenantTxn,
    project: ProjectId,
    kind: SecretKind,
) -> Result<(), DomainError> {
    require_manager(tx)?;
    let row = tx
        .find::<crate::entities::projects::Entity>(project.into_uuid())
        .await?;
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM project_secrets WHERE project_id = $1 AND tenant_id = $2 AND kind = $3",
            [
                row.id.into(),
                tx.ctx().tenant_id().into_uuid().into(),
                kind.as_str().into(),
            ],
        ))
        .await?;
    crate::audit::record(
        tx.txn(),
        tx.ctx(),
        crate::audit::AuditAction::SecretClear,
        row.id,
        serde_json::json!({"kind": kind.as_str()}),
    )
    .await
}

/// Removes the project's GitHub token because the project was pointed at another repository: the
/// token was given for the old one and must not read the new one. Part of the update that moved
/// it (the caller's transaction); audited. Whether there was one.
pub(crate) async fn drop_token_for_moved_repository(
    tx: &TenantTxn,
    project: ProjectId,
) -> Result<bool, DomainError> {
    let dropped = tx
        .txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM project_secrets WHERE project_id = $1 AND tenant_id = $2 AND kind = $3",
            [
                project.into_uuid().into(),
                tx.ctx().tenant_id().into_uuid().into(),
                SecretKind::GithubToken.as_str().into(),
            ],
        ))
        .await?
        .rows_affected()
        > 0;
    if dropped {
        crate::audit::record(
            tx.txn(),
            tx.ctx(),
            crate::audit::AuditAction::SecretClear,
            project.into_uuid(),
            serde_json::json!({"kind": SecretKind::GithubToken.as_str(), "because": "repository changed"}),
        )
        .await?;
    }
    Ok(dropped)
}

/// Whether the project has a GitHub token.
pub(crate) async fn has_github_token(
    tx: &TenantTxn,
    project: ProjectId,
) -> Result<bool, DomainError> {
    let row = tx
        .txn()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 AS set FROM project_secrets WHERE project_id = $1 AND tenant_id = $2 AND kind = $3",
            [
                project.into_uuid().into(),
                tx.ctx().tenant_id().into_uuid().into(),
                SecretKind::GithubToken.as_str().into(),
            ],
        ))
        .await?;
    Ok(row.is_some())
}

/// When each of the project's secrets was set (RFC 3339), never their values.
pub async fn set_at(
    tx: &TenantTxn,
    project: ProjectId,
) -> Result<(Option<String>, Option<String>), DomainError> {
    let row = tx
        .find::<crate::entities::projects::Entity>(project.into_uuid())
        .await?;
    let rows = tx
        .txn()
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT kind, updated_at FROM project_secrets WHERE project_id = $1 AND tenant_id = $2",
            [row.id.into(), tx.ctx().tenant_id().into_uuid().into()],
        ))
        .await?;
    let mut token = None;
    let mut webhook = None;
    for row in rows {
        let kind: String = row.try_get("", "kind")?;
        let at: chrono::DateTime<chrono::FixedOffset> = row.try_get("", "updated_at")?;
        match kind.as_str() {
            "github_token" => token = Some(at.to_rfc3339()),
            "webhook_secret" => webhook = Some(at.to_rfc3339()),
            _ => {}
        }
    }
    Ok((token, webhook))
}

/// The project's GitHub token, opened: for the sync that reads the repository with it.
pub async fn github_token(
    tx: &TenantTxn,
    keys: &SecretKeys,
    project: ProjectId,
) -> Result<Option<SecretString>, DomainError> {
    // Another team's project is not found, rather than a project without a token.
    tx.find::<crate::entities::projects::Entity>(project.into_uuid())
        .await?;
    let row = tx
        .txn()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT key_id, sealed FROM project_secrets
              WHERE project_id = $1 AND tenant_id = $2 AND kind = 'github_token'",
            [
                project.into_uuid().into(),
                tx.ctx().tenant_id().into_uuid().into(),
            ],
        ))
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let sealed = Sealed {
        key_id: row.try_get("", "key_id")?,
        blob: row.try_get("", "sealed")?,
    };
    let plain = keys.open(
        &sealed,
        &context(
            tx.ctx().tenant_id().into_uuid(),
            project.into_uuid(),
            SecretKind::GithubToken,
        ),
    )?;
    String::from_utf8(plain)
        .map(|token| Some(SecretString::from(token)))
        .map_err(|_| DomainError::Internal("a sealed token is not text".into()))
}
