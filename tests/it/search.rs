//! Vector, keyword and hybrid search through the API and the SQL functions.

use std::collections::{HashMap, HashSet};

use rand::{Rng, SeedableRng, rngs::StdRng};
use screenplay_api::{
    auth::Role,
    bench::{
        copy::{CopyRow, copy_rows},
        data::{Generator, dot},
    },
    embedding::LexicalEmbedder,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    TestApp, TestDb,
    docs::{SEARCH, titles},
    scalar_i64,
};

fn random_unit(rng: &mut StdRng) -> Vec<f32> {
    let v: Vec<f32> = (0..1536).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

fn vec_literal(v: &[f32]) -> String {
    format!("[{}]", v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(","))
}

async fn ids(db: &DatabaseConnection, sql: String) -> Vec<Uuid> {
    db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .expect("query")
        .iter()
        .map(|r| r.try_get_by_index::<Uuid>(0).expect("uuid"))
        .collect()
}

#[tokio::test]
async fn vector_search_matches_brute_force_and_stays_in_its_workspace() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("vec").await;
    let viewer = app.user(&fx, Role::Viewer).await;
    let ws = app.workspace(&fx, "mine").await;
    let neighbour = app.workspace(&fx, "neighbour").await;
    let other = app.tenant("other").await;
    let foreign = app.workspace(&other, "theirs").await;
    let mut rng = StdRng::seed_from_u64(7);
    let mut mine: Vec<(String, Vec<f32>)> = Vec::new();
    for (token, workspace, n) in [
        (&fx.admin_token, ws, 60),
        (&fx.admin_token, neighbour, 30),
        (&other.admin_token, foreign, 30),
    ] {
        let docs: Vec<Value> = (0..n)
            .map(|i| {
                let v = random_unit(&mut rng);
                let path = format!("{workspace}/{i}");
                if workspace == ws {
                    mine.push((path.clone(), v.clone()));
                }
                json!({ "sourcePath": path, "content": format!("document {i} of {workspace}"), "embedding": v })
            })
            .collect();
        app.gql(
            Some(token),
            crate::helpers::docs::INGEST,
            json!({ "input": { "workspaceId": workspace, "documents": docs, "embeddingModel": "test-model" } }),
        )
        .await;
    }
    let owner = app.owner().await;
    for q in 0..8 {
        // Queries near a stored vector and far from all of them.
        let query = if q % 2 == 0 {
            let base = &mine[q * 5].1;
            let noise = random_unit(&mut rng);
            let v: Vec<f32> = base.iter().zip(&noise).map(|(a, b)| a + 0.3 * b).collect();
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / n).collect()
        } else {
            random_unit(&mut rng)
        };
        let mut expected: Vec<(f32, &String)> = mine.iter().map(|(p, v)| (dot(v, &query), p)).collect();
        expected.sort_by(|a, b| b.0.total_cmp(&a.0));
        let expected: Vec<String> = expected.iter().take(10).map(|(_, p)| (*p).clone()).collect();
        let hits = app
            .search(
                &viewer.token,
                json!({ "workspaceId": ws, "embedding": query, "embeddingModel": "test-model", "mode": "VECTOR", "limit": 10 }),
            )
            .await;
        let got: Vec<String> = hits
            .iter()
            .map(|h| h["document"]["sourcePath"].as_str().expect("path").to_owned())
            .collect();
        assert_eq!(got, expected, "query {q}");
        for (i, h) in hits.iter().enumerate() {
            assert_eq!(h["vectorRank"], i + 1);
            assert_eq!(h["score"], h["vectorScore"]);
            assert!(h["keywordRank"].is_null());
        }
        // The SQL function answers the same, from psql.
        let sql = ids(
            &owner,
            format!(
                "SELECT id FROM screenplay.search_similar_documents('{ws}', '{}', 10)",
                vec_literal(&query)
            ),
        )
        .await;
        let api: Vec<Uuid> = hits
            .iter()
            .map(|h| h["document"]["id"].as_str().expect("id").parse().expect("uuid"))
            .collect();
        assert_eq!(sql, api);
    }
    // minScore drops what scores lower; a limit is a limit.
    let hits = app
        .search(
            &viewer.token,
            json!({ "workspaceId": ws, "embedding": mine[0].1, "embeddingModel": "test-model", "mode": "VECTOR",
                    "limit": 3, "minScore": 0.99 }),
        )
        .await;
    assert_eq!(hits.len(), 1);
    // Another tenant cannot search this workspace at all.
    let code = app
        .gql_err(
            Some(&other.admin_token),
            SEARCH,
            json!({ "input": { "workspaceId": ws, "embedding": mine[0].1, "embeddingModel": "test-model", "mode": "VECTOR" } }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
}

#[tokio::test]
async fn keyword_search_finds_chinese_text_and_stemmed_english() {
    let app = TestApp::spawn().await;
    check_keyword_search(&app).await;
}

#[tokio::test]
async fn chinese_keyword_search_works_when_the_database_ctype_is_c() {
    let db = TestDb::create_with_c_ctype().await;
    let owner = db.owner().await;
    let row = owner
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT datctype, (SELECT count(*) FROM unnest(show_trgm('剧本生成'))) AS grams \
             FROM pg_database WHERE datname = current_database()",
        ))
        .await
        .expect("query")
        .expect("row");
    assert_eq!(row.try_get::<String>("", "datctype").expect("ctype"), "C");
    // The trap: pg_trgm sees nothing of Chinese here ...
    assert_eq!(row.try_get::<i64>("", "grams").expect("grams"), 0);
    // ... and our search still finds it.
    let app = TestApp::spawn_on(db, &[]).await;
    check_keyword_search(&app).await;
}

async fn check_keyword_search(app: &TestApp) {
    let fx = app.tenant("kw").await;
    let ws = app.workspace(&fx, "docs").await;
    app.ingest(
        &fx.admin_token,
        ws,
        json!([
            { "sourcePath": "en.md", "title": "Chase", "content": "The detectives were running through the “crowded” streets." },
            { "sourcePath": "zh.md", "title": "追凶", "content": "侦探在雨夜里追踪嫌疑人，穿过狭窄的小巷。" },
            { "sourcePath": "other.md", "title": "Kitchen", "content": "The chef shouts orders in the kitchen. 厨师在厨房里大喊。" },
        ]),
    )
    .await;
    let search = |query: &str| {
        let input = json!({ "workspaceId": ws, "query": query, "mode": "KEYWORD" });
        let token = fx.admin_token.clone();
        async move { app.search(&token, input).await }
    };
    // English: stemmed forms meet ("run" ~ "running", "detective" ~ "detectives").
    let hits = search("detective runs").await;
    assert_eq!(titles(&hits), vec!["Chase"]);
    assert!(
        hits[0]["highlight"]
            .as_str()
            .expect("highlight")
            .contains("<mark>detectives</mark>"),
        "{hits:#?}"
    );
    assert!(hits[0]["keywordScore"].as_f64().expect("score") > 0.0);
    assert_eq!(titles(&search("crowded street").await), vec!["Chase"]);
    // Chinese: no spaces between words; bigrams find it, punctuation in the query is ignored.
    let hits = search("追踪嫌疑人！").await;
    assert_eq!(titles(&hits), vec!["追凶"]);
    assert!(
        hits[0]["highlight"]
            .as_str()
            .expect("highlight")
            .contains("<mark>追踪嫌疑人</mark>")
    );
    assert_eq!(titles(&search("嫌疑").await), vec!["追凶"]);
    assert_eq!(titles(&search("厨房").await), vec!["Kitchen"]);
    // Both languages in one query.
    let both: HashSet<String> = titles(&search("侦探 chef").await).into_iter().collect();
    assert_eq!(both, HashSet::from(["追凶".to_owned(), "Kitchen".to_owned()]));
    // Nothing to match: no hits, no error.
    assert!(search("the of and").await.is_empty());
    assert!(search("宇宙").await.is_empty());
    // Another tenant finds nothing of it (the keyword index is read by a
    // SECURITY DEFINER function that filters by the caller's tenant itself).
    let other = app.tenant("kw-other").await;
    let code = app
        .gql_err(
            Some(&other.admin_token),
            SEARCH,
            json!({ "input": { "workspaceId": ws, "query": "追踪嫌疑人 detective", "mode": "KEYWORD" } }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    let app_role = app.db.app().await;
    let tx = app_role.begin().await.expect("begin");
    tx.execute_unprepared(&format!("SELECT set_config('app.tenant_id', '{}', true)", other.id))
        .await
        .expect("tenant");
    let leaked = tx
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT count(*) FROM screenplay.keyword_hits('{ws}', screenplay.keyword_tsquery('侦探 detective'), 10, NULL, NULL, NULL)"),
        ))
        .await
        .expect("keyword_hits")
        .expect("row")
        .try_get_by_index::<i64>(0)
        .expect("count");
    assert_eq!(leaked, 0);
    tx.rollback().await.expect("rollback");
    // The SQL function, as a DBA would call it.
    let owner = app.owner().await;
    let n = scalar_i64(
        &owner,
        &format!("SELECT count(*) FROM screenplay.search_by_keywords('{ws}', '雨夜 追踪', 5)"),
    )
    .await;
    assert_eq!(n, 1);
}

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
        serde_json::from_str(include_str!("../data/search_corpus.json")).expect("tests/data/search_corpus.json");
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

#[tokio::test]
async fn agents_record_what_they_retrieved_for_a_step() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("ret").await;
    let agent = app.user(&fx, Role::Agent).await;
    let member = app.user(&fx, Role::Member).await;
    let ws = app.workspace(&fx, "docs").await;
    let elsewhere = app.workspace(&fx, "elsewhere").await;
    app.ingest(
        &fx.admin_token,
        ws,
        json!([
            { "sourcePath": "a", "content": "The detective waits in the rain." },
            { "sourcePath": "b", "content": "Rain falls on the empty harbor." },
        ]),
    )
    .await;
    let owner = app.owner().await;
    let session: Uuid = ids(
        &owner,
        format!(
            "INSERT INTO screenplay.screenplay_sessions (tenant_id, workspace_id, title) \
             VALUES ('{}', '{ws}', 'Noir') RETURNING id",
            fx.id
        ),
    )
    .await[0];
    let step: Uuid = ids(
        &owner,
        format!(
            "INSERT INTO screenplay.outline_steps (tenant_id, session_id, position, title) \
             VALUES ('{}', '{session}', 0, 'Opening') RETURNING id",
            fx.id
        ),
    )
    .await[0];
    let other_session: Uuid = ids(
        &owner,
        format!(
            "INSERT INTO screenplay.screenplay_sessions (tenant_id, workspace_id, title) \
             VALUES ('{}', '{elsewhere}', 'Other') RETURNING id",
            fx.id
        ),
    )
    .await[0];

    let hits = app
        .search(
            &agent.token,
            json!({ "workspaceId": ws, "query": "rain", "sessionId": session, "stepId": step }),
        )
        .await;
    assert_eq!(hits.len(), 2);
    let rows = owner
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT document_id, method, rank, score, query_text, step_id FROM screenplay.retrieved_documents \
                 WHERE session_id = '{session}' ORDER BY rank"
            ),
        ))
        .await
        .expect("retrievals");
    assert_eq!(rows.len(), 2);
    for (i, (row, hit)) in rows.iter().zip(&hits).enumerate() {
        assert_eq!(row.try_get::<i32>("", "rank").expect("rank"), i as i32 + 1);
        assert_eq!(row.try_get::<String>("", "method").expect("method"), "hybrid");
        assert_eq!(row.try_get::<String>("", "query_text").expect("query"), "rain");
        assert_eq!(row.try_get::<Option<Uuid>>("", "step_id").expect("step"), Some(step));
        assert_eq!(
            row.try_get::<Uuid>("", "document_id").expect("doc").to_string(),
            hit["document"]["id"].as_str().expect("id")
        );
    }
    // The step alone names its session.
    app.search(
        &agent.token,
        json!({ "workspaceId": ws, "query": "harbor", "mode": "KEYWORD", "stepId": step }),
    )
    .await;
    assert_eq!(
        scalar_i64(
            &owner,
            &format!("SELECT count(*) FROM screenplay.retrieved_documents WHERE session_id = '{session}'")
        )
        .await,
        3
    );
    // Members may search but not record; a session of another workspace or
    // an unknown one is refused; nothing more is recorded.
    app.search(&member.token, json!({ "workspaceId": ws, "query": "rain" }))
        .await;
    let search_err = |token: String, input: Value| {
        let app = &app;
        async move { app.gql_err(Some(&token), SEARCH, json!({ "input": input })).await }
    };
    assert_eq!(
        search_err(
            member.token.clone(),
            json!({ "workspaceId": ws, "query": "rain", "sessionId": session })
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        search_err(
            agent.token.clone(),
            json!({ "workspaceId": ws, "query": "rain", "sessionId": other_session })
        )
        .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        search_err(
            agent.token.clone(),
            json!({ "workspaceId": ws, "query": "rain", "sessionId": Uuid::new_v4() })
        )
        .await,
        "NOT_FOUND"
    );
    assert_eq!(
        search_err(
            agent.token.clone(),
            json!({ "workspaceId": ws, "query": "rain", "sessionId": session, "stepId": Uuid::new_v4() })
        )
        .await,
        "NOT_FOUND"
    );
    assert_eq!(
        scalar_i64(&owner, "SELECT count(*) FROM screenplay.retrieved_documents").await,
        3
    );
    // Every search is counted.
    let searches = scalar_i64(
        &owner,
        &format!(
            "SELECT coalesce(sum(value), 0)::bigint FROM screenplay.quota_usage \
             WHERE tenant_id = '{}' AND metric = 'search_queries'",
            fx.id
        ),
    )
    .await;
    assert_eq!(searches, 3);
}

#[tokio::test]
async fn bad_search_inputs_name_their_field() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("badsearch").await;
    let ws = app.workspace(&fx, "docs").await;
    let cases = [
        (json!({ "mode": "KEYWORD" }), "query"),
        (json!({ "mode": "HYBRID", "query": "  " }), "query"),
        (json!({ "mode": "VECTOR" }), "query"),
        (json!({ "query": "x", "limit": 0 }), "limit"),
        (json!({ "query": "x", "limit": 101 }), "limit"),
        (json!({ "query": "x", "rrfK": -1 }), "rrfK"),
        (json!({ "query": "x", "rrfK": 10, "vectorWeight": 0.5 }), "rrfK"),
        (json!({ "query": "x", "vectorWeight": -0.5 }), "vectorWeight"),
        (
            json!({ "query": "x", "vectorWeight": 0, "keywordWeight": 0 }),
            "vectorWeight",
        ),
        (json!({ "query": "x", "mode": "VECTOR", "rrfK": 5 }), "rrfK"),
        (json!({ "query": "x", "candidates": 5 }), "candidates"),
        (json!({ "query": "x", "efSearch": 0 }), "efSearch"),
        (
            json!({ "query": "x", "mode": "VECTOR", "embedding": [0.1, 0.2] }),
            "embedding",
        ),
        (
            json!({ "query": "x", "mode": "VECTOR", "embedding": vec![0.0; 1536] }),
            "embedding",
        ),
        (
            json!({ "query": "x", "mode": "VECTOR", "embedding": vec![1e39; 1536] }),
            "embedding",
        ),
        (
            json!({ "query": "x", "mode": "KEYWORD", "embedding": vec![0.1; 1536] }),
            "embedding",
        ),
        (json!({ "query": "x", "embeddingModel": "m" }), "embeddingModel"),
        (
            json!({ "query": "x", "filter": { "language": "english" } }),
            "filter.language",
        ),
        (
            json!({ "query": "x", "filter": { "metadata": "act" } }),
            "filter.metadata",
        ),
        (json!({ "query": "x".repeat(10_001) }), "query"),
    ];
    for (mut input, field) in cases {
        input["workspaceId"] = json!(ws);
        let (_, body) = app
            .post(Some(&fx.admin_token), SEARCH, json!({ "input": input.clone() }))
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{input}: {body:#}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{input}: {body:#}");
    }
    let code = app
        .gql_err(
            Some(&fx.admin_token),
            SEARCH,
            json!({ "input": { "workspaceId": Uuid::new_v4(), "query": "x" } }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
}

/// 20,000 clustered vectors, one workspace holding 1% of them: its top 10
/// must equal exact search's top 10 on at least 95% of queries, with the
/// plan the planner picks and with the HNSW index forced (iterative scan).
#[tokio::test]
async fn filtered_vector_search_keeps_recall_for_a_small_workspace() {
    const TOTAL: usize = 20_000;
    const SMALL: usize = TOTAL / 100;
    const QUERIES: usize = 60;
    let db = TestDb::create().await;
    let owner = db.owner().await;
    let ids_of = |sql: &str| {
        let owner = owner.clone();
        let sql = sql.to_owned();
        async move { ids(&owner, sql).await }
    };
    let tenant =
        ids_of("INSERT INTO screenplay.tenants (slug, name) VALUES ('recall', 'Recall') RETURNING id").await[0];
    let mut workspaces = Vec::new();
    for i in 0..10 {
        workspaces.push(
            ids_of(&format!(
                "INSERT INTO screenplay.workspaces (tenant_id, name, slug) VALUES ('{tenant}', 'w{i}', 'w{i}') RETURNING id"
            ))
            .await[0],
        );
    }
    let small = workspaces[0];
    // 100 clusters; the small workspace's documents are about 8 of them
    // (its topics), everyone else's about all of them, so most neighbours
    // of its queries belong to other workspaces.
    let mut generator = Generator::new(42, 100, 0.6);
    let topics: Vec<usize> = (0..8).map(|k| k * 12).collect();
    let rows: Vec<CopyRow> = (0..TOTAL)
        .map(|i| {
            let (workspace, c) = if i % 100 == 0 {
                (small, topics[(i / 100) % topics.len()])
            } else {
                (workspaces[1 + i % 9], generator.cluster())
            };
            CopyRow {
                id: Uuid::now_v7(),
                tenant_id: tenant,
                workspace_id: workspace,
                source_path: format!("doc/{i}"),
                title: format!("doc {i}"),
                content: format!("chunk {i}"),
                content_hash: format!("{i:064}"),
                language: "en".into(),
                embedding: generator.vector(c),
                embedding_model: "synthetic".into(),
                token_count: 2,
            }
        })
        .collect();
    owner
        .execute_unprepared("DROP INDEX screenplay.code_documents_embedding_hnsw_idx")
        .await
        .expect("drop hnsw");
    assert_eq!(copy_rows(&owner, &rows).await.expect("copy"), TOTAL as u64);
    owner
        .execute_unprepared(
            "SET maintenance_work_mem = '512MB'; \
             CREATE INDEX code_documents_embedding_hnsw_idx ON screenplay.code_documents \
             USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64); \
             ANALYZE screenplay.code_documents",
        )
        .await
        .expect("build hnsw");
    assert_eq!(
        scalar_i64(
            &owner,
            &format!("SELECT count(*) FROM screenplay.code_documents WHERE workspace_id = '{small}'")
        )
        .await,
        SMALL as i64
    );

    // Its users search its topics; a third of the queries fall between two.
    let mut rng = StdRng::seed_from_u64(9);
    let queries: Vec<Vec<f32>> = (0..QUERIES)
        .map(|i| {
            let a = rng.random_range(0..topics.len());
            if i % 3 == 0 {
                generator.between(topics[a], topics[(a + 1) % topics.len()])
            } else {
                generator.vector(topics[a])
            }
        })
        .collect();
    let recall = |label: &'static str| {
        let owner = owner.clone();
        let queries = queries.clone();
        async move {
            let mut equal = 0;
            for q in &queries {
                let lit = vec_literal(q);
                let approx: HashSet<Uuid> = ids(
                    &owner,
                    format!("SELECT id FROM screenplay.search_similar_documents('{small}', '{lit}', 10)"),
                )
                .await
                .into_iter()
                .collect();
                let exact: HashSet<Uuid> = ids(
                    &owner,
                    format!(
                        "SELECT id FROM screenplay.search_similar_documents('{small}', '{lit}', 10, p_exact => true)"
                    ),
                )
                .await
                .into_iter()
                .collect();
                assert_eq!(exact.len(), 10);
                if approx == exact {
                    equal += 1;
                } else {
                    eprintln!(
                        "  {label}: {} of {} approximate hits are exact",
                        approx.intersection(&exact).count(),
                        approx.len()
                    );
                }
            }
            let share = equal as f64 / queries.len() as f64;
            eprintln!(
                "filtered recall ({label}): top-10 equal to exact on {equal}/{} queries",
                queries.len()
            );
            share
        }
    };
    let planned = recall("planner's choice").await;
    assert!(planned >= 0.95, "{planned}");

    // Without the workspace's btree indexes only the HNSW index can serve
    // the search: the iterative scan must keep the recall.
    owner
        .execute_unprepared(
            "DROP INDEX screenplay.code_documents_workspace_source_idx; \
             DROP INDEX screenplay.code_documents_workspace_model_idx; \
             DROP INDEX screenplay.code_documents_workspace_created_idx; \
             ALTER TABLE screenplay.code_documents DROP CONSTRAINT code_documents_workspace_content_hash_key; \
             ANALYZE screenplay.code_documents",
        )
        .await
        .expect("drop btree indexes");
    let lit = vec_literal(&queries[0]);
    let plan: Vec<String> = owner
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "EXPLAIN SELECT id FROM screenplay.code_documents WHERE workspace_id = '{small}' \
                 AND embedding IS NOT NULL ORDER BY embedding <=> '{lit}' LIMIT 10"
            ),
        ))
        .await
        .expect("explain")
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).expect("plan"))
        .collect();
    assert!(
        plan.iter().any(|l| l.contains("code_documents_embedding_hnsw_idx")),
        "{plan:#?}"
    );
    let forced = recall("HNSW with iterative scan").await;
    assert!(forced >= 0.95, "{forced}");

    // Without iterative scans the same index would find too few rows.
    let plain: i64 = {
        let mut total = 0;
        for q in queries.iter().take(10) {
            let lit = vec_literal(q);
            let tx = owner.begin().await.expect("begin");
            tx.execute_unprepared("SET LOCAL hnsw.iterative_scan = off")
                .await
                .expect("set");
            let row = tx
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    format!(
                        "SELECT count(*) FROM (SELECT id FROM screenplay.code_documents WHERE workspace_id = '{small}' \
                         ORDER BY embedding <=> '{lit}' LIMIT 10) t"
                    ),
                ))
                .await
                .expect("query")
                .expect("row");
            total += row.try_get_by_index::<i64>(0).expect("count");
            tx.rollback().await.expect("rollback");
        }
        total
    };
    eprintln!("without iterative scan: {plain} of 100 wanted rows found");
}
