//! Sessions, outlines and fragments for tests, made through the real API.

use screenplay_api::auth::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    TestApp,
    fixtures::{TenantFixture, UserFixture},
};

/// A tenant with a workspace, a member (writer) and an agent.
pub struct Studio {
    pub fx: TenantFixture,
    pub workspace: Uuid,
    pub member: UserFixture,
    pub agent: UserFixture,
}

pub fn uuid(v: &Value) -> Uuid {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .parse()
        .expect("uuid")
}

impl TestApp {
    /// A tenant with a workspace, a member and an agent.
    pub async fn studio(&self, prefix: &str) -> Studio {
        let fx = self.tenant(prefix).await;
        let workspace = self.workspace(&fx, "Scripts").await;
        let member = self.user(&fx, Role::Member).await;
        let agent = self.user(&fx, Role::Agent).await;
        Studio {
            fx,
            workspace,
            member,
            agent,
        }
    }

    /// Creates a session (as `token`); returns its id.
    pub async fn create_session(&self, token: &str, workspace: Uuid, title: &str) -> Uuid {
        let data = self
            .gql(
                Some(token),
                "mutation($i: CreateSessionInput!) { createSession(input: $i) { session { id } } }",
                json!({ "i": { "workspaceId": workspace, "title": title, "logline": "A test.", "genre": "drama" } }),
            )
            .await;
        uuid(&data["createSession"]["session"]["id"])
    }

    /// Sets an outline; returns the step ids in outline order (depth first).
    pub async fn set_outline(&self, token: &str, session: Uuid, steps: Value) -> Vec<Uuid> {
        let data = self
            .gql(
                Some(token),
                "mutation($i: SetOutlineInput!) { setOutline(input: $i) { outline { id children { id children { id children { id } } } } } }",
                json!({ "i": { "sessionId": session, "steps": steps } }),
            )
            .await;
        fn walk(list: &Value, out: &mut Vec<Uuid>) {
            for step in list.as_array().into_iter().flatten() {
                out.push(uuid(&step["id"]));
                walk(&step["children"], out);
            }
        }
        let mut out = Vec::new();
        walk(&data["setOutline"]["outline"], &mut out);
        out
    }

    /// Appends a fragment; returns its id.
    pub async fn append(&self, token: &str, session: Uuid, step: Uuid, kind: &str, content: &str) -> Uuid {
        self.append_with(
            token,
            json!({ "sessionId": session, "stepId": step, "kind": kind, "content": content }),
        )
        .await
    }

    pub async fn append_with(&self, token: &str, input: Value) -> Uuid {
        let data = self
            .gql(
                Some(token),
                "mutation($i: AppendFragmentInput!) { appendFragment(input: $i) { fragment { id } } }",
                json!({ "i": input }),
            )
            .await;
        uuid(&data["appendFragment"]["fragment"]["id"])
    }

    /// Moves a step to `status` (must succeed).
    pub async fn step_status(&self, token: &str, step: Uuid, status: &str) -> Value {
        let data = self
            .gql(
                Some(token),
                "mutation($i: UpdateOutlineStepStatusInput!) { updateOutlineStepStatus(input: $i) { step { status } session { status error } } }",
                json!({ "i": { "id": step, "status": status } }),
            )
            .await;
        data["updateOutlineStepStatus"].clone()
    }

    /// A session's status as the API reports it.
    pub async fn session_status(&self, token: &str, session: Uuid) -> String {
        let data = self
            .gql(
                Some(token),
                "query($id: UUID!) { session(id: $id) { status } }",
                json!({ "id": session }),
            )
            .await;
        data["session"]["status"].as_str().expect("status").to_owned()
    }

    /// Inserts a reference document directly (as the owner); returns its id.
    pub async fn document(&self, tenant: Uuid, workspace: Uuid, title: &str) -> Uuid {
        use sea_orm::ConnectionTrait;
        let id = Uuid::now_v7();
        self.owner()
            .await
            .execute_unprepared(&format!(
                "INSERT INTO screenplay.code_documents (id, tenant_id, workspace_id, source_path, title, content, content_hash) \
                 VALUES ('{id}', '{tenant}', '{workspace}', 'ref/{id}.md', '{title}', 'Reference text.', md5('{id}'))"
            ))
            .await
            .expect("insert document");
        id
    }
}
