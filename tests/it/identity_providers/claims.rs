//! Token shapes of Auth0, Keycloak, Entra ID and Cognito, each read through
//! its claim mapping into the right caller; shapes that do not fit are
//! refused with `UNAUTHENTICATED` and a reason.

use screenplay_api::auth::Role;
use serde_json::json;
use uuid::Uuid;

use super::{Idp, assert_me};

const AUTH0_ISSUER: &str = "https://screenplay-test.eu.auth0.com/";
const AUTH0_AUDIENCE: &str = "https://api.screenplay.example";

#[tokio::test]
async fn auth0_namespaced_claims() {
    let idp = Idp::start(&[
        "--jwt-claims-namespace",
        "https://screenplay.example/",
        "--jwt-issuer",
        AUTH0_ISSUER,
        "--jwt-audience",
        AUTH0_AUDIENCE,
    ])
    .await;
    let fx = idp.app.tenant("auth0").await;
    let user = idp.sso_user(&fx, Role::Member, "auth0|64f1c2a9e1b2").await;
    // What an Auth0 post-login Action adds to an access token.
    let token = |extra: serde_json::Value| {
        let mut claims = json!({
            "iss": AUTH0_ISSUER, "sub": "auth0|64f1c2a9e1b2",
            "aud": [AUTH0_AUDIENCE, "https://screenplay-test.eu.auth0.com/userinfo"],
            "azp": "kT3xUq9client", "scope": "openid profile email",
            "https://screenplay.example/tid": fx.id.to_string(),
            "https://screenplay.example/role": "member",
        });
        claims
            .as_object_mut()
            .expect("object")
            .extend(extra.as_object().expect("object").clone());
        claims
    };

    let me = idp.me(token(json!({}))).await;
    assert_me(&me, "MEMBER", &fx, user);
    assert_eq!(me["subject"], "auth0|64f1c2a9e1b2");

    // Top-level `tid` / `role` are not where this provider keeps them.
    let plain = json!({
        "iss": AUTH0_ISSUER, "sub": "auth0|64f1c2a9e1b2", "aud": AUTH0_AUDIENCE,
        "tid": fx.id.to_string(), "role": "member",
    });
    let why = idp.refused(plain).await;
    assert!(why.contains("/https:~1~1screenplay.example~1role"), "{why}");
    // The namespace's tenant must be a tenant id.
    let why = idp
        .refused(token(json!({ "https://screenplay.example/tid": "acme" })))
        .await;
    assert!(why.contains("not a tenant id"), "{why}");
    // Another audience is still refused after mapping is configured.
    let why = idp.refused(token(json!({ "aud": "https://other.example" }))).await;
    assert_eq!(why, "token audience not accepted");
    assert_eq!(idp.provider.fetches(), 1, "keys are fetched at start, not per token");
}

const KEYCLOAK_ISSUER: &str = "https://sso.screenplay.example/realms/screenplay";

/// A Keycloak access token: realm roles beside the roles Keycloak always adds.
fn keycloak(tenant: Option<Uuid>, roles: &[&str]) -> serde_json::Value {
    json!({
        "iss": KEYCLOAK_ISSUER, "sub": "5b0c6f0e-kc-user",
        "typ": "Bearer", "azp": "screenplay-web", "preferred_username": "writer",
        "tenant_id": tenant.map(|t| t.to_string()),
        "realm_access": { "roles": roles },
        "resource_access": { "account": { "roles": ["manage-account", "view-profile"] } },
    })
}

#[tokio::test]
async fn keycloak_realm_roles() {
    let idp = Idp::start(&[
        "--jwt-tenant-claim",
        "/tenant_id",
        "--jwt-role-claim",
        "/realm_access/roles",
        "--jwt-role-map",
        "screenplay-admin=tenant_admin,screenplay-writer=member,screenplay-reader=viewer,screenplay-platform=platform_admin",
    ])
    .await;
    let fx = idp.app.tenant("keycloak").await;
    let user = idp.sso_user(&fx, Role::Member, "5b0c6f0e-kc-user").await;
    let builtin = ["offline_access", "uma_authorization", "default-roles-screenplay"];

    // Writer and reader: the more privileged one, which the user row confirms.
    let roles = [&builtin[..], &["screenplay-reader", "screenplay-writer"]].concat();
    assert_me(&idp.me(keycloak(Some(fx.id), &roles)).await, "MEMBER", &fx, user);

    // With a map, only mapped values count: our own role names are not roles here.
    let why = idp
        .refused(keycloak(Some(fx.id), &[&builtin[..], &["member"]].concat()))
        .await;
    assert_eq!(why, "no recognised role in the role claim /realm_access/roles");
    // A group the user row does not hold is refused by the database check.
    let why = idp.refused(keycloak(Some(fx.id), &["screenplay-admin"])).await;
    assert!(why.contains("role changed"), "{why}");
    // A tenant role without a tenant.
    let why = idp.refused(keycloak(None, &["screenplay-writer"])).await;
    assert_eq!(why, "a member token must name its tenant (/tenant_id)");

    // The platform role, without a tenant, is a platform admin, as with our
    // own tokens, once its issuer and subject are on the platform admin list.
    let platform = keycloak(None, &[&builtin[..], &["screenplay-platform"]].concat());
    assert_eq!(idp.refused(platform.clone()).await, "not a platform admin");
    crate::helpers::cluster::add_platform_admin_of(&idp.app.db.owner_url, KEYCLOAK_ISSUER, "5b0c6f0e-kc-user").await;
    // Another issuer's token for the same subject is still not one.
    let mut other = platform.clone();
    other["iss"] = json!("https://evil.example/realms/screenplay");
    assert_eq!(idp.refused(other).await, "not a platform admin");
    // Nor is a token valid for longer than SCREENPLAY_PLATFORM_TOKEN_MAX_TTL (12 h).
    let mut long = platform.clone();
    long["exp"] = json!(chrono::Utc::now().timestamp() + 13 * 3600);
    assert!(idp.refused(long).await.contains("SCREENPLAY_PLATFORM_TOKEN_MAX_TTL"));
    let me = idp.me(platform).await;
    assert_eq!(me["role"], "PLATFORM_ADMIN");
    assert!(me["tenant"].is_null() && me["user"].is_null(), "{me}");
    let why = idp
        .refused(keycloak(None, &["screenplay-platform", "screenplay-admin"]))
        .await;
    assert!(why.contains("together with another role"), "{why}");
}

#[tokio::test]
async fn entra_id_app_roles() {
    let idp = Idp::start(&[
        "--jwt-tenant-claim",
        "/extension_screenplayTenant",
        "--jwt-role-claim",
        "/roles",
        "--jwt-subject-claim",
        "/oid",
        "--jwt-role-map",
        "Screenplay.Admin=tenant_admin,Screenplay.Writer=member,Screenplay.Reader=viewer,Screenplay.Agent=agent",
    ])
    .await;
    let fx = idp.app.tenant("entra").await;
    let oid = Uuid::new_v4().to_string();
    let agent = idp.sso_user(&fx, Role::Agent, &oid).await;
    // `tid` is the Entra directory, not our tenant; `sub` is pairwise per app.
    let token = |roles: &[&str]| {
        json!({
            "iss": "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
            "aud": "api://screenplay", "ver": "2.0",
            "tid": Uuid::new_v4().to_string(), "oid": oid, "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
            "azp": "6e74172b-be56-4843-9ff4-e66a39bb12e3", "roles": roles,
            "extension_screenplayTenant": fx.id.to_string(),
        })
    };

    let me = idp.me(token(&["Screenplay.Agent", "Directory.Read"])).await;
    assert_me(&me, "AGENT", &fx, agent);
    assert_eq!(me["subject"], oid);

    // An agent is a service account: next to a human role it is ambiguous.
    let why = idp.refused(token(&["Screenplay.Agent", "Screenplay.Writer"])).await;
    assert_eq!(
        why,
        "platform_admin or agent together with another role in the role claim /roles"
    );
}

#[tokio::test]
async fn cognito_groups() {
    let idp = Idp::start(&[
        "--jwt-tenant-claim",
        "/custom:tenant_id",
        "--jwt-role-claim",
        "/cognito:groups",
        "--jwt-role-map",
        "admins=tenant_admin,writers=member,readers=viewer",
    ])
    .await;
    let fx = idp.app.tenant("cognito").await;
    let sub = Uuid::new_v4().to_string();
    let viewer = idp.sso_user(&fx, Role::Viewer, &sub).await;
    let token = |groups: serde_json::Value| {
        json!({
            "iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab12Cd34E",
            "sub": sub, "aud": "3n4b5urk1ft4fl3mg5e62d9ado", "token_use": "id",
            "cognito:username": "reader", "cognito:groups": groups,
            "custom:tenant_id": fx.id.to_string(), "email": "reader@example.test",
        })
    };

    assert_me(&idp.me(token(json!(["readers"]))).await, "VIEWER", &fx, viewer);
    // A single group as a string reads the same.
    assert_me(&idp.me(token(json!("readers"))).await, "VIEWER", &fx, viewer);

    let why = idp.refused(token(json!(["guests"]))).await;
    assert_eq!(why, "no recognised role in the role claim /cognito:groups");
    let why = idp.refused(token(json!({ "readers": true }))).await;
    assert_eq!(why, "the role claim /cognito:groups must be a string or an array");
    let why = idp.refused(token(json!(["readers", 7]))).await;
    assert_eq!(why, "the role claim /cognito:groups must hold strings");
    // A user the tenant does not know.
    let mut stranger = token(json!(["readers"]));
    stranger["sub"] = json!(Uuid::new_v4().to_string());
    assert_eq!(idp.refused(stranger).await, "user does not exist");
}
