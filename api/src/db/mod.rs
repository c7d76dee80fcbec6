//! The database handle: pool, migrations, readiness, the transactions
//! every service runs in (see [`scope`]), tenant-scoped queries
//! ([`tenant`]), batches of rows in one statement shape ([`batch`]), and
//! the self-installing local development database ([`local`]).

pub mod audit_statement;
pub mod batch;
pub mod local;
pub mod migrations;
pub mod pool;
pub mod replica;
pub mod rows;
pub mod scope;
pub mod tenant;

pub use migrations::{connect_for_migrations, migrate_up, pending_migrations, with_migration_lock};
pub use pool::{Db, DbStats, LoginRole, PoolOptions, PoolState};
pub use replica::{Picked, ReplicaState, Replicas};
pub use scope::{AdminStatus, CallerStatus, TxScope};
pub use tenant::TenantOwned;
