//! Accounts: sign-up, log-in with rate limiting, and sessions stored in Postgres.
//!
//! A session cookie carries a random 256-bit token; only its SHA-256 is stored, so a leaked sessions
//! table does not let anyone sign in. Sessions expire after [`SESSION_LIFETIME_DAYS`] and are revoked
//! by logging out.

use crate::entities::{memberships, sessions, tenants, users};
use crate::{Db, DomainError};
use api::accounts::{Email, Name, NewPassword};
use api::ids::{TenantId, UserId};
use api::tenants::{SessionView, TenantSummary};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, Set, Statement,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// How long a session lasts.
pub const SESSION_LIFETIME_DAYS: i64 = 30;
/// Failed log-ins allowed per account within [`RATE_WINDOW_MINUTES`].
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
/// Failed log-ins allowed per client address within [`RATE_WINDOW_MINUTES`].
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;
/// The window failed attempts are counted in.
pub const RATE_WINDOW_MINUTES: i64 = 15;

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

/// Creates a user, their first tenant and their owner membership, and signs them in.
pub async fn sign_up(
    db: &Db,
    account: NewAccount,
    client: &Client,
) -> Result<(SignedIn, NewSession), DomainError> {
    let user_id = UserId::from_uuid(Uuid::now_v7());
    let tenant_id = TenantId::from_uuid(Uuid::now_v7());
    let password_hash = hash_password(account.password).await?;
    // The new tenant's id is set for row-level security before the tenant exists, so the inserts
    // below pass the policies' WITH CHECK.
    let txn = db.begin_with(Some(tenant_id), Some(user_id)).await?;
    let taken = user_by_email(&txn, &account.email).await?.is_some();
    if taken {
        return Err(DomainError::Conflict(
            "an account with this e-mail address already exists".into(),
        ));
    }
    users::ActiveModel {
        id: Set(user_id.into_uuid()),
        email: Set(account.email.to_string()),
        password_hash: Set(password_hash),
        display_name: Set(account.display_name.to_string()),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| match DomainError::from(e) {
        // A concurrent sign-up with the same address won the race.
        DomainError::Conflict(_) => {
            DomainError::Conflict("an account with this e-mail address already exists".into())
        }
        other => other,
    })?;
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
/// `Unauthorized`, and take the same time. Too many failures for the account or the address are
/// `RateLimited`, checked before the password is.
pub async fn log_in(
    db: &Db,
    email: &str,
    password: &str,
    client: &Client,
) -> Result<(SignedIn, NewSession), DomainError> {
    let email = Email::parse(email)?;
    let conn = db.connection();
    check_rate_limits(conn, email.as_str(), &client.address).await?;

    let user = user_by_email(conn, &email).await?;
    let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
    let verified = verify_password(password.to_owned(), stored_hash).await?;
    record_attempt(conn, email.as_str(), &client.address, verified).await?;
    let (Some(user), true) = (user, verified) else {
        return Err(DomainError::Unauthorized);
    };
    let user_id = UserId::from_uuid(user.id);

    let txn = db.begin_as_user(user_id).await?;
    let first_tenant = memberships::Entity::find()
        .filter(memberships::Column::UserId.eq(user.id))
        .order_by_asc(memberships::Column::CreatedAt)
        .one(&txn)
        .await?
        .map(|m| TenantId::from_uuid(m.tenant_id));
    let session = create_session(&txn, user_id, first_tenant, client).await?;
    txn.commit().await?;
    Ok(session)
}

/// The session behind a cookie token, if it is valid (not expired, not revoked).
pub async fn verify_session(db: &Db, token: &str) -> Result<SignedIn, DomainError> {
    let session = sessions::Entity::find()
        .filter(sessions::Column::TokenHash.eq(token_hash(token)))
        .filter(sessions::Column::RevokedAt.is_null())
        .filter(Expr::cust("expires_at > now()"))
        .one(db.connection())
        .await?
        .ok_or(DomainError::Unauthorized)?;
    Ok(SignedIn {
        session_id: session.id,
        user_id: UserId::from_uuid(session.user_id),
        active_tenant: session.active_tenant_id.map(TenantId::from_uuid),
    })
}

/// Ends the session behind `token`. Unknown tokens are ignored: logging out twice is fine.
pub async fn log_out(db: &Db, token: &str) -> Result<(), DomainError> {
    sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::cust("now()"))
        .filter(sessions::Column::TokenHash.eq(token_hash(token)))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(db.connection())
        .await?;
    Ok(())
}

/// Ends every session of a user (after a password change, or on request).
pub async fn revoke_all_sessions(db: &Db, user_id: UserId) -> Result<u64, DomainError> {
    let result = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::cust("now()"))
        .filter(sessions::Column::UserId.eq(user_id.into_uuid()))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(db.connection())
        .await?;
    Ok(result.rows_affected)
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
    sessions::Entity::update_many()
        .col_expr(
            sessions::Column::ActiveTenantId,
            Expr::value(tenant_id.into_uuid()),
        )
        .filter(sessions::Column::Id.eq(signed_in.session_id))
        .exec(db.connection())
        .await?;
    Ok(())
}

async fn create_session(
    db: &impl ConnectionTrait,
    user_id: UserId,
    active_tenant: Option<TenantId>,
    client: &Client,
) -> Result<(SignedIn, NewSession), DomainError> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let expires_at = chrono::Utc::now() + chrono::Duration::days(SESSION_LIFETIME_DAYS);
    let session_id = Uuid::now_v7();
    sessions::ActiveModel {
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

fn new_salt() -> Result<SaltString, argon2::password_hash::Error> {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    SaltString::encode_b64(&bytes)
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

async fn hash_password(password: NewPassword) -> Result<String, DomainError> {
    tokio::task::spawn_blocking(move || {
        let salt = new_salt()?;
        Argon2::default()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|hash| hash.to_string())
    })
    .await
    .map_err(|e| DomainError::Database(sea_orm::DbErr::Custom(format!("hashing task: {e}"))))?
    .map_err(|e| DomainError::Database(sea_orm::DbErr::Custom(format!("hashing: {e}"))))
}

/// Verifies `password` against `stored` (argon2id, PHC string). With no stored hash (unknown
/// e-mail), a hash is still computed, so both answers take as long.
async fn verify_password(password: String, stored: Option<String>) -> Result<bool, DomainError> {
    tokio::task::spawn_blocking(move || {
        let argon2 = Argon2::default();
        match stored.as_deref().map(PasswordHash::new) {
            Some(Ok(hash)) => argon2.verify_password(password.as_bytes(), &hash).is_ok(),
            Some(Err(_)) | None => {
                if let Ok(salt) = new_salt() {
                    let _ = argon2.hash_password(password.as_bytes(), &salt);
                }
                false
            }
        }
    })
    .await
    .map_err(|e| DomainError::Database(sea_orm::DbErr::Custom(format!("verifying task: {e}"))))
}

async fn check_rate_limits(
    db: &impl ConnectionTrait,
    email: &str,
    address: &str,
) -> Result<(), DomainError> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT
                 count(*) FILTER (WHERE email = $1) AS account_failures,
                 min(attempted_at) FILTER (WHERE email = $1) AS account_oldest,
                 count(*) FILTER (WHERE client_address = $2) AS address_failures,
                 min(attempted_at) FILTER (WHERE client_address = $2) AS address_oldest
               FROM login_attempts
              WHERE NOT succeeded
                AND attempted_at > now() - make_interval(mins => $3)
                AND (email = $1 OR client_address = $2)",
            [
                email.into(),
                address.into(),
                (RATE_WINDOW_MINUTES as i32).into(),
            ],
        ))
        .await?
        .ok_or_else(|| DomainError::Database(sea_orm::DbErr::Custom("no row".into())))?;
    let now = chrono::Utc::now();
    let retry_after = |oldest: Option<chrono::DateTime<chrono::FixedOffset>>| {
        let window = chrono::Duration::minutes(RATE_WINDOW_MINUTES);
        let wait = oldest.map_or(window, |at| at.with_timezone(&chrono::Utc) + window - now);
        wait.num_seconds().max(1) as u64
    };
    let account_failures: i64 = row.try_get("", "account_failures")?;
    if account_failures >= MAX_FAILURES_PER_ACCOUNT {
        return Err(DomainError::RateLimited {
            retry_after_secs: retry_after(row.try_get("", "account_oldest")?),
        });
    }
    let address_failures: i64 = row.try_get("", "address_failures")?;
    if address_failures >= MAX_FAILURES_PER_ADDRESS {
        return Err(DomainError::RateLimited {
            retry_after_secs: retry_after(row.try_get("", "address_oldest")?),
        });
    }
    Ok(())
}

async fn record_attempt(
    db: &impl ConnectionTrait,
    email: &str,
    address: &str,
    succeeded: bool,
) -> Result<(), DomainError> {
    if succeeded {
        // A successful log-in clears the account's failures, and old rows are pruned as we go.
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM login_attempts
              WHERE email = $1 OR attempted_at < now() - interval '1 day'",
            [email.into()],
        ))
        .await?;
        return Ok(());
    }
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO login_attempts (email, client_address, succeeded) VALUES ($1, $2, false)",
        [email.into(), address.into()],
    ))
    .await?;
    Ok(())
}
