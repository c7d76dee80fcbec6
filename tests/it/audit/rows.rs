//! One audit row per operation, written or queued, whatever happens to the
//! operation: concurrency, failed mutations, websockets, SIGTERM, proxies.

use std::time::Duration;

use reqwest::StatusCode;
use screenplay_api::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, TestDb,
    audit::{audit_text, count, count_when, counter},
    cluster,
    process::ServerProcess,
    scalar_i64,
};

#[tokio::test]
async fn concurrent_mixed_requests_get_exactly_one_row_each_and_exact_counters() {
    let mut app = TestApp::spawn().await;
    let fx = app.tenant("mix").await;
    let viewer = app.user(&fx, Role::Viewer).await;

    // 200 requests: reads, writes, refused writes, failed writes, anonymous and garbage.
    let mut tasks = Vec::new();
    for i in 0..200 {
        let client = app.client.clone();
        let url = app.url("/graphql");
        let (token, body): (Option<String>, Value) = match i % 5 {
            0 => (
                Some(fx.admin_token.clone()),
                json!({ "query": "{ me { role } workspaces { totalCount } }" }),
            ),
            1 => (
                Some(fx.admin_token.clone()),
                json!({ "query": "mutation($i: CreateWorkspaceInput!) { createWorkspace(input: $i) { workspace { id } } }",
                        "variables": { "i": { "name": format!("W{i}"), "slug": format!("w-{i}") } } }),
            ),
            2 => (
                Some(viewer.token.clone()),
                json!({ "query": "mutation { createWorkspace(input: {name: \"nope\"}) { workspace { id } } }" }),
            ),
            3 => (
                Some(fx.admin_token.clone()),
                json!({ "query": "mutation { createWorkspace(input: {name: \"bad\", slug: \"Not A Slug\"}) { workspace { id } } }" }),
            ),
            _ => (
                if i % 2 == 0 { None } else { Some("garbage".into()) },
                json!({ "query": "{ health }" }),
            ),
        };
        tasks.push(tokio::spawn(async move {
            let mut req = client.post(url).header("x-request-id", format!("load-{i}")).json(&body);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.send().await.expect("send").status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), StatusCode::OK);
    }
    // A graceful stop writes every queued row.
    app.stop().await;

    let rows = count(
        &app,
        "SELECT count(*) FROM screenplay.audit_logs WHERE request_id LIKE 'load-%'",
    )
    .await;
    assert_eq!(rows, 200, "one audit row per request");
    let distinct = count(
        &app,
        "SELECT count(DISTINCT request_id) FROM screenplay.audit_logs WHERE request_id LIKE 'load-%'",
    )
    .await;
    assert_eq!(distinct, 200);
    let ok_mutations = count(
        &app,
        "SELECT count(*) FROM screenplay.audit_logs WHERE request_id LIKE 'load-%' AND operation_type = 'mutation' AND outcome = 'ok'",
    )
    .await;
    assert_eq!(ok_mutations, 40);
    let forbidden = count(
        &app,
        "SELECT count(*) FROM screenplay.audit_logs WHERE request_id LIKE 'load-%' AND error_codes = '{FORBIDDEN}'",
    )
    .await;
    assert_eq!(forbidden, 40);
    let bad_input = count(
        &app,
        "SELECT count(*) FROM screenplay.audit_logs WHERE request_id LIKE 'load-%' AND error_codes = '{BAD_USER_INPUT}'",
    )
    .await;
    assert_eq!(bad_input, 40);
    // Anonymous and refused tokens are audited without a tenant.
    let anonymous = count(
        &app,
        "SELECT count(*) FROM screenplay.audit_logs WHERE request_id LIKE 'load-%' AND tenant_id IS NULL",
    )
    .await;
    assert_eq!(anonymous, 40);
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM screenplay.workspaces WHERE tenant_id = '{}'",
                fx.id
            )
        )
        .await,
        40
    );
    // The mutation rows carry what changed.
    let with_changes = count(
        &app,
        "SELECT count(*) FROM screenplay.audit_logs WHERE request_id LIKE 'load-%' AND resource_type = 'workspace' \
         AND outcome = 'ok' AND cardinality(resource_ids) = 1 AND details->'changes'->0->'after'->>'slug' LIKE 'w-%'",
    )
    .await;
    assert_eq!(with_changes, 40);

    // Counters: 160 tenant requests executed (reads, ok, forbidden, failed),
    // 120 of them mutations, plus the setup's (counted asynchronously, so
    // read from the audit log rather than from before the load).
    let setup = count(
        &app,
        &format!(
            "SELECT count(*) FROM screenplay.audit_logs WHERE tenant_id = '{}' AND request_id NOT LIKE 'load-%'",
            fx.id
        ),
    )
    .await;
    assert_eq!(setup, 1, "the setup created one user");
    assert_eq!(counter(&app, fx.id, "requests").await, 160 + setup);
    assert_eq!(counter(&app, fx.id, "mutations").await, 120 + setup);
}

#[tokio::test]
async fn a_mutation_that_fails_half_way_keeps_nothing_and_gets_one_failure_row() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("half").await;
    let (_, _, body) = app
        .post_with(
            Some(&fx.admin_token),
            json!({ "query": "mutation Both { a: createWorkspace(input: {name: \"First\", slug: \"dup\"}) { workspace { id } } \
                                             b: createWorkspace(input: {name: \"Second\", slug: \"dup\"}) { workspace { id } } }" }),
            &[("x-request-id", "half-way")],
        )
        .await;
    assert!(
        body["data"].is_null(),
        "a failed mutation operation returns no data: {body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT");
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM screenplay.workspaces WHERE tenant_id = '{}'",
                fx.id
            )
        )
        .await,
        0
    );

    // The failure row is queued; poll until the writer has it.
    let rows = count_when(
        &app,
        "SELECT count(*) FROM screenplay.audit_logs WHERE request_id = 'half-way'",
        |n| n > 0,
    )
    .await;
    assert_eq!(rows, 1);
    let ok = count(
        &app,
        "SELECT count(*) FROM screenplay.audit_logs WHERE request_id = 'half-way' AND outcome = 'ok'",
    )
    .await;
    assert_eq!(ok, 0);
    let fields = count(
        &app,
        "SELECT count(*) FROM screenplay.audit_logs WHERE request_id = 'half-way' AND fields = '{createWorkspace,createWorkspace}' \
         AND operation_name = 'Both' AND error_codes = '{CONFLICT}'",
    )
    .await;
    assert_eq!(fields, 1);
}

#[tokio::test]
async fn queued_rows_are_written_within_a_flush_period_under_steady_traffic() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("steady").await;
    let read = json!({ "query": "{ me { role } }" });
    app.post_with(Some(&fx.admin_token), read.clone(), &[("x-request-id", "steady-first")])
        .await;
    // Requests keep coming for 4 s, several per flush period of 250 ms.
    let stream_ends = std::time::Instant::now() + Duration::from_secs(4);
    let stream = async {
        let mut sent = 0;
        while std::time::Instant::now() < stream_ends {
            app.post_with(
                Some(&fx.admin_token),
                read.clone(),
                &[("x-request-id", "steady-stream")],
            )
            .await;
            sent += 1;
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        sent
    };
    let watch = async {
        let started = std::time::Instant::now();
        let rows = count_when(
            &app,
            "SELECT count(*) FROM screenplay.audit_logs WHERE request_id = 'steady-first'",
            |n| n == 1 || started.elapsed() > Duration::from_secs(2),
        )
        .await;
        (rows, started.elapsed())
    };
    let (sent, (rows, waited)) = tokio::join!(stream, watch);
    assert_eq!(
        rows, 1,
        "the first row was still queued after {waited:?} of steady traffic"
    );
    assert!(waited < Duration::from_secs(2));
    let streamed = count_when(
        &app,
        "SELECT count(*) FROM screenplay.audit_logs WHERE request_id = 'steady-stream'",
        |n| n == sent,
    )
    .await;
    assert_eq!(streamed, sent);
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    for (trusted, expected) in [(true, "203.0.113.7"), (false, "127.0.0.1")] {
        let flags: &[&str] = if trusted {
            &["--trusted-proxies", "127.0.0.1/32"]
        } else {
            &[]
        };
        let mut app = TestApp::spawn_with(flags).await;
        app.post_with(
            None,
            json!({ "query": "{ health }" }),
            &[
                ("x-forwarded-for", "198.51.100.1, 203.0.113.7"),
                ("x-request-id", "xff"),
                ("user-agent", "probe/1.0"),
            ],
        )
        .await;
        app.stop().await;
        let row = count(
            &app,
            &format!(
                "SELECT count(*) FROM screenplay.audit_logs WHERE request_id = 'xff' AND host(ip) = '{expected}' AND user_agent = 'probe/1.0'"
            ),
        )
        .await;
        assert_eq!(row, 1, "trusted={trusted}");
    }
}

#[tokio::test]
async fn sigterm_during_load_loses_no_audit_row_of_an_answered_request() {
    let db = TestDb::create().await;
    let probe = TestApp::spawn_on(db.clone(), &[]).await;
    let fx = probe.tenant("term").await;
    let mut server = ServerProcess::spawn(&db, &[]).await;
    let url = server.url("/graphql");
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for i in 0..300 {
        let (client, url, token) = (client.clone(), url.clone(), fx.admin_token.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(i as u64 * 2)).await;
            let body = if i % 3 == 0 {
                json!({ "query": "mutation($i: CreateWorkspaceInput!) { createWorkspace(input: $i) { workspace { id } } }",
                        "variables": { "i": { "name": format!("T{i}"), "slug": format!("t-{i}") } } })
            } else {
                json!({ "query": "{ me { role } workspaces { totalCount } }" })
            };
            let resp = client
                .post(&url)
                .bearer_auth(token)
                .header("x-request-id", format!("term-{i}"))
                .json(&body)
                .send()
                .await;
            match resp {
                Ok(r) if r.status() == StatusCode::OK => r.json::<Value>().await.ok().map(|_| i),
                _ => None,
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(250)).await;
    server.terminate();
    let mut answered = Vec::new();
    for t in tasks {
        if let Some(i) = t.await.expect("task") {
            answered.push(i);
        }
    }
    let status = server.wait().await;
    assert!(status.success(), "{status}");
    assert!(
        !answered.is_empty() && answered.len() < 300,
        "the signal should land mid-load: {}",
        answered.len()
    );
    let ids = answered
        .iter()
        .map(|i| format!("'term-{i}'"))
        .collect::<Vec<_>>()
        .join(",");
    let rows = count(
        &probe,
        &format!("SELECT count(DISTINCT request_id) FROM screenplay.audit_logs WHERE request_id IN ({ids})"),
    )
    .await;
    assert_eq!(rows as usize, answered.len(), "answered requests without an audit row");
}

#[tokio::test]
async fn each_websocket_operation_is_audited() {
    use crate::helpers::ws::WsClient;

    let mut app = TestApp::spawn().await;
    let s = app.studio("wsaudit").await;
    let session = app.create_session(&s.fx.admin_token, s.workspace, "Watched").await;
    let mut ws = WsClient::connect(app.addr, &s.fx.admin_token).await;
    // A query and a mutation over the socket, then a subscription.
    async fn answer_of(ws: &mut WsClient, id: &str) -> Value {
        loop {
            let frame = ws.next(Duration::from_secs(10)).await.expect("an answer");
            if frame["type"] == "next" && frame["id"] == id {
                return frame["payload"].clone();
            }
        }
    }
    ws.subscribe("q1", "query OverSocket { me { role } }", json!({})).await;
    let answer = answer_of(&mut ws, "q1").await;
    assert_eq!(answer["data"]["me"]["role"], "TENANT_ADMIN");
    ws.subscribe(
        "m1",
        "mutation RenameOverSocket($i: UpdateSessionInput!) { updateSession(input: $i) { session { title } } }",
        json!({ "i": { "id": session, "version": 1, "title": "Renamed over the socket" } }),
    )
    .await;
    let answer = answer_of(&mut ws, "m1").await;
    assert_eq!(
        answer["data"]["updateSession"]["session"]["title"],
        "Renamed over the socket"
    );
    async fn frame_of(ws: &mut WsClient, id: &str) -> Value {
        loop {
            let frame = ws.next(Duration::from_secs(10)).await.expect("a frame");
            if frame["id"] == id {
                return frame;
            }
        }
    }
    // A broken document on the socket is audited too.
    ws.subscribe("bad", "subscription { nope }", json!({})).await;
    let refused = frame_of(&mut ws, "bad").await;
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{refused}"
    );
    assert_eq!(frame_of(&mut ws, "bad").await["type"], "complete");
    // A subscription: audited when it starts delivering.
    let steps = app
        .set_outline(&s.fx.admin_token, session, json!([{ "title": "Act" }]))
        .await;
    ws.subscribe(
        "s1",
        "subscription Watch($id: UUID!) { sessionEvents(sessionId: $id) { __typename } }",
        json!({ "id": session }),
    )
    .await;
    let token = s.fx.admin_token.clone();
    crate::helpers::ws::until_live(&mut [&mut ws], || async {
        app.append(&token, session, steps[0], "ACTION", "Wind.").await;
    })
    .await;
    drop(ws);
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.stop().await;

    let owner = app.owner().await;
    for (name, kind) in [
        ("OverSocket", "query"),
        ("RenameOverSocket", "mutation"),
        ("Watch", "subscription"),
    ] {
        let rows = scalar_i64(
            &owner,
            &format!(
                "SELECT count(*) FROM screenplay.audit_logs WHERE operation_name = '{name}' AND operation_type = '{kind}' \
                 AND tenant_id = '{}' AND outcome = 'ok'",
                s.fx.id
            ),
        )
        .await;
        assert_eq!(rows, 1, "{name}");
    }
    let failed = scalar_i64(
        &owner,
        &format!(
            "SELECT count(*) FROM screenplay.audit_logs WHERE tenant_id = '{}' AND error_codes = '{{GRAPHQL_VALIDATION_FAILED}}'",
            s.fx.id
        ),
    )
    .await;
    assert_eq!(failed, 1);
    // Each operation on the connection has its own request id.
    let ids = scalar_i64(
        &owner,
        &format!(
            "SELECT count(DISTINCT request_id) FROM screenplay.audit_logs WHERE tenant_id = '{}' \
             AND operation_name IN ('OverSocket', 'RenameOverSocket', 'Watch')",
            s.fx.id
        ),
    )
    .await;
    assert_eq!(ids, 3);
}

/// A signed-in caller's transaction opens before async-graphql validates
/// the document; one that fails validation (a mutation among them) rolls
/// it back, writes nothing, gives its connection back, and is audited
/// with its code.
#[tokio::test]
async fn invalid_documents_of_signed_in_callers_write_nothing_and_free_their_connection() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("invalid").await;
    let documents = [
        (
            "mutation { createWorkspace(input: {name: \"Never\", slug: \"never\"}) { workspace { id noSuchField } } }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "{ workspaces { totalCount } me { noSuchField } }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        ("query($id: UUID!) { workspace(id: $id) { id } }", "BAD_USER_INPUT"),
        ("query A { me { role } } query B { me { role } }", "BAD_REQUEST"),
    ];
    for round in 0..10 {
        for (i, (query, code)) in documents.iter().enumerate() {
            let id = format!("invalid-{round}-{i}");
            let (_, _, body) = app
                .post_with(
                    Some(&fx.admin_token),
                    json!({ "query": query, "variables": { "id": "not-a-uuid" } }),
                    &[("x-request-id", &id)],
                )
                .await;
            assert_eq!(body["errors"][0]["extensions"]["code"], *code, "{query}: {body}");
            assert!(body["data"].is_null(), "{query}: {body}");
        }
    }
    let workspaces = format!(
        "SELECT count(*) FROM screenplay.workspaces WHERE tenant_id = '{}'",
        fx.id
    );
    assert_eq!(count(&app, &workspaces).await, 0, "the invalid mutation wrote nothing");
    let superuser = cluster::connect(&app.db.superuser_url).await;
    assert_eq!(
        crate::fairness::stuck_backends(&superuser, &app.db.name).await,
        (0, 0),
        "no pooled connection is left waiting or inside a transaction"
    );
    let rows = count_when(
        &app,
        "SELECT count(*) FROM screenplay.audit_logs WHERE request_id LIKE 'invalid-%' AND outcome = 'error'",
        |n| n == 40,
    )
    .await;
    assert_eq!(rows, 40, "one error row per invalid request");
    let codes = audit_text(&app, "invalid-3-0", "error_codes").await;
    assert_eq!(codes.as_deref(), Some("{GRAPHQL_VALIDATION_FAILED}"));
    // Valid requests go on working on the same pool.
    let data = app
        .gql(Some(&fx.admin_token), "{ workspaces { totalCount } }", json!({}))
        .await;
    assert_eq!(data["workspaces"]["totalCount"], 0);
}
