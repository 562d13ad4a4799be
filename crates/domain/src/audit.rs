//! The audit log: who did what to which row, written in the same transaction as the change.

use crate::entities::audit_log;
use crate::{DomainError, TenantCtx};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, Set};
use uuid::Uuid;

/// Records `action` on `target_table`/`target_id` by the context's user, with extra `detail`.
pub(crate) async fn record(
    txn: &DatabaseTransaction,
    ctx: &TenantCtx,
    action: &str,
    target_table: &str,
    target_id: Uuid,
    detail: serde_json::Value,
) -> Result<(), DomainError> {
    audit_log::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(ctx.tenant_id().into_uuid()),
        actor_user_id: Set(Some(ctx.user_id().into_uuid())),
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
