//! Invitations: the only way into a team. Owners and admins invite an address with a role; whoever
//! follows the invitation's link and holds (or creates) an account with exactly that address joins.
//!
//! The link carries a single-use token; only its SHA-256 is stored. An invitation lasts
//! [`INVITATION_LIFETIME_DAYS`] days, can be revoked or sent again (with a new token, so an older
//! link stops working), and a team has at most one pending invitation per address. Inviting never
//! looks at whether the address has an account, so its answer cannot tell. Creating, sending
//! again, accepting, revoking and expiring are audited.

use crate::accounts::{self, Client, NewSession, PasswordHasher, SignedIn, new_token, token_hash};
use crate::audit::AuditAction;
use crate::entities::invitations::{self, InvitationStatus};
use crate::entities::{memberships, tenants, users};
use crate::rate_limit::{self, INVITES_PER_ADDRESS, INVITES_PER_TEAM};
use crate::{Db, DomainError, TenantCtx, TenantTxn, audit};
use api::accounts::{Email, Name, NewPassword};
use api::ids::{InvitationId, TenantId, UserId};
use api::tenants::{Invitation, InvitationState, InvitationView, InvitedSignUpForm, Role};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, Set, Statement,
};
use uuid::Uuid;

/// How long an invitation's link works.
pub const INVITATION_LIFETIME_DAYS: i64 = 7;

/// An invitation just made or sent again, with what its e-mail needs. The token goes into the link
/// and nowhere else.
pub struct IssuedInvitation {
    /// The invitation as the Team page lists it.
    pub invitation: Invitation,
    /// The link's secret.
    pub token: String,
    /// The team's name, for the message.
    pub team_name: String,
    /// The inviter's display name, for the message.
    pub inviter_name: String,
}

impl std::fmt::Debug for IssuedInvitation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedInvitation")
            .field("invitation", &self.invitation)
            .field("token", &"[REDACTED]")
            .finish()
    }
}

/// Invites `email` to join the context's team as `role`. Owners and admins invite; only owners
/// invite owners. The caller delivers the link (e-mail, or shows it to the inviter) and then
/// commits, so an invitation whose e-mail could not be sent is not left behind.
pub async fn create(
    db: &Db,
    tx: &TenantTxn,
    email: &Email,
    role: Role,
    by_mail: bool,
) -> Result<IssuedInvitation, DomainError> {
    let ctx = tx.ctx();
    may_invite(ctx, role)?;
    take_sending_place(db, ctx, email).await?;
    let txn = tx.txn();
    expire_stale(txn, ctx.tenant_id()).await?;
    if is_member(txn, ctx.tenant_id(), email).await? {
        return Err(DomainError::Conflict(
            "already a member of this team".into(),
        ));
    }
    let token = new_token();
    let now = chrono::Utc::now();
    let row = invitations::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(ctx.tenant_id().into_uuid()),
        email: Set(email.to_string()),
        role: Set(role.into()),
        token_hash: Set(token_hash(&token)),
        status: Set(InvitationStatus::Pending),
        invited_by: Set(ctx.user_id().map(UserId::into_uuid)),
        sent_by_mail: Set(by_mail),
        send_count: Set(1),
        created_at: Set(now.fixed_offset()),
        last_sent_at: Set(now.fixed_offset()),
        expires_at: Set(expiry(now)),
        ..Default::default()
    }
    .insert(txn)
    .await
    .map_err(|e| match DomainError::from(e) {
        DomainError::Conflict(_) => DomainError::Conflict(
            "this address already has a pending invitation; send it again from the list".into(),
        ),
        other => other,
    })?;
    audit::record(
        txn,
        ctx,
        AuditAction::InvitationCreate,
        row.id,
        serde_json::json!({"role": role, "by_mail": by_mail}),
    )
    .await?;
    issued(txn, ctx, row, token).await
}

/// Sends a pending invitation again, with a new link (the old one stops working) valid for another
/// [`INVITATION_LIFETIME_DAYS`] days. The caller delivers and commits, as for [`create`].
pub async fn resend(
    db: &Db,
    tx: &TenantTxn,
    id: InvitationId,
    by_mail: bool,
) -> Result<IssuedInvitation, DomainError> {
    let ctx = tx.ctx();
    let txn = tx.txn();
    expire_stale(txn, ctx.tenant_id()).await?;
    let row = pending(txn, ctx, id).await?;
    may_invite(ctx, row.role.into())?;
    let email = Email::parse(&row.email)?;
    take_sending_place(db, ctx, &email).await?;
    let token = new_token();
    let now = chrono::Utc::now();
    let send_count = row.send_count + 1;
    let mut update: invitations::ActiveModel = row.into();
    update.token_hash = Set(token_hash(&token));
    update.last_sent_at = Set(now.fixed_offset());
    update.expires_at = Set(expiry(now));
    update.sent_by_mail = Set(by_mail);
    update.send_count = Set(send_count);
    let row = update.update(txn).await?;
    audit::record(
        txn,
        ctx,
        AuditAction::InvitationResend,
        row.id,
        serde_json::json!({"by_mail": by_mail, "send_count": send_count}),
    )
    .await?;
    issued(txn, ctx, row, token).await
}

/// Takes a pending invitation back: its link stops working.
pub async fn revoke(tx: &TenantTxn, id: InvitationId) -> Result<(), DomainError> {
    let ctx = *tx.ctx();
    let txn = tx.txn();
    let row = pending(txn, &ctx, id).await?;
    may_invite(&ctx, row.role.into())?;
    finish(txn, row.id, InvitationStatus::Revoked).await?;
    audit::record(
        txn,
        &ctx,
        AuditAction::InvitationRevoke,
        row.id,
        serde_json::json!({}),
    )
    .await
}

/// The team's pending invitations, newest first (owners and admins: whom the team invited is
/// theirs to know). Those past their expiry are marked expired (and audited) on the way, so the
/// list never offers a dead link.
pub async fn list_pending(tx: &TenantTxn) -> Result<Vec<Invitation>, DomainError> {
    let ctx = *tx.ctx();
    crate::members::require_manager(&ctx)?;
    let txn = tx.txn();
    expire_stale(txn, ctx.tenant_id()).await?;
    let rows = invitations::Entity::find()
        .filter(invitations::Column::TenantId.eq(ctx.tenant_id().into_uuid()))
        .filter(invitations::Column::Status.eq(InvitationStatus::Pending))
        .order_by_desc(invitations::Column::CreatedAt)
        .all(txn)
        .await?;
    let mut list = Vec::with_capacity(rows.len());
    for row in rows {
        let inviter = inviter_name(txn, row.invited_by).await?;
        list.push(to_dto(row, inviter));
    }
    Ok(list)
}

/// What the link behind `token` shows: the team, the inviter, the address and whether it can
/// still be accepted. An unknown token is `NotFound`.
pub async fn view(
    db: &Db,
    token: &str,
    signed_in: Option<&SignedIn>,
) -> Result<InvitationView, DomainError> {
    let found = by_token(db, token).await?;
    let state = found.settle(db).await?;
    let email = Email::parse(&found.email)?;
    let account_exists = accounts::user_by_email(db.connection(), &email)
        .await?
        .is_some();
    let signed_in_as = match signed_in {
        Some(signed_in) => users::Entity::find_by_id(signed_in.user_id.into_uuid())
            .one(db.connection())
            .await?
            .map(|u| u.email),
        None => None,
    };
    Ok(InvitationView {
        team_name: found.tenant_name,
        inviter_name: found.inviter_name,
        email: found.email,
        role: found.role,
        state,
        account_exists,
        signed_in_as,
    })
}

/// Accepts the invitation behind `token` for the signed-in user, whose account must have exactly
/// the invited address: holding the link of an invitation for somebody else's address gets you
/// nothing. The user joins with the invited role (a member already keeps their role), the session
/// switches to the team, and an invitation that was e-mailed verifies the address.
pub async fn accept(db: &Db, token: &str, signed_in: &SignedIn) -> Result<TenantId, DomainError> {
    let found = by_token(db, token).await?;
    found.require_pending(db).await?;
    let user = users::Entity::find_by_id(signed_in.user_id.into_uuid())
        .one(db.connection())
        .await?
        .ok_or(DomainError::Unauthorized)?;
    // Both addresses were stored as `Email::parse` folded them.
    if user.email != found.email {
        return Err(DomainError::Forbidden(format!(
            "this invitation is for {}, and you are signed in as {}; sign in with that address to accept it",
            found.email, user.email
        )));
    }
    let txn = db
        .begin_with(Some(found.tenant_id), Some(signed_in.user_id))
        .await?;
    join(&txn, &found, signed_in.user_id).await?;
    accounts::set_active_tenant(&txn, signed_in, found.tenant_id).await?;
    txn.commit().await?;
    Ok(found.tenant_id)
}

/// Creates an account from the invitation's link, with the invited address (not typed: the link
/// fixes it), joins the team and signs in there. An address that already has an account is
/// `Conflict`: log in to accept instead.
pub async fn sign_up_invited(
    db: &Db,
    hasher: &PasswordHasher,
    token: &str,
    form: &InvitedSignUpForm,
    client: &Client,
) -> Result<(SignedIn, NewSession), DomainError> {
    let display_name = Name::parse_for("display_name", &form.display_name)?;
    let password = NewPassword::parse(&form.password)?;
    let found = by_token(db, token).await?;
    found.require_pending(db).await?;
    let email = Email::parse(&found.email)?;
    let password_hash = hasher.hash(&password).await?;
    let user_id = UserId::from_uuid(Uuid::now_v7());
    let txn = db.begin_with(Some(found.tenant_id), Some(user_id)).await?;
    accounts::insert_user(
        &txn,
        user_id,
        &email,
        password_hash,
        &display_name,
        found.sent_by_mail,
    )
    .await
    .map_err(|e| match e {
        DomainError::Conflict(_) => DomainError::Conflict(
            "an account with this address already exists: log in to accept the invitation".into(),
        ),
        other => other,
    })?;
    join(&txn, &found, user_id).await?;
    let session = accounts::create_session(&txn, user_id, Some(found.tenant_id), client).await?;
    txn.commit().await?;
    Ok(session)
}

/// An invitation found by its token, across tenants.
struct Found {
    id: Uuid,
    tenant_id: TenantId,
    tenant_name: String,
    email: String,
    role: Role,
    status: InvitationStatus,
    expires_at: chrono::DateTime<chrono::FixedOffset>,
    inviter_name: String,
    sent_by_mail: bool,
}

impl Found {
    /// Where it stands now; a pending invitation past its expiry is marked expired here.
    async fn settle(&self, db: &Db) -> Result<InvitationState, DomainError> {
        Ok(match self.status {
            InvitationStatus::Pending if self.expires_at <= chrono::Utc::now() => {
                let txn = db.begin_with(Some(self.tenant_id), None).await?;
                expire_stale(&txn, self.tenant_id).await?;
                txn.commit().await?;
                InvitationState::Expired
            }
            InvitationStatus::Pending => InvitationState::Pending,
            InvitationStatus::Accepted => InvitationState::Accepted,
            InvitationStatus::Revoked => InvitationState::Revoked,
            InvitationStatus::Expired => InvitationState::Expired,
        })
    }

    async fn require_pending(&self, db: &Db) -> Result<(), DomainError> {
        let reason = match self.settle(db).await? {
            InvitationState::Pending => return Ok(()),
            InvitationState::Accepted => "this invitation was accepted already",
            InvitationState::Revoked => "this invitation was revoked by the team",
            InvitationState::Expired => "this invitation has expired; ask the team for a new one",
        };
        Err(DomainError::Conflict(reason.into()))
    }
}

async fn by_token(db: &Db, token: &str) -> Result<Found, DomainError> {
    let row = db
        .connection()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id, tenant_id, tenant_name, email, role, status, expires_at, inviter_name, sent_by_mail
               FROM cairn_invitation_by_token($1)",
            [token_hash(token).into()],
        ))
        .await?
        .ok_or(DomainError::NotFound)?;
    use sea_orm::ActiveEnum;
    let role: String = row.try_get("", "role")?;
    let status: String = row.try_get("", "status")?;
    Ok(Found {
        id: row.try_get("", "id")?,
        tenant_id: TenantId::from_uuid(row.try_get("", "tenant_id")?),
        tenant_name: row.try_get("", "tenant_name")?,
        email: row.try_get("", "email")?,
        role: memberships::MembershipRole::try_from_value(&role)?.into(),
        status: InvitationStatus::try_from_value(&status)?,
        expires_at: row.try_get("", "expires_at")?,
        inviter_name: row.try_get("", "inviter_name")?,
        sent_by_mail: row.try_get("", "sent_by_mail")?,
    })
}

/// Makes `user_id` a member through `found` (in a transaction set to its tenant): the invitation
/// is claimed first, so of two acceptances at once only one goes through.
async fn join(
    txn: &sea_orm::DatabaseTransaction,
    found: &Found,
    user_id: UserId,
) -> Result<(), DomainError> {
    let claimed = invitations::Entity::update_many()
        .col_expr(
            invitations::Column::Status,
            Expr::value(InvitationStatus::Accepted),
        )
        .col_expr(
            invitations::Column::AcceptedBy,
            Expr::value(user_id.into_uuid()),
        )
        .col_expr(invitations::Column::FinishedAt, Expr::cust("now()"))
        .filter(invitations::Column::Id.eq(found.id))
        .filter(invitations::Column::Status.eq(InvitationStatus::Pending))
        .filter(Expr::cust("expires_at > now()"))
        .exec(txn)
        .await?;
    if claimed.rows_affected == 0 {
        return Err(DomainError::Conflict(
            "this invitation was accepted already".into(),
        ));
    }
    // A member already keeps the role they have.
    let role: memberships::MembershipRole = found.role.into();
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, user_id) DO NOTHING",
        [
            found.tenant_id.into_uuid().into(),
            user_id.into_uuid().into(),
            sea_orm::ActiveEnum::to_value(&role).into(),
        ],
    ))
    .await?;
    let ctx = TenantCtx::verified(found.tenant_id, user_id, found.role);
    audit::record(
        txn,
        &ctx,
        AuditAction::InvitationAccept,
        found.id,
        serde_json::json!({"role": found.role}),
    )
    .await
}

/// Marks the tenant's pending invitations past their expiry as expired, audited as done by Cairn.
async fn expire_stale(txn: &impl ConnectionTrait, tenant_id: TenantId) -> Result<(), DomainError> {
    let expired = txn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE invitations SET status = 'expired', finished_at = now()
              WHERE tenant_id = $1 AND status = 'pending' AND expires_at <= now()
              RETURNING id",
            [tenant_id.into_uuid().into()],
        ))
        .await?;
    for row in expired {
        let id: Uuid = row.try_get("", "id")?;
        audit::record_as(
            txn,
            tenant_id,
            None,
            AuditAction::InvitationExpire,
            id,
            serde_json::json!({}),
        )
        .await?;
    }
    Ok(())
}

async fn finish(
    txn: &impl ConnectionTrait,
    id: Uuid,
    status: InvitationStatus,
) -> Result<(), DomainError> {
    invitations::Entity::update_many()
        .col_expr(invitations::Column::Status, Expr::value(status))
        .col_expr(invitations::Column::FinishedAt, Expr::cust("now()"))
        .filter(invitations::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

async fn pending(
    txn: &impl ConnectionTrait,
    ctx: &TenantCtx,
    id: InvitationId,
) -> Result<invitations::Model, DomainError> {
    invitations::Entity::find_by_id(id.into_uuid())
        .filter(invitations::Column::TenantId.eq(ctx.tenant_id().into_uuid()))
        .filter(invitations::Column::Status.eq(InvitationStatus::Pending))
        .one(txn)
        .await?
        .ok_or(DomainError::NotFound)
}

fn may_invite(ctx: &TenantCtx, role: Role) -> Result<(), DomainError> {
    crate::members::require_manager(ctx)?;
    if role == Role::Owner && ctx.role() != Role::Owner {
        return Err(DomainError::Forbidden(
            "only an owner can invite an owner".into(),
        ));
    }
    Ok(())
}

/// Sending counts against the team's hourly allowance and the address's, so a team cannot be
/// used to flood anybody's inbox.
async fn take_sending_place(db: &Db, ctx: &TenantCtx, email: &Email) -> Result<(), DomainError> {
    let team = ctx.tenant_id().to_string();
    let address = format!("{team}:{email}");
    let _counted = rate_limit::take(
        db,
        &[(INVITES_PER_TEAM, &team), (INVITES_PER_ADDRESS, &address)],
    )
    .await?;
    Ok(())
}

async fn is_member(
    txn: &impl ConnectionTrait,
    tenant_id: TenantId,
    email: &Email,
) -> Result<bool, DomainError> {
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*) AS members FROM memberships m JOIN users u ON u.id = m.user_id
              WHERE m.tenant_id = $1 AND lower(u.email) = $2",
            [tenant_id.into_uuid().into(), email.as_str().into()],
        ))
        .await?;
    let members: i64 = match row {
        Some(row) => row.try_get("", "members")?,
        None => 0,
    };
    Ok(members > 0)
}

async fn issued(
    txn: &impl ConnectionTrait,
    ctx: &TenantCtx,
    row: invitations::Model,
    token: String,
) -> Result<IssuedInvitation, DomainError> {
    let team_name = tenants::Entity::find_by_id(ctx.tenant_id().into_uuid())
        .one(txn)
        .await?
        .map(|t| t.name)
        .unwrap_or_default();
    let inviter_name = inviter_name(txn, ctx.user_id().map(UserId::into_uuid)).await?;
    Ok(IssuedInvitation {
        invitation: to_dto(row, inviter_name.clone()),
        token,
        team_name,
        inviter_name,
    })
}

async fn inviter_name(
    txn: &impl ConnectionTrait,
    user_id: Option<Uuid>,
) -> Result<String, DomainError> {
    let Some(user_id) = user_id else {
        return Ok(String::new());
    };
    Ok(users::Entity::find_by_id(user_id)
        .one(txn)
        .await?
        .map(|u| u.display_name)
        .unwrap_or_default())
}

fn expiry(from: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::FixedOffset> {
    (from + chrono::Duration::days(INVITATION_LIFETIME_DAYS)).fixed_offset()
}

fn to_dto(row: invitations::Model, invited_by: String) -> Invitation {
    Invitation {
        id: InvitationId::from_uuid(row.id),
        email: row.email,
        role: row.role.into(),
        invited_by,
        last_sent_at: row.last_sent_at.to_rfc3339(),
        expires_at: row.expires_at.to_rfc3339(),
        sent_by_mail: row.sent_by_mail,
    }
}
