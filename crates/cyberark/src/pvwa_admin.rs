//! PVWA account administration: `POST /API/Accounts` (201), `PATCH /API/Accounts/{id}` with
//! JSON-Patch-like operations (200), `DELETE /API/Accounts/{id}` (204).
//!
//! The new account's secret is a [`SecretString`] borrowed by [`NewAccount`]; it goes only into
//! the request body, a wiping buffer, and never into `Debug` output or an error. A duplicate
//! name is `409 PASWS027E`, reported as a refusal with that code.

use std::collections::BTreeMap;
use std::fmt;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

use super::PvwaClient;
use crate::account::Account;
use crate::error::CyberArkError;
use crate::safe::check_safe_name;

/// An account to add. `Debug` never shows the secret.
#[derive(Clone)]
pub struct NewAccount<'a> {
    pub safe_name: String,
    pub platform_id: String,
    /// Object name; the PVWA derives one when `None`.
    pub name: Option<String>,
    pub address: Option<String>,
    pub user_name: Option<String>,
    /// `password` (default) or `key`.
    pub secret_type: Option<String>,
    pub secret: &'a SecretString,
    pub platform_account_properties: BTreeMap<String, String>,
    /// `secretManagement.automaticManagementEnabled`
    pub automatic_management_enabled: Option<bool>,
    /// `secretManagement.manualManagementReason`
    pub manual_management_reason: Option<String>,
}

impl fmt::Debug for NewAccount<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewAccount")
            .field("safe_name", &self.safe_name)
            .field("platform_id", &self.platform_id)
            .field("name", &self.name)
            .field("address", &self.address)
            .field("user_name", &self.user_name)
            .field("secret_type", &self.secret_type)
            .field("secret", &"[redacted]")
            .field(
                "platform_account_properties",
                &self.platform_account_properties,
            )
            .field(
                "automatic_management_enabled",
                &self.automatic_management_enabled,
            )
            .finish_non_exhaustive()
    }
}

impl<'a> NewAccount<'a> {
    /// The minimal account: a safe, a platform and the secret.
    pub fn new(safe_name: &str, platform_id: &str, secret: &'a SecretString) -> Self {
        NewAccount {
            safe_name: safe_name.to_string(),
            platform_id: platform_id.to_string(),
            name: None,
            address: None,
            user_name: None,
            secret_type: None,
            secret,
            platform_account_properties: BTreeMap::new(),
            automatic_management_enabled: None,
            manual_management_reason: None,
        }
    }

    /// The request body (it holds the secret; the caller wipes the encoded copy).
    fn to_body(&self) -> Result<Value, CyberArkError> {
        check_safe_name(&self.safe_name)?;
        if self.platform_id.trim().is_empty() {
            return Err(CyberArkError::Invalid {
                field: "platformId",
                reason: "the platform id is empty".into(),
            });
        }
        if self.secret.expose_secret().is_empty() {
            return Err(CyberArkError::Invalid {
                field: "secret",
                reason: "the secret is empty".into(),
            });
        }
        let mut body = Map::new();
        body.insert("safeName".into(), json!(self.safe_name.trim()));
        body.insert("platformId".into(), json!(self.platform_id.trim()));
        for (key, value) in [
            ("name", &self.name),
            ("address", &self.address),
            ("userName", &self.user_name),
        ] {
            if let Some(v) = value {
                body.insert(key.into(), json!(v));
            }
        }
        body.insert(
            "secretType".into(),
            json!(self.secret_type.as_deref().unwrap_or("password")),
        );
        body.insert("secret".into(), json!(self.secret.expose_secret()));
        if !self.platform_account_properties.is_empty() {
            body.insert(
                "platformAccountProperties".into(),
                json!(self.platform_account_properties),
            );
        }
        let mut management = Map::new();
        if let Some(a) = self.automatic_management_enabled {
            management.insert("automaticManagementEnabled".into(), json!(a));
        }
        if let Some(r) = &self.manual_management_reason {
            management.insert("manualManagementReason".into(), json!(r));
        }
        if !management.is_empty() {
            body.insert("secretManagement".into(), Value::Object(management));
        }
        Ok(Value::Object(body))
    }
}

/// One operation of a `PATCH /API/Accounts/{id}` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchOp {
    /// `{"op":"replace","path":..,"value":..}`
    Replace { path: String, value: Value },
    /// `{"op":"add","path":..,"value":..}`
    Add { path: String, value: Value },
    /// `{"op":"remove","path":..}`
    Remove { path: String },
}

impl PatchOp {
    /// Replaces the value at `path` (for example `/address` or
    /// `/secretManagement/automaticManagementEnabled`).
    pub fn replace(path: &str, value: impl Into<Value>) -> Self {
        PatchOp::Replace {
            path: path.to_string(),
            value: value.into(),
        }
    }

    fn path(&self) -> &str {
        match self {
            PatchOp::Replace { path, .. }
            | PatchOp::Add { path, .. }
            | PatchOp::Remove { path } => path,
        }
    }

    fn to_json(&self) -> Result<Value, CyberArkError> {
        let path = self.path();
        if !path.starts_with('/') || path.len() < 2 || path.chars().any(char::is_control) {
            return Err(CyberArkError::Invalid {
                field: "path",
                reason: format!("patch path `{path}` must start with `/`"),
            });
        }
        if path.eq_ignore_ascii_case("/secret") {
            return Err(CyberArkError::Invalid {
                field: "path",
                reason: "the secret cannot be patched; use update_password_in_vault".into(),
            });
        }
        Ok(match self {
            PatchOp::Replace { value, .. } => {
                json!({"op": "replace", "path": path, "value": value})
            }
            PatchOp::Add { value, .. } => json!({"op": "add", "path": path, "value": value}),
            PatchOp::Remove { .. } => json!({"op": "remove", "path": path}),
        })
    }
}

impl PvwaClient {
    /// Adds an account (`POST /API/Accounts`, 201) and returns it.
    pub async fn add_account(&self, account: &NewAccount<'_>) -> Result<Account, CyberArkError> {
        let body = Self::json_body(&account.to_body()?)?;
        let url = self.url("API/Accounts")?;
        let bytes = self.call(Method::POST, url, Some(&body)).await?;
        Self::parse(&bytes, "new account")
    }

    /// Changes account properties (`PATCH /API/Accounts/{id}`) and returns the account.
    pub async fn update_account(
        &self,
        id: &str,
        ops: &[PatchOp],
    ) -> Result<Account, CyberArkError> {
        if ops.is_empty() {
            return Err(CyberArkError::Invalid {
                field: "operations",
                reason: "no patch operation given".into(),
            });
        }
        let ops = ops
            .iter()
            .map(PatchOp::to_json)
            .collect::<Result<Vec<_>, _>>()?;
        let url = self.url(&Self::account_path(id, "")?)?;
        let body = Self::json_body(&ops)?;
        let bytes = self.call(Method::PATCH, url, Some(&body)).await?;
        Self::parse(&bytes, "account")
    }

    /// Deletes an account (`DELETE /API/Accounts/{id}`, 204).
    pub async fn delete_account(&self, id: &str) -> Result<(), CyberArkError> {
        let url = self.url(&Self::account_path(id, "")?)?;
        self.call(Method::DELETE, url, None).await.map(drop)
    }
}
