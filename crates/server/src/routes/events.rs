//! `GET /api/v1/events/jobs/{job_id}`: a job's events as Server-Sent Events.
//!
//! Each event has its id (`id:`), a name (`status`, `progress`, and `end` for the final status)
//! and the `api::jobs::JobEvent` as JSON. A client that reconnects with `Last-Event-ID` gets only
//! what came after it. The stream closes after `end`. The session is checked again at every read,
//! so signing out or leaving the team stops the stream; another tenant's job is 404.

use crate::error::ErrorResponse;
use crate::events::EventHub;
use api::ApiError;
use api::ids::{JobId, UserId};
use api::jobs::{JobEvent, JobEventBody};
use app::session_cookie::Caller;
use app::state::AppState;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use domain::job_runs;
use futures_util::Stream;
use services::in_flight::{Full, InFlight, Slot};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::broadcast;
use uuid::Uuid;

/// Events read per query.
const BATCH: u64 = 200;

/// A stream re-reads this often even without an announcement, in case one was lost while its
/// instance's listener reconnected.
const REREAD_EVERY: Duration = Duration::from_secs(5);

/// Event streams open, per user (a token without one: per team) and on this instance. Each open
/// stream holds a connection, a subscription and a re-read every few seconds: one user opening
/// hundreds would hold them all.
#[derive(Debug, Clone)]
pub struct StreamSlots(InFlight<Uuid>);

/// How long a refused stream is told to wait.
const STREAM_RETRY_AFTER_SECS: u64 = 10;

impl StreamSlots {
    /// At most `per_user` streams of one user and `in_all` of the instance (each at least 1).
    pub fn new(per_user: usize, in_all: usize) -> Self {
        Self(InFlight::new(per_user, in_all))
    }

    fn take(&self, ctx: &domain::TenantCtx) -> Result<Slot<Uuid>, ApiError> {
        let key = ctx
            .user_id()
            .map_or_else(|| ctx.tenant_id().into_uuid(), UserId::into_uuid);
        self.0.take(key).map_err(|full| match full {
            Full::Key => ApiError::RateLimited {
                retry_after_secs: STREAM_RETRY_AFTER_SECS,
            },
            Full::All => ApiError::Unavailable {
                service: "live progress (every event stream of this instance is in use)".into(),
                retry_after_secs: Some(STREAM_RETRY_AFTER_SECS),
            },
        })
    }

    /// Streams open now.
    pub fn open(&self) -> usize {
        self.0.in_use()
    }
}

/// Streams the job's events.
pub async fn job_events(
    State(state): State<AppState>,
    Extension(hub): Extension<EventHub>,
    Extension(keep_alive): Extension<KeepAliveEvery>,
    Extension(streams): Extension<StreamSlots>,
    Path(job_id): Path<String>,
    caller: Result<Caller, ErrorResponse>,
    headers: HeaderMap,
) -> Response {
    let opened = async {
        let job = JobId::parse(&job_id).map_err(|_| ApiError::NotFound)?;
        let caller = caller.map_err(|refused| refused.0)?;
        // Subscribed before the first read, so nothing committed in between is missed.
        let announcements = hub.subscribe();
        let tx = caller.enter(&state).await?;
        let slot = streams.take(tx.ctx())?;
        job_runs::status(&tx, job).await?;
        tx.end_read();
        Ok::<_, ApiError>(JobStream {
            state: state.clone(),
            caller,
            job,
            last: last_event_id(&headers),
            pending: VecDeque::new(),
            announcements,
            ended: false,
            _slot: slot,
        })
    }
    .await;
    match opened {
        Ok(stream) => {
            let mut response = Sse::new(stream.into_events())
                .keep_alive(KeepAlive::new().interval(keep_alive.0))
                .into_response();
            // Proxies that buffer responses (nginx) would hold the events back.
            response.headers_mut().insert(
                "x-accel-buffering",
                axum::http::HeaderValue::from_static("no"),
            );
            response
        }
        Err(error) => crate::error::ErrorResponse(error).into_response(),
    }
}

/// How often an idle stream sends a keep-alive comment (`server.sse_keep_alive_secs`).
#[derive(Debug, Clone, Copy)]
pub struct KeepAliveEvery(pub Duration);

/// `Last-Event-ID`, when it is an event id; anything else starts from the beginning.
fn last_event_id(headers: &HeaderMap) -> i64 {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|id| *id >= 0)
        .unwrap_or(0)
}

struct JobStream {
    state: AppState,
    caller: Caller,
    job: JobId,
    last: i64,
    pending: VecDeque<JobEvent>,
    announcements: broadcast::Receiver<Announcement>,
    ended: bool,
    /// Held while the stream is open.
    _slot: Slot<Uuid>,
}

use crate::events::Announcement;

impl JobStream {
    fn into_events(self) -> impl Stream<Item = Result<Event, std::convert::Infallible>> {
        futures_util::stream::unfold(self, |mut stream| async move {
            let event = stream.next().await?;
            Some((Ok(event), stream))
        })
    }

    /// The next event to send, or `None` when the stream is over.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                self.last = event.id;
                self.ended = event.is_end();
                return Some(to_sse(&event));
            }
            if self.ended {
                return None;
            }
            match self.read().await {
                Ok(Read::Events(events)) => self.pending.extend(events),
                Ok(Read::Over) => return None,
                Ok(Read::Nothing) => self.wait().await,
                Err(error) => {
                    // The session ended, the membership went, or the database failed: stop. The
                    // client's reconnect gets the proper answer (401, 404).
                    tracing::info!(?error, job = %self.job, "event stream closed");
                    return None;
                }
            }
        }
    }

    async fn read(&self) -> Result<Read, domain::DomainError> {
        let tx = self.caller.enter(&self.state).await?;
        // The status first: each statement sees what committed before it, and the final status
        // commits together with its event, so events read after a final status include the end.
        // (Read the other way round, the job could end between the two reads, and the stream
        // would close without sending its end.)
        let status = job_runs::status(&tx, self.job).await?;
        let events = job_runs::events_after(&tx, self.job, self.last, BATCH).await?;
        tx.end_read();
        Ok(if !events.is_empty() {
            Read::Events(events)
        } else if status.is_final() {
            // A client resuming after the end event has nothing more coming.
            Read::Over
        } else {
            Read::Nothing
        })
    }

    /// Until an announcement for this job (or a lagged receiver, which may have missed one), or
    /// the periodic re-read.
    async fn wait(&mut self) {
        let job = self.job.into_uuid();
        let announced = async {
            loop {
                match self.announcements.recv().await {
                    Ok(announcement) if announcement.job == job => return,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => return,
                    Err(broadcast::error::RecvError::Closed) => {
                        return std::future::pending().await;
                    }
                }
            }
        };
        let _ = tokio::time::timeout(REREAD_EVERY, announced).await;
    }
}

enum Read {
    Events(Vec<JobEvent>),
    Nothing,
    Over,
}

fn to_sse(event: &JobEvent) -> Event {
    let name = match &event.body {
        JobEventBody::Progress { .. } => "progress",
        JobEventBody::Status { .. } if event.is_end() => "end",
        JobEventBody::Status { .. } => "status",
    };
    Event::default()
        .id(event.id.to_string())
        .event(name)
        .json_data(event)
        .unwrap_or_else(|_| Event::default().event(name))
}
