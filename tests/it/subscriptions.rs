//! Live session events over graphql-transport-ws: a real websocket client,
//! two `screenplay serve` processes on one database, commit order, auth in
//! connection_init, other tenants, shutdown; forged notifications, who may
//! connect, pruning.

use std::time::Duration;

use screenplay_api::{auth::Role, db::local::LocalUrls};
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    JWT_SECRET, TestApp, TestDb,
    audit::quote,
    cluster,
    fixtures::PASSWORD,
    process::{ServerProcess, post_to},
    scalar_i64,
    screenplay::uuid,
    ws::{WsClient, until_live},
};

const EVENTS: &str = "subscription($id: UUID!) { sessionEvents(sessionId: $id) {
    type sessionId stepId fragmentId version stepStatus previousStepStatus sessionStatus previousSessionStatus
    occurredAt fragment { content } } }";

/// A short form of an event for comparisons.
fn brief(event: &Value) -> String {
    let t = event["type"].as_str().unwrap_or("?");
    match t {
        "STEP_STATUS_CHANGED" => format!("{t} {}→{}", event["previousStepStatus"], event["stepStatus"]),
        "SESSION_STATUS_CHANGED" => format!("{t} {}→{}", event["previousSessionStatus"], event["sessionStatus"]),
        "FRAGMENT_APPENDED" | "FRAGMENT_REVISED" | "FRAGMENT_DELETED" => format!("{t} v{}", event["version"]),
        _ => t.to_owned(),
    }
}

#[tokio::test]
async fn two_server_processes_deliver_every_event_in_commit_order() {
    let app = TestApp::spawn().await;
    let s = app.studio("live").await;
    let session = app.create_session(&s.member.token, s.workspace, "Live").await;
    let one = ServerProcess::start(&app.db).await;
    let two = ServerProcess::start(&app.db).await;

    let viewer = app.user(&s.fx, Role::Viewer).await;
    let mut on_one = WsClient::connect(one.addr, &viewer.token).await;
    let mut on_two = WsClient::connect(two.addr, &s.member.token).await;
    on_one.subscribe("1", EVENTS, json!({ "id": session })).await;
    on_two.subscribe("a", EVENTS, json!({ "id": session })).await;
    let a = s.agent.token.clone();
    // Both subscriptions are live (an empty outline only says OUTLINE_CHANGED).
    let poke = || async {
        app.set_outline(&a, session, json!([])).await;
    };
    until_live(&mut [&mut on_one, &mut on_two], poke).await;

    // Writes go through process one, process two and the in-process server.
    let data = post_to(
        one.addr,
        &a,
        "mutation($i: SetOutlineInput!) { setOutline(input: $i) { outline { id } } }",
        json!({ "i": { "sessionId": session, "steps": [{ "title": "Scene 1" }, { "title": "Scene 2" }] } }),
    )
    .await;
    let step = uuid(&data["data"]["setOutline"]["outline"][0]["id"]);
    let status =
        "mutation($i: UpdateOutlineStepStatusInput!) { updateOutlineStepStatus(input: $i) { step { status } } }";
    post_to(
        two.addr,
        &a,
        status,
        json!({ "i": { "id": step, "status": "RUNNING" } }),
    )
    .await;
    let fragment = app.append(&a, session, step, "ACTION", "Rain.").await;
    post_to(
        one.addr,
        &s.member.token,
        "mutation($i: ReviseFragmentInput!) { reviseFragment(input: $i) { fragment { version } } }",
        json!({ "i": { "id": fragment, "version": 1, "content": "Heavy rain." } }),
    )
    .await;
    // A failed mutation commits nothing and sends nothing.
    let failed = post_to(
        two.addr,
        &a,
        status,
        json!({ "i": { "id": step, "status": "PENDING" } }),
    )
    .await;
    assert_eq!(failed["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    post_to(
        two.addr,
        &a,
        status,
        json!({ "i": { "id": step, "status": "FAILED", "error": "timeout" } }),
    )
    .await;

    let expected = [
        "OUTLINE_CHANGED",
        "SESSION_STATUS_CHANGED \"PLANNING\"→\"GENERATING\"",
        "STEP_STATUS_CHANGED \"PENDING\"→\"RUNNING\"",
        "FRAGMENT_APPENDED v1",
        "FRAGMENT_REVISED v2",
        "STEP_STATUS_CHANGED \"RUNNING\"→\"FAILED\"",
        "SESSION_STATUS_CHANGED \"GENERATING\"→\"FAILED\"",
    ];
    for client in [&mut on_one, &mut on_two] {
        let mut got = Vec::new();
        for _ in 0..expected.len() {
            let event = client.next_event().await;
            assert_eq!(event["sessionId"], session.to_string());
            if event["type"] == "FRAGMENT_REVISED" {
                assert_eq!(event["fragmentId"], fragment.to_string());
                assert_eq!(event["fragment"]["content"], "Heavy rain.");
            }
            got.push(brief(&event));
        }
        assert_eq!(got, expected);
    }

    // Concurrent writers on both processes: both subscribers see one and the same (commit) order.
    let mut writes = Vec::new();
    for i in 0..12 {
        let addr = if i % 2 == 0 { one.addr } else { two.addr };
        let token = a.clone();
        writes.push(tokio::spawn(async move {
            post_to(
                addr,
                &token,
                "mutation($i: AppendFragmentInput!) { appendFragment(input: $i) { fragment { id } } }",
                json!({ "i": { "sessionId": session, "stepId": step, "kind": "ACTION", "content": format!("Line {i}.") } }),
            )
            .await
        }));
    }
    for w in writes {
        let body = w.await.expect("write task");
        assert!(body.get("errors").is_none(), "{body}");
    }
    let mut orders = Vec::new();
    for client in [&mut on_one, &mut on_two] {
        let mut ids = Vec::new();
        for _ in 0..12 {
            let event = client.next_event().await;
            assert_eq!(event["type"], "FRAGMENT_APPENDED");
            ids.push(event["fragmentId"].as_str().expect("id").to_owned());
        }
        orders.push(ids);
    }
    assert_eq!(orders[0], orders[1]);
    // Commit order is also position order (appends to one step serialize on it).
    let data = app
        .gql(
            Some(&a),
            "query($id: UUID!) { session(id: $id) { outline { fragments { id } } } }",
            json!({ "id": session }),
        )
        .await;
    let positions: Vec<String> = data["session"]["outline"][0]["fragments"]
        .as_array()
        .expect("fragments")
        .iter()
        .skip(1)
        .map(|f| f["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(orders[0], positions);

    // Deleting the session ends the subscription.
    post_to(
        one.addr,
        &s.member.token,
        "mutation($id: UUID!) { deleteSession(id: $id) { deletedSessionId } }",
        json!({ "id": session }),
    )
    .await;
    loop {
        let event = on_two.next_event().await;
        if event["type"] == "SESSION_DELETED" {
            break;
        }
        assert_eq!(event["type"], "FRAGMENT_DELETED");
    }
    let frame = on_two.next(Duration::from_secs(5)).await.expect("complete");
    assert_eq!(frame["type"], "complete", "{frame}");

    assert!(one.stop().await.success());
    assert!(two.stop().await.success());
}

#[tokio::test]
async fn subscribers_are_authenticated_and_kept_to_their_tenant() {
    let app = TestApp::spawn().await;
    let a = app.studio("wsa").await;
    let b = app.studio("wsb").await;
    let session = app.create_session(&a.member.token, a.workspace, "A's").await;

    // No token, a bad token: the connection is refused (4403).
    let mut client = WsClient::open(app.addr).await;
    let frame = client.init(json!({})).await;
    assert_eq!(frame["type"], "close");
    assert_eq!(frame["code"], 4403, "{frame}");
    let mut client = WsClient::open(app.addr).await;
    let frame = client.init(json!({ "Authorization": "Bearer not-a-token" })).await;
    assert_eq!(frame["code"], 4403, "{frame}");
    // Subscribing before the handshake: 4401.
    let mut client = WsClient::open(app.addr).await;
    client.subscribe("1", EVENTS, json!({ "id": session })).await;
    let frame = client.next(Duration::from_secs(5)).await.expect("close");
    assert_eq!(frame["code"], 4401, "{frame}");

    // Another tenant's session is NOT_FOUND, like a missing one.
    let mut client = WsClient::connect(app.addr, &b.fx.admin_token).await;
    for (id, target) in [("1", session), ("2", Uuid::new_v4())] {
        client.subscribe(id, EVENTS, json!({ "id": target })).await;
        let payload = client.next_payload().await;
        assert_eq!(payload["errors"][0]["extensions"]["code"], "NOT_FOUND", "{payload}");
        let frame = client.next(Duration::from_secs(5)).await.expect("complete");
        assert_eq!(frame["type"], "complete");
    }
    // B subscribed to its own session hears nothing of A's writes.
    let b_session = app.create_session(&b.member.token, b.workspace, "B's").await;
    client.subscribe("3", EVENTS, json!({ "id": b_session })).await;
    until_live(&mut [&mut client], || async {
        app.set_outline(&b.agent.token, b_session, json!([])).await;
    })
    .await;
    app.set_outline(&a.agent.token, session, json!([{ "title": "A only" }]))
        .await;
    client.assert_quiet(Duration::from_millis(800)).await;

    // Platform admins have no tenant content.
    let mut admin = WsClient::connect(app.addr, &app.platform_token()).await;
    admin.subscribe("1", EVENTS, json!({ "id": session })).await;
    let payload = admin.next_payload().await;
    assert_eq!(payload["errors"][0]["extensions"]["code"], "FORBIDDEN", "{payload}");

    // A disabled user's token is refused in connection_init (the database is asked).
    let member = app.user(&a.fx, Role::Member).await;
    app.gql(
        Some(&a.fx.admin_token),
        "mutation($id: UUID!) { disableUser(id: $id) { user { id } } }",
        json!({ "id": member.id }),
    )
    .await;
    let mut client = WsClient::open(app.addr).await;
    let frame = client
        .init(json!({ "Authorization": format!("Bearer {}", member.token) }))
        .await;
    assert_eq!(frame["code"], 4403, "{frame}");
    assert_eq!(frame["reason"], "UNAUTHENTICATED: user is disabled", "{frame}");
}

#[tokio::test]
async fn shutdown_closes_open_websockets() {
    let mut app = TestApp::spawn().await;
    let s = app.studio("wsdown").await;
    let session = app.create_session(&s.member.token, s.workspace, "Down").await;
    let mut client = WsClient::connect(app.addr, &s.member.token).await;
    client.subscribe("1", EVENTS, json!({ "id": session })).await;
    until_live(&mut [&mut client], || async {
        app.set_outline(&s.agent.token, session, json!([])).await;
    })
    .await;
    tokio::time::timeout(Duration::from_secs(10), app.stop())
        .await
        .expect("shutdown does not wait for open websockets");
    loop {
        let frame = client.next(Duration::from_secs(5)).await.expect("a close frame");
        if frame["type"] == "close" {
            assert_eq!(frame["code"], 1001, "{frame}");
            break;
        }
    }
}

#[tokio::test]
async fn a_disabled_callers_subscription_ends() {
    let app = TestApp::spawn_with(&["--subscription-recheck", "1s"]).await;
    let s = app.studio("wsrecheck").await;
    let session = app.create_session(&s.member.token, s.workspace, "Recheck").await;
    let mut client = WsClient::connect(app.addr, &s.member.token).await;
    client.subscribe("1", EVENTS, json!({ "id": session })).await;
    until_live(&mut [&mut client], || async {
        app.set_outline(&s.agent.token, session, json!([])).await;
    })
    .await;
    app.gql(
        Some(&s.fx.admin_token),
        "mutation($id: UUID!) { disableUser(id: $id) { user { id } } }",
        json!({ "id": s.member.id }),
    )
    .await;
    let payload = client.next_payload().await;
    assert_eq!(
        payload["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{payload}"
    );
    let frame = client.next(Duration::from_secs(5)).await.expect("complete");
    assert_eq!(frame["type"], "complete", "{frame}");
}

#[tokio::test]
async fn a_signed_out_callers_subscription_ends() {
    let app = TestApp::spawn_with(&["--subscription-recheck", "1s"]).await;
    let s = app.studio("wslogout").await;
    let session = app.create_session(&s.member.token, s.workspace, "Logout").await;
    let login = app
        .gql(
            None,
            "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }",
            json!({ "i": { "tenantSlug": s.fx.slug, "email": "admin@wslogout.test", "password": PASSWORD } }),
        )
        .await;
    let access = login["login"]["accessToken"].as_str().expect("access");
    let mut client = WsClient::connect(app.addr, access).await;
    client.subscribe("1", EVENTS, json!({ "id": session })).await;
    until_live(&mut [&mut client], || async {
        app.set_outline(&s.agent.token, session, json!([])).await;
    })
    .await;
    app.gql(
        None,
        "mutation($i: LogoutInput!) { logout(input: $i) { ok } }",
        json!({ "i": { "refreshToken": login["login"]["refreshToken"] } }),
    )
    .await;
    let payload = client.next_payload().await;
    let error = &payload["errors"][0];
    assert_eq!(error["extensions"]["code"], "UNAUTHENTICATED", "{payload}");
    assert!(
        error["message"].as_str().is_some_and(|m| m.contains("sign-in ended")),
        "{payload}"
    );
}

#[tokio::test]
async fn a_websocket_closes_when_its_token_expires() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let app = TestApp::spawn().await;
    let fx = app.tenant("expiring").await;
    let now = chrono::Utc::now().timestamp();
    // Expired 28 s ago: still accepted for 1–2 s (whole seconds), inside the
    // 30 s clock-skew leeway.
    let claims = json!({
        "sub": fx.admin_id.to_string(), "tid": fx.id.to_string(), "role": "tenant_admin",
        "exp": now - 28, "iat": now - 600,
    });
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .expect("sign");
    let opened = std::time::Instant::now();
    let mut expiring = WsClient::connect(app.addr, &token).await;
    let mut lasting = WsClient::connect(app.addr, &fx.admin_token).await;
    expiring.subscribe("1", EVENTS, json!({ "id": Uuid::new_v4() })).await;
    let payload = expiring.next_payload().await;
    assert_eq!(
        payload["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "served until it expires: {payload}"
    );
    let mut frame = expiring.next(Duration::from_secs(10)).await.expect("a close frame");
    if frame["type"] == "complete" {
        frame = expiring.next(Duration::from_secs(10)).await.expect("a close frame");
    }
    assert_eq!(frame["type"], "close", "{frame}");
    assert_eq!(frame["code"], 4403, "{frame}");
    assert!(
        frame["reason"].as_str().unwrap_or_default().contains("expired"),
        "{frame}"
    );
    let lasted = opened.elapsed();
    assert!(
        lasted >= Duration::from_millis(900) && lasted < Duration::from_secs(8),
        "{lasted:?}"
    );
    // A connection whose token is still valid is served on.
    lasting.subscribe("1", EVENTS, json!({ "id": Uuid::new_v4() })).await;
    let payload = lasting.next_payload().await;
    assert_eq!(payload["errors"][0]["extensions"]["code"], "NOT_FOUND", "{payload}");
}

/// Runs `sql` on `db`; returns the error's text, if any.
async fn try_sql(db: &impl ConnectionTrait, sql: &str) -> Option<String> {
    db.execute_unprepared(sql).await.err().map(|e| e.to_string())
}

/// NOTIFYs `payload` on the events channel from `db`.
async fn notify(db: &impl ConnectionTrait, payload: &str) {
    let sql = format!("SELECT pg_notify('screenplay_session_events', {})", quote(payload));
    if let Some(err) = try_sql(db, &sql).await {
        panic!("{sql}: {err}");
    }
}

#[tokio::test]
async fn forged_notifications_deliver_nothing_and_a_real_deletion_does() {
    let app = TestApp::spawn().await;
    let s = app.studio("forge").await;
    let session = app.create_session(&s.member.token, s.workspace, "Target").await;
    let mut client = WsClient::connect(app.addr, &s.member.token).await;
    client.subscribe("1", EVENTS, json!({ "id": session })).await;
    until_live(&mut [&mut client], || async {
        app.set_outline(&s.agent.token, session, json!([])).await;
    })
    .await;

    // A whole event as the payload (what the triggers used to send), junk,
    // an id already delivered and an id no event has: from the owner, the
    // server's own role and the superuser, none of which the listener trusts.
    let owner = app.owner().await;
    let app_role = app.db.app().await;
    let superuser = cluster::connect(&LocalUrls::with_database(&app.db.superuser_url, &app.db.name)).await;
    let delivered = scalar_i64(&owner, "SELECT max(id) FROM screenplay.session_events").await;
    let forged = json!({
        "type": "session_deleted", "tenantId": s.fx.id, "sessionId": session,
        "at": "2026-12-05T00:00:00Z", "previousStatus": "draft",
    })
    .to_string();
    for db in [&owner, &app_role, &superuser] {
        for payload in [
            forged.clone(),
            "junk".into(),
            delivered.to_string(),
            (delivered + 1_000_000).to_string(),
        ] {
            notify(db, &payload).await;
        }
    }
    client.assert_quiet(Duration::from_millis(1500)).await;

    // The server's role cannot write an event but through the triggers.
    let insert = format!(
        "INSERT INTO screenplay.session_events (tenant_id, session_id, kind, payload) \
         VALUES ('{}', '{session}', 'session_deleted', '{{}}')",
        s.fx.id
    );
    let record = format!(
        "SELECT screenplay.record_session_event('{}', '{session}', 'session_deleted', '{{}}')",
        s.fx.id
    );
    for sql in [&insert, &record] {
        let err = try_sql(&app_role, sql).await.expect("refused");
        assert!(err.contains("permission denied"), "{sql}: {err}");
    }
    // Its one announcement, outline_changed, is for its tenant's sessions only.
    let other = app.tenant("forge-other").await;
    for (tenant, kind, refusal) in [
        (other.id, "outline_changed", "no session"),
        (s.fx.id, "session_deleted", "sent by a trigger"),
    ] {
        let tx = app_role.begin().await.expect("begin");
        let scope = format!("SELECT set_config('app.tenant_id', '{tenant}', true)");
        tx.execute_unprepared(&scope).await.expect("tenant");
        let sql = format!(
            "SELECT screenplay.notify_session_event('{}', '{session}', '{kind}', '{{}}')",
            s.fx.id
        );
        let err = try_sql(&tx, &sql).await.expect("refused");
        tx.rollback().await.expect("rollback");
        assert!(err.contains(refusal), "{kind}: {err}");
    }
    client.assert_quiet(Duration::from_millis(500)).await;

    // A real deletion arrives, and ends the subscription.
    app.gql(
        Some(&s.member.token),
        "mutation($id: UUID!) { deleteSession(id: $id) { deletedSessionId } }",
        json!({ "id": session }),
    )
    .await;
    let event = client.next_event().await;
    assert_eq!(event["type"], "SESSION_DELETED", "{event}");
    assert_eq!(event["sessionId"], session.to_string());
    let frame = client.next(Duration::from_secs(5)).await.expect("complete");
    assert_eq!(frame["type"], "complete", "{frame}");
}

#[tokio::test]
async fn only_the_owner_and_the_servers_role_may_connect() {
    let db = TestDb::create().await;
    let superuser = cluster::connect(&LocalUrls::with_database(&db.superuser_url, &db.name)).await;
    let role = format!("outsider_{}", Uuid::new_v4().simple());
    superuser
        .execute_unprepared(&format!("CREATE ROLE {role} LOGIN PASSWORD 'outsider-password'"))
        .await
        .expect("create role");
    // The superuser URL with the outsider's name and password.
    let (_, host) = db.superuser_url.split_once('@').expect("url");
    let host = host.rsplit_once('/').expect("url").0;
    let url = format!("postgres://{role}:outsider-password@{host}/{}", db.name);
    let refused = sea_orm::Database::connect(url.as_str()).await;
    superuser
        .execute_unprepared(&format!("DROP ROLE {role}"))
        .await
        .expect("drop role");
    let Err(err) = refused else {
        panic!("an outsider connected");
    };
    let err = err.to_string();
    assert!(err.contains("permission denied for database"), "{err}");
    // The server's and the owner's roles connect.
    for conn in [db.app().await, db.owner().await] {
        assert_eq!(scalar_i64(&conn, "SELECT 1::bigint").await, 1);
    }
}

#[tokio::test]
async fn old_session_events_are_pruned_and_never_delivered() {
    let app = TestApp::spawn().await;
    let s = app.studio("prune").await;
    let session = app.create_session(&s.member.token, s.workspace, "Pruned").await;
    app.set_outline(&s.agent.token, session, json!([{ "title": "Act" }]))
        .await;
    let owner = app.owner().await;
    let app_role = app.db.app().await;
    const OLD: &str = "SELECT count(*) FROM screenplay.session_events WHERE created_at < now() - interval '10 minutes'";
    owner
        .execute_unprepared("UPDATE screenplay.session_events SET created_at = created_at - interval '11 minutes'")
        .await
        .expect("age");
    let old = scalar_i64(&owner, OLD).await;
    assert!(old > 0, "events were written");
    // Too old to be delivered even before they are pruned.
    let readable =
        "SELECT count(*) FROM screenplay.session_events_by_id(ARRAY(SELECT generate_series(1, 100000)::bigint))";
    assert_eq!(scalar_i64(&app_role, readable).await, 0);

    // The next event is the 1024th: it prunes.
    owner
        .execute_unprepared(
            "SELECT setval(pg_get_serial_sequence('screenplay.session_events', 'id'), \
             (SELECT (max(id) / 1024 + 1) * 1024 - 1 FROM screenplay.session_events))",
        )
        .await
        .expect("setval");
    app.set_outline(&s.agent.token, session, json!([])).await;
    assert_eq!(scalar_i64(&owner, OLD).await, 0, "old events are pruned");
    let kept = scalar_i64(&owner, "SELECT count(*) FROM screenplay.session_events").await;
    assert!(kept > 0, "the new events are kept");
    assert_eq!(scalar_i64(&app_role, readable).await, kept, "and readable");
    assert_eq!(
        scalar_i64(
            &owner,
            "SELECT count(*) FROM screenplay.session_events WHERE id % 1024 = 0"
        )
        .await,
        1
    );
}

/// The listening connection drops (a database outage, a failover): the
/// subscriber hears `RESYNC` at once, and again once the server listens
/// again, because events committed in between were never notified. Before,
/// neither came while the database stayed unreachable (sqlx's listener
/// retried inside its receive), and none after it came back.
#[tokio::test]
async fn a_subscriber_hears_resync_when_listening_resumes() {
    use crate::helpers::proxy::TcpProxy;
    let db = TestDb::create().await;
    let url = url::Url::parse(&db.app_url).expect("url");
    let target = format!("127.0.0.1:{}", url.port().expect("port"))
        .parse()
        .expect("addr");
    let proxy = TcpProxy::start(target).await;
    let mut listen_url = url.clone();
    listen_url.set_port(Some(proxy.addr.port())).expect("port");
    let app = TestApp::spawn_on(db, &["--listen-database-url", listen_url.as_str()]).await;
    let s = app.studio("wsoutage").await;
    let session = app.create_session(&s.member.token, s.workspace, "Outage").await;
    let mut client = WsClient::connect(app.addr, &s.member.token).await;
    client.subscribe("1", EVENTS, json!({ "id": session })).await;
    until_live(&mut [&mut client], || async {
        app.set_outline(&s.agent.token, session, json!([])).await;
    })
    .await;

    proxy.cut().await;
    assert_eq!(client.next_event().await["type"], "RESYNC", "when the connection drops");
    // Committed while nobody listens: never notified.
    app.set_outline(&s.agent.token, session, json!([{ "title": "During the outage" }]))
        .await;
    client.assert_quiet(Duration::from_millis(500)).await;
    proxy.restore().await;
    assert_eq!(client.next_event().await["type"], "RESYNC", "once listening resumes");
    // And live again.
    app.set_outline(&s.agent.token, session, json!([{ "title": "After" }]))
        .await;
    assert_eq!(client.next_event().await["type"], "OUTLINE_CHANGED");
}
