//! Retrievals, execution logs and LLM calls: links, validation, documents of
//! other workspaces and tenants, usage totals and the daily token limit.

use sea_orm::ConnectionTrait;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{TestApp, scalar_i64};

const RETRIEVE: &str = "mutation($i: RecordRetrievalsInput!) { recordRetrievals(input: $i) { retrievals { id documentId rank method stepId } } }";
const EXECUTION: &str =
    "mutation($i: LogExecutionInput!) { logExecution(input: $i) { execution { id durationMs status input } } }";
const LLM: &str =
    "mutation($i: LogLlmCallInput!) { logLlmCall(input: $i) { llmCall { id totalTokens costUsd stepId fragmentId
    step { id title } fragment { id content } session { id } retrievals { documentId rank } } } }";

#[tokio::test]
async fn records_link_up_and_count_usage() {
    let app = TestApp::spawn().await;
    let s = app.studio("rec").await;
    let a = s.agent.token.clone();
    let session = app.create_session(&s.member.token, s.workspace, "Records").await;
    let steps = app
        .set_outline(&a, session, json!([{ "title": "Scene 1" }, { "title": "Scene 2" }]))
        .await;
    let fragment = app.append(&a, session, steps[0], "ACTION", "Rain.").await;
    let docs = [
        app.document(s.fx.id, s.workspace, "Noir 101").await,
        app.document(s.fx.id, s.workspace, "Rain scenes").await,
    ];

    let data = app
        .gql(
            Some(&a),
            RETRIEVE,
            json!({ "i": { "sessionId": session, "stepId": steps[0], "retrievals": [
                { "documentId": docs[0], "method": "HYBRID", "score": 0.91, "rank": 1, "queryText": "rain noir" },
                { "documentId": docs[1], "method": "VECTOR", "score": 0.80, "rank": 2 } ] } }),
        )
        .await;
    assert_eq!(
        data["recordRetrievals"]["retrievals"].as_array().expect("list").len(),
        2
    );

    let data = app
        .gql(
            Some(&a),
            EXECUTION,
            json!({ "i": { "sessionId": session, "stepId": steps[0], "agentName": "writer", "action": "write_scene",
                           "status": "SUCCEEDED", "input": { "prompt": "rain" }, "output": { "fragments": 1 },
                           "startedAt": "2026-01-01T10:00:00Z", "finishedAt": "2026-01-01T10:00:02.5Z" } }),
        )
        .await;
    assert_eq!(data["logExecution"]["execution"]["durationMs"], 2500);
    assert_eq!(data["logExecution"]["execution"]["input"]["prompt"], "rain");

    // The call's step comes from its fragment; it links to the retrievals of that step.
    let data = app
        .gql(
            Some(&a),
            LLM,
            json!({ "i": { "sessionId": session, "fragmentId": fragment, "provider": "openai", "model": "gpt-4o",
                           "promptTokens": 1200, "completionTokens": 300, "costUsd": "0.0123456", "latencyMs": 900,
                           "status": "SUCCEEDED" } }),
        )
        .await;
    let call = &data["logLlmCall"]["llmCall"];
    assert_eq!(call["totalTokens"], 1500);
    assert_eq!(call["costUsd"], "0.012346");
    assert_eq!(call["stepId"], steps[0].to_string());
    assert_eq!(call["step"]["title"], "Scene 1");
    assert_eq!(call["fragment"]["content"], "Rain.");
    assert_eq!(call["session"]["id"], session.to_string());
    assert_eq!(call["retrievals"][0]["documentId"], docs[0].to_string());
    app.gql(
        Some(&a),
        LLM,
        json!({ "i": { "sessionId": session, "stepId": steps[1], "provider": "openai", "model": "gpt-4o",
                       "promptTokens": 100, "completionTokens": 0, "costUsd": 0.5, "latencyMs": 100, "status": "FAILED",
                       "error": "rate limited" } }),
    )
    .await;

    let data = app
        .gql(
            Some(&s.member.token),
            "query($id: UUID!) { session(id: $id) {
                usage { callCount promptTokens completionTokens totalTokens costUsd totalLatencyMs averageLatencyMs }
                llmCalls(first: 1) { totalCount pageInfo { hasNextPage } edges { node { status error } } }
                executions { totalCount edges { node { agentName action } } }
                retrievedDocuments { totalCount edges { node { rank documentId queryText } } }
                outline { retrievals { rank } } } }",
            json!({ "id": session }),
        )
        .await;
    let session_data = &data["session"];
    assert_eq!(
        session_data["usage"],
        json!({ "callCount": 2, "promptTokens": 1300, "completionTokens": 300, "totalTokens": 1600,
                "costUsd": "0.512346", "totalLatencyMs": 1000, "averageLatencyMs": 500.0 })
    );
    assert_eq!(session_data["llmCalls"]["totalCount"], 2);
    assert_eq!(session_data["llmCalls"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(session_data["llmCalls"]["edges"][0]["node"]["error"], "rate limited");
    assert_eq!(session_data["executions"]["totalCount"], 1);
    assert_eq!(session_data["retrievedDocuments"]["totalCount"], 2);
    assert_eq!(
        session_data["outline"][0]["retrievals"].as_array().expect("list").len(),
        2
    );

    // Usage counters in quota_usage, in the same transaction.
    let owner = app.owner().await;
    assert_eq!(
        scalar_i64(
            &owner,
            &format!("SELECT sum(value)::bigint FROM screenplay.quota_usage WHERE tenant_id = '{}' AND metric = 'llm_tokens'", s.fx.id)
        )
        .await,
        1600
    );
    let cost = scalar_i64(
        &owner,
        &format!(
            "SELECT (sum(value) * 1000000)::bigint FROM screenplay.quota_usage WHERE tenant_id = '{}' AND metric = 'llm_cost'",
            s.fx.id
        ),
    )
    .await;
    assert_eq!(cost, 512_346);
}

#[tokio::test]
async fn bad_records_and_foreign_documents() {
    let app = TestApp::spawn().await;
    let s = app.studio("rbad").await;
    let other_tenant = app.studio("rbad-other").await;
    let a = s.agent.token.clone();
    let session = app.create_session(&s.member.token, s.workspace, "Records").await;
    let other_session = app.create_session(&s.member.token, s.workspace, "Other").await;
    let steps = app.set_outline(&a, session, json!([{ "title": "Scene" }])).await;
    let other_steps = app
        .set_outline(&a, other_session, json!([{ "title": "Elsewhere" }]))
        .await;
    let other_fragment = app
        .append(&a, other_session, other_steps[0], "ACTION", "Elsewhere.")
        .await;
    let mine = app.document(s.fx.id, s.workspace, "Mine").await;
    let other_ws = app.workspace(&s.fx, "Elsewhere").await;
    let wrong_workspace = app.document(s.fx.id, other_ws, "Wrong workspace").await;
    let foreign = app
        .document(other_tenant.fx.id, other_tenant.workspace, "Foreign")
        .await;

    let retrieval =
        |doc: Uuid, rank: i32| json!({ "documentId": doc, "method": "KEYWORD", "score": 1.5, "rank": rank });
    for doc in [wrong_workspace, foreign, Uuid::new_v4()] {
        let code = app
            .gql_err(
                Some(&a),
                RETRIEVE,
                json!({ "i": { "sessionId": session, "retrievals": [retrieval(mine, 1), retrieval(doc, 2)] } }),
            )
            .await;
        assert_eq!(code, "NOT_FOUND", "{doc}");
    }
    let cases = [
        (json!({ "i": { "sessionId": session, "retrievals": [] } }), "retrievals"),
        (
            json!({ "i": { "sessionId": session, "retrievals": [retrieval(mine, 0)] } }),
            "retrievals[0].rank",
        ),
        (
            json!({ "i": { "sessionId": session, "stepId": other_steps[0], "retrievals": [retrieval(mine, 1)] } }),
            "stepId",
        ),
    ];
    for (vars, field) in cases {
        let (_, body) = app.post(Some(&a), RETRIEVE, vars).await;
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    let owner = app.owner().await;
    assert_eq!(
        scalar_i64(&owner, "SELECT count(*) FROM screenplay.retrieved_documents").await,
        0
    );

    let exec = |patch: serde_json::Value| {
        let mut i = json!({ "sessionId": session, "agentName": "writer", "action": "write", "status": "STARTED" });
        for (k, v) in patch.as_object().expect("object") {
            i[k] = v.clone();
        }
        json!({ "i": i })
    };
    for (vars, field) in [
        (exec(json!({ "agentName": " " })), "agentName"),
        (
            exec(json!({ "startedAt": "2026-01-01T10:00:00Z", "finishedAt": "2026-01-01T09:00:00Z" })),
            "finishedAt",
        ),
        (exec(json!({ "stepId": other_steps[0] })), "stepId"),
    ] {
        let (_, body) = app.post(Some(&a), EXECUTION, vars).await;
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    let llm = |patch: serde_json::Value| {
        let mut i = json!({ "sessionId": session, "stepId": steps[0], "provider": "openai", "model": "gpt",
                            "promptTokens": 1, "completionTokens": 1, "costUsd": "0.01", "status": "SUCCEEDED" });
        for (k, v) in patch.as_object().expect("object") {
            i[k] = v.clone();
        }
        json!({ "i": i })
    };
    for (vars, field) in [
        (llm(json!({ "promptTokens": -1 })), "promptTokens"),
        (llm(json!({ "costUsd": "-0.5" })), "costUsd"),
        (llm(json!({ "fragmentId": other_fragment })), "fragmentId"),
        (llm(json!({ "model": "" })), "model"),
    ] {
        let (_, body) = app.post(Some(&a), LLM, vars).await;
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    assert_eq!(
        scalar_i64(&owner, "SELECT count(*) FROM screenplay.llm_call_logs").await
            + scalar_i64(&owner, "SELECT count(*) FROM screenplay.execution_logs").await,
        0
    );
}

#[tokio::test]
async fn daily_llm_token_limit_refuses_before_writing() {
    let app = TestApp::spawn().await;
    let s = app.studio("quota").await;
    let a = s.agent.token.clone();
    app.owner()
        .await
        .execute_unprepared(&format!(
            "UPDATE screenplay.tenants SET llm_tokens_per_day = 1000 WHERE id = '{}'",
            s.fx.id
        ))
        .await
        .expect("limit");
    let session = app.create_session(&s.member.token, s.workspace, "Quota").await;
    let call = |prompt: i32| {
        json!({ "i": { "sessionId": session, "provider": "openai", "model": "gpt", "promptTokens": prompt,
                       "completionTokens": 100, "costUsd": "0.01", "status": "SUCCEEDED" } })
    };
    app.gql(Some(&a), LLM, call(800)).await;
    let (_, body) = app.post(Some(&a), LLM, call(200)).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "QUOTA_EXCEEDED", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["metric"], "llm_tokens");
    let owner = app.owner().await;
    assert_eq!(
        scalar_i64(&owner, "SELECT count(*) FROM screenplay.llm_call_logs").await,
        1
    );
    assert_eq!(
        scalar_i64(
            &owner,
            "SELECT sum(value)::bigint FROM screenplay.quota_usage WHERE metric = 'llm_tokens'"
        )
        .await,
        900
    );
    // Exactly up to the limit is fine.
    app.gql(Some(&a), LLM, call(0)).await;
    let data = app
        .gql(
            Some(&a),
            "query($id: UUID!) { session(id: $id) { usage { totalTokens callCount } } }",
            json!({ "id": session }),
        )
        .await;
    assert_eq!(data["session"]["usage"]["totalTokens"], 1000);
}
