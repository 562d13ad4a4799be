//! Rate limits decided in Postgres, shared by every Cairn instance.
//!
//! Each counted action has a bucket per key (an account, a client address, a team). Taking a place
//! locks the bucket (an advisory lock held to the end of a short transaction), counts its events in
//! the window and records one more only if there is room. Concurrent requests take turns on the
//! lock, so forty simultaneous attempts against a limit of five let exactly five through: a check
//! made before any of them was counted cannot pass them all.

use crate::{Db, DomainError};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use std::time::Duration;

/// An action's allowance: at most `max` events per key within `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// The action, naming its buckets (`sign_up`, `log_in.account`, ...).
    pub action: &'static str,
    /// Events allowed in the window.
    pub max: u32,
    /// The window.
    pub window: Duration,
}

const HOUR: Duration = Duration::from_secs(3600);

/// Failed log-ins per account (an attempt counts until its password is found right).
pub const LOG_IN_PER_ACCOUNT: Limit = Limit {
    action: "log_in.account",
    max: 5,
    window: Duration::from_secs(15 * 60),
};
/// Failed log-ins per client address (or IPv6 /64).
pub const LOG_IN_PER_ADDRESS: Limit = Limit {
    action: "log_in.address",
    max: 20,
    window: Duration::from_secs(15 * 60),
};
/// New accounts (with a new team) per client address.
pub const SIGN_UP_PER_ADDRESS: Limit = Limit {
    action: "sign_up.address",
    max: 10,
    window: HOUR,
};
/// Webhook deliveries per sending address (GitHub's hooks come from a few shared addresses, so
/// this is generous; it bounds what one stranger's address can make Cairn verify).
pub const WEBHOOK_PER_ADDRESS: Limit = Limit {
    action: "webhook.address",
    max: 600,
    window: Duration::from_secs(60),
};
/// Password-reset e-mails per client address.
pub const RESET_PER_ADDRESS: Limit = Limit {
    action: "reset.address",
    max: 5,
    window: HOUR,
};
/// Password-reset e-mails per address asked for, so nobody's inbox is flooded.
pub const RESET_PER_EMAIL: Limit = Limit {
    action: "reset.email",
    max: 3,
    window: HOUR,
};
/// Verification e-mails per user.
pub const VERIFICATION_PER_USER: Limit = Limit {
    action: "verify.user",
    max: 3,
    window: HOUR,
};
/// Invitations sent (or sent again) per team.
pub const INVITES_PER_TEAM: Limit = Limit {
    action: "invite.team",
    max: 30,
    window: HOUR,
};
/// Invitations sent (or sent again) to one address by one team.
pub const INVITES_PER_ADDRESS: Limit = Limit {
    action: "invite.address",
    max: 3,
    window: HOUR,
};
/// Attempts at password checks of a signed-in user (changing the password).
pub const PASSWORD_CHECKS_PER_USER: Limit = Limit {
    action: "password_check.user",
    max: 5,
    window: Duration::from_secs(15 * 60),
};

impl Limit {
    fn bucket(&self, key: &str) -> String {
        format!("{}:{key}", self.action)
    }
}

/// Places taken in buckets: given back when the attempt turns out not to count (a log-in whose
/// password was right).
#[derive(Debug, Default)]
#[must_use = "a reservation is released or kept on purpose"]
pub(crate) struct Reservation {
    ids: Vec<i64>,
}

/// Counts, locks and records in one statement once the bucket's lock is held. The count must be a
/// statement of its own after the lock: a statement's snapshot is taken when it starts, so counting
/// in the statement that waits for the lock would miss what the holder before it added.
const TAKE: &str = "
WITH recent AS (
    SELECT count(*) AS events, min(at) AS oldest
      FROM rate_limit_events
     WHERE bucket = $1 AND at > now() - make_interval(secs => $3)
), taken AS (
    INSERT INTO rate_limit_events (bucket)
    SELECT $1 FROM recent WHERE events < $2
    RETURNING id
)
SELECT (SELECT id FROM taken) AS id,
       ceil(extract(epoch FROM (recent.oldest + make_interval(secs => $3) - now())))::bigint AS wait
  FROM recent";

/// Takes a place in each `(limit, key)` bucket, all or none. A full bucket is `RateLimited` with the
/// seconds until its oldest event leaves the window.
pub(crate) async fn take(db: &Db, checks: &[(Limit, &str)]) -> Result<Reservation, DomainError> {
    let mut buckets: Vec<(Limit, String)> = checks
        .iter()
        .map(|(limit, key)| (*limit, limit.bucket(key)))
        .collect();
    // Always lock in the same order, so two requests never wait on each other's buckets.
    buckets.sort_by(|a, b| a.1.cmp(&b.1));
    let txn = db.connection().begin().await?;
    let mut reservation = Reservation::default();
    for (limit, bucket) in &buckets {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            [bucket.clone().into()],
        ))
        .await?;
        let row = txn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                TAKE,
                [
                    bucket.clone().into(),
                    i64::from(limit.max).into(),
                    (limit.window.as_secs_f64()).into(),
                ],
            ))
            .await?
            .ok_or_else(|| DomainError::Internal("the rate limit query returned no row".into()))?;
        match row.try_get::<Option<i64>>("", "id")? {
            Some(id) => reservation.ids.push(id),
            None => {
                // Dropping the transaction rolls back the places already taken in other buckets.
                let wait: Option<i64> = row.try_get("", "wait")?;
                return Err(DomainError::RateLimited {
                    retry_after_secs: wait.unwrap_or(1).max(1) as u64,
                });
            }
        }
    }
    txn.commit().await?;
    prune_now_and_then(db);
    Ok(reservation)
}

/// Gives the places back: the attempt does not count.
pub(crate) async fn release(db: &Db, reservation: Reservation) -> Result<(), DomainError> {
    if reservation.ids.is_empty() {
        return Ok(());
    }
    db.connection()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM rate_limit_events WHERE id = ANY($1)",
            [reservation.ids.into()],
        ))
        .await?;
    Ok(())
}

/// Empties a bucket (a successful log-in forgives the account's failures).
pub(crate) async fn clear(db: &Db, limit: Limit, key: &str) -> Result<(), DomainError> {
    db.connection()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM rate_limit_events WHERE bucket = $1",
            [limit.bucket(key).into()],
        ))
        .await?;
    Ok(())
}

/// Events older than any window are useless; about one request in a hundred removes them, in the
/// background.
fn prune_now_and_then(db: &Db) {
    if rand::random::<u8>() >= 3 {
        return;
    }
    let conn = db.connection().clone();
    tokio::spawn(async move {
        let pruned = conn
            .execute_unprepared("DELETE FROM rate_limit_events WHERE at < now() - interval '1 day'")
            .await;
        if let Err(error) = pruned {
            tracing::debug!(%error, "pruning rate limit events");
        }
    });
}

/// The key a client address is limited by: an IPv4 address as it is, an IPv6 address by its /64
/// (one customer's network, which hands its hosts any number of addresses), an IPv4-mapped IPv6
/// address as the IPv4 address it is. Anything unparsable is used verbatim.
pub fn address_key(address: &str) -> String {
    use std::net::IpAddr;
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Err(_) => address.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_are_limited_by_their_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(address_key("203.0.113.9"), "203.0.113.9");
        assert_eq!(
            address_key("2001:db8:1:2:aaaa::1"),
            address_key("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_eq!(address_key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_ne!(
            address_key("2001:db8:1:2::1"),
            address_key("2001:db8:1:3::1")
        );
        assert_eq!(address_key("::ffff:198.51.100.7"), "198.51.100.7");
        assert_eq!(address_key("unknown"), "unknown");
    }
}
