//! The check every pooled connection passes on its way back to the pool.
//!
//! Row-level security rests on `app.tenant_id`, set *locally* in each transaction: it vanishes when
//! the transaction ends. A connection that went back to the pool while still inside a transaction
//! would carry that transaction, and the tenant set in it, into whatever request takes it next.
//! That happened: a request's `BEGIN`, cancelled while in flight (a page's unused read dropped when
//! the page was sent), left the server inside a transaction the driver no longer knew about. So
//! each connection is asked, when it is released, whether it is outside any transaction and holds
//! no tenant; one that is not is rolled back, closed rather than reused, counted, and logged as an
//! error.

use sea_orm::sqlx::postgres::PgConnection;
use sea_orm::sqlx::{Executor, Row};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the release check found, for metrics and tests.
#[derive(Debug, Clone, Default)]
pub struct PoolHealth {
    returned_dirty: Arc<AtomicU64>,
}

/// One round trip in the simple protocol, so that the statement is its own first command: outside
/// a transaction block its start is the transaction's start; inside a block left open, the
/// transaction began with an earlier command. The tenant setting is empty unless a transaction
/// that set it is still open.
const RELEASE_CHECK: &str = "SELECT transaction_timestamp() <> statement_timestamp() AS in_transaction, \
     coalesce(current_setting('app.tenant_id', true), '') <> '' AS tenant_set";

impl PoolHealth {
    /// Connections that came back inside a transaction, or with a tenant set, since the pool opened.
    pub fn returned_dirty(&self) -> u64 {
        self.returned_dirty.load(Ordering::Relaxed)
    }

    /// Installs the check on `options`' pool.
    pub fn check_on_release(&self, options: &mut sea_orm::ConnectOptions) {
        let health = self.clone();
        options.map_sqlx_postgres_pool_opts(move |pool| {
            let health = health.clone();
            pool.after_release(move |conn, _meta| {
                let health = health.clone();
                Box::pin(async move { Ok(health.check(conn).await) })
            })
        });
    }

    /// Whether `conn` may go back into the pool.
    async fn check(&self, conn: &mut PgConnection) -> bool {
        // Whatever the last user left queued (the rollback of a dropped transaction) is sent and
        // answered before this statement runs.
        let found = conn
            .fetch_one(sea_orm::sqlx::raw_sql(RELEASE_CHECK))
            .await
            .and_then(|row| {
                Ok((
                    row.try_get::<bool, _>("in_transaction")?,
                    row.try_get::<bool, _>("tenant_set")?,
                ))
            });
        let problem = match found {
            Ok((false, false)) => return true,
            Ok((true, _)) => "inside a transaction",
            Ok((false, true)) => "with a tenant set",
            // An aborted transaction (25P02) answers every statement with an error; so does a
            // broken connection. Neither goes back.
            Err(_) => "unable to answer (an aborted transaction, or a broken connection)",
        };
        self.returned_dirty.fetch_add(1, Ordering::Relaxed);
        tracing::error!(
            problem,
            "a database connection came back to the pool {problem}: rolled back and closed"
        );
        let _ = conn.execute(sea_orm::sqlx::raw_sql("ROLLBACK")).await;
        false
    }
}

/// A pool's connections at one moment.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    /// Open connections.
    pub size: u32,
    /// Of those, idle in the pool.
    pub idle: u32,
}
