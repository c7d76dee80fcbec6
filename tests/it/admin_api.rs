//! The tenant, user and workspace API: happy paths, bad input, conflicts,
//! pagination.

use screenplay_api::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, fixtures::PASSWORD, scalar_i64};

const CREATE_TENANT: &str = "mutation($i: CreateTenantInput!) { createTenant(input: $i) { tenant { id slug plan limits { requestsPerMinute maxDocuments } } admin { email role } } }";

fn field(body: &Value) -> (String, String) {
    (
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body["errors"][0]["extensions"]["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test]
async fn tenants_are_created_changed_listed_and_deleted() {
    let app = TestApp::spawn().await;
    let platform = app.platform_token();
    let input = |slug: &str| {
        json!({ "i": { "slug": slug, "name": "Acme Films", "plan": "PRO", "adminEmail": "boss@acme.test",
                       "adminPassword": PASSWORD, "limits": { "requestsPerMinute": 600, "maxDocuments": 1000 } } })
    };
    let data = app.gql(Some(&platform), CREATE_TENANT, input("acme")).await;
    let tenant = &data["createTenant"]["tenant"];
    assert_eq!(tenant["plan"], "PRO");
    assert_eq!(tenant["limits"]["requestsPerMinute"], 600);
    assert_eq!(data["createTenant"]["admin"]["role"], "TENANT_ADMIN");
    let id = tenant["id"].as_str().expect("id").to_owned();

    // Bad input names the field; nothing is written.
    let owner = app.owner().await;
    let tenants_before = scalar_i64(&owner, "SELECT count(*) FROM screenplay.tenants").await;
    let cases = [
        (json!({ "slug": "acme" }), "CONFLICT", ""),
        (json!({ "slug": "Not A Slug" }), "BAD_USER_INPUT", "slug"),
        (json!({ "adminPassword": "short" }), "BAD_USER_INPUT", "adminPassword"),
        (json!({ "adminEmail": "nope" }), "BAD_USER_INPUT", "adminEmail"),
        (json!({ "name": "  " }), "BAD_USER_INPUT", "name"),
        (
            json!({ "limits": { "requestsPerMinute": 0 } }),
            "BAD_USER_INPUT",
            "limits.requestsPerMinute",
        ),
        (json!({ "settings": [1, 2] }), "BAD_USER_INPUT", "settings"),
    ];
    for (patch, code, name) in cases {
        let mut vars = input("fresh-slug");
        for (k, v) in patch.as_object().expect("object") {
            vars["i"][k] = v.clone();
        }
        let (_, body) = app.post(Some(&platform), CREATE_TENANT, vars).await;
        let (got_code, got_field) = field(&body);
        assert_eq!(got_code, code, "{patch}: {body}");
        if !name.is_empty() {
            assert_eq!(got_field, name, "{patch}: {body}");
        }
    }
    assert_eq!(
        scalar_i64(&owner, "SELECT count(*) FROM screenplay.tenants").await,
        tenants_before
    );

    // Limits: omitted keeps, null removes, a value sets.
    let data = app
        .gql(
            Some(&platform),
            "mutation($i: UpdateTenantInput!) { updateTenant(input: $i) { tenant { name plan limits { requestsPerMinute maxDocuments llmTokensPerDay } } } }",
            json!({ "i": { "id": id, "name": "Acme Pictures", "plan": "ENTERPRISE",
                           "limits": { "requestsPerMinute": null, "llmTokensPerDay": 50000 } } }),
        )
        .await;
    let t = &data["updateTenant"]["tenant"];
    assert_eq!(t["name"], "Acme Pictures");
    assert_eq!(t["plan"], "ENTERPRISE");
    assert!(t["limits"]["requestsPerMinute"].is_null());
    assert_eq!(t["limits"]["maxDocuments"], 1000);
    assert_eq!(t["limits"]["llmTokensPerDay"], 50000);

    // Pagination: newest first, capped page size, cursors both ways.
    for slug in ["page-a", "page-b", "page-c"] {
        app.gql(Some(&platform), CREATE_TENANT, input(slug)).await;
    }
    let page = "query($first: Int, $after: String, $last: Int, $before: String) { tenants(first: $first, after: $after, last: $last, before: $before) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor startCursor } edges { node { slug } } } }";
    let first = app.gql(Some(&platform), page, json!({ "first": 2 })).await;
    let slugs = |v: &Value| -> Vec<String> {
        v["tenants"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"]["slug"].as_str().expect("slug").to_owned())
            .collect()
    };
    assert_eq!(first["tenants"]["totalCount"], 4);
    assert_eq!(slugs(&first), ["page-c", "page-b"]);
    assert_eq!(first["tenants"]["pageInfo"]["hasNextPage"], true);
    let next = app
        .gql(
            Some(&platform),
            page,
            json!({ "first": 2, "after": first["tenants"]["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(slugs(&next), ["page-a", "acme"]);
    assert_eq!(next["tenants"]["pageInfo"]["hasNextPage"], false);
    let back = app
        .gql(
            Some(&platform),
            page,
            json!({ "last": 1, "before": next["tenants"]["pageInfo"]["startCursor"] }),
        )
        .await;
    assert_eq!(slugs(&back), ["page-b"]);
    let (_, body) = app.post(Some(&platform), page, json!({ "first": 1000 })).await;
    assert_eq!(field(&body), ("BAD_USER_INPUT".into(), "first".into()));
    let (_, body) = app
        .post(Some(&platform), page, json!({ "after": "not-a-cursor" }))
        .await;
    assert_eq!(field(&body), ("BAD_USER_INPUT".into(), "after".into()));

    // Deleting a tenant removes everything it owns.
    let fx = app.tenant("doomed").await;
    app.user(&fx, Role::Member).await;
    app.workspace(&fx, "doomed ws").await;
    let audited = scalar_i64(
        &owner,
        &format!(
            "SELECT count(*) FROM screenplay.audit_logs WHERE tenant_id = '{}'",
            fx.id
        ),
    )
    .await;
    assert!(audited > 0, "the tenant's mutations were audited");
    let data = app
        .gql(
            Some(&platform),
            "mutation($id: UUID!) { deleteTenant(id: $id) { deletedTenantId } }",
            json!({ "id": fx.id }),
        )
        .await;
    assert_eq!(data["deleteTenant"]["deletedTenantId"], fx.id.to_string());
    for table in ["users", "workspaces", "refresh_tokens", "audit_logs"] {
        let left = scalar_i64(
            &owner,
            &format!("SELECT count(*) FROM screenplay.{table} WHERE tenant_id = '{}'", fx.id),
        )
        .await;
        assert_eq!(left, 0, "{table} kept rows of a deleted tenant");
    }
    let (_, body) = app
        .post(
            Some(&platform),
            "query($id: UUID!) { tenant(id: $id) { id } }",
            json!({ "id": fx.id }),
        )
        .await;
    assert!(
        body.get("errors").is_none() && body["data"]["tenant"].is_null(),
        "{body}"
    );
}

#[tokio::test]
async fn users_and_workspaces_are_managed_by_tenant_admins() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("team").await;
    let admin = fx.admin_token.clone();
    let create_user =
        "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id email role status hasPassword } } }";

    let data = app
        .gql(Some(&admin), create_user, json!({ "i": { "email": "Writer@Team.test", "displayName": "Writer", "password": PASSWORD, "role": "MEMBER" } }))
        .await;
    let writer = data["createUser"]["user"]["id"].as_str().expect("id").to_owned();
    assert_eq!(data["createUser"]["user"]["hasPassword"], true);
    // An agent service account has no password.
    let data = app
        .gql(
            Some(&admin),
            create_user,
            json!({ "i": { "email": "bot@team.test", "displayName": "Bot", "role": "AGENT" } }),
        )
        .await;
    assert_eq!(data["createUser"]["user"]["hasPassword"], false);

    let (_, body) = app
        .post(
            Some(&admin),
            create_user,
            json!({ "i": { "email": "writer@team.TEST", "displayName": "Dup", "role": "MEMBER" } }),
        )
        .await;
    assert_eq!(field(&body).0, "CONFLICT", "emails are unique regardless of case");
    let (_, body) = app
        .post(
            Some(&admin),
            create_user,
            json!({ "i": { "email": "bad", "displayName": "X", "role": "MEMBER" } }),
        )
        .await;
    assert_eq!(field(&body), ("BAD_USER_INPUT".into(), "email".into()));
    let (_, body) = app
        .post(
            Some(&admin),
            create_user,
            json!({ "i": { "email": "x@team.test", "displayName": "X", "role": "MEMBER", "password": "short" } }),
        )
        .await;
    assert_eq!(field(&body), ("BAD_USER_INPUT".into(), "password".into()));
    let (_, body) = app
        .post(
            Some(&admin),
            create_user,
            json!({ "i": { "email": "x@team.test", "displayName": "X", "role": "PLATFORM_ADMIN" } }),
        )
        .await;
    assert_eq!(
        field(&body).0,
        "GRAPHQL_VALIDATION_FAILED",
        "platform_admin is not a tenant role: {body}"
    );

    // The last active tenant admin can be neither demoted nor disabled.
    let (_, body) = app
        .post(
            Some(&admin),
            "mutation($i: UpdateUserInput!) { updateUser(input: $i) { user { role } } }",
            json!({ "i": { "id": fx.admin_id, "role": "MEMBER" } }),
        )
        .await;
    assert_eq!(field(&body).0, "CONFLICT");
    let (_, body) = app
        .post(
            Some(&admin),
            "mutation($id: UUID!) { disableUser(id: $id) { user { id } } }",
            json!({ "id": fx.admin_id }),
        )
        .await;
    assert_eq!(field(&body).0, "CONFLICT");
    // With a second admin, demotion works.
    app.gql(
        Some(&admin),
        "mutation($i: UpdateUserInput!) { updateUser(input: $i) { user { role } } }",
        json!({ "i": { "id": writer, "role": "TENANT_ADMIN" } }),
    )
    .await;
    let data = app
        .gql(
            Some(&admin),
            "mutation($i: UpdateUserInput!) { updateUser(input: $i) { user { role displayName } } }",
            json!({ "i": { "id": writer, "role": "VIEWER", "displayName": "Reader" } }),
        )
        .await;
    assert_eq!(data["updateUser"]["user"]["role"], "VIEWER");

    let data = app
        .gql(
            Some(&admin),
            "query($role: UserRole) { users(role: $role) { totalCount } }",
            json!({ "role": "AGENT" }),
        )
        .await;
    assert_eq!(data["users"]["totalCount"], 1);

    // Workspaces: slug from the name, unique per tenant, archive.
    let create_ws = "mutation($i: CreateWorkspaceInput!) { createWorkspace(input: $i) { workspace { id slug status description settings } } }";
    let data = app
        .gql(Some(&admin), create_ws, json!({ "i": { "name": "Noir Project!", "description": "Rain", "settings": { "search": { "mode": "HYBRID" } } } }))
        .await;
    let ws = &data["createWorkspace"]["workspace"];
    assert_eq!(ws["slug"], "noir-project");
    assert_eq!(ws["settings"]["search"]["mode"], "HYBRID");
    let ws_id = ws["id"].as_str().expect("id").to_owned();
    // The same name again: the next free slug.
    let data = app
        .gql(Some(&admin), create_ws, json!({ "i": { "name": "Noir Project" } }))
        .await;
    assert_eq!(data["createWorkspace"]["workspace"]["slug"], "noir-project-2");
    // Names in any script get a readable slug; a slug asked for and taken is
    // refused, naming it.
    let data = app
        .gql(Some(&admin), create_ws, json!({ "i": { "name": "剧本工作室" } }))
        .await;
    assert_eq!(data["createWorkspace"]["workspace"]["slug"], "ju-ben-gong-zuo-shi");
    let (_, body) = app
        .post(
            Some(&admin),
            create_ws,
            json!({ "i": { "name": "Other", "slug": "noir-project" } }),
        )
        .await;
    assert_eq!(field(&body).0, "CONFLICT");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("`noir-project`") && message.contains("`slug`"),
        "{message}"
    );
    let (_, body) = app
        .post(
            Some(&admin),
            create_ws,
            json!({ "i": { "name": "x", "slug": "No Good" } }),
        )
        .await;
    assert_eq!(field(&body), ("BAD_USER_INPUT".into(), "slug".into()));

    let data = app
        .gql(
            Some(&admin),
            "mutation($i: UpdateWorkspaceInput!) { updateWorkspace(input: $i) { workspace { name description } } }",
            json!({ "i": { "id": ws_id, "name": "Noir", "description": null } }),
        )
        .await;
    assert_eq!(data["updateWorkspace"]["workspace"]["name"], "Noir");
    assert!(data["updateWorkspace"]["workspace"]["description"].is_null());
    let data = app
        .gql(
            Some(&admin),
            "mutation($id: UUID!) { archiveWorkspace(id: $id) { workspace { status } } }",
            json!({ "id": ws_id }),
        )
        .await;
    assert_eq!(data["archiveWorkspace"]["workspace"]["status"], "ARCHIVED");
    let data = app
        .gql(Some(&admin), "{ active: workspaces(status: ACTIVE) { totalCount } archived: workspaces(status: ARCHIVED) { totalCount } }", json!({}))
        .await;
    assert_eq!(data["active"]["totalCount"], 2);
    assert_eq!(data["archived"]["totalCount"], 1);
}
