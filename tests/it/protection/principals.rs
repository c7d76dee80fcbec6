//! Access that ends at once: a sign-in after logout, a platform admin
//! disabled, removed or with its tokens revoked, a platform token that lives
//! too long; over HTTP and in a websocket's `connection_init`.

use std::time::Duration;

use screenplay_api::{
    auth::Role,
    service::platform_admins::{self, Change},
};
use serde_json::{Value, json};

use crate::helpers::{JWT_SECRET, TestApp, error_code, fixtures::PASSWORD, ws::WsClient};

const ME: &str = "{ me { role } }";
const LOGIN: &str = "mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken } }";
const REFRESH: &str = "mutation($input: RefreshTokenInput!) { refreshToken(input: $input) { refreshToken } }";
const LOGOUT: &str = "mutation($input: LogoutInput!) { logout(input: $input) { ok } }";

/// `(code, message)` of the first error of `{ me }` with `token`.
async fn refusal(app: &TestApp, token: &str) -> (Option<String>, String) {
    let (_, body) = app.post(Some(token), ME, json!({})).await;
    let message = body["errors"][0]["message"].as_str().unwrap_or_default().to_owned();
    (error_code(&body), message)
}

/// What the server answers a `connection_init` carrying `token`.
async fn ws_init(app: &TestApp, token: &str) -> Value {
    let mut socket = WsClient::open(app.addr).await;
    socket.init(json!({ "Authorization": format!("Bearer {token}") })).await
}

async fn sign_in(app: &TestApp, slug: &str, email: &str) -> (String, String) {
    let data = app
        .gql(
            None,
            LOGIN,
            json!({ "input": { "tenantSlug": slug, "email": email, "password": PASSWORD } }),
        )
        .await;
    let field = |name: &str| data["login"][name].as_str().expect(name).to_owned();
    (field("accessToken"), field("refreshToken"))
}

#[tokio::test]
async fn logout_ends_the_access_token_of_that_sign_in_at_once() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("bye").await;
    let (access, refresh) = sign_in(&app, &fx.slug, "admin@bye.test").await;
    let (other_access, _) = sign_in(&app, &fx.slug, "admin@bye.test").await;

    // Rotating the refresh token keeps the sign-in, and its access token, alive.
    let rotated = app
        .gql(None, REFRESH, json!({ "input": { "refreshToken": refresh } }))
        .await["refreshToken"]["refreshToken"]
        .as_str()
        .expect("rotated")
        .to_owned();
    assert_eq!(
        app.gql(Some(&access), ME, json!({})).await["me"]["role"],
        "TENANT_ADMIN"
    );
    assert_eq!(ws_init(&app, &access).await["type"], "connection_ack");

    let out = app
        .gql(None, LOGOUT, json!({ "input": { "refreshToken": rotated } }))
        .await;
    assert_eq!(out["logout"]["ok"], true);
    let (code, message) = refusal(&app, &access).await;
    assert_eq!(code.as_deref(), Some("UNAUTHENTICATED"), "{message}");
    assert!(message.contains("sign-in ended"), "{message}");
    let frame = ws_init(&app, &access).await;
    assert_eq!(
        (frame["type"].as_str(), frame["code"].as_u64()),
        (Some("close"), Some(4403)),
        "{frame}"
    );
    assert!(
        frame["reason"].as_str().is_some_and(|r| r.contains("sign-in ended")),
        "{frame}"
    );

    // Another sign-in of the same user is not affected.
    assert_eq!(
        app.gql(Some(&other_access), ME, json!({})).await["me"]["role"],
        "TENANT_ADMIN"
    );
}

fn platform_token(app: &TestApp, subject: &str, ttl: Duration) -> String {
    app.state
        .issuer
        .issue(subject, None, Role::PlatformAdmin, ttl)
        .expect("issue")
        .0
}

/// A platform token signed with the test secret, outside our issuer's rules.
fn hand_signed_platform_token(subject: &str, ttl: Duration) -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let claims = json!({ "sub": subject, "role": "platform_admin", "iat": now, "exp": now + ttl.as_secs() });
    let key = EncodingKey::from_secret(JWT_SECRET.as_bytes());
    encode(&Header::new(Algorithm::HS256), &claims, &key).expect("sign")
}

async fn change(app: &TestApp, subject: &str, what: Change) {
    let tx = app.state.db.begin_platform().await.expect("begin");
    platform_admins::change(&tx, "", subject, what).await.expect("change");
    tx.commit().await.expect("commit");
}

#[tokio::test]
async fn platform_admins_are_rows_that_can_be_disabled_and_revoked_at_once() {
    let app = TestApp::spawn().await;
    let hour = Duration::from_secs(3600);

    // A valid signature is not enough: the subject must be a platform admin.
    let stranger = platform_token(&app, "stranger", hour);
    assert_eq!(refusal(&app, &stranger).await.1, "not a platform admin");
    assert_eq!(ws_init(&app, &stranger).await["code"], 4403);

    let tx = app.state.db.begin_platform().await.expect("begin");
    platform_admins::add(&tx, "", "ops", Some("Ops")).await.expect("add");
    let again = platform_admins::add(&tx, "", "ops", None).await;
    assert!(again.is_err(), "a second `ops` is a conflict");
    tx.commit().await.expect("commit");
    let token = platform_token(&app, "ops", hour);
    assert_eq!(
        app.gql(Some(&token), ME, json!({})).await["me"]["role"],
        "PLATFORM_ADMIN"
    );
    assert_eq!(ws_init(&app, &token).await["type"], "connection_ack");

    // A token longer than SCREENPLAY_PLATFORM_TOKEN_MAX_TTL (12 h) is refused.
    // Our issuer will not make one; one signed by hand is refused on use.
    let thirteen = Duration::from_secs(13 * 3600);
    let issued = app.state.issuer.issue("ops", None, Role::PlatformAdmin, thirteen);
    let why = issued.expect_err("a 13 h platform token is not issued").to_string();
    assert!(why.contains("SCREENPLAY_PLATFORM_TOKEN_MAX_TTL"), "{why}");
    let long = hand_signed_platform_token("ops", thirteen);
    let (_, message) = refusal(&app, &long).await;
    assert!(message.contains("SCREENPLAY_PLATFORM_TOKEN_MAX_TTL"), "{message}");

    change(&app, "ops", Change::Disable).await;
    assert_eq!(refusal(&app, &token).await.1, "platform admin is disabled");
    change(&app, "ops", Change::Enable).await;
    assert_eq!(
        app.gql(Some(&token), ME, json!({})).await["me"]["role"],
        "PLATFORM_ADMIN"
    );

    // Revoking ends every token issued until now (the second of the
    // revocation included); tokens issued later work.
    change(&app, "ops", Change::RevokeTokens).await;
    let (code, message) = refusal(&app, &token).await;
    assert_eq!(code.as_deref(), Some("UNAUTHENTICATED"));
    assert!(message.contains("revoked"), "{message}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let fresh = platform_token(&app, "ops", hour);
    assert_eq!(
        app.gql(Some(&fresh), ME, json!({})).await["me"]["role"],
        "PLATFORM_ADMIN"
    );

    change(&app, "ops", Change::Remove).await;
    assert_eq!(refusal(&app, &fresh).await.1, "not a platform admin");
    // The test suite's own platform admin is untouched.
    assert_eq!(
        app.gql(Some(&app.platform_token()), ME, json!({})).await["me"]["role"],
        "PLATFORM_ADMIN"
    );
}
