//! `screenplay ingest` as a real process.

use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::helpers::{TestApp, scalar_i64};

#[tokio::test]
async fn the_ingest_command_reads_folders_with_progress_and_a_summary() {
    let app = TestApp::spawn().await;
    let fx = app.tenant("cli").await;
    let ws = app.workspace(&fx, "docs").await;
    let dir = std::env::temp_dir().join(format!("screenplay-ingest-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("scenes")).expect("mkdir");
    std::fs::create_dir_all(dir.join(".git")).expect("mkdir");
    std::fs::write(dir.join("notes.md"), "# Notes\n\nThe detective waits in the rain.").expect("write");
    std::fs::write(
        dir.join("scenes/opening.fountain"),
        "INT. 仓库 - 夜\n\n雨水敲打着屋顶。",
    )
    .expect("write");
    std::fs::write(dir.join("scenes/tool.rs"), "fn main() { println!(\"hi\"); }").expect("write");
    std::fs::write(dir.join(".git/config"), "[core]").expect("write");
    std::fs::write(dir.join("image.png"), b"\x89PNG\0\0").expect("write");
    let run = |paths: Vec<std::path::PathBuf>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_screenplay"));
        cmd.arg("ingest")
            .arg("--workspace")
            .arg(ws.to_string())
            .args(paths)
            .env("DATABASE_URL", &app.db.app_url)
            .env("SCREENPLAY_MIGRATION_DATABASE_URL", &app.db.owner_url)
            .env("RUST_LOG", "warn")
            .env_remove("SCREENPLAY_EMBEDDING_URL");
        cmd.output().expect("run screenplay ingest")
    };
    let out = run(vec![dir.clone(), dir.join("image.png")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "a failed file fails the run: {stdout}");
    assert!(stdout.contains("3 file(s) ingested"), "{stdout}");
    assert!(stdout.contains("3 chunk(s) added, 0 skipped"), "{stdout}");
    assert!(stdout.contains("image.png: unsupported file type (.png)"), "{stdout}");
    let owner = app.owner().await;
    assert_eq!(
        scalar_i64(
            &owner,
            &format!(
                "SELECT count(*) FROM screenplay.code_documents WHERE workspace_id = '{ws}' AND created_by IS NULL \
                 AND embedding IS NOT NULL"
            )
        )
        .await,
        3
    );
    let zh = scalar_i64(
        &owner,
        &format!(
            "SELECT count(*) FROM screenplay.code_documents WHERE workspace_id = '{ws}' AND language = 'zh' \
             AND source_path LIKE '%opening.fountain'"
        ),
    )
    .await;
    assert_eq!(zh, 1);
    // Source paths are relative to the folder named on the command line.
    let paths = owner
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("SELECT source_path FROM screenplay.code_documents WHERE workspace_id = '{ws}' ORDER BY 1"),
        ))
        .await
        .expect("paths")
        .iter()
        .map(|r| r.try_get::<String>("", "source_path").expect("path"))
        .collect::<Vec<_>>();
    assert_eq!(paths, ["notes.md", "scenes/opening.fountain", "scenes/tool.rs"]);

    // Again: everything is already there.
    let out = run(vec![dir.clone()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("0 chunk(s) added, 3 skipped"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Outside a project with a local database, and without DATABASE_URL, a
/// command says where to look instead of installing a second database.
#[test]
fn a_command_outside_the_project_says_where_its_database_is() {
    let dir = std::env::temp_dir().join(format!("screenplay-elsewhere-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_screenplay"))
        .args(["ingest", "--workspace", &Uuid::nil().to_string(), "."])
        .current_dir(&dir)
        .env_remove("DATABASE_URL")
        .env_remove("SCREENPLAY_HOME")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run screenplay ingest");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("no local development database") && stderr.contains("--home"),
        "{stderr}"
    );
    let created = std::fs::read_dir(&dir).expect("dir").count();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(created, 0, "nothing installed in the folder");
}
