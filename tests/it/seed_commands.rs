//! The seed README's psql commands (README_DATABASE.md: 验证安装, 定期维护,
//! 监控和诊断), run as written through psql as the documented user (the
//! schema owner, `screenplay_user`, with no search_path of its own), on a
//! migrated database with documents and old logs. Each works, or fails
//! with a message that says what to run instead.

use std::process::Output;

use crate::helpers::{
    TestDb,
    seed::{insert_logs, seed},
    tools::{psql, text, url_parts},
};

/// `psql -U screenplay_user -d <db> -c "<sql>"`, as in the seed's crontab.
fn psql_c(db: &TestDb, sql: &str) -> Output {
    let p = url_parts(&db.owner_url);
    psql(&db.owner_url, &["-U", &p.user, "-d", &p.database, "-c", sql], None)
}

/// A single value, unaligned (`psql -At`).
fn psql_at(db: &TestDb, sql: &str) -> String {
    let p = url_parts(&db.owner_url);
    let out = psql(
        &db.owner_url,
        &["-U", &p.user, "-d", &p.database, "-At", "-c", sql],
        None,
    );
    ok(&out, sql).trim().to_owned()
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[tokio::test]
async fn seed_readme_commands_work_through_psql() {
    let db = TestDb::create().await;
    let owner = db.owner().await;
    let seeded = seed(&owner, 2, 1, 30).await;
    let (tenant, workspace) = seeded.workspaces[0];
    insert_logs(&owner, tenant, 200, 5).await;
    insert_logs(&owner, tenant, 10, 3).await;
    let p = url_parts(&db.owner_url);
    assert_eq!(p.user, "screenplay_user", "the seed's documented user");

    // 验证安装: an interactive session, `psql -U screenplay_user -d screenplay_db`.
    let session = psql(
        &db.owner_url,
        &["-U", &p.user, "-d", &p.database, "-v", "ON_ERROR_STOP=1"],
        Some(
            "\\dx\n\\dt screenplay.*\n\\df screenplay.*\n\\dv screenplay.*\n\
             SELECT * FROM screenplay.table_sizes;\nSELECT * FROM screenplay.vector_db_metrics;\n",
        ),
    );
    let out = ok(&session, "验证安装");
    for expected in [
        "vector",
        "pg_trgm",
        "code_documents",
        "execution_logs",
        "quota_usage",
        "cleanup_old_logs",
        "analyze_all_tables",
        "vacuum_and_analyze_all",
        "reindex_all_tables",
        "benchmark_vector_search",
        "table_sizes",
        "vector_db_metrics",
        "slow_queries",
        "index_usage",
        "cache_hit_ratio",
        "connection_stats",
        "pgvector is sufficient",
    ] {
        assert!(out.contains(expected), "`{expected}` missing from:\n{out}");
    }
    assert_eq!(
        psql_at(
            &db,
            "SELECT total_vectors || '/' || dimensions || '/' || tenants FROM screenplay.vector_db_metrics"
        ),
        "60/1536/2"
    );

    // 定期维护: the three crontab lines, unqualified names included.
    let vacuum = psql_c(&db, "SELECT vacuum_and_analyze_all();");
    let stdout = ok(&vacuum, "vacuum_and_analyze_all");
    let stderr = text(&vacuum.stderr);
    assert!(stdout.contains("ANALYZE done on"), "{stdout}");
    assert!(
        stderr.contains("NOTICE")
            && stderr.contains("VACUUM NOT done")
            && stderr.contains("screenplay maintenance vacuum"),
        "the NOTICE must say what was not done and what does it: {stderr}"
    );

    let cleanup = ok(&psql_c(&db, "SELECT * FROM cleanup_old_logs(90);"), "cleanup_old_logs");
    for table in ["execution_logs", "llm_call_logs", "audit_logs", "quota_usage"] {
        let line = cleanup
            .lines()
            .find(|l| l.trim_start().starts_with(table))
            .unwrap_or_else(|| panic!("no line for {table}: {cleanup}"));
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        assert_eq!(cols[1], "5", "{table} should lose the 5 rows of 200 days ago: {line}");
    }
    assert_eq!(
        psql_at(
            &db,
            "SELECT (SELECT count(*) FROM screenplay.execution_logs) || '/' || \
                    (SELECT count(*) FROM screenplay.audit_logs)"
        ),
        "3/3",
        "recent logs must stay"
    );

    let reindex = psql_c(&db, "SELECT reindex_all_tables();");
    let stdout = ok(&reindex, "reindex_all_tables");
    assert!(stdout.contains("REINDEX done"), "{stdout}");
    assert!(
        text(&reindex.stderr).contains("screenplay maintenance reindex"),
        "{}",
        text(&reindex.stderr)
    );

    // 监控和诊断.
    let create = psql_c(&db, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;");
    let available = psql_at(
        &db,
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_stat_statements'",
    ) != "0";
    if !available {
        // The local PostgreSQL has no contrib: the error says what to run instead.
        assert!(!create.status.success());
        let err = text(&create.stderr);
        assert!(
            err.contains("docker compose up -d postgres") && err.contains("CREATE EXTENSION pg_stat_statements"),
            "{err}"
        );
    }
    let slow = ok(&psql_c(&db, "SELECT * FROM screenplay.slow_queries;"), "slow_queries");
    assert!(slow.contains("mean_exec_ms"), "{slow}");
    if !available {
        assert!(slow.contains("(0 rows)"), "{slow}");
    }
    let sizes = ok(&psql_c(&db, "SELECT * FROM screenplay.table_sizes;"), "table_sizes");
    assert!(
        sizes.contains("code_documents") && sizes.contains("audit_logs"),
        "{sizes}"
    );
    let usage = ok(&psql_c(&db, "SELECT * FROM screenplay.index_usage;"), "index_usage");
    assert!(usage.contains("code_documents_embedding_hnsw_idx"), "{usage}");
    let ratio = ok(
        &psql_c(&db, "SELECT * FROM screenplay.cache_hit_ratio;"),
        "cache_hit_ratio",
    );
    assert!(ratio.contains("database") && ratio.contains("indexes"), "{ratio}");
    let conns = ok(
        &psql_c(&db, "SELECT * FROM screenplay.connection_stats;"),
        "connection_stats",
    );
    assert!(conns.contains("screenplay_user") && conns.contains("psql"), "{conns}");

    // 向量搜索性能测试, with a real workspace instead of the placeholder.
    let benchmark = format!(
        "SELECT \n    AVG(execution_time_ms) AS avg_time_ms,\n    \
         PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY execution_time_ms) AS p95_time_ms,\n    \
         PERCENTILE_CONT(0.99) WITHIN GROUP (ORDER BY execution_time_ms) AS p99_time_ms\n\
         FROM benchmark_vector_search('{workspace}'::UUID, 100);"
    );
    let bench = ok(&psql_c(&db, &benchmark), "benchmark_vector_search");
    assert!(bench.contains("p99_time_ms") && bench.contains("(1 row)"), "{bench}");
    assert_eq!(
        psql_at(
            &db,
            &format!("SELECT count(*) || '/' || min(result_count) FROM benchmark_vector_search('{workspace}', 7)")
        ),
        "7/10"
    );
    // The benchmark's p99 shows in vector_db_metrics.
    assert_eq!(
        psql_at(&db, "SELECT benchmark_p99_ms > 0 FROM screenplay.vector_db_metrics"),
        "t"
    );
    // The placeholder itself fails with PostgreSQL's clear message.
    let placeholder = psql_c(
        &db,
        "SELECT AVG(execution_time_ms) FROM benchmark_vector_search('your-workspace-uuid'::UUID, 100);",
    );
    assert!(!placeholder.status.success());
    assert!(
        text(&placeholder.stderr).contains("invalid input syntax for type uuid"),
        "{}",
        text(&placeholder.stderr)
    );
}
