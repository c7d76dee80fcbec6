//! Vector search: exact against brute force, inside its workspace, and
//! with its recall kept under filters.

use std::collections::HashSet;

use rand::{Rng, SeedableRng, rngs::StdRng};
use screenplay_api::{
    auth::Role,
    bench::{
        copy::{CopyRow, copy_rows},
        data::{Generator, dot},
    },
};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{random_unit, vec_literal};
use crate::helpers::ids;
use crate::helpers::{TestApp, TestDb, docs::SEARCH, scalar_i64};

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
        // Any limit: the plan reads a fixed number of rows, the answer has `limit`.
        let limit = 1 + q % 4 * 3;
        let first: Vec<String> = app
            .search(
                &viewer.token,
                json!({ "workspaceId": ws, "embedding": query, "embeddingModel": "test-model", "mode": "VECTOR", "limit": limit }),
            )
            .await
            .iter()
            .map(|h| h["document"]["sourcePath"].as_str().expect("path").to_owned())
            .collect();
        assert_eq!(first, expected[..limit], "query {q}, limit {limit}");
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
            synthetic_row(tenant, workspace, i, generator.vector(c))
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
             DROP INDEX screenplay.code_documents_title_phrase_idx; \
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

/// The API's two vector plans: a workspace of at most `EXACT_MAX_ROWS`
/// chunks is compared row by row, a larger one searched through the HNSW
/// index (iterative scan, `ef_search` set in the search statement). The
/// first must give exact search's top 10, the second a recall@10 of at
/// least 0.95 (queries between clusters included); and another tenant's
/// workspace must answer exactly as a workspace that does not exist.
#[tokio::test]
async fn both_vector_plans_give_the_exact_top_ten_and_stay_in_the_tenant() {
    use screenplay_api::service::search::EXACT_MAX_ROWS;
    const QUERIES: usize = 30;
    let app = TestApp::spawn().await;
    let fx = app.tenant("plans").await;
    let small = app.workspace(&fx, "small").await;
    let big = app.workspace(&fx, "big").await;
    let other = app.tenant("stranger").await;
    let owner = app.owner().await;
    let big_rows = EXACT_MAX_ROWS as usize + 1_000;
    // 40 clusters; the small workspace has 8 of them as topics.
    let mut generator = Generator::new(11, 40, 0.6);
    let topics: Vec<usize> = (0..8).map(|k| k * 5).collect();
    let rows: Vec<CopyRow> = (0..big_rows + 300)
        .map(|i| {
            let (workspace, c) = if i < big_rows {
                (big, i % 40)
            } else {
                (small, topics[i % topics.len()])
            };
            synthetic_row(fx.id, workspace, i, generator.vector(c))
        })
        .collect();
    owner
        .execute_unprepared("DROP INDEX screenplay.code_documents_embedding_hnsw_idx")
        .await
        .expect("drop hnsw");
    copy_rows(&owner, &rows).await.expect("copy");
    owner
        .execute_unprepared(
            "SET maintenance_work_mem = '256MB'; \
             CREATE INDEX code_documents_embedding_hnsw_idx ON screenplay.code_documents \
             USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64); \
             ANALYZE screenplay.code_documents",
        )
        .await
        .expect("build hnsw");

    let mut rng = StdRng::seed_from_u64(5);
    for (workspace, label, want) in [(small, "exact plan", 1.0), (big, "HNSW plan", 0.95)] {
        let mut found = 0;
        for i in 0..QUERIES {
            let a = rng.random_range(0..topics.len());
            let query = if i % 3 == 0 {
                generator.between(topics[a], topics[(a + 1) % topics.len()])
            } else {
                generator.vector(topics[a])
            };
            let exact: Vec<Uuid> = ids(
                &owner,
                format!(
                    "SELECT id FROM screenplay.search_similar_documents('{workspace}', '{}', 10, p_exact => true)",
                    vec_literal(&query)
                ),
            )
            .await;
            let hits = app
                .search(
                    &fx.admin_token,
                    json!({ "workspaceId": workspace, "embedding": query, "embeddingModel": "synthetic",
                            "mode": "VECTOR", "limit": 10 }),
                )
                .await;
            let api: Vec<Uuid> = hits
                .iter()
                .map(|h| h["document"]["id"].as_str().expect("id").parse().expect("uuid"))
                .collect();
            assert_eq!(api.len(), 10, "{label}");
            let ranks: Vec<i64> = hits.iter().map(|h| h["vectorRank"].as_i64().expect("rank")).collect();
            assert_eq!(ranks, (1..=10).collect::<Vec<i64>>(), "{label}");
            let exact: HashSet<Uuid> = exact.into_iter().collect();
            found += api.iter().filter(|id| exact.contains(id)).count();
        }
        let recall = found as f64 / (10 * QUERIES) as f64;
        eprintln!("{label}: recall@10 {recall:.3} against exact search");
        assert!(recall >= want, "{label}: recall@10 {recall}");
    }

    // Another tenant's workspace, big or small, answers as a missing one.
    let missing = Uuid::now_v7();
    for mode in ["VECTOR", "KEYWORD", "HYBRID"] {
        let mut codes = Vec::new();
        for workspace in [small, big, missing] {
            let mut input = json!({ "workspaceId": workspace, "mode": mode, "query": "chunk" });
            if mode != "KEYWORD" {
                input["embedding"] = json!(generator.vector(0));
                input["embeddingModel"] = json!("synthetic");
            }
            codes.push(
                app.gql_err(Some(&other.admin_token), SEARCH, json!({ "input": input }))
                    .await,
            );
        }
        assert_eq!(codes, ["NOT_FOUND", "NOT_FOUND", "NOT_FOUND"], "{mode}");
    }
}

/// Row `i` of a synthetic workspace, with its embedding.
pub(super) fn synthetic_row(tenant: Uuid, workspace: Uuid, i: usize, embedding: Vec<f32>) -> CopyRow {
    CopyRow::synthetic(tenant, workspace, i, embedding)
}

/// The vector plan is chosen by the workspace's size, counted by the first
/// search and then used for a minute (`search::sizes`): later searches bind
/// the size instead of counting the workspace's chunks again, and answer
/// the same.
#[tokio::test]
async fn a_workspace_is_counted_once_not_per_search() {
    let app = TestApp::spawn_with_pool_size(1).await;
    let fx = app.tenant("sizes").await;
    let ws = app.workspace(&fx, "docs").await;
    let mut rng = StdRng::seed_from_u64(3);
    ingest_random(&app, &fx.admin_token, ws, 20, &mut rng).await;
    let query = random_unit(&mut rng);
    let search = || {
        app.search(
            &fx.admin_token,
            json!({ "workspaceId": ws, "embedding": query, "embeddingModel": "test-model", "mode": "VECTOR", "limit": 5 }),
        )
    };
    let first = search().await;
    assert_eq!(first.len(), 5);
    for _ in 0..3 {
        assert_eq!(search().await, first);
    }
    let counting = crate::helpers::prepared_statements(&app, "%workspace_size_capped%exact_hits%").await;
    // Without the candidates of a copy in memory (`resident_hits`), which a
    // workspace searched again may have by the third search.
    let bound = crate::helpers::prepared_statements(&app, "%::int8 AS size%w.id = $1), exact_hits%").await;
    assert_eq!(
        (counting, bound),
        (1, 1),
        "one search counted, the others bound the size"
    );
    assert_eq!(
        app.state.workspace_sizes.get(ws),
        Some(20),
        "the size the first search counted"
    );
}

/// A query vector sent as base64 of little-endian float32 (OpenAI's
/// `encoding_format: "base64"`) finds what the same floats find, with the
/// same scores, and the audit log keeps neither form.
#[tokio::test]
async fn a_base64_embedding_finds_what_its_floats_find() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("b64").await;
    let ws = app.workspace(&fx, "docs").await;
    let mut rng = StdRng::seed_from_u64(9);
    ingest_random(&app, &fx.admin_token, ws, 30, &mut rng).await;
    for mode in ["VECTOR", "HYBRID"] {
        let query = random_unit(&mut rng);
        let base =
            json!({ "workspaceId": ws, "embeddingModel": "test-model", "mode": mode, "query": "chunk", "limit": 8 });
        let mut floats = base.clone();
        floats["embedding"] = json!(query);
        let mut encoded = base;
        encoded["embeddingBase64"] = json!(crate::helpers::docs::b64(&query));
        let from_floats = app.search(&fx.admin_token, floats).await;
        assert_eq!(from_floats.len(), 8, "{mode}");
        assert_eq!(app.search(&fx.admin_token, encoded).await, from_floats, "{mode}");
    }
    let kept = crate::helpers::audit::count_when(
        &app,
        &format!(
            "SELECT count(*) FROM screenplay.audit_logs WHERE tenant_id = '{}' \
             AND details->'variables'->'input'->>'embeddingBase64' = '[REDACTED]'",
            fx.id
        ),
        |n| n >= 2,
    )
    .await;
    assert_eq!(kept, 2, "both base64 searches audited, their vectors redacted");
}

/// `n` one-chunk documents with random unit vectors of `test-model`.
async fn ingest_random(app: &TestApp, token: &str, ws: Uuid, n: usize, rng: &mut StdRng) {
    let docs: Vec<Value> = (0..n)
        .map(
            |i| json!({ "sourcePath": format!("{i}"), "content": format!("chunk {i}"), "embedding": random_unit(rng) }),
        )
        .collect();
    app.gql(
        Some(token),
        crate::helpers::docs::INGEST,
        json!({ "input": { "workspaceId": ws, "documents": docs, "embeddingModel": "test-model" } }),
    )
    .await;
}
