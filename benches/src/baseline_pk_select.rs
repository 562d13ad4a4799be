//! The floor Cairn's request path is measured against: axum + sqlx, one primary-key SELECT per
//! request, no session, no tenant, no transaction. `GET /projects/{id}` answers the project's name.
//!
//! Usage: `baseline-pk-select DATABASE_URL PORT` (binds 127.0.0.1 only).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use sea_orm::sqlx::{self, PgPool, postgres::PgPoolOptions};

async fn project_name(
    State(pool): State<PgPool>,
    Path(id): Path<uuid::Uuid>,
) -> Result<String, StatusCode> {
    sqlx::query_scalar::<_, String>("SELECT name FROM projects WHERE id = $1")
        .bind(id)
        .fetch_optional(&pool)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .ok_or(StatusCode::NOT_FOUND)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(port)) = (args.next(), args.next()) else {
        return Err("usage: baseline-pk-select DATABASE_URL PORT".into());
    };
    // The same pool size Cairn uses by default, for a like-for-like comparison.
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .connect(&url)
        .await?;
    let app = axum::Router::new()
        .route("/projects/{id}", get(project_name))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port.parse::<u16>()?)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
