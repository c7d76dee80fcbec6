//! `screenplay backup` / `screenplay restore`: a seeded database dumped and
//! restored into a new one holds the same rows and answers searches the same.

use std::os::unix::fs::PermissionsExt;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use uuid::Uuid;

use crate::helpers::{
    TestDb,
    seed::{insert_logs, row_counts, seed},
    tools::{pg_program, psql, screenplay, text, url_parts},
};

/// The ids of the 5 nearest documents of a workspace to one of its own
/// vectors: one search result, to compare across databases.
///
/// After the search issue merges, add a `hybridSearch`-through-the-API
/// comparison here (same query on a server of each database).
async fn nearest(db: &DatabaseConnection, workspace: Uuid) -> Vec<Uuid> {
    db.query_all_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT d.id FROM screenplay.code_documents d \
         WHERE d.workspace_id = $1 \
         ORDER BY d.embedding <=> (SELECT q.embedding FROM screenplay.code_documents q \
                                   WHERE q.workspace_id = $1 ORDER BY q.source_path LIMIT 1), d.id \
         LIMIT 5",
        [workspace.into()],
    ))
    .await
    .expect("search")
    .iter()
    .map(|r| r.try_get_by_index(0).expect("id"))
    .collect()
}

#[tokio::test]
async fn backup_and_restore_keep_every_row() {
    let source = TestDb::create().await;
    let owner = source.owner().await;
    let seeded = seed(&owner, 2, 2, 15).await;
    insert_logs(&owner, seeded.tenants[0], 3, 4).await;
    insert_logs(&owner, seeded.tenants[1], 40, 2).await;
    let counts = row_counts(&owner).await;
    assert!(
        counts.iter().any(|(t, n)| t == "code_documents" && *n == 60),
        "{counts:?}"
    );
    let (_, workspace) = seeded.workspaces[0];
    let before = nearest(&owner, workspace).await;
    assert_eq!(before.len(), 5);

    let dir = std::env::temp_dir().join(format!("screenplay-backup-{}", Uuid::new_v4().simple()));
    // An old dump of this database, to be pruned by --keep-days.
    std::fs::create_dir_all(&dir).expect("dir");
    let database = url_parts(&source.owner_url).database;
    let stale = dir.join(format!("{database}_20000101_000000.dump"));
    std::fs::write(&stale, b"old").expect("stale");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(40 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .expect("open")
        .set_modified(old)
        .expect("mtime");
    let unrelated = dir.join("notes.txt");
    std::fs::write(&unrelated, b"keep").expect("unrelated");

    let out = screenplay(
        &source.owner_url,
        &["backup", "--out", dir.to_str().expect("utf-8"), "--keep-days", "30"],
    );
    assert!(out.status.success(), "backup: {}", text(&out.stderr));
    let file = std::path::PathBuf::from(text(&out.stdout).trim());
    assert!(file.starts_with(&dir) && file.is_file(), "{file:?}");
    assert!(!stale.exists(), "dumps older than --keep-days are deleted");
    assert!(unrelated.exists(), "other files are left alone");
    let magic = std::fs::read(&file).expect("dump");
    assert_eq!(&magic[..5], b"PGDMP", "custom format");

    // Restore into a new, empty database (extensions created by the administrator).
    let target = TestDb::create_empty().await;
    let out = screenplay(
        &source.owner_url,
        &["restore", file.to_str().expect("utf-8"), "--into", &target.owner_url],
    );
    assert!(out.status.success(), "restore: {}", text(&out.stderr));
    let restored = target.owner().await;
    assert_eq!(row_counts(&restored).await, counts, "row counts per table");
    assert_eq!(nearest(&restored, workspace).await, before, "same search result");
    // Grants and row-level security came back: the app role sees one tenant only.
    let app = target.app().await;
    let tx = app.begin().await.expect("begin");
    tx.execute_unprepared(&format!(
        "SELECT set_config('app.tenant_id', '{}', true)",
        seeded.tenants[0]
    ))
    .await
    .expect("tenant");
    let visible: i64 = tx
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) FROM screenplay.code_documents",
        ))
        .await
        .expect("count")
        .expect("row")
        .try_get_by_index(0)
        .expect("i64");
    assert_eq!(visible, 30);
    tx.rollback().await.expect("rollback");
    // The restored database answers the seed's unqualified crontab calls.
    let p = url_parts(&target.owner_url);
    let crontab = psql(
        &target.owner_url,
        &[
            "-U",
            &p.user,
            "-d",
            &p.database,
            "-c",
            "SELECT * FROM cleanup_old_logs(90);",
        ],
        None,
    );
    assert!(crontab.status.success(), "{}", text(&crontab.stderr));

    // Restoring over a database that has the schema is refused without --clean.
    let out = screenplay(
        &source.owner_url,
        &["restore", file.to_str().expect("utf-8"), "--into", &target.owner_url],
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--clean"), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn client_programs_of_another_major_version_are_refused() {
    let db = TestDb::create().await;
    let dir = std::env::temp_dir().join(format!("screenplay-pgbin-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let fake = dir.join("pg_dump");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)'\n",
    )
    .expect("fake");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out_dir = dir.join("out");
    let out = screenplay(
        &db.owner_url,
        &[
            "backup",
            "--pg-bin",
            dir.to_str().expect("utf-8"),
            "--out",
            out_dir.to_str().expect("utf-8"),
        ],
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("version mismatch") && err.contains("is PostgreSQL 15") && err.contains("server is PostgreSQL 18"),
        "{err}"
    );
    assert!(!out_dir.exists(), "nothing written");

    // Debian's own pg_dump 15, where installed, is refused the same way.
    if std::path::Path::new("/usr/bin/pg_dump").exists() {
        let out = screenplay(
            &db.owner_url,
            &[
                "backup",
                "--pg-bin",
                "/usr/bin",
                "--out",
                out_dir.to_str().expect("utf-8"),
            ],
        );
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains("version mismatch"), "{}", text(&out.stderr));
    }

    // Missing programs are named.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).expect("dir");
    let out = screenplay(
        &db.owner_url,
        &[
            "backup",
            "--pg-bin",
            empty.to_str().expect("utf-8"),
            "--out",
            out_dir.to_str().expect("utf-8"),
        ],
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("pg_dump not found"), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The seed's own backup lines (README_DATABASE.md, 备份与恢复) run as
/// written, as the schema owner: a full dump and a data-only one. Each
/// restores: the full one into an empty database, the data into a freshly
/// migrated one; both hold every row. The server's role still sees one
/// tenant only.
#[tokio::test]
async fn the_seeds_pg_dump_lines_work_as_written_and_restore() {
    let source = TestDb::create().await;
    let owner = source.owner().await;
    seed(&owner, 2, 2, 5).await;
    let counts = row_counts(&owner).await;
    let p = url_parts(&source.owner_url);
    let dir = std::env::temp_dir().join(format!("screenplay-seed-dump-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let full = dir.join("backup.dump");
    let data = dir.join("data.dump");
    // pg_dump -U screenplay_user -d screenplay_db -F c -f backup.dump
    let out = pg_program(
        "pg_dump",
        &source.owner_url,
        &[
            "-U",
            &p.user,
            "-d",
            &p.database,
            "-F",
            "c",
            "-f",
            full.to_str().expect("utf-8"),
        ],
        None,
    );
    assert!(out.status.success(), "pg_dump: {}", text(&out.stderr));
    // The data-only variant: pg_dump -U screenplay_user -d screenplay_db -a -F c -f data.dump
    let out = pg_program(
        "pg_dump",
        &source.owner_url,
        &[
            "-U",
            &p.user,
            "-d",
            &p.database,
            "-a",
            "-F",
            "c",
            "-f",
            data.to_str().expect("utf-8"),
        ],
        None,
    );
    assert!(out.status.success(), "pg_dump -a: {}", text(&out.stderr));

    let restored = TestDb::create_empty().await;
    let out = screenplay(
        &restored.owner_url,
        &["restore", full.to_str().expect("utf-8"), "--into", &restored.owner_url],
    );
    assert!(out.status.success(), "restore: {}", text(&out.stderr));
    assert_eq!(row_counts(&restored.owner().await).await, counts);

    let migrated = TestDb::create().await;
    // A freshly migrated database holds no rows; the test template's
    // platform admin would collide with the dumped one.
    migrated
        .owner()
        .await
        .execute_unprepared("DELETE FROM screenplay.platform_admins")
        .await
        .expect("empty");
    let out = pg_program(
        "pg_restore",
        &migrated.owner_url,
        &[
            "-U",
            &p.user,
            "-d",
            &url_parts(&migrated.owner_url).database,
            "-a",
            "-n",
            "screenplay",
            "--single-transaction",
            "--exit-on-error",
            data.to_str().expect("utf-8"),
        ],
        None,
    );
    assert!(out.status.success(), "pg_restore -a: {}", text(&out.stderr));
    assert_eq!(row_counts(&migrated.owner().await).await, counts);
    let _ = std::fs::remove_dir_all(&dir);
}
