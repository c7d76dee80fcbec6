//! Walks the permission table of docs/security.md: every role against every operation.
//! Allowed calls succeed; refused calls get FORBIDDEN and change nothing.
//!
//! The expected table below is written out by hand from docs/security.md, not
//! derived from the code's policy, so that a change to either shows up here.

use screenplay_api::auth::Role;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use std::time::Duration;

use crate::helpers::{
    TestApp,
    fixtures::{PASSWORD, TenantFixture},
    ws::WsClient,
};

const ALL: &[&str] = &["platform_admin", "tenant_admin", "member", "viewer", "agent"];
const TENANT_ROLES: &[&str] = &["tenant_admin", "member", "viewer", "agent"];
const PLATFORM: &[&str] = &["platform_admin"];
const ADMIN: &[&str] = &["tenant_admin"];
const AUDITORS: &[&str] = &["platform_admin", "tenant_admin"];
const ADMIN_MEMBER: &[&str] = &["tenant_admin", "member"];
const WRITERS: &[&str] = &["tenant_admin", "member", "agent"];
const ADMIN_AGENT: &[&str] = &["tenant_admin", "agent"];

/// (operation, roles allowed), as in docs/security.md.
pub const TABLE: &[(&str, &[&str])] = &[
    ("me", ALL),
    ("tenants", PLATFORM),
    ("tenant", PLATFORM),
    ("createTenant", PLATFORM),
    ("updateTenant", PLATFORM),
    ("suspendTenant", PLATFORM),
    ("reactivateTenant", PLATFORM),
    ("deleteTenant", PLATFORM),
    ("users", ADMIN),
    ("user", ADMIN),
    ("createUser", ADMIN),
    ("updateUser", ADMIN),
    ("disableUser", ADMIN),
    ("enableUser", ADMIN),
    ("createWorkspace", ADMIN),
    ("updateWorkspace", ADMIN),
    ("archiveWorkspace", ADMIN),
    ("workspaces", TENANT_ROLES),
    ("workspace", TENANT_ROLES),
    ("auditLogs", AUDITORS),
    ("quotaUsage", AUDITORS),
    ("usageSummary", AUDITORS),
    ("tableSizes", PLATFORM),
    ("vectorDbMetrics", PLATFORM),
    ("slowQueries", PLATFORM),
    ("indexUsage", PLATFORM),
    ("cacheHitRatio", PLATFORM),
    ("connectionStats", PLATFORM),
    ("analyzeAllTables", PLATFORM),
    ("cleanupOldLogs", PLATFORM),
    ("sessions", TENANT_ROLES),
    ("session", TENANT_ROLES),
    ("sessionEvents", TENANT_ROLES),
    ("createSession", ADMIN_MEMBER),
    ("updateSession", ADMIN_MEMBER),
    ("cancelSession", ADMIN_MEMBER),
    ("deleteSession", ADMIN_MEMBER),
    ("setOutline", WRITERS),
    ("addOutlineStep", WRITERS),
    ("moveOutlineStep", WRITERS),
    ("updateOutlineStepStatus", WRITERS),
    ("appendFragment", WRITERS),
    ("reviseFragment", WRITERS),
    ("deleteFragment", WRITERS),
    ("recordRetrievals", ADMIN_AGENT),
    ("logExecution", ADMIN_AGENT),
    ("logLlmCall", ADMIN_AGENT),
    ("ingestDocuments", ADMIN_MEMBER),
    ("updateDocument", ADMIN_MEMBER),
    ("deleteDocuments", ADMIN_MEMBER),
    ("documents", TENANT_ROLES),
    ("document", TENANT_ROLES),
    ("searchDocuments", TENANT_ROLES),
    ("searchDocuments with sessionId", ADMIN_AGENT),
    ("documentStatistics", TENANT_ROLES),
];

struct Ctx {
    app: TestApp,
    fx: TenantFixture,
    workspace: Uuid,
}

impl Ctx {
    async fn victim_tenant(&self) -> Uuid {
        self.app.tenant("victim").await.id
    }

    async fn victim_user(&self) -> Uuid {
        self.app.user(&self.fx, Role::Member).await.id
    }

    async fn victim_workspace(&self) -> Uuid {
        self.app.workspace(&self.fx, "victim").await
    }

    /// A fresh session of the tenant, with a two-step outline and a fragment.
    async fn victim_session(&self) -> (Uuid, Vec<Uuid>, Uuid) {
        let token = &self.fx.admin_token;
        let session = self.app.create_session(token, self.workspace, "Victim").await;
        let steps = self
            .app
            .set_outline(token, session, json!([{ "title": "One" }, { "title": "Two" }]))
            .await;
        let fragment = self.app.append(token, session, steps[0], "ACTION", "Rain.").await;
        (session, steps, fragment)
    }

    /// A workspace holding one document; returns both ids.
    async fn victim_document(&self) -> (Uuid, Uuid) {
        let ws = self.victim_workspace().await;
        let out = self
            .app
            .ingest(
                &self.fx.admin_token,
                ws,
                json!([{ "sourcePath": "victim.md", "content": format!("Victim text {}", Uuid::new_v4()) }]),
            )
            .await;
        let id = out["documents"][0]["id"].as_str().expect("id").parse().expect("uuid");
        (ws, id)
    }

    /// A session (with a step) in a workspace holding one document.
    async fn victim_document_session(&self) -> (Uuid, Uuid) {
        let (ws, _) = self.victim_document().await;
        let owner = self.app.owner().await;
        let row = owner
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                format!(
                    "INSERT INTO screenplay.screenplay_sessions (tenant_id, workspace_id, title) \
                     VALUES ('{}', '{ws}', 'Victim') RETURNING id",
                    self.fx.id
                ),
            ))
            .await
            .expect("session")
            .expect("row");
        (ws, row.try_get_by_index(0).expect("id"))
    }
}

/// Runs `op` with `token` after setting up what it needs; returns the body
/// and a snapshot of the data taken just before the call.
async fn run(ctx: &Ctx, op: &str, token: &str) -> (Value, String, String) {
    let app = &ctx.app;
    let (query, vars): (String, Value) = match op {
        "me" => ("{ me { role } }".into(), json!({})),
        "tenants" => ("{ tenants { totalCount } }".into(), json!({})),
        "tenant" => (
            "query($id: UUID!) { tenant(id: $id) { id } }".into(),
            json!({ "id": ctx.fx.id }),
        ),
        "createTenant" => (
            "mutation($i: CreateTenantInput!) { createTenant(input: $i) { tenant { id } } }".into(),
            json!({ "i": { "slug": format!("new-{}", &Uuid::new_v4().simple().to_string()[..8]), "name": "New",
                           "adminEmail": "a@new.test", "adminPassword": PASSWORD } }),
        ),
        "updateTenant" => (
            "mutation($i: UpdateTenantInput!) { updateTenant(input: $i) { tenant { id } } }".into(),
            json!({ "i": { "id": ctx.victim_tenant().await, "name": "Renamed" } }),
        ),
        "suspendTenant" => (
            "mutation($id: UUID!) { suspendTenant(id: $id) { tenant { id } } }".into(),
            json!({ "id": ctx.victim_tenant().await }),
        ),
        "reactivateTenant" => {
            let id = ctx.victim_tenant().await;
            app.gql(
                Some(&app.platform_token()),
                "mutation($id: UUID!) { suspendTenant(id: $id) { tenant { id } } }",
                json!({ "id": id }),
            )
            .await;
            (
                "mutation($id: UUID!) { reactivateTenant(id: $id) { tenant { id } } }".into(),
                json!({ "id": id }),
            )
        }
        "deleteTenant" => (
            "mutation($id: UUID!) { deleteTenant(id: $id) { deletedTenantId } }".into(),
            json!({ "id": ctx.victim_tenant().await }),
        ),
        "users" => ("{ users { totalCount } }".into(), json!({})),
        "user" => (
            "query($id: UUID!) { user(id: $id) { id } }".into(),
            json!({ "id": ctx.fx.admin_id }),
        ),
        "createUser" => (
            "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }".into(),
            json!({ "i": { "email": format!("{}@new.test", Uuid::new_v4().simple()), "displayName": "N", "role": "VIEWER" } }),
        ),
        "updateUser" => (
            "mutation($i: UpdateUserInput!) { updateUser(input: $i) { user { id } } }".into(),
            json!({ "i": { "id": ctx.victim_user().await, "displayName": "Renamed" } }),
        ),
        "disableUser" => (
            "mutation($id: UUID!) { disableUser(id: $id) { user { id } } }".into(),
            json!({ "id": ctx.victim_user().await }),
        ),
        "enableUser" => {
            let id = ctx.victim_user().await;
            app.gql(
                Some(&ctx.fx.admin_token),
                "mutation($id: UUID!) { disableUser(id: $id) { user { id } } }",
                json!({ "id": id }),
            )
            .await;
            (
                "mutation($id: UUID!) { enableUser(id: $id) { user { id } } }".into(),
                json!({ "id": id }),
            )
        }
        "createWorkspace" => (
            "mutation($i: CreateWorkspaceInput!) { createWorkspace(input: $i) { workspace { id } } }".into(),
            json!({ "i": { "name": "New", "slug": format!("n-{}", &Uuid::new_v4().simple().to_string()[..8]) } }),
        ),
        "updateWorkspace" => (
            "mutation($i: UpdateWorkspaceInput!) { updateWorkspace(input: $i) { workspace { id } } }".into(),
            json!({ "i": { "id": ctx.victim_workspace().await, "name": "Renamed" } }),
        ),
        "archiveWorkspace" => (
            "mutation($id: UUID!) { archiveWorkspace(id: $id) { workspace { id } } }".into(),
            json!({ "id": ctx.victim_workspace().await }),
        ),
        "workspaces" => ("{ workspaces { totalCount } }".into(), json!({})),
        "workspace" => (
            "query($id: UUID!) { workspace(id: $id) { id } }".into(),
            json!({ "id": ctx.victim_workspace().await }),
        ),
        "auditLogs" => ("{ auditLogs(first: 5) { totalCount } }".into(), json!({})),
        "quotaUsage" => (
            "query($t: UUID) { quotaUsage(tenantId: $t, metric: REQUESTS, from: \"2026-01-01T00:00:00Z\", to: \"2027-01-01T00:00:00Z\", granularity: MONTH) { value } }".into(),
            json!({ "t": ctx.fx.id }),
        ),
        "usageSummary" => (
            "query($t: UUID) { usageSummary(tenantId: $t) { tenantId } }".into(),
            json!({ "t": ctx.fx.id }),
        ),
        "tableSizes" => ("{ tableSizes { tableName } }".into(), json!({})),
        "vectorDbMetrics" => ("{ vectorDbMetrics { totalVectors } }".into(), json!({})),
        "slowQueries" => ("{ slowQueries { statisticsAvailable } }".into(), json!({})),
        "indexUsage" => ("{ indexUsage { indexName } }".into(), json!({})),
        "cacheHitRatio" => ("{ cacheHitRatio { scope } }".into(), json!({})),
        "connectionStats" => ("{ connectionStats { state } }".into(), json!({})),
        "analyzeAllTables" => ("mutation { analyzeAllTables { runId } }".into(), json!({})),
        "cleanupOldLogs" => (
            "mutation($d: Int!) { cleanupOldLogs(days: $d) { runId } }".into(),
            json!({ "d": 90 }),
        ),
        "sessions" => ("{ sessions { totalCount } }".into(), json!({})),
        "session" => (
            "query($id: UUID!) { session(id: $id) { id outline { id } } }".into(),
            json!({ "id": ctx.victim_session().await.0 }),
        ),
        "sessionEvents" => return run_subscription(ctx, token).await,
        "createSession" => (
            "mutation($i: CreateSessionInput!) { createSession(input: $i) { session { id } } }".into(),
            json!({ "i": { "workspaceId": ctx.workspace, "title": "New" } }),
        ),
        "updateSession" => (
            "mutation($i: UpdateSessionInput!) { updateSession(input: $i) { session { id } } }".into(),
            json!({ "i": { "id": ctx.victim_session().await.0, "version": 1, "title": "Renamed" } }),
        ),
        "cancelSession" => (
            "mutation($id: UUID!) { cancelSession(id: $id) { session { id } } }".into(),
            json!({ "id": ctx.victim_session().await.0 }),
        ),
        "deleteSession" => (
            "mutation($id: UUID!) { deleteSession(id: $id) { deletedSessionId } }".into(),
            json!({ "id": ctx.victim_session().await.0 }),
        ),
        "setOutline" => (
            "mutation($i: SetOutlineInput!) { setOutline(input: $i) { outline { id } } }".into(),
            json!({ "i": { "sessionId": app.create_session(&ctx.fx.admin_token, ctx.workspace, "Empty").await,
                           "steps": [{ "title": "Act" }] } }),
        ),
        "addOutlineStep" => (
            "mutation($i: AddOutlineStepInput!) { addOutlineStep(input: $i) { step { id } } }".into(),
            json!({ "i": { "sessionId": ctx.victim_session().await.0, "title": "More" } }),
        ),
        "moveOutlineStep" => (
            "mutation($i: MoveOutlineStepInput!) { moveOutlineStep(input: $i) { step { id } } }".into(),
            json!({ "i": { "id": ctx.victim_session().await.1[1], "position": 0 } }),
        ),
        "updateOutlineStepStatus" => (
            "mutation($i: UpdateOutlineStepStatusInput!) { updateOutlineStepStatus(input: $i) { step { id } } }".into(),
            json!({ "i": { "id": ctx.victim_session().await.1[0], "status": "RUNNING" } }),
        ),
        "appendFragment" => {
            let (session, steps, _) = ctx.victim_session().await;
            (
                "mutation($i: AppendFragmentInput!) { appendFragment(input: $i) { fragment { id } } }".into(),
                json!({ "i": { "sessionId": session, "stepId": steps[0], "kind": "ACTION", "content": "More rain." } }),
            )
        }
        "reviseFragment" => (
            "mutation($i: ReviseFragmentInput!) { reviseFragment(input: $i) { fragment { id } } }".into(),
            json!({ "i": { "id": ctx.victim_session().await.2, "version": 1, "content": "Drizzle." } }),
        ),
        "deleteFragment" => (
            "mutation($id: UUID!) { deleteFragment(id: $id) { deletedFragmentId } }".into(),
            json!({ "id": ctx.victim_session().await.2 }),
        ),
        "recordRetrievals" => {
            let (session, steps, _) = ctx.victim_session().await;
            let doc = app.document(ctx.fx.id, ctx.workspace, "Ref").await;
            (
                "mutation($i: RecordRetrievalsInput!) { recordRetrievals(input: $i) { retrievals { id } } }".into(),
                json!({ "i": { "sessionId": session, "stepId": steps[0],
                               "retrievals": [{ "documentId": doc, "method": "VECTOR", "score": 0.5, "rank": 1 }] } }),
            )
        }
        "logExecution" => (
            "mutation($i: LogExecutionInput!) { logExecution(input: $i) { execution { id } } }".into(),
            json!({ "i": { "sessionId": ctx.victim_session().await.0, "agentName": "writer", "action": "write",
                           "status": "STARTED" } }),
        ),
        "logLlmCall" => (
            "mutation($i: LogLlmCallInput!) { logLlmCall(input: $i) { llmCall { id } } }".into(),
            json!({ "i": { "sessionId": ctx.victim_session().await.0, "provider": "openai", "model": "gpt",
                           "promptTokens": 10, "completionTokens": 2, "costUsd": "0.001", "status": "SUCCEEDED" } }),
        ),
        "ingestDocuments" => (
            "mutation($i: IngestDocumentsInput!) { ingestDocuments(input: $i) { added } }".into(),
            json!({ "i": { "workspaceId": ctx.victim_workspace().await,
                           "documents": [{ "sourcePath": "n.md", "content": "New text." }] } }),
        ),
        "updateDocument" => (
            "mutation($i: UpdateDocumentInput!) { updateDocument(input: $i) { document { id } } }".into(),
            json!({ "i": { "id": ctx.victim_document().await.1, "title": "Renamed" } }),
        ),
        "deleteDocuments" => (
            "mutation($ids: [UUID!]!) { deleteDocuments(ids: $ids) { deletedCount } }".into(),
            json!({ "ids": [ctx.victim_document().await.1] }),
        ),
        "documents" => (
            "query($ws: UUID!) { documents(workspaceId: $ws) { totalCount } }".into(),
            json!({ "ws": ctx.victim_document().await.0 }),
        ),
        "document" => (
            "query($id: UUID!) { document(id: $id) { id } }".into(),
            json!({ "id": ctx.victim_document().await.1 }),
        ),
        "searchDocuments" => (
            "query($i: SearchDocumentsInput!) { searchDocuments(input: $i) { score } }".into(),
            json!({ "i": { "workspaceId": ctx.victim_document().await.0, "query": "victim" } }),
        ),
        "searchDocuments with sessionId" => {
            let (ws, session) = ctx.victim_document_session().await;
            (
                "query($i: SearchDocumentsInput!) { searchDocuments(input: $i) { score } }".into(),
                json!({ "i": { "workspaceId": ws, "query": "victim", "sessionId": session } }),
            )
        }
        "documentStatistics" => (
            "query($ws: UUID!) { documentStatistics(workspaceId: $ws) { chunkCount } }".into(),
            json!({ "ws": ctx.victim_document().await.0 }),
        ),
        other => panic!("no runner for operation {other}"),
    };
    let owner = app.owner().await;
    let before = snapshot(&owner).await;
    let (_, body) = app.post(Some(token), &query, vars).await;
    let after = snapshot(&owner).await;
    (body, before, after)
}

/// `sessionEvents` over a real websocket: refused callers get the error as
/// the first message; allowed ones get the next event.
async fn run_subscription(ctx: &Ctx, token: &str) -> (Value, String, String) {
    let app = &ctx.app;
    let session = app.create_session(&ctx.fx.admin_token, ctx.workspace, "Live").await;
    let owner = app.owner().await;
    let before = snapshot(&owner).await;
    let mut client = WsClient::connect(app.addr, token).await;
    client
        .subscribe(
            "1",
            "subscription($id: UUID!) { sessionEvents(sessionId: $id) { type } }",
            json!({ "id": session }),
        )
        .await;
    let first = client.next(Duration::from_millis(700)).await;
    let after = snapshot(&owner).await;
    let body = match first {
        Some(frame) => frame["payload"].clone(),
        None => {
            app.set_outline(&ctx.fx.admin_token, session, json!([{ "title": "Act" }]))
                .await;
            client.next_payload().await
        }
    };
    (body, before, after)
}

/// A digest of every row of every table the API writes (the audit and quota
/// tables excepted: the middleware records refused requests there; and
/// search_latency, which the server's background writer fills).
pub async fn snapshot(db: &DatabaseConnection) -> String {
    let tables = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT relname FROM pg_class WHERE relnamespace = 'screenplay'::regnamespace AND relkind IN ('r', 'p') \
             AND NOT relispartition AND relname NOT IN ('audit_logs', 'quota_usage', 'search_latency') ORDER BY relname",
        ))
        .await
        .expect("tables");
    let mut out = String::new();
    for row in tables {
        let table: String = row.try_get_by_index(0).expect("name");
        let digest = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                format!(
                    "SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM screenplay.{table} t"
                ),
            ))
            .await
            .expect("digest")
            .expect("row");
        out.push_str(&format!(
            "{table}:{};",
            digest.try_get_by_index::<String>(0).expect("md5")
        ));
    }
    out
}

#[tokio::test]
async fn every_role_against_every_operation() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("perm").await;
    let mut tokens = vec![
        ("platform_admin", app.platform_token()),
        ("tenant_admin", fx.admin_token.clone()),
    ];
    for role in [Role::Member, Role::Viewer, Role::Agent] {
        tokens.push((role.as_str(), app.user(&fx, role).await.token));
    }
    let workspace = app.workspace(&fx, "Scripts").await;
    let ctx = Ctx { app, fx, workspace };

    let mut failures = Vec::new();
    for (op, allowed) in TABLE {
        for (role, token) in &tokens {
            let (body, before, after) = run(&ctx, op, token).await;
            let code = body["errors"][0]["extensions"]["code"].as_str().map(str::to_owned);
            if allowed.contains(role) {
                if body.get("errors").is_some() {
                    failures.push(format!("{role} should be allowed {op}: {body}"));
                }
            } else {
                if code.as_deref() != Some("FORBIDDEN") {
                    failures.push(format!("{role} should get FORBIDDEN for {op}, got {body}"));
                }
                if before != after {
                    failures.push(format!("refused {op} by {role} changed data"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "permission table violations:\n{}",
        failures.join("\n")
    );

    // Without a token everything but the public operations is UNAUTHENTICATED.
    let (_, body) = ctx.app.post(None, "{ me { role } }", json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let (_, body) = ctx.app.post(None, "{ workspaces { totalCount } }", json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}
