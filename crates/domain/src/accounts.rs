//! Accounts: sign-up, log-in with rate limiting, and sessions stored in Postgres.
//!
//! A session cookie carries a random 256-bit token; only its SHA-256 is stored, so a leaked sessions
//! table does not let anyone sign in. Sessions expire after [`SESSION_LIFETIME_DAYS`], or after a
//! time without use (`Db::session_idle_timeout`), and are revoked by logging out.

mod passwords;
pub mod recovery;
pub mod sessions;

pub use passwords::{MIB_PER_HASH, PasswordHasher};

use crate::entities::{memberships, sessions as session_rows, tenants, users};
use crate::rate_limit::{self, LOG_IN_PER_ACCOUNT, LOG_IN_PER_ADDRESS, SIGN_UP_PER_ADDRESS};
use crate::{Db, DomainError};
use api::accounts::{Email, Name, NewPassword};
use api::ids::{TenantId, UserId};
use api::tenants::{SessionView, TenantSummary};
use base64::Engine;
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// How long a session lasts.
pub const SESSION_LIFETIME_DAYS: i64 = 30;
/// Failed log-ins allowed per account within [`RATE_WINDOW_MINUTES`].
pub const MAX_FAILURES_PER_ACCOUNT: i64 = LOG_IN_PER_ACCOUNT.max as i64;
/// Failed log-ins allowed per client address within [`RATE_WINDOW_MINUTES`].
pub const MAX_FAILURES_PER_ADDRESS: i64 = LOG_IN_PER_ADDRESS.max as i64;
/// The window failed attempts are counted in.
pub const RATE_WINDOW_MINUTES: i64 = (LOG_IN_PER_ACCOUNT.window.as_secs() / 60) as i64;

/// A sign-up form that passed every check.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// E-mail address.
    pub email: Email,
    /// Password.
    pub password: NewPassword,
    /// Display name.
    pub display_name: Name,
    /// The first tenant's name.
    pub tenant_name: Name,
}

impl NewAccount {
    /// Parses the sign-up form with the shared parsers.
    pub fn parse(form: &api::tenants::SignUpForm) -> Result<Self, api::ApiError> {
        Ok(Self {
            email: Email::parse(&form.email)?,
            password: NewPassword::parse(&form.password)?,
            display_name: Name::parse_for("display_name", &form.display_name)?,
            tenant_name: Name::parse_for("tenant_name", &form.tenant_name)?,
        })
    }
}

/// Where a request comes from, for rate limiting and the session list.
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// The client's address (the socket peer, or the proxy's forwarded address).
    pub address: String,
    /// The User-Agent header.
    pub user_agent: Option<String>,
}

impl Client {
    /// What its requests are limited by: the address, or its IPv6 /64.
    pub fn limit_key(&self) -> String {
        rate_limit::address_key(&self.address)
    }
}

/// A session just created: the token goes into the cookie and nowhere else.
#[derive(Clone)]
pub struct NewSession {
    /// The secret token.
    pub token: String,
    /// When it stops working.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("token", &"[REDACTED]")
            .finish()
    }
}

/// A verified session: who is signed in and which tenant they work in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The session row.
    pub session_id: Uuid,
    /// The user.
    pub user_id: UserId,
    /// The active tenant, if the user has one.
    pub active_tenant: Option<TenantId>,
}

/// Creates a user, their first tenant and their owner membership, and signs them in. Each client
/// address (IPv6: its /64) creates at most [`SIGN_UP_PER_ADDRESS`] accounts an hour.
pub async fn sign_up(
    db: &Db,
    hasher: &PasswordHasher,
    account: NewAccount,
    client: &Client,
) -> Result<(SignedIn, NewSession), DomainError> {
    let user_id = UserId::from_uuid(Uuid::now_v7());
    let tenant_id = TenantId::from_uuid(Uuid::now_v7());
    let reservation = rate_limit::take(db, &[(SIGN_UP_PER_ADDRESS, &client.limit_key())]).await?;
    let password_hash = match hasher.hash(&account.password).await {
        Ok(hash) => hash,
        Err(busy) => {
            // Nothing was attempted: the place is given back.
            rate_limit::release(db, reservation).await?;
            return Err(busy);
        }
    };
    drop(reservation);
    // The new tenant's id is set for row-level security before the tenant exists, so the inserts
    // below pass the policies' WITH CHECK.
    let txn = db.begin_with(Some(tenant_id), Some(user_id)).await?;
    insert_user(
        &txn,
        user_id,
        &account.email,
        password_hash,
        &account.display_name,
        false,
    )
    .await?;
    tenants::ActiveModel {
        id: Set(tenant_id.into_uuid()),
        name: Set(account.tenant_name.to_string()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    memberships::ActiveModel {
        tenant_id: Set(tenant_id.into_uuid()),
        user_id: Set(user_id.into_uuid()),
        role: Set(memberships::MembershipRole::Owner),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let session = create_session(&txn, user_id, Some(tenant_id), client).await?;
    txn.commit().await?;
    Ok(session)
}

/// Signs a user in with e-mail and password. A wrong address and a wrong password are the same
/// `Unauthorized`, and take the same time. Every attempt takes a place in the account's and the
/// address's log-in limits before the password is checked, and gives it back only when the
/// password was right: however many arrive at once, at most [`MAX_FAILURES_PER_ACCOUNT`] are
/// checked per account in the window, and the rest are `RateLimited`.
pub async fn log_in(
    db: &Db,
    hasher: &PasswordHasher,
    email: &str,
    password: &str,
    client: &Client,
) -> Result<(SignedIn, NewSession), DomainError> {
    let email = Email::parse(email)?;
    let conn = db.connection();
    let reservation = rate_limit::take(
        db,
        &[
            (LOG_IN_PER_ACCOUNT, email.as_str()),
            (LOG_IN_PER_ADDRESS, &client.limit_key()),
        ],
    )
    .await?;

    let user = user_by_email(conn, &email).await?;
    let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
    let verified = match hasher.verify(password, stored_hash).await {
        Ok(verified) => verified,
        Err(busy) => {
            // The password was never checked: the attempt does not count.
            rate_limit::release(db, reservation).await?;
            return Err(busy);
        }
    };
    let (Some(user), true) = (user, verified) else {
        drop(reservation);
        return Err(DomainError::Unauthorized);
    };
    // The right password forgives the account's failures.
    rate_limit::release(db, reservation).await?;
    rate_limit::clear(db, LOG_IN_PER_ACCOUNT, email.as_str()).await?;
    let user_id = UserId::from_uuid(user.id);

    let txn = db.begin_as_user(user_id).await?;
    let first_tenant = first_tenant(&txn, user_id).await?;
    let session = create_session(&txn, user_id, first_tenant, client).await?;
    txn.commit().await?;
    Ok(session)
}

/// The session behind a cookie token, if it is valid (not expired, not idle too long, not revoked).
pub async fn verify_session(db: &Db, token: &str) -> Result<SignedIn, DomainError> {
    let session = sessions::live(db)
        .filter(session_rows::Column::TokenHash.eq(token_hash(token)))
        .one(db.connection())
        .await?
        .ok_or(DomainError::Unauthorized)?;
    sessions::note_use(db, session.id, session.last_seen_at);
    Ok(SignedIn {
        session_id: session.id,
        user_id: UserId::from_uuid(session.user_id),
        active_tenant: session.active_tenant_id.map(TenantId::from_uuid),
    })
}

/// Ends the session behind `token`. Unknown tokens are ignored: logging out twice is fine.
pub async fn log_out(db: &Db, token: &str) -> Result<(), DomainError> {
    session_rows::Entity::update_many()
        .col_expr(session_rows::Column::RevokedAt, Expr::cust("now()"))
        .filter(session_rows::Column::TokenHash.eq(token_hash(token)))
        .filter(session_rows::Column::RevokedAt.is_null())
        .exec(db.connection())
        .await?;
    Ok(())
}

/// Ends every session of a user (after a password change, or on request).
pub async fn revoke_all_sessions(db: &Db, user_id: UserId) -> Result<u64, DomainError> {
    sessions::revoke_all_but(db.connection(), user_id, None).await
}

/// Who is signed in, and every tenant they belong to.
pub async fn session_view(db: &Db, signed_in: &SignedIn) -> Result<SessionView, DomainError> {
    let txn = db.begin_as_user(signed_in.user_id).await?;
    let user = users::Entity::find_by_id(signed_in.user_id.into_uuid())
        .one(&txn)
        .await?
        .ok_or(DomainError::Unauthorized)?;
    let rows = memberships::Entity::find()
        .filter(memberships::Column::UserId.eq(user.id))
        .find_also_related(tenants::Entity)
        .order_by_asc(tenants::Column::Name)
        .all(&txn)
        .await?;
    crate::tenant::end_read(txn);
    let tenants: Vec<TenantSummary> = rows
        .into_iter()
        .filter_map(|(membership, tenant)| {
            tenant.map(|t| TenantSummary {
                id: TenantId::from_uuid(t.id),
                name: t.name,
                role: membership.role.into(),
            })
        })
        .collect();
    // A tenant the user was removed from is no longer active.
    let active_tenant = signed_in
        .active_tenant
        .filter(|id| tenants.iter().any(|t| t.id == *id));
    Ok(SessionView {
        user_id: signed_in.user_id,
        email: user.email,
        display_name: user.display_name,
        email_verified: user.email_verified_at.is_some(),
        tenants,
        active_tenant,
    })
}

/// Makes `tenant_id` the session's active tenant, if the user is a member of it.
pub async fn switch_tenant(
    db: &Db,
    signed_in: &SignedIn,
    tenant_id: TenantId,
) -> Result<(), DomainError> {
    crate::TenantCtx::for_member(db, signed_in.user_id, tenant_id).await?;
    set_active_tenant(db.connection(), signed_in, tenant_id).await
}

/// Makes `tenant_id` the session's active tenant (the caller has checked the membership).
pub(crate) async fn set_active_tenant(
    db: &impl ConnectionTrait,
    signed_in: &SignedIn,
    tenant_id: TenantId,
) -> Result<(), DomainError> {
    session_rows::Entity::update_many()
        .col_expr(
            session_rows::Column::ActiveTenantId,
            Expr::value(tenant_id.into_uuid()),
        )
        .filter(session_rows::Column::Id.eq(signed_in.session_id))
        .exec(db)
        .await?;
    Ok(())
}

pub(crate) async fn create_session(
    db: &impl ConnectionTrait,
    user_id: UserId,
    active_tenant: Option<TenantId>,
    client: &Client,
) -> Result<(SignedIn, NewSession), DomainError> {
    let token = new_token();
    let expires_at = chrono::Utc::now() + chrono::Duration::days(SESSION_LIFETIME_DAYS);
    let session_id = Uuid::now_v7();
    session_rows::ActiveModel {
        id: Set(session_id),
        token_hash: Set(token_hash(&token)),
        user_id: Set(user_id.into_uuid()),
        active_tenant_id: Set(active_tenant.map(TenantId::into_uuid)),
        expires_at: Set(expires_at.fixed_offset()),
        user_agent: Set(client.user_agent.clone()),
        client_address: Set(Some(client.address.clone())),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok((
        SignedIn {
            session_id,
            user_id,
            active_tenant,
        },
        NewSession { token, expires_at },
    ))
}

/// A new secret for a cookie or a link: 256 random bits, URL-safe. Only its [`token_hash`] is
/// stored.
pub(crate) fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Inserts a user. An address already taken (in any case) is `Conflict`, also when a concurrent
/// sign-up wins the race.
pub(crate) async fn insert_user(
    db: &impl ConnectionTrait,
    user_id: UserId,
    email: &Email,
    password_hash: String,
    display_name: &Name,
    email_verified: bool,
) -> Result<(), DomainError> {
    let taken =
        || DomainError::Conflict("an account with this e-mail address already exists".into());
    if user_by_email(db, email).await?.is_some() {
        return Err(taken());
    }
    users::ActiveModel {
        id: Set(user_id.into_uuid()),
        email: Set(email.to_string()),
        password_hash: Set(password_hash),
        display_name: Set(display_name.to_string()),
        email_verified_at: Set(email_verified.then(|| chrono::Utc::now().fixed_offset())),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|e| match DomainError::from(e) {
        DomainError::Conflict(_) => taken(),
        other => other,
    })?;
    Ok(())
}

/// The first tenant a user joined, where a new session starts.
pub(crate) async fn first_tenant(
    db: &impl ConnectionTrait,
    user_id: UserId,
) -> Result<Option<TenantId>, DomainError> {
    Ok(memberships::Entity::find()
        .filter(memberships::Column::UserId.eq(user_id.into_uuid()))
        .order_by_asc(memberships::Column::CreatedAt)
        .one(db)
        .await?
        .map(|m| TenantId::from_uuid(m.tenant_id)))
}

/// The user with this address. The unique index is on `lower(email)`, and addresses are stored
/// lower-cased by `Email::parse`, so this finds them whatever case was typed.
pub(crate) async fn user_by_email(
    db: &impl ConnectionTrait,
    email: &Email,
) -> Result<Option<users::Model>, sea_orm::DbErr> {
    users::Entity::find()
        .filter(Expr::cust_with_values(
            "lower(email) = $1",
            [email.as_str()],
        ))
        .one(db)
        .await
}

pub(crate) fn token_hash(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.as_bytes()))
}
