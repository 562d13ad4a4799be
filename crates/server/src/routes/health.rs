//! Liveness and readiness.

use axum::http::StatusCode;
use axum::{Extension, Json};
use migration::{Migrator, guard};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

/// The application role's pool, for the readiness check.
#[derive(Debug, Clone)]
pub struct Pool(pub sea_orm::DatabaseConnection);

/// The process is up and serving HTTP. Touches nothing else.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers as the application role and every migration this build knows is applied.
pub async fn readyz(Extension(Pool(db)): Extension<Pool>) -> (StatusCode, Json<Value>) {
    let db = &db;
    if let Err(error) = db.execute_unprepared("SELECT 1").await {
        tracing::warn!(%error, "readiness: database unreachable");
        return not_ready(json!({ "database": "unreachable" }));
    }
    match guard::pending_migrations::<Migrator, _>(db).await {
        Ok(pending) if pending.is_empty() => (
            StatusCode::OK,
            Json(json!({ "status": "ready", "database": "ok", "migrations": "current" })),
        ),
        Ok(pending) => not_ready(json!({ "database": "ok", "pending_migrations": pending })),
        Err(error) => {
            tracing::warn!(%error, "readiness: cannot read applied migrations");
            not_ready(json!({ "database": "ok", "migrations": "unknown" }))
        }
    }
}

/// The instance's counters and gauges in Prometheus' text format. Nothing in them belongs to a
/// tenant: the pool's size and idle connections, and how many connections its release check found
/// dirty (inside a transaction, or holding a tenant): anything but 0 is a defect to report.
pub async fn metrics(
    axum::extract::State(state): axum::extract::State<app::state::AppState>,
    axum::Extension(streams): axum::Extension<crate::routes::StreamSlots>,
) -> impl axum::response::IntoResponse {
    let pool = state.ctx.db.pool_stats();
    let body = format!(
        "# HELP cairn_db_connections_returned_dirty_total Pooled connections that came back inside a transaction or holding a tenant (rolled back and closed).\n\
         # TYPE cairn_db_connections_returned_dirty_total counter\n\
         cairn_db_connections_returned_dirty_total {}\n\
         # HELP cairn_db_pool_connections Connections the application pool holds.\n\
         # TYPE cairn_db_pool_connections gauge\n\
         cairn_db_pool_connections {}\n\
         # HELP cairn_db_pool_idle_connections Of those, idle.\n\
         # TYPE cairn_db_pool_idle_connections gauge\n\
         cairn_db_pool_idle_connections {}\n\
         # HELP cairn_event_streams_open Live event streams this instance holds open.\n\
         # TYPE cairn_event_streams_open gauge\n\
         cairn_event_streams_open {}\n",
        state.ctx.db.pool_health().returned_dirty(),
        pool.size,
        pool.idle,
        streams.open(),
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

fn not_ready(mut detail: Value) -> (StatusCode, Json<Value>) {
    detail["status"] = json!("not_ready");
    (StatusCode::SERVICE_UNAVAILABLE, Json(detail))
}
