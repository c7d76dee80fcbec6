//! Small workspaces' vectors in memory (`search::resident`): the answers
//! of the full exact scan, current after every write, and never another
//! tenant's.

use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::StdRng};
use screenplay_api::domain::TenantId;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{random_unit, vec_literal};
use crate::helpers::{TestApp, ids, scalar_i64};

/// Ingests `n` vectors around `centres` (clustered, so that many rows are
/// near each other); returns them with their document ids.
async fn ingest_clustered(app: &TestApp, token: &str, ws: Uuid, centres: &[Vec<f32>], n: usize, rng: &mut StdRng) {
    let docs: Vec<Value> = (0..n)
        .map(|i| {
            let v = near(&centres[i % centres.len()], 0.35, rng);
            json!({ "sourcePath": format!("{i}"), "content": format!("chunk {i}"), "embedding": v })
        })
        .collect();
    // At most 100 documents per call.
    for batch in docs.chunks(100) {
        let added = app
            .gql(
                Some(token),
                crate::helpers::docs::INGEST,
                json!({ "input": { "workspaceId": ws, "documents": batch, "embeddingModel": "test-model" } }),
            )
            .await["ingestDocuments"]["added"]
            .as_i64();
        assert_eq!(added, Some(batch.len() as i64));
    }
}

fn near(centre: &[f32], spread: f32, rng: &mut StdRng) -> Vec<f32> {
    let v: Vec<f32> = centre
        .iter()
        .map(|c| c + spread * rng.random_range(-1.0f32..1.0) / 40.0)
        .collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

fn input(ws: Uuid, query: &[f32], limit: usize) -> Value {
    json!({ "workspaceId": ws, "embedding": query, "embeddingModel": "test-model", "mode": "VECTOR", "limit": limit })
}

fn hit_ids(hits: &[Value]) -> Vec<Uuid> {
    hits.iter()
        .map(|h| h["document"]["id"].as_str().expect("id").parse().expect("uuid"))
        .collect()
}

/// The exact answer, from the rows themselves (the owner's connection).
async fn exact(app: &TestApp, ws: Uuid, query: &[f32], limit: usize) -> Vec<Uuid> {
    let sql = format!(
        "SELECT id FROM screenplay.code_documents WHERE workspace_id = '{ws}' \
         ORDER BY embedding <=> '{}', id LIMIT {limit}",
        vec_literal(query)
    );
    ids(&app.owner().await, sql).await
}

/// Searches until the server keeps a copy of the workspace (it reads one
/// in the background for a workspace searched twice within a minute).
async fn until_resident(app: &TestApp, token: &str, tenant: Uuid, ws: Uuid, query: &[f32]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !app.state.resident_vectors.holds(TenantId::from(tenant), ws) {
        assert!(Instant::now() < deadline, "no copy of the workspace after 10 s");
        app.search(token, input(ws, query, 10)).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn searches_from_a_copy_in_memory_answer_as_the_full_scan() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("resident").await;
    let ws = app.workspace(&fx, "docs").await;
    let mut rng = StdRng::seed_from_u64(21);
    let centres: Vec<Vec<f32>> = (0..4).map(|_| random_unit(&mut rng)).collect();
    ingest_clustered(&app, &fx.admin_token, ws, &centres, 400, &mut rng).await;
    until_resident(&app, &fx.admin_token, fx.id, ws, &centres[0]).await;

    let before = app.state.resident_vectors.stats();
    for q in 0..24 {
        let query = if q % 3 == 2 {
            random_unit(&mut rng)
        } else {
            near(&centres[q % 4], 0.35, &mut rng)
        };
        let limit = [10, 1, 25, 7][q % 4];
        let hits = app.search(&fx.admin_token, input(ws, &query, limit)).await;
        assert_eq!(hit_ids(&hits), exact(&app, ws, &query, limit).await, "query {q}");
        for (i, h) in hits.iter().enumerate() {
            assert_eq!(h["vectorRank"], i + 1);
        }
    }
    let after = app.state.resident_vectors.stats();
    assert_eq!(after.hits - before.hits, 24, "every search used the copy: {after:?}");
    assert_eq!(after.stale, before.stale);

    // HYBRID's vector channel takes its candidates from the copy too.
    let hybrid = app
        .search(
            &fx.admin_token,
            json!({ "workspaceId": ws, "embedding": centres[1], "embeddingModel": "test-model",
                    "mode": "HYBRID", "query": "chunk", "limit": 5 }),
        )
        .await;
    assert_eq!(hybrid.len(), 5);
    assert_eq!(app.state.resident_vectors.stats().hits, after.hits + 1);

    // Operators see them in /metrics.
    let metrics = app.metrics_text().await;
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from /metrics"))
    };
    assert!(value("screenplay_search_resident_hits_total") >= 25.0);
    assert!(value("screenplay_search_resident_copies") >= 1.0);
    assert!(value("screenplay_search_resident_bytes") >= 400.0 * 3072.0);
}

#[tokio::test]
async fn a_write_makes_the_copy_stale_and_the_answer_stays_exact() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("resident-writes").await;
    let ws = app.workspace(&fx, "docs").await;
    let mut rng = StdRng::seed_from_u64(22);
    let centres: Vec<Vec<f32>> = (0..4).map(|_| random_unit(&mut rng)).collect();
    ingest_clustered(&app, &fx.admin_token, ws, &centres, 200, &mut rng).await;
    let query = centres[2].clone();
    until_resident(&app, &fx.admin_token, fx.id, ws, &query).await;

    // A new chunk right at the query: the copy does not know it.
    let added = app
        .gql(
            Some(&fx.admin_token),
            crate::helpers::docs::INGEST,
            json!({ "input": { "workspaceId": ws, "embeddingModel": "test-model",
                    "documents": [{ "sourcePath": "new", "content": "new chunk", "embedding": query }] } }),
        )
        .await;
    let new_id: Uuid = added["ingestDocuments"]["documents"][0]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let stale_before = app.state.resident_vectors.stats().stale;
    let hits = hit_ids(&app.search(&fx.admin_token, input(ws, &query, 10)).await);
    assert_eq!(hits[0], new_id);
    assert_eq!(hits, exact(&app, ws, &query, 10).await);
    assert!(
        app.state.resident_vectors.stats().stale > stale_before,
        "the copy was found stale"
    );

    // Moved away by an update, then deleted: each answered exactly.
    until_resident(&app, &fx.admin_token, fx.id, ws, &query).await;
    let away = random_unit(&mut rng);
    app.gql(
        Some(&fx.admin_token),
        "mutation($input: UpdateDocumentInput!) { updateDocument(input: $input) { document { id } } }",
        json!({ "input": { "id": new_id, "embedding": away, "embeddingModel": "test-model" } }),
    )
    .await;
    let hits = hit_ids(&app.search(&fx.admin_token, input(ws, &query, 10)).await);
    assert!(!hits.contains(&new_id));
    assert_eq!(hits, exact(&app, ws, &query, 10).await);
    let hits = hit_ids(&app.search(&fx.admin_token, input(ws, &away, 3)).await);
    assert_eq!(hits[0], new_id);

    until_resident(&app, &fx.admin_token, fx.id, ws, &query).await;
    let gone = hit_ids(&app.search(&fx.admin_token, input(ws, &query, 1)).await)[0];
    app.gql(
        Some(&fx.admin_token),
        "mutation($ids: [UUID!]!) { deleteDocuments(ids: $ids) { deletedCount } }",
        json!({ "ids": [gone] }),
    )
    .await;
    let hits = hit_ids(&app.search(&fx.admin_token, input(ws, &query, 10)).await);
    assert!(!hits.contains(&gone));
    assert_eq!(hits, exact(&app, ws, &query, 10).await);
}

#[tokio::test]
async fn another_tenant_never_reaches_a_copy() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("resident-a").await;
    let other = app.tenant("resident-b").await;
    let ws = app.workspace(&fx, "docs").await;
    let mut rng = StdRng::seed_from_u64(23);
    let centres: Vec<Vec<f32>> = (0..2).map(|_| random_unit(&mut rng)).collect();
    ingest_clustered(&app, &fx.admin_token, ws, &centres, 100, &mut rng).await;
    until_resident(&app, &fx.admin_token, fx.id, ws, &centres[0]).await;
    for _ in 0..3 {
        let code = app
            .gql_err(
                Some(&other.admin_token),
                crate::helpers::docs::SEARCH,
                json!({ "input": input(ws, &centres[0], 10) }),
            )
            .await;
        assert_eq!(code, "NOT_FOUND");
    }
    assert!(!app.state.resident_vectors.holds(TenantId::from(other.id), ws));
}

/// The version changes with the set of a workspace's vectors, in the
/// writing transaction, and with nothing else.
#[tokio::test]
async fn the_vector_version_follows_every_change_of_the_vectors() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("versions").await;
    let ws = app.workspace(&fx, "docs").await;
    let mut rng = StdRng::seed_from_u64(24);
    let centres = vec![random_unit(&mut rng)];
    ingest_clustered(&app, &fx.admin_token, ws, &centres, 3, &mut rng).await;
    let owner = app.owner().await;
    let version_sql = format!(
        "SELECT coalesce(max(version), 0) FROM screenplay.workspace_vector_versions WHERE workspace_id = '{ws}'"
    );
    let mut last = scalar_i64(&owner, &version_sql).await;
    assert!(last > 0, "ingesting gave the workspace a version");
    let one = format!("(SELECT id FROM screenplay.code_documents WHERE workspace_id = '{ws}' ORDER BY id LIMIT 1)");
    let v = vec_literal(&random_unit(&mut rng));
    for (change, moves) in [
        (
            format!("UPDATE screenplay.code_documents SET metadata = '{{\"a\": 1}}' WHERE id = {one}"),
            false,
        ),
        (
            format!("UPDATE screenplay.code_documents SET title = 'retitled' WHERE workspace_id = '{ws}'"),
            false,
        ),
        (
            format!("UPDATE screenplay.code_documents SET embedding = '{v}' WHERE id = {one}"),
            true,
        ),
        (
            format!("UPDATE screenplay.code_documents SET embedding_model = 'other' WHERE id = {one}"),
            true,
        ),
        (format!("DELETE FROM screenplay.code_documents WHERE id = {one}"), true),
    ] {
        sea_orm::ConnectionTrait::execute_unprepared(&owner, &change)
            .await
            .expect(&change);
        let now = scalar_i64(&owner, &version_sql).await;
        assert_eq!(now != last, moves, "{change}");
        last = now;
    }
    // A restore's copy of a version row (another state's number) takes the
    // restoring transaction's id instead, and updates the row there is.
    let restore = format!(
        "INSERT INTO screenplay.workspace_vector_versions (workspace_id, tenant_id, version) VALUES ('{ws}', '{}', {last})",
        fx.id
    );
    sea_orm::ConnectionTrait::execute_unprepared(&owner, &restore)
        .await
        .expect("restore");
    let restored = scalar_i64(&owner, &version_sql).await;
    assert!(restored > last, "{restored} after {last}");
    let rows = format!("SELECT count(*) FROM screenplay.workspace_vector_versions WHERE workspace_id = '{ws}'");
    assert_eq!(scalar_i64(&owner, &rows).await, 1);
    // A workspace deleted with its chunks takes its version along.
    let delete = format!("DELETE FROM screenplay.workspaces WHERE id = '{ws}'");
    sea_orm::ConnectionTrait::execute_unprepared(&owner, &delete)
        .await
        .expect("delete");
    assert_eq!(scalar_i64(&owner, &version_sql).await, 0);
}

/// `--resident-vectors-mb` bounds the copies: with 1 MiB, two workspaces of
/// 150 chunks fit (about 470 KB each), a third pushes the least recently
/// searched out, one of 400 chunks is never read; every answer is exact.
/// With 0, none are kept.
#[tokio::test]
async fn copies_stay_within_their_memory_limit() {
    let app = TestApp::spawn_with(&["--resident-vectors-mb", "1"]).await;
    let fx = app.tenant("resident-budget").await;
    let mut rng = StdRng::seed_from_u64(25);
    let centres: Vec<Vec<f32>> = (0..3).map(|_| random_unit(&mut rng)).collect();
    let mut small = Vec::new();
    for name in ["a", "b", "c"] {
        let ws = app.workspace(&fx, name).await;
        ingest_clustered(&app, &fx.admin_token, ws, &centres, 150, &mut rng).await;
        small.push(ws);
    }
    let big = app.workspace(&fx, "big").await;
    ingest_clustered(&app, &fx.admin_token, big, &centres, 400, &mut rng).await;
    let tenant = TenantId::from(fx.id);
    for &ws in &small {
        until_resident(&app, &fx.admin_token, fx.id, ws, &centres[0]).await;
        let stats = app.state.resident_vectors.stats();
        assert!(stats.bytes <= 1 << 20 && stats.copies <= 2, "{stats:?}");
    }
    assert!(
        !app.state.resident_vectors.holds(tenant, small[0]),
        "the least recently searched went"
    );
    for _ in 0..5 {
        let hits = hit_ids(&app.search(&fx.admin_token, input(big, &centres[1], 10)).await);
        assert_eq!(hits, exact(&app, big, &centres[1], 10).await);
    }
    assert!(
        !app.state.resident_vectors.holds(tenant, big),
        "a copy over the limit is never read"
    );

    let off = TestApp::spawn_with(&["--resident-vectors-mb", "0"]).await;
    let fx = off.tenant("resident-off").await;
    let ws = off.workspace(&fx, "docs").await;
    ingest_clustered(&off, &fx.admin_token, ws, &centres, 50, &mut rng).await;
    for _ in 0..5 {
        let hits = hit_ids(&off.search(&fx.admin_token, input(ws, &centres[2], 10)).await);
        assert_eq!(hits, exact(&off, ws, &centres[2], 10).await);
    }
    assert_eq!(off.state.resident_vectors.stats().loads, 0);
}

/// Rows all alike: the copy cannot narrow a search (every row ties), so
/// the statement scans them all, and the copy is not read again for that.
#[tokio::test]
async fn a_copy_that_cannot_narrow_a_search_is_kept_not_reread() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("resident-ties").await;
    let ws = app.workspace(&fx, "docs").await;
    let mut rng = StdRng::seed_from_u64(26);
    let same = random_unit(&mut rng);
    let docs: Vec<Value> = (0..30)
        .map(|i| json!({ "sourcePath": format!("{i}"), "content": format!("chunk {i}"), "embedding": same }))
        .collect();
    app.gql(
        Some(&fx.admin_token),
        crate::helpers::docs::INGEST,
        json!({ "input": { "workspaceId": ws, "documents": docs, "embeddingModel": "test-model" } }),
    )
    .await;
    until_resident(&app, &fx.admin_token, fx.id, ws, &same).await;
    let before = app.state.resident_vectors.stats();
    for _ in 0..5 {
        let hits = hit_ids(&app.search(&fx.admin_token, input(ws, &same, 10)).await);
        assert_eq!(
            hits,
            exact(&app, ws, &same, 10).await,
            "ties broken by id, as the full scan does"
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = app.state.resident_vectors.stats();
    assert_eq!(
        (after.loads, after.hits),
        (before.loads, before.hits),
        "{before:?} -> {after:?}"
    );
}
