//! Hybrid search: ranking on the labelled corpus, and the API against the
//! SQL function.

use std::collections::HashMap;

use screenplay_api::embedding::LexicalEmbedder;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use super::vec_literal;
use crate::helpers::TestApp;

#[derive(serde::Deserialize)]
struct Corpus {
    documents: Vec<CorpusDoc>,
    queries: Vec<CorpusQuery>,
}

#[derive(serde::Deserialize)]
struct CorpusDoc {
    key: String,
    language: String,
    title: String,
    content: String,
}

#[derive(serde::Deserialize)]
struct CorpusQuery {
    text: String,
    relevant: Vec<String>,
}

async fn load_corpus(app: &TestApp, token: &str, ws: Uuid) -> (Corpus, HashMap<String, String>) {
    let corpus: Corpus =
        serde_json::from_str(include_str!("../../data/search_corpus.json")).expect("tests/data/search_corpus.json");
    let docs: Vec<Value> = corpus
        .documents
        .iter()
        .map(|d| json!({ "sourcePath": d.key, "title": d.title, "content": d.content, "language": d.language }))
        .collect();
    let out = app.ingest(token, ws, json!(docs)).await;
    let keys = out["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .map(|d| {
            (
                d["id"].as_str().expect("id").to_owned(),
                d["sourcePath"].as_str().expect("path").to_owned(),
            )
        })
        .collect();
    (corpus, keys)
}

#[tokio::test]
async fn hybrid_ranks_at_least_as_well_as_the_better_single_mode_on_the_labelled_corpus() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("corpus").await;
    let ws = app.workspace(&fx, "corpus").await;
    let (corpus, keys) = load_corpus(&app, &fx.admin_token, ws).await;
    let mut report = Vec::new();
    let mut scores: HashMap<&str, (f64, f64)> = HashMap::new();
    for mode in ["VECTOR", "KEYWORD", "HYBRID"] {
        let (mut recall, mut mrr) = (0.0, 0.0);
        for q in &corpus.queries {
            let hits = app
                .search(
                    &fx.admin_token,
                    json!({ "workspaceId": ws, "query": q.text, "mode": mode, "limit": 5 }),
                )
                .await;
            let got: Vec<&String> = hits
                .iter()
                .map(|h| &keys[h["document"]["id"].as_str().expect("id")])
                .collect();
            let found = q.relevant.iter().filter(|r| got.contains(r)).count();
            recall += found as f64 / q.relevant.len() as f64;
            mrr += got
                .iter()
                .position(|k| q.relevant.contains(k))
                .map_or(0.0, |p| 1.0 / (p as f64 + 1.0));
        }
        let n = corpus.queries.len() as f64;
        scores.insert(mode, (recall / n, mrr / n));
        report.push(format!("{mode:<8} recall@5 {:.3}  MRR {:.3}", recall / n, mrr / n));
    }
    eprintln!(
        "labelled corpus ({} documents, {} queries, lexical embedder):\n{}",
        corpus.documents.len(),
        corpus.queries.len(),
        report.join("\n")
    );
    let (hr, hm) = scores["HYBRID"];
    let best_recall = scores["VECTOR"].0.max(scores["KEYWORD"].0);
    let best_mrr = scores["VECTOR"].1.max(scores["KEYWORD"].1);
    assert!(hr >= best_recall, "hybrid recall@5 {hr} < {best_recall}");
    assert!(hm >= best_mrr, "hybrid MRR {hm} < {best_mrr}");
    assert!(hr >= 0.9, "hybrid recall@5 {hr}");
}

#[tokio::test]
async fn hybrid_search_through_the_api_equals_the_sql_function() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("hyb").await;
    let ws = app.workspace(&fx, "corpus").await;
    let (corpus, _) = load_corpus(&app, &fx.admin_token, ws).await;
    let owner = app.owner().await;
    for q in corpus.queries.iter().step_by(4) {
        let embedding = vec_literal(&LexicalEmbedder::embed_one(&q.text));
        let text = q.text.replace('\'', "''");
        for (input, sql_args) in [
            (json!({}), String::new()),
            (json!({ "rrfK": 10 }), ", p_rrf_k => 10".to_owned()),
            (json!({ "vectorWeight": 0.7 }), ", p_vector_weight => 0.7".to_owned()),
            (
                json!({ "vectorWeight": 0.2, "keywordWeight": 0.8 }),
                ", p_vector_weight => 0.2, p_keyword_weight => 0.8".to_owned(),
            ),
        ] {
            let mut input = input;
            input["workspaceId"] = json!(ws);
            input["query"] = json!(q.text);
            input["limit"] = json!(8);
            let hits = app.search(&fx.admin_token, input.clone()).await;
            let rows = owner
                .query_all_raw(Statement::from_string(
                    DbBackend::Postgres,
                    format!(
                        "SELECT id, score, vector_rank, keyword_rank FROM screenplay.hybrid_search_documents(\
                         '{ws}', '{text}', '{embedding}', 8{sql_args})"
                    ),
                ))
                .await
                .expect("hybrid_search_documents");
            assert_eq!(hits.len(), rows.len(), "{input}");
            for (h, r) in hits.iter().zip(&rows) {
                let id: Uuid = r.try_get("", "id").expect("id");
                let score: f64 = r.try_get("", "score").expect("score");
                assert_eq!(h["document"]["id"], id.to_string(), "{input}");
                assert!((h["score"].as_f64().expect("score") - score).abs() < 1e-6, "{input}");
                assert_eq!(
                    h["vectorRank"].as_i64(),
                    r.try_get::<Option<i32>>("", "vector_rank")
                        .expect("rank")
                        .map(i64::from)
                );
                assert_eq!(
                    h["keywordRank"].as_i64(),
                    r.try_get::<Option<i32>>("", "keyword_rank")
                        .expect("rank")
                        .map(i64::from)
                );
            }
            // Candidates do not depend on the limit: the top stays the top.
            input["limit"] = json!(3);
            let top = app.search(&fx.admin_token, input.clone()).await;
            let first: Vec<&Value> = hits.iter().take(3).map(|h| &h["document"]["id"]).collect();
            let again: Vec<&Value> = top.iter().map(|h| &h["document"]["id"]).collect();
            assert_eq!(first, again, "{input}");
        }
    }
    // minScore applies to the fused score.
    let hits = app
        .search(
            &fx.admin_token,
            json!({ "workspaceId": ws, "query": "spaceship engine orbit", "minScore": 0.03 }),
        )
        .await;
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|h| h["score"].as_f64().expect("score") >= 0.03));
}
