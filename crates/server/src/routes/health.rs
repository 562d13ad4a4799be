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

fn not_ready(mut detail: Value) -> (StatusCode, Json<Value>) {
    detail["status"] = json!("not_ready");
    (StatusCode::SERVICE_UNAVAILABLE, Json(detail))
}
