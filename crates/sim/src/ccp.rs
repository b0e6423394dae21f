//! The Central Credential Provider: `GET /AIMWebService/api/Accounts`.
//!
//! Parameter names are matched ignoring case; `Query` overrides the single search parameters;
//! `Folder` defaults to `Root`. The caller is authenticated by AppID plus the application's
//! allowed machines and client-certificate requirements; a disabled or expired application is
//! 403 APPAP008E. Both the application and, when the seed names one, the Provider user must hold
//! `listAccounts` and `retrieveAccounts`. "Not found" and "not permitted" give the same 404
//! APPAP004E body. Every successful retrieval is written to the account's activity log with the
//! request's `Reason`.
//!
//! Where the reference is silent the simulator chooses (see `SEED.md`): an account whose
//! platform requires a reason is refused (400 ARKSIM400E) without a non-blank `Reason`; an
//! exclusive account is checked out to the application that retrieves it, and refused (400
//! ARKSIM400E) while a PVWA user or another application holds it, until a PVWA `CheckIn`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};

use crate::activity::Activity;
use crate::ccp_auth;
use crate::http::{self, Params};
use crate::state::{self, Holder};
use crate::tls::{ConnInfo, PathFolder};
use crate::world::World;

/// Path segments the CCP matches ignoring case.
pub(crate) const FOLDER: PathFolder = PathFolder {
    literals: &["AIMWebService", "api", "Accounts"],
};

/// Simulator-specific activity codes (not taken from a real Vault).
pub(crate) const ACTION_RETRIEVE: (&str, u32) = ("Retrieve password", 295);

pub(crate) fn router(world: Arc<World>) -> Router {
    Router::new()
        .route("/AIMWebService/api/Accounts", get(get_password))
        .fallback(|| async { http::empty(StatusCode::NOT_FOUND) })
        .with_state(world)
}

/// A CCP error body: `{"ErrorCode","ErrorMsg"}`.
pub(crate) fn error(status: StatusCode, code: &str, msg: impl Into<String>) -> Response {
    http::json(status, &json!({"ErrorCode": code, "ErrorMsg": msg.into()}))
}

fn invalid_query(detail: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "AIMWS030E",
        format!("Invalid query format. {detail}"),
    )
}

/// The search criteria of a request, in the order they were given.
struct Criteria {
    pairs: Vec<(String, String)>,
    /// The query as the CCP echoes it in messages.
    echo: String,
}

/// Single search parameters, in the order the CCP echoes them.
const SINGLE: &[&str] = &[
    "Safe", "Folder", "Object", "UserName", "Address", "Database", "PolicyID",
];

fn criteria(params: &Params) -> Result<Criteria, Response> {
    if let Some(query) = params.get("Query") {
        let mut pairs = Vec::new();
        for part in query.split(';').filter(|p| !p.trim().is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                return Err(invalid_query(&format!(
                    "Query element [{part}] is not in the form Key=Value."
                )));
            };
            pairs.push((k.trim().to_string(), v.to_string()));
        }
        if pairs.iter().all(|(k, _)| k.eq_ignore_ascii_case("Folder")) {
            return Err(invalid_query("The query holds no search criteria."));
        }
        if !pairs.iter().any(|(k, _)| k.eq_ignore_ascii_case("Folder")) {
            pairs.push(("Folder".into(), "Root".into()));
        }
        return Ok(Criteria {
            pairs,
            echo: query.to_string(),
        });
    }
    let mut pairs = Vec::new();
    for name in SINGLE {
        match params.get(name) {
            Some(v) => pairs.push((name.to_string(), v.to_string())),
            None if *name == "Folder" => pairs.push(("Folder".into(), "Root".into())),
            None => {}
        }
    }
    if pairs.len() == 1 {
        return Err(invalid_query(
            "The request must hold the AppID and at least one search parameter.",
        ));
    }
    let echo = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";");
    Ok(Criteria { pairs, echo })
}

fn parse_bool(v: &str) -> Option<bool> {
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn account_value<'a>(a: &'a state::Account, key: &str) -> Option<&'a str> {
    let k = key.to_ascii_lowercase();
    Some(match k.as_str() {
        "safe" => &a.safe,
        "folder" => "Root",
        "object" | "name" => &a.name,
        "username" => &a.user_name,
        "address" => &a.address,
        "policyid" => &a.platform_id,
        "devicetype" => &a.device_type,
        _ => {
            return a
                .properties
                .iter()
                .find(|(p, _)| p.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str());
        }
    })
}

async fn get_password(
    State(world): State<Arc<World>>,
    Extension(conn): Extension<ConnInfo>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref());
    let app_id = match params.get("AppID").map(str::trim) {
        Some(a) if !a.is_empty() => a.to_string(),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "AIMWS031E",
                "Invalid request. The AppID parameter is required",
            );
        }
    };
    if let Some(fmt) = params.get("QueryFormat") {
        if fmt.eq_ignore_ascii_case("Regexp") {
            return invalid_query("QueryFormat Regexp is not supported by arkbridge sim.");
        }
        if !fmt.eq_ignore_ascii_case("Exact") {
            return invalid_query(&format!("Unknown QueryFormat [{fmt}]."));
        }
    }
    if let Some(t) = params.get("ConnectionTimeout")
        && t.trim().parse::<u32>().is_err()
    {
        return invalid_query("ConnectionTimeout must be a number of seconds.");
    }
    let fail_on_change = match params.get("FailRequestOnPasswordChange") {
        None => false,
        Some(v) => match parse_bool(v) {
            Some(b) => b,
            None => return invalid_query("FailRequestOnPasswordChange must be true or false."),
        },
    };
    let criteria = match criteria(&params) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let reason = params.get("Reason").unwrap_or("").to_string();

    let mut vault = world.vault();
    if vault.vault_down {
        return error(
            StatusCode::BAD_REQUEST,
            "APPAP007E",
            "Connection to the Vault has failed (Diagnostic Info: 8). Please check the \
             Credential Provider's connection to the Vault.",
        );
    }
    let app_name = match ccp_auth::authenticate(&vault, &app_id, &conn) {
        Ok(name) => name,
        Err(resp) => return resp,
    };

    let matches: Vec<usize> = vault
        .accounts
        .iter()
        .enumerate()
        .filter(|(_, a)| ccp_auth::may_retrieve(&vault, &a.safe, &app_name))
        .filter(|(_, a)| {
            criteria.pairs.iter().all(|(k, v)| {
                account_value(a, k).is_some_and(|have| have.eq_ignore_ascii_case(v.trim()))
            })
        })
        .map(|(i, _)| i)
        .collect();
    let idx = match matches.as_slice() {
        [] => {
            return error(
                StatusCode::NOT_FOUND,
                "APPAP004E",
                format!(
                    "Password object matching query [{}] was not found (Diagnostic Info: 5). \
                     Please check that there is a password object that answers your query in the \
                     Vault and that both the Provider and the application user have the \
                     appropriate permissions needed in order to use the password.",
                    criteria.echo
                ),
            );
        }
        [one] => *one,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "APPAP227E",
                format!(
                    "Too many password objects matching query [{}] were found (Diagnostic Info: \
                     41). Please make the query more specific.",
                    criteria.echo
                ),
            );
        }
    };
    let account = &vault.accounts[idx];
    if account.cpm.in_process && fail_on_change {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "APPAP282E",
            format!(
                "Password [Safe={};Folder=Root;Object={}] is currently being changed by the CPM.",
                account.safe, account.name
            ),
        );
    }
    if account.require_reason && reason.trim().is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "ARKSIM400E",
            format!(
                "Password [Safe={};Folder=Root;Object={}] requires a reason: pass the Reason \
                 parameter.",
                account.safe, account.name
            ),
        );
    }
    if account.exclusive {
        match &account.locked_by {
            Some(holder) if !holder.is_app(&app_name) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "ARKSIM400E",
                    format!(
                        "Password [Safe={};Folder=Root;Object={}] is locked by another user.",
                        account.safe, account.name
                    ),
                );
            }
            Some(_) => {}
            None => vault.accounts[idx].locked_by = Some(Holder::App(app_name.clone())),
        }
    }
    let mut activity = Activity::now(&app_name, ACTION_RETRIEVE, "AIMWebService");
    activity.more_info = format!("Application {app_name} from {}", conn.peer.ip());
    activity.reason = reason.clone();
    vault.log(idx, activity);
    let account = &vault.accounts[idx];
    tracing::debug!(
        app_id = app_name,
        safe = account.safe,
        object = account.name,
        "CCP: retrieved"
    );
    let mut out = Map::new();
    let mut put = |k: &str, v: &str| {
        out.insert(k.to_string(), Value::String(v.to_string()));
    };
    for (k, v) in &account.properties {
        put(k, v);
    }
    put("Content", account.secret.expose_secret());
    put("UserName", &account.user_name);
    put("Address", &account.address);
    put("Safe", &account.safe);
    put("Folder", "Root");
    put("Name", &account.name);
    put("PolicyID", &account.platform_id);
    put("DeviceType", &account.device_type);
    put("CreationMethod", "PVWA");
    put(
        "PasswordChangeInProcess",
        if account.cpm.in_process {
            "True"
        } else {
            "False"
        },
    );
    if !account.automatic_management {
        let why = if account.manual_reason.is_empty() {
            "No Reason"
        } else {
            &account.manual_reason
        };
        put("CPMDisabled", why);
    }
    if let Some(status) = account.cpm.status {
        put("CPMStatus", status);
        put("RetriesCount", "-1");
    }
    if let Some(task) = account.cpm.last_task {
        put("LastTask", task);
    }
    if let Some(t) = account.cpm.last_success_change {
        put("LastSuccessChange", &t.to_string());
    }
    drop(vault);
    http::json(StatusCode::OK, &Value::Object(out))
}
