//! One search conformance suite, run against both vector stores: pgvector,
//! and Milvus (a real milvus-lite server over gRPC) fed by the vector
//! outbox. Both servers share one database, so every case is checked
//! against exact search and the two stores' answers against each other.

use std::{collections::HashSet, time::Duration};

use rand::{SeedableRng, rngs::StdRng};
use screenplay_api::{
    auth::Role,
    bench::data::dot,
    config::{MilvusConfig, MilvusIndex},
    search::{Milvus, MirrorRecord},
    service::vector_sync,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::random_unit;
use crate::helpers::{TestApp, TestDb, error_code, milvus};

/// Words of the keyword cases: document `i` holds `WORDS[i % 8]`.
const WORDS: [&str; 8] = [
    "lighthouse",
    "carnival",
    "orchard",
    "submarine",
    "glacier",
    "bakery",
    "volcano",
    "harbour",
];
const MODEL: &str = "test-model";

/// A milvus-lite collection of this test and the client settings for it.
pub(crate) async fn milvus_settings(prefix: &str) -> MilvusConfig {
    MilvusConfig {
        url: milvus::url().await,
        token: None,
        collection: milvus::collection(prefix),
        index: MilvusIndex::Flat,
        index_params: Vec::new(),
    }
}

/// `serve` flags of a server searching Milvus.
pub(crate) fn milvus_flags(settings: &MilvusConfig) -> Vec<String> {
    [
        "--vector-store",
        "milvus",
        "--milvus-url",
        &settings.url,
        "--milvus-collection",
        &settings.collection,
        "--milvus-index",
        "FLAT",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

/// Waits until Milvus has every change (the outbox is empty), 60 s at most.
pub(crate) async fn settle(db: &TestDb) {
    let owner = db.owner().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let status = vector_sync::status(&owner).await.expect("outbox status");
        if status.pending == 0 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "outbox not drained: {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A document of the searched workspace: path, language, act, tag, vector.
type Doc = (String, &'static str, i64, String, Vec<f32>);
type Keep = Box<dyn Fn(&Doc) -> bool>;

struct Corpus {
    docs: Vec<Doc>,
    ws: Uuid,
    foreign_ws: Uuid,
    /// A foreign tenant's document whose vector is the first query.
    planted: (Uuid, String),
    queries: Vec<Vec<f32>>,
}

fn near(base: &[f32], rng: &mut StdRng) -> Vec<f32> {
    let noise = random_unit(rng);
    let v: Vec<f32> = base.iter().zip(&noise).map(|(a, b)| a + 0.3 * b).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

/// Two tenants' documents, ingested through the API.
async fn seed(app: &TestApp) -> (Corpus, String, String) {
    let fx = app.tenant("conf").await;
    let viewer = app.user(&fx, Role::Viewer).await;
    let ws = app.workspace(&fx, "main").await;
    let neighbour = app.workspace(&fx, "neighbour").await;
    let other = app.tenant("conf-other").await;
    let foreign_ws = app.workspace(&other, "theirs").await;
    let mut rng = StdRng::seed_from_u64(15);
    let mut docs = Vec::new();
    let mut inputs = Vec::new();
    for i in 0..48 {
        let (path, language) = (
            format!("{}/{i}", if i < 24 { "scenes" } else { "notes" }),
            ["en", "zh"][i % 2],
        );
        let (act, tag, v) = ((i % 3) as i64, format!("t{}", i % 4), random_unit(&mut rng));
        inputs.push(json!({ "sourcePath": path, "language": language, "embedding": v,
            "content": format!("scene {i} features the {}", WORDS[i % 8]),
            "metadata": { "act": act, "tags": [tag.clone(), "all"] } }));
        docs.push((path, language, act, tag, v));
    }
    let queries: Vec<Vec<f32>> = (0..6)
        .map(|q| {
            if q % 2 == 0 {
                near(&docs[q * 7].4, &mut rng)
            } else {
                random_unit(&mut rng)
            }
        })
        .collect();
    let noise: Vec<Value> = (0..12)
        .map(|i| json!({ "sourcePath": format!("n/{i}"), "content": format!("the lighthouse elsewhere {i}"), "embedding": random_unit(&mut rng) }))
        .collect();
    let planted = vec![
        json!({ "sourcePath": "planted", "content": "the lighthouse of another tenant", "embedding": queries[0] }),
    ];
    for (token, workspace, batch) in [
        (&fx.admin_token, ws, Value::from(inputs)),
        (&fx.admin_token, neighbour, Value::from(noise.clone())),
        (&other.admin_token, foreign_ws, Value::from([noise, planted].concat())),
    ] {
        let body = app
            .gql(
                Some(token),
                crate::helpers::docs::INGEST,
                json!({ "input": { "workspaceId": workspace, "documents": batch, "embeddingModel": MODEL } }),
            )
            .await;
        assert!(body["ingestDocuments"]["added"].as_i64() > Some(0), "{body}");
    }
    let owner = app.owner().await;
    let planted_id = crate::helpers::ids(
        &owner,
        format!(
            "SELECT id FROM screenplay.code_documents WHERE workspace_id = '{foreign_ws}' AND source_path = 'planted'"
        ),
    )
    .await[0];
    let corpus = Corpus {
        docs,
        ws,
        foreign_ws,
        planted: (planted_id, "planted".into()),
        queries,
    };
    (corpus, viewer.token, fx.admin_token)
}

/// The exact top `k` paths among the documents `keep` accepts.
fn exact(corpus: &Corpus, query: &[f32], k: usize, keep: impl Fn(&Doc) -> bool) -> Vec<String> {
    let mut scored: Vec<(f32, &String)> = corpus
        .docs
        .iter()
        .filter(|d| keep(d))
        .map(|d| (dot(&d.4, query), &d.0))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(k).map(|(_, p)| p.clone()).collect()
}

fn paths(hits: &[Value]) -> Vec<String> {
    hits.iter()
        .map(|h| h["document"]["sourcePath"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The cases: each search input with what exact search says it must return
/// (`None`: checked against the other store only).
fn cases(corpus: &Corpus) -> Vec<(String, Value, Option<Vec<String>>)> {
    let ws = corpus.ws;
    let mut cases = Vec::new();
    for (q, query) in corpus.queries.iter().enumerate() {
        let base =
            json!({ "workspaceId": ws, "embedding": query, "embeddingModel": MODEL, "mode": "VECTOR", "limit": 10 });
        cases.push((
            format!("vector {q}"),
            base.clone(),
            Some(exact(corpus, query, 10, |_| true)),
        ));
        let filtered: [(&str, Value, Keep); 4] = [
            ("language", json!({ "language": "zh" }), Box::new(|d| d.1 == "zh")),
            (
                "prefix",
                json!({ "sourcePathPrefix": "notes/" }),
                Box::new(|d| d.0.starts_with("notes/")),
            ),
            (
                "metadata scalar",
                json!({ "metadata": { "act": 1 } }),
                Box::new(|d| d.2 == 1),
            ),
            (
                "metadata array",
                json!({ "metadata": { "tags": ["t2"] } }),
                Box::new(|d| d.3 == "t2"),
            ),
        ];
        for (name, filter, keep) in filtered {
            let mut input = base.clone();
            input["filter"] = filter;
            cases.push((
                format!("vector {q} {name}"),
                input,
                Some(exact(corpus, query, 10, keep)),
            ));
        }
    }
    // Words of English documents (the even ones).
    for (w, word) in WORDS.iter().enumerate().step_by(2).take(3) {
        let number = |path: &str| {
            path.rsplit('/')
                .next()
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(usize::MAX)
        };
        let mut expected: Vec<String> = corpus
            .docs
            .iter()
            .filter(|d| number(&d.0) % 8 == w)
            .map(|d| d.0.clone())
            .collect();
        expected.sort();
        cases.push((
            format!("keyword {word}"),
            json!({ "workspaceId": ws, "query": word, "mode": "KEYWORD", "limit": 20 }),
            Some(expected),
        ));
        cases.push((
            format!("hybrid {word}"),
            json!({ "workspaceId": ws, "query": word, "embedding": corpus.queries[w], "embeddingModel": MODEL,
                    "mode": "HYBRID", "limit": 10 }),
            None,
        ));
    }
    cases
}

/// Runs every case on both servers: each answer as exact search says, and
/// the two stores' answers (paths, order, scores) alike.
async fn check_cases(pg: &TestApp, mv: &TestApp, token: &str, corpus: &Corpus) {
    for (name, input, expected) in cases(corpus) {
        let a = pg.search(token, input.clone()).await;
        let b = mv.search(token, input.clone()).await;
        let (pa, pb) = (paths(&a), paths(&b));
        assert!(!pa.is_empty(), "{name}: no hits");
        assert_eq!(pa, pb, "{name}: pgvector and Milvus disagree");
        for (x, y) in a.iter().zip(&b) {
            let (sx, sy) = (x["score"].as_f64().unwrap_or(-9.0), y["score"].as_f64().unwrap_or(9.0));
            assert!((sx - sy).abs() < 1e-4, "{name}: scores {sx} vs {sy}");
        }
        if let Some(mut expected) = expected {
            let mut got = pa.clone();
            if name.starts_with("keyword") {
                got.sort();
                expected.sort();
            }
            assert_eq!(got, expected, "{name}: not what exact search returns");
        }
        assert!(
            !pa.iter().any(|p| p == &corpus.planted.1 || p.starts_with("n/")),
            "{name}: {pa:?}"
        );
    }
}

#[tokio::test]
async fn both_vector_stores_pass_the_same_search_suite() {
    let db = TestDb::create().await;
    let settings = milvus_settings("conformance").await;
    let owner = db.owner().await;
    vector_sync::start_mirror(&owner).await.expect("mirror on");
    vector_sync::mark_copied(&owner).await.expect("copied");
    let pg = TestApp::spawn_on(db.clone(), &[]).await;
    let flags = milvus_flags(&settings);
    let mv = TestApp::spawn_on(db.clone(), &flags.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let (_, ready) = mv.readyz().await;
    assert_eq!(ready["vectorStore"], "milvus", "{ready}");
    let (corpus, token, admin) = seed(&pg).await;
    settle(&db).await;
    check_cases(&pg, &mv, &token, &corpus).await;

    // Another tenant's workspace does not exist for this caller, in either store.
    for app in [&pg, &mv] {
        let body = app
            .post(Some(&token), crate::helpers::docs::SEARCH, json!({ "input": {
                "workspaceId": corpus.foreign_ws, "embedding": corpus.queries[0], "embeddingModel": MODEL, "mode": "VECTOR" } }))
            .await
            .1;
        assert_eq!(error_code(&body).as_deref(), Some("NOT_FOUND"), "{body}");
    }
    // A Milvus record claiming the foreign document lives in this
    // workspace (a wrong filter, a bug): PostgreSQL's row-level security
    // still keeps it out.
    let client = Milvus::connect(&settings).await.expect("milvus client");
    let tenant = crate::helpers::ids(
        &owner,
        format!("SELECT tenant_id FROM screenplay.workspaces WHERE id = '{}'", corpus.ws),
    )
    .await[0];
    let lie = MirrorRecord {
        id: corpus.planted.0,
        tenant_id: tenant,
        workspace_id: corpus.ws,
        model: MODEL.into(),
        language: "en".into(),
        source_path: "planted".into(),
        metadata: json!({}),
        embedding: corpus.queries[0].clone(),
    };
    client.upsert(&[lie]).await.expect("plant");
    let hits = mv
        .search(&token, json!({ "workspaceId": corpus.ws, "embedding": corpus.queries[0], "embeddingModel": MODEL, "mode": "VECTOR", "limit": 5 }))
        .await;
    assert_eq!(hits.len(), 5, "the planted record must not crowd out real hits");
    assert!(
        !hits.iter().any(|h| h["document"]["id"] == json!(corpus.planted.0)),
        "{hits:?}"
    );
    // Queued again, the document's true record replaces the lie.
    sea_orm::ConnectionTrait::execute_unprepared(
        &owner,
        &format!(
            "INSERT INTO screenplay.vector_outbox (document_id, tenant_id) \
             SELECT id, tenant_id FROM screenplay.code_documents WHERE id = '{}'",
            corpus.planted.0
        ),
    )
    .await
    .expect("queue the planted document");

    // Deletes and updates reach Milvus through the outbox.
    let top = pg
        .search(&token, json!({ "workspaceId": corpus.ws, "embedding": corpus.queries[2], "embeddingModel": MODEL, "mode": "VECTOR", "limit": 2 }))
        .await;
    let gone: Vec<Value> = top.iter().map(|h| h["document"]["id"].clone()).collect();
    let body = pg
        .gql(
            Some(&admin),
            "mutation($ids: [UUID!]!) { deleteDocuments(ids: $ids) { deletedCount } }",
            json!({ "ids": gone }),
        )
        .await;
    assert_eq!(body["deleteDocuments"]["deletedCount"], 2, "{body}");
    settle(&db).await;
    let mut corpus = corpus;
    let removed: HashSet<String> = paths(&top).into_iter().collect();
    corpus.docs.retain(|d| !removed.contains(&d.0));
    check_cases(&pg, &mv, &token, &corpus).await;
    let verified = vector_sync::verify(&mv.state.db, &client, 500).await.expect("verify");
    assert!(verified.differences.is_empty(), "{:?}", verified.differences);
    assert_eq!(verified.vectors, 48 - 2 + 12 + 13);
}
