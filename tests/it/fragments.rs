//! Fragments: append in order, revise with versions kept, delete with dense
//! positions, bad input, concurrent revisions.

use serde_json::json;

use crate::helpers::{TestApp, scalar_i64, screenplay::uuid};

const APPEND: &str = "mutation($i: AppendFragmentInput!) { appendFragment(input: $i) { fragment { id position version origin kind character content createdBy } } }";
const REVISE: &str =
    "mutation($i: ReviseFragmentInput!) { reviseFragment(input: $i) { fragment { id version origin content } } }";

#[tokio::test]
async fn append_revise_delete_keep_order_and_lineage() {
    let app = TestApp::spawn().await;
    let s = app.studio("frag").await;
    let session = app.create_session(&s.member.token, s.workspace, "Frag").await;
    let steps = app
        .set_outline(
            &s.agent.token,
            session,
            json!([{ "title": "Scene" }, { "title": "Other" }]),
        )
        .await;
    let step = steps[0];
    let data = app
        .gql(
            Some(&s.agent.token),
            APPEND,
            json!({ "i": { "sessionId": session, "stepId": step, "kind": "DIALOGUE", "character": "ALICE",
                           "content": "  Where were you?  ", "agentName": "writer", "tokenCount": 12 } }),
        )
        .await;
    let first = &data["appendFragment"]["fragment"];
    assert_eq!(first["position"], 0);
    assert_eq!(first["version"], 1);
    assert_eq!(first["origin"], "NEW");
    assert_eq!(first["content"], "Where were you?");
    assert_eq!(first["createdBy"], s.agent.id.to_string());
    let f1 = uuid(&first["id"]);
    let f2 = app.append(&s.agent.token, session, step, "ACTION", "She waits.").await;
    let f3 = app.append(&s.agent.token, session, step, "TRANSITION", "CUT TO:").await;

    // Revise twice: versions 1, 2 kept, 3 current; lineage REWRITE (agent) then EDIT (person).
    let data = app
        .gql(
            Some(&s.agent.token),
            REVISE,
            json!({ "i": { "id": f1, "version": 1, "content": "Where were you, really?" } }),
        )
        .await;
    assert_eq!(data["reviseFragment"]["fragment"]["version"], 2);
    assert_eq!(data["reviseFragment"]["fragment"]["origin"], "REWRITE");
    let data = app
        .gql(
            Some(&s.member.token),
            REVISE,
            json!({ "i": { "id": f1, "version": 2, "content": "Where were you?!" } }),
        )
        .await;
    assert_eq!(data["reviseFragment"]["fragment"]["origin"], "EDIT");
    let data = app
        .gql(
            Some(&s.viewer_token(&app).await),
            "query($id: UUID!) { session(id: $id) { outline { fragments { id content version versions { version content origin current createdBy } } } } }",
            json!({ "id": session }),
        )
        .await;
    let fragments = &data["session"]["outline"][0]["fragments"];
    assert_eq!(fragments.as_array().expect("list").len(), 3);
    let versions = &fragments[0]["versions"];
    assert_eq!(versions.as_array().expect("versions").len(), 3);
    assert_eq!(versions[0]["content"], "Where were you?");
    assert_eq!(versions[0]["origin"], "NEW");
    assert_eq!(versions[1]["content"], "Where were you, really?");
    assert_eq!(versions[1]["origin"], "REWRITE");
    assert_eq!(versions[2]["content"], "Where were you?!");
    assert_eq!(versions[2]["current"], true);
    assert_eq!(versions[2]["createdBy"], s.member.id.to_string());

    // A stale version is CONFLICT and changes nothing.
    let code = app
        .gql_err(
            Some(&s.agent.token),
            REVISE,
            json!({ "i": { "id": f1, "version": 2, "content": "Lost" } }),
        )
        .await;
    assert_eq!(code, "CONFLICT");

    // Delete the middle one: positions stay dense, versions go with it.
    app.gql(
        Some(&s.agent.token),
        "mutation($id: UUID!) { deleteFragment(id: $id) { deletedFragmentId stepId } }",
        json!({ "id": f2 }),
    )
    .await;
    let owner = app.owner().await;
    assert_eq!(
        scalar_i64(
            &owner,
            &format!("SELECT position::bigint FROM screenplay.screenplay_fragments WHERE id = '{f3}'")
        )
        .await,
        1
    );
    let f4 = app.append(&s.agent.token, session, step, "ACTION", "Rain.").await;
    assert_eq!(
        scalar_i64(
            &owner,
            &format!("SELECT position::bigint FROM screenplay.screenplay_fragments WHERE id = '{f4}'")
        )
        .await,
        2
    );
    assert_eq!(
        scalar_i64(
            &owner,
            &format!("SELECT count(*) FROM screenplay.fragment_versions WHERE fragment_id = '{f1}'")
        )
        .await,
        2
    );
    assert_eq!(
        scalar_i64(
            &owner,
            "SELECT count(*) FROM screenplay.screenplay_fragments WHERE content = 'Lost'"
        )
        .await,
        0
    );
}

impl crate::helpers::screenplay::Studio {
    /// A viewer's token in the studio's tenant.
    pub async fn viewer_token(&self, app: &TestApp) -> String {
        app.user(&self.fx, screenplay_api::auth::Role::Viewer).await.token
    }
}

#[tokio::test]
async fn bad_fragment_input() {
    let app = TestApp::spawn().await;
    let s = app.studio("fbad").await;
    let session = app.create_session(&s.member.token, s.workspace, "Bad").await;
    let other = app.create_session(&s.member.token, s.workspace, "Other").await;
    let steps = app
        .set_outline(&s.agent.token, session, json!([{ "title": "Scene" }]))
        .await;
    let other_steps = app
        .set_outline(&s.agent.token, other, json!([{ "title": "Elsewhere" }]))
        .await;
    let base = json!({ "sessionId": session, "stepId": steps[0], "kind": "ACTION", "content": "Fine." });
    let with = |patch: serde_json::Value| {
        let mut v = base.clone();
        for (k, val) in patch.as_object().expect("object") {
            v[k] = val.clone();
        }
        json!({ "i": v })
    };
    let cases = [
        (with(json!({ "content": "   " })), "BAD_USER_INPUT", Some("content")),
        (
            with(json!({ "content": "x".repeat(10_001) })),
            "BAD_USER_INPUT",
            Some("content"),
        ),
        (
            with(json!({ "kind": "SCENE_HEADING", "content": "INT. A\nEXT. B" })),
            "BAD_USER_INPUT",
            Some("content"),
        ),
        (
            with(json!({ "kind": "ACTION", "character": "ALICE" })),
            "BAD_USER_INPUT",
            Some("character"),
        ),
        (
            with(json!({ "stepId": other_steps[0] })),
            "BAD_USER_INPUT",
            Some("stepId"),
        ),
        (with(json!({ "stepId": uuid::Uuid::new_v4() })), "NOT_FOUND", None),
        (with(json!({ "sessionId": uuid::Uuid::new_v4() })), "NOT_FOUND", None),
        (with(json!({ "origin": "EDIT" })), "BAD_USER_INPUT", Some("origin")),
        (with(json!({ "tokenCount": -1 })), "BAD_USER_INPUT", Some("tokenCount")),
    ];
    for (vars, code, field) in cases {
        let (_, body) = app.post(Some(&s.agent.token), APPEND, vars.clone()).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], code, "{vars}: {body}");
        if let Some(field) = field {
            assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
        }
    }
    // A kind that does not exist is refused before execution.
    let (_, body) = app
        .post(Some(&s.agent.token), APPEND, with(json!({ "kind": "SONG" })))
        .await;
    assert!(
        body["errors"][0]["message"].as_str().expect("message").contains("SONG"),
        "{body}"
    );
    assert!(body["data"].is_null());
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{body}"
    );
    let owner = app.owner().await;
    assert_eq!(
        scalar_i64(&owner, "SELECT count(*) FROM screenplay.screenplay_fragments").await,
        0
    );
    // Revise: missing fragment, oversize, empty.
    let f = app.append(&s.agent.token, session, steps[0], "ACTION", "Fine.").await;
    let code = app
        .gql_err(
            Some(&s.agent.token),
            REVISE,
            json!({ "i": { "id": uuid::Uuid::new_v4(), "version": 1, "content": "x" } }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    for content in ["", &"y".repeat(10_001)] {
        let (_, body) = app
            .post(
                Some(&s.agent.token),
                REVISE,
                json!({ "i": { "id": f, "version": 1, "content": content } }),
            )
            .await;
        assert_eq!(body["errors"][0]["extensions"]["field"], "content", "{body}");
    }
    assert_eq!(
        scalar_i64(&owner, "SELECT count(*) FROM screenplay.fragment_versions").await,
        0
    );
}

#[tokio::test]
async fn concurrent_revisions_one_wins_nothing_lost() {
    let app = TestApp::spawn().await;
    let s = app.studio("race").await;
    let session = app.create_session(&s.member.token, s.workspace, "Race").await;
    let steps = app
        .set_outline(&s.agent.token, session, json!([{ "title": "Scene" }]))
        .await;
    let f = app
        .append(&s.agent.token, session, steps[0], "ACTION", "Original.")
        .await;
    for round in 1..=5 {
        let version = round;
        let a = app.post(
            Some(&s.agent.token),
            REVISE,
            json!({ "i": { "id": f, "version": version, "content": format!("Agent take {round}.") } }),
        );
        let b = app.post(
            Some(&s.member.token),
            REVISE,
            json!({ "i": { "id": f, "version": version, "content": format!("Writer take {round}.") } }),
        );
        let ((_, a), (_, b)) = tokio::join!(a, b);
        let ok = [&a, &b].iter().filter(|r| r.get("errors").is_none()).count();
        let conflicts = [&a, &b]
            .iter()
            .filter(|r| r["errors"][0]["extensions"]["code"] == "CONFLICT")
            .count();
        assert_eq!((ok, conflicts), (1, 1), "round {round}: {a} {b}");
    }
    // Versions 1..5 kept, 6 current: every winning text is somewhere.
    let owner = app.owner().await;
    assert_eq!(
        scalar_i64(
            &owner,
            &format!("SELECT count(*) FROM screenplay.fragment_versions WHERE fragment_id = '{f}'")
        )
        .await,
        5
    );
    assert_eq!(
        scalar_i64(
            &owner,
            &format!("SELECT version::bigint FROM screenplay.screenplay_fragments WHERE id = '{f}'")
        )
        .await,
        6
    );
    assert_eq!(
        scalar_i64(
            &owner,
            &format!("SELECT count(DISTINCT version) FROM screenplay.fragment_versions WHERE fragment_id = '{f}' AND version BETWEEN 1 AND 5")
        )
        .await,
        5
    );
}
