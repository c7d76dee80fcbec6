//! Secrets stay out of the audit log whatever the client calls them: a
//! password in a variable with an innocent name, in an input-object
//! variable, behind a fragment, written inline, or in a document that does
//! not parse is found nowhere in `audit_logs`, in the database or through
//! `auditLogs`; variables that are no secret are kept.

use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
use screenplay_api::graphql::lifecycle::secrets::{REDACTED, is_secret_input};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp,
    audit::{audit_text, quote},
    scalar_i64,
};

/// The password of the user signing in: must appear in no audit row.
const SECRET: &str = "Canary-Pl41ntext-Passw0rd";
/// A wrong guess: no more storable than the real one.
const GUESS: &str = "Canary-Wrong-Guess-77";
/// A display name sent in a variable of its own: kept.
const KEPT: &str = "Kept Display Name";

/// POSTs `query` with `variables` under `request_id`; returns the body.
async fn send(app: &TestApp, token: Option<&str>, request_id: &str, query: &str, variables: Value) -> Value {
    let mut req = app
        .client
        .post(app.url("/graphql"))
        .header("x-request-id", request_id)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.expect("send").json().await.expect("json")
}

/// A token of a successful `login` answer.
fn token(body: &Value, field: &str) -> String {
    let token = body["data"]["login"][field].as_str();
    token.unwrap_or_else(|| panic!("not signed in: {body}")).to_owned()
}

/// Every way a client may send a password, and the tokens it got back.
async fn sign_in_every_way(app: &TestApp, slug: &str, email: &str) -> Vec<String> {
    let creds = json!({ "tenantSlug": slug, "email": email });
    let mut tokens = Vec::new();
    // An innocent variable name, beside a variable that is no secret.
    let body = send(
        app,
        None,
        "secret-named-innocently",
        "mutation LoginNamed($who: String!, $note: String!, $slug: String!) {
           login(input: {tenantSlug: $slug, email: $who, password: $note}) { accessToken refreshToken } }",
        json!({ "who": email, "note": SECRET, "slug": slug }),
    )
    .await;
    tokens.extend([token(&body, "accessToken"), token(&body, "refreshToken")]);
    // The whole input as one variable.
    let mut input = creds.clone();
    input["password"] = json!(SECRET);
    let body = send(
        app,
        None,
        "secret-in-input-object",
        "mutation LoginObject($creds: LoginInput!) { login(input: $creds) { accessToken } }",
        json!({ "creds": input }),
    )
    .await;
    tokens.push(token(&body, "accessToken"));
    // Behind a fragment, a wrong guess (a failed sign-in is audited too).
    let body = send(
        app,
        None,
        "secret-behind-fragment",
        "mutation LoginFragment($slug: String!, $who: String!, $x: String!) { ...SignIn }
         fragment SignIn on Mutation { login(input: {tenantSlug: $slug, email: $who, password: $x}) { accessToken } }",
        json!({ "slug": slug, "who": email, "x": GUESS }),
    )
    .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{body}");
    // Written into the document.
    let inline = format!(
        "mutation LoginInline {{ login(input: {{tenantSlug: {slug:?}, email: {email:?}, password: {SECRET:?}}}) {{ accessToken }} }}"
    );
    let body = send(app, None, "secret-inline", &inline, json!({})).await;
    tokens.push(token(&body, "accessToken"));
    // A document that does not parse: nothing says where the value goes.
    let body = send(
        app,
        None,
        "secret-unparsed",
        "mutation LoginBroken($p: String!) { login(input: {password: $p) { accessToken } }",
        json!({ "p": SECRET }),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "GRAPHQL_PARSE_FAILED",
        "{body}"
    );
    tokens
}

#[tokio::test]
async fn no_password_reaches_the_audit_log_whatever_its_variable_is_called() {
    let mut app = TestApp::spawn().await;
    let fx = app.tenant("secretname").await;
    let email = "canary@secret.test";
    // A tenant admin sets a password through a variable named like anything else.
    send(
        &app,
        Some(&fx.admin_token),
        "secret-create-user",
        "mutation MakeWriter($shown: String!, $opaque: String) {
           createUser(input: {email: \"canary@secret.test\", displayName: $shown, role: MEMBER, password: $opaque}) { user { id } } }",
        json!({ "shown": KEPT, "opaque": SECRET }),
    )
    .await;
    let mut needles = sign_in_every_way(&app, &fx.slug, email).await;
    // A refresh token in an innocently named variable.
    let refresh = needles[1].clone();
    let body = send(
        &app,
        None,
        "secret-refresh",
        "mutation Rotate($r: String!) { refreshToken(input: {refreshToken: $r}) { refreshToken } }",
        json!({ "r": refresh }),
    )
    .await;
    let rotated = body["data"]["refreshToken"]["refreshToken"].as_str();
    needles.push(rotated.expect("rotated").to_owned());
    needles.extend([SECRET.to_owned(), GUESS.to_owned()]);
    app.stop().await;

    let owner = app.owner().await;
    for needle in &needles {
        let sql = format!(
            "SELECT count(*) FROM screenplay.audit_logs a WHERE position({} in a::text) > 0",
            quote(needle)
        );
        assert_eq!(scalar_i64(&owner, &sql).await, 0, "a secret reached audit_logs");
    }
    let variables = |id: &'static str| {
        let app = &app;
        async move {
            let text = audit_text(app, id, "details->'variables'")
                .await
                .unwrap_or_else(|| panic!("no row {id}"));
            serde_json::from_str::<Value>(&text).expect("json")
        }
    };
    assert_eq!(
        variables("secret-named-innocently").await,
        json!({ "who": email, "note": REDACTED, "slug": fx.slug })
    );
    assert_eq!(
        variables("secret-create-user").await,
        json!({ "shown": KEPT, "opaque": REDACTED })
    );
    assert_eq!(variables("secret-in-input-object").await["creds"]["password"], REDACTED);
    assert_eq!(variables("secret-in-input-object").await["creds"]["email"], email);
    assert_eq!(variables("secret-behind-fragment").await["x"], REDACTED);
    assert_eq!(variables("secret-refresh").await, json!({ "r": REDACTED }));
    assert_eq!(variables("secret-unparsed").await, json!({ "p": REDACTED }));
    assert_eq!(variables("secret-inline").await, json!({}));

    // Through the API: the same rows, the same absence.
    let app = TestApp::spawn_on(app.db.clone(), &[]).await;
    let data = app
        .gql(
            Some(&app.platform_token()),
            "{ auditLogs(first: 100) { nodes { requestId operationName fields outcome details } } }",
            json!({}),
        )
        .await;
    let text = data.to_string();
    for needle in &needles {
        assert!(!text.contains(needle.as_str()), "auditLogs shows a secret: {text}");
    }
    let ids: Vec<&str> = data["auditLogs"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["requestId"].as_str())
        .collect();
    for id in [
        "secret-create-user",
        "secret-named-innocently",
        "secret-in-input-object",
        "secret-behind-fragment",
        "secret-inline",
        "secret-unparsed",
        "secret-refresh",
    ] {
        assert!(ids.contains(&id), "no row {id} in {ids:?}");
    }
    assert!(text.contains(KEPT), "a variable that is no secret is kept");
}

/// Whether a schema name looks like it holds a secret.
fn looks_secret(name: &str) -> bool {
    let n = name.to_lowercase();
    ["password", "secret", "credential", "apikey", "privatekey"]
        .iter()
        .any(|w| n.contains(w))
        || n.ends_with("token")
}

#[test]
fn every_secret_looking_input_of_the_schema_is_listed() {
    let sdl = std::fs::read_to_string(crate::helpers::checkout().join("schema.graphql")).expect("schema.graphql");
    let schema = async_graphql::parser::parse_schema(&sdl).expect("sdl");
    let mut inputs = Vec::new();
    for definition in &schema.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let owner = ty.node.name.node.to_string();
        match &ty.node.kind {
            TypeKind::InputObject(input) => {
                for field in &input.fields {
                    inputs.push(format!("{owner}.{}", field.node.name.node));
                }
            }
            TypeKind::Object(object) => {
                for field in &object.fields {
                    for arg in &field.node.arguments {
                        inputs.push(format!("{owner}.{}({})", field.node.name.node, arg.node.name.node));
                    }
                }
            }
            _ => {}
        }
    }
    let name = |input: &str| {
        let last = input.rsplit('.').next().unwrap_or(input);
        last.rsplit('(').next().unwrap_or(last).trim_end_matches(')').to_owned()
    };
    let secret: Vec<&String> = inputs.iter().filter(|i| looks_secret(&name(i))).collect();
    let unlisted: Vec<&&String> = secret.iter().filter(|i| !is_secret_input(&name(i))).collect();
    assert!(
        unlisted.is_empty(),
        "inputs that look secret but are not in SECRET_INPUT_FIELDS: {unlisted:?}"
    );
    for known in [
        "LoginInput.password",
        "CreateTenantInput.adminPassword",
        "LogoutInput.refreshToken",
    ] {
        assert!(
            secret.iter().any(|s| *s == known),
            "{known} not found in schema.graphql"
        );
    }
}
