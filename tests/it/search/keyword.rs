//! Keyword search: Chinese text and stemmed English, whatever the locale.

use std::collections::HashSet;

use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::json;

use crate::helpers::{
    TestApp, TestDb,
    docs::{SEARCH, titles},
    scalar_i64,
};

#[tokio::test]
async fn keyword_search_finds_chinese_text_and_stemmed_english() {
    let app = TestApp::spawn().await;
    check_keyword_search(&app).await;
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
