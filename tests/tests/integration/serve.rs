//! `cairn serve` as a user runs it: no DATABASE_URL, a fresh data directory, the embedded Postgres.

use sea_orm::ConnectionTrait;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tests::{cairn_bin, test_data_root};

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn cairn(data_dir: &Path, port: u16) -> Command {
    let mut command = Command::new(cairn_bin());
    command
        .env_remove("DATABASE_URL")
        .env("CAIRN_DATA_DIR", data_dir)
        .env("CAIRN_SERVER__PORT", port.to_string())
        .env("CAIRN_DATABASE__EMBEDDED__PORT", "0")
        .env("CAIRN_DATABASE__EMBEDDED__EPHEMERAL", "true")
        .env("CAIRN_LOG__FILTER", "warn");
    command
}

async fn wait_ready(client: &reqwest::Client, port: u16, child: &mut Child) -> Duration {
    let started = Instant::now();
    loop {
        let response = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await;
        if response.is_ok_and(|r| r.status() == 200) {
            return started.elapsed();
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("cairn serve exited early: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "not ready after 90 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "cairn serve did not stop within 30 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn serve_with_no_database_url_runs_on_the_embedded_postgres_and_stops_it() {
    let data_dir = test_data_root().join(format!("serve-{}", uuid::Uuid::new_v4().simple()));
    let client = reqwest::Client::new();
    let port = free_port();

    let mut first = cairn(&data_dir, port)
        .arg("serve")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_ready(&client, port, &mut first).await;

    // `cairn db url` prints a URL a user can connect with.
    let url = cairn(&data_dir, port).args(["db", "url"]).output().unwrap();
    assert!(url.status.success());
    let url = String::from_utf8(url.stdout).unwrap();
    let owner = server::database::connect(url.trim(), 1)
        .await
        .expect("the printed URL connects");
    let tenant = uuid::Uuid::new_v4();
    owner
        .execute_unprepared(&format!(
            "INSERT INTO tenants (id, name) VALUES ('{tenant}', 'kept')"
        ))
        .await
        .unwrap();
    owner.close().await.unwrap();

    // SIGTERM: the server exits cleanly and stops the Postgres it started.
    assert!(terminate(&mut first).success());
    let embedded =
        server::embedded_db::EmbeddedPostgres::new(&data_dir, &tests::ephemeral_embedded())
            .unwrap();
    assert!(
        !embedded.is_running().await.unwrap(),
        "the embedded Postgres was stopped"
    );

    // A restart reuses the data directory: same data, ready again.
    let mut second = cairn(&data_dir, port)
        .arg("serve")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_ready(&client, port, &mut second).await;
    let (credentials, _) = embedded.start().await.unwrap();
    let owner = server::database::connect(&credentials.owner_url(), 1)
        .await
        .unwrap();
    let kept = owner
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("SELECT name FROM tenants WHERE id = '{tenant}'"),
        ))
        .await
        .unwrap();
    assert!(kept.is_some(), "data survives a restart");
    owner.close().await.unwrap();
    assert!(terminate(&mut second).success());
    assert!(!embedded.is_running().await.unwrap());
}

#[tokio::test]
async fn cairn_worker_runs_the_shared_jobs_without_http_and_stops_on_sigterm() {
    let db = tests::TestDb::migrated().await;
    let data_dir = test_data_root().join(format!("worker-{}", uuid::Uuid::new_v4().simple()));
    let mut child = Command::new(cairn_bin())
        .arg("worker")
        .env("DATABASE_URL", db.owner_url())
        .env("CAIRN_DATABASE__APP_URL", db.app_url())
        .env("CAIRN_DATA_DIR", &data_dir)
        .env("CAIRN_STORAGE__SWEEP_INTERVAL_SECS", "1")
        .env("CAIRN_LOG__FILTER", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cairn worker");
    let owner = db.owner().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = owner
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT count(*) AS n FROM jobs WHERE kind = 'storage.sweep' AND status = 'completed'",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap();
        if done >= 2 {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("cairn worker exited early: {status}");
        }
        assert!(Instant::now() < deadline, "the worker ran no sweep");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = terminate(&mut child);
    assert!(status.success(), "cairn worker stops cleanly: {status}");
}
