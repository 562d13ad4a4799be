//! `GET /api/v1/workflow-runs/{run_id}/report.md`: a run's report as a Markdown file to download
//! (for members of its team: another team's run is 404, as a missing one).

use crate::error::ErrorResponse;
use api::ApiError;
use api::ids::WorkflowRunId;
use app::session_cookie::Caller;
use app::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The report, as an attachment.
pub async fn workflow_report(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    caller: Result<Caller, ErrorResponse>,
) -> Response {
    let result = async {
        let run = WorkflowRunId::parse(&run_id).map_err(|_| ApiError::NotFound)?;
        let tx = caller.map_err(|refused| refused.0)?.enter(&state).await?;
        let report = domain::workflows::report(&tx, run).await?;
        tx.end_read();
        Ok::<_, ApiError>((run, report))
    }
    .await;
    match result {
        Ok((run, report)) => {
            let mut response = report.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/markdown; charset=utf-8"),
            );
            if let Ok(value) =
                HeaderValue::from_str(&format!("attachment; filename=\"workflow-run-{run}.md\""))
            {
                headers.insert(header::CONTENT_DISPOSITION, value);
            }
            response
        }
        Err(error) => ErrorResponse(error).into_response(),
    }
}
