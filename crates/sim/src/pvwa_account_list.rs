//! `GET /API/Accounts`: the account list with `search`/`searchType`, `filter`, `savedfilter`,
//! `sort`, `offset` and `limit`.
//!
//! The caller sees the accounts of the safes where it holds `listAccounts`. `limit` defaults to
//! 50 and is capped at 1000. The answer is `{value, count, nextLink}`: `count` is the total, and
//! `nextLink` (absent on the last page) is relative to `/PasswordVault/`
//! (`api/Accounts?offset=..&limit=..`) and keeps `search`, `searchType`, `sort` and `filter`, so
//! that following it pages through the same list; like the real PVWA it drops `savedfilter`. `filter` knows
//! `safeName eq X` and `modificationTime gte N` (joined with AND); a filter on a safe that does
//! not exist is an empty list, as in the PVWA.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use crate::http::Params;
use crate::pvwa::{error, session_user};
use crate::pvwa_accounts::{account_json, numeric, visible};
use crate::pvwa_paging::{MAX_LIMIT, page};
use crate::state::Account;
use crate::world::World;

const DEFAULT_LIMIT: usize = 50;

/// The parameters a nextLink keeps.
/// What `nextLink` carries over. Not `savedfilter`: the real PVWA drops it (psPAS notes this), so a
/// client must re-send it; the simulator does the same.
const KEEP: &[&str] = &["search", "searchType", "sort", "filter"];

/// The CPM user whose versions count as "modified by CPM".
const CPM_USER: &str = "PasswordManager";

enum Filter {
    Safe(String),
    ModifiedSince(i64),
}

fn invalid(msg: String) -> Response {
    error(StatusCode::BAD_REQUEST, "ARKSIM400E", msg)
}

fn parse_filter(text: &str) -> Result<Vec<Filter>, Response> {
    let bad = || {
        invalid(format!(
            "Invalid filter [{text}]. arkbridge sim supports `safeName eq X` and \
             `modificationTime gte N`, joined with AND."
        ))
    };
    let mut out = Vec::new();
    let lower = text.to_ascii_lowercase();
    let mut start = 0;
    let mut clauses = Vec::new();
    while let Some(pos) = lower[start..].find(" and ") {
        clauses.push(&text[start..start + pos]);
        start += pos + 5;
    }
    clauses.push(&text[start..]);
    for clause in clauses {
        let clause = clause.trim();
        let mut parts = clause.splitn(3, ' ');
        let (Some(field), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let value = value.trim().trim_matches('"');
        if field.eq_ignore_ascii_case("safeName") && op.eq_ignore_ascii_case("eq") {
            out.push(Filter::Safe(value.to_string()));
        } else if field.eq_ignore_ascii_case("modificationTime") && op.eq_ignore_ascii_case("gte") {
            out.push(Filter::ModifiedSince(value.parse().map_err(|_| bad())?));
        } else {
            return Err(bad());
        }
    }
    Ok(out)
}

/// A PVWA saved filter (`savedfilter`), as far as the simulator keeps the state it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SavedFilter {
    Regular,
    Locked,
    Scheduled(&'static str),
    Failed(&'static str),
    PolicyFailures,
    SuccessfullyReconciled,
    DisabledPasswordByUser,
    ModifiedByCpm,
    /// Linked, deleted, favourite or CPM-disabled accounts: the simulator has none.
    NeverMatches,
}

/// Saved filters the PVWA documents but the simulator does not keep the state for.
const NOT_SIMULATED: &[&str] = &[
    "Recently",
    "New",
    "AccessedByUsers",
    "ModifiedByUsers",
    "LockedOrNew",
];

fn parse_saved_filter(text: &str) -> Result<SavedFilter, Response> {
    use SavedFilter::*;
    let known: &[(&str, SavedFilter)] = &[
        ("Regular", Regular),
        ("Locked", Locked),
        ("ScheduledForChange", Scheduled("ChangeTask")),
        ("ScheduledForVerify", Scheduled("VerifyTask")),
        ("ScheduledForReconcile", Scheduled("ReconcileTask")),
        ("FailedChange", Failed("ChangeTask")),
        ("FailedVerify", Failed("VerifyTask")),
        ("FailedReconcile", Failed("ReconcileTask")),
        ("PolicyFailures", PolicyFailures),
        ("SuccessfullyReconciled", SuccessfullyReconciled),
        ("DisabledPasswordByUser", DisabledPasswordByUser),
        ("ModifiedByCPM", ModifiedByCpm),
        ("Link", NeverMatches),
        ("Deleted", NeverMatches),
        ("Favorites", NeverMatches),
        ("DisabledPasswordByCPM", NeverMatches),
    ];
    let text = text.trim();
    if let Some((_, f)) = known.iter().find(|(n, _)| n.eq_ignore_ascii_case(text)) {
        return Ok(*f);
    }
    if NOT_SIMULATED.iter().any(|n| n.eq_ignore_ascii_case(text)) {
        return Err(invalid(format!(
            "savedfilter [{text}] is not simulated by arkbridge sim."
        )));
    }
    Err(invalid(format!(
        "savedfilter [{text}] is not a saved filter."
    )))
}

impl SavedFilter {
    fn matches(self, a: &Account) -> bool {
        let failed = a.cpm.status == Some("failure");
        match self {
            SavedFilter::Regular => true,
            SavedFilter::Locked => a.locked_by.is_some(),
            SavedFilter::Scheduled(task) => a.cpm.pending == Some(task),
            SavedFilter::Failed(task) => failed && a.cpm.last_task == Some(task),
            SavedFilter::PolicyFailures => failed,
            SavedFilter::SuccessfullyReconciled => a.cpm.last_reconciled.is_some(),
            SavedFilter::DisabledPasswordByUser => !a.automatic_management,
            SavedFilter::ModifiedByCpm => a
                .versions
                .iter()
                .rfind(|v| !v.temporary)
                .is_some_and(|v| v.modified_by == CPM_USER),
            SavedFilter::NeverMatches => false,
        }
    }
}

fn sort_key(a: &Account, prop: &str) -> String {
    match prop.to_ascii_lowercase().as_str() {
        "name" => a.name.to_ascii_lowercase(),
        "address" => a.address.to_ascii_lowercase(),
        "username" => a.user_name.to_ascii_lowercase(),
        "safename" => a.safe.to_ascii_lowercase(),
        "platformid" => a.platform_id.to_ascii_lowercase(),
        _ => String::new(),
    }
}

fn matches_search(a: &Account, search: &str, starts_with: bool) -> bool {
    let fields = [&a.name, &a.address, &a.user_name, &a.platform_id, &a.safe]
        .map(|f| f.to_ascii_lowercase());
    search.split_whitespace().all(|kw| {
        fields.iter().any(|f| {
            if starts_with {
                f.starts_with(kw)
            } else {
                f.contains(kw)
            }
        })
    })
}

/// Sorts by up to three `prop [asc|desc]` specs, the first one most significant.
fn sort(found: &mut [&Account], spec: &str) {
    let specs: Vec<&str> = spec.split(',').take(3).collect();
    for spec in specs.into_iter().rev() {
        let mut parts = spec.split_whitespace();
        let prop = parts.next().unwrap_or("");
        let desc = parts.next().is_some_and(|d| d.eq_ignore_ascii_case("desc"));
        found.sort_by(|x, y| {
            let o = sort_key(x, prop).cmp(&sort_key(y, prop));
            if desc { o.reverse() } else { o }
        });
    }
}

pub(crate) async fn list(
    State(world): State<Arc<World>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let user = match session_user(&world, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let params = Params::parse(query.as_deref());
    let filters = match params.get("filter").filter(|f| !f.trim().is_empty()) {
        Some(f) => match parse_filter(f) {
            Ok(f) => f,
            Err(r) => return r,
        },
        None => Vec::new(),
    };
    let saved = match params.get("savedfilter").filter(|f| !f.trim().is_empty()) {
        Some(f) => match parse_saved_filter(f) {
            Ok(f) => Some(f),
            Err(r) => return r,
        },
        None => None,
    };
    let (offset, limit) = match (numeric(&params, "offset"), numeric(&params, "limit")) {
        (Ok(o), Ok(l)) => (
            o.unwrap_or(0),
            l.filter(|l| *l > 0).unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT),
        ),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let search = params.get("search").unwrap_or("").to_ascii_lowercase();
    let starts_with = params
        .get("searchType")
        .is_some_and(|t| t.eq_ignore_ascii_case("startswith"));
    let vault = world.vault();
    let mut found: Vec<&Account> = vault
        .accounts
        .iter()
        .filter(|a| visible(&vault, a, &user))
        .filter(|a| {
            filters.iter().all(|f| match f {
                Filter::Safe(s) => a.safe.eq_ignore_ascii_case(s),
                Filter::ModifiedSince(t) => a.last_modified >= *t,
            })
        })
        .filter(|a| saved.is_none_or(|f| f.matches(a)))
        .filter(|a| matches_search(a, &search, starts_with))
        .collect();
    if let Some(spec) = params.get("sort") {
        sort(&mut found, spec);
    }
    let items: Vec<Value> = found.iter().map(|a| account_json(a)).collect();
    page(items, (offset, limit), "api/Accounts", &params, KEEP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse() {
        let f = parse_filter("safeName eq Prod-DB AND modificationTime gte 10").unwrap();
        assert_eq!(f.len(), 2);
        assert!(parse_filter("name eq x").is_err());
        assert!(parse_filter("safeName").is_err());
    }

    #[test]
    fn saved_filters_parse_ignoring_case() {
        assert_eq!(parse_saved_filter("locked").unwrap(), SavedFilter::Locked);
        assert_eq!(
            parse_saved_filter("ScheduledForChange").unwrap(),
            SavedFilter::Scheduled("ChangeTask")
        );
        assert_eq!(
            parse_saved_filter("favorites").unwrap(),
            SavedFilter::NeverMatches
        );
        assert_eq!(parse_saved_filter("New").unwrap_err().status(), 400);
        assert_eq!(parse_saved_filter("Bogus").unwrap_err().status(), 400);
    }
}
