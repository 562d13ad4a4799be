//! Live events across instances. A job's events are rows (written in the transaction of the change
//! they describe) announced on the Postgres channel `cairn_events` with ids only. Each instance
//! keeps one listening connection and fans the announcements out to the event streams it serves;
//! a stream then re-reads the rows under its own session's row-level security.

use sea_orm::sqlx::postgres::PgListener;
use serde::Deserialize;
use std::time::Duration;
use tokio::sync::broadcast;
use uuid::Uuid;

/// The channel the `job_events` trigger notifies.
const CHANNEL: &str = "cairn_events";

/// "Event `event` of job `job` was committed." Carries nothing a tenant could not see anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Announcement {
    /// The job.
    pub job: Uuid,
    /// The event's id.
    pub event: i64,
}

/// This instance's listener, shared by the streams it serves.
#[derive(Debug, Clone)]
pub struct EventHub {
    sender: broadcast::Sender<Announcement>,
}

impl EventHub {
    /// Listens on `url` (the database, as the application role) until `stopping` completes. A
    /// broken connection is reopened; announcements missed meanwhile are caught by the streams'
    /// periodic re-read.
    pub fn start(
        url: String,
        stopping: impl Future<Output = ()> + Send + 'static,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        // A subscriber that falls this far behind re-reads its stream instead (`Lagged`).
        let (sender, _) = broadcast::channel(1024);
        let hub = Self {
            sender: sender.clone(),
        };
        let task = tokio::spawn(async move {
            tokio::pin!(stopping);
            loop {
                tokio::select! {
                    () = &mut stopping => return,
                    () = listen(&url, &sender) => {}
                }
                tokio::select! {
                    () = &mut stopping => return,
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
        });
        (hub, task)
    }

    /// A receiver of every announcement from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Announcement> {
        self.sender.subscribe()
    }
}

/// Forwards announcements until the connection breaks.
async fn listen(url: &str, sender: &broadcast::Sender<Announcement>) {
    let mut listener = match PgListener::connect(url).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::warn!(%error, "connecting to listen for events");
            return;
        }
    };
    if let Err(error) = listener.listen(CHANNEL).await {
        tracing::warn!(%error, "listening for events");
        return;
    }
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                match serde_json::from_str::<Announcement>(notification.payload()) {
                    // No subscriber is not an error.
                    Ok(announcement) => drop(sender.send(announcement)),
                    Err(error) => {
                        tracing::warn!(%error, "an event announcement that does not parse")
                    }
                }
            }
            // The connection was lost; `try_recv` reconnects on the next call, but what was
            // announced meanwhile is gone: streams notice at their next re-read.
            Ok(None) => tracing::info!("event listener reconnecting"),
            Err(error) => {
                tracing::warn!(%error, "receiving events");
                return;
            }
        }
    }
}
