//! The scanner's triage memory (`findings`), incremental-scan cursors (`scan_cursors`) and the
//! daily audit reports (`daily_reports`) in PostgreSQL: the statements of `sqlite_findings.rs`,
//! which PostgreSQL runs as they are, except the recording of a finding (one upsert here).

use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};

use crate::pg_rows::q;
use crate::{DailyReportRecord, FindingRecord, FindingState, NewFinding, Result, StoreError};

const COLUMNS: &str = "id, fingerprint, location_key, page_id, page_version, title, author, space, \
    file_path, element_path, char_offset, char_length, detector, category, severity, preview, \
    state, first_seen_micros, last_seen_micros, triaged_by, triage_note, vaulted_ref";

/// Records a finding seen now. A finding already known (same fingerprint and location) keeps its
/// triage state; its version, position and last-seen time are updated. Returns the row and
/// whether it is new. One upsert, so that two replicas scanning the same page at once cannot
/// both insert it (`xmax = 0` marks a row this statement inserted rather than updated).
pub(crate) async fn record(
    pool: &PgPool,
    f: &NewFinding,
    now: i64,
) -> Result<(FindingRecord, bool)> {
    let sql = format!(
        "INSERT INTO findings (fingerprint, location_key, page_id, page_version, title, author, \
         space, file_path, element_path, char_offset, char_length, detector, category, severity, \
         preview, state, first_seen_micros, last_seen_micros) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'new', $16, $16) \
         ON CONFLICT (fingerprint, location_key) DO UPDATE SET \
         page_version = excluded.page_version, title = excluded.title, \
         author = excluded.author, space = excluded.space, \
         element_path = excluded.element_path, char_offset = excluded.char_offset, \
         char_length = excluded.char_length, preview = excluded.preview, \
         last_seen_micros = excluded.last_seen_micros \
         RETURNING {COLUMNS}, (xmax = 0) AS inserted"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&f.fingerprint)
        .bind(&f.location_key)
        .bind(&f.page_id)
        .bind(f.page_version)
        .bind(&f.title)
        .bind(&f.author)
        .bind(&f.space)
        .bind(&f.file_path)
        .bind(&f.element_path)
        .bind(f.char_offset)
        .bind(f.char_length)
        .bind(&f.detector)
        .bind(&f.category)
        .bind(&f.severity)
        .bind(&f.preview)
        .bind(now)
        .fetch_one(pool)
        .await
        .map_err(q("record finding"))?;
    Ok((from_row(&row)?, row.get("inserted")))
}

pub(crate) async fn list(pool: &PgPool, state: Option<FindingState>) -> Result<Vec<FindingRecord>> {
    let rows = match state {
        Some(s) => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM findings WHERE state = $1 ORDER BY id"
            )))
            .bind(s.as_str())
            .fetch_all(pool)
            .await
        }
        None => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM findings ORDER BY id"
            )))
            .fetch_all(pool)
            .await
        }
    }
    .map_err(q("list findings"))?;
    rows.iter().map(from_row).collect()
}

pub(crate) async fn get(pool: &PgPool, id: i64) -> Result<Option<FindingRecord>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM findings WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(q("get finding"))?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Sets a finding's triage state; `false` when there is no such finding.
pub(crate) async fn triage(
    pool: &PgPool,
    id: i64,
    state: FindingState,
    by: &str,
    note: Option<&str>,
    vaulted_ref: Option<&str>,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE findings SET state = $2, triaged_by = $3, triage_note = $4, \
         vaulted_ref = COALESCE($5, vaulted_ref) WHERE id = $1",
    )
    .bind(id)
    .bind(state.as_str())
    .bind(by)
    .bind(note)
    .bind(vaulted_ref)
    .execute(pool)
    .await
    .map_err(q("triage finding"))?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn cursor(pool: &PgPool, space: &str) -> Result<Option<i64>> {
    Ok(
        sqlx::query("SELECT scanned_micros FROM scan_cursors WHERE space = $1")
            .bind(space)
            .fetch_optional(pool)
            .await
            .map_err(q("read scan cursor"))?
            .map(|r| r.get("scanned_micros")),
    )
}

pub(crate) async fn set_cursor(pool: &PgPool, space: &str, micros: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO scan_cursors (space, scanned_micros) VALUES ($1, $2) \
         ON CONFLICT(space) DO UPDATE SET scanned_micros = excluded.scanned_micros",
    )
    .bind(space)
    .bind(micros)
    .execute(pool)
    .await
    .map_err(q("write scan cursor"))?;
    Ok(())
}

pub(crate) async fn save_report(
    pool: &PgPool,
    created_micros: i64,
    passed: bool,
    report: &str,
) -> Result<i64> {
    Ok(sqlx::query(
        "INSERT INTO daily_reports (created_micros, passed, report) VALUES ($1, $2, $3) \
         RETURNING id",
    )
    .bind(created_micros)
    .bind(passed)
    .bind(report)
    .fetch_one(pool)
    .await
    .map_err(q("save daily report"))?
    .get("id"))
}

pub(crate) async fn reports(pool: &PgPool, limit: i64) -> Result<Vec<DailyReportRecord>> {
    let rows = sqlx::query(
        "SELECT id, created_micros, passed, report FROM daily_reports ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(q("list daily reports"))?;
    Ok(rows
        .iter()
        .map(|r| DailyReportRecord {
            id: r.get("id"),
            created_micros: r.get("created_micros"),
            passed: r.get("passed"),
            report: r.get("report"),
        })
        .collect())
}

fn from_row(r: &PgRow) -> Result<FindingRecord> {
    let state: String = r.get("state");
    Ok(FindingRecord {
        id: r.get("id"),
        finding: NewFinding {
            fingerprint: r.get("fingerprint"),
            location_key: r.get("location_key"),
            page_id: r.get("page_id"),
            page_version: r.get("page_version"),
            title: r.get("title"),
            author: r.get("author"),
            space: r.get("space"),
            file_path: r.get("file_path"),
            element_path: r.get("element_path"),
            char_offset: r.get("char_offset"),
            char_length: r.get("char_length"),
            detector: r.get("detector"),
            category: r.get("category"),
            severity: r.get("severity"),
            preview: r.get("preview"),
        },
        state: FindingState::parse(&state).ok_or(StoreError::Corrupt {
            what: "findings.state",
            value: state,
        })?,
        first_seen_micros: r.get("first_seen_micros"),
        last_seen_micros: r.get("last_seen_micros"),
        triaged_by: r.get("triaged_by"),
        triage_note: r.get("triage_note"),
        vaulted_ref: r.get("vaulted_ref"),
    })
}
