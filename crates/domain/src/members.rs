//! A tenant's members: list, change a role, remove. People join through invitations
//! (`crate::invitations`), never by being added silently.

use crate::audit::AuditAction;
use crate::entities::{memberships, users};
use crate::{DomainError, TenantCtx, TenantTxn, audit};
use api::ids::UserId;
use api::tenants::{Member, Role};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

/// Every member of the context's tenant, owners first.
pub async fn list(tx: &TenantTxn) -> Result<Vec<Member>, DomainError> {
    let ctx = tx.ctx();
    let txn = tx.txn();
    let rows = memberships::Entity::find()
        .filter(memberships::Column::TenantId.eq(ctx.tenant_id().into_uuid()))
        .find_also_related(users::Entity)
        .order_by_asc(memberships::Column::CreatedAt)
        .all(txn)
        .await?;
    let mut members: Vec<Member> = rows
        .into_iter()
        .filter_map(|(m, user)| {
            user.map(|u| Member {
                user_id: UserId::from_uuid(u.id),
                email: u.email,
                display_name: u.display_name,
                role: m.role.into(),
            })
        })
        .collect();
    members.sort_by_key(|m| match m.role {
        Role::Owner => 0,
        Role::Admin => 1,
        Role::Member => 2,
    });
    Ok(members)
}

/// Changes a member's role. Only owners change roles. Demoting the last owner is `Conflict`: the
/// database refuses it, also when two owners demote each other at the same moment.
pub async fn change_role(
    tx: &TenantTxn,
    user_id: UserId,
    role: Role,
) -> Result<Member, DomainError> {
    let ctx = tx.ctx();
    let txn = tx.txn();
    ctx.require(api::tenants::Permission::ChangeRoles)?;
    let key = (ctx.tenant_id().into_uuid(), user_id.into_uuid());
    let membership = memberships::Entity::find_by_id(key)
        .one(txn)
        .await?
        .ok_or(DomainError::NotFound)?;
    let user = users::Entity::find_by_id(user_id.into_uuid())
        .one(txn)
        .await?
        .ok_or(DomainError::NotFound)?;
    let from: Role = membership.role.into();
    if from != role {
        let mut row: memberships::ActiveModel = membership.into();
        row.role = Set(role.into());
        row.update(txn).await?;
        audit::record(
            txn,
            ctx,
            AuditAction::MemberRole,
            user_id.into_uuid(),
            serde_json::json!({"from": from, "to": role}),
        )
        .await?;
    }
    Ok(Member {
        user_id,
        email: user.email,
        display_name: user.display_name,
        role,
    })
}

/// Removes a member. Admins cannot remove owners; nobody can remove the last owner (the database
/// refuses it, whatever runs at the same moment). Anyone may leave (remove themselves), except the
/// last owner.
pub async fn remove(tx: &TenantTxn, user_id: UserId) -> Result<(), DomainError> {
    let ctx = tx.ctx();
    let txn = tx.txn();
    let leaving = Some(user_id) == ctx.user_id();
    if !leaving {
        require_manager(ctx)?;
    }
    let key = (ctx.tenant_id().into_uuid(), user_id.into_uuid());
    let membership = memberships::Entity::find_by_id(key)
        .one(txn)
        .await?
        .ok_or(DomainError::NotFound)?;
    let role: Role = membership.role.into();
    if role == Role::Owner && ctx.role() != Role::Owner {
        return Err(DomainError::Forbidden(
            "only an owner can remove an owner".into(),
        ));
    }
    memberships::Entity::delete_by_id(key).exec(txn).await?;
    audit::record(
        txn,
        ctx,
        AuditAction::MemberRemove,
        user_id.into_uuid(),
        serde_json::json!({}),
    )
    .await?;
    Ok(())
}

pub(crate) fn require_manager(ctx: &TenantCtx) -> Result<(), DomainError> {
    ctx.require(api::tenants::Permission::ManageMembers)
}
