//! PVWA account lookup by name and credential operations beyond Change/CheckIn, and waiting for
//! the CPM.
//!
//! * `find_account` searches a safe and follows `nextLink` (same origin only).
//! * `SetNextPassword` and `Password/Update` send the new value in a wiping buffer; it never
//!   appears in a log, an error or a `Debug` output.
//! * `Password/Retrieve` answers with the secret as a JSON string literal; it is decoded into a
//!   [`SecretString`]. Both ticketing spellings (`TicketingSystem`, `TicketingSystemName`) are
//!   sent, since servers disagree on which one they read.
//! * `Verify` / `Reconcile` only mark the account; the CPM works asynchronously.
//! * `Activities` is parsed leniently (see [`crate::activity`]).
//!
//! All of these are POSTs except `Activities` (a GET), so they are retried only when the
//! request never left (connect errors); see [`crate::retry`].

use std::future::Future;
use std::time::Duration;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::{ENDPOINT, MAX_PAGES, PvwaClient, check_value, enc};
use crate::account::{Account, AccountPage, pick_account, resolve_next_link};
use crate::activity::{Activity, parse_activities};
use crate::error::CyberArkError;

const FIRST_POLL: Duration = Duration::from_millis(200);
const MAX_POLL: Duration = Duration::from_secs(2);

#[derive(serde::Serialize)]
struct NextPasswordBody<'a> {
    #[serde(rename = "ChangeImmediately")]
    change_immediately: bool,
    #[serde(rename = "NewCredentials")]
    new_credentials: &'a str,
}

#[derive(serde::Serialize)]
struct UpdateBody<'a> {
    #[serde(rename = "NewCredentials")]
    new_credentials: &'a str,
}

#[derive(serde::Serialize)]
struct RetrieveBody<'a> {
    reason: &'a str,
    #[serde(rename = "TicketingSystem", skip_serializing_if = "Option::is_none")]
    ticketing_system: Option<&'a str>,
    #[serde(
        rename = "TicketingSystemName",
        skip_serializing_if = "Option::is_none"
    )]
    ticketing_system_name: Option<&'a str>,
    #[serde(rename = "TicketId", skip_serializing_if = "Option::is_none")]
    ticket_id: Option<&'a str>,
}

/// Refuses an empty new value. (The PVWA trims whitespace itself; the message never quotes it.)
fn check_new(new: &SecretString) -> Result<(), CyberArkError> {
    if new.expose_secret().trim().is_empty() {
        return Err(CyberArkError::Config("the new password is empty".into()));
    }
    Ok(())
}

/// Decodes a retrieve answer (a JSON string literal) without ever quoting it.
pub(crate) fn decode_secret(body: &[u8]) -> Result<SecretString, CyberArkError> {
    let protocol = |detail: &str| CyberArkError::Protocol {
        endpoint: ENDPOINT,
        detail: format!("password answer: {detail}"),
    };
    let text = std::str::from_utf8(body).map_err(|_| protocol("not UTF-8"))?;
    if !text.trim_start().starts_with('"') {
        return Err(protocol("not a JSON string"));
    }
    let value: Zeroizing<String> = Zeroizing::new(
        serde_json::from_str::<String>(text.trim())
            .map_err(|_| protocol("not a valid JSON string"))?,
    );
    if value.is_empty() {
        return Err(protocol("the password is empty"));
    }
    Ok(SecretString::from(value.as_str()))
}

impl PvwaClient {
    /// Finds the account named exactly `name` (case-insensitively) in `safe`, following
    /// `nextLink`. An exact-case match wins over case-insensitive ones; two candidates are an error.
    pub async fn find_account(
        &self,
        safe: &str,
        name: &str,
    ) -> Result<Option<Account>, CyberArkError> {
        check_value("safe name", safe)?;
        check_value("account name", name)?;
        let first = format!(
            "API/Accounts?filter={}&search={}",
            enc(&format!("safeName eq {safe}")),
            enc(name)
        );
        let mut next = Some(self.url(&first)?);
        let mut candidates: Vec<Account> = Vec::new();
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(CyberArkError::Protocol {
                    endpoint: ENDPOINT,
                    detail: format!("account list has more than {MAX_PAGES} pages"),
                });
            }
            let bytes = self.call(Method::GET, url, None).await?;
            let page: AccountPage = Self::parse(&bytes, "account list")?;
            candidates.extend(page.value.into_iter().filter(|a| {
                a.name.eq_ignore_ascii_case(name) && a.safe_name.eq_ignore_ascii_case(safe)
            }));
            if let Some(link) = page.next_link.filter(|l| !l.trim().is_empty()) {
                next = Some(resolve_next_link(&self.app_base, &link).map_err(|detail| {
                    CyberArkError::Protocol {
                        endpoint: ENDPOINT,
                        detail,
                    }
                })?);
            }
        }
        pick_account(candidates, safe, name)
    }

    /// Sets the value the CPM will use at its next change (`POST .../SetNextPassword`); with
    /// `change_immediately` the CPM changes the password now. Returns before the CPM is done.
    pub async fn set_next_password(
        &self,
        id: &str,
        new: &SecretString,
        change_immediately: bool,
    ) -> Result<(), CyberArkError> {
        check_new(new)?;
        let url = self.url(&Self::account_path(id, "/SetNextPassword")?)?;
        let body = Self::json_body(&NextPasswordBody {
            change_immediately,
            new_credentials: new.expose_secret(),
        })?;
        self.call(Method::POST, url, Some(&body)).await.map(drop)
    }

    /// Changes the value stored in the Vault only, not on the target
    /// (`POST .../Password/Update`).
    pub async fn update_password_in_vault(
        &self,
        id: &str,
        new: &SecretString,
    ) -> Result<(), CyberArkError> {
        check_new(new)?;
        let url = self.url(&Self::account_path(id, "/Password/Update")?)?;
        let body = Self::json_body(&UpdateBody {
            new_credentials: new.expose_secret(),
        })?;
        self.call(Method::POST, url, Some(&body)).await.map(drop)
    }

    /// Marks the account for verification by the CPM (`POST .../Verify`).
    pub async fn verify(&self, id: &str) -> Result<(), CyberArkError> {
        let url = self.url(&Self::account_path(id, "/Verify")?)?;
        self.call(Method::POST, url, Some(b"{}")).await.map(drop)
    }

    /// Marks the account for reconciliation by the CPM (`POST .../Reconcile`).
    pub async fn reconcile(&self, id: &str) -> Result<(), CyberArkError> {
        let url = self.url(&Self::account_path(id, "/Reconcile")?)?;
        self.call(Method::POST, url, None).await.map(drop)
    }

    /// Retrieves the password (`POST .../Password/Retrieve`), a human-oriented API: runbooks
    /// should use the CCP. `ticketing` is `(system, ticket id)`.
    pub async fn retrieve_password(
        &self,
        id: &str,
        reason: &str,
        ticketing: Option<(&str, &str)>,
    ) -> Result<SecretString, CyberArkError> {
        let url = self.url(&Self::account_path(id, "/Password/Retrieve")?)?;
        let body = Self::json_body(&RetrieveBody {
            reason,
            ticketing_system: ticketing.map(|t| t.0),
            ticketing_system_name: ticketing.map(|t| t.0),
            ticket_id: ticketing.map(|t| t.1),
        })?;
        let answer = self.call(Method::POST, url, Some(&body)).await?;
        decode_secret(&answer)
    }

    /// Reads the account's activity log (`GET .../Activities`, PVWA 13.2+).
    pub async fn account_activities(&self, id: &str) -> Result<Vec<Activity>, CyberArkError> {
        let url = self.url(&Self::account_path(id, "/Activities")?)?;
        let bytes = self.call(Method::GET, url, None).await?;
        parse_activities(&bytes).map_err(|detail| CyberArkError::Protocol {
            endpoint: ENDPOINT,
            detail,
        })
    }

    /// Polls `secretManagement.status` until `success` (Ok), `failure` (CpmFailed) or the deadline
    /// (CpmTimeout). Polls every 200 ms at first, backing off to 2 s.
    pub async fn wait_for_cpm(
        &self,
        id: &str,
        deadline: Duration,
    ) -> Result<Account, CyberArkError> {
        poll_cpm(id, deadline, None, || self.get_account(id)).await
    }

    /// Like [`wait_for_cpm`](Self::wait_for_cpm), but a `success` only counts once
    /// `lastModifiedTime` is later than `previous_modified` (read before asking for the change)
    /// or the CPM was seen at work (`inProcess`) during this wait, so a stale `success` left by
    /// an earlier change is not mistaken for this one. (`lastModifiedTime` has one-second
    /// resolution, hence the second condition.)
    pub async fn wait_for_change_after(
        &self,
        id: &str,
        previous_modified: Option<i64>,
        deadline: Duration,
    ) -> Result<Account, CyberArkError> {
        poll_cpm(id, deadline, previous_modified, || self.get_account(id)).await
    }
}

/// The CPM polling loop, independent of HTTP so it can be tested with paused time.
pub(crate) async fn poll_cpm<F, Fut>(
    id: &str,
    deadline: Duration,
    previous_modified: Option<i64>,
    mut fetch: F,
) -> Result<Account, CyberArkError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Account, CyberArkError>>,
{
    let end = tokio::time::Instant::now() + deadline;
    let mut interval = FIRST_POLL;
    // Whether this wait has seen the CPM at work (any status other than success/failure).
    let mut saw_work = false;
    loop {
        let account = fetch().await?;
        let status = account
            .secret_management
            .status
            .as_deref()
            .unwrap_or("")
            .trim();
        let success = status.eq_ignore_ascii_case("success");
        let fresh = match (
            previous_modified,
            account.secret_management.last_modified_time,
        ) {
            (None, _) => true,
            (Some(before), Some(now)) => now > before || saw_work,
            (Some(_), None) => saw_work,
        };
        if success && fresh {
            return Ok(account);
        }
        let failure =
            status.eq_ignore_ascii_case("failure") || status.eq_ignore_ascii_case("failed");
        // A failure left by an earlier change is no answer to this one: keep waiting.
        if failure && fresh {
            return Err(CyberArkError::CpmFailed {
                account_id: id.to_string(),
                status: status.to_string(),
            });
        }
        if !success && !failure {
            saw_work = true;
        }
        let now = tokio::time::Instant::now();
        if now >= end {
            return Err(CyberArkError::CpmTimeout {
                account_id: id.to_string(),
            });
        }
        tokio::time::sleep(interval.min(end - now)).await;
        interval = (interval * 2).min(MAX_POLL);
    }
}
