//! The outline tree (set, add, move with dense positions), the step status
//! machine, and the session status derived from the steps.

use sea_orm::DatabaseConnection;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, prepared_statements, scalar_i64, screenplay::uuid};

const OUTLINE: &str = "query($id: UUID!) { session(id: $id) { status outline { id title position parentStepId children { id title position children { id title position } } } } }";

async fn outline(app: &TestApp, token: &str, session: Uuid) -> Value {
    app.gql(Some(token), OUTLINE, json!({ "id": session })).await["session"].clone()
}

fn titles(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|s| s["title"].as_str().expect("title").to_owned())
        .collect()
}

/// Every sibling list is 0..n-1 in order.
async fn assert_dense(owner: &DatabaseConnection, session: Uuid) {
    let gaps = scalar_i64(
        owner,
        &format!(
            "SELECT count(*) FROM (SELECT position, row_number() OVER (PARTITION BY parent_step_id ORDER BY position) - 1 AS expected \
             FROM screenplay.outline_steps WHERE session_id = '{session}') s WHERE position <> expected"
        ),
    )
    .await;
    assert_eq!(gaps, 0, "positions are not dense");
}

#[tokio::test]
async fn set_add_and_move_keep_the_tree_dense() {
    let app = TestApp::spawn().await;
    let s = app.studio("tree").await;
    let session = app.create_session(&s.member.token, s.workspace, "Tree").await;
    assert_eq!(app.session_status(&s.member.token, session).await, "PLANNING");
    let ids = app
        .set_outline(
            &s.agent.token,
            session,
            json!([
                { "title": "Act I", "description": "Setup", "children": [
                    { "title": "Seq 1", "children": [{ "title": "Scene 1" }, { "title": "Scene 2" }] },
                    { "title": "Seq 2" }
                ]},
                { "title": "Act II" }
            ]),
        )
        .await;
    assert_eq!(ids.len(), 6);
    let tree = outline(&app, &s.agent.token, session).await;
    assert_eq!(tree["status"], "GENERATING");
    assert_eq!(titles(&tree["outline"]), ["Act I", "Act II"]);
    assert_eq!(titles(&tree["outline"][0]["children"]), ["Seq 1", "Seq 2"]);
    assert_eq!(
        titles(&tree["outline"][0]["children"][0]["children"]),
        ["Scene 1", "Scene 2"]
    );
    let (act1, seq1, scene1, _scene2, seq2, act2) = (ids[0], ids[1], ids[2], ids[3], ids[4], ids[5]);

    // Add at a position: later siblings move down.
    let data = app
        .gql(
            Some(&s.agent.token),
            "mutation($i: AddOutlineStepInput!) { addOutlineStep(input: $i) { step { id position parentStepId } } }",
            json!({ "i": { "sessionId": session, "parentStepId": act1, "title": "Seq 0", "position": 0 } }),
        )
        .await;
    assert_eq!(data["addOutlineStep"]["step"]["position"], 0);
    let seq0 = uuid(&data["addOutlineStep"]["step"]["id"]);
    let tree = outline(&app, &s.agent.token, session).await;
    assert_eq!(titles(&tree["outline"][0]["children"]), ["Seq 0", "Seq 1", "Seq 2"]);

    // Reorder within siblings, then re-parent (both lists stay dense).
    let mv = |id: Uuid, parent: Option<Option<Uuid>>, position: Option<i32>| {
        let mut input = json!({ "id": id });
        if let Some(p) = parent {
            input["parentStepId"] = json!(p);
        }
        if let Some(p) = position {
            input["position"] = json!(p);
        }
        json!({ "i": input })
    };
    const MOVE: &str =
        "mutation($i: MoveOutlineStepInput!) { moveOutlineStep(input: $i) { step { id position parentStepId } } }";
    app.gql(Some(&s.agent.token), MOVE, mv(seq0, None, Some(2))).await;
    let tree = outline(&app, &s.agent.token, session).await;
    assert_eq!(titles(&tree["outline"][0]["children"]), ["Seq 1", "Seq 2", "Seq 0"]);
    let data = app
        .gql(Some(&s.agent.token), MOVE, mv(scene1, Some(Some(act2)), None))
        .await;
    assert_eq!(data["moveOutlineStep"]["step"]["parentStepId"], act2.to_string());
    assert_eq!(data["moveOutlineStep"]["step"]["position"], 0);
    app.gql(Some(&s.agent.token), MOVE, mv(seq2, Some(None), Some(0))).await;
    let tree = outline(&app, &s.agent.token, session).await;
    assert_eq!(titles(&tree["outline"]), ["Seq 2", "Act I", "Act II"]);
    assert_eq!(titles(&tree["outline"][1]["children"]), ["Seq 1", "Seq 0"]);
    assert_eq!(titles(&tree["outline"][1]["children"][0]["children"]), ["Scene 2"]);
    assert_eq!(titles(&tree["outline"][2]["children"]), ["Scene 1"]);
    let owner = app.owner().await;
    assert_dense(&owner, session).await;

    // Bad moves: under itself or a descendant, position out of range, too deep.
    let (_, body) = app
        .post(Some(&s.agent.token), MOVE, mv(act1, Some(Some(seq1)), None))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "parentStepId", "{body}");
    let (_, body) = app.post(Some(&s.agent.token), MOVE, mv(act1, None, Some(7))).await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "position", "{body}");
    let deep = app
        .set_outline(
            &s.agent.token,
            app.create_session(&s.member.token, s.workspace, "Deep").await,
            json!([{ "title": "1", "children": [{ "title": "2", "children": [{ "title": "3", "children": [{ "title": "4" }] }] }] }]),
        )
        .await;
    assert_eq!(deep.len(), 4);
    let (_, body) = app
        .post(
            Some(&s.agent.token),
            "mutation($i: AddOutlineStepInput!) { addOutlineStep(input: $i) { step { id } } }",
            json!({ "i": { "sessionId": session, "parentStepId": deep[3], "title": "5" } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "parentStepId",
        "step of another session: {body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let (_, body) = app
        .post(
            Some(&s.agent.token),
            "mutation($i: SetOutlineInput!) { setOutline(input: $i) { outline { id } } }",
            json!({ "i": { "sessionId": session, "steps": [{ "title": "1", "children": [{ "title": "2", "children": [{ "title": "3", "children": [{ "title": "4", "children": [{ "title": "5" }] }] }] }] }] } }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    let (_, body) = app
        .post(
            Some(&s.agent.token),
            "mutation($i: SetOutlineInput!) { setOutline(input: $i) { outline { id } } }",
            json!({ "i": { "sessionId": session, "steps": [{ "title": "ok" }, { "title": " " }] } }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "steps[1].title", "{body}");
    // The failed replacements changed nothing.
    assert_eq!(
        titles(&outline(&app, &s.agent.token, session).await["outline"]),
        ["Seq 2", "Act I", "Act II"]
    );

    // setOutline replaces the tree atomically, and is refused once fragments exist.
    let replaced = app
        .set_outline(
            &s.agent.token,
            session,
            json!([{ "title": "New I" }, { "title": "New II" }]),
        )
        .await;
    assert_eq!(replaced.len(), 2);
    assert_eq!(
        scalar_i64(
            &owner,
            &format!("SELECT count(*) FROM screenplay.outline_steps WHERE session_id = '{session}'")
        )
        .await,
        2
    );
    app.append(&s.agent.token, session, replaced[0], "ACTION", "Rain.")
        .await;
    let code = app
        .gql_err(
            Some(&s.agent.token),
            "mutation($i: SetOutlineInput!) { setOutline(input: $i) { outline { id } } }",
            json!({ "i": { "sessionId": session, "steps": [{ "title": "Again" }] } }),
        )
        .await;
    assert_eq!(code, "CONFLICT");
}

const STATUS: &str = "mutation($i: UpdateOutlineStepStatusInput!) { updateOutlineStepStatus(input: $i) { step { status error startedAt finishedAt } session { status error } } }";

#[tokio::test]
async fn step_status_machine_names_both_states() {
    let app = TestApp::spawn().await;
    let s = app.studio("machine").await;
    let session = app.create_session(&s.member.token, s.workspace, "Machine").await;
    let all = ["PENDING", "RUNNING", "COMPLETED", "FAILED", "SKIPPED"];
    let legal = [
        ("PENDING", "RUNNING"),
        ("PENDING", "SKIPPED"),
        ("RUNNING", "COMPLETED"),
        ("RUNNING", "FAILED"),
        ("RUNNING", "SKIPPED"),
        ("FAILED", "PENDING"),
    ];
    // A path to each state from PENDING.
    let path = |to: &str| -> Vec<&'static str> {
        match to {
            "PENDING" => vec![],
            "RUNNING" => vec!["RUNNING"],
            "COMPLETED" => vec!["RUNNING", "COMPLETED"],
            "FAILED" => vec!["RUNNING", "FAILED"],
            _ => vec!["SKIPPED"],
        }
    };
    for from in all {
        for to in all {
            let step = app
                .set_outline(&s.agent.token, session, json!([{ "title": "Only" }]))
                .await[0];
            for status in path(from) {
                app.step_status(&s.agent.token, step, status).await;
            }
            let (_, body) = app
                .post(
                    Some(&s.agent.token),
                    STATUS,
                    json!({ "i": { "id": step, "status": to } }),
                )
                .await;
            if legal.contains(&(from, to)) {
                assert!(body.get("errors").is_none(), "{from} → {to}: {body}");
                assert_eq!(body["data"]["updateOutlineStepStatus"]["step"]["status"], to);
            } else {
                assert_eq!(
                    body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                    "{from} → {to}: {body}"
                );
                assert_eq!(body["errors"][0]["extensions"]["field"], "status");
                let message = body["errors"][0]["message"].as_str().expect("message");
                assert!(message.contains(&format!("from {from} to {to}")), "{message}");
            }
            // Reset: a fresh outline for the next pair (no fragments were written).
            if from == "RUNNING" || to == "RUNNING" && legal.contains(&(from, to)) {
                let current = app
                    .gql(
                        Some(&s.agent.token),
                        "query($id: UUID!) { session(id: $id) { outline { id status } } }",
                        json!({ "id": session }),
                    )
                    .await;
                if current["session"]["outline"][0]["status"] == "RUNNING" {
                    app.step_status(&s.agent.token, step, "COMPLETED").await;
                }
            }
        }
    }
    // `error` only with FAILED, and it is kept on the step and the session.
    let step = app
        .set_outline(&s.agent.token, session, json!([{ "title": "Err" }]))
        .await[0];
    app.step_status(&s.agent.token, step, "RUNNING").await;
    let (_, body) = app
        .post(
            Some(&s.agent.token),
            STATUS,
            json!({ "i": { "id": step, "status": "COMPLETED", "error": "x" } }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "error", "{body}");
    let data = app
        .gql(
            Some(&s.agent.token),
            STATUS,
            json!({ "i": { "id": step, "status": "FAILED", "error": "model timed out" } }),
        )
        .await;
    let payload = &data["updateOutlineStepStatus"];
    assert_eq!(payload["step"]["error"], "model timed out");
    assert!(payload["step"]["finishedAt"].is_string());
    assert_eq!(payload["session"]["status"], "FAILED");
    assert!(
        payload["session"]["error"]
            .as_str()
            .expect("error")
            .contains("model timed out")
    );
}

#[tokio::test]
async fn session_status_follows_its_steps() {
    let app = TestApp::spawn().await;
    let s = app.studio("derive").await;
    let a = s.agent.token.clone();
    let session = app.create_session(&s.member.token, s.workspace, "Derived").await;
    assert_eq!(app.session_status(&a, session).await, "PLANNING");
    let steps = app
        .set_outline(&a, session, json!([{ "title": "One" }, { "title": "Two" }]))
        .await;
    // An outline exists, nothing runs yet: generating.
    assert_eq!(app.session_status(&a, session).await, "GENERATING");
    let r = app.step_status(&a, steps[0], "RUNNING").await;
    assert_eq!(r["session"]["status"], "GENERATING");
    let r = app.step_status(&a, steps[0], "FAILED").await;
    assert_eq!(r["session"]["status"], "FAILED");
    // A retry brings it back.
    let r = app.step_status(&a, steps[0], "PENDING").await;
    assert_eq!(r["session"]["status"], "GENERATING");
    assert!(r["session"]["error"].is_null());
    app.step_status(&a, steps[0], "RUNNING").await;
    let r = app.step_status(&a, steps[0], "COMPLETED").await;
    assert_eq!(r["session"]["status"], "GENERATING");
    let r = app.step_status(&a, steps[1], "SKIPPED").await;
    assert_eq!(r["session"]["status"], "COMPLETED");
    // A new step re-opens the session.
    let data = app
        .gql(
            Some(&a),
            "mutation($i: AddOutlineStepInput!) { addOutlineStep(input: $i) { step { id } } }",
            json!({ "i": { "sessionId": session, "title": "Epilogue" } }),
        )
        .await;
    assert_eq!(app.session_status(&a, session).await, "GENERATING");
    let epilogue = uuid(&data["addOutlineStep"]["step"]["id"]);
    // A completed session cannot be cancelled; a generating one can, and then agents' writes are CONFLICT.
    app.step_status(&a, epilogue, "SKIPPED").await;
    assert_eq!(app.session_status(&a, session).await, "COMPLETED");
    let code = app
        .gql_err(
            Some(&s.member.token),
            "mutation($id: UUID!) { cancelSession(id: $id) { session { id } } }",
            json!({ "id": session }),
        )
        .await;
    assert_eq!(code, "CONFLICT");

    let other = app.create_session(&s.member.token, s.workspace, "Cancelled").await;
    let steps = app.set_outline(&a, other, json!([{ "title": "One" }])).await;
    app.step_status(&a, steps[0], "RUNNING").await;
    let fragment = app.append(&a, other, steps[0], "ACTION", "Rain.").await;
    app.gql(
        Some(&s.member.token),
        "mutation($id: UUID!) { cancelSession(id: $id) { session { status } } }",
        json!({ "id": other }),
    )
    .await;
    let doc = app.document(s.fx.id, s.workspace, "Ref").await;
    let writes = [
        (STATUS, json!({ "i": { "id": steps[0], "status": "COMPLETED" } })),
        (
            "mutation($i: SetOutlineInput!) { setOutline(input: $i) { outline { id } } }",
            json!({ "i": { "sessionId": other, "steps": [] } }),
        ),
        (
            "mutation($i: AddOutlineStepInput!) { addOutlineStep(input: $i) { step { id } } }",
            json!({ "i": { "sessionId": other, "title": "More" } }),
        ),
        (
            "mutation($i: MoveOutlineStepInput!) { moveOutlineStep(input: $i) { step { id } } }",
            json!({ "i": { "id": steps[0], "position": 0 } }),
        ),
        (
            "mutation($i: AppendFragmentInput!) { appendFragment(input: $i) { fragment { id } } }",
            json!({ "i": { "sessionId": other, "stepId": steps[0], "kind": "ACTION", "content": "More rain." } }),
        ),
        (
            "mutation($i: ReviseFragmentInput!) { reviseFragment(input: $i) { fragment { id } } }",
            json!({ "i": { "id": fragment, "version": 1, "content": "Drizzle." } }),
        ),
        (
            "mutation($id: UUID!) { deleteFragment(id: $id) { deletedFragmentId } }",
            json!({ "id": fragment }),
        ),
        (
            "mutation($i: RecordRetrievalsInput!) { recordRetrievals(input: $i) { retrievals { id } } }",
            json!({ "i": { "sessionId": other, "retrievals": [{ "documentId": doc, "method": "VECTOR", "score": 0.9, "rank": 1 }] } }),
        ),
    ];
    for (query, vars) in writes {
        let code = app.gql_err(Some(&a), query, vars).await;
        assert_eq!(code, "CONFLICT", "{query}");
    }
    // Still cancelled, and the records of work already done are accepted.
    assert_eq!(app.session_status(&a, other).await, "CANCELLED");
    app.gql(
        Some(&a),
        "mutation($i: LogLlmCallInput!) { logLlmCall(input: $i) { llmCall { id } } }",
        json!({ "i": { "sessionId": other, "stepId": steps[0], "provider": "openai", "model": "gpt", "promptTokens": 10,
                       "completionTokens": 5, "costUsd": "0.01", "status": "SUCCEEDED" } }),
    )
    .await;
}

/// Replacing an outline inserts its steps in one statement of one shape
/// whatever their number (one JSON array), and recording retrievals too:
/// the connection keeps one INSERT for each, not one per count.
#[tokio::test]
async fn outline_and_retrieval_inserts_have_one_shape() {
    let app = TestApp::spawn_with_pool_size(1).await;
    let s = app.studio("shape").await;
    for count in [1, 3, 2] {
        let session = app.create_session(&s.member.token, s.workspace, "Shape").await;
        let steps: Vec<Value> = (0..count).map(|i| json!({ "title": format!("Step {i}") })).collect();
        let data = app
            .gql(
                Some(&s.member.token),
                "mutation($i: SetOutlineInput!) { setOutline(input: $i) { outline { id title position } } }",
                json!({ "i": { "sessionId": session, "steps": steps } }),
            )
            .await;
        let outline = data["setOutline"]["outline"].as_array().expect("outline");
        assert_eq!(
            titles(&data["setOutline"]["outline"]),
            (0..count).map(|i| format!("Step {i}")).collect::<Vec<_>>()
        );
        assert!(
            outline.iter().enumerate().all(|(i, step)| step["position"] == i),
            "{outline:?}"
        );
    }
    assert_eq!(prepared_statements(&app, "INSERT INTO %outline_steps%").await, 1);

    let session = app.create_session(&s.member.token, s.workspace, "Retrieved").await;
    let docs = [
        app.document(s.fx.id, s.workspace, "Noir 101").await,
        app.document(s.fx.id, s.workspace, "Rain scenes").await,
        app.document(s.fx.id, s.workspace, "Harbors").await,
    ];
    for count in [1, 3, 2] {
        let retrievals: Vec<Value> = (0..count)
            .map(|i| json!({ "documentId": docs[i], "method": "HYBRID", "score": 0.1 + i as f64 / 3.0, "rank": i + 1 }))
            .collect();
        let data = app
            .gql(
                Some(&s.agent.token),
                "mutation($i: RecordRetrievalsInput!) { recordRetrievals(input: $i) { retrievals { documentId score rank method } } }",
                json!({ "i": { "sessionId": session, "retrievals": retrievals } }),
            )
            .await;
        let stored = data["recordRetrievals"]["retrievals"].as_array().expect("retrievals");
        assert_eq!(stored.len(), count);
        for (sent, got) in retrievals.iter().zip(stored) {
            assert_eq!(got["documentId"], sent["documentId"]);
            // The score exactly as sent.
            assert_eq!(got["score"], sent["score"]);
            assert_eq!(
                (got["rank"].clone(), got["method"].clone()),
                (sent["rank"].clone(), json!("HYBRID"))
            );
        }
    }
    assert_eq!(prepared_statements(&app, "INSERT INTO %retrieved_documents%").await, 1);
}
