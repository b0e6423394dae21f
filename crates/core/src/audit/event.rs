//! The audit event schema: who (actor, source address), did what (action), to what (target),
//! with which outcome and why, plus free-form details. Never a secret value.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How the actor's identity was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMethod {
    /// A Forge Invocation Token from the Confluence macro.
    Forge,
    /// An OIDC ID or access token.
    Oidc,
    /// An LDAP bind or directory lookup.
    Ldap,
    /// A local command line user (the development `local-trusted` provider).
    CliLocal,
    /// arkbridge itself (start-up, recovery, scheduled work).
    System,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Forge => "forge",
            AuthMethod::Oidc => "oidc",
            AuthMethod::Ldap => "ldap",
            AuthMethod::CliLocal => "cli-local",
            AuthMethod::System => "system",
        }
    }
}

/// Who did it: the verified principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    /// The identity provider that vouched for the subject (an OIDC `iss`, a Forge app id,
    /// `local-trusted`, or `arkbridge` for the system).
    pub issuer: String,
    /// The stable subject within the issuer (e-mail, `sub` claim, account id).
    pub subject: String,
    /// A display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub auth_method: AuthMethod,
    /// The session or request id the action belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// The issuer and subject of arkbridge's own actions.
pub const SYSTEM_ACTOR: &str = "arkbridge";

impl Actor {
    /// arkbridge itself.
    pub fn system() -> Actor {
        Actor {
            issuer: SYSTEM_ACTOR.into(),
            subject: SYSTEM_ACTOR.into(),
            name: None,
            auth_method: AuthMethod::System,
            session_id: None,
        }
    }

    /// A verified user.
    pub fn user(issuer: &str, subject: &str, auth_method: AuthMethod) -> Actor {
        Actor {
            issuer: issuer.into(),
            subject: subject.into(),
            name: None,
            auth_method,
            session_id: None,
        }
    }
}

macro_rules! actions {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// What happened. The names are stable: SIEM rules and exports key on them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Action {
            $(#[doc = $doc] #[serde(rename = $name)] $variant,)*
        }

        impl Action {
            /// Every action, in the order of the schema.
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Action::$variant => $name,)* }
            }
        }

        impl FromStr for Action {
            type Err = UnknownAction;
            fn from_str(s: &str) -> Result<Action, UnknownAction> {
                match s {
                    $($name => Ok(Action::$variant),)*
                    _ => Err(UnknownAction(s.to_string())),
                }
            }
        }
    };
}

actions! {
    RunRequested => "run.requested", "A user asked to run a block (`pending`), or its script started (`success`).";
    PolicyDecided => "policy.decided", "The policy allowed (`success`) or refused (`denied`) a run.";
    CredentialRequested => "credential.requested", "A credential was asked of CyberArk (written when the request fails).";
    CredentialIssued => "credential.issued", "A credential was handed over; written before the hand-over.";
    CredentialFallback => "credential.fallback", "CyberArk was unavailable; read-only fallbacks are used.";
    RunFinished => "run.finished", "A run ended, or never started (`failure` with the reason).";
    RotationRequested => "rotation.requested", "A rotation was asked of the PVWA.";
    RotationDone => "rotation.done", "The CPM changed a credential.";
    RotationFailed => "rotation.failed", "A rotation failed; the lease stays open for a retry.";
    CommentPosted => "comment.posted", "The result comment was posted (or failed to be).";
    PageEdited => "page.edited", "A Confluence page was edited.";
    ApprovalGranted => "approval.granted", "An approver approved one exact script of a block.";
    ApprovalVoided => "approval.voided", "An approval stopped applying (the block changed).";
    ScanFinding => "scan.finding", "The page scanner found a secret (recorded redacted).";
    VaultMoved => "vault.moved", "A secret found on a page was moved into CyberArk.";
    PolicyApplied => "policy.applied", "Safe members were changed to match the grants.";
    ConfigLoaded => "config.loaded", "A configuration was loaded.";
    ApiCall => "api.call", "A call to arkbridge's API.";
    Login => "login", "A user signed in.";
    ReportDaily => "report.daily", "The daily compliance audit ran; its report was stored (`failure` when a check failed).";
}

/// An action name that is not in the schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown audit action `{0}`")]
pub struct UnknownAction(pub String);

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How it went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Success,
    Failure,
    Denied,
    /// Received, not yet decided (a run request before its policy decision).
    Pending,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
            Outcome::Pending => "pending",
        }
    }
}

/// What it was done to. Every field is optional; the ones that apply are set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The CyberArk safe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safe: Option<String>,
    /// The account's object name in the safe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// The PVWA account id (e.g. `12_3`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_version: Option<u64>,
    /// The runbook block's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<String>,
}

impl Target {
    /// A page (an id, or the page reference a user typed).
    pub fn page(page_id: &str) -> Target {
        Target {
            page_id: Some(page_id.into()),
            ..Target::default()
        }
    }

    /// A block of one version of a page.
    pub fn block(page_id: &str, page_version: u64, block: &str) -> Target {
        Target {
            page_id: Some(page_id.into()),
            page_version: Some(page_version),
            block: Some(block.into()),
            ..Target::default()
        }
    }

    /// A CyberArk account.
    pub fn account(safe: &str, object: &str) -> Target {
        Target {
            safe: Some(safe.into()),
            object: Some(object.into()),
            ..Target::default()
        }
    }

    /// Adds the PVWA account id.
    pub fn with_account_id(mut self, id: Option<&str>) -> Target {
        self.account_id = id.map(str::to_string);
        self
    }

    pub fn is_empty(&self) -> bool {
        self == &Target::default()
    }
}

/// One event, before the store gives it its sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// UTC, microseconds since the Unix epoch.
    pub time_us: i64,
    pub actor: Actor,
    /// The client's network address, when the action came over a network.
    pub source: Option<String>,
    pub action: Action,
    pub target: Target,
    pub outcome: Outcome,
    /// Why: a policy's reasons, an error, a ticket.
    pub reason: Option<String>,
    /// The run this event belongs to.
    pub run_id: Option<String>,
    /// Further facts, as a JSON object. Never a secret value.
    pub details: Value,
}

impl AuditEvent {
    /// An event by arkbridge itself, `success`, stamped at time 0: set what differs with the
    /// builder methods (the engine stamps the time and the actor when it appends).
    pub fn new(action: Action) -> AuditEvent {
        AuditEvent {
            time_us: 0,
            actor: Actor::system(),
            source: None,
            action,
            target: Target::default(),
            outcome: Outcome::Success,
            reason: None,
            run_id: None,
            details: Value::Object(Default::default()),
        }
    }

    pub fn at(mut self, time_us: i64) -> AuditEvent {
        self.time_us = time_us;
        self
    }

    pub fn by(mut self, actor: Actor) -> AuditEvent {
        self.actor = actor;
        self
    }

    pub fn from_address(mut self, source: impl Into<String>) -> AuditEvent {
        self.source = Some(source.into());
        self
    }

    pub fn target(mut self, target: Target) -> AuditEvent {
        self.target = target;
        self
    }

    pub fn outcome(mut self, outcome: Outcome) -> AuditEvent {
        self.outcome = outcome;
        self
    }

    pub fn reason(mut self, reason: impl Into<String>) -> AuditEvent {
        self.reason = Some(reason.into());
        self
    }

    pub fn run(mut self, run_id: impl Into<String>) -> AuditEvent {
        self.run_id = Some(run_id.into());
        self
    }

    /// Sets the details; anything but a JSON object is wrapped as `{"value": ...}`, so the
    /// schema's `details` is always an object.
    pub fn details(mut self, details: Value) -> AuditEvent {
        self.details = match details {
            Value::Object(_) => details,
            Value::Null => Value::Object(Default::default()),
            other => serde_json::json!({ "value": other }),
        };
        self
    }
}
