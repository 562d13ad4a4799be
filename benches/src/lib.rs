//! What the benchmark binaries share.

pub use tests::rss_kib;

/// `samples` summed up as "N <what>, <measure> p50 … ms, p99 … ms, max … ms" (nearest rank).
pub fn latency_line(what: &str, measure: &str, mut samples: Vec<std::time::Duration>) -> String {
    if samples.is_empty() {
        return format!("0 {what}");
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    format!(
        "{} {what}, {measure} p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        samples.len(),
        ms(at(0.5)),
        ms(at(0.99)),
        ms(samples[samples.len() - 1]),
    )
}

/// A user of the server under test, signed up on a fresh instance, in a client that keeps its
/// cookie: calls server functions, failing the bench with the function's name on anything but
/// success.
#[derive(Clone)]
pub struct Session {
    /// The client, with the session's cookie (for routes other than server functions).
    pub http: reqwest::Client,
    server: String,
}

impl Session {
    /// Signs `bench@example.com` up on `server` (`http://127.0.0.1:PORT`).
    pub async fn sign_up(server: &str) -> Self {
        Self::sign_up_as(server, "bench@example.com", "Bench").await
    }

    /// A client of `server` with no session yet (to sign in).
    pub fn anonymous(server: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .expect("client"),
            server: server.to_owned(),
        }
    }

    /// Signs `email` up on `server`, in a team of its own named `team`.
    pub async fn sign_up_as(server: &str, email: &str, team: &str) -> Self {
        let session = Self::anonymous(server);
        session
            .call(
                "sign_up",
                serde_json::json!({"form": {"email": email, "password": "correct horse battery", "display_name": team, "tenant_name": team}}),
            )
            .await;
        session
    }

    /// Calls the server function `name` with `args`; its answer.
    pub async fn call(&self, name: &str, args: serde_json::Value) -> serde_json::Value {
        let response = self
            .http
            .post(format!("{}/api/v1/{name}", self.server))
            .json(&args)
            .send()
            .await
            .expect(name);
        assert!(
            response.status().is_success(),
            "{name}: {}",
            response.status()
        );
        response.json().await.expect("json")
    }
}
