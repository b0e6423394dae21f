//! Appends to the audit log in SQLite (with the Merkle nodes each leaf completes), and
//! log-before-act credential issue.
//!
//! Every append runs under `BEGIN IMMEDIATE`, which takes the database's write lock before the
//! head is read, so two appenders (even in two processes) can never give two records one seq.
//! The right edge of the tree comes from the stored nodes read in the same transaction, or from
//! this process's cache of it when that is provably current (see [`append_on`]), so the nodes
//! written always extend what is on disk.

use arkbridge_core::audit::tree::Frontier;
use arkbridge_core::audit::{AuditEvent, AuditRecord, encode};
use arkbridge_core::merkle::Hash;
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};

use crate::q;
use crate::sqlite_audit::{node_hashes_in, size_in};
use crate::{LeaseState, Result, StoreError};

pub(crate) type Tx = Transaction<'static, Sqlite>;

/// Starts a transaction that may append to the audit log.
pub(crate) async fn begin_append(pool: &SqlitePool) -> Result<Tx> {
    pool.begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(q("begin audit append"))
}

/// The tree's right edge after the last append this process committed, to spare re-reading it
/// from the stored nodes on every append. It is used only when its size equals the head read
/// inside the write-locked transaction, so an append by anyone else (another process, another
/// path) simply makes it miss.
pub(crate) type EdgeCache = std::sync::Mutex<Option<Frontier>>;

/// Rows per INSERT statement (4 bound values each, far below SQLite's variable limit).
const ROWS_PER_INSERT: usize = 200;

/// What an append wrote: the records, and the tree's edge to remember once committed.
pub(crate) struct Appended {
    pub(crate) records: Vec<AuditRecord>,
    edge: Frontier,
}

impl Appended {
    /// Remembers the edge; call only after the transaction committed.
    pub(crate) fn committed(self, cache: &EdgeCache) -> Vec<AuditRecord> {
        *cache.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.edge);
        self.records
    }
}

/// The cached edge, if it is the edge of a tree of `size` records (any size when `None`).
fn cached_edge(cache: &EdgeCache, size: Option<u64>) -> Option<Frontier> {
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .filter(|f| size.is_none_or(|n| f.size() == n))
}

/// The records of `events` after a tree whose edge is `frontier`, with the leaf hash and
/// completed nodes of each; `frontier` becomes the new edge. Pure computation: the canonical
/// encoding and the hashing of a batch.
pub(crate) fn build(
    events: Vec<AuditEvent>,
    frontier: &mut Frontier,
) -> (Vec<AuditRecord>, Vec<LeafRow>) {
    let size = frontier.size();
    let mut records = Vec::with_capacity(events.len());
    let mut rows = Vec::with_capacity(events.len());
    for (i, event) in events.into_iter().enumerate() {
        let record = encode((size + 1 + i as u64) as i64, event);
        let leaf = record.leaf_hash();
        rows.push((leaf, frontier.push(leaf).concat()));
        records.push(record);
    }
    (records, rows)
}

/// A record's leaf hash and the nodes it completes.
type LeafRow = (Hash, Vec<u8>);

/// `INSERT` statements for `n` rows (at most [`ROWS_PER_INSERT`] per statement), separated by
/// `;`. Only placeholders are in the text; every value is bound, by [`bind_rows`].
fn insert_sql(n: usize, out: &mut String) {
    for chunk in 0..n.div_ceil(ROWS_PER_INSERT) {
        let rows = (n - chunk * ROWS_PER_INSERT).min(ROWS_PER_INSERT);
        out.push_str("INSERT INTO audit (seq, record, leaf_hash, nodes) VALUES ");
        for i in 0..rows {
            out.push_str(if i == 0 {
                "(?, ?, ?, ?)"
            } else {
                ", (?, ?, ?, ?)"
            });
        }
        out.push(';');
    }
}

fn bind_rows<'q>(
    mut query: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments>,
    records: &'q [AuditRecord],
    rows: &'q [LeafRow],
) -> sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments> {
    for (record, (leaf, nodes)) in records.iter().zip(rows) {
        query = query
            .bind(record.seq)
            .bind(&record.canonical)
            .bind(&leaf[..])
            .bind(nodes.as_slice());
    }
    query
}

/// Appends `events` after the log's head, inside a transaction from [`begin_append`] (or any
/// transaction that began with `BEGIN IMMEDIATE` on `conn`).
pub(crate) async fn append_in(
    conn: &mut SqliteConnection,
    events: Vec<AuditEvent>,
    cache: &EdgeCache,
) -> Result<Appended> {
    let size = size_in(conn).await?;
    let mut frontier = match cached_edge(cache, Some(size)) {
        Some(f) => f,
        None => {
            let roots = node_hashes_in(conn, &Frontier::positions(size)).await?;
            Frontier::from_roots(size, roots).ok_or_else(|| StoreError::Corrupt {
                what: "audit nodes",
                value: format!("the right edge of the tree of {size} records"),
            })?
        }
    };
    let (records, rows) = build(events, &mut frontier);
    let mut sql = String::new();
    insert_sql(records.len(), &mut sql);
    bind_rows(sqlx::query(sqlx::AssertSqlSafe(sql)), &records, &rows)
        .execute(&mut *conn)
        .await
        .map_err(q("append audit"))?;
    Ok(Appended {
        records,
        edge: frontier,
    })
}

/// Appends `events` in one transaction on `conn`, a connection that is in no transaction (the
/// group commit's own).
///
/// When this process appended last (the edge is cached), the whole transaction is a single
/// statement list sent to SQLite at once, `BEGIN IMMEDIATE; INSERT ...; COMMIT`: one round trip
/// to the connection's thread instead of four. The head is not read first: the records take the
/// seqs after the cached edge, and `seq` is the primary key, so if anyone else appended
/// meanwhile (another process, or this store's other append paths) the first insert collides,
/// the transaction is rolled back, and the batch goes again the careful way below, which reads
/// the head and the stored edge under the write lock. A fork is impossible either way.
pub(crate) async fn append_on(
    conn: &mut SqliteConnection,
    mut events: Vec<AuditEvent>,
    cache: &EdgeCache,
) -> Result<Vec<AuditRecord>> {
    if let Some(mut frontier) = cached_edge(cache, None) {
        let (records, rows) = build(events, &mut frontier);
        let mut sql = String::from("BEGIN IMMEDIATE;");
        insert_sql(records.len(), &mut sql);
        sql.push_str("COMMIT;");
        let done = bind_rows(sqlx::query(sqlx::AssertSqlSafe(sql)), &records, &rows)
            .execute(&mut *conn)
            .await;
        match done {
            Ok(_) => {
                *cache.lock().unwrap_or_else(|e| e.into_inner()) = Some(frontier);
                return Ok(records);
            }
            Err(e) => {
                // Whatever failed, the transaction (if it began) must not stay open.
                let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
                let collided = e
                    .as_database_error()
                    .is_some_and(|d| d.is_unique_violation());
                if !collided {
                    return Err(StoreError::Query {
                        what: "append audit",
                        source: e,
                    });
                }
                *cache.lock().unwrap_or_else(|e| e.into_inner()) = None;
                events = records.into_iter().map(|r| r.event).collect();
            }
        }
    }
    let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE")
        .await
        .map_err(q("begin audit append"))?;
    let appended = append_in(&mut tx, events, cache).await?;
    tx.commit().await.map_err(q("commit audit append"))?;
    Ok(appended.committed(cache))
}

/// Appends `events` in one transaction of their own.
pub(crate) async fn append_batch(
    pool: &SqlitePool,
    events: Vec<AuditEvent>,
    cache: &EdgeCache,
) -> Result<Vec<AuditRecord>> {
    let mut tx = begin_append(pool).await?;
    let appended = append_in(&mut tx, events, cache).await?;
    tx.commit().await.map_err(q("commit audit append"))?;
    Ok(appended.committed(cache))
}

/// Log before act: the lease moves to `issued` and `event` is appended, in one transaction.
pub(crate) async fn issue_credential(
    pool: &SqlitePool,
    lease_id: i64,
    event: AuditEvent,
    cache: &EdgeCache,
) -> Result<AuditRecord> {
    let mut tx = begin_append(pool).await?;
    let done = sqlx::query(
        "UPDATE leases SET state = $1, updated_micros = $2 WHERE id = $3 AND state = $4",
    )
    .bind(LeaseState::Issued.as_str())
    .bind(event.time_us)
    .bind(lease_id)
    .bind(LeaseState::Requested.as_str())
    .execute(&mut *tx)
    .await
    .map_err(q("mark lease issued"))?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Conflict(format!(
            "lease {lease_id} is not waiting for its credential; nothing was issued"
        )));
    }
    let appended = append_in(&mut tx, vec![event], cache).await?;
    tx.commit().await.map_err(q("commit credential issue"))?;
    Ok(appended.committed(cache).remove(0))
}
