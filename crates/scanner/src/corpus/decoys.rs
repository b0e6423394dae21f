//! Decoys and lookalikes: the placeholder values and documented example keys no detector may
//! report, and benign text shaped like what the detectors look for (secret words next to
//! names, URLs, hashes and durations), which measures precision.

use super::Class::Decoy;
use super::page::{Ctx, PageWriter};
use super::rng::Rng;

const USERS: &[&str] = &[
    "svc_backup",
    "admin",
    "app_payments",
    "jenkins",
    "report_ro",
];

/// The decoy values, each in the forms it takes on real pages.
pub(crate) const DECOYS: &[&str] = &[
    "<password>",
    "${DB_PASSWORD}",
    "{{ vault_db_password }}",
    "%DB_PASSWORD%",
    "changeme",
    "********",
    "xxx",
    "REDACTED",
    "your-password-here",
    "cyberark://Prod-DB/payments-db",
    "$DB_PASS",
];

/// Documented example keys in the lines they appear in.
pub(crate) fn documented_examples(w: &mut PageWriter, rng: &mut Rng) {
    w.code_open("ini", rng.next());
    w.cdata_text("# from the AWS docs\naws_access_key_id = ");
    w.plant(
        "decoy-aws-example",
        Decoy,
        "AKIAIOSFODNN7EXAMPLE",
        Ctx::CData,
    );
    w.cdata_text("\naws_secret_access_key = ");
    w.plant(
        "decoy-aws-example",
        Decoy,
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        Ctx::CData,
    );
    w.cdata_text("\n# Stripe test mode, from the Stripe docs\nstripe.api_key = ");
    w.plant(
        "decoy-stripe-example",
        Decoy,
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        Ctx::CData,
    );
    w.cdata_text("\n# jwt.io sample\nJWT=");
    w.plant("decoy-jwt-example", Decoy, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", Ctx::CData);
    w.code_close();
}

/// Benign text that looks like the shapes the detectors look for: secret words next to
/// values that are not secrets (names, URLs, hashes, durations, headers, file paths).
pub(crate) fn lookalikes(w: &mut PageWriter, rng: &mut Rng) {
    match rng.below(4) {
        0 => {
            w.code_open("yaml", rng.next());
            w.cdata_text(&format!(
                "auth:\n  token_endpoint: https://login.corp.example/oauth2/token\n  api_key_header: X-Api-Key\n  password_min_length: 14\n  secret_name: prod/{}/db\n  password_hash: \"$2b$12${}\"\n  token_ttl: 3600\n  checksum: sha256:{}\n  request_id: {}-{}-4{}",
                rng.pick(USERS),
                rng.b64(53).replace('+', "."),
                rng.hex(64),
                rng.hex(8),
                rng.hex(4),
                rng.hex(3)
            ));
            w.code_close();
        }
        1 => {
            w.raw("<p>Set the password to expire after 90 days. The token-based login replaced the old one; see ");
            w.raw(&format!(
                r#"<a href="https://wiki.corp.example/display/SEC/Password+rotation?v={}">Password rotation</a>"#,
                rng.digits(3)
            ));
            w.raw(" and ask in #sec-help. The API key is issued per team. Secret: none needed for read-only access.</p>");
        }
        2 => {
            w.raw("<table><tbody><tr><th><p>Secret name</p></th><th><p>Rotation</p></th><th><p>Password policy</p></th></tr>");
            for _ in 0..(1 + rng.below(3)) {
                w.raw(&format!(
                    "<tr><td><p>prod/{}/{}</p></td><td><p>{} days</p></td><td><p>Min14chars-{}</p></td></tr>",
                    rng.pick(USERS),
                    rng.hex(6),
                    30 * (1 + rng.below(3)),
                    rng.digits(2)
                ));
            }
            w.raw("</tbody></table>");
        }
        _ => {
            w.code_open("bash", rng.next());
            w.cdata_text(&format!(
                "TOKEN=$(vault kv get -field=token secret/{})\nexport PGPASSWORD=\"$(cat /run/secrets/pg)\"\npassword_file=/etc/{}/pass.txt\ncurl -H \"Authorization: Bearer $TOKEN\" https://api.corp.example/v1/items?page={}",
                rng.pick(USERS),
                rng.pick(USERS),
                rng.digits(2)
            ));
            w.code_close();
        }
    }
}
