//! The provider's JWKS is fetched in the background: requests never wait
//! for the provider, an outage keeps the last good keys, a rotation is
//! picked up once the provider answers again, and unknown keys cause at
//! most one fetch at a time, at most once a minute.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Idp, ME, now};
use crate::helpers::{
    fixtures::TenantFixture,
    idp::{IdpKey, Mode, jwks},
    tempdir,
};

/// What the server answers a token, and how long it took.
async fn timed(idp: &Idp, token: &str) -> (Value, Duration) {
    let started = Instant::now();
    let (_, body) = idp.app.post(Some(token), ME, json!({})).await;
    (body, started.elapsed())
}

/// The tenant admin's claims in the default shape (`sub`, `tid`, `role`).
fn admin(fx: &TenantFixture) -> Value {
    json!({ "sub": fx.admin_id.to_string(), "tid": fx.id.to_string(), "role": "tenant_admin",
            "iat": now(), "exp": now() + 600 })
}

fn accepted(body: &Value) -> bool {
    body["data"]["me"]["role"] == "TENANT_ADMIN"
}

fn refused_for_want_of_a_key(body: &Value) -> bool {
    body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        && body["errors"][0]["message"] == "no key for this token"
}

/// Waits (up to `limit`) until `check` holds.
async fn eventually(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn a_provider_outage_never_delays_requests_and_a_rotation_is_picked_up_after_it() {
    let mut idp = Idp::start(&["--jwt-jwks-refresh", "1s"]).await;
    let rotated = IdpKey::generate(&tempdir(), "idp-key-2");
    let fx = idp.app.tenant("outage").await;
    let old_token = idp.key.sign(&admin(&fx));
    let new_token = rotated.sign(&admin(&fx));
    assert!(accepted(&timed(&idp, &old_token).await.0));

    // The provider hangs: the refresher's fetch waits on it (for up to its 10 s timeout).
    idp.provider.set_mode(Mode::Hang);
    assert!(
        eventually(Duration::from_secs(5), async || idp.provider.in_flight() == 1).await,
        "the refresher did not reach the hanging provider"
    );
    // Let the keys grow older than the refresh interval: where a design
    // fetching inside requests would fetch.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let (body, took) = timed(&idp, &old_token).await;
        assert!(accepted(&body), "{body:#}");
        slowest = slowest.max(took);
    }
    // A key we do not hold is refused at once, and asks nothing more of the provider.
    let unknown = futures::future::join_all((0..20).map(|_| timed(&idp, &new_token))).await;
    for (body, took) in &unknown {
        assert!(refused_for_want_of_a_key(body), "{body:#}");
        slowest = slowest.max(*took);
    }
    eprintln!("provider hanging: slowest of 40 requests {slowest:?}");
    assert!(
        slowest < Duration::from_secs(1),
        "a request waited for the provider: {slowest:?}"
    );
    assert_eq!(idp.provider.in_flight(), 1, "one fetch at a time");

    // The provider fails outright: fetches are retried, the last good keys still work.
    let before = idp.provider.fetches();
    idp.provider.set_mode(Mode::Down);
    assert!(eventually(Duration::from_secs(10), async || idp.provider.fetches() >= before + 2).await);
    assert!(accepted(&timed(&idp, &old_token).await.0));

    // It comes back with a rotated key set: the background refresh picks it up.
    idp.provider.set_jwks(jwks(&[&rotated]));
    idp.provider.set_mode(Mode::Up);
    let picked_up = eventually(Duration::from_secs(10), async || {
        accepted(&timed(&idp, &new_token).await.0)
    })
    .await;
    assert!(picked_up, "the rotated key was not picked up");
    assert!(refused_for_want_of_a_key(&timed(&idp, &old_token).await.0));
    assert_eq!(idp.provider.max_in_flight(), 1, "fetches never overlapped");

    // The refresher ends with the server, even while the provider hangs.
    idp.provider.set_mode(Mode::Hang);
    assert!(eventually(Duration::from_secs(5), async || idp.provider.in_flight() == 1).await);
    let started = Instant::now();
    idp.app.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopping took {:?}",
        started.elapsed()
    );
    idp.provider.set_mode(Mode::Up);
}

#[tokio::test]
async fn unknown_keys_cause_one_background_fetch_a_minute() {
    // The default refresh interval (10 minutes): only unknown keys cause fetches here.
    let idp = Idp::start(&[]).await;
    let published = IdpKey::generate(&tempdir(), "idp-key-2");
    let fx = idp.app.tenant("unknown-kid").await;
    assert_eq!(idp.provider.fetches(), 1, "fetched once at start");

    // The provider publishes a new key, and hangs. The new key's first
    // tokens are refused without waiting, and wake the refresher once.
    idp.provider.set_jwks(jwks(&[&idp.key, &published]));
    idp.provider.set_mode(Mode::Hang);
    let token = published.sign(&admin(&fx));
    let first = futures::future::join_all((0..30).map(|_| timed(&idp, &token))).await;
    for (body, took) in &first {
        assert!(refused_for_want_of_a_key(body), "{body:#}");
        assert!(
            *took < Duration::from_secs(1),
            "a request waited for the provider: {took:?}"
        );
    }
    assert!(eventually(Duration::from_secs(5), async || idp.provider.in_flight() == 1).await);
    // The provider answers: the fetch under way brings the key.
    idp.provider.set_mode(Mode::Up);
    assert!(eventually(Duration::from_secs(5), async || accepted(&timed(&idp, &token).await.0)).await);
    assert_eq!(idp.provider.fetches(), 2, "thirty requests, one fetch");

    // Another unknown key within the minute: refused, and no fetch.
    let stranger = published.sign_as("idp-key-3", &admin(&fx));
    for _ in 0..10 {
        assert!(refused_for_want_of_a_key(&timed(&idp, &stranger).await.0));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(idp.provider.fetches(), 2, "at most one fetch a minute");
}
