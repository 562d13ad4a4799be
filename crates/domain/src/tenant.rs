//! Tenant access as a value, and the transactions that carry it into Postgres.

use crate::DomainError;
use crate::entities::memberships;
use api::ids::{ApiTokenId, JobId, TenantId, UserId};
use api::tenants::{Permission, Role};
use api::tokens::TokenScope;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait,
    PrimaryKeyTrait, QueryFilter, QuerySelect, Statement, TransactionTrait,
};
use uuid::Uuid;

/// Who acts: a member through a browser session or an API token, a background job of the
/// tenant, or Cairn itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// A member signed in with a browser session (the session cookie).
    Session(UserId),
    /// A member acting through one of their API tokens (`Authorization: Bearer cairn_…`).
    ApiToken {
        /// The token's member.
        user: UserId,
        /// The token.
        token: ApiTokenId,
        /// What it may do: a `read` token changes nothing.
        scope: TokenScope,
    },
    /// A job (a sync, a workflow run), on behalf of the member who asked for it, if one did.
    Job {
        /// The job's kind.
        kind: &'static str,
        /// The job.
        id: JobId,
        /// Who asked for it (`None`: a schedule or a webhook).
        requested_by: Option<UserId>,
        /// The attempt acting: its lease on the job. Each claim counts a new attempt, so a
        /// transaction of this attempt commits only while the job is still running as this attempt
        /// (see `Db::enter`).
        attempt: i32,
    },
    /// Cairn itself, on an outside event it verified (a signed GitHub push), a schedule or the
    /// operator's command line.
    System {
        /// What acts, e.g. `github.push`.
        what: &'static str,
    },
}

/// Who is acting, in which tenant, with which role.
///
/// Fields are private and the constructors verify a membership (or, for a job, the job's tenant),
/// so holding a `TenantCtx` is proof that the actor may act in the tenant.
#[derive(Debug, Clone, Copy)]
pub struct TenantCtx {
    tenant_id: TenantId,
    principal: Principal,
    role: Role,
}

impl TenantCtx {
    /// The tenant acted in.
    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }

    /// Who acts.
    pub fn principal(&self) -> Principal {
        self.principal
    }

    /// The acting member, or the member on whose request a job acts; `None` for a job nobody
    /// asked for, and for Cairn itself.
    pub fn user_id(&self) -> Option<UserId> {
        match self.principal {
            Principal::Session(user) | Principal::ApiToken { user, .. } => Some(user),
            Principal::Job { requested_by, .. } => requested_by,
            Principal::System { .. } => None,
        }
    }

    /// The job acting, if a job is.
    pub fn job_id(&self) -> Option<JobId> {
        match self.principal {
            Principal::Job { id, .. } => Some(id),
            _ => None,
        }
    }

    /// Cairn acting in `tenant_id` on an outside event this crate has verified (a push whose
    /// signature matched the project's webhook secret), with a member's rights.
    pub(crate) async fn for_system(
        db: &Db,
        tenant_id: TenantId,
        what: &'static str,
    ) -> Result<Self, DomainError> {
        let txn = db.begin_with(Some(tenant_id), None).await?;
        crate::entities::tenants::Entity::find_by_id(tenant_id.into_uuid())
            .one(&txn)
            .await?
            .ok_or(DomainError::NotFound)?;
        end_read(txn);
        Ok(Self {
            tenant_id,
            principal: Principal::System { what },
            role: Role::Member,
        })
    }

    /// The instance's operator, at its command line, acting in team `tenant_id` with an owner's
    /// rights (they hold the database already; the command line is how they act within its
    /// rules). No such team is `NotFound`.
    pub async fn for_operator(
        db: &Db,
        tenant_id: TenantId,
        what: &'static str,
    ) -> Result<Self, DomainError> {
        Ok(Self {
            role: Role::Owner,
            ..Self::for_system(db, tenant_id, what).await?
        })
    }

    /// [`TenantCtx::for_operator`] in the team of the row `id` names (see
    /// [`TenantCtx::for_system_owning`]).
    pub async fn for_operator_owning(
        db: &Db,
        owner_function: &'static str,
        id: Uuid,
        what: &'static str,
    ) -> Result<Self, DomainError> {
        Ok(Self {
            role: Role::Owner,
            ..Self::for_system_owning(db, owner_function, id, what).await?
        })
    }

    /// Cairn acting as `what` in the team of the row `id` names, whatever team that is (the
    /// operator's command line names a project or a note): `owner_function` is the
    /// `SECURITY DEFINER` function that answers the row's tenant (`cairn_project_tenant`,
    /// `cairn_note_tenant`). No such row is `NotFound`.
    pub(crate) async fn for_system_owning(
        db: &Db,
        owner_function: &'static str,
        id: Uuid,
        what: &'static str,
    ) -> Result<Self, DomainError> {
        #[derive(sea_orm::FromQueryResult)]
        struct Owner {
            tenant_id: Option<Uuid>,
        }
        use sea_orm::FromQueryResult;
        let tenant = Owner::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("SELECT {owner_function}($1) AS tenant_id"),
            [id.into()],
        ))
        .one(db.connection())
        .await?
        .and_then(|row| row.tenant_id)
        .ok_or(DomainError::NotFound)?;
        Self::for_system(db, TenantId::from_uuid(tenant), what).await
    }

    /// The context of a job running for its tenant. A job acts with a member's rights, never an
    /// owner's or admin's: what needs more was checked when a member asked for the job. A job
    /// without a tenant, or whose tenant is gone, is `NotFound`.
    pub async fn for_job(db: &Db, job: &jobs::JobCtx) -> Result<Self, DomainError> {
        let tenant_id = TenantId::from_uuid(job.for_tenant().ok_or(DomainError::NotFound)?);
        let txn = db.begin_with(Some(tenant_id), None).await?;
        crate::entities::tenants::Entity::find_by_id(tenant_id.into_uuid())
            .one(&txn)
            .await?
            .ok_or(DomainError::NotFound)?;
        end_read(txn);
        Ok(Self {
            tenant_id,
            principal: Principal::Job {
                kind: job.kind(),
                id: JobId::from_uuid(job.id()),
                requested_by: job.requested_by().map(UserId::from_uuid),
                attempt: job.attempt(),
            },
            role: Role::Member,
        })
    }

    /// The user's role in the tenant.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Refuses (`Forbidden`, saying why) unless the caller may do what `permission` guards: the
    /// member's role allows it, and so does the way they act. A `read` API token has no
    /// permission (each guards a change); only a browser session manages API tokens; a job or
    /// Cairn acts with a member's rights.
    pub fn require(&self, permission: Permission) -> Result<(), DomainError> {
        let refused = |why: &str| Err(DomainError::Forbidden(why.into()));
        match self.principal {
            Principal::ApiToken {
                scope: TokenScope::Read,
                ..
            } => return refused(READ_ONLY_TOKEN),
            Principal::ApiToken { .. } | Principal::Job { .. } | Principal::System { .. }
                if permission == Permission::ManageTokens =>
            {
                return refused(permission.refusal());
            }
            _ => {}
        }
        if self.role.allows(permission) {
            Ok(())
        } else {
            refused(permission.refusal())
        }
    }

    /// The scope of the API token the member acts through, if they act through one.
    pub fn token(&self) -> Option<TokenScope> {
        match self.principal {
            Principal::ApiToken { scope, .. } => Some(scope),
            _ => None,
        }
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
            principal: Principal::Session(user_id),
            role: membership.role.into(),
        })
    }

    /// A context whose membership this crate has just verified or created (an accepted invitation).
    pub(crate) fn verified(tenant_id: TenantId, user_id: UserId, role: Role) -> Self {
        Self {
            tenant_id,
            principal: Principal::Session(user_id),
            role,
        }
    }

    /// Reads `cairn_session_context`'s row (see `Db::enter_session` for the errors).
    fn from_session_row(row: Option<sea_orm::QueryResult>) -> Result<Self, DomainError> {
        use sea_orm::ActiveEnum;
        let row = row.ok_or(DomainError::Unauthorized)?;
        // Both are NULL when the session has no active tenant or the membership is gone.
        let tenant_id: Option<uuid::Uuid> = row.try_get("", "tenant_id")?;
        let role: Option<String> = row.try_get("", "role")?;
        let (Some(tenant_id), Some(role)) = (tenant_id, role) else {
            return Err(DomainError::NotFound);
        };
        Ok(Self {
            tenant_id: TenantId::from_uuid(tenant_id),
            principal: Principal::Session(UserId::from_uuid(row.try_get("", "user_id")?)),
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

/// Who a session token belongs to and where it acts, and row-level security set to it for the rest
/// of the transaction, in one statement. A session without a tenant sets an empty tenant, which
/// matches no row.
const ENTER_SESSION: &str = "SELECT session_id, user_id, tenant_id, role, last_seen_at, \
        set_config('app.tenant_id', coalesce(tenant_id::text, ''), true), \
        set_config('app.user_id', user_id::text, true) \
   FROM cairn_session_context($1, make_interval(secs => $2))";

/// How a request proves who sends it: a browser's session cookie, or an API token sent as
/// `Authorization: Bearer cairn_…` (which never carries the cookie's authority).
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// The session cookie's token.
    Session(String),
    /// An API token.
    ApiToken(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Session(_) => "Credential::Session([REDACTED])",
            Self::ApiToken(_) => "Credential::ApiToken([REDACTED])",
        })
    }
}

/// What a read-only token is told when it tries to change something.
pub(crate) const READ_ONLY_TOKEN: &str = "this API token may only read";

/// Who an API token acts as, in one statement that also sets row-level security and, for a
/// `read` token, makes the transaction read-only (so no write can happen through it, whatever the
/// function). A token that is unknown, revoked, expired, or whose member left answers no row.
const ENTER_TOKEN: &str = "SELECT token_id, user_id, tenant_id, role, scope, last_used_at, \
        set_config('app.tenant_id', tenant_id::text, true), \
        set_config('app.user_id', user_id::text, true), \
        set_config('transaction_read_only', CASE WHEN scope = 'read' THEN 'on' ELSE 'off' END, true) \
   FROM cairn_token_context($1)";

/// A tenant's transaction together with the verified context it was opened for: what a repository
/// function needs to act for a member. Only `Db::enter` and `Db::enter_session` make one, so the
/// transaction's row-level security always matches the context.
#[derive(Debug)]
pub struct TenantTxn {
    ctx: TenantCtx,
    txn: DatabaseTransaction,
}

impl TenantTxn {
    /// Who is acting, and where.
    pub fn ctx(&self) -> &TenantCtx {
        &self.ctx
    }

    /// The open transaction, for the repository functions that work in it and leave the commit to
    /// their caller.
    pub(crate) fn txn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// The open transaction itself, for tests that inspect what row-level security lets it see.
    #[cfg(feature = "testing")]
    pub fn raw(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Commits what the repository functions did. The edge (a server function, a route, a job
    /// step) decides when the work is whole: several repository calls, e.g. a sync's finalize or an
    /// invitation whose e-mail was handed to the mail server first, commit together or not at all.
    pub async fn commit(self) -> Result<(), DomainError> {
        self.txn.commit().await?;
        Ok(())
    }

    /// Ends a transaction that only read. It has nothing to commit, so it is dropped: the
    /// `ROLLBACK` that queues goes out together with the check every connection gets on its way
    /// back to the pool, instead of costing a round trip of its own before the answer is sent.
    pub fn end_read(self) {
        drop(self);
    }

    /// The context tenant's row `id` of `E`; a row of another tenant, or none, is `NotFound`.
    pub(crate) async fn find<E: TenantRow>(&self, id: Uuid) -> Result<E::Model, DomainError>
    where
        <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<Uuid>,
    {
        self.select::<E>(id)
            .one(&self.txn)
            .await?
            .ok_or(DomainError::NotFound)
    }

    /// [`TenantTxn::find`], locking the row until the transaction ends: the work that follows is
    /// serialised per row (uploads to one note, a reorder of its images).
    pub(crate) async fn find_for_update<E: TenantRow>(
        &self,
        id: Uuid,
    ) -> Result<E::Model, DomainError>
    where
        <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<Uuid>,
    {
        self.select::<E>(id)
            .lock_exclusive()
            .one(&self.txn)
            .await?
            .ok_or(DomainError::NotFound)
    }

    fn select<E: TenantRow>(&self, id: Uuid) -> sea_orm::Select<E>
    where
        <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<Uuid>,
    {
        // Row-level security hides other tenants' rows already; the filter says so in the query
        // too, so a policy dropped by mistake does not open the row.
        E::find_by_id(id).filter(E::tenant_column().eq(self.ctx.tenant_id().into_uuid()))
    }
}

/// [`TenantTxn::end_read`] for a transaction opened without a context.
pub(crate) fn end_read(txn: DatabaseTransaction) {
    drop(txn);
}

/// An entity whose rows belong to a tenant, for [`TenantTxn::find`].
pub(crate) trait TenantRow: EntityTrait {
    /// The column naming the row's tenant.
    fn tenant_column() -> Self::Column;
}

macro_rules! tenant_rows {
    ($($entity:ident),* $(,)?) => {
        $(impl TenantRow for crate::entities::$entity::Entity {
            fn tenant_column() -> Self::Column {
                crate::entities::$entity::Column::TenantId
            }
        })*
    };
}

tenant_rows!(
    projects,
    project_notes,
    note_images,
    memory_entries,
    invitations,
    project_syncs,
);

/// The application's connection pool. It connects as a role without superuser or BYPASSRLS, so
/// every tenant row it reads or writes goes through row-level security.
#[derive(Debug, Clone)]
pub struct Db {
    conn: DatabaseConnection,
    session_idle_timeout: std::time::Duration,
    health: crate::PoolHealth,
}

impl Db {
    /// A session unused for this long ends, unless [`Db::with_session_idle_timeout`] says otherwise.
    pub const DEFAULT_SESSION_IDLE_TIMEOUT: std::time::Duration =
        std::time::Duration::from_secs(7 * 24 * 3600);

    /// Wraps a pool that connects as the application role.
    pub fn new(conn: DatabaseConnection) -> Self {
        Self {
            conn,
            session_idle_timeout: Self::DEFAULT_SESSION_IDLE_TIMEOUT,
            health: crate::PoolHealth::default(),
        }
    }

    /// The release check installed on this pool (`PoolHealth::check_on_release`), whose counts
    /// the instance reports.
    pub fn with_pool_health(self, health: crate::PoolHealth) -> Self {
        Self { health, ..self }
    }

    /// What the pool's release check found.
    pub fn pool_health(&self) -> &crate::PoolHealth {
        &self.health
    }

    /// The pool's connections now.
    pub fn pool_stats(&self) -> crate::pool::PoolStats {
        let pool = self.conn.get_postgres_connection_pool();
        crate::pool::PoolStats {
            size: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        }
    }

    /// Sessions end after `idle` without a request (as well as at their absolute expiry).
    pub fn with_session_idle_timeout(self, idle: std::time::Duration) -> Self {
        Self {
            session_idle_timeout: idle,
            ..self
        }
    }

    /// How long a session may go unused.
    pub fn session_idle_timeout(&self) -> std::time::Duration {
        self.session_idle_timeout
    }

    /// The pool, for work that touches no tenant rows (users and sessions). Outside this crate
    /// only tests reach it (feature `testing`): the application goes through repository functions.
    #[cfg(feature = "testing")]
    pub fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }

    #[cfg(not(feature = "testing"))]
    pub(crate) fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Opens a transaction in which Postgres sees only `ctx`'s tenant.
    pub async fn begin_tenant(&self, ctx: &TenantCtx) -> Result<DatabaseTransaction, DomainError> {
        self.begin_with(Some(ctx.tenant_id), ctx.user_id()).await
    }

    /// [`Db::begin_tenant`], with the context kept beside the transaction.
    ///
    /// A job's transaction first takes its lease: the job's row, share-locked for as long as the
    /// transaction lasts, must still be running as the context's attempt. A worker that stalled
    /// past its staleness limit, was reaped, and woke up while another instance runs the job
    /// (perhaps already finished it) can therefore change nothing: its transaction is refused
    /// before it writes, and while one holds the lease the reaper cannot take the job back until it
    /// has committed. The fence costs one statement per job transaction.
    pub async fn enter(&self, ctx: &TenantCtx) -> Result<TenantTxn, DomainError> {
        let txn = self.begin_tenant(ctx).await?;
        if let Principal::Job { id, attempt, .. } = ctx.principal {
            let held = txn
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT 1 AS held FROM jobs
                      WHERE id = $1 AND attempts = $2 AND status = 'running'
                        FOR SHARE",
                    [id.into_uuid().into(), attempt.into()],
                ))
                .await?;
            if held.is_none() {
                return Err(DomainError::LeaseLost);
            }
        }
        Ok(TenantTxn { ctx: *ctx, txn })
    }

    /// Runs `work` in one transaction of `ctx`'s tenant and commits it when the work succeeded; on
    /// an error nothing of it stays. For edges without a request (a job step, the command line)
    /// that compose several repository calls into one change.
    pub async fn transact<T>(
        &self,
        ctx: &TenantCtx,
        work: impl AsyncFnOnce(&TenantTxn) -> Result<T, DomainError>,
    ) -> Result<T, DomainError> {
        let tx = self.enter(ctx).await?;
        let done = work(&tx).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Opens the transaction of a request made with a session cookie: verifying the session and its
    /// membership and setting row-level security happen in one statement inside the transaction, so
    /// a request is one connection and four round trips (begin, this, its query, the end of the
    /// transaction), and the check runs in the same transaction as the work it allows. An unknown,
    /// expired or revoked token is `Unauthorized`; a session with no active tenant, or whose
    /// membership there was removed, is `NotFound`.
    pub async fn enter_session(&self, token: &str) -> Result<TenantTxn, DomainError> {
        let txn = self.conn.begin().await?;
        let row = txn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                ENTER_SESSION,
                [
                    crate::accounts::token_hash(token).into(),
                    self.session_idle_timeout.as_secs_f64().into(),
                ],
            ))
            .await?;
        if let Some(row) = &row {
            crate::accounts::sessions::note_use(
                self,
                row.try_get("", "session_id")?,
                row.try_get("", "last_seen_at")?,
            );
        }
        // On an error the transaction is dropped, which rolls it back.
        let ctx = TenantCtx::from_session_row(row)?;
        Ok(TenantTxn { ctx, txn })
    }

    /// Opens the transaction of a request made with `credential`: [`Db::enter_session`] or
    /// [`Db::enter_token`].
    pub async fn enter_with(&self, credential: &Credential) -> Result<TenantTxn, DomainError> {
        match credential {
            Credential::Session(token) => self.enter_session(token).await,
            Credential::ApiToken(token) => self.enter_token(token).await,
        }
    }

    /// Opens the transaction of a request made with an API token (`Authorization: Bearer cairn_…`),
    /// acting as its member in its team with the member's role, read-only for a `read` token. An
    /// unknown, revoked or expired token, or one whose member left the team, is `Unauthorized`.
    pub async fn enter_token(&self, token: &str) -> Result<TenantTxn, DomainError> {
        let txn = self.conn.begin().await?;
        let row = txn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                ENTER_TOKEN,
                [crate::accounts::token_hash(token).into()],
            ))
            .await?
            .ok_or(DomainError::Unauthorized)?;
        let role: String = row.try_get("", "role")?;
        let scope: String = row.try_get("", "scope")?;
        let token_id: Uuid = row.try_get("", "token_id")?;
        let ctx = TenantCtx {
            tenant_id: TenantId::from_uuid(row.try_get("", "tenant_id")?),
            principal: Principal::ApiToken {
                user: UserId::from_uuid(row.try_get("", "user_id")?),
                token: ApiTokenId::from_uuid(token_id),
                scope: TokenScope::parse(&scope)
                    .ok_or_else(|| DomainError::Internal(format!("token scope {scope:?}")))?,
            },
            role: {
                use sea_orm::ActiveEnum;
                memberships::MembershipRole::try_from_value(&role)?.into()
            },
        };
        crate::api_tokens::note_use(self, token_id, row.try_get("", "last_used_at")?);
        Ok(TenantTxn { ctx, txn })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(principal: Principal, role: Role) -> TenantCtx {
        TenantCtx {
            tenant_id: TenantId::from_uuid(Uuid::nil()),
            principal,
            role,
        }
    }

    fn allowed(ctx: &TenantCtx) -> Vec<Permission> {
        Permission::ALL
            .into_iter()
            .filter(|p| ctx.require(*p).is_ok())
            .collect()
    }

    /// The README's table of who may do what, by the way they act.
    #[test]
    fn what_each_principal_may_do_is_its_roles_share_narrowed_by_how_it_acts() {
        use Permission::*;
        let user = UserId::from_uuid(Uuid::nil());
        let token = |scope| Principal::ApiToken {
            user,
            token: ApiTokenId::from_uuid(Uuid::nil()),
            scope,
        };
        let job = Principal::Job {
            kind: "project.sync",
            id: JobId::from_uuid(Uuid::nil()),
            requested_by: Some(user),
            attempt: 1,
        };
        let everyday = vec![EditContent, AskAi, ManageTokens];
        assert_eq!(
            allowed(&ctx(Principal::Session(user), Role::Owner)),
            Permission::ALL.to_vec()
        );
        assert_eq!(
            allowed(&ctx(Principal::Session(user), Role::Member)),
            everyday
        );
        // A write token does what its member may, but makes no tokens.
        assert_eq!(
            allowed(&ctx(token(TokenScope::Write), Role::Admin)),
            vec![
                EditContent,
                AskAi,
                ManageMembers,
                DeleteProjects,
                ManageSources,
                ManageAi,
                ManageJobs
            ]
        );
        assert_eq!(
            allowed(&ctx(token(TokenScope::Write), Role::Member)),
            vec![EditContent, AskAi]
        );
        // A read token changes nothing, whoever its member is.
        assert!(allowed(&ctx(token(TokenScope::Read), Role::Owner)).is_empty());
        let refused = ctx(token(TokenScope::Read), Role::Owner).require(EditContent);
        assert!(
            matches!(&refused, Err(DomainError::Forbidden(why)) if why == READ_ONLY_TOKEN),
            "{refused:?}"
        );
        // A job and Cairn itself act with a member's rights.
        for principal in [
            job,
            Principal::System {
                what: "github.push",
            },
        ] {
            assert_eq!(
                allowed(&ctx(principal, Role::Member)),
                vec![EditContent, AskAi]
            );
        }
    }
}
