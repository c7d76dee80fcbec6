//! Sessions: create, list, update with optimistic concurrency, cancel,
//! delete; bad input; other tenants' ids.

use serde_json::json;
use uuid::Uuid;

use crate::helpers::{TestApp, assert_invisible, scalar_i64, screenplay::uuid};

const CREATE: &str = "mutation($i: CreateSessionInput!) { createSession(input: $i) { session { id title logline genre language status version config workspace { id } createdBy } } }";
const UPDATE: &str =
    "mutation($i: UpdateSessionInput!) { updateSession(input: $i) { session { id title logline version status } } }";

#[tokio::test]
async fn create_update_cancel_delete() {
    let app = TestApp::spawn().await;
    let s = app.studio("sess").await;
    let data = app
        .gql(
            Some(&s.member.token),
            CREATE,
            json!({ "i": { "workspaceId": s.workspace, "title": "  The Heist  ", "logline": "Five thieves.",
                           "genre": "thriller", "language": "zh_hans", "config": { "temperature": 0.7 } } }),
        )
        .await;
    let session = &data["createSession"]["session"];
    assert_eq!(session["title"], "The Heist");
    assert_eq!(session["status"], "PLANNING");
    assert_eq!(session["version"], 1);
    assert_eq!(
        session["language"], "zh-Hans",
        "one language rule: canonical case, `_` read as `-`"
    );
    assert_eq!(session["config"]["temperature"], 0.7);
    assert_eq!(session["workspace"]["id"], s.workspace.to_string());
    assert_eq!(session["createdBy"], s.member.id.to_string());
    let id = uuid(&session["id"]);

    // Update with the current version bumps it; the old version is stale.
    let data = app
        .gql(
            Some(&s.member.token),
            UPDATE,
            json!({ "i": { "id": id, "version": 1, "title": "The Big Heist", "logline": null } }),
        )
        .await;
    assert_eq!(data["updateSession"]["session"]["version"], 2);
    assert_eq!(data["updateSession"]["session"]["title"], "The Big Heist");
    assert!(data["updateSession"]["session"]["logline"].is_null());
    let code = app
        .gql_err(
            Some(&s.member.token),
            UPDATE,
            json!({ "i": { "id": id, "version": 1, "title": "Lost update" } }),
        )
        .await;
    assert_eq!(code, "CONFLICT");
    let owner = app.owner().await;
    assert_eq!(
        scalar_i64(
            &owner,
            "SELECT count(*) FROM screenplay.screenplay_sessions WHERE title = 'Lost update'"
        )
        .await,
        0
    );

    // Cancel: status CANCELLED, version bumped; further edits are CONFLICT; cancel again is a no-op.
    let data = app
        .gql(
            Some(&s.member.token),
            "mutation($id: UUID!) { cancelSession(id: $id) { session { status version } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["cancelSession"]["session"]["status"], "CANCELLED");
    assert_eq!(data["cancelSession"]["session"]["version"], 3);
    let code = app
        .gql_err(
            Some(&s.member.token),
            UPDATE,
            json!({ "i": { "id": id, "version": 3, "title": "x" } }),
        )
        .await;
    assert_eq!(code, "CONFLICT");
    let data = app
        .gql(
            Some(&s.member.token),
            "mutation($id: UUID!) { cancelSession(id: $id) { session { status version } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["cancelSession"]["session"]["version"], 3);

    // Delete: gone, its steps too; logs stay unlinked.
    let other = app.create_session(&s.member.token, s.workspace, "Other").await;
    let steps = app
        .set_outline(&s.agent.token, other, json!([{ "title": "Act I" }]))
        .await;
    app.gql(
        Some(&s.agent.token),
        "mutation($i: LogExecutionInput!) { logExecution(input: $i) { execution { id } } }",
        json!({ "i": { "sessionId": other, "stepId": steps[0], "agentName": "planner", "action": "plan", "status": "SUCCEEDED" } }),
    )
    .await;
    let data = app
        .gql(
            Some(&s.member.token),
            "mutation($id: UUID!) { deleteSession(id: $id) { deletedSessionId } }",
            json!({ "id": other }),
        )
        .await;
    assert_eq!(data["deleteSession"]["deletedSessionId"], other.to_string());
    let data = app
        .gql(
            Some(&s.member.token),
            "query($id: UUID!) { session(id: $id) { id } }",
            json!({ "id": other }),
        )
        .await;
    assert!(data["session"].is_null(), "{data}");
    assert_eq!(
        scalar_i64(
            &owner,
            &format!("SELECT count(*) FROM screenplay.outline_steps WHERE session_id = '{other}'")
        )
        .await,
        0
    );
    assert_eq!(
        scalar_i64(
            &owner,
            &format!(
                "SELECT count(*) FROM screenplay.execution_logs WHERE tenant_id = '{}' AND session_id IS NULL",
                s.fx.id
            )
        )
        .await,
        1
    );
}

#[tokio::test]
async fn bad_session_input_is_refused_by_field() {
    let app = TestApp::spawn().await;
    let s = app.studio("sbad").await;
    let token = s.member.token.clone();
    let cases = [
        (json!({ "workspaceId": s.workspace, "title": "   " }), "title"),
        (json!({ "workspaceId": s.workspace, "title": "x".repeat(301) }), "title"),
        (
            json!({ "workspaceId": s.workspace, "title": "T", "language": "english!" }),
            "language",
        ),
        (
            json!({ "workspaceId": s.workspace, "title": "T", "config": [1, 2] }),
            "config",
        ),
        (
            json!({ "workspaceId": s.workspace, "title": "T", "logline": "x".repeat(2001) }),
            "logline",
        ),
    ];
    for (input, field) in cases {
        let (_, body) = app.post(Some(&token), CREATE, json!({ "i": input })).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    // Missing workspace, archived workspace.
    let code = app
        .gql_err(
            Some(&token),
            CREATE,
            json!({ "i": { "workspaceId": Uuid::new_v4(), "title": "T" } }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    app.gql(
        Some(&s.fx.admin_token),
        "mutation($id: UUID!) { archiveWorkspace(id: $id) { workspace { id } } }",
        json!({ "id": s.workspace }),
    )
    .await;
    let code = app
        .gql_err(
            Some(&token),
            CREATE,
            json!({ "i": { "workspaceId": s.workspace, "title": "T" } }),
        )
        .await;
    assert_eq!(code, "CONFLICT");
    let owner = app.owner().await;
    assert_eq!(
        scalar_i64(&owner, "SELECT count(*) FROM screenplay.screenplay_sessions").await,
        0
    );
}

#[tokio::test]
async fn lists_filter_order_and_page() {
    let app = TestApp::spawn().await;
    let s = app.studio("slist").await;
    let token = s.member.token.clone();
    let other_ws = app.workspace(&s.fx, "Other").await;
    let mut ids = Vec::new();
    for title in ["Alpha heist", "Beta romance", "Gamma heist", "Delta"] {
        ids.push(app.create_session(&token, s.workspace, title).await);
    }
    let elsewhere = app.create_session(&token, other_ws, "Epsilon heist").await;
    app.set_outline(&s.agent.token, ids[1], json!([{ "title": "Act" }]))
        .await;

    let list = |vars: serde_json::Value| {
        let app = &app;
        let token = token.clone();
        async move {
            let data = app
                .gql(
                    Some(&token),
                    "query($ws: UUID, $status: SessionStatus, $search: String, $after: String, $first: Int, $order: SessionOrderBy, $ca: DateTime, $cb: DateTime) {
                       sessions(workspaceId: $ws, status: $status, search: $search, after: $after, first: $first, orderBy: $order, createdAfter: $ca, createdBefore: $cb) {
                         totalCount pageInfo { hasNextPage endCursor } edges { node { id title } } } }",
                    vars,
                )
                .await;
            data["sessions"].clone()
        }
    };
    let all = list(json!({})).await;
    assert_eq!(all["totalCount"], 5);
    // Newest first by default.
    assert_eq!(all["edges"][0]["node"]["id"], elsewhere.to_string());
    let in_ws = list(json!({ "ws": s.workspace })).await;
    assert_eq!(in_ws["totalCount"], 4);
    let heists = list(json!({ "search": "HEIST" })).await;
    assert_eq!(heists["totalCount"], 3);
    let generating = list(json!({ "status": "GENERATING" })).await;
    assert_eq!(generating["totalCount"], 1);
    assert_eq!(generating["edges"][0]["node"]["id"], ids[1].to_string());
    let oldest = list(json!({ "order": "CREATED_AT_ASC", "first": 2 })).await;
    assert_eq!(oldest["edges"][0]["node"]["id"], ids[0].to_string());
    assert_eq!(oldest["pageInfo"]["hasNextPage"], true);
    let next = list(json!({ "order": "CREATED_AT_ASC", "first": 2, "after": oldest["pageInfo"]["endCursor"] })).await;
    assert_eq!(next["edges"][0]["node"]["id"], ids[2].to_string());
    // The session with a new outline was updated last.
    let recent = list(json!({ "order": "UPDATED_AT_DESC", "first": 1 })).await;
    assert_eq!(recent["edges"][0]["node"]["id"], ids[1].to_string());
    // Time window: nothing before the first session was created.
    let created: String = app
        .gql(
            Some(&token),
            "query($id: UUID!) { session(id: $id) { createdAt } }",
            json!({ "id": ids[0] }),
        )
        .await["session"]["createdAt"]
        .as_str()
        .expect("time")
        .to_owned();
    assert_eq!(list(json!({ "cb": created })).await["totalCount"], 0);
    assert_eq!(list(json!({ "ca": created })).await["totalCount"], 5);
    // Page size is capped.
    let code = app
        .gql_err(Some(&token), "{ sessions(first: 1000) { totalCount } }", json!({}))
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
}

#[tokio::test]
async fn other_tenants_sessions_are_not_found() {
    let app = TestApp::spawn().await;
    let a = app.studio("sa").await;
    let b = app.studio("sb").await;
    let session = app.create_session(&a.member.token, a.workspace, "Secret").await;
    let steps = app
        .set_outline(&a.agent.token, session, json!([{ "title": "Act" }]))
        .await;
    let fragment = app.append(&a.agent.token, session, steps[0], "ACTION", "Rain.").await;
    let probes = [
        (
            "query($id: UUID!) { session(id: $id) { id title } }",
            json!({ "id": session }),
        ),
        (
            UPDATE,
            json!({ "i": { "id": session, "version": 1, "title": "pwned" } }),
        ),
        (
            "mutation($id: UUID!) { cancelSession(id: $id) { session { id } } }",
            json!({ "id": session }),
        ),
        (
            "mutation($id: UUID!) { deleteSession(id: $id) { deletedSessionId } }",
            json!({ "id": session }),
        ),
        (
            "mutation($i: SetOutlineInput!) { setOutline(input: $i) { outline { id } } }",
            json!({ "i": { "sessionId": session, "steps": [{ "title": "pwned" }] } }),
        ),
        (
            "mutation($i: AddOutlineStepInput!) { addOutlineStep(input: $i) { step { id } } }",
            json!({ "i": { "sessionId": session, "title": "pwned" } }),
        ),
        (
            "mutation($i: MoveOutlineStepInput!) { moveOutlineStep(input: $i) { step { id } } }",
            json!({ "i": { "id": steps[0], "position": 0 } }),
        ),
        (
            "mutation($i: UpdateOutlineStepStatusInput!) { updateOutlineStepStatus(input: $i) { step { id } } }",
            json!({ "i": { "id": steps[0], "status": "RUNNING" } }),
        ),
        (
            "mutation($i: AppendFragmentInput!) { appendFragment(input: $i) { fragment { id } } }",
            json!({ "i": { "sessionId": session, "stepId": steps[0], "kind": "ACTION", "content": "pwned" } }),
        ),
        (
            "mutation($i: ReviseFragmentInput!) { reviseFragment(input: $i) { fragment { id } } }",
            json!({ "i": { "id": fragment, "version": 1, "content": "pwned" } }),
        ),
        (
            "mutation($id: UUID!) { deleteFragment(id: $id) { deletedFragmentId } }",
            json!({ "id": fragment }),
        ),
        (
            "mutation($i: LogExecutionInput!) { logExecution(input: $i) { execution { id } } }",
            json!({ "i": { "sessionId": session, "agentName": "pwned", "action": "x", "status": "STARTED" } }),
        ),
        (
            "mutation($i: LogLlmCallInput!) { logLlmCall(input: $i) { llmCall { id } } }",
            json!({ "i": { "sessionId": session, "provider": "p", "model": "m", "promptTokens": 1, "completionTokens": 1,
                        "costUsd": "0.1", "status": "SUCCEEDED" } }),
        ),
    ];
    for (query, vars) in probes {
        let (_, body) = app.post(Some(&b.fx.admin_token), query, vars).await;
        assert_invisible(&body, query);
        assert!(!body.to_string().contains("Secret"), "{body}");
    }
    // B's own step with A's session: still NOT_FOUND (the session is invisible).
    let b_session = app.create_session(&b.member.token, b.workspace, "Mine").await;
    let b_steps = app
        .set_outline(&b.agent.token, b_session, json!([{ "title": "Act" }]))
        .await;
    let code = app
        .gql_err(
            Some(&b.agent.token),
            "mutation($i: AppendFragmentInput!) { appendFragment(input: $i) { fragment { id } } }",
            json!({ "i": { "sessionId": b_session, "stepId": steps[0], "kind": "ACTION", "content": "x" } }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    let _ = b_steps;
    let owner = app.owner().await;
    assert_eq!(
        scalar_i64(
            &owner,
            "SELECT count(*) FROM screenplay.screenplay_fragments WHERE content = 'pwned'"
        )
        .await
            + scalar_i64(
                &owner,
                "SELECT count(*) FROM screenplay.outline_steps WHERE title = 'pwned'"
            )
            .await
            + scalar_i64(
                &owner,
                "SELECT count(*) FROM screenplay.execution_logs WHERE agent_name = 'pwned'"
            )
            .await,
        0
    );
    assert_eq!(app.session_status(&a.member.token, session).await, "GENERATING");
    // B's list shows nothing of A's.
    let data = app
        .gql(Some(&b.fx.admin_token), "{ sessions { totalCount } }", json!({}))
        .await;
    assert_eq!(data["sessions"]["totalCount"], 1);
}
