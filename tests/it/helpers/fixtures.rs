//! Tenants, users and tokens for tests, made through the real API.

use screenplay_api::auth::Role;
use serde_json::json;
use uuid::Uuid;

use super::TestApp;

/// A tenant with its admin.
#[derive(Clone)]
pub struct TenantFixture {
    pub id: Uuid,
    pub slug: String,
    pub admin_id: Uuid,
    pub admin_token: String,
    pub admin_password: String,
}

/// A user of a tenant with a token.
#[derive(Clone)]
pub struct UserFixture {
    pub id: Uuid,
    pub token: String,
    pub role: Role,
}

pub const PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    /// A platform admin token.
    pub fn platform_token(&self) -> String {
        self.state
            .issuer
            .issue(
                super::cluster::TEST_PLATFORM_ADMIN,
                None,
                Role::PlatformAdmin,
                std::time::Duration::from_secs(3600),
            )
            .expect("issue")
            .0
    }

    /// A token for an existing user.
    pub fn token_for(&self, tenant: Uuid, user: Uuid, role: Role) -> String {
        self.state
            .issuer
            .issue(
                &user.to_string(),
                Some(tenant),
                role,
                std::time::Duration::from_secs(3600),
            )
            .expect("issue")
            .0
    }

    /// Creates a tenant (through `createTenant`) with a random slug prefix.
    pub async fn tenant(&self, prefix: &str) -> TenantFixture {
        let slug = format!("{prefix}-{}", &Uuid::new_v4().simple().to_string()[..8]);
        let data = self
            .gql(
                Some(&self.platform_token()),
                "mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } admin { id } } }",
                json!({ "input": {
                    "slug": slug, "name": format!("Tenant {prefix}"),
                    "adminEmail": format!("admin@{prefix}.test"), "adminPassword": PASSWORD,
                }}),
            )
            .await;
        let id: Uuid = data["createTenant"]["tenant"]["id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("uuid");
        let admin_id: Uuid = data["createTenant"]["admin"]["id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("uuid");
        TenantFixture {
            id,
            slug,
            admin_id,
            admin_token: self.token_for(id, admin_id, Role::TenantAdmin),
            admin_password: PASSWORD.into(),
        }
    }

    /// Creates a user with `role` in `tenant` (through `createUser`).
    pub async fn user(&self, tenant: &TenantFixture, role: Role) -> UserFixture {
        let email = format!("{}-{}@example.test", role.as_str(), Uuid::new_v4().simple());
        let data = self
            .gql(
                Some(&tenant.admin_token),
                "mutation($input: CreateUserInput!) { createUser(input: $input) { user { id } } }",
                json!({ "input": {
                    "email": email, "displayName": role.as_str(), "password": PASSWORD,
                    "role": graphql_role(role),
                }}),
            )
            .await;
        let id: Uuid = data["createUser"]["user"]["id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("uuid");
        UserFixture {
            id,
            token: self.token_for(tenant.id, id, role),
            role,
        }
    }

    /// Creates a workspace in `tenant`; returns its id.
    pub async fn workspace(&self, tenant: &TenantFixture, name: &str) -> Uuid {
        let data = self
            .gql(
                Some(&tenant.admin_token),
                "mutation($input: CreateWorkspaceInput!) { createWorkspace(input: $input) { workspace { id } } }",
                json!({ "input": { "name": name, "slug": format!("ws-{}", &Uuid::new_v4().simple().to_string()[..8]) } }),
            )
            .await;
        data["createWorkspace"]["workspace"]["id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("uuid")
    }
}

/// The GraphQL enum value of a tenant role.
pub fn graphql_role(role: Role) -> &'static str {
    match role {
        Role::PlatformAdmin => "PLATFORM_ADMIN",
        Role::TenantAdmin => "TENANT_ADMIN",
        Role::Member => "MEMBER",
        Role::Viewer => "VIEWER",
        Role::Agent => "AGENT",
    }
}
