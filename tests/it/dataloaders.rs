//! Nested reads cost a constant number of SQL statements (DataLoaders), not
//! one per parent.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, prepared_statements};

/// Seeds `sessions` sessions × `steps` steps × `fragments` fragments (and
/// one LLM call per step) directly as the owner.
pub async fn seed(app: &TestApp, tenant: Uuid, workspace: Uuid, sessions: i32, steps: i32, fragments: i32) {
    let sql = format!(
        "INSERT INTO screenplay.screenplay_sessions (id, tenant_id, workspace_id, title, status, created_at)
           SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(s), 12, '0'))::uuid, '{tenant}', '{workspace}',
                  'Session ' || s, 'generating', now() - s * interval '1 second'
           FROM generate_series(1, {sessions}) s;
         INSERT INTO screenplay.outline_steps (id, tenant_id, session_id, position, title)
           SELECT gen_random_uuid(), '{tenant}', ss.id, p, 'Step ' || p
           FROM screenplay.screenplay_sessions ss, generate_series(0, {steps} - 1) p WHERE ss.tenant_id = '{tenant}';
         INSERT INTO screenplay.screenplay_fragments (tenant_id, session_id, step_id, position, kind, content)
           SELECT '{tenant}', st.session_id, st.id, p, 'action', 'Line ' || p || ' of ' || st.title
           FROM screenplay.outline_steps st, generate_series(0, {fragments} - 1) p WHERE st.tenant_id = '{tenant}';
         INSERT INTO screenplay.llm_call_logs (tenant_id, session_id, step_id, provider, model, prompt_tokens,
                                               completion_tokens, cost_usd, latency_ms, status)
           SELECT '{tenant}', st.session_id, st.id, 'openai', 'gpt', 100, 20, 0.001, 50, 'succeeded'
           FROM screenplay.outline_steps st WHERE st.tenant_id = '{tenant}';"
    );
    app.owner().await.execute_unprepared(&sql).await.expect("seed");
}

/// The nested session page: sessions, their outline with fragments, usage totals.
pub const NESTED: &str = "query($first: Int) { sessions(first: $first) { totalCount edges { node {
    id title status usage { totalTokens costUsd callCount }
    outline { id title status children { id } fragments { id kind content version } } } } } }";

/// The same with every other nested field.
const EVERYTHING: &str = "query($first: Int) { sessions(first: $first) { edges { node {
    id workspace { id name } usage { totalTokens averageLatencyMs }
    outline { id fragments { id versions { version } step { id } } retrievals { id } }
    fragments(first: 3) { totalCount edges { node { id } } }
    llmCalls(first: 2) { totalCount edges { node { id step { id title } fragment { id } retrievals { id } } } }
    executions(first: 2) { totalCount edges { node { id } } }
    retrievedDocuments(first: 2) { totalCount edges { node { id } } }
    screenplay(format: FOUNTAIN) } } } }";

async fn statements_of(app: &TestApp, token: &str, query: &str, first: i32) -> (u64, Value) {
    statements_with(app, token, query, json!({ "first": first })).await
}

async fn statements_with(app: &TestApp, token: &str, query: &str, variables: Value) -> (u64, Value) {
    let before = app.state.db.stats().statements();
    let data = app.gql(Some(token), query, variables).await;
    let after = app.state.db.stats().statements();
    (after - before, data)
}

#[tokio::test]
async fn nested_session_page_runs_a_constant_number_of_statements() {
    // The pool's statement counter also sees the audit writer, which flushes
    // every 250 ms whatever the requests do, and the indexing worker looking
    // for jobs; queries write nothing of their own in their transaction, so
    // without them the count is the request's.
    let app = TestApp::spawn_with(&["--audit", "false", "--indexing-workers", "0"]).await;
    let s = app.studio("loaders").await;
    seed(&app, s.fx.id, s.workspace, 25, 10, 5).await;
    let token = s.member.token.clone();

    let (count, data) = statements_of(&app, &token, NESTED, 20).await;
    let edges = data["sessions"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 20);
    assert_eq!(data["sessions"]["totalCount"], 25);
    for edge in edges {
        let node = &edge["node"];
        let outline = node["outline"].as_array().expect("outline");
        assert_eq!(outline.len(), 10);
        for step in outline {
            assert_eq!(step["fragments"].as_array().expect("fragments").len(), 5);
        }
        assert_eq!(node["usage"]["callCount"], 10);
        assert_eq!(node["usage"]["totalTokens"], 1200);
    }
    // 20 sessions × 10 steps × 5 fragments: caller check, page, total, steps,
    // fragments, usage — not 1 + 20 + 200 + ….
    eprintln!("nested page of 20 sessions × 10 steps × 5 fragments: {count} statements");
    assert_eq!(count, 6, "statements for the nested page");

    // The query's shape sets the count, not the timing of the run nor the
    // number of parents: the same for 2 sessions as for 20, on every run,
    // with every nested field too.
    for _ in 0..10 {
        assert_eq!(statements_of(&app, &token, NESTED, 20).await.0, count);
        assert_eq!(statements_of(&app, &token, NESTED, 2).await.0, count);
    }
    let (every, mut data) = statements_of(&app, &token, EVERYTHING, 20).await;
    eprintln!("every nested field: {every} statements");
    for first in [2, 20, 20, 2, 20] {
        let (again, answer) = statements_of(&app, &token, EVERYTHING, first).await;
        assert_eq!(again, every, "every nested field, {first} sessions");
        if first == 20 {
            data = answer;
        }
    }
    let node = &data["sessions"]["edges"][5]["node"];
    assert_eq!(node["llmCalls"]["totalCount"], 10);
    assert_eq!(node["fragments"]["totalCount"], 50);
    assert_eq!(node["fragments"]["edges"].as_array().expect("edges").len(), 3);
    assert!(node["screenplay"].as_str().expect("fountain").contains("# Step 0"));
}

/// The session detail (`session(id)` with its `outline`) reads the session
/// and its steps in one statement, and answers what the steps' loader does.
#[tokio::test]
async fn a_session_with_its_outline_is_read_in_one_statement() {
    const STEPS: &str = "outline { id title position status description agentName children { id title } }";
    let app = TestApp::spawn_with(&["--audit", "false", "--indexing-workers", "0"]).await;
    let s = app.studio("detail").await;
    seed(&app, s.fx.id, s.workspace, 3, 4, 1).await;
    // The third step of each session becomes a child of the first.
    vary_optional_columns(&app, s.fx.id, s.member.id).await;
    let token = s.member.token.clone();
    let id = json!("00000000-0000-7000-8000-000000000002");
    let detail = format!("query($id: UUID!) {{ session(id: $id) {{ id title {STEPS} }} }}");

    // The caller check, then the session with its steps.
    let (count, data) = statements_with(&app, &token, &detail, json!({ "id": id })).await;
    assert_eq!(count, 2, "statements for a session with its outline");
    let outline = data["session"]["outline"].as_array().expect("outline");
    assert_eq!(outline.len(), 3, "four steps, one of them a child: {outline:?}");
    assert_eq!(outline[0]["children"].as_array().expect("children").len(), 1);
    let list = format!("{{ sessions(first: 3) {{ edges {{ node {{ id {STEPS} }} }} }} }}");
    let listed = app.gql(Some(&token), &list, json!({})).await;
    let node = listed["sessions"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .find(|e| e["node"]["id"] == id)
        .expect("the session in the list");
    assert_eq!(
        data["session"]["outline"], node["node"]["outline"],
        "the loader's outline"
    );
    // Through a fragment spread too.
    let spread = format!("query($id: UUID!) {{ session(id: $id) {{ ...D }} }} fragment D on Session {{ {STEPS} }}");
    let through = app.gql(Some(&token), &spread, json!({ "id": id })).await;
    assert_eq!(through["session"]["outline"], data["session"]["outline"]);

    // A session without steps, a missing one, and another tenant's.
    app.owner()
        .await
        .execute_unprepared(&format!(
            "INSERT INTO screenplay.screenplay_sessions (id, tenant_id, workspace_id, title, status)
             VALUES ('00000000-0000-7000-8000-0000000000ff', '{}', '{}', 'Empty', 'generating')",
            s.fx.id, s.workspace
        ))
        .await
        .expect("a session without steps");
    let empty = app
        .gql(
            Some(&token),
            &detail,
            json!({ "id": "00000000-0000-7000-8000-0000000000ff" }),
        )
        .await;
    assert_eq!(empty["session"]["title"], "Empty");
    assert_eq!(empty["session"]["outline"], json!([]));
    let missing = app
        .gql(
            Some(&token),
            &detail,
            json!({ "id": "00000000-0000-7000-8000-00000000dead" }),
        )
        .await;
    assert!(missing["session"].is_null());
    let other = app.studio("detail-other").await;
    let theirs = app.gql(Some(&other.member.token), &detail, json!({ "id": id })).await;
    assert!(theirs["session"].is_null(), "another tenant's session: {theirs}");
}

/// The bulk readers decode rows by position (`db::rows`); they must read
/// exactly what sea-orm reads by name, every optional column both NULL and set.
#[tokio::test]
async fn rows_read_by_position_equal_what_sea_orm_reads() {
    use entity::{outline_steps as steps, screenplay_fragments as fragments};
    use screenplay_api::db::rows;
    use sea_orm::{ColumnTrait, EntityTrait, Iterable, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr};

    let app = TestApp::spawn().await;
    let s = app.studio("positional").await;
    seed(&app, s.fx.id, s.workspace, 2, 3, 2).await;
    let tenant = s.fx.id;
    vary_optional_columns(&app, tenant, s.member.id).await;
    let owner = app.owner().await;

    let select = fragments::Entity::find()
        .filter(fragments::Column::TenantId.eq(tenant))
        .order_by_asc(fragments::Column::Id);
    let by_name = select.clone().all(&owner).await.expect("sea-orm");
    let by_position = rows::all(&owner, select).await.expect("by position");
    assert_eq!(by_name.len(), 12);
    assert!(by_name.iter().any(|f| f.character.is_none()) && by_name.iter().any(|f| f.created_by.is_some()));
    assert_eq!(by_position, by_name);
    // Column types are checked once per result, NULL or not: `token_count`
    // as text is refused, its first rows NULL (DESC puts NULLs first).
    let wrong = fragments::Entity::find()
        .select_only()
        .columns(fragments::Column::iter().filter(|c| !matches!(c, fragments::Column::TokenCount)))
        .column_as(Expr::cust("token_count::text"), "token_count")
        .filter(fragments::Column::TenantId.eq(tenant))
        .order_by_desc(fragments::Column::TokenCount);
    let refused = rows::all(&owner, wrong).await.expect_err("a text token_count");
    assert!(format!("{refused:?}").contains("token_count"), "{refused:?}");

    let select = steps::Entity::find()
        .filter(steps::Column::TenantId.eq(tenant))
        .order_by_asc(steps::Column::Id);
    let by_name = select.clone().all(&owner).await.expect("sea-orm");
    let by_position = rows::all(&owner, select).await.expect("by position");
    assert_eq!(by_name.len(), 6);
    assert!(by_name.iter().any(|s| s.finished_at.is_none()) && by_name.iter().any(|s| s.parent_step_id.is_some()));
    assert_eq!(by_position, by_name);
}

/// Document chunks, which every search returns, are read by position too:
/// what `db::rows` reads must equal what sea-orm reads by name into the
/// entity, every optional column both NULL and set.
#[tokio::test]
async fn document_rows_read_by_position_equal_the_entity() {
    use entity::code_documents as docs;
    use screenplay_api::{
        db::rows::{self, Positional},
        service::documents::DocumentRow,
    };
    use sea_orm::{ColumnTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, Statement};

    let app = TestApp::spawn().await;
    let s = app.studio("positional-docs").await;
    let (tenant, workspace, user) = (s.fx.id, s.workspace, s.member.id);
    let owner = app.owner().await;
    owner
        .execute_unprepared(&format!(
            "INSERT INTO screenplay.code_documents
                 (tenant_id, workspace_id, source_path, title, content, content_hash, language, chunk_index,
                  chunk_count, metadata, token_count, status)
             VALUES ('{tenant}', '{workspace}', 'a.md', 'A', 'plain', 'h1', 'en', 0, 1, '{{}}', 1, 'READY');
             INSERT INTO screenplay.code_documents
                 (tenant_id, workspace_id, source_path, title, content, content_hash, language, chunk_index,
                  chunk_count, metadata, token_count, status, embedding_model, created_by, section,
                  source_format, source_encoding, chunking, status_reason, embedding)
             VALUES ('{tenant}', '{workspace}', 'b.md', 'B', '场景 one', 'h2', 'zh', 1, 2, '{{\"act\": [1, 2]}}',
                     9, 'FAILED', 'm', '{user}', 'Act 1 > Scene 2', 'markdown', 'utf-8', 'headings', 'why',
                     array_fill(0.01::real, ARRAY[1536])::vector)"
        ))
        .await
        .expect("two chunks");

    let by_name = docs::Entity::find()
        .filter(docs::Column::TenantId.eq(tenant))
        .order_by_asc(docs::Column::SourcePath)
        .all(&owner)
        .await
        .expect("sea-orm");
    let select = format!(
        "SELECT {} FROM screenplay.code_documents WHERE tenant_id = '{tenant}' ORDER BY source_path",
        DocumentRow::COLUMNS.join(", ")
    );
    let by_position: Vec<DocumentRow> = rows::all_raw(&owner, Statement::from_string(DbBackend::Postgres, select))
        .await
        .expect("by position");
    let expected: Vec<DocumentRow> = by_name
        .into_iter()
        .map(|m| DocumentRow {
            id: m.id,
            tenant_id: m.tenant_id,
            workspace_id: m.workspace_id,
            source_path: m.source_path,
            title: m.title,
            content: m.content,
            content_hash: m.content_hash,
            language: m.language,
            chunk_index: m.chunk_index,
            chunk_count: m.chunk_count,
            metadata: m.metadata,
            embedding_model: m.embedding_model,
            token_count: m.token_count,
            created_by: m.created_by,
            created_at: m.created_at,
            updated_at: m.updated_at,
            section: m.section,
            source_format: m.source_format,
            source_encoding: m.source_encoding,
            chunking: m.chunking,
            status: m.status,
            status_reason: m.status_reason,
            ingestion_job_id: m.ingestion_job_id,
        })
        .collect();
    assert_eq!(expected.len(), 2);
    assert!(expected[0].section.is_none() && expected[1].section.is_some());
    assert_eq!(by_position, expected);
}

/// Sets every optional column of some fragments and steps (the others keep
/// NULL): the first fragment of each step, the third step of each session
/// (a child of the first).
async fn vary_optional_columns(app: &TestApp, tenant: Uuid, user: Uuid) {
    app.owner()
        .await
        .execute_unprepared(&format!(
            "UPDATE screenplay.screenplay_fragments SET kind = 'dialogue', character = 'ANNA', origin = 'edit',
                    agent_name = 'writer', token_count = 7, created_by = '{user}'
              WHERE tenant_id = '{tenant}' AND position = 0;
             UPDATE screenplay.outline_steps SET description = 'why', status = 'failed', agent_name = 'planner',
                    error = 'no budget', started_at = now(), finished_at = now(),
                    parent_step_id = (SELECT p.id FROM screenplay.outline_steps p
                                       WHERE p.session_id = outline_steps.session_id AND p.position = 0)
              WHERE tenant_id = '{tenant}' AND position = 2"
        ))
        .await
        .expect("vary the optional columns");
}

/// `Ready` objects (steps, fragments) read their plain fields without
/// async-graphql's per-field futures; every such field must answer what the
/// general path answers (a fragment spread takes it), NULL and set alike.
#[tokio::test]
async fn ready_objects_answer_what_the_general_path_answers() {
    let app = TestApp::spawn().await;
    let s = app.studio("ready").await;
    seed(&app, s.fx.id, s.workspace, 2, 3, 2).await;
    vary_optional_columns(&app, s.fx.id, s.member.id).await;
    let token = s.member.token.as_str();
    let step = plain_fields(&app, token, "OutlineStep").await;
    let fragment = plain_fields(&app, token, "Fragment").await;
    assert!(step.len() >= 13 && fragment.len() >= 14, "{step} / {fragment}");

    let shape = |step: &str, fragment: &str| {
        format!(
            "{{ sessions(first: 2) {{ edges {{ node {{ outline {{ {step} children {{ {step} }}
               fragments {{ {fragment} }} }} }} }} }} }}"
        )
    };
    let (step_fields, fragment_fields) = (format!("{step} __typename again: id"), format!("{fragment} __typename"));
    let ready = app
        .gql(Some(token), &shape(&step_fields, &fragment_fields), json!({}))
        .await;
    let general = app
        .gql(
            Some(token),
            &shape(
                &format!("... on OutlineStep {{ {step_fields} }}"),
                &format!("... on Fragment {{ {fragment_fields} }}"),
            ),
            json!({}),
        )
        .await;
    assert_eq!(ready, general);
    let text = ready.to_string();
    for set in [
        "\"ANNA\"",
        "\"no budget\"",
        "\"DIALOGUE\"",
        "\"FAILED\"",
        "\"tokenCount\":7",
        "\"Fragment\"",
    ] {
        assert!(text.contains(set), "{set} missing: {text}");
    }
    assert!(
        text.contains("\"character\":null") && text.contains("\"error\":null"),
        "{text}"
    );
}

/// The fields of `type_name` without arguments whose type is a scalar or an
/// enum (nullable or not), space-separated.
async fn plain_fields(app: &TestApp, token: &str, type_name: &str) -> String {
    let data = app
        .gql(
            Some(token),
            "query($t: String!) { __type(name: $t) { fields { name args { name }
               type { kind ofType { kind } } } } }",
            json!({ "t": type_name }),
        )
        .await;
    let fields = data["__type"]["fields"].as_array().expect("fields");
    let leaf = |kind: &Value| kind == "SCALAR" || kind == "ENUM";
    fields
        .iter()
        .filter(|f| f["args"].as_array().is_some_and(Vec::is_empty))
        .filter(|f| leaf(&f["type"]["kind"]) || leaf(&f["type"]["ofType"]["kind"]))
        .map(|f| f["name"].as_str().expect("name").to_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A loader's statement is the same whatever the number of keys: ids go
/// as one array (`= ANY($n)`), not one placeholder each, which made every
/// list length a statement of its own to parse, plan and keep prepared on
/// each pooled connection. One pooled connection serves the pages and then
/// shows what it keeps prepared.
#[tokio::test]
async fn loader_statements_do_not_depend_on_the_number_of_keys() {
    let app = TestApp::spawn_with_pool_size(1).await;
    let s = app.studio("shapes").await;
    seed(&app, s.fx.id, s.workspace, 6, 3, 2).await;
    for first in 1..=6 {
        let data = app.gql(Some(&s.member.token), NESTED, json!({ "first": first })).await;
        assert_eq!(
            data["sessions"]["edges"].as_array().expect("edges").len(),
            first as usize
        );
    }
    // Six pages of 1 to 6 sessions: 3 to 18 steps' fragments.
    let prepared = |table: &str| {
        let like = format!("%FROM \"screenplay\".\"{table}\"%");
        let app = &app;
        async move { prepared_statements(app, &like).await }
    };
    assert_eq!(prepared("screenplay_fragments").await, 1, "fragments by step");
    assert_eq!(prepared("outline_steps").await, 1, "steps by session");
}
