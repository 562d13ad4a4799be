//! A tenant's members: list, add an existing user by e-mail, remove.

use crate::entities::{memberships, users};
use crate::{DomainError, TenantCtx, TenantTxn, audit};
use api::accounts::Email;
use api::ids::UserId;
use api::tenants::{Member, Role};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

/// Every member of the context's tenant, owners first.
pub async fn list(tx: TenantTxn) -> Result<Vec<Member>, DomainError> {
    let (ctx, txn) = tx.into_parts();
    let ctx = &ctx;
    let rows = memberships::Entity::find()
        .filter(memberships::Column::TenantId.eq(ctx.tenant_id().into_uuid()))
        .find_also_related(users::Entity)
        .order_by_asc(memberships::Column::CreatedAt)
        .all(&txn)
        .await?;
    crate::tenant::end_read(txn);
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

/// Adds the user with `email` to the tenant. Owners and admins may add members and admins; only an
/// owner may add an owner. An unknown address is `NotFound`; an existing member is `Conflict`.
pub async fn add(tx: TenantTxn, email: &str, role: Role) -> Result<Member, DomainError> {
    let (ctx, txn) = tx.into_parts();
    let ctx = &ctx;
    require_manager(ctx)?;
    if role == Role::Owner && ctx.role() != Role::Owner {
        return Err(DomainError::Forbidden(
            "only an owner can add an owner".into(),
        ));
    }
    let email = Email::parse(email)?;
    let user = crate::accounts::user_by_email(&txn, &email)
        .await?
        .ok_or(DomainError::NotFound)?;
    memberships::ActiveModel {
        tenant_id: Set(ctx.tenant_id().into_uuid()),
        user_id: Set(user.id),
        role: Set(role.into()),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| match DomainError::from(e) {
        DomainError::Conflict(_) => DomainError::Conflict("already a member".into()),
        other => other,
    })?;
    audit::record(
        &txn,
        ctx,
        "member.add",
        "memberships",
        user.id,
        serde_json::json!({"role": role}),
    )
    .await?;
    txn.commit().await?;
    Ok(Member {
        user_id: UserId::from_uuid(user.id),
        email: user.email,
        display_name: user.display_name,
        role,
    })
}

/// Removes a member. Admins cannot remove owners; nobody can remove the last owner. Anyone may
/// leave (remove themselves), except the last owner.
pub async fn remove(tx: TenantTxn, user_id: UserId) -> Result<(), DomainError> {
    let (ctx, txn) = tx.into_parts();
    let ctx = &ctx;
    let leaving = user_id == ctx.user_id();
    if !leaving {
        require_manager(ctx)?;
    }
    let key = (ctx.tenant_id().into_uuid(), user_id.into_uuid());
    let membership = memberships::Entity::find_by_id(key)
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound)?;
    let role: Role = membership.role.into();
    if role == Role::Owner {
        if ctx.role() != Role::Owner {
            return Err(DomainError::Forbidden(
                "only an owner can remove an owner".into(),
            ));
        }
        let owners = memberships::Entity::find()
            .filter(memberships::Column::TenantId.eq(ctx.tenant_id().into_uuid()))
            .filter(memberships::Column::Role.eq(memberships::MembershipRole::Owner))
            .count(&txn)
            .await?;
        if owners <= 1 {
            return Err(DomainError::Conflict(
                "a tenant needs at least one owner".into(),
            ));
        }
    }
    memberships::Entity::delete_by_id(key).exec(&txn).await?;
    audit::record(
        &txn,
        ctx,
        "member.remove",
        "memberships",
        user_id.into_uuid(),
        serde_json::json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

fn require_manager(ctx: &TenantCtx) -> Result<(), DomainError> {
    if ctx.role().manages_members() {
        Ok(())
    } else {
        Err(DomainError::Forbidden(
            "only owners and admins manage members".into(),
        ))
    }
}
