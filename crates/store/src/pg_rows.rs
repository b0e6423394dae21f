//! Runs, leases, run guards, approvals, managed safe members and principals in PostgreSQL: the
//! same statements as SQLite's where the dialects agree, `lower(...)` where SQLite compares with
//! `COLLATE NOCASE`.

use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};

use crate::model::{GUARD_SQL, SET_GUARD_SQL};
use crate::sqlite_principals::{groups_from_json, groups_json};
use crate::{
    ApprovalRecord, Lease, LeaseState, NewLease, Principal, Result, RunGuard, RunRecord, RunStatus,
    StoreError, TimedLease,
};

pub(crate) use crate::q;

fn parse<T: std::str::FromStr>(what: &'static str, s: String) -> Result<T> {
    s.parse()
        .map_err(|_| StoreError::Corrupt { what, value: s })
}

pub(crate) fn run_from_row(r: &PgRow) -> Result<RunRecord> {
    Ok(RunRecord {
        id: r.get("id"),
        page_id: r.get("page_id"),
        page_version: r.get("page_version"),
        block: r.get("block"),
        user_email: r.get("user_email"),
        mode: r.get("mode"),
        status: parse::<RunStatus>("runs.status", r.get("status"))?,
        exit_code: r.get("exit_code"),
        started_micros: r.get("started_micros"),
        finished_micros: r.get("finished_micros"),
        comment_id: r.get("comment_id"),
    })
}

pub(crate) const LEASE_COLUMNS: &str =
    "id, run_id, safe, object, account_id, rotation, state, error, created_micros, updated_micros";

pub(crate) fn lease_from_row(r: &PgRow) -> Result<Lease> {
    Ok(Lease {
        id: r.get("id"),
        run_id: r.get("run_id"),
        safe: r.get("safe"),
        object: r.get("object"),
        account_id: r.get("account_id"),
        rotation: r.get("rotation"),
        state: parse::<LeaseState>("leases.state", r.get("state"))?,
        error: r.get("error"),
    })
}

pub(crate) fn timed_lease_from_row(r: &PgRow) -> Result<TimedLease> {
    Ok(TimedLease {
        lease: lease_from_row(r)?,
        created_micros: r.get("created_micros"),
        updated_micros: r.get("updated_micros"),
    })
}

pub(crate) async fn insert_run(pool: &PgPool, run: &RunRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO runs (id, page_id, page_version, block, user_email, mode, status, exit_code, \
         started_micros, finished_micros, comment_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&run.id)
    .bind(&run.page_id)
    .bind(run.page_version)
    .bind(&run.block)
    .bind(&run.user_email)
    .bind(&run.mode)
    .bind(run.status.as_str())
    .bind(run.exit_code)
    .bind(run.started_micros)
    .bind(run.finished_micros)
    .bind(&run.comment_id)
    .execute(pool)
    .await
    .map_err(q("insert run"))?;
    Ok(())
}

pub(crate) async fn finish_run(
    pool: &PgPool,
    id: &str,
    status: RunStatus,
    exit_code: Option<i32>,
    finished_micros: i64,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE runs SET status = $1, exit_code = $2, finished_micros = $3 WHERE id = $4",
    )
    .bind(status.as_str())
    .bind(exit_code)
    .bind(finished_micros)
    .bind(id)
    .execute(pool)
    .await
    .map_err(q("finish run"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: "run",
            id: id.to_string(),
        });
    }
    Ok(())
}

pub(crate) async fn insert_lease(pool: &PgPool, lease: &NewLease) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO leases (run_id, safe, object, account_id, rotation, state, created_micros, \
         updated_micros, deadline_micros) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, \
         (SELECT deadline_micros FROM run_guards WHERE run_id = $1)) RETURNING id",
    )
    .bind(&lease.run_id)
    .bind(&lease.safe)
    .bind(&lease.object)
    .bind(&lease.account_id)
    .bind(&lease.rotation)
    .bind(LeaseState::Requested.as_str())
    .bind(lease.created_micros)
    .fetch_one(pool)
    .await
    .map_err(q("insert lease"))?;
    Ok(row.get("id"))
}

pub(crate) async fn update_lease(
    pool: &PgPool,
    id: i64,
    state: LeaseState,
    account_id: Option<&str>,
    error: Option<&str>,
    now: i64,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE leases SET state = $1, account_id = COALESCE($2, account_id), error = $3, \
         updated_micros = $4 WHERE id = $5",
    )
    .bind(state.as_str())
    .bind(account_id)
    .bind(error)
    .bind(now)
    .bind(id)
    .execute(pool)
    .await
    .map_err(q("update lease"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: "lease",
            id: id.to_string(),
        });
    }
    Ok(())
}

/// Leases selected by a fixed `WHERE ... ORDER BY ...` clause (never built from input) and
/// bound values.
pub(crate) async fn leases_where(
    pool: &PgPool,
    what: &'static str,
    clause: &'static str,
    text: Option<&str>,
    number: Option<i64>,
) -> Result<Vec<TimedLease>> {
    let sql = format!("SELECT {LEASE_COLUMNS} FROM leases {clause}");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    if let Some(t) = text {
        query = query.bind(t.to_string());
    }
    if let Some(n) = number {
        query = query.bind(n);
    }
    let rows = query.fetch_all(pool).await.map_err(q(what))?;
    rows.iter().map(timed_lease_from_row).collect()
}

pub(crate) async fn set_guard(pool: &PgPool, guard: &RunGuard, now: i64) -> Result<()> {
    sqlx::query(SET_GUARD_SQL)
        .bind(&guard.run_id)
        .bind(guard.deadline_micros)
        .bind(guard.pgid)
        .bind(guard.process_start_column()?)
        .bind(now)
        .execute(pool)
        .await
        .map_err(q("set run guard"))?;
    Ok(())
}

pub(crate) async fn guard(pool: &PgPool, run_id: &str) -> Result<Option<RunGuard>> {
    let row = sqlx::query(GUARD_SQL)
        .bind(run_id)
        .fetch_optional(pool)
        .await
        .map_err(q("run guard"))?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(RunGuard {
        run_id: r.get("run_id"),
        deadline_micros: r.get("deadline_micros"),
        pgid: r.get("pgid"),
        process_start: RunGuard::process_start_from_column(r.get("process_start"))?,
    }))
}

pub(crate) async fn approvals(
    pool: &PgPool,
    page_id: &str,
    block: &str,
) -> Result<Vec<ApprovalRecord>> {
    let rows = sqlx::query(
        "SELECT id, page_id, block, script_sha256, page_version, approver, created_micros, \
         audit_seq, approver_groups FROM approvals WHERE page_id = $1 AND block = $2 ORDER BY id",
    )
    .bind(page_id)
    .bind(block)
    .fetch_all(pool)
    .await
    .map_err(q("read approvals"))?;
    Ok(rows
        .iter()
        .map(|r| ApprovalRecord {
            id: r.get("id"),
            page_id: r.get("page_id"),
            block: r.get("block"),
            script_sha256: r.get("script_sha256"),
            page_version: r.get("page_version"),
            approver: r.get("approver"),
            approver_groups: r
                .get::<Option<String>, _>("approver_groups")
                .map(|g| groups_from_json(&g)),
            created_micros: r.get("created_micros"),
            audit_seq: r.get("audit_seq"),
        })
        .collect())
}

pub(crate) async fn mark_managed(pool: &PgPool, safe: &str, member: &str, at: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO managed_members (safe, member, added_micros) VALUES ($1, $2, $3) \
         ON CONFLICT ((lower(safe)), (lower(member))) DO NOTHING",
    )
    .bind(safe)
    .bind(member)
    .bind(at)
    .execute(pool)
    .await
    .map_err(q("mark managed member"))?;
    Ok(())
}

pub(crate) async fn unmark_managed(pool: &PgPool, safe: &str, member: &str) -> Result<()> {
    sqlx::query(
        "DELETE FROM managed_members WHERE lower(safe) = lower($1) AND lower(member) = lower($2)",
    )
    .bind(safe)
    .bind(member)
    .execute(pool)
    .await
    .map_err(q("unmark managed member"))?;
    Ok(())
}

pub(crate) async fn managed_members(pool: &PgPool) -> Result<Vec<(String, String)>> {
    let rows =
        sqlx::query("SELECT safe, member FROM managed_members ORDER BY lower(safe), lower(member)")
            .fetch_all(pool)
            .await
            .map_err(q("read managed members"))?;
    Ok(rows
        .iter()
        .map(|r| (r.get("safe"), r.get("member")))
        .collect())
}

pub(crate) async fn remember_principal(pool: &PgPool, p: &Principal) -> Result<()> {
    sqlx::query(
        "INSERT INTO principals (email, issuer, subject, confluence_account, groups, \
         verified_micros) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (email) DO UPDATE SET issuer = excluded.issuer, subject = excluded.subject, \
         confluence_account = COALESCE(excluded.confluence_account, principals.confluence_account), \
         groups = excluded.groups, verified_micros = excluded.verified_micros \
         WHERE excluded.verified_micros >= principals.verified_micros",
    )
    .bind(p.email.to_ascii_lowercase())
    .bind(&p.issuer)
    .bind(&p.subject)
    .bind(&p.confluence_account)
    .bind(groups_json(&p.groups))
    .bind(p.verified_micros)
    .execute(pool)
    .await
    .map_err(q("remember principal"))?;
    Ok(())
}

pub(crate) async fn principal_by_account(
    pool: &PgPool,
    account: &str,
) -> Result<Option<Principal>> {
    let row = sqlx::query(
        "SELECT email, issuer, subject, confluence_account, groups, verified_micros \
         FROM principals WHERE confluence_account = $1 ORDER BY verified_micros DESC LIMIT 1",
    )
    .bind(account)
    .fetch_optional(pool)
    .await
    .map_err(q("principal by account"))?;
    Ok(row.map(|r| Principal {
        email: r.get("email"),
        issuer: r.get("issuer"),
        subject: r.get("subject"),
        confluence_account: r.get("confluence_account"),
        groups: groups_from_json(&r.get::<String, _>("groups")),
        verified_micros: r.get("verified_micros"),
    }))
}
