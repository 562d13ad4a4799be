//! Knowledge search and backfill, against a running Cairn:
//! `knowledge BASE_URL SERVER_PID OWNER_DATABASE_URL [LOCAL_EMBEDDINGS_URL]`.
//!
//! Two teams write 100,000 chunks as manual entries through the API (ten paragraphs an entry, each
//! its own chunk): team A 98,000 in one project and 1,000 in another, team B 1,000 (1 % of the
//! whole). Then each chooses an embedding model of 1,536 dimensions served by the local
//! OpenAI-compatible double started here, answering at once: the backfill is timed and the
//! server's resident memory sampled. Its vectors are not random noise, which no real model
//! produces and on which any approximate index does badly: each text's vector is a point of a
//! 32-dimensional latent space (seeded by the text) projected into 1,536 dimensions, plus noise.
//!
//! Searches by meaning then go through the release server as a browser sends them (session, RLS,
//! the query's embedding, fusion), timed by this client; each is compared with the exact nearest
//! 10 that a full scan of the space finds (the owner's connection, index scans off), for the
//! whole of team A, for team A's 1 % project and for team B. With `LOCAL_EMBEDDINGS_URL`, a third
//! team's 300 chunks are backfilled by the real local model too.

use benches::{Session, latency_line, rss_kib};
use futures_util::StreamExt;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tests::llm_double::LlmDouble;

const DIMENSIONS: usize = 1_536;
const LATENT: usize = 32;
const PARAGRAPHS: usize = 10;
const QUERIES: usize = 100;

/// splitmix64: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn of(text: &str) -> Self {
        // FNV-1a of the text.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in text.bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        Self(hash)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// A standard normal (Box–Muller).
    fn normal(&mut self) -> f32 {
        let u = self.unit().max(1e-7);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
}

/// Texts to vectors: a fixed projection of a latent point seeded by the text.
struct Embedder {
    projection: Vec<f32>,
}

impl Embedder {
    fn new() -> Self {
        let mut rng = Rng::of("projection");
        Self {
            projection: (0..DIMENSIONS * LATENT).map(|_| rng.normal()).collect(),
        }
    }

    fn embed(&self, text: &str) -> Vec<f32> {
        let mut rng = Rng::of(text);
        let latent: Vec<f32> = (0..LATENT).map(|_| rng.normal()).collect();
        let mut vector: Vec<f32> = self
            .projection
            .chunks_exact(LATENT)
            .map(|row| {
                row.iter().zip(&latent).map(|(a, b)| a * b).sum::<f32>() + 0.5 * rng.normal()
            })
            .collect();
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        vector.iter_mut().for_each(|x| *x /= norm);
        vector
    }
}

/// Pseudo-words, so the texts have words to search too.
fn paragraph(team: &str, entry: usize, part: usize) -> String {
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "ten", "ra", "sol", "vek", "du", "pan", "qui", "zor", "bel", "fa", "gri",
        "no", "shu",
    ];
    let mut rng = Rng::of(&format!("{team}/{entry}/{part}"));
    let mut lines = vec![format!("Entry {entry} part {part} of {team}.")];
    for _ in 0..9 {
        let words: Vec<String> = (0..12)
            .map(|_| {
                (0..2 + rng.next() % 2)
                    .map(|_| SYLLABLES[(rng.next() % 16) as usize])
                    .collect()
            })
            .collect();
        lines.push(words.join(" "));
    }
    lines.join("\n")
}

/// Writes `entries` entries of [`PARAGRAPHS`] paragraphs each into `project`, 8 at a time.
async fn write_entries(session: &Session, team: &str, project: &Value, entries: usize) {
    futures_util::stream::iter(0..entries)
        .map(|entry| {
            let content = (0..PARAGRAPHS)
                .map(|part| paragraph(team, entry, part))
                .collect::<Vec<_>>()
                .join("\n\n");
            let project = project["id"].clone();
            async move {
                session
                    .call(
                        "create_memory_entry",
                        json!({"project_id": project, "form": {"title": format!("Entry {entry}"), "content": content}}),
                    )
                    .await;
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
}

async fn scalar(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .expect(sql)
        .expect("a row")
        .try_get_by_index::<i64>(0)
        .expect("a count")
}

/// Waits until no indexing job is queued or running.
async fn indexing_settled(db: &sea_orm::DatabaseConnection) {
    let deadline = Instant::now() + Duration::from_secs(3600);
    loop {
        let busy = scalar(
            db,
            "SELECT count(*) FROM jobs WHERE kind = 'knowledge.index' AND status IN ('queued', 'running')",
        )
        .await;
        if busy == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "indexing never settled");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The team's spaces once `status` is the first one's.
async fn space_when(session: &Session, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(3600);
    loop {
        let spaces = session.call("list_embedding_spaces", json!({})).await;
        if let Some(space) = spaces.as_array().and_then(|s| s.first())
            && space["status"] == status
        {
            return space.clone();
        }
        assert!(Instant::now() < deadline, "never {status}: {spaces}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The server's resident memory, sampled until dropped.
struct RssSampler {
    peak: Arc<AtomicU64>,
    running: Arc<AtomicBool>,
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let peak = Arc::new(AtomicU64::new(rss_kib(pid)));
        let running = Arc::new(AtomicBool::new(true));
        let (p, r) = (peak.clone(), running.clone());
        tokio::spawn(async move {
            while r.load(Ordering::Relaxed) {
                p.fetch_max(rss_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        Self { peak, running }
    }

    fn peak_kib(&self) -> u64 {
        self.running.store(false, Ordering::Relaxed);
        self.peak.load(Ordering::Relaxed)
    }
}

/// Chooses `model` of `provider` for the team and waits for its space to be active: the
/// backfill's chunks, seconds and the server's peak RSS above `idle`.
async fn backfill(session: &Session, provider: &str, model: &str, pid: u32) -> (u64, f64, u64) {
    let idle = rss_kib(pid);
    let sampler = RssSampler::start(pid);
    let started = Instant::now();
    session
        .call(
            "choose_embedding_model",
            json!({"choice": {"provider": provider, "model": model}}),
        )
        .await;
    let space = space_when(session, "active").await;
    let seconds = started.elapsed().as_secs_f64();
    let peak = sampler.peak_kib();
    (
        space["vectors"].as_u64().unwrap_or(0),
        seconds,
        peak.saturating_sub(idle) / 1024,
    )
}

fn vector_literal(vector: &[f32]) -> String {
    let parts: Vec<String> = vector.iter().map(f32::to_string).collect();
    format!("[{}]", parts.join(","))
}

/// The exact nearest 10 of the space (a full scan): their texts' first 300 characters as a hit
/// found by meaning shows them (its snippet).
async fn exact_top10(
    db: &sea_orm::DatabaseConnection,
    space: &str,
    project: Option<&str>,
    vector: &[f32],
) -> Vec<String> {
    let txn = db.begin().await.expect("begin");
    txn.execute_unprepared("SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off")
        .await
        .expect("set");
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "SELECT c.title, left(c.content, 300) AS start
                   FROM chunk_vectors v JOIN knowledge_chunks c ON c.id = v.chunk_id
                  WHERE v.space_id = $1::uuid AND ($2::uuid IS NULL OR v.project_id = $2::uuid)
                  ORDER BY v.embedding::vector({DIMENSIONS}) <=> $3::vector({DIMENSIONS})
                  LIMIT 10"
            ),
            [
                space.into(),
                project.map(str::to_owned).into(),
                vector_literal(vector).into(),
            ],
        ))
        .await
        .expect("exact search");
    txn.commit().await.expect("commit");
    // As a hit shows it: an entry's first chunk starts with its title on a line of its own,
    // which the hit leaves out.
    rows.iter()
        .map(|row| {
            let title: String = row.try_get("", "title").expect("title");
            let start: String = row.try_get("", "start").expect("start");
            match start.strip_prefix(&title) {
                Some(rest) if rest.is_empty() || rest.starts_with('\n') => {
                    rest.trim_start().to_owned()
                }
                _ => start,
            }
        })
        .collect()
}

/// `QUERIES` searches by meaning (after 10 to warm up): latencies and recall@10 against the
/// exact nearest 10.
async fn search_by_meaning(
    what: &str,
    session: &Session,
    db: &sea_orm::DatabaseConnection,
    embedder: &Embedder,
    space: &str,
    project: Option<&Value>,
) {
    let project_id = project.map(|p| p["id"].as_str().expect("an id").to_owned());
    let mut latencies = Vec::new();
    let mut recalled = 0;
    let mut full_pages = 0;
    for n in 0..QUERIES + 10 {
        let text = format!("question {n} about {what}");
        let started = Instant::now();
        let found = session
            .call(
                "search_knowledge",
                json!({"query": {"text": text, "project_id": project_id, "by": "meaning"}}),
            )
            .await;
        let took = started.elapsed();
        if n < 10 {
            continue;
        }
        assert_eq!(found["mode"], "meaning", "{found}");
        latencies.push(took);
        let hits = found["hits"].as_array().expect("hits");
        if hits.len() == api::knowledge::MAX_HITS {
            full_pages += 1;
        }
        let shown: HashSet<&str> = hits
            .iter()
            .take(10)
            .filter_map(|h| h["snippet"].as_str())
            .collect();
        let exact = exact_top10(db, space, project_id.as_deref(), &embedder.embed(&text)).await;
        recalled += exact.iter().filter(|t| shown.contains(t.as_str())).count();
    }
    println!(
        "{}; recall@10 {:.3} against exact search; {full_pages}/{QUERIES} pages full",
        latency_line(
            &format!("searches by meaning, {what}"),
            "round trip",
            latencies
        ),
        recalled as f64 / (QUERIES * 10) as f64
    );
    // Then as a server that has been answering a while: 300 more, nothing else in between.
    let mut steady = Vec::new();
    for n in 0..3 * QUERIES {
        let text = format!("another question {n} about {what}");
        let started = Instant::now();
        session
            .call(
                "search_knowledge",
                json!({"query": {"text": text, "project_id": project_id, "by": "meaning"}}),
            )
            .await;
        steady.push(started.elapsed());
    }
    println!(
        "{}",
        latency_line(
            &format!("more searches by meaning, {what}, one after another"),
            "round trip",
            steady
        )
    );
}

/// `QUERIES` searches by words and meaning (two of the texts' words), timed.
async fn search_hybrid(what: &str, session: &Session, team: &str) {
    let mut latencies = Vec::new();
    for n in 0..QUERIES + 10 {
        let source = paragraph(team, n * 7, n % PARAGRAPHS);
        let words: Vec<&str> = source
            .lines()
            .nth(1 + n % 9)
            .expect("a line")
            .split(' ')
            .take(2)
            .collect();
        let started = Instant::now();
        let found = session
            .call(
                "search_knowledge",
                json!({"query": {"text": words.join(" ")}}),
            )
            .await;
        if n >= 10 {
            assert_eq!(found["mode"], "hybrid", "{found}");
            latencies.push(started.elapsed());
        }
    }
    println!(
        "{}",
        latency_line(
            &format!("searches by words and meaning, {what}"),
            "round trip",
            latencies
        )
    );
}

async fn project(session: &Session, name: &str) -> Value {
    session
        .call(
            "create_project",
            json!({"form": {"name": name, "description": "", "github_repo": "", "github_branch": "", "github_path": ""}}),
        )
        .await
}

async fn provider(session: &Session, base_url: &str, models: &str) {
    session
        .call(
            "save_ai_provider",
            json!({"id": null, "form": {"name": "embedder", "kind": "custom", "base_url": base_url, "api_key": "", "models": models}}),
        )
        .await;
}

/// Two teams' 100,000 chunks written and embedded (the backfill timed): the teams' sessions and
/// team A's small project.
async fn load_and_backfill(
    base: &str,
    pid: u32,
    db: &sea_orm::DatabaseConnection,
    double: &LlmDouble,
) -> (Session, Session, Value) {
    let a = Session::sign_up_as(base, "a@example.com", "A").await;
    let b = Session::sign_up_as(base, "b@example.com", "B").await;
    let (main, small) = (project(&a, "Main").await, project(&a, "Small").await);
    let theirs = project(&b, "Theirs").await;
    for session in [&a, &b] {
        provider(session, &double.base_url("openai"), MODEL).await;
    }

    let started = Instant::now();
    write_entries(&a, "A", &main, 9_800).await;
    write_entries(&a, "A", &small, 100).await;
    write_entries(&b, "B", &theirs, 100).await;
    let written = started.elapsed();
    indexing_settled(db).await;
    let chunks = scalar(db, "SELECT count(*) FROM knowledge_chunks").await;
    println!(
        "{chunks} chunks written as 10,000 entries in {:.1} s, chunked (words searchable) after {:.1} s",
        written.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );

    // The backfill: team A's 99,000 chunks, then team B's 1,000, each in a space of 1,536.
    for (team, session) in [("A", &a), ("B", &b)] {
        let (vectors, seconds, above_idle) = backfill(session, "embedder", MODEL, pid).await;
        println!(
            "backfill of team {team} against the instant double: {vectors} vectors in {seconds:.1} s, \
             {:.0} chunks/s; server RSS peak +{above_idle} MiB above idle",
            vectors as f64 / seconds
        );
    }
    double.clear();
    (a, b, small)
}

/// With `CAIRN_BENCH_REUSE`, the teams a finished load left on the server: signed in, their
/// provider pointed at this run's double.
async fn signed_in(base: &str, double: &LlmDouble) -> (Session, Session, Value) {
    let mut teams = Vec::new();
    for email in ["a@example.com", "b@example.com"] {
        let session = Session::anonymous(base);
        session
            .call(
                "log_in",
                json!({"form": {"email": email, "password": "correct horse battery"}}),
            )
            .await;
        let providers = session.call("list_ai_providers", json!({})).await;
        let id = providers[0]["id"].clone();
        session
            .call(
                "save_ai_provider",
                json!({"id": id, "form": {"name": "embedder", "kind": "custom", "base_url": double.base_url("openai"), "api_key": "", "models": MODEL}}),
            )
            .await;
        teams.push(session);
    }
    let projects = teams[0].call("list_projects", json!({})).await;
    let small = projects
        .as_array()
        .and_then(|all| all.iter().find(|p| p["name"] == "Small"))
        .expect("team A's small project")
        .clone();
    let b = teams.pop().expect("b");
    let a = teams.pop().expect("a");
    (a, b, small)
}

const MODEL: &str = "text-embedding-3-small";

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let base = args.next().expect("BASE_URL");
    let pid: u32 = args.next().expect("SERVER_PID").parse().expect("a pid");
    let db = sea_orm::Database::connect(args.next().expect("OWNER_DATABASE_URL"))
        .await
        .expect("the owner's connection");
    let local_model = args.next();

    let embedder = Arc::new(Embedder::new());
    let double = LlmDouble::start().await;
    {
        let embedder = embedder.clone();
        double.embed_with("openai", move |text| embedder.embed(text));
    }
    let (a, b, small) = if std::env::var_os("CAIRN_BENCH_REUSE").is_some() {
        signed_in(&base, &double).await
    } else {
        load_and_backfill(&base, pid, &db, &double).await
    };
    db.execute_unprepared("ANALYZE chunk_vectors; ANALYZE knowledge_chunks")
        .await
        .expect("analyze");

    let space_of = async |session: &Session| {
        space_when(session, "active").await["id"]
            .as_str()
            .expect("an id")
            .to_owned()
    };
    let (space_a, space_b) = (space_of(&a).await, space_of(&b).await);
    search_by_meaning("team A (99,000 chunks)", &a, &db, &embedder, &space_a, None).await;
    search_by_meaning(
        "team A's 1 % project (1,000 of 99,000 in the space)",
        &a,
        &db,
        &embedder,
        &space_a,
        Some(&small),
    )
    .await;
    search_by_meaning(
        "team B (1 %: 1,000 chunks)",
        &b,
        &db,
        &embedder,
        &space_b,
        None,
    )
    .await;
    search_hybrid("team A (99,000 chunks)", &a, "A").await;

    if let Some(url) = local_model {
        let email = format!("local-{}@example.com", std::process::id());
        let c = Session::sign_up_as(&base, &email, "Local").await;
        let project = project(&c, "Local").await;
        provider(&c, &url, "multilingual-e5-small-q4").await;
        write_entries(&c, "C", &project, 30).await;
        indexing_settled(&db).await;
        let (vectors, seconds, above_idle) =
            backfill(&c, "embedder", "multilingual-e5-small-q4", pid).await;
        println!(
            "backfill against the local model (multilingual-e5-small-q4, 384 dimensions, on this \
             machine's CPU): {vectors} vectors in {seconds:.1} s, {:.1} chunks/s; server RSS peak \
             +{above_idle} MiB above idle",
            vectors as f64 / seconds
        );
    }
}
