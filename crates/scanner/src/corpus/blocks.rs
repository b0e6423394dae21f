//! The blocks a generated page is made of: benign prose, tables and code (with the words
//! "password" and "token" used harmlessly, UUIDs, hashes and URLs), and blocks that carry one
//! planted fake or one decoy in a realistic spot.

use super::Class::{Confluence, Decoy, Generic, Structured};
use super::fakes::{self, Fake};
use super::page::{Ctx, PageWriter};
use super::rng::Rng;

const HOSTS: &[&str] = &[
    "db01.corp.example",
    "pg-payments.internal",
    "ldap2.corp.example",
    "mq-prod-3",
    "redis-cache-01",
    "build.corp.example",
];
const USERS: &[&str] = &[
    "svc_backup",
    "admin",
    "app_payments",
    "jenkins",
    "root",
    "report_ro",
    "deploy",
];
const SERVICES: &[&str] = &[
    "Payments DB",
    "LDAP bind",
    "Build server",
    "Message queue",
    "Cache",
    "Reporting",
    "SFTP drop",
];

const SENTENCES: &[&str] = &[
    "This page describes how the service is deployed and who to call when it breaks.",
    "Passwords for these accounts are rotated every 30 days by the CPM.",
    "The token is stored in CyberArk; ask the on-call engineer for access.",
    "The password policy requires at least 14 characters and a symbol.",
    "Run the health check after every deployment &amp; confirm the dashboards are green.",
    "See the runbook below for the restart procedure&nbsp;&rarr; it takes about five minutes.",
    "Owner: platform team. Escalation: #ops-alerts on Slack.",
    "Do not paste credentials into this page; use the vault reference instead.",
    "The secret scanner runs daily and reports new findings to the security team.",
    "Tokens expire after 90 days, so renew yours before the end of the quarter.",
    "Backups are kept for 35 days in the &quot;cold&quot; storage tier.",
    "Reset your password through the self-service portal if you are locked out.",
];

/// A paragraph of benign prose, with inline markup and a link now and then.
pub(crate) fn paragraph(w: &mut PageWriter, rng: &mut Rng) {
    w.raw("<p>");
    for i in 0..(2 + rng.below(4)) {
        if i > 0 {
            w.raw(" ");
        }
        w.raw(rng.pick(SENTENCES));
    }
    if rng.chance(40) {
        w.raw(&format!(
            r#" Build <a href="https://ci.corp.example/job/{}/{}">#{}</a> commit <code>{}</code>."#,
            rng.pick(USERS),
            rng.digits(4),
            rng.digits(4),
            rng.hex(40)
        ));
    }
    if rng.chance(30) {
        w.raw(&format!(
            " Ticket id {}-{}-4{}-a{}-{}.",
            rng.hex(8),
            rng.hex(4),
            rng.hex(3),
            rng.hex(3),
            rng.hex(12)
        ));
    }
    w.raw("</p>");
}

/// A heading.
pub(crate) fn heading(w: &mut PageWriter, rng: &mut Rng) {
    let titles = [
        "Overview",
        "Access",
        "Deployment",
        "Troubleshooting",
        "Contacts",
        "Legacy notes",
    ];
    let level = 1 + rng.below(3);
    w.raw(&format!("<h{level}>{}</h{level}>", rng.pick(&titles)));
}

/// A benign table of hosts.
pub(crate) fn host_table(w: &mut PageWriter, rng: &mut Rng) {
    w.raw(r#"<table data-layout="default"><colgroup><col /><col /><col /></colgroup><tbody><tr><th><p>Host</p></th><th><p>Port</p></th><th><p>Owner</p></th><th><p>Notes</p></th></tr>"#);
    for _ in 0..(2 + rng.below(5)) {
        w.raw(&format!(
            "<tr><td><p>{}</p></td><td><p>{}</p></td><td><p>{}</p></td><td><p>build {}</p></td></tr>",
            rng.pick(HOSTS),
            1000 + rng.below(60000),
            rng.pick(USERS),
            rng.hex(12)
        ));
    }
    w.raw("</tbody></table>");
}

/// A benign code block.
pub(crate) fn code(w: &mut PageWriter, rng: &mut Rng) {
    w.code_open("bash", rng.next());
    w.cdata_text(&format!(
        "#!/bin/bash\nset -euo pipefail\nHOST={}\nPORT={}\nDB_USER={}\nPASSWORD_FILE=/run/secrets/db\nexport TOKEN_TTL=3600\ncurl -fsS \"https://$HOST:$PORT/health?check=1&verbose=0\" | jq .status\nif [[ $? -ne 0 ]]; then echo \"<failed>\" >&2; fi",
        rng.pick(HOSTS),
        1000 + rng.below(60000),
        rng.pick(USERS)
    ));
    w.code_close();
}

/// One structured token, in a code line, at the very end of a code macro, inline in prose, in
/// a table cell or in a link.
pub(crate) fn structured(w: &mut PageWriter, rng: &mut Rng, f: &Fake) {
    let var = f.kind.to_uppercase().replace('-', "_");
    match rng.below(5) {
        0 => {
            w.code_open("bash", rng.next());
            w.cdata_text(&format!("# set up the client\nexport {var}="));
            w.plant(f.kind, Structured, &f.value, Ctx::CData);
            w.cdata_text("\n./client --verbose\n").code_close();
        }
        1 => {
            // The token directly before `]]>`, where raw-XHTML scanners miss it.
            w.code_open("text", rng.next());
            w.cdata_text("# the integration's token, for the smoke test:\n");
            w.plant(f.kind, Structured, &f.value, Ctx::CData);
            w.code_close();
        }
        2 => {
            w.raw("<p>For the integration use <code>");
            w.plant(f.kind, Structured, &f.value, Ctx::Text);
            w.raw("</code> until the new app is approved.</p>");
        }
        3 => {
            w.raw("<table><tbody><tr><th><p>Integration</p></th><th><p>API token</p></th></tr><tr><td><p>");
            w.text(rng.pick(SERVICES)).raw("</p></td><td><p>");
            w.plant(f.kind, Structured, &f.value, Ctx::Text);
            w.raw("</p></td></tr></tbody></table>");
        }
        _ => {
            w.raw(r#"<p>Endpoint: <a href="https://api.corp.example/hook?k="#);
            w.plant(f.kind, Structured, &f.value, Ctx::Attr);
            w.raw(r#"">integration</a></p>"#);
        }
    }
}

/// An AWS key pair in a credentials file.
pub(crate) fn aws_pair(w: &mut PageWriter, rng: &mut Rng) {
    let id = fakes::token(rng, "aws-access-key-id");
    let secret = fakes::aws_secret(rng);
    w.code_open("ini", rng.next());
    w.cdata_text("[default]\naws_access_key_id = ");
    w.plant(id.kind, Structured, &id.value, Ctx::CData);
    w.cdata_text("\naws_secret_access_key = ");
    w.plant(secret.kind, Structured, &secret.value, Ctx::CData);
    w.cdata_text("\nregion = eu-west-1").code_close();
}

/// A PEM private key, or a GCP service account key file.
pub(crate) fn private_key(w: &mut PageWriter, rng: &mut Rng) {
    if rng.chance(50) {
        let k = fakes::pem(rng, false);
        w.code_open("text", rng.next());
        w.plant(k.kind, Structured, &k.value, Ctx::CData);
        w.code_close();
    } else {
        let k = fakes::pem(rng, true);
        w.code_open("json", rng.next());
        w.cdata_text(&format!(
            "{{\n  \"type\": \"service_account\",\n  \"project_id\": \"billing-{}\",\n  \"private_key_id\": \"{}\",\n  \"private_key\": \"",
            rng.digits(6),
            rng.hex(40)
        ));
        w.plant(k.kind, Structured, &k.value, Ctx::CData);
        w.cdata_text("\",\n  \"client_email\": \"sa@billing.iam.gserviceaccount.com\"\n}");
        w.code_close();
    }
}

/// An Azure storage connection string.
pub(crate) fn azure_connection(w: &mut PageWriter, rng: &mut Rng) {
    let f = fakes::token(rng, "azure-storage-key");
    w.code_open("text", rng.next());
    w.cdata_text("DefaultEndpointsProtocol=https;AccountName=corpbackups;AccountKey=");
    w.plant(f.kind, Structured, &f.value, Ctx::CData);
    w.cdata_text(";EndpointSuffix=core.windows.net")
        .code_close();
}

/// A password in a table: a "Password" column, or a key-value table with a "Password" row.
pub(crate) fn password_table(w: &mut PageWriter, rng: &mut Rng, decoy: Option<&'static str>) {
    let cell = |w: &mut PageWriter, rng: &mut Rng| match decoy {
        Some(d) => {
            w.plant("decoy-table", Decoy, d, Ctx::Text);
        }
        None => {
            let p = fakes::password(rng);
            w.plant("password-table", Confluence, &p, Ctx::Text);
        }
    };
    if rng.chance(60) {
        let header = rng.pick(&["Password", "DB password", "Credentials", "Secret", "PW"]);
        w.raw(&format!("<table><tbody><tr><th><p>Service</p></th><th><p>User</p></th><th><p>{header}</p></th><th><p>Notes</p></th></tr>"));
        for _ in 0..(1 + rng.below(3)) {
            w.raw("<tr><td><p>")
                .text(rng.pick(SERVICES))
                .raw("</p></td><td><p>");
            w.text(rng.pick(USERS)).raw("</p></td><td><p>");
            cell(w, rng);
            w.raw("</p></td><td><p>rotated quarterly</p></td></tr>");
        }
    } else {
        w.raw("<table><tbody><tr><td><p><strong>Host</strong></p></td><td><p>");
        w.text(rng.pick(HOSTS))
            .raw("</p></td></tr><tr><td><p>Username</p></td><td><p>");
        w.text(rng.pick(USERS))
            .raw("</p></td></tr><tr><th><p>Password</p></th><td><p>");
        cell(w, rng);
    }
    if !w.out.ends_with("</tr>") {
        w.raw("</p></td></tr>");
    }
    w.raw("</tbody></table>");
}

/// A password in prose.
pub(crate) fn password_prose(w: &mut PageWriter, rng: &mut Rng, decoy: Option<&'static str>) {
    let (kind, class, value) = match decoy {
        Some(d) => ("decoy-prose", Decoy, d.to_string()),
        None => ("password-prose", Confluence, fakes::password(rng)),
    };
    let user = rng.pick(USERS);
    match rng.below(5) {
        0 => {
            w.raw(&format!("<p>The password for the {user} account is "));
            w.plant(kind, class, &value, Ctx::Text).raw(".</p>");
        }
        1 => {
            w.raw(&format!("<p>Login as <strong>{user}</strong>, pw: "));
            w.plant(kind, class, &value, Ctx::Text).raw("</p>");
        }
        2 => {
            w.raw(&format!("<ul><li>user - {user}</li><li>pwd - "));
            w.plant(kind, class, &value, Ctx::Text).raw("</li></ul>");
        }
        3 => {
            w.panel_open("info");
            w.raw("<p>Temporary password is <code>");
            w.plant(kind, class, &value, Ctx::Text)
                .raw("</code> (change it at first login).</p>");
            w.panel_close();
        }
        _ => {
            w.raw("<p>Password: ");
            w.plant(kind, class, &value, Ctx::Text).raw("</p>");
        }
    }
}

/// A `KEY=value` line with punctuation in a code block.
pub(crate) fn password_code(w: &mut PageWriter, rng: &mut Rng, decoy: Option<&'static str>) {
    let (kind, class, value) = match decoy {
        Some(d) => ("decoy-code", Decoy, d.to_string()),
        None => ("password-code", Confluence, fakes::password(rng)),
    };
    let key = rng.pick(&[
        "DB_PASSWORD",
        "LDAP_BIND_PASSWORD",
        "ADMIN_PASS",
        "SMTP_PWD",
        "KEYSTORE_PASSWORD",
        "redis.password",
        "password",
    ]);
    let (lang, sep) = rng.pick(&[("bash", "="), ("properties", "="), ("yaml", ": ")]);
    w.code_open(lang, rng.next());
    w.cdata_text(&format!(
        "# connection settings\nDB_HOST={}\n{key}{sep}",
        rng.pick(HOSTS)
    ));
    w.plant(kind, class, &value, Ctx::CData);
    w.cdata_text("\nDB_PORT=5432").code_close();
}

/// A connection URI or string with a password.
pub(crate) fn connection(w: &mut PageWriter, rng: &mut Rng, decoy: Option<&'static str>) {
    let (kind, class, value) = match decoy {
        Some(d) => ("decoy-uri", Decoy, d.to_string()),
        None => {
            let mut p = {
                let n = 8 + rng.below(8);
                rng.alnum(n)
            };
            p.insert(rng.below(p.len()), rng.pick(&['!', '*', '-', '~', '$']));
            ("password-uri", Confluence, p)
        }
    };
    let host = rng.pick(HOSTS);
    let user = rng.pick(USERS);
    let in_code = rng.chance(60);
    let (before, after) = match rng.below(5) {
        0 => (
            format!("postgres://{user}:"),
            format!("@{host}:5432/payments"),
        ),
        1 => (
            format!("mongodb+srv://{user}:"),
            "@cluster0.ab1cd.mongodb.net/app?retryWrites=true".into(),
        ),
        2 => (
            format!("jdbc:sqlserver://{host}:1433;databaseName=ledger;user={user};password="),
            ";encrypt=true".into(),
        ),
        3 => (
            format!(
                "Driver={{ODBC Driver 18 for SQL Server}};Server=tcp:{host},1433;Uid={user};Pwd="
            ),
            ";Encrypt=yes;".into(),
        ),
        _ => (format!("redis://{user}:"), format!("@{host}:6379/0")),
    };
    if in_code {
        w.code_open("text", rng.next());
        w.cdata_text(&format!("DATABASE_URL=\"{before}"));
        w.plant(kind, class, &value, Ctx::CData);
        w.cdata_text(&format!("{after}\"")).code_close();
    } else {
        w.raw("<p>Connect with ").text(&before);
        w.plant(kind, class, &value, Ctx::Text);
        w.text(&after).raw(" from the jump host.</p>");
    }
}

/// A generic API key assigned in a config file or mentioned in prose.
pub(crate) fn generic(w: &mut PageWriter, rng: &mut Rng) {
    let v = fakes::generic_key(rng);
    let key = rng.pick(&[
        "api_key",
        "auth_token",
        "client_secret",
        "secret_key",
        "apiKey",
    ]);
    if rng.chance(50) {
        w.code_open("yaml", rng.next());
        w.cdata_text(&format!(
            "service:\n  url: https://api.corp.example\n  {key}: \""
        ));
        w.plant("generic-api-key", Generic, &v, Ctx::CData);
        w.cdata_text("\"\n  timeout: 30").code_close();
    } else {
        w.raw(&format!("<p>Config: <code>{key} = "));
        w.plant("generic-api-key", Generic, &v, Ctx::Text);
        w.raw("</code></p>");
    }
}
