//! Copies an SQLite store into an empty PostgreSQL one (`arkbridge store migrate`): every table,
//! parents before children, rows exactly as stored (audit rows with their leaf hashes and nodes
//! byte for byte, ids kept), in one PostgreSQL transaction, so the target holds all of it or
//! nothing. Verifying both audit logs is the caller's part (`arkbridge-audit` sits above this
//! crate).

use sqlx::Row;
use sqlx::postgres::PgArguments;
use sqlx::sqlite::SqliteRow;

use crate::pg_rows::q;
use crate::{PgStore, Result, SqliteStore, StoreError};

/// How a column is read from SQLite and bound for PostgreSQL (every one may be NULL).
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int,
    Int32,
    Blob,
    /// An SQLite integer 0/1 that PostgreSQL keeps as BOOLEAN.
    Bool,
}

use Kind::{Blob, Bool, Int, Int32, Text};

/// A table's name, its columns, and whether the first column is an identity.
type Table = (&'static str, &'static [(&'static str, Kind)], bool);

/// The tables in copy order (a row's references are copied before it), with their columns, and
/// whether the first column is an identity whose sequence must continue after the copied ids.
const TABLES: &[Table] = &[
    (
        "runs",
        &[
            ("id", Text),
            ("page_id", Text),
            ("page_version", Int),
            ("block", Text),
            ("user_email", Text),
            ("mode", Text),
            ("status", Text),
            ("exit_code", Int32),
            ("started_micros", Int),
            ("finished_micros", Int),
            ("comment_id", Text),
        ],
        false,
    ),
    (
        "run_guards",
        &[
            ("run_id", Text),
            ("deadline_micros", Int),
            ("pgid", Int32),
            ("process_start", Int),
            ("updated_micros", Int),
        ],
        false,
    ),
    (
        "leases",
        &[
            ("id", Int),
            ("run_id", Text),
            ("safe", Text),
            ("object", Text),
            ("account_id", Text),
            ("rotation", Text),
            ("state", Text),
            ("created_micros", Int),
            ("updated_micros", Int),
            ("error", Text),
            ("deadline_micros", Int),
        ],
        true,
    ),
    (
        "audit",
        &[
            ("seq", Int),
            ("record", Text),
            ("leaf_hash", Blob),
            ("nodes", Blob),
        ],
        false,
    ),
    (
        "approvals",
        &[
            ("id", Int),
            ("page_id", Text),
            ("block", Text),
            ("script_sha256", Text),
            ("page_version", Int),
            ("approver", Text),
            ("created_micros", Int),
            ("audit_seq", Int),
            ("approver_groups", Text),
        ],
        true,
    ),
    (
        "managed_members",
        &[("safe", Text), ("member", Text), ("added_micros", Int)],
        false,
    ),
    (
        "principals",
        &[
            ("email", Text),
            ("issuer", Text),
            ("subject", Text),
            ("confluence_account", Text),
            ("groups", Text),
            ("verified_micros", Int),
        ],
        false,
    ),
    (
        "findings",
        &[
            ("id", Int),
            ("fingerprint", Text),
            ("location_key", Text),
            ("page_id", Text),
            ("page_version", Int),
            ("title", Text),
            ("author", Text),
            ("space", Text),
            ("file_path", Text),
            ("element_path", Text),
            ("char_offset", Int),
            ("char_length", Int),
            ("detector", Text),
            ("category", Text),
            ("severity", Text),
            ("preview", Text),
            ("state", Text),
            ("first_seen_micros", Int),
            ("last_seen_micros", Int),
            ("triaged_by", Text),
            ("triage_note", Text),
            ("vaulted_ref", Text),
        ],
        true,
    ),
    (
        "scan_cursors",
        &[("space", Text), ("scanned_micros", Int)],
        false,
    ),
    (
        "daily_reports",
        &[
            ("id", Int),
            ("created_micros", Int),
            ("passed", Bool),
            ("report", Text),
        ],
        true,
    ),
    (
        "safe_member_snapshots",
        &[("safe", Text), ("members", Text), ("read_micros", Int)],
        false,
    ),
    (
        "audit_checkpoints",
        &[
            ("id", Int),
            ("tree_size", Int),
            ("time_us", Int),
            ("note", Text),
        ],
        false,
    ),
    (
        "audit_cursors",
        &[("name", Text), ("seq", Int), ("updated_us", Int)],
        false,
    ),
];

/// Rows read from SQLite at a time.
const PAGE: i64 = 1000;

fn corrupt(table: &str, column: &str, rowid: i64) -> StoreError {
    StoreError::Corrupt {
        what: "source store",
        value: format!("{table}.{column} of row {rowid} does not hold what it should"),
    }
}

/// Binds column `i` of an SQLite row to a PostgreSQL statement.
fn bind_value<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, PgArguments>,
    row: &SqliteRow,
    (table, column, kind): (&str, &str, Kind),
    rowid: i64,
) -> Result<sqlx::query::Query<'q, sqlx::Postgres, PgArguments>> {
    let bad = || corrupt(table, column, rowid);
    Ok(match kind {
        Text => query.bind(
            row.try_get::<Option<String>, _>(column)
                .map_err(|_| bad())?,
        ),
        Int => query.bind(row.try_get::<Option<i64>, _>(column).map_err(|_| bad())?),
        Int32 => {
            let v = row.try_get::<Option<i64>, _>(column).map_err(|_| bad())?;
            query.bind(v.map(i32::try_from).transpose().map_err(|_| bad())?)
        }
        Blob => query.bind(
            row.try_get::<Option<Vec<u8>>, _>(column)
                .map_err(|_| bad())?,
        ),
        Bool => query.bind(
            row.try_get::<Option<i64>, _>(column)
                .map_err(|_| bad())?
                .map(|v| v != 0),
        ),
    })
}

/// Copies every table of `source` into `target`, which must be empty; returns the rows copied
/// per table, in copy order.
pub async fn copy_sqlite_to_pg(
    source: &SqliteStore,
    target: &PgStore,
) -> Result<Vec<(&'static str, u64)>> {
    if !target.is_empty().await? {
        return Err(StoreError::Conflict(
            "the target PostgreSQL store is not empty; migrate into a new database".into(),
        ));
    }
    let mut tx = target.pool().begin().await.map_err(q("begin the copy"))?;
    let mut counts = Vec::new();
    for &(table, columns, identity) in TABLES {
        let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
        let list = names.join(", ");
        let select = format!(
            "SELECT rowid AS rowid_, {list} FROM {table} WHERE rowid > $1 ORDER BY rowid LIMIT $2"
        );
        let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
        let insert = format!(
            "INSERT INTO {table} ({list}) VALUES ({})",
            placeholders.join(", ")
        );
        let mut after = 0i64;
        let mut copied = 0u64;
        loop {
            let rows = sqlx::query(sqlx::AssertSqlSafe(select.clone()))
                .bind(after)
                .bind(PAGE)
                .fetch_all(source.pool())
                .await
                .map_err(q("read the source store"))?;
            for row in &rows {
                let rowid: i64 = row.get("rowid_");
                let mut query = sqlx::query(sqlx::AssertSqlSafe(insert.clone()));
                for &(column, kind) in columns {
                    query = bind_value(query, row, (table, column, kind), rowid)?;
                }
                query
                    .execute(&mut *tx)
                    .await
                    .map_err(q("write the target store"))?;
                after = rowid;
                copied += 1;
            }
            if (rows.len() as i64) < PAGE {
                break;
            }
        }
        if identity && copied > 0 {
            // New rows continue after the copied ids instead of colliding with them.
            let first = names[0];
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{first}'), (SELECT MAX({first}) FROM {table}))"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await
                .map_err(q("continue an identity after the copy"))?;
        }
        counts.push((table, copied));
    }
    tx.commit().await.map_err(q("commit the copy"))?;
    Ok(counts)
}
