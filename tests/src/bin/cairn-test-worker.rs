//! A worker process for the crash tests: runs the `tests::crash` job kinds from the database at
//! the URL given as the only argument, until it is killed.

#![allow(clippy::expect_used)]

#[tokio::main]
async fn main() {
    let url = std::env::args()
        .nth(1)
        .expect("usage: cairn-test-worker DATABASE_URL");
    let pool = server::database::connect(&url, 2)
        .await
        .expect("connecting as the application role");
    let instance = format!("crash-worker-{}", std::process::id());
    tests::crash::runtime(pool, &instance)
        .run(std::future::pending())
        .await;
}
