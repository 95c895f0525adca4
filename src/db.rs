//! Opening the database (SQLite in WAL mode, or PostgreSQL) and applying migrations.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement,
};

/// Connects with settings that suit the backend.
///
/// SQLite gets a single connection: writes serialize there anyway, and one
/// connection rules out `SQLITE_BUSY` on transactions that read before they write.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, Duration::from_secs(10)).await
}

/// Like `connect`, waiting at most `acquire_timeout` for a connection (`DATABASE_ACQUIRE_TIMEOUT`):
/// while the database is down, a request gets its 503 after that long.
pub async fn connect_with(url: &str, acquire_timeout: Duration) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options.connect_timeout(Duration::from_secs(5)).acquire_timeout(acquire_timeout).sqlx_logging(false);
    if url.starts_with("sqlite:") {
        // A file connection does not go stale: pinging it before every use would
        // only add a round trip to the connection's thread.
        options.max_connections(1).min_connections(1).test_before_acquire(false);
    } else {
        options.max_connections(20).min_connections(1);
    }
    let db = Database::connect(options).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;").await?;
    }
    Ok(db)
}

/// Read-only connections for the hot reads (authenticating a request, replaying
/// events, checking a subscription) so they do not queue behind a write on
/// SQLite's single connection: WAL lets readers and the writer work at once, and
/// a reader sees every transaction committed before its query began. Open it
/// after migrating. PostgreSQL (and an in-memory SQLite database, which a second
/// connection could not see) read through `writes` itself.
pub async fn connect_reads(
    url: &str,
    acquire_timeout: Duration,
    writes: &DatabaseConnection,
) -> Result<DatabaseConnection, DbErr> {
    if writes.get_database_backend() != DbBackend::Sqlite || url.contains(":memory:") || url.contains("mode=memory") {
        return Ok(writes.clone());
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(acquire_timeout)
        .sqlx_logging(false)
        .max_connections(SQLITE_READERS)
        .min_connections(1)
        .test_before_acquire(false)
        .map_sqlx_sqlite_opts(|sqlite| sqlite.read_only(true));
    Database::connect(options).await
}

/// Read-only SQLite connections (each has a thread of its own).
const SQLITE_READERS: u32 = 4;

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// True when the database answers a trivial query; backs `/ready`.
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.ping().await.is_ok()
}

/// Serializes the transactions that take the same `key` until they end, across
/// instances: a PostgreSQL transaction-scoped advisory lock. (SQLite has one
/// connection, so its transactions are serialized already.) For check-then-write
/// rules such as "one active ADMIN remains" or "30 orders a minute".
pub async fn serialize_on(txn: &DatabaseTransaction, key: &str) -> Result<(), DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtext($1))",
            [key.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Like [`serialize_on`] without waiting: false when another transaction holds
/// `key` (PostgreSQL); always true on SQLite. For work one instance at a time
/// should do and the others may skip, such as pruning.
pub async fn try_serialize_on(txn: &DatabaseTransaction, key: &str) -> Result<bool, DbErr> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(true);
    }
    let row = txn
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked",
            [key.into()],
        ))
        .await?;
    Ok(row.map(|r| r.try_get::<bool>("", "locked")).transpose()?.unwrap_or(false))
}
