//! Retrieval quality on a real codebase: this repository's own `crates/` and `migration/`, synced
//! through the local GitHub server into a team's knowledge and embedded by the real local model
//! (scripts/test.sh starts it). Each question of `tests/retrieval/questions.toml` names the files
//! that answer it; search is asked by words only, by meaning only and by both fused, and the
//! figures are printed: recall@10 (of the answering files, the share among the first 10 hits) and
//! MRR (1 / the rank of the first hit from an answering file, among the 20 shown).

use crate::knowledge::{app_with_github, choose_local_model};
use crate::project_sync::{linked_project, sync};
use crate::rpc::signed_up;
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::Path;
use tests::RpcClient;
use tests::github_double::{GitHubDouble, GitRepo};

#[derive(Deserialize)]
struct Questions {
    question: Vec<Question>,
}

#[derive(Deserialize)]
struct Question {
    ask: String,
    files: Vec<String>,
}

/// The files `git ls-files crates migration` lists, copied into a directory of their own.
fn this_repository() -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let listed = std::process::Command::new("git")
        .args(["ls-files", "crates", "migration"])
        .current_dir(&root)
        .output()
        .expect("git ls-files");
    assert!(listed.status.success());
    let tree = tempfile::tempdir().expect("a directory");
    for path in String::from_utf8(listed.stdout).unwrap().lines() {
        let target = tree.path().join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(root.join(path), target).expect(path);
    }
    tree
}

/// Recall@10 and MRR of one search of `question`.
async fn measure(client: &RpcClient, question: &Question, by: &str) -> (f64, f64) {
    let found = client
        .ok(
            "search_knowledge",
            json!({"query": {"text": question.ask, "by": by}}),
        )
        .await;
    let titles: Vec<&str> = found["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit: &Value| hit["title"].as_str().unwrap())
        .collect();
    let first_ten = &titles[..titles.len().min(10)];
    let recalled = question
        .files
        .iter()
        .filter(|file| first_ten.contains(&file.as_str()))
        .count();
    let reciprocal_rank = titles
        .iter()
        .position(|title| question.files.iter().any(|file| file == title))
        .map_or(0.0, |at| 1.0 / (at + 1) as f64);
    (
        recalled as f64 / question.files.len() as f64,
        reciprocal_rank,
    )
}

#[tokio::test]
async fn on_this_repository_words_and_meaning_fused_find_more_than_either_alone() {
    let questions: Questions = toml::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("retrieval/questions.toml"),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(questions.question.len() >= 40);

    let tree = this_repository();
    let repo = GitRepo::of_tree(tree.path());
    let github = GitHubDouble::start().await;
    github.serve("cairn/cairn", repo.path());
    let app = app_with_github(&github).await;
    let (ada, _) = signed_up(&app, "ada@example.com", "Engines").await;
    let project = linked_project(&ada, "cairn/cairn", "").await;
    let (synced, _) = sync(&app, &ada, &project).await;
    assert_eq!(synced["status"], "completed", "{synced}");
    for question in &questions.question {
        for file in &question.files {
            assert!(
                tree.path().join(file).exists(),
                "{file} (asked: {}) is not in the repository",
                question.ask
            );
        }
    }
    let started = std::time::Instant::now();
    let space = choose_local_model(&ada, std::time::Duration::from_secs(1200)).await;
    eprintln!(
        "{} chunks embedded by the local model in {:.0} s",
        space["vectors"],
        started.elapsed().as_secs_f64()
    );

    let mut figures = Vec::new();
    for by in ["words", "meaning", "both"] {
        let (mut recall, mut reciprocal) = (0.0, 0.0);
        for question in &questions.question {
            let (r, rr) = measure(&ada, question, by).await;
            recall += r;
            reciprocal += rr;
        }
        let n = questions.question.len() as f64;
        figures.push((by, recall / n, reciprocal / n));
    }
    println!(
        "retrieval on this repository ({} questions, {} chunks):",
        questions.question.len(),
        space["vectors"]
    );
    for (by, recall, mrr) in &figures {
        println!("  by {by:<8} recall@10 {recall:.3}  MRR {mrr:.3}");
    }
    let [
        (_, words_recall, words_mrr),
        (_, meaning_recall, meaning_mrr),
        (_, both_recall, both_mrr),
    ] = figures[..]
    else {
        unreachable!()
    };
    assert!(
        both_recall > words_recall && both_recall > meaning_recall,
        "fused recall@10 does not beat both: {figures:?}"
    );
    assert!(
        both_mrr > words_mrr && both_mrr > meaning_mrr,
        "fused MRR does not beat both: {figures:?}"
    );
}
