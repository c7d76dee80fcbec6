//! A primary with a streaming hot standby (`pg_basebackup -R`): two small
//! clusters beside the test cluster, sharing its binaries, for the
//! read-replica tests. Both are stopped when the pair is dropped.

use screenplay_api::db::local::{LocalDb, LocalUrls};
use sea_orm::{ConnectionTrait, DatabaseConnection};

use super::{
    TestDb,
    cluster::{self, TEST_PLATFORM_ADMIN, add_platform_admin, connect, test_home},
};

const PRIMARY_PORT: u16 = 54349;
const STANDBY_PORT: u16 = 54359;

pub struct Replicated {
    /// The primary's database (as the test harness names its databases).
    pub db: TestDb,
    /// The standby's URLs (same roles and passwords as the primary's).
    pub standby: LocalUrls,
    primary_cluster: LocalDb,
    standby_cluster: LocalDb,
}

impl Replicated {
    /// A migrated primary and a fresh standby of it, both running.
    pub async fn start() -> Self {
        let bins = cluster::bin_dir().await;
        let home = test_home().join("replication");
        let primary_cluster = LocalDb::ephemeral(home.join("primary"), PRIMARY_PORT)
            .expect("primary home")
            .with_bin_dir(bins.clone());
        let urls = primary_cluster.start().await.expect("starting the primary");
        screenplay_api::db::migrate_up(&urls.owner)
            .await
            .expect("migrating the primary");
        add_platform_admin(&urls.owner, TEST_PLATFORM_ADMIN).await;
        let standby_cluster = LocalDb::ephemeral(home.join("standby"), STANDBY_PORT)
            .expect("standby home")
            .with_bin_dir(bins);
        let standby = standby_cluster
            .start_standby_of(&primary_cluster)
            .await
            .expect("starting the standby");
        let db = TestDb {
            name: screenplay_api::db::local::DATABASE_NAME.into(),
            app_url: urls.app.clone(),
            owner_url: urls.owner.clone(),
            superuser_url: urls.superuser.clone(),
        };
        Self {
            db,
            standby,
            primary_cluster,
            standby_cluster,
        }
    }

    /// The standby's database as the app role: what the server reads from.
    pub fn standby_app_url(&self) -> String {
        self.standby.app.clone()
    }

    /// The standby's database as the superuser (to pause its replay, say).
    pub async fn standby_admin(&self) -> DatabaseConnection {
        let url = LocalUrls::with_database(&self.standby.superuser, screenplay_api::db::local::DATABASE_NAME);
        connect(&url).await
    }

    /// Pauses (or resumes) the standby's WAL replay: it stays up but falls
    /// behind. A pause is only a request until the standby's startup process
    /// next looks at WAL, so the primary writes a little WAL until the
    /// standby says `paused`.
    pub async fn pause_replay(&self, paused: bool) {
        let admin = self.standby_admin().await;
        let sql = if paused {
            "SELECT pg_wal_replay_pause()"
        } else {
            "SELECT pg_wal_replay_resume()"
        };
        admin.execute_unprepared(sql).await.expect("replay control");
        if paused {
            let primary = connect(&self.db.superuser_url).await;
            for _ in 0..100 {
                if replay_state(&admin).await == "paused" {
                    break;
                }
                primary
                    .execute_unprepared("SELECT txid_current()")
                    .await
                    .expect("nudge");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            assert_eq!(replay_state(&admin).await, "paused", "the standby never paused");
            primary.close().await.expect("close");
        }
        admin.close().await.expect("close");
    }

    /// Stops the standby (fast shutdown).
    pub fn stop_standby(&self) {
        self.standby_cluster.stop().expect("stopping the standby");
    }
}

impl Drop for Replicated {
    fn drop(&mut self) {
        let _ = self.standby_cluster.stop();
        let _ = self.primary_cluster.stop();
    }
}

async fn replay_state(admin: &DatabaseConnection) -> String {
    let row = admin
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_get_wal_replay_pause_state() AS state",
        ))
        .await
        .expect("pause state")
        .expect("row");
    row.try_get("", "state").expect("state")
}
