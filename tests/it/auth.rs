//! Authentication: tokens (ours and an identity provider's), sign-in,
//! refresh rotation, lockout, suspended tenants and disabled users, the CLI.

use std::process::Command;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use screenplay_api::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{
    JWT_SECRET, TestApp,
    fixtures::{PASSWORD, TenantFixture},
    idp::{IdpKey, JwksServer, jwks},
    tempdir,
};

const ME: &str = "{ me { role user { id } tenant { id } } }";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn hs256(secret: &[u8], claims: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("sign")
}

fn tenant_claims(fx: &TenantFixture, extra: Value) -> Value {
    let mut claims = json!({
        "sub": fx.admin_id.to_string(), "tid": fx.id.to_string(), "role": "tenant_admin",
        "exp": now() + 600, "nbf": now() - 10, "iat": now(),
    });
    if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            if v.is_null() {
                c.remove(k);
            } else {
                c.insert(k.clone(), v.clone());
            }
        }
    }
    claims
}

#[tokio::test]
async fn refused_tokens_are_unauthenticated() {
    let dir = tempdir();
    let idp = IdpKey::generate(&dir, "rsa");
    let app = TestApp::spawn_with(&[
        "--jwt-issuer",
        "https://issuer.test",
        "--jwt-audience",
        "screenplay",
        "--jwt-public-key",
        idp.public_path.to_str().expect("path"),
    ])
    .await;
    let fx = app.tenant("jwt").await;
    let good = json!({ "iss": "https://issuer.test", "aud": "screenplay" });

    // Accepted: our HS256 token and the identity provider's RS256 token.
    let ours = hs256(JWT_SECRET.as_bytes(), &tenant_claims(&fx, good.clone()));
    assert_eq!(app.gql(Some(&ours), ME, json!({})).await["me"]["role"], "TENANT_ADMIN");
    let idp_token = idp.sign(&tenant_claims(&fx, good.clone()));
    assert_eq!(
        app.gql(Some(&idp_token), ME, json!({})).await["me"]["tenant"]["id"],
        fx.id.to_string()
    );

    let none_token = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(tenant_claims(&fx, good.clone()).to_string())
    );
    let cases: Vec<(&str, Option<String>)> = vec![
        (
            "expired",
            Some(hs256(
                JWT_SECRET.as_bytes(),
                &tenant_claims(
                    &fx,
                    json!({"iss": "https://issuer.test", "aud": "screenplay", "exp": now() - 3600}),
                ),
            )),
        ),
        (
            "not yet valid",
            Some(hs256(
                JWT_SECRET.as_bytes(),
                &tenant_claims(
                    &fx,
                    json!({"iss": "https://issuer.test", "aud": "screenplay", "nbf": now() + 3600}),
                ),
            )),
        ),
        (
            "wrong signature",
            Some(hs256(
                b"another-secret-another-secret-another-secret",
                &tenant_claims(&fx, good.clone()),
            )),
        ),
        (
            "wrong issuer",
            Some(hs256(
                JWT_SECRET.as_bytes(),
                &tenant_claims(&fx, json!({"iss": "https://evil.test", "aud": "screenplay"})),
            )),
        ),
        (
            "missing issuer",
            Some(hs256(
                JWT_SECRET.as_bytes(),
                &tenant_claims(&fx, json!({"aud": "screenplay"})),
            )),
        ),
        (
            "wrong audience",
            Some(hs256(
                JWT_SECRET.as_bytes(),
                &tenant_claims(&fx, json!({"iss": "https://issuer.test", "aud": "other"})),
            )),
        ),
        ("alg none", Some(none_token)),
        (
            "HS256 keyed with the RSA public key",
            Some(hs256(&idp.public_pem, &tenant_claims(&fx, good.clone()))),
        ),
        ("truncated", Some(ours[..ours.len() - 6].to_owned())),
        ("garbage", Some("garbage".into())),
        ("missing", None),
        (
            "unknown role",
            Some(hs256(
                JWT_SECRET.as_bytes(),
                &tenant_claims(
                    &fx,
                    json!({"iss": "https://issuer.test", "aud": "screenplay", "role": "root"}),
                ),
            )),
        ),
        (
            "tenant role without tenant",
            Some(hs256(
                JWT_SECRET.as_bytes(),
                &tenant_claims(
                    &fx,
                    json!({"iss": "https://issuer.test", "aud": "screenplay", "tid": null}),
                ),
            )),
        ),
    ];
    for (name, token) in cases {
        let code = app.gql_err(token.as_deref(), ME, json!({})).await;
        assert_eq!(code, "UNAUTHENTICATED", "{name}");
    }

    // A non-bearer scheme is refused too.
    let resp = app
        .client
        .post(app.url("/graphql"))
        .header("authorization", format!("Basic {}", URL_SAFE_NO_PAD.encode("a:b")))
        .json(&json!({ "query": ME }))
        .send()
        .await
        .expect("send");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}

#[tokio::test]
async fn identity_provider_keys_from_a_jwks() {
    let dir = tempdir();
    let key = IdpKey::generate(&dir, "key-1");
    let jwks_path = dir.join("jwks.json");
    std::fs::write(&jwks_path, jwks(&[&key]).to_string()).expect("write jwks");
    let app = TestApp::spawn_with(&["--jwt-jwks", jwks_path.to_str().expect("path")]).await;
    let fx = app.tenant("jwks").await;

    let token = key.sign(&tenant_claims(&fx, json!({})));
    assert_eq!(app.gql(Some(&token), ME, json!({})).await["me"]["role"], "TENANT_ADMIN");

    let token = key.sign_as("unknown", &tenant_claims(&fx, json!({})));
    assert_eq!(app.gql_err(Some(&token), ME, json!({})).await, "UNAUTHENTICATED");

    // The same JWKS from a URL (an identity provider's endpoint).
    let provider = JwksServer::start(jwks(&[&key])).await;
    let remote = TestApp::spawn_on(app.db.clone(), &["--jwt-jwks", &provider.url]).await;
    let token = key.sign(&tenant_claims(&fx, json!({})));
    assert_eq!(
        remote.gql(Some(&token), ME, json!({})).await["me"]["role"],
        "TENANT_ADMIN"
    );
}

const LOGIN: &str =
    "mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken expiresAt user { id email } } }";
const REFRESH: &str =
    "mutation($input: RefreshTokenInput!) { refreshToken(input: $input) { accessToken refreshToken } }";
const LOGOUT: &str = "mutation($input: LogoutInput!) { logout(input: $input) { ok } }";

async fn login(app: &TestApp, slug: &str, email: &str, password: &str) -> Value {
    let (_, body) = app
        .post(
            None,
            LOGIN,
            json!({ "input": { "tenantSlug": slug, "email": email, "password": password } }),
        )
        .await;
    body
}

#[tokio::test]
async fn login_refresh_rotation_and_reuse_detection() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("login").await;

    let body = login(&app, &fx.slug, "ADMIN@login.test", PASSWORD).await;
    let session = &body["data"]["login"];
    let access = session["accessToken"].as_str().expect("access token").to_owned();
    let refresh1 = session["refreshToken"].as_str().expect("refresh token").to_owned();
    assert_eq!(session["user"]["id"], fx.admin_id.to_string());
    assert_eq!(
        app.gql(Some(&access), ME, json!({})).await["me"]["role"],
        "TENANT_ADMIN"
    );

    // Refresh tokens are stored hashed, never as issued.
    let owner = app.owner().await;
    let stored = crate::helpers::scalar_i64(
        &owner,
        &format!(
            "SELECT count(*) FROM screenplay.refresh_tokens WHERE user_id = '{}' AND position('{}' in encode(token_hash, 'escape')) > 0",
            fx.admin_id,
            refresh1.split('.').next_back().expect("secret")
        ),
    )
    .await;
    assert_eq!(stored, 0);

    // Rotation: the new token works, the old one is now "reused".
    let rotated = app
        .gql(None, REFRESH, json!({ "input": { "refreshToken": refresh1 } }))
        .await;
    let refresh2 = rotated["refreshToken"]["refreshToken"]
        .as_str()
        .expect("new")
        .to_owned();
    assert_ne!(refresh1, refresh2);
    let refresh3 = app
        .gql(None, REFRESH, json!({ "input": { "refreshToken": refresh2 } }))
        .await["refreshToken"]["refreshToken"]
        .as_str()
        .expect("newer")
        .to_owned();

    // Reusing a rotated token revokes the whole family, including the newest.
    assert_eq!(
        app.gql_err(None, REFRESH, json!({ "input": { "refreshToken": refresh1 } }))
            .await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        app.gql_err(None, REFRESH, json!({ "input": { "refreshToken": refresh3 } }))
            .await,
        "UNAUTHENTICATED"
    );

    // Logout revokes a fresh sign-in.
    let body = login(&app, &fx.slug, "admin@login.test", PASSWORD).await;
    let refresh = body["data"]["login"]["refreshToken"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert_eq!(
        app.gql(None, LOGOUT, json!({ "input": { "refreshToken": refresh } }))
            .await["logout"]["ok"],
        true
    );
    assert_eq!(
        app.gql_err(None, REFRESH, json!({ "input": { "refreshToken": refresh } }))
            .await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        app.gql_err(None, REFRESH, json!({ "input": { "refreshToken": "rt1.nonsense" } }))
            .await,
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn login_failures_look_alike_and_repeated_ones_lock() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("lock").await;

    let unknown_email = login(&app, &fx.slug, "nobody@lock.test", PASSWORD).await;
    let wrong_password = login(&app, &fx.slug, "admin@lock.test", "wrong password!").await;
    let unknown_tenant = login(&app, "no-such-tenant", "admin@lock.test", PASSWORD).await;
    for body in [&unknown_email, &wrong_password, &unknown_tenant] {
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    }
    assert_eq!(
        unknown_email["errors"][0]["message"],
        wrong_password["errors"][0]["message"]
    );
    assert_eq!(
        unknown_email["errors"][0]["message"],
        unknown_tenant["errors"][0]["message"]
    );

    // Four more failures (five in all) lock the account: even the right password is refused.
    for _ in 0..4 {
        login(&app, &fx.slug, "admin@lock.test", "wrong password!").await;
    }
    let locked = login(&app, &fx.slug, "admin@lock.test", PASSWORD).await;
    assert_eq!(locked["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    assert_eq!(locked["errors"][0]["message"], wrong_password["errors"][0]["message"]);
    let owner = app.owner().await;
    let locked_until = crate::helpers::scalar_i64(
        &owner,
        &format!(
            "SELECT count(*) FROM screenplay.users WHERE id = '{}' AND locked_until > now() AND failed_login_count = 5",
            fx.admin_id
        ),
    )
    .await;
    assert_eq!(locked_until, 1);

    // After the lock expires the right password works and the count resets.
    sea_orm::ConnectionTrait::execute_unprepared(
        &owner,
        &format!(
            "UPDATE screenplay.users SET locked_until = now() - interval '1 second' WHERE id = '{}'",
            fx.admin_id
        ),
    )
    .await
    .expect("expire lock");
    let ok = login(&app, &fx.slug, "admin@lock.test", PASSWORD).await;
    assert!(ok["data"]["login"]["accessToken"].is_string(), "{ok}");
}

#[tokio::test]
async fn suspended_tenants_and_disabled_users_are_refused_on_the_next_request() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("susp").await;
    let member = app.user(&fx, Role::Member).await;
    assert_eq!(
        app.gql(Some(&member.token), ME, json!({})).await["me"]["role"],
        "MEMBER"
    );

    // Disabled user: its token stops working at once.
    app.gql(
        Some(&fx.admin_token),
        "mutation($id: UUID!) { disableUser(id: $id) { user { status } } }",
        json!({ "id": member.id }),
    )
    .await;
    assert_eq!(app.gql_err(Some(&member.token), ME, json!({})).await, "UNAUTHENTICATED");
    app.gql(
        Some(&fx.admin_token),
        "mutation($id: UUID!) { enableUser(id: $id) { user { status } } }",
        json!({ "id": member.id }),
    )
    .await;
    assert_eq!(
        app.gql(Some(&member.token), ME, json!({})).await["me"]["role"],
        "MEMBER"
    );

    // A demoted user's old token (claiming the old role) is refused.
    app.gql(
        Some(&fx.admin_token),
        "mutation($input: UpdateUserInput!) { updateUser(input: $input) { user { role } } }",
        json!({ "input": { "id": member.id, "role": "VIEWER" } }),
    )
    .await;
    assert_eq!(app.gql_err(Some(&member.token), ME, json!({})).await, "UNAUTHENTICATED");

    // Suspended tenant: tokens and refresh tokens stop working.
    let body = login(&app, &fx.slug, "admin@susp.test", PASSWORD).await;
    let refresh = body["data"]["login"]["refreshToken"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let platform = app.platform_token();
    let data = app
        .gql(
            Some(&platform),
            "mutation($id: UUID!) { suspendTenant(id: $id) { tenant { status } } }",
            json!({ "id": fx.id }),
        )
        .await;
    assert_eq!(data["suspendTenant"]["tenant"]["status"], "SUSPENDED");
    assert_eq!(
        app.gql_err(Some(&fx.admin_token), ME, json!({})).await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        app.gql_err(None, REFRESH, json!({ "input": { "refreshToken": refresh } }))
            .await,
        "UNAUTHENTICATED"
    );
    let body = login(&app, &fx.slug, "admin@susp.test", PASSWORD).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");

    app.gql(
        Some(&platform),
        "mutation($id: UUID!) { reactivateTenant(id: $id) { tenant { status } } }",
        json!({ "id": fx.id }),
    )
    .await;
    assert_eq!(
        app.gql(Some(&fx.admin_token), ME, json!({})).await["me"]["role"],
        "TENANT_ADMIN"
    );
}

#[tokio::test]
async fn cli_issues_tokens_and_creates_tenants() {
    let app = TestApp::spawn().await;
    let bin = env!("CARGO_BIN_EXE_screenplay");
    let run = |args: &[&str]| {
        let out = Command::new(bin)
            .args(args)
            .env("DATABASE_URL", &app.db.app_url)
            .env("SCREENPLAY_JWT_SECRET", JWT_SECRET)
            .env("SCREENPLAY_ADMIN_PASSWORD", PASSWORD)
            .output()
            .expect("run screenplay");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (ok, out, err) = run(&[
        "tenant",
        "create",
        "--slug",
        "cli-acme",
        "--name",
        "Acme",
        "--admin-email",
        "a@acme.test",
    ]);
    assert!(ok, "{err}");
    let tenant_id = out
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .expect("tenant id")
        .to_owned();

    // Platform admins are principals: no row, no token; no token longer than the maximum.
    let (ok, _, err) = run(&[
        "token",
        "issue",
        "--role",
        "platform_admin",
        "--subject",
        "ops",
        "--ttl",
        "10m",
    ]);
    assert!(!ok && err.contains("not a platform admin"), "{err}");
    let (ok, _, err) = run(&["platform-admin", "add", "--subject", "ops", "--name", "Ops"]);
    assert!(ok, "{err}");
    let (ok, list, err) = run(&["platform-admin", "list"]);
    assert!(ok && list.contains("ops"), "{list}{err}");
    let (ok, _, err) = run(&[
        "token",
        "issue",
        "--role",
        "platform_admin",
        "--subject",
        "ops",
        "--ttl",
        "36500d",
    ]);
    assert!(!ok && err.contains("SCREENPLAY_PLATFORM_TOKEN_MAX_TTL"), "{err}");
    let (ok, platform_token, err) = run(&[
        "token",
        "issue",
        "--role",
        "platform_admin",
        "--subject",
        "ops",
        "--ttl",
        "10m",
    ]);
    assert!(ok, "{err}");
    let data = app
        .gql(
            Some(&platform_token),
            "query($id: UUID!) { tenant(id: $id) { slug } }",
            json!({ "id": tenant_id }),
        )
        .await;
    assert_eq!(data["tenant"]["slug"], "cli-acme");

    // An agent service account and its long-lived token.
    let fx = app.tenant("cli").await;
    let agent = app.user(&fx, Role::Agent).await;
    let (ok, agent_token, err) = run(&[
        "token",
        "issue",
        "--tenant",
        &fx.id.to_string(),
        "--user",
        &agent.id.to_string(),
        "--role",
        "agent",
        "--ttl",
        "30d",
    ]);
    assert!(ok, "{err}");
    assert_eq!(app.gql(Some(&agent_token), ME, json!({})).await["me"]["role"], "AGENT");

    // Refused: wrong role for the user, unknown user.
    let (ok, _, err) = run(&[
        "token",
        "issue",
        "--tenant",
        &fx.id.to_string(),
        "--user",
        &agent.id.to_string(),
        "--role",
        "tenant_admin",
    ]);
    assert!(!ok && err.contains("role"), "{err}");
    let (ok, _, _) = run(&[
        "token",
        "issue",
        "--tenant",
        &fx.id.to_string(),
        "--user",
        &uuid::Uuid::new_v4().to_string(),
        "--role",
        "agent",
    ]);
    assert!(!ok);
}
