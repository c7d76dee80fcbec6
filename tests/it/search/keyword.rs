//! Keyword search: Chinese text and stemmed English, whatever the locale.

use std::collections::HashSet;

use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::json;

use crate::helpers::{
    TestApp, TestDb,
    docs::{INGEST, SEARCH, titles},
    explain, scalar, scalar_i64,
};

#[tokio::test]
async fn keyword_search_finds_chinese_text_and_stemmed_english() {
    let app = TestApp::spawn().await;
    check_keyword_search(&app).await;
    check_phrase_positions(&app).await;
}

#[tokio::test]
async fn chinese_keyword_search_works_when_the_database_ctype_is_c() {
    let db = TestDb::create_with_c_ctype().await;
    let owner = db.owner().await;
    let row = owner
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT datctype, (SELECT count(*) FROM unnest(show_trgm('剧本生成'))) AS grams \
             FROM pg_database WHERE datname = current_database()",
        ))
        .await
        .expect("query")
        .expect("row");
    assert_eq!(row.try_get::<String>("", "datctype").expect("ctype"), "C");
    // The trap: pg_trgm sees nothing of Chinese here ...
    assert_eq!(row.try_get::<i64>("", "grams").expect("grams"), 0);
    // ... and our search still finds it.
    let app = TestApp::spawn_on(db, &[]).await;
    check_keyword_search(&app).await;
    check_phrase_positions(&app).await;
}

async fn check_keyword_search(app: &TestApp) {
    let fx = app.tenant("kw").await;
    let ws = app.workspace(&fx, "docs").await;
    app.ingest(
        &fx.admin_token,
        ws,
        json!([
            { "sourcePath": "en.md", "title": "Chase", "content": "The detectives were running through the “crowded” streets." },
            { "sourcePath": "zh.md", "title": "追凶", "content": "侦探在雨夜里追踪嫌疑人，穿过狭窄的小巷。" },
            { "sourcePath": "other.md", "title": "Kitchen", "content": "The chef shouts orders in the kitchen. 厨师在厨房里大喊。" },
            { "sourcePath": "keys.md", "title": "Keys", "content": "“Where’s the key?” It is not under the mat." },
            { "sourcePath": "mat.md", "title": "Mat", "content": "The key to the house is where the mat was." },
        ]),
    )
    .await;
    let search = |query: &str| {
        let input = json!({ "workspaceId": ws, "query": query, "mode": "KEYWORD" });
        let token = fx.admin_token.clone();
        async move { app.search(&token, input).await }
    };
    // English: stemmed forms meet ("run" ~ "running", "detective" ~ "detectives").
    let hits = search("detective runs").await;
    assert_eq!(titles(&hits), vec!["Chase"]);
    assert!(
        hits[0]["highlight"]
            .as_str()
            .expect("highlight")
            .contains("<mark>detectives</mark>"),
        "{hits:#?}"
    );
    assert!(hits[0]["keywordScore"].as_f64().expect("score") > 0.0);
    assert_eq!(titles(&search("crowded street").await), vec!["Chase"]);
    // Chinese: no spaces between words; bigrams find it, punctuation in the query is ignored.
    let hits = search("追踪嫌疑人！").await;
    assert_eq!(titles(&hits), vec!["追凶"]);
    assert!(
        hits[0]["highlight"]
            .as_str()
            .expect("highlight")
            .contains("<mark>追踪嫌疑人</mark>")
    );
    assert_eq!(titles(&search("嫌疑").await), vec!["追凶"]);
    assert_eq!(titles(&search("厨房").await), vec!["Kitchen"]);
    // Both languages in one query.
    let both: HashSet<String> = titles(&search("侦探 chef").await).into_iter().collect();
    assert_eq!(both, HashSet::from(["追凶".to_owned(), "Kitchen".to_owned()]));
    // A phrase typed with a straight apostrophe finds the chunk holding it
    // with a curly one, above a chunk with the same words in another order;
    // a phrase of stop words only finds its chunk too.
    let hits = search("where's THE key").await;
    assert_eq!(titles(&hits), vec!["Keys", "Mat"], "{hits:#?}");
    assert!(hits[0]["keywordScore"].as_f64().expect("score") >= 2.0);
    assert!(hits[1]["keywordScore"].as_f64().expect("score") < 1.0);
    assert_eq!(titles(&search("It is not").await), vec!["Keys"]);
    // Nothing to match: no hits, no error.
    assert!(search("the of and").await.is_empty());
    assert!(search("宇宙").await.is_empty());
    // Another tenant finds nothing of it (the keyword index is read by a
    // SECURITY DEFINER function that filters by the caller's tenant itself).
    let other = app.tenant("kw-other").await;
    let code = app
        .gql_err(
            Some(&other.admin_token),
            SEARCH,
            json!({ "input": { "workspaceId": ws, "query": "追踪嫌疑人 detective", "mode": "KEYWORD" } }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    let app_role = app.db.app().await;
    let tx = app_role.begin().await.expect("begin");
    tx.execute_unprepared(&format!("SELECT set_config('app.tenant_id', '{}', true)", other.id))
        .await
        .expect("tenant");
    let leaked = tx
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT (SELECT count(*) FROM screenplay.keyword_hits('{ws}', '侦探 detective', 10, NULL, NULL, NULL)) \
                      + (SELECT count(*) FROM screenplay.keyword_matches('{}', '{ws}', '追踪嫌疑人', 10, NULL, NULL, NULL))",
                fx.id
            ),
        ))
        .await
        .expect("keyword_hits")
        .expect("row")
        .try_get_by_index::<i64>(0)
        .expect("count");
    assert_eq!(leaked, 0);
    tx.rollback().await.expect("rollback");
    // The SQL function, as a DBA would call it.
    let owner = app.owner().await;
    let n = scalar_i64(
        &owner,
        &format!("SELECT count(*) FROM screenplay.search_by_keywords('{ws}', '雨夜 追踪', 5)"),
    )
    .await;
    assert_eq!(n, 1);
}

/// The phrase stage passes over chunks whose search vector has the
/// phrase's words apart (migration 0097) and still finds every chunk that
/// holds the phrase: across punctuation, case and hyphens, and in a chunk too
/// long for the search vector's positions (they stop at 16383).
async fn check_phrase_positions(app: &TestApp) {
    let fx = app.tenant("kw-adjacent").await;
    let ws = app.workspace(&fx, "adjacent").await;
    // 9,000 CJK characters before the phrase: their pairs take positions
    // past 16383 (every character and every pair has one).
    let long_zh = format!("{}。雨夜的街道", "山水".repeat(4_500));
    let documents = json!([
            { "sourcePath": "apart.md", "title": "Apart", "content": "The alley was dark. Rain fell on the detective." },
            { "sourcePath": "punct.md", "title": "Punct", "content": "Cold RAIN — Alley, detective! Then nothing." },
            { "sourcePath": "hyphen.md", "title": "Hyphen", "content": "A rain-alley detective story." },
            { "sourcePath": "zh-apart.md", "title": "分开", "content": "雨夜。夜的。的街。街道。" },
            { "sourcePath": "zh.md", "title": "街道", "content": "他走过雨夜的街道。" },
            { "sourcePath": "zh-long.md", "title": "长", "content": long_zh, "language": "zh" },
            // Spanish parses keep `running` and `dogs`, which English reads
            // as `run` and `dog`: only the needs' other parses find it.
            { "sourcePath": "es.md", "title": "Perros", "content": "Los running dogs ladran.", "language": "es" },
    ]);
    // One chunk per document, the long one too.
    let input = json!({ "workspaceId": ws, "documents": documents, "chunking": { "maxChars": 20_000 } });
    app.gql(Some(&fx.admin_token), INGEST, json!({ "input": input })).await;
    let owner = app.owner().await;
    let long = scalar_i64(
        &owner,
        &format!(
            "SELECT count(*) FROM screenplay.code_documents \
             WHERE workspace_id = '{ws}' AND title = '长' AND octet_length(content) > 16000"
        ),
    )
    .await;
    assert_eq!(long, 1, "the long document is one chunk of over 16,000 bytes");
    let conditioned = scalar_i64(
        &owner,
        "SELECT count(*) FROM unnest(ARRAY['rain alley detective', '雨夜的街道']) AS q(text) \
         WHERE (SELECT adjacent FROM screenplay.keyword_phrase(q.text, NULL)) IS NOT NULL",
    )
    .await;
    assert_eq!(conditioned, 2, "both queries carry a position condition");
    // What the needs add to the words' candidates: nothing when a word's
    // parses are all among them, the other parses otherwise (migration 0098).
    let wider = scalar_i64(
        &owner,
        "SELECT (SELECT count(*) FROM unnest(ARRAY['rain alley detective', '雨夜的街道']) AS q(text) \
                 WHERE (SELECT wider FROM screenplay.keyword_phrase(q.text, NULL)) IS NULL) \
              + (SELECT count(*) FROM screenplay.keyword_phrase('running dogs', NULL) \
                 WHERE wider = $$'dogs' & 'running'$$::tsquery)",
    )
    .await;
    assert_eq!(wider, 3);
    // Given the words (as keyword_matches passes them, migration 0099) or
    // not, the phrase reads the same; a long query's too.
    let differ = scalar_i64(
        &owner,
        "SELECT count(*) FROM unnest(ARRAY['rain alley detective', '雨夜的街道', 'running dogs', 'the', \
                                          repeat('long line ', 30)]) AS q(text) \
         WHERE (SELECT row(p.*)::text FROM screenplay.keyword_phrase(q.text, NULL) AS p) \
               IS DISTINCT FROM (SELECT row(p.*)::text FROM screenplay.keyword_phrase(q.text, NULL, \
                                 screenplay.keyword_tsquery(q.text, 'en')) AS p)",
    )
    .await;
    assert_eq!(differ, 0, "the phrase with and without its words given");
    let phrases = |query: &'static str| {
        let input = json!({ "workspaceId": ws, "query": query, "mode": "KEYWORD", "limit": 10 });
        let token = fx.admin_token.clone();
        async move {
            let data = app.gql(Some(&token), SEARCH, json!({ "input": input })).await;
            let hits = data["searchDocuments"].as_array().expect("hits").clone();
            // Titles of the hits holding the phrase (keyword score 2 or more), and of the others.
            let (exact, rest): (Vec<_>, Vec<_>) = hits
                .iter()
                .partition(|h| h["keywordScore"].as_f64().expect("score") >= 2.0);
            let names = |v: Vec<&serde_json::Value>| -> HashSet<String> {
                v.iter()
                    .map(|h| h["document"]["title"].as_str().expect("title").to_owned())
                    .collect()
            };
            (names(exact), names(rest))
        }
    };
    let (exact, rest) = phrases("rain alley detective").await;
    assert_eq!(exact, HashSet::from(["Punct".to_owned(), "Hyphen".to_owned()]));
    assert_eq!(rest, HashSet::from(["Apart".to_owned()]));
    let (exact, rest) = phrases("雨夜的街道").await;
    assert_eq!(exact, HashSet::from(["街道".to_owned(), "长".to_owned()]));
    assert_eq!(rest, HashSet::from(["分开".to_owned()]));
    let (exact, rest) = phrases("running dogs").await;
    assert_eq!(exact, HashSet::from(["Perros".to_owned()]));
    assert!(rest.is_empty(), "{rest:?}");
}

/// A chunk's text and search vector stay in its row beside the 6 KB
/// embedding when they fit (a keyword search then reads no TOAST per
/// candidate); a longer chunk's move out of line, and it is still found.
#[tokio::test]
async fn a_chunks_text_stays_in_its_row_when_it_fits() {
    let app = &TestApp::spawn().await;
    let fx = app.tenant("inrow").await;
    let ws = app.workspace(&fx, "docs").await;
    // 300 different ideographs: about 900 bytes of text and 300 CJK pairs,
    // which do not fit a page beside the embedding.
    let long: String = (0..300u32)
        .map(|i| char::from_u32(0x4e00 + (i * 37) % 20_000).expect("ideograph"))
        .collect();
    let added = app
        .ingest(
            &fx.admin_token,
            ws,
            json!([
                { "sourcePath": "short.md", "title": "Short", "content": "The detective crosses the bridge at midnight." },
                { "sourcePath": "long.md", "title": "Long", "content": long },
            ]),
        )
        .await;
    assert_eq!(added["added"], 2, "{added}");
    let out_of_line = |path: &str, column: &str| {
        let sql = format!(
            "SELECT count(*) FROM screenplay.code_documents \
             WHERE workspace_id = '{ws}' AND source_path = '{path}' AND embedding IS NOT NULL \
               AND pg_column_toast_chunk_id({column}) IS NOT NULL"
        );
        async move { scalar_i64(&app.owner().await, &sql).await }
    };
    assert_eq!(out_of_line("short.md", "content").await, 0);
    assert_eq!(out_of_line("short.md", "search_vector").await, 0);
    assert_eq!(out_of_line("long.md", "search_vector").await, 1);

    let search = |query: String| {
        let input = json!({ "workspaceId": ws, "query": query, "mode": "KEYWORD" });
        let token = fx.admin_token.clone();
        async move { titles(&app.search(&token, input).await) }
    };
    assert_eq!(search("detective bridge".to_owned()).await, vec!["Short"]);
    let middle: String = long.chars().skip(150).take(4).collect();
    assert_eq!(search(middle).await, vec!["Long"]);
}

/// `ts_config_for` (every keyword search, every indexed chunk) is inlined
/// into the statements that call it, and gives what it gave before
/// (migration 0101).
#[tokio::test]
async fn the_language_configuration_is_inlined() {
    let app = TestApp::spawn().await;
    let owner = app.owner().await;
    let plan = explain(
        &owner,
        "SELECT screenplay.ts_config_for(language) FROM screenplay.code_documents",
    )
    .await;
    assert!(!plan.contains("ts_config_for"), "ts_config_for not inlined:\n{plan}");
    let configs = owner
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT string_agg(coalesce(l, 'NULL') || '=' || screenplay.ts_config_for(l)::text, ' ' ORDER BY n) \
             FROM unnest(ARRAY['en', 'EN-us', 'pt_BR', 'sv', 'zh', '', NULL]) WITH ORDINALITY AS t(l, n)",
        ))
        .await
        .expect("query")
        .expect("row")
        .try_get_by_index::<String>(0)
        .expect("text");
    assert_eq!(
        configs,
        "en=english EN-us=english pt_BR=portuguese sv=swedish zh=simple =simple NULL=simple"
    );
}

/// A phrase's words are parsed in the configurations of the languages the
/// workspace's chunks were ever in (migration 0104): a language joins with
/// its first chunk, by insert or update, and stays when its chunks go.
#[tokio::test]
async fn a_phrase_is_parsed_in_the_workspaces_languages() {
    let app = &TestApp::spawn().await;
    let fx = app.tenant("kw-languages").await;
    let ws = app.workspace(&fx, "languages").await;
    let empty = app.workspace(&fx, "empty").await;
    let owner = app.owner().await;
    let languages = |ws: uuid::Uuid| {
        let sql = format!(
            "SELECT coalesce(string_agg(language, ',' ORDER BY language), '') \
             FROM screenplay.workspace_languages WHERE workspace_id = '{ws}'"
        );
        let owner = owner.clone();
        async move { scalar::<String>(&owner, &sql).await }
    };
    let exact = |query: &'static str| {
        let input = json!({ "workspaceId": ws, "query": query, "mode": "KEYWORD" });
        let token = fx.admin_token.clone();
        async move {
            let hits = app.search(&token, input).await;
            let mut found: Vec<String> = hits
                .iter()
                .filter(|h| h["keywordScore"].as_f64().expect("score") >= 2.0)
                .map(|h| h["document"]["title"].as_str().expect("title").to_owned())
                .collect();
            found.sort();
            found
        }
    };
    app.ingest(
        &fx.admin_token,
        ws,
        json!([{ "sourcePath": "en.md", "title": "Bark", "content": "The running dogs bark.", "language": "en" }]),
    )
    .await;
    assert_eq!(languages(ws).await, "en");
    assert_eq!(languages(empty).await, "");
    assert_eq!(exact("running dogs").await, vec!["Bark"]);
    // English alone parses `running dogs` as `run` and `dog`; a Spanish
    // chunk keeps `running` and `dogs`, and holds the phrase only once
    // Spanish is among the workspace's languages.
    app.ingest(
        &fx.admin_token,
        ws,
        json!([{ "sourcePath": "es.md", "title": "Perros", "content": "Los running dogs ladran.", "language": "es" }]),
    )
    .await;
    assert_eq!(languages(ws).await, "en,es");
    assert_eq!(exact("running dogs").await, vec!["Bark", "Perros"]);
    let nodes: String = scalar(
        &owner,
        "SELECT numnode(needs)::text FROM screenplay.keyword_phrase('running dogs', NULL, NULL, \
         ARRAY['english']::regconfig[])",
    )
    .await;
    assert_eq!(nodes, "3", "English alone needs `run` and `dog`");
    owner
        .execute_unprepared(&format!(
            "UPDATE screenplay.code_documents SET language = 'de' WHERE workspace_id = '{ws}' AND source_path = 'en.md'"
        ))
        .await
        .expect("update");
    assert_eq!(languages(ws).await, "de,en,es");
    owner
        .execute_unprepared(&format!(
            "UPDATE screenplay.code_documents SET workspace_id = '{empty}' \
             WHERE workspace_id = '{ws}' AND source_path = 'es.md'"
        ))
        .await
        .expect("move");
    assert_eq!(languages(empty).await, "es", "a chunk moved takes its language along");
    owner
        .execute_unprepared(&format!(
            "DELETE FROM screenplay.code_documents WHERE workspace_id = '{ws}'"
        ))
        .await
        .expect("delete");
    assert_eq!(languages(ws).await, "de,en,es", "languages stay when their chunks go");
}
