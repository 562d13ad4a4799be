//! A user's sessions: the list of browsers signed in, revoking any of them, and noting use so that
//! idle sessions end.

use super::SignedIn;
use crate::entities::sessions;
use crate::{Db, DomainError};
use api::ids::{SessionId, UserId};
use api::tenants::SessionInfo;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

/// How stale `last_seen_at` may get before a request writes it again: often enough for an idle
/// timeout counted in days, rarely enough that requests do not each pay for a write.
pub const USE_NOTED_EVERY: chrono::Duration = chrono::Duration::minutes(5);

/// Notes that a session was used, when its last noted use is older than [`USE_NOTED_EVERY`]. The
/// write runs on its own connection, in the background: the request's own transaction may be rolled
/// back (reads end that way), and the answer should not wait for it.
pub(crate) fn note_use(
    db: &Db,
    session_id: Uuid,
    last_seen_at: chrono::DateTime<chrono::FixedOffset>,
) {
    if chrono::Utc::now() - last_seen_at.with_timezone(&chrono::Utc) < USE_NOTED_EVERY {
        return;
    }
    let conn = db.connection().clone();
    tokio::spawn(async move {
        let noted = sessions::Entity::update_many()
            .col_expr(sessions::Column::LastSeenAt, Expr::cust("now()"))
            .filter(sessions::Column::Id.eq(session_id))
            .exec(&conn)
            .await;
        if let Err(error) = noted {
            tracing::debug!(%error, "noting a session's use");
        }
    });
}

/// Revokes every live session of `user_id` except `keep`; how many were revoked.
pub(crate) async fn revoke_all_but(
    db: &impl ConnectionTrait,
    user_id: UserId,
    keep: Option<Uuid>,
) -> Result<u64, DomainError> {
    let mut update = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::cust("now()"))
        .filter(sessions::Column::UserId.eq(user_id.into_uuid()))
        .filter(sessions::Column::RevokedAt.is_null());
    if let Some(keep) = keep {
        update = update.filter(sessions::Column::Id.ne(keep));
    }
    Ok(update.exec(db).await?.rows_affected)
}

/// Sessions that still sign their holder in: not revoked, not expired, not idle too long. (The
/// request path checks the same in SQL, in `cairn_session_context`.)
pub(crate) fn live(db: &Db) -> sea_orm::Select<sessions::Entity> {
    sessions::Entity::find()
        .filter(sessions::Column::RevokedAt.is_null())
        .filter(Expr::cust("expires_at > now()"))
        .filter(Expr::cust_with_values(
            "last_seen_at > now() - make_interval(secs => $1)",
            [db.session_idle_timeout().as_secs_f64()],
        ))
}

/// The signed-in user's live sessions, most recently used first.
pub async fn list(db: &Db, signed_in: &SignedIn) -> Result<Vec<SessionInfo>, DomainError> {
    let rows = live(db)
        .filter(sessions::Column::UserId.eq(signed_in.user_id.into_uuid()))
        .order_by_desc(sessions::Column::LastSeenAt)
        .all(db.connection())
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| SessionInfo {
            id: SessionId::from_uuid(row.id),
            created_at: row.created_at.to_rfc3339(),
            last_seen_at: row.last_seen_at.to_rfc3339(),
            user_agent: row.user_agent,
            client_address: row.client_address,
            current: row.id == signed_in.session_id,
        })
        .collect())
}

/// Revokes every session of the signed-in user but the current one ("sign out everywhere
/// else"); answers how many were live.
pub async fn revoke_others(db: &Db, signed_in: &SignedIn) -> Result<u64, DomainError> {
    let revoked = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::cust("now()"))
        .filter(sessions::Column::UserId.eq(signed_in.user_id.into_uuid()))
        .filter(sessions::Column::Id.ne(signed_in.session_id))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(db.connection())
        .await?;
    Ok(revoked.rows_affected)
}

/// Revokes one of the signed-in user's sessions (the current one too: that signs out). Another
/// user's session is `NotFound`, like one that does not exist.
pub async fn revoke(db: &Db, signed_in: &SignedIn, id: SessionId) -> Result<(), DomainError> {
    let revoked = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::cust("now()"))
        .filter(sessions::Column::Id.eq(id.into_uuid()))
        .filter(sessions::Column::UserId.eq(signed_in.user_id.into_uuid()))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(db.connection())
        .await?;
    if revoked.rows_affected == 0 {
        return Err(DomainError::NotFound);
    }
    Ok(())
}
