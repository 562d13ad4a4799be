//! The HTTP under async-openai: one request, no retries (the router decides those), and a non-2xx
//! answer kept whole — status, `Retry-After` and body — for the classifier.

use crate::classify::HttpFailure;
use crate::outbound::{AddressPolicy, GuardedResolver, Refused, literal_address};
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use futures_util::StreamExt;
use reqwest_llm as reqwest;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Longest error body kept.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Sends each request once, and follows no redirect. One per process is enough: routers built for
/// each call share it (and its connection pool and TLS set-up). A team's providers go through a
/// [`Transport::guarded`] one, which reaches only the addresses its [`AddressPolicy`] allows.
#[derive(Clone, Debug)]
pub struct Transport {
    client: reqwest::Client,
    policy: Option<Arc<AddressPolicy>>,
}

impl Transport {
    /// A transport for the instance's own providers: any address. It gives up connecting after
    /// `connect_timeout`.
    pub fn new(connect_timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self {
            client: builder(connect_timeout).build()?,
            policy: None,
        })
    }

    /// A transport for providers a team chose: every connection's addresses are checked against
    /// `policy` after resolution, no proxy is used (it would resolve the name itself), and an
    /// address literal in the URL is checked before anything is sent.
    pub fn guarded(
        connect_timeout: Duration,
        policy: AddressPolicy,
    ) -> Result<Self, reqwest::Error> {
        let policy = Arc::new(policy);
        let client = builder(connect_timeout)
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .build()?;
        Ok(Self {
            client,
            policy: Some(policy),
        })
    }

    /// The addresses it may reach besides public ones; `None`: any.
    pub fn policy(&self) -> Option<&AddressPolicy> {
        self.policy.as_deref()
    }

    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

fn builder(connect_timeout: Duration) -> reqwest::ClientBuilder {
    // The ring provider, as for GitHub; installing it twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        // An API answers where it is asked; a redirect would let its address choose another.
        .redirect(reqwest::redirect::Policy::none())
}

/// The [`Refused`] somewhere in `error`'s chain, if the resolver refused the address.
fn refusal(error: &reqwest::Error) -> Option<Refused> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(refused) = current.downcast_ref::<Refused>() {
            return Some(refused.clone());
        }
        source = current.source();
    }
    None
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
        let policy = self.policy.clone();
        Box::pin(async move {
            let request = request.build().await?;
            // The resolver is not asked about an address written in the URL: checked here.
            if let Some(policy) = &policy
                && let Some(address) = request.url().host_str().and_then(literal_address)
            {
                policy
                    .check_address(address)
                    .map_err(|refused| OpenAIError::Boxed(Box::new(refused)))?;
            }
            let response =
                client
                    .execute(request)
                    .await
                    .map_err(|error| match refusal(&error) {
                        Some(refused) => OpenAIError::Boxed(Box::new(refused)),
                        None => OpenAIError::Reqwest(error),
                    })?;
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
