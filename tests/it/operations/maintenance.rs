//! Maintenance: the online mutations, the CLI jobs, the scheduler and the
//! log partitions kept ahead.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use screenplay_api::{
    config::ScheduleConfig,
    maintenance::{
        Job, JobKind, JobReport, OwnerConnection, RunOutcome, StartedBy,
        scheduler::{Scheduler, due},
    },
};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;

use crate::helpers::{
    TestApp, TestDb, scalar_i64,
    seed::{exec, insert_logs, seed},
    tools::{screenplay, text},
};

#[tokio::test]
async fn online_maintenance_mutations_clean_logs_and_analyze() {
    let app = TestApp::spawn().await;
    let owner = app.owner().await;
    let seeded = seed(&owner, 1, 1, 2).await;
    let tenant = seeded.tenants[0];
    insert_logs(&owner, tenant, 150, 4).await; // whole partition older than 100 days
    insert_logs(&owner, tenant, 40, 2).await; // kept
    // Rows on both sides of the cut-off inside one partition: the boundary
    // partition loses only its older rows.
    exec(
        &owner,
        "INSERT INTO screenplay.execution_logs (tenant_id, agent_name, action, status, started_at, created_at) \
         SELECT $1, 'writer', 'write', 'succeeded', t, t FROM (VALUES \
             (date_trunc('month', now() - interval '100 days') + interval '1 hour'), \
             (now() - interval '100 days' + interval '1 hour')) AS v(t) \
         WHERE date_trunc('month', now() - interval '100 days' + interval '1 hour') \
               = date_trunc('month', now() - interval '100 days')",
        vec![tenant.into()],
    )
    .await;
    let boundary_rows = scalar_i64(
        &owner,
        "SELECT count(*) FROM screenplay.execution_logs WHERE agent_name = 'writer'",
    )
    .await;
    let partitions_before = scalar_i64(
        &owner,
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'screenplay.execution_logs'::regclass",
    )
    .await;

    let token = app.platform_token();
    let data = app
        .gql(
            Some(&token),
            "mutation { cleanupOldLogs(days: 100) { runId tables { tableName deletedCount partitionsDropped cutoff } } }",
            json!({}),
        )
        .await;
    let tables = data["cleanupOldLogs"]["tables"].as_array().expect("tables");
    let row = |name: &str| tables.iter().find(|t| t["tableName"] == name).expect("row").clone();
    let exec_row = row("execution_logs");
    assert_eq!(
        exec_row["deletedCount"].as_i64(),
        Some(4 + if boundary_rows == 2 { 1 } else { 0 }),
        "{exec_row}"
    );
    assert!(exec_row["partitionsDropped"].as_i64() >= Some(1), "{exec_row}");
    assert_eq!(row("audit_logs")["deletedCount"], 4);
    assert_eq!(row("llm_call_logs")["deletedCount"], 4);
    assert_eq!(row("quota_usage")["deletedCount"], 4);
    assert_eq!(
        scalar_i64(
            &owner,
            "SELECT count(*) FROM screenplay.execution_logs WHERE agent_name = 'planner'"
        )
        .await,
        2,
        "logs newer than the cut-off stay"
    );
    if boundary_rows == 2 {
        assert_eq!(
            scalar_i64(
                &owner,
                "SELECT count(*) FROM screenplay.execution_logs WHERE agent_name = 'writer'"
            )
            .await,
            1,
            "the boundary partition keeps its newer row"
        );
    }
    let partitions_after = scalar_i64(
        &owner,
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'screenplay.execution_logs'::regclass",
    )
    .await;
    assert!(partitions_after < partitions_before);
    let run_id = data["cleanupOldLogs"]["runId"].as_str().expect("run id").to_owned();
    assert_eq!(
        scalar_i64(
            &owner,
            &format!(
                "SELECT count(*) FROM screenplay.maintenance_runs WHERE id = '{run_id}' AND job = 'cleanup' \
                 AND started_by = 'api' AND status = 'succeeded'"
            )
        )
        .await,
        1
    );
    assert_eq!(
        app.gql_err(
            Some(&token),
            "mutation { cleanupOldLogs(days: 0) { runId } }",
            json!({})
        )
        .await,
        "BAD_USER_INPUT"
    );

    // The job's advisory lock held elsewhere: CONFLICT, nothing done.
    let holder = app.db.owner().await;
    holder
        .execute_unprepared(&format!("SELECT pg_advisory_lock({})", JobKind::Cleanup.lock_key()))
        .await
        .expect("lock");
    assert_eq!(
        app.gql_err(
            Some(&token),
            "mutation { cleanupOldLogs(days: 100) { runId } }",
            json!({})
        )
        .await,
        "CONFLICT"
    );
    holder.close().await.expect("close");

    let data = app
        .gql(
            Some(&token),
            "mutation { analyzeAllTables { runId tables { tableName durationMs } } }",
            json!({}),
        )
        .await;
    let analyzed: Vec<&str> = data["analyzeAllTables"]["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .map(|t| t["tableName"].as_str().expect("name"))
        .collect();
    assert!(
        analyzed.contains(&"code_documents") && analyzed.contains(&"audit_logs"),
        "{analyzed:?}"
    );
    // ANALYZE ran: the planner's row count of the documents is now exact.
    assert_eq!(
        scalar_i64(
            &owner,
            "SELECT reltuples::bigint FROM pg_class WHERE oid = 'screenplay.code_documents'::regclass"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn maintenance_cli_runs_each_job_as_the_owner() {
    let db = TestDb::create().await;
    let owner = db.owner().await;
    let seeded = seed(&owner, 1, 1, 3).await;
    insert_logs(&owner, seeded.tenants[0], 120, 2).await;
    // Delete a few documents so VACUUM has dead rows to clear.
    exec(
        &owner,
        "DELETE FROM screenplay.code_documents WHERE ctid IN (SELECT ctid FROM screenplay.code_documents LIMIT 1)",
        vec![],
    )
    .await;

    for args in [
        &["maintenance", "vacuum"][..],
        &["maintenance", "analyze"],
        &["maintenance", "reindex"],
        &["maintenance", "cleanup", "--days", "90"],
        &["maintenance", "partitions", "--months-ahead", "5"],
    ] {
        let out = screenplay(&db.owner_url, args);
        assert!(
            out.status.success(),
            "{args:?}: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let stdout = text(&out.stdout);
        match args[1] {
            "vacuum" | "analyze" | "reindex" => assert!(stdout.contains("code_documents"), "{stdout}"),
            "cleanup" => assert!(
                stdout
                    .lines()
                    .any(|l| l.starts_with("execution_logs") && l.split_whitespace().nth(1) == Some("2")),
                "{stdout}"
            ),
            _ => assert!(stdout.contains("created"), "{stdout}"),
        }
    }
    // VACUUM really ran (outside any transaction), and every run is recorded.
    assert!(
        scalar_i64(
            &owner,
            "SELECT count(*) FROM pg_stat_all_tables WHERE relname = 'code_documents' AND last_vacuum IS NOT NULL"
        )
        .await
            == 1
    );
    assert_eq!(
        scalar_i64(
            &owner,
            "SELECT count(DISTINCT job) FROM screenplay.maintenance_runs WHERE started_by = 'cli' AND status = 'succeeded'"
        )
        .await,
        5
    );
    assert_eq!(
        scalar_i64(
            &owner,
            "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE c.relnamespace = 'screenplay'::regnamespace AND NOT i.indisvalid"
        )
        .await,
        0,
        "REINDEX CONCURRENTLY left no invalid index"
    );

    // The app role is refused with a message naming what to set.
    let out = screenplay(&db.app_url, &["maintenance", "vacuum"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("SCREENPLAY_MIGRATION_DATABASE_URL"),
        "{}",
        text(&out.stderr)
    );

    // A job whose lock is held elsewhere is refused, not run twice.
    let holder = db.owner().await;
    holder
        .execute_unprepared(&format!("SELECT pg_advisory_lock({})", JobKind::Vacuum.lock_key()))
        .await
        .expect("lock");
    let out = screenplay(&db.owner_url, &["maintenance", "vacuum"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("advisory lock"), "{}", text(&out.stderr));
}

#[tokio::test]
async fn scheduler_runs_each_slot_once_across_instances() {
    let db = TestDb::create().await;
    let owner = db.owner().await;
    let seeded = seed(&owner, 1, 1, 1).await;
    insert_logs(&owner, seeded.tenants[0], 200, 3).await;
    let plan = ScheduleConfig {
        vacuum: "0 2 * * *".parse().expect("cron"),
        cleanup: "0 3 * * 0".parse().expect("cron"),
        reindex: "0 4 1 * *".parse().expect("cron"),
        retention_days: 90,
    };
    // 2026-11-29 is a Sunday: 03:00 is the weekly cleanup, not the vacuum.
    let sunday_3am = Utc.with_ymd_and_hms(2026, 11, 29, 3, 0, 0).single().expect("time");
    assert_eq!(due(&plan, sunday_3am), [Job::Cleanup { days: 90 }]);
    assert!(due(&plan, sunday_3am + chrono::Duration::minutes(1)).is_empty());

    let secret = || screenplay_api::config::Secret::new(db.owner_url.clone());
    let a = Scheduler::new(secret(), plan.clone(), "instance-a");
    let b = Scheduler::new(secret(), plan.clone(), "instance-b");
    let (ra, rb) = tokio::join!(a.run_due(sunday_3am), b.run_due(sunday_3am));
    let outcomes: Vec<RunOutcome> = ra
        .expect("a")
        .into_iter()
        .chain(rb.expect("b"))
        .map(|(_, o)| o)
        .collect();
    let done = outcomes.iter().filter(|o| matches!(o, RunOutcome::Done(_))).count();
    assert_eq!(done, 1, "exactly one instance runs the slot: {outcomes:?}");
    assert_eq!(
        scalar_i64(
            &owner,
            "SELECT count(*) FROM screenplay.maintenance_runs WHERE job = 'cleanup' AND started_by = 'schedule' \
             AND slot = '2026-11-29 03:00:00+00'"
        )
        .await,
        1
    );
    assert_eq!(
        scalar_i64(&owner, "SELECT count(*) FROM screenplay.audit_logs").await,
        0,
        "the scheduled cleanup removed the old logs"
    );
    // The same slot later (a restarted instance) does not run again.
    let again = a.run_due(sunday_3am).await.expect("again");
    assert!(
        matches!(again[..], [(JobKind::Cleanup, RunOutcome::AlreadyRan)]),
        "{again:?}"
    );

    // The owner connection runs a job directly, with a report.
    let conn = OwnerConnection::connect(&db.owner_url).await.expect("owner");
    let report = conn
        .run(
            Job::Partitions {
                months_back: 0,
                months_ahead: 3,
            },
            StartedBy::Cli,
            None,
            "test",
        )
        .await
        .expect("run");
    assert!(
        matches!(report, RunOutcome::Done(JobReport::Partitions(_))),
        "{report:?}"
    );
    conn.close().await;
}

#[tokio::test]
async fn servers_create_log_partitions_ahead() {
    let db = TestDb::create().await;
    let owner = db.owner().await;
    let future = "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
                  WHERE i.inhparent = 'screenplay.audit_logs'::regclass \
                  AND c.relname > 'audit_logs_y' || to_char(now() AT TIME ZONE 'UTC', 'YYYY\"m\"MM')";
    let ahead = scalar_i64(&owner, future).await;
    assert_eq!(ahead, 3);
    // Drop the future partitions: a starting server puts them back.
    let names = owner
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            future.replace("SELECT count(*)", "SELECT c.relname::text"),
        ))
        .await
        .expect("names");
    for row in names {
        let name: String = row.try_get_by_index(0).expect("name");
        exec(&owner, &format!("DROP TABLE screenplay.{name}"), vec![]).await;
    }
    assert_eq!(scalar_i64(&owner, future).await, 0);
    let _app = TestApp::spawn_on(db.clone(), &[]).await;
    let mut waited = Duration::ZERO;
    while scalar_i64(&owner, future).await < 3 {
        assert!(waited < Duration::from_secs(20), "partitions were not created ahead");
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += Duration::from_millis(100);
    }
}
