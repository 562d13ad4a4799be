//! `cairn secrets reseal`: every sealed value (projects' GitHub tokens and webhook secrets, AI
//! providers' keys) opened with whichever configured key sealed it and sealed again with the
//! current key, so an old key can be retired; provider keys sealed before they were bound to their
//! address are bound on the way. Run by the operator, as the schema owner (it crosses teams).

use crate::DomainError;
use crate::secrets::{Sealed, SecretKeys};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use uuid::Uuid;

/// What a reseal did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResealReport {
    /// Project secrets sealed again with the current key.
    pub project_secrets: u64,
    /// Provider keys sealed again with the current key (bound to their address).
    pub provider_keys: u64,
    /// Values no configured key opens, as `table id`: left as they were.
    pub unopenable: Vec<String>,
}

/// Reseals everything on `owner` (a connection as the schema owner) with `keys`' current key.
/// Each value is rewritten in its own statement; one that no key opens is reported and left
/// unchanged, never dropped.
pub async fn reseal_all(
    owner: &DatabaseConnection,
    keys: &SecretKeys,
) -> Result<ResealReport, DomainError> {
    let mut report = ResealReport::default();
    let secrets = owner
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT tenant_id, project_id, kind, key_id, sealed FROM project_secrets",
        ))
        .await?;
    for row in secrets {
        let tenant: Uuid = row.try_get("", "tenant_id")?;
        let project: Uuid = row.try_get("", "project_id")?;
        let kind: String = row.try_get("", "kind")?;
        let sealed = Sealed {
            key_id: row.try_get("", "key_id")?,
            blob: row.try_get("", "sealed")?,
        };
        let context = format!("cairn:{tenant}:{project}:{kind}");
        let Ok(plain) = keys.open(&sealed, &context) else {
            report
                .unopenable
                .push(format!("project_secrets {project} {kind}"));
            continue;
        };
        let resealed = keys.seal(&plain, &context)?;
        owner
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE project_secrets SET key_id = $4, sealed = $5
                  WHERE tenant_id = $1 AND project_id = $2 AND kind = $3",
                [
                    tenant.into(),
                    project.into(),
                    kind.into(),
                    resealed.key_id.into(),
                    resealed.blob.into(),
                ],
            ))
            .await?;
        report.project_secrets += 1;
    }
    let providers = owner
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT id, tenant_id, kind, base_url, key_id, sealed_key FROM ai_providers
              WHERE key_id IS NOT NULL",
        ))
        .await?;
    for row in providers {
        let id: Uuid = row.try_get("", "id")?;
        let tenant: Uuid = row.try_get("", "tenant_id")?;
        let kind: String = row.try_get("", "kind")?;
        let base_url: String = row.try_get("", "base_url")?;
        let sealed = Sealed {
            key_id: row.try_get("", "key_id")?,
            blob: row.try_get("", "sealed_key")?,
        };
        let bound = crate::ai::key_context(tenant, id, &kind, &base_url);
        let opened = keys
            .open(&sealed, &bound)
            .or_else(|_| keys.open(&sealed, &crate::ai::legacy_key_context(tenant, id)));
        let Ok(plain) = opened else {
            report.unopenable.push(format!("ai_providers {id}"));
            continue;
        };
        let resealed = keys.seal(&plain, &bound)?;
        owner
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE ai_providers SET key_id = $2, sealed_key = $3 WHERE id = $1",
                [id.into(), resealed.key_id.into(), resealed.blob.into()],
            ))
            .await?;
        report.provider_keys += 1;
    }
    Ok(report)
}
