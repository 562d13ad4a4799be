//! Getting an account back, and proving an address: password change, password reset by an e-mailed
//! link, and e-mail verification.
//!
//! Links carry a single-use token; only its SHA-256 is stored, with the address it was sent to. A
//! reset link works for [`RESET_LINK_LIFETIME`] and a verification link for
//! [`VERIFICATION_LINK_LIFETIME`]. Following either proves control of the address, so both mark it
//! verified. A reset revokes every session of the account: whoever registered somebody else's
//! address loses the account to the address's owner the moment the owner resets the password.

use super::{Client, NewSession, PasswordHasher, SignedIn, new_token, token_hash, user_by_email};
use crate::entities::account_tokens::{self, TokenPurpose};
use crate::entities::users;
use crate::rate_limit::{
    self, PASSWORD_CHECKS_PER_USER, RESET_PER_ADDRESS, RESET_PER_EMAIL, VERIFICATION_PER_USER,
};
use crate::{Db, DomainError};
use api::accounts::{Email, Name, NewPassword};
use api::ids::UserId;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
    TransactionTrait,
};

/// How long a password-reset link works.
pub const RESET_LINK_LIFETIME: chrono::Duration = chrono::Duration::hours(1);
/// How long an e-mail verification link works.
pub const VERIFICATION_LINK_LIFETIME: chrono::Duration = chrono::Duration::hours(24);

/// A link's secret and where it goes: the caller e-mails it and forgets it.
pub struct LinkToSend {
    /// The address to send it to.
    pub email: String,
    /// The token for the link's path.
    pub token: String,
}

impl std::fmt::Debug for LinkToSend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkToSend")
            .field("email", &self.email)
            .field("token", &"[REDACTED]")
            .finish()
    }
}

fn link_no_longer_valid() -> DomainError {
    DomainError::Invalid {
        field: "token".into(),
        reason: "this link no longer works: it was used already, replaced by a newer one, or is too old; ask for a new one".into(),
    }
}

/// Changes the signed-in user's password, after checking the current one (a few tries per
/// quarter-hour), and revokes the user's other sessions: whoever else was signed in is out.
/// Returns how many sessions were revoked.
pub async fn change_password(
    db: &Db,
    hasher: &PasswordHasher,
    signed_in: &SignedIn,
    current: &str,
    new: &NewPassword,
) -> Result<u64, DomainError> {
    let user = signed_in_user(db, signed_in).await?;
    check_password(db, hasher, &user, current, "current_password").await?;
    let hash = hasher.hash(new).await?;
    let txn = db.connection().begin().await?;
    set_password(&txn, signed_in.user_id, hash).await?;
    let revoked =
        super::sessions::revoke_all_but(&txn, signed_in.user_id, Some(signed_in.session_id))
            .await?;
    txn.commit().await?;
    Ok(revoked)
}

/// The signed-in user's account.
async fn signed_in_user(db: &Db, signed_in: &SignedIn) -> Result<users::Model, DomainError> {
    users::Entity::find_by_id(signed_in.user_id.into_uuid())
        .one(db.connection())
        .await?
        .ok_or(DomainError::Unauthorized)
}

/// Checks that `password` is the user's (a few tries per quarter-hour; a right one is not counted),
/// naming `field` when it is not.
async fn check_password(
    db: &Db,
    hasher: &PasswordHasher,
    user: &users::Model,
    password: &str,
    field: &str,
) -> Result<(), DomainError> {
    let reservation =
        rate_limit::take(db, &[(PASSWORD_CHECKS_PER_USER, &user.id.to_string())]).await?;
    if !hasher
        .verify(password, Some(user.password_hash.clone()))
        .await?
    {
        drop(reservation);
        return Err(DomainError::Invalid {
            field: field.into(),
            reason: "is not your current password".into(),
        });
    }
    rate_limit::release(db, reservation).await?;
    Ok(())
}

/// Makes a password-reset link for `email`, if an account uses that address; `None` otherwise.
/// The caller answers both cases alike, so nobody learns which addresses have accounts. Limited
/// per client address and per address asked for.
pub async fn request_password_reset(
    db: &Db,
    email: &str,
    client: &Client,
) -> Result<Option<LinkToSend>, DomainError> {
    let email = Email::parse(email)?;
    // Kept whatever the answer: asking about an address without an account counts too.
    let _counted = rate_limit::take(
        db,
        &[
            (RESET_PER_ADDRESS, &client.limit_key()),
            (RESET_PER_EMAIL, email.as_str()),
        ],
    )
    .await?;
    let Some(user) = user_by_email(db.connection(), &email).await? else {
        return Ok(None);
    };
    let token = issue(
        db.connection(),
        UserId::from_uuid(user.id),
        TokenPurpose::PasswordReset,
        &user.email,
        RESET_LINK_LIFETIME,
    )
    .await?;
    Ok(Some(LinkToSend {
        email: user.email,
        token,
    }))
}

/// Sets a new password through a reset link: the link is used up (and any other reset link of the
/// account with it), the address is verified, every session of the account is revoked, and this
/// browser is signed in afresh.
pub async fn reset_password(
    db: &Db,
    hasher: &PasswordHasher,
    token: &str,
    password: &NewPassword,
    client: &Client,
) -> Result<(SignedIn, NewSession), DomainError> {
    // Hash first: the slow part stays outside the transaction that locks the token.
    let hash = hasher.hash(password).await?;
    let txn = db.connection().begin().await?;
    let link = use_up(&txn, token, TokenPurpose::PasswordReset).await?;
    let user_id = UserId::from_uuid(link.user_id);
    set_password(&txn, user_id, hash).await?;
    mark_verified_if_current(&txn, user_id, &link.email).await?;
    super::sessions::revoke_all_but(&txn, user_id, None).await?;
    // Other reset links of the account stop working too.
    account_tokens::Entity::update_many()
        .col_expr(account_tokens::Column::UsedAt, Expr::cust("now()"))
        .filter(account_tokens::Column::UserId.eq(link.user_id))
        .filter(account_tokens::Column::Purpose.eq(TokenPurpose::PasswordReset))
        .filter(account_tokens::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    let txn = db.begin_as_user(user_id).await?;
    let first_tenant = super::first_tenant(&txn, user_id).await?;
    let session = super::create_session(&txn, user_id, first_tenant, client).await?;
    txn.commit().await?;
    Ok(session)
}

/// Makes a verification link for the signed-in user's address; `None` when it is verified
/// already. A few per hour.
pub async fn request_verification(
    db: &Db,
    signed_in: &SignedIn,
) -> Result<Option<LinkToSend>, DomainError> {
    let user = signed_in_user(db, signed_in).await?;
    if user.email_verified_at.is_some() {
        return Ok(None);
    }
    address_link(db, signed_in, TokenPurpose::EmailVerification, &user.email)
        .await
        .map(Some)
}

/// A link that proves `email` is the signed-in user's (for `purpose`): a few per hour, whatever
/// the purpose.
async fn address_link(
    db: &Db,
    signed_in: &SignedIn,
    purpose: TokenPurpose,
    email: &str,
) -> Result<LinkToSend, DomainError> {
    let _counted = rate_limit::take(
        db,
        &[(VERIFICATION_PER_USER, &signed_in.user_id.to_string())],
    )
    .await?;
    let token = issue(
        db.connection(),
        signed_in.user_id,
        purpose,
        email,
        VERIFICATION_LINK_LIFETIME,
    )
    .await?;
    Ok(LinkToSend {
        email: email.to_owned(),
        token,
    })
}

/// Follows a verification link: the address it was sent to is verified, if it is still the
/// account's address; a change-of-address link makes the address it was sent to the account's,
/// verified. Needs no session: the link is the proof.
pub async fn verify_email(db: &Db, token: &str) -> Result<(), DomainError> {
    let txn = db.connection().begin().await?;
    let link = match use_up(&txn, token, TokenPurpose::EmailVerification).await {
        Ok(link) => link,
        Err(_) => use_up(&txn, token, TokenPurpose::EmailChange).await?,
    };
    let user_id = UserId::from_uuid(link.user_id);
    if link.purpose == TokenPurpose::EmailChange {
        change_email(&txn, user_id, &link.email).await?;
    } else {
        mark_verified_if_current(&txn, user_id, &link.email).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Makes a link that changes the signed-in user's address to `new_email` once followed. It goes
/// to the new address (following it proves the address is theirs); until then the account keeps
/// its address. Asks the current password first (a few tries per quarter-hour), and a few links
/// per hour.
pub async fn request_email_change(
    db: &Db,
    hasher: &PasswordHasher,
    signed_in: &SignedIn,
    new_email: &Email,
    password: &str,
) -> Result<LinkToSend, DomainError> {
    let user = signed_in_user(db, signed_in).await?;
    if user.email.eq_ignore_ascii_case(new_email.as_str()) {
        return Err(DomainError::Invalid {
            field: "new_email".into(),
            reason: "is your address already".into(),
        });
    }
    check_password(db, hasher, &user, password, "password").await?;
    if user_by_email(db.connection(), new_email).await?.is_some() {
        return Err(address_taken());
    }
    address_link(db, signed_in, TokenPurpose::EmailChange, new_email.as_str()).await
}

/// Marks the address of the account that uses `email` verified, on the word of whoever runs the
/// server (a Cairn without mail can send no link); `false` when no account uses it.
pub async fn verify_as_operator(
    owner: &impl ConnectionTrait,
    email: &Email,
) -> Result<bool, DomainError> {
    let Some(user) = user_by_email(owner, email).await? else {
        return Ok(false);
    };
    mark_verified_if_current(owner, UserId::from_uuid(user.id), &user.email).await?;
    Ok(true)
}

/// Changes the user's name as others see it.
pub async fn rename(db: &Db, signed_in: &SignedIn, name: &Name) -> Result<(), DomainError> {
    users::Entity::update_many()
        .col_expr(users::Column::DisplayName, Expr::value(name.as_str()))
        .filter(users::Column::Id.eq(signed_in.user_id.into_uuid()))
        .exec(db.connection())
        .await?;
    Ok(())
}

fn address_taken() -> DomainError {
    DomainError::Conflict("another account uses that address".into())
}

/// Makes `email` the user's address, verified (the link sent there was followed).
async fn change_email(
    txn: &sea_orm::DatabaseTransaction,
    user_id: UserId,
    email: &str,
) -> Result<(), DomainError> {
    let changed = users::Entity::update_many()
        .col_expr(users::Column::Email, Expr::value(email))
        .col_expr(users::Column::EmailVerifiedAt, Expr::cust("now()"))
        .filter(users::Column::Id.eq(user_id.into_uuid()))
        .exec(txn)
        .await;
    match changed {
        Ok(_) => Ok(()),
        // Taken since the link was sent (the address is unique across accounts).
        Err(error) if error.to_string().contains("users_email_key") => Err(address_taken()),
        Err(error) => Err(error.into()),
    }
}

async fn issue(
    db: &impl ConnectionTrait,
    user_id: UserId,
    purpose: TokenPurpose,
    email: &str,
    lifetime: chrono::Duration,
) -> Result<String, DomainError> {
    let token = new_token();
    account_tokens::ActiveModel {
        token_hash: Set(token_hash(&token)),
        user_id: Set(user_id.into_uuid()),
        purpose: Set(purpose),
        email: Set(email.to_owned()),
        expires_at: Set((chrono::Utc::now() + lifetime).fixed_offset()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// Marks the link's token used, if it is unused, unexpired and for `purpose`; locks it so that two
/// uses at once cannot both succeed.
async fn use_up(
    txn: &sea_orm::DatabaseTransaction,
    token: &str,
    purpose: TokenPurpose,
) -> Result<account_tokens::Model, DomainError> {
    let link = account_tokens::Entity::find_by_id(token_hash(token))
        .filter(account_tokens::Column::Purpose.eq(purpose))
        .filter(account_tokens::Column::UsedAt.is_null())
        .filter(Expr::cust("expires_at > now()"))
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(link_no_longer_valid)?;
    account_tokens::Entity::update_many()
        .col_expr(account_tokens::Column::UsedAt, Expr::cust("now()"))
        .filter(account_tokens::Column::TokenHash.eq(link.token_hash.clone()))
        .exec(txn)
        .await?;
    Ok(link)
}

async fn set_password(
    db: &impl ConnectionTrait,
    user_id: UserId,
    hash: String,
) -> Result<(), DomainError> {
    users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(hash))
        .filter(users::Column::Id.eq(user_id.into_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// The link went to `email`: that address is proven, if it is still the account's.
async fn mark_verified_if_current(
    db: &impl ConnectionTrait,
    user_id: UserId,
    email: &str,
) -> Result<(), DomainError> {
    users::Entity::update_many()
        .col_expr(users::Column::EmailVerifiedAt, Expr::cust("now()"))
        .filter(users::Column::Id.eq(user_id.into_uuid()))
        .filter(Expr::cust_with_values("lower(email) = lower($1)", [email]))
        .filter(users::Column::EmailVerifiedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}
