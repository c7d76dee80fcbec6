//! Ranking on real text: 1,971 Tang poems and 193 blocks of Macbeth with
//! 350 queries labelled by exact containment (`tests/data/phrases/`). The
//! documents holding the exact span (or title) a writer typed rank first in
//! KEYWORD, and HYBRID is never worse than the better single mode.

use std::{collections::BTreeMap, fmt::Write as _};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::TestApp;

#[derive(serde::Deserialize)]
struct Set {
    documents: Vec<Doc>,
    queries: Vec<Query>,
}

#[derive(serde::Deserialize)]
struct Doc {
    key: String,
    language: String,
    title: String,
    content: String,
}

#[derive(serde::Deserialize)]
struct Query {
    query: String,
    language: String,
    kind: String,
    relevant: Vec<String>,
}

const SEARCH: &str =
    "query($input: SearchDocumentsInput!) { searchDocuments(input: $input) { document { sourcePath } } }";

/// Recall@10 and MRR summed over a group's queries, and their count.
#[derive(Default, Clone, Copy)]
struct Sums {
    recall: f64,
    mrr: f64,
    n: usize,
}

impl Sums {
    fn add(&mut self, relevant: &[String], ranked: &[String]) {
        let found = relevant.iter().filter(|r| ranked.contains(r)).count();
        self.recall += found as f64 / relevant.len() as f64;
        self.mrr += ranked
            .iter()
            .position(|k| relevant.contains(k))
            .map_or(0.0, |p| 1.0 / (p as f64 + 1.0));
        self.n += 1;
    }

    fn means(self) -> (f64, f64) {
        (self.recall / self.n as f64, self.mrr / self.n as f64)
    }
}

async fn load(app: &TestApp, token: &str, ws: Uuid) -> Set {
    let set: Set = serde_json::from_str(include_str!("../../data/phrases/phrases.json")).expect("phrases.json");
    for batch in set.documents.chunks(100) {
        let docs: Vec<Value> = batch
            .iter()
            .map(|d| json!({ "sourcePath": d.key, "title": d.title, "content": d.content, "language": d.language }))
            .collect();
        app.ingest(token, ws, json!(docs)).await;
    }
    set
}

/// The distinct documents of the top 10 hits, best first.
async fn ranked(app: &TestApp, token: &str, ws: Uuid, query: &str, mode: &str) -> Vec<String> {
    let input = json!({ "workspaceId": ws, "query": query, "mode": mode, "limit": 10 });
    let data = app.gql(Some(token), SEARCH, json!({ "input": input })).await;
    let mut keys: Vec<String> = Vec::new();
    for hit in data["searchDocuments"].as_array().expect("hits") {
        let key = hit["document"]["sourcePath"].as_str().expect("path").to_owned();
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

#[tokio::test]
async fn exact_spans_rank_first_and_hybrid_is_never_below_the_better_mode() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("phrases").await;
    let ws = app.workspace(&fx, "phrases").await;
    let set = load(&app, &fx.admin_token, ws).await;
    // (language, kind or "all", mode) -> sums
    let mut sums: BTreeMap<(String, String, &str), Sums> = BTreeMap::new();
    let mut misordered = Vec::new();
    for q in &set.queries {
        for mode in ["KEYWORD", "VECTOR", "HYBRID"] {
            let got = ranked(&app, &fx.admin_token, ws, &q.query, mode).await;
            for kind in [q.kind.as_str(), "all"] {
                let key = (q.language.clone(), kind.to_owned(), mode);
                sums.entry(key).or_default().add(&q.relevant, &got);
            }
            // Every document holding the span comes before any that does not.
            let top = &got[..q.relevant.len().min(got.len())];
            if mode == "KEYWORD" && (top.len() < q.relevant.len() || top.iter().any(|k| !q.relevant.contains(k))) {
                misordered.push(format!("{:?} ({}): {:?} for {:?}", q.query, q.kind, got, q.relevant));
            }
        }
    }
    eprintln!("{}", report(&set, &sums));
    assert!(
        misordered.is_empty(),
        "{} queries:\n{}",
        misordered.len(),
        misordered.join("\n")
    );
    for ((language, kind, mode), s) in &sums {
        if *mode != "HYBRID" {
            continue;
        }
        let (recall, mrr) = s.means();
        let best = |i: usize| {
            ["KEYWORD", "VECTOR"]
                .iter()
                .map(|m| {
                    let (r, m) = sums[&(language.clone(), kind.clone(), *m)].means();
                    [r, m][i]
                })
                .fold(0.0f64, f64::max)
        };
        assert!(
            recall >= best(0),
            "{language} {kind}: HYBRID recall@10 {recall:.3} < {:.3}",
            best(0)
        );
        assert!(
            mrr >= best(1),
            "{language} {kind}: HYBRID MRR {mrr:.3} < {:.3}",
            best(1)
        );
    }
    long_queries_cost_about_what_short_ones_do(&app, &fx.admin_token, ws).await;
}

/// Queries of 10,000 characters (the most `query` takes) against a phrase
/// of three words, interleaved, medians: long ones are no phrase (their
/// patterns would cost seconds), so they cost like any word search.
async fn long_queries_cost_about_what_short_ones_do(app: &TestApp, token: &str, ws: Uuid) {
    let hostile = [
        (1..=1600).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" "),
        ["the"; 2500].join(" "),
        "不知".repeat(5000),
        ["不知"; 3333].join("，"),
    ];
    let timed = |query: String, mode: &'static str| async move {
        let started = std::time::Instant::now();
        ranked(app, token, ws, &query, mode).await;
        started.elapsed()
    };
    let median = |mut v: Vec<std::time::Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    for mode in ["KEYWORD", "HYBRID"] {
        let (mut short, mut long) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            for q in &hostile {
                short.push(timed("the tyrant's hand".to_owned(), mode).await);
                long.push(timed(q.clone(), mode).await);
            }
        }
        let (short, long) = (median(short), median(long));
        eprintln!("{mode}: 10,000-character queries {long:?}, a three-word phrase {short:?} (medians)");
        assert!(long < short * 10, "{mode}: {long:?} against {short:?}");
    }
}

/// The measures as a Markdown table (BENCHMARKS.md).
fn report(set: &Set, sums: &BTreeMap<(String, String, &str), Sums>) -> String {
    let mut out = format!(
        "{} documents, {} queries; recall@10 / MRR\n\n| language | kind | queries | KEYWORD | VECTOR | HYBRID |\n|---|---|--:|--:|--:|--:|\n",
        set.documents.len(),
        set.queries.len()
    );
    let groups: Vec<(String, String)> = sums.keys().map(|(l, k, _)| (l.clone(), k.clone())).collect();
    let mut seen = Vec::new();
    for group in groups {
        if seen.contains(&group) {
            continue;
        }
        let (language, kind) = &group;
        let cell = |mode: &str| {
            let (r, m) = sums[&(language.clone(), kind.clone(), mode)].means();
            format!("{r:.3} / {m:.3}")
        };
        let n = sums[&(language.clone(), kind.clone(), "KEYWORD")].n;
        let _ = writeln!(
            out,
            "| {language} | {kind} | {n} | {} | {} | {} |",
            cell("KEYWORD"),
            cell("VECTOR"),
            cell("HYBRID")
        );
        seen.push(group);
    }
    out
}
