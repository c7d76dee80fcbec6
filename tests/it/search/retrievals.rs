//! Searches that record what an agent retrieved for a step.

use screenplay_api::auth::Role;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::ids;
use crate::helpers::{
    TestApp,
    audit::{count_when, counter_sql},
    docs::SEARCH,
    scalar_i64,
};

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
    // Every search that succeeded is counted (through the counter writer).
    let sql = counter_sql(fx.id, "search_queries");
    assert_eq!(count_when(&app, &sql, |n| n >= 3).await, 3);
}
