//! External identity providers: where their tokens keep tenant, role and
//! subject (claim mapping), and their keys fetched in the background.

mod claims;
mod config;
mod jwks;

use screenplay_api::auth::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    TestApp, error_code,
    fixtures::{TenantFixture, graphql_role},
    idp::{IdpKey, JwksServer, jwks},
    tempdir,
};

const ME: &str = "{ me { subject role user { id } tenant { id } } }";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A server trusting a test identity provider, whose JWKS it fetches over HTTP.
pub struct Idp {
    pub key: IdpKey,
    pub provider: JwksServer,
    pub app: TestApp,
}

impl Idp {
    /// A provider with one key, and a server started with `flags` besides `--jwt-jwks`.
    pub async fn start(flags: &[&str]) -> Self {
        let key = IdpKey::generate(&tempdir(), "idp-key-1");
        let provider = JwksServer::start(jwks(&[&key])).await;
        let mut args = vec!["--jwt-jwks", provider.url.as_str()];
        args.extend_from_slice(flags);
        let app = TestApp::spawn_with(&args).await;
        Self { key, provider, app }
    }

    /// A user of `tenant` who signs in at the provider as `subject` (no password).
    pub async fn sso_user(&self, tenant: &TenantFixture, role: Role, subject: &str) -> Uuid {
        let data = self
            .app
            .gql(
                Some(&tenant.admin_token),
                "mutation($input: CreateUserInput!) { createUser(input: $input) { user { id } } }",
                json!({ "input": {
                    "email": format!("{}@sso.test", Uuid::new_v4().simple()), "displayName": subject,
                    "role": graphql_role(role), "externalSubject": subject,
                }}),
            )
            .await;
        data["createUser"]["user"]["id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("uuid")
    }

    /// `me` for a provider token with `claims` (plus fresh `iat` / `exp`).
    pub async fn me(&self, claims: Value) -> Value {
        self.app.gql(Some(&self.token(claims)), ME, json!({})).await["me"].clone()
    }

    /// The message of the `UNAUTHENTICATED` error a token with `claims` gets.
    pub async fn refused(&self, claims: Value) -> String {
        let (_, body) = self.app.post(Some(&self.token(claims)), ME, json!({})).await;
        assert_eq!(error_code(&body).as_deref(), Some("UNAUTHENTICATED"), "{body:#}");
        body["errors"][0]["message"].as_str().expect("message").to_owned()
    }

    pub fn token(&self, mut claims: Value) -> String {
        let object = claims.as_object_mut().expect("claims object");
        object.entry("iat").or_insert(json!(now()));
        object.entry("exp").or_insert(json!(now() + 600));
        self.key.sign(&claims)
    }
}

/// What `me` should say: role, tenant and user.
pub fn assert_me(me: &Value, role: &str, tenant: &TenantFixture, user: Uuid) {
    assert_eq!(me["role"], role, "{me}");
    assert_eq!(me["tenant"]["id"], tenant.id.to_string(), "{me}");
    assert_eq!(me["user"]["id"], user.to_string(), "{me}");
}
