//! Milvus going away and coming back: `/readyz` says so, vector searches
//! answer `UNAVAILABLE` while keyword search and writes go on, the outbox
//! keeps the changes and Milvus catches up once it answers again. And a
//! collection this server cannot use is refused at start.

use std::time::Duration;

use milvus::v2::prelude::*;
use rand::{SeedableRng, rngs::StdRng};
use screenplay_api::{search::Milvus, service::vector_sync};
use serde_json::{Value, json};

use super::{random_unit, stores};
use crate::helpers::{TestApp, TestDb, error_code, proxy::TcpProxy};

async fn failures(app: &TestApp) -> u64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix("screenplay_vector_outbox_failures_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_milvus_outage_is_reported_and_caught_up() {
    let db = TestDb::create().await;
    let mut settings = stores::milvus_settings("outage").await;
    let target = settings
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("milvus address");
    let proxy = TcpProxy::start(target).await;
    settings.url = format!("http://{}", proxy.addr);
    let owner = db.owner().await;
    vector_sync::start_mirror(&owner).await.expect("mirror on");
    vector_sync::mark_copied(&owner).await.expect("copied");
    let flags = stores::milvus_flags(&settings);
    let app = TestApp::spawn_on(db.clone(), &flags.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let fx = app.tenant("outage").await;
    let ws = app.workspace(&fx, "w").await;
    let mut rng = StdRng::seed_from_u64(5);
    let vectors: Vec<Vec<f32>> = (0..6).map(|_| random_unit(&mut rng)).collect();
    let docs = |range: std::ops::Range<usize>| -> Value {
        range
            .map(|i| json!({ "sourcePath": format!("d/{i}"), "content": format!("harbour scene {i}"), "embedding": vectors[i] }))
            .collect()
    };
    let ingest = |batch: Value| json!({ "input": { "workspaceId": ws, "documents": batch, "embeddingModel": "m" } });
    app.gql(Some(&fx.admin_token), crate::helpers::docs::INGEST, ingest(docs(0..3)))
        .await;
    stores::settle(&db).await;
    let search = |i: usize| json!({ "workspaceId": ws, "embedding": vectors[i], "embeddingModel": "m", "mode": "VECTOR", "limit": 1 });
    assert_eq!(
        app.search(&fx.admin_token, search(1)).await[0]["document"]["sourcePath"],
        "d/1"
    );

    proxy.cut().await;
    let before = failures(&app).await;
    let (status, body) = app.readyz().await;
    assert_eq!(status, 503, "{body}");
    assert!(body["reason"].as_str().unwrap_or_default().contains("Milvus"), "{body}");
    let body = app
        .post(
            Some(&fx.admin_token),
            crate::helpers::docs::SEARCH,
            json!({ "input": search(1) }),
        )
        .await
        .1;
    assert_eq!(error_code(&body).as_deref(), Some("UNAVAILABLE"), "{body}");
    let keyword = json!({ "workspaceId": ws, "query": "harbour", "mode": "KEYWORD", "limit": 10 });
    assert_eq!(
        app.search(&fx.admin_token, keyword.clone()).await.len(),
        3,
        "keyword search is PostgreSQL's"
    );
    let added = app
        .gql(Some(&fx.admin_token), crate::helpers::docs::INGEST, ingest(docs(3..6)))
        .await;
    assert_eq!(added["ingestDocuments"]["added"], 3, "{added}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        vector_sync::status(&owner).await.expect("status").pending,
        3,
        "changes wait in the outbox"
    );
    assert!(failures(&app).await > before, "failed batches are counted");

    proxy.restore().await;
    stores::settle(&db).await;
    assert_eq!(app.readyz().await.0, 200);
    assert_eq!(
        app.search(&fx.admin_token, search(4)).await[0]["document"]["sourcePath"],
        "d/4"
    );
}

#[tokio::test]
async fn a_collection_of_another_dimension_is_refused() {
    let mut settings = stores::milvus_settings("wrongdim").await;
    let client = ClientV2::new(&ConnectConfig::new().uri(settings.url.clone()))
        .await
        .expect("client");
    let schema = CollectionSchema::new()
        .add_field(
            FieldSchema::new()
                .name("id")
                .data_type(DataType::VarChar)
                .max_length(36)
                .primary_key(true),
        )
        .add_field(
            FieldSchema::new()
                .name("embedding")
                .data_type(DataType::FloatVector)
                .dimension(8),
        );
    client
        .create_collection(
            CreateCollectionRequest::builder()
                .collection_name(&settings.collection)
                .schema(schema)
                .build()
                .expect("request"),
        )
        .await
        .expect("create");
    let err = Milvus::connect(&settings).await.expect_err("refused");
    assert!(format!("{err:#}").contains("1536 dimensions (found 8)"), "{err:#}");
    settings.url = "http://127.0.0.1:1".into();
    let err = Milvus::connect(&settings).await.expect_err("nothing listens");
    assert!(
        format!("{err:#}").contains("cannot connect to Milvus at http://127.0.0.1:1"),
        "{err:#}"
    );
}
