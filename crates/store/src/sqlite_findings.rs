//! The scanner's triage memory (`findings`), incremental-scan cursors (`scan_cursors`) and the
//! daily audit reports (`daily_reports`) in SQLite.

use sqlx::Row;
use sqlx::sqlite::{SqlitePool, SqliteRow};

use crate::q;
use crate::{DailyReportRecord, FindingRecord, FindingState, NewFinding, Result, StoreError};

const COLUMNS: &str = "id, fingerprint, location_key, page_id, page_version, title, author, space, \
    file_path, element_path, char_offset, char_length, detector, category, severity, preview, \
    state, first_seen_micros, last_seen_micros, triaged_by, triage_note, vaulted_ref";

/// Records a finding seen now. A finding already known (same fingerprint and location) keeps its
/// triage state; its version, position and last-seen time are updated. Returns the row and
/// whether it is new.
pub(crate) async fn record(
    pool: &SqlitePool,
    f: &NewFinding,
    now: i64,
) -> Result<(FindingRecord, bool)> {
    let mut tx = pool.begin().await.map_err(q("begin finding"))?;
    let known: Option<i64> =
        sqlx::query("SELECT id FROM findings WHERE fingerprint = $1 AND location_key = $2")
            .bind(&f.fingerprint)
            .bind(&f.location_key)
            .fetch_optional(&mut *tx)
            .await
            .map_err(q("find finding"))?
            .map(|r| r.get("id"));
    let id = match known {
        Some(id) => {
            sqlx::query(
                "UPDATE findings SET page_version = $2, title = $3, author = $4, space = $5, \
                 element_path = $6, char_offset = $7, char_length = $8, preview = $9, \
                 last_seen_micros = $10 WHERE id = $1",
            )
            .bind(id)
            .bind(f.page_version)
            .bind(&f.title)
            .bind(&f.author)
            .bind(&f.space)
            .bind(&f.element_path)
            .bind(f.char_offset)
            .bind(f.char_length)
            .bind(&f.preview)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(q("update finding"))?;
            id
        }
        None => sqlx::query(
            "INSERT INTO findings (fingerprint, location_key, page_id, page_version, title, \
             author, space, file_path, element_path, char_offset, char_length, detector, \
             category, severity, preview, state, first_seen_micros, last_seen_micros) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'new', \
             $16, $16) RETURNING id",
        )
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
        .fetch_one(&mut *tx)
        .await
        .map_err(q("insert finding"))?
        .get("id"),
    };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM findings WHERE id = $1"
    )))
    .bind(id)
    .fetch_one(&mut *tx)
    .await
    .map_err(q("read finding"))?;
    tx.commit().await.map_err(q("commit finding"))?;
    Ok((from_row(&row)?, known.is_none()))
}

pub(crate) async fn list(
    pool: &SqlitePool,
    state: Option<FindingState>,
) -> Result<Vec<FindingRecord>> {
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

pub(crate) async fn get(pool: &SqlitePool, id: i64) -> Result<Option<FindingRecord>> {
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
    pool: &SqlitePool,
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

pub(crate) async fn cursor(pool: &SqlitePool, space: &str) -> Result<Option<i64>> {
    Ok(
        sqlx::query("SELECT scanned_micros FROM scan_cursors WHERE space = $1")
            .bind(space)
            .fetch_optional(pool)
            .await
            .map_err(q("read scan cursor"))?
            .map(|r| r.get("scanned_micros")),
    )
}

pub(crate) async fn set_cursor(pool: &SqlitePool, space: &str, micros: i64) -> Result<()> {
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
    pool: &SqlitePool,
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

pub(crate) async fn reports(pool: &SqlitePool, limit: i64) -> Result<Vec<DailyReportRecord>> {
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

fn from_row(r: &SqliteRow) -> Result<FindingRecord> {
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
