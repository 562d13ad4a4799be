//! `cairn serve` as deployed: the real binary in a process of its own (its multi-threaded runtime,
//! its logging), on a test database, its log kept in a file the test reads.

use crate::{RpcClient, TestDb, cairn_bin, test_data_root};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `cairn serve`, stopped when dropped.
pub struct ServedCairn {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log_path: PathBuf,
}

impl ServedCairn {
    /// Starts `cairn serve` on `db` with the environment `env` added (settings as `CAIRN_*`
    /// variables), logging at `log_filter`; waits until it is ready.
    pub async fn start(db: &TestDb, log_filter: &str, env: &[(&str, String)]) -> Self {
        let data_dir = test_data_root().join(format!("served-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&data_dir).expect("a data directory");
        let log_path = data_dir.join("serve.log");
        let log = std::fs::File::create(&log_path).expect("the log file");
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut command = Command::new(cairn_bin());
        command
            .arg("serve")
            .env_remove("DATABASE_URL")
            .env("CAIRN_DATA_DIR", &data_dir)
            .env("CAIRN_SERVER__PORT", port.to_string())
            .env(
                "CAIRN_SERVER__SITE_DIR",
                crate::repo_root().join("target/site"),
            )
            .env("CAIRN_DATABASE__URL", db.owner_url())
            .env("CAIRN_DATABASE__APP_URL", db.app_url())
            .env("CAIRN_LOG__FILTER", log_filter)
            // The local provider servers are on this machine, allowed as in `TestDb::settings`.
            .env(
                "CAIRN_LLM__ALLOWED_PRIVATE_HOSTS",
                r#"["127.0.0.1", "localhost"]"#,
            )
            .stdout(Stdio::from(log.try_clone().expect("the log file")))
            .stderr(Stdio::from(log));
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("starting cairn serve");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(90);
        while !http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            if let Some(status) = child.try_wait().expect("polling the child") {
                panic!(
                    "cairn serve exited early ({status}): {}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "cairn serve not ready after 90 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            child,
            base,
            log_path,
        }
    }

    /// A new browser-like client of this server (its own cookie jar).
    pub fn browser(&self) -> RpcClient {
        RpcClient::new(&self.base)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for ServedCairn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
