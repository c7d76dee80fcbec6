//! Hostile documents: each is refused with a code before any validation
//! visitor or resolver runs, at a bounded cost, and `/healthz` stays fast
//! while they arrive.
//!
//! The cost is the CPU time of the test's thread around the request. The
//! test runtime has one thread, and the server runs on it, so that time
//! holds the client's and the server's work for the request and nothing of
//! other tests. Before the gate, the 31-level fragment bomb alone took
//! minutes of CPU.

use std::time::Duration;

use nix::time::{ClockId, clock_gettime};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// CPU a refusal may take (the bound).
const MAX_CPU: Duration = Duration::from_millis(50);

fn thread_cpu() -> Duration {
    let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).expect("thread CPU clock");
    Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32)
}

/// `query { me { ...F0 } }` where each fragment spreads the next twice.
fn fragment_bomb(levels: usize) -> String {
    let mut doc = String::from("query Bomb { me { ...F0 } }\n");
    for i in 0..levels {
        doc.push_str(&format!("fragment F{i} on Me {{ ...F{n} ...F{n} }}\n", n = i + 1));
    }
    doc.push_str(&format!("fragment F{levels} on Me {{ subject }}\n"));
    doc
}

/// 10 aliases in a fragment spread 1,024 times: 10,240 aliased fields.
fn alias_bomb() -> String {
    let mut doc = String::from("query Aliases { me { ...A0 } }\n");
    for i in 0..10 {
        doc.push_str(&format!("fragment A{i} on Me {{ ...A{n} ...A{n} }}\n", n = i + 1));
    }
    let aliases: String = (0..10).map(|i| format!("a{i}: subject ")).collect();
    doc.push_str(&format!("fragment A10 on Me {{ {aliases} }}\n"));
    doc
}

struct Case {
    name: &'static str,
    body: Value,
    /// `extensions.limit` of the refusal (or its code when it has none),
    /// anonymous and signed in.
    anonymous: &'static str,
    expect: &'static str,
}

fn cases() -> Vec<Case> {
    let raw_aliases: String = (0..10_000).map(|i| format!("a{i}: health ")).collect();
    let operations: String = (0..1_000).map(|i| format!("query Q{i} {{ health }}\n")).collect();
    let nested = format!("{}{}", "{ me ".repeat(10_000), "}".repeat(10_000));
    let wide: String = (0..6_000).map(|_| "subject ").collect();
    vec![
        Case {
            name: "fragment bomb, 31 levels",
            body: json!({ "query": fragment_bomb(31) }),
            anonymous: "max_fragments",
            expect: "max_fields",
        },
        Case {
            name: "10,240 aliases through fragments",
            body: json!({ "query": alias_bomb() }),
            anonymous: "max_fragments",
            expect: "max_aliases",
        },
        // Over the anonymous body limit: 413 before the body is parsed.
        Case {
            name: "10,000 aliases",
            body: json!({ "query": format!("{{ {raw_aliases} }}") }),
            anonymous: "BAD_REQUEST",
            expect: "max_bytes",
        },
        Case {
            name: "1,000 operations",
            body: json!({ "query": operations, "operationName": "Q1" }),
            anonymous: "max_bytes",
            expect: "max_operations",
        },
        Case {
            name: "10,000 levels of nesting",
            body: json!({ "query": nested }),
            anonymous: "max_bytes",
            expect: "max_depth",
        },
        Case {
            name: "6,000 fields in one selection",
            body: json!({ "query": format!("{{ me {{ {wide} }} }}") }),
            anonymous: "max_bytes",
            expect: "max_fields",
        },
        Case {
            name: "a 1 MiB string",
            body: json!({ "query": format!("{{ health(x: \"{}\") }}", "x".repeat(1024 * 1024)) }),
            anonymous: "BAD_REQUEST",
            expect: "max_bytes",
        },
    ]
}

async fn refusal(app: &TestApp, token: Option<&str>, body: &Value) -> (Value, Duration) {
    let before = thread_cpu();
    let (_, _, answer) = app.post_with(token, body.clone(), &[]).await;
    (answer, thread_cpu() - before)
}

fn limit_or_code(answer: &Value) -> String {
    let ext = &answer["errors"][0]["extensions"];
    ext["limit"]
        .as_str()
        .or(ext["code"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn hostile_documents_are_refused_cheaply_anonymous_or_signed_in() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("hostile").await;
    let mut report = Vec::new();
    for case in cases() {
        // Anonymous callers meet the smaller limits first (size, fragments).
        let (answer, anonymous_cpu) = refusal(&app, None, &case.body).await;
        assert_eq!(
            limit_or_code(&answer),
            case.anonymous,
            "{} (anonymous): {answer}",
            case.name
        );
        assert!(answer.get("data").is_none(), "{}: {answer}", case.name);
        let (answer, signed_in_cpu) = refusal(&app, Some(&fx.admin_token), &case.body).await;
        assert_eq!(
            limit_or_code(&answer),
            case.expect,
            "{} (signed in): {answer}",
            case.name
        );
        report.push(format!(
            "{}: {anonymous_cpu:?} anonymous, {signed_in_cpu:?} signed in",
            case.name
        ));
        assert!(anonymous_cpu < MAX_CPU && signed_in_cpu < MAX_CPU, "{report:#?}");
    }
    eprintln!("CPU per refusal (client and server):\n{}", report.join("\n"));

    // A batch of 1,000 operations is not a GraphQL request here.
    let batch: Vec<Value> = (0..1_000).map(|_| json!({ "query": "{ health }" })).collect();
    let (status, _, answer) = app.post_with(None, Value::Array(batch), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_REQUEST");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_stays_fast_while_bombs_arrive() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let bomb = json!({ "query": fragment_bomb(31) });
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let attackers: Vec<_> = (0..4)
        .map(|_| {
            let (app, bomb, stop) = (app.clone(), bomb.clone(), stop.clone());
            tokio::spawn(async move {
                let mut sent = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let (_, _, answer) = app.post_with(None, bomb.clone(), &[]).await;
                    assert_eq!(answer["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED");
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    let mut waits = Vec::new();
    for _ in 0..40 {
        let started = std::time::Instant::now();
        let status = app
            .client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("healthz")
            .status();
        assert_eq!(status, StatusCode::OK);
        waits.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut sent = 0;
    for attacker in attackers {
        sent += attacker.await.expect("attacker");
    }
    waits.sort();
    let median = waits[waits.len() / 2];
    eprintln!(
        "/healthz during {sent} bombs: median {median:?}, slowest {:?}",
        waits[waits.len() - 1]
    );
    assert!(sent >= 40, "the bombs were answered ({sent})");
    assert!(median < Duration::from_millis(50), "median /healthz {median:?}");
}

/// The gate keeps parsed documents only once they are admitted: refused and
/// broken ones are parsed each time and never kept, and a stream of
/// distinct documents stays within the cache's budget, at a bounded cost each.
#[tokio::test]
async fn only_admitted_documents_are_kept_parsed_within_the_budget() {
    use screenplay_api::request::parsed::{BUDGET_BYTES, MAX_QUERY_BYTES};
    let app = TestApp::spawn().await;
    let fx = app.tenant("parsed").await;
    let token = Some(fx.admin_token.as_str());
    let (kept, _) = app.state.parsed.held();
    for case in cases() {
        refusal(&app, token, &case.body).await;
        refusal(&app, None, &case.body).await;
    }
    refusal(&app, token, &json!({ "query": "{ health(" })).await;
    assert_eq!(app.state.parsed.held().0, kept, "refused or broken: not kept");

    let query = json!({ "query": "query Kept { health }" });
    for _ in 0..2 {
        let (answer, _) = refusal(&app, token, &query).await;
        assert_eq!(answer["data"]["health"], "ok", "{answer}");
    }
    assert_eq!(app.state.parsed.held().0, kept + 1, "admitted: kept once");

    // 100 distinct documents of 12 KiB each, a third more than the budget holds.
    let mut slowest = Duration::ZERO;
    for i in 0..100 {
        let text = format!("#{i:04}{}\nquery Distinct {{ health }}", "x".repeat(12 << 10));
        assert!(text.len() <= MAX_QUERY_BYTES);
        let (answer, cpu) = refusal(&app, token, &json!({ "query": text })).await;
        assert_eq!(answer["data"]["health"], "ok", "{answer}");
        slowest = slowest.max(cpu);
        let (documents, bytes) = app.state.parsed.held();
        assert!(bytes <= BUDGET_BYTES, "{documents} documents, {bytes} bytes");
    }
    let (documents, _) = app.state.parsed.held();
    assert!(documents < 100, "the least recently used went: {documents} kept");
    assert!(slowest < MAX_CPU, "a distinct document took {slowest:?}");
}
