//! The format-based detectors, written from each vendor's published token format. gitleaks'
//! rule list served as a checklist of what to cover; these patterns are our own.
//!
//! Every rule names the keywords (lower case) whose presence in a page makes it worth running:
//! the Aho-Corasick prefilter looks for all keywords of all rules in one pass, and a rule's
//! regex runs only on pages where one of its keywords occurs. Patterns are compiled for bytes
//! without Unicode classes (RE2 semantics), which keeps compilation and matching cheap.

use crate::finding::{Category, Severity};

use super::filter;

/// A detector's identity, as reports and SARIF rules show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectorInfo {
    /// Stable id, SARIF's `ruleId`.
    pub id: &'static str,
    /// One line for people.
    pub description: &'static str,
    pub category: Category,
    pub severity: Severity,
}

/// A regex rule over the whole view.
pub(crate) struct Rule {
    pub(crate) info: DetectorInfo,
    pub(crate) keywords: &'static [&'static str],
    pub(crate) pattern: &'static str,
    /// The capture group holding the secret (0 = the whole match).
    pub(crate) group: usize,
    /// An extra test of the captured value.
    pub(crate) check: fn(&str) -> bool,
}

const fn info(
    id: &'static str,
    description: &'static str,
    category: Category,
    severity: Severity,
) -> DetectorInfo {
    DetectorInfo {
        id,
        description,
        category,
        severity,
    }
}

fn any(_: &str) -> bool {
    true
}

/// The 40-character AWS secret key is base64 of random bytes: it mixes cases and digits.
fn aws_secret(v: &str) -> bool {
    filter::entropy(v) > 4.0
}

/// 64 random bytes in base64 use most of the alphabet; a long run of one letter does not.
fn storage_key(v: &str) -> bool {
    filter::entropy(v) > 5.0
}

fn slack_token(v: &str) -> bool {
    v.bytes().filter(u8::is_ascii_digit).count() >= 6
}

/// A token made of a known prefix and random characters: reject a prefix followed by a word.
fn random_tail(v: &str) -> bool {
    let tail = v.rsplit(['_', '-']).next().unwrap_or(v);
    tail.len() < 8 || filter::entropy(tail) > 3.0
}

use Category::*;
use Severity::*;

/// The regex rules, most specific first (when two findings overlap, the earlier rule wins).
pub(crate) const RULES: &[Rule] = &[
    Rule {
        info: info(
            "gcp-service-account-key",
            "GCP service account private key (JSON key file)",
            PrivateKey,
            Critical,
        ),
        keywords: &["private_key"],
        pattern: r#""private_key"\s*:\s*"(-----BEGIN[A-Z ]{0,20} PRIVATE KEY-----(?:\\n|[A-Za-z0-9+/=\s]){40,8000}?-----END[A-Z ]{0,20} PRIVATE KEY-----(?:\\n)?)""#,
        group: 1,
        check: any,
    },
    Rule {
        info: info(
            "private-key",
            "PEM-encoded private key",
            PrivateKey,
            Critical,
        ),
        keywords: &["private key-----"],
        pattern: r"-----BEGIN[A-Z ]{0,20} PRIVATE KEY(?: BLOCK)?-----[\s\S]{40,16000}?-----END[A-Z ]{0,20} PRIVATE KEY(?: BLOCK)?-----",
        group: 0,
        check: any,
    },
    Rule {
        info: info("aws-access-key-id", "AWS access key id", CloudKey, High),
        keywords: &["akia", "asia", "abia", "acca", "a3t"],
        pattern: r"(?:^|[^A-Za-z0-9])((?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16})(?:[^A-Za-z0-9]|$)",
        group: 1,
        check: any,
    },
    Rule {
        info: info(
            "aws-secret-access-key",
            "AWS secret access key",
            CloudKey,
            Critical,
        ),
        keywords: &[
            "secret_access_key",
            "secretaccesskey",
            "secret-access-key",
            "secret access key",
            "aws_secret",
            "aws secret",
        ],
        pattern: r#"(?i)(?:secret[_ .-]?access[_ .-]?key|aws[_ .-]?secret(?:[_ .-]?key)?)["']?\s*(?:[:=]|=>|\s)\s*["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"#,
        group: 1,
        check: aws_secret,
    },
    Rule {
        info: info("gcp-api-key", "Google Cloud API key", CloudKey, High),
        keywords: &["aiza"],
        pattern: r"(?:^|[^A-Za-z0-9_-])(AIza[0-9A-Za-z_-]{35})(?:[^A-Za-z0-9_-]|$)",
        group: 1,
        check: any,
    },
    Rule {
        info: info(
            "azure-storage-account-key",
            "Azure storage account key or connection string",
            CloudKey,
            Critical,
        ),
        keywords: &["accountkey", "sharedaccesskey"],
        pattern: r"(?i)(?:AccountKey|SharedAccessKey)\s*=\s*([A-Za-z0-9+/]{43}=|[A-Za-z0-9+/]{86}==)",
        group: 1,
        check: any,
    },
    Rule {
        info: info(
            "azure-storage-key",
            "Azure storage account key (64 bytes in base64)",
            CloudKey,
            Critical,
        ),
        keywords: &["=="],
        pattern: r"(?:^|[^A-Za-z0-9+/])([A-Za-z0-9+/]{86}==)(?:[^A-Za-z0-9+/=]|$)",
        group: 1,
        check: storage_key,
    },
    Rule {
        info: info(
            "azure-client-secret",
            "Azure AD (Entra ID) application client secret",
            CloudKey,
            High,
        ),
        keywords: &["q~"],
        pattern: r"(?:^|[^A-Za-z0-9_~.-])([A-Za-z0-9_~.-]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34})(?:[^A-Za-z0-9_~.-]|$)",
        group: 1,
        check: any,
    },
    Rule {
        info: info(
            "github-token",
            "GitHub personal access, OAuth, user, server or refresh token",
            SourceControl,
            Critical,
        ),
        keywords: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
        pattern: r"(?:^|[^A-Za-z0-9_])((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36})(?:[^A-Za-z0-9_]|$)",
        group: 1,
        check: any,
    },
    Rule {
        info: info(
            "github-fine-grained-pat",
            "GitHub fine-grained personal access token",
            SourceControl,
            Critical,
        ),
        keywords: &["github_pat_"],
        pattern: r"(?:^|[^A-Za-z0-9_])(github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})(?:[^A-Za-z0-9_]|$)",
        group: 1,
        check: any,
    },
    Rule {
        info: info(
            "gitlab-token",
            "GitLab personal, deploy, runner, OAuth or other token",
            SourceControl,
            Critical,
        ),
        keywords: &[
            "glpat-", "gldt-", "glrt-", "glsoat-", "glcbt-", "gloas-", "glimt-", "glft-",
            "glffct-", "glagent-", "glptt-",
        ],
        pattern: r"(?:^|[^A-Za-z0-9_-])((?:glpat|gldt|glrt|glsoat|glcbt|gloas|glimt|glft|glffct|glagent)-[A-Za-z0-9_-]{20,64}|glptt-[0-9a-f]{40})(?:[^A-Za-z0-9_-]|$)",
        group: 1,
        check: random_tail,
    },
    Rule {
        info: info(
            "bitbucket-app-password",
            "Bitbucket app password",
            SourceControl,
            High,
        ),
        keywords: &["atbb"],
        pattern: r"(?:^|[^A-Za-z0-9])(ATBB[A-Za-z0-9]{32,})(?:[^A-Za-z0-9]|$)",
        group: 1,
        check: any,
    },
    Rule {
        info: info(
            "atlassian-api-token",
            "Atlassian API token or Bitbucket access token",
            SourceControl,
            High,
        ),
        keywords: &["atatt3", "atctt3"],
        pattern: r"(?:^|[^A-Za-z0-9_=-])((?:ATATT3|ATCTT3)[A-Za-z0-9_=-]{100,300})(?:[^A-Za-z0-9_=-]|$)",
        group: 1,
        check: any,
    },
    Rule {
        info: info(
            "slack-token",
            "Slack bot, user, app-level, refresh or legacy token",
            Messaging,
            High,
        ),
        keywords: &[
            "xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxe-", "xoxo-", "xoxs-",
        ],
        pattern: r"(?:^|[^A-Za-z0-9-])(xox[abeoprs]-[0-9A-Za-z]{1,20}-[0-9A-Za-z-]{8,250})(?:[^A-Za-z0-9-]|$)",
        group: 1,
        check: slack_token,
    },
    Rule {
        info: info("slack-app-token", "Slack app-level token", Messaging, High),
        keywords: &["xapp-"],
        pattern: r"(?:^|[^A-Za-z0-9-])(xapp-[0-9]-[A-Z0-9]{6,}-[0-9]{6,}-[a-z0-9]{32,})(?:[^A-Za-z0-9-]|$)",
        group: 1,
        check: any,
    },
    Rule {
        info: info(
            "slack-webhook",
            "Slack incoming webhook or workflow URL",
            Messaging,
            High,
        ),
        keywords: &["hooks.slack.com"],
        pattern: r"(https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/+-]{20,200})",
        group: 1,
        check: any,
    },
    Rule {
        info: info(
            "stripe-live-key",
            "Stripe live secret or restricted key",
            SaasKey,
            Critical,
        ),
        keywords: &["sk_live_", "rk_live_"],
        pattern: r"(?:^|[^A-Za-z0-9_])((?:sk|rk)_live_[0-9A-Za-z]{24,99})(?:[^A-Za-z0-9_]|$)",
        group: 1,
        check: any,
    },
    Rule {
        info: info(
            "stripe-test-key",
            "Stripe test-mode secret or restricted key",
            SaasKey,
            Low,
        ),
        keywords: &["sk_test_", "rk_test_"],
        pattern: r"(?:^|[^A-Za-z0-9_])((?:sk|rk)_test_[0-9A-Za-z]{24,99})(?:[^A-Za-z0-9_]|$)",
        group: 1,
        check: any,
    },
    Rule {
        info: info("twilio-api-key", "Twilio API key SID", SaasKey, High),
        keywords: &["twilio", "sk"],
        pattern: r"(?:^|[^A-Za-z0-9])(SK[0-9a-f]{32})(?:[^A-Za-z0-9]|$)",
        group: 1,
        check: any,
    },
    Rule {
        info: info("sendgrid-api-key", "SendGrid API key", SaasKey, High),
        keywords: &["sg."],
        pattern: r"(?:^|[^A-Za-z0-9_.-])(SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})(?:[^A-Za-z0-9_-]|$)",
        group: 1,
        check: any,
    },
    Rule {
        info: info("mailgun-api-key", "Mailgun API key", SaasKey, High),
        keywords: &["key-"],
        pattern: r"(?:^|[^A-Za-z0-9_-])(key-[0-9a-f]{32})(?:[^A-Za-z0-9_-]|$)",
        group: 1,
        check: any,
    },
    Rule {
        info: info("npm-token", "npm access token", SaasKey, High),
        keywords: &["npm_"],
        pattern: r"(?:^|[^A-Za-z0-9_])(npm_[A-Za-z0-9]{36})(?:[^A-Za-z0-9_]|$)",
        group: 1,
        check: any,
    },
    Rule {
        info: info("pypi-token", "PyPI upload token", SaasKey, High),
        keywords: &["pypi-ageichlwas5vcmc"],
        pattern: r"(?:^|[^A-Za-z0-9_-])(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,300})(?:[^A-Za-z0-9_-]|$)",
        group: 1,
        check: any,
    },
    Rule {
        info: info("openai-api-key", "OpenAI API key", SaasKey, High),
        keywords: &["t3blbkfj"],
        pattern: r"(?:^|[^A-Za-z0-9_-])(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,100}T3BlbkFJ[A-Za-z0-9_-]{20,100})(?:[^A-Za-z0-9_-]|$)",
        group: 1,
        check: any,
    },
    Rule {
        info: info("jwt", "JSON Web Token", Jwt, Medium),
        keywords: &["eyj"],
        pattern: r"(?:^|[^A-Za-z0-9_-])(eyJ[A-Za-z0-9_-]{8,2000}\.eyJ[A-Za-z0-9_-]{8,8000}\.[A-Za-z0-9_-]{16,1000})(?:[^A-Za-z0-9_.-]|$)",
        group: 1,
        check: any,
    },
    Rule {
        info: info(
            "url-credentials",
            "URL or connection URI with a password",
            ConnectionString,
            Critical,
        ),
        keywords: &["://"],
        pattern: r#"(?:^|[^A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{1,30}://[^\s:/@"'<>]{1,64}:([^\s/"'<>]{1,128})@[A-Za-z0-9\[\]_-]"#,
        group: 1,
        check: any,
    },
    Rule {
        info: info(
            "connection-string-password",
            "Password in a JDBC, ODBC or ADO.NET connection string",
            ConnectionString,
            Critical,
        ),
        keywords: &["password=", "pwd=", "password =", "pwd ="],
        pattern: r#"(?i)[;?&]\s*(?:password|pwd)\s*=\s*([^;&\s"'<>]{1,128})"#,
        group: 1,
        check: any,
    },
];
