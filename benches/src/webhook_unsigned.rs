//! An unsigned (wrongly signed) 25 MiB webhook delivery against the release server the script
//! started: time to the 401 and the server's CPU time for it (user + system, from /proc), at a
//! project's own address (the signature is checked before the body is read) and at the shared
//! address (the payload is read first to find the projects), ten of each, one at a time, after
//! three of each to warm up. A forged signature is well-formed; a malformed one is refused on the
//! head alone at a project's address.
//!
//! `webhook-unsigned SERVER_URL SERVER_PID`

use serde_json::{Value, json};
use std::time::{Duration, Instant};

const BODY_BYTES: usize = 25 * 1024 * 1024;
const ROUNDS: usize = 10;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(server), Some(pid)) = (args.next(), args.next()) else {
        panic!("usage: webhook-unsigned SERVER_URL SERVER_PID");
    };
    let pid: u32 = pid.parse().expect("pid");
    let session = benches::Session::sign_up(&server).await;
    let call = |name: &'static str, args: Value| session.call(name, args);
    let project = call("create_project", json!({"form": {"name": "Hooked", "description": "", "github_repo": "bench/hooked", "github_branch": "main", "github_path": ""}})).await;
    call("new_webhook_secret", json!({"project_id": project["id"]})).await;
    let own = format!(
        "{server}/api/v1/webhooks/github/{}",
        project["id"].as_str().expect("id")
    );
    let shared = format!("{server}/api/v1/webhooks/github");
    // A JSON document GitHub could send, padded to 25 MiB inside a field Cairn does not read.
    let mut body = br#"{"ref":"refs/heads/main","repository":{"name":"hooked","owner":{"name":"bench"}},"padding":""#.to_vec();
    body.resize(BODY_BYTES - 2, b'x');
    body.extend_from_slice(b"\"}");
    let github = reqwest::Client::new();
    let forged = format!("sha256={}", "0".repeat(64));
    let deliver = |url: String, signature: String| {
        let (github, body) = (github.clone(), body.clone());
        async move {
            let started = Instant::now();
            let response = github
                .post(&url)
                .header("content-type", "application/json")
                .header("x-github-event", "push")
                .header("x-hub-signature-256", signature)
                .body(body)
                .send()
                .await
                .expect("delivery");
            assert_eq!(response.status(), 401, "{url}");
            started.elapsed()
        }
    };
    let cases = [
        (
            "a project's own address, a well-formed forged signature",
            own.clone(),
            forged.clone(),
        ),
        (
            "a project's own address, a malformed signature",
            own,
            "sha256=00".to_owned(),
        ),
        (
            "the shared address, a well-formed forged signature",
            shared,
            forged,
        ),
    ];
    // Warm up (the server's allocator grows once for bodies this large).
    for (_, url, signature) in &cases {
        for _ in 0..3 {
            deliver(url.clone(), signature.clone()).await;
        }
    }
    for (label, url, signature) in cases {
        let mut times = Vec::new();
        let cpu_before = cpu_ticks(pid);
        for _ in 0..ROUNDS {
            times.push(deliver(url.clone(), signature.clone()).await);
        }
        let cpu = cpu_ticks(pid).saturating_sub(cpu_before);
        println!(
            "{}; server CPU {:.1} ms per delivery",
            benches::latency_line(
                &format!("25 MiB deliveries to {label}"),
                "time to 401",
                times
            ),
            cpu as f64 * 1000.0 / ticks_per_second() / ROUNDS as f64,
        );
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// User and system CPU time of process `pid`, in clock ticks (`/proc/PID/stat`, fields 14 and 15).
fn cpu_ticks(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The command name may hold spaces: count fields after its closing parenthesis.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let user: u64 = fields.get(11)?.parse().ok()?;
            let system: u64 = fields.get(12)?.parse().ok()?;
            Some(user + system)
        })
        .unwrap_or(0)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux).
fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}
