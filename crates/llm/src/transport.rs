//! The HTTP under async-openai: one request, no retries (the router decides those), and a non-2xx
//! answer kept whole — status, `Retry-After` and body — for the classifier.

use crate::classify::HttpFailure;
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use futures_util::StreamExt;
use reqwest_llm as reqwest;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Longest error body kept.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Sends each request once. One per process is enough: routers built for each call share it (and
/// its connection pool and TLS set-up).
#[derive(Clone, Debug)]
pub struct Transport {
    client: reqwest::Client,
}

impl Transport {
    /// A transport that gives up connecting after `connect_timeout`.
    pub fn new(connect_timeout: Duration) -> Result<Self, reqwest::Error> {
        // The ring provider, as for GitHub; installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .build()?;
        Ok(Self { client })
    }

    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

impl tower::Service<HttpRequestFactory> for Transport {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: HttpRequestFactory) -> Self::Future {
        let client = self.client.clone();
        Box::pin(async move {
            let request = request.build().await?;
            let response = client
                .execute(request)
                .await
                .map_err(OpenAIError::Reqwest)?;
            if response.status().is_success() {
                return Ok(response);
            }
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(|v| match v.trim().parse::<u64>() {
                    Ok(secs) => Duration::from_secs(secs),
                    // An HTTP date: treated as "now", the router's own backoff applies.
                    Err(_) => Duration::ZERO,
                });
            let mut body = Vec::new();
            let mut chunks = response.bytes_stream();
            while let Some(chunk) = chunks.next().await {
                match chunk {
                    Ok(chunk) => {
                        body.extend_from_slice(&chunk);
                        if body.len() >= MAX_ERROR_BODY {
                            body.truncate(MAX_ERROR_BODY);
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
            Err(OpenAIError::Boxed(Box::new(HttpFailure {
                status,
                retry_after,
                body: String::from_utf8_lossy(&body).into_owned(),
            })))
        })
    }
}
