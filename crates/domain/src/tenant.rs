//! Tenant access as a value, and the transactions that carry it into Postgres.

use crate::DomainError;
use crate::entities::memberships;
use api::ids::{TenantId, UserId};
use api::tenants::Role;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait, Statement,
    TransactionTrait,
};

/// Who is acting, in which tenant, with which role.
///
/// Fields are private and the only constructor verifies a membership, so holding a `TenantCtx` is proof
/// that the user belongs to the tenant.
#[derive(Debug, Clone)]
pub struct TenantCtx {
    tenant_id: TenantId,
    user_id: UserId,
    role: Role,
}

impl TenantCtx {
    /// The tenant acted in.
    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }

    /// The acting user.
    pub fn user_id(&self) -> UserId {
        self.user_id
    }

    /// The user's role in the tenant.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Builds the context for `user_id` acting in `tenant_id`, if they are a member. A tenant the user
    /// does not belong to is `NotFound`, exactly like one that does not exist.
    pub async fn for_member(
        db: &Db,
        user_id: UserId,
        tenant_id: TenantId,
    ) -> Result<Self, DomainError> {
        let txn = db.begin_as_user(user_id).await?;
        let membership =
            memberships::Entity::find_by_id((tenant_id.into_uuid(), user_id.into_uuid()))
                .one(&txn)
                .await?
                .ok_or(DomainError::NotFound)?;
        txn.commit().await?;
        Ok(Self {
            tenant_id,
            user_id,
            role: membership.role.into(),
        })
    }

    /// The context behind a session cookie token, in one round trip (`cairn_session_context`): an
    /// unknown, expired or revoked token is `Unauthorized`; a session with no active tenant, or whose
    /// membership there was removed, is `NotFound`.
    pub async fn for_session_token(db: &Db, token: &str) -> Result<Self, DomainError> {
        use sea_orm::ActiveEnum;
        let row = db
            .conn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT user_id, tenant_id, role FROM cairn_session_context($1)",
                [crate::accounts::token_hash(token).into()],
            ))
            .await?
            .ok_or(DomainError::Unauthorized)?;
        // Both are NULL when the session has no active tenant or the membership is gone.
        let tenant_id: Option<uuid::Uuid> = row.try_get("", "tenant_id")?;
        let role: Option<String> = row.try_get("", "role")?;
        let (Some(tenant_id), Some(role)) = (tenant_id, role) else {
            return Err(DomainError::NotFound);
        };
        Ok(Self {
            tenant_id: TenantId::from_uuid(tenant_id),
            user_id: UserId::from_uuid(row.try_get("", "user_id")?),
            role: memberships::MembershipRole::try_from_value(&role)?.into(),
        })
    }

    /// The context of a signed-in session in its active tenant. A session with no active tenant, or
    /// whose membership was removed since, is `NotFound`.
    pub async fn for_session(
        db: &Db,
        session: &crate::accounts::SignedIn,
    ) -> Result<Self, DomainError> {
        let tenant_id = session.active_tenant.ok_or(DomainError::NotFound)?;
        Self::for_member(db, session.user_id, tenant_id).await
    }
}

impl From<memberships::MembershipRole> for Role {
    fn from(role: memberships::MembershipRole) -> Self {
        match role {
            memberships::MembershipRole::Owner => Role::Owner,
            memberships::MembershipRole::Admin => Role::Admin,
            memberships::MembershipRole::Member => Role::Member,
        }
    }
}

impl From<Role> for memberships::MembershipRole {
    fn from(role: Role) -> Self {
        match role {
            Role::Owner => memberships::MembershipRole::Owner,
            Role::Admin => memberships::MembershipRole::Admin,
            Role::Member => memberships::MembershipRole::Member,
        }
    }
}

/// The application's connection pool. It connects as a role without superuser or BYPASSRLS, so
/// every tenant row it reads or writes goes through row-level security.
#[derive(Debug, Clone)]
pub struct Db {
    conn: DatabaseConnection,
}

impl Db {
    /// Wraps a pool that connects as the application role.
    pub fn new(conn: DatabaseConnection) -> Self {
        Self { conn }
    }

    /// The pool, for work that touches no tenant rows (health checks, users and sessions).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Opens a transaction in which Postgres sees only `ctx`'s tenant.
    pub async fn begin_tenant(&self, ctx: &TenantCtx) -> Result<DatabaseTransaction, DomainError> {
        self.begin_with(Some(ctx.tenant_id), Some(ctx.user_id))
            .await
    }

    /// Opens a transaction in which Postgres sees `user_id`'s own memberships and tenants only.
    pub async fn begin_as_user(&self, user_id: UserId) -> Result<DatabaseTransaction, DomainError> {
        self.begin_with(None, Some(user_id)).await
    }

    /// Opens a transaction with both settings given. Only for this crate: outside it, a tenant
    /// transaction needs a `TenantCtx`.
    pub(crate) async fn begin_with(
        &self,
        tenant_id: Option<TenantId>,
        user_id: Option<UserId>,
    ) -> Result<DatabaseTransaction, DomainError> {
        let txn = self.conn.begin().await?;
        // `true`: the settings are local to this transaction and vanish at commit or rollback, so a
        // pooled connection never carries one request's tenant into the next.
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT set_config('app.tenant_id', $1, true), set_config('app.user_id', $2, true)",
            [
                tenant_id.map(|t| t.to_string()).unwrap_or_default().into(),
                user_id.map(|u| u.to_string()).unwrap_or_default().into(),
            ],
        ))
        .await?;
        Ok(txn)
    }
}
