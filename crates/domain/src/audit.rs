//! The audit log: who did what to which row, written in the same transaction as the change.

use crate::entities::audit_log;
use crate::{DomainError, TenantCtx};
use api::ids::{TenantId, UserId};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use uuid::Uuid;

/// Records `action` on `target_table`/`target_id` by the context's user, with extra `detail`.
pub(crate) async fn record(
    txn: &impl ConnectionTrait,
    ctx: &TenantCtx,
    action: &str,
    target_table: &str,
    target_id: Uuid,
    detail: serde_json::Value,
) -> Result<(), DomainError> {
    record_as(
        txn,
        ctx.tenant_id(),
        Some(ctx.user_id()),
        action,
        target_table,
        target_id,
        detail,
    )
    .await
}

/// Records `action` in `tenant_id` by `actor`; `None` is Cairn itself (an invitation expiring).
pub(crate) async fn record_as(
    txn: &impl ConnectionTrait,
    tenant_id: TenantId,
    actor: Option<UserId>,
    action: &str,
    target_table: &str,
    target_id: Uuid,
    detail: serde_json::Value,
) -> Result<(), DomainError> {
    audit_log::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant_id.into_uuid()),
        actor_user_id: Set(actor.map(UserId::into_uuid)),
        action: Set(action.to_owned()),
        target_table: Set(target_table.to_owned()),
        target_id: Set(Some(target_id)),
        detail: Set(detail),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}
