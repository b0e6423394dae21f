//! Each detector on the shapes it is written for, the decoys it must leave alone, and the
//! mapping of what it finds back to the storage string.

mod support;

use support::{code, scan, spans};

/// Fake values in the published formats (random, nobody's).
const GHP: &str = "ghp_R8x2LqP0vN5mZt7KcW3yHs9dFj1Ga4Ub6Ee0";
const AKIA: &str = "AKIAZ7QW3ERT5YUI2OPL";
const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsInJvbGUiOiJhZG1pbiJ9.kD3s9Qx7Lm2Vb8Nz4Rt6Yp1Wc5Hg0Jf";

fn detectors_of(storage: &str) -> Vec<String> {
    scan(storage).into_iter().map(|f| f.detector).collect()
}

#[test]
fn token_right_before_cdata_end_is_found() {
    for token in [GHP, AKIA, JWT] {
        let page = code(&format!("export X=1\n{token}"));
        let f = scan(&page);
        assert_eq!(spans(&page, &f), [token], "{page}");
    }
}

#[test]
fn structured_tokens_of_every_family_are_found() {
    let cases = [
        ("github-token", GHP.to_string()),
        (
            "github-fine-grained-pat",
            format!(
                "github_pat_{}_{}",
                "A1b2C3d4E5f6G7h8I9j0K1",
                "x".repeat(0) + &"Zq9".repeat(19) + "Zq"
            ),
        ),
        ("gitlab-token", "glpat-Hq3vX9mK2pL7nR4tW8yZ".to_string()),
        ("aws-access-key-id", AKIA.to_string()),
        (
            "gcp-api-key",
            "AIzaSyD4x9Kq2Lm7Nv3Rt8Wp1Zc6Hb0Jf5Gd2Es".to_string(),
        ),
        (
            "slack-token",
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx".to_string(),
        ),
        (
            "slack-webhook",
            "https://hooks.slack.com/services/T0ABCDEF12/B0ABCDEF34/Xy7Zq2Lm9Nv4Rt8Wp1Zc6Hb0"
                .to_string(),
        ),
        (
            "stripe-live-key",
            "sk_live_51HqLm2Nv3Rt8Wp1Zc6Hb0Jf5Gd".to_string(),
        ),
        (
            "sendgrid-api-key",
            format!(
                "SG.{}.{}",
                "Ab3dEf6hIj9lMn2pQr5tUv", "Wx8zAb1dEf4hIj7lMn0pQr3tUv6xYz9bCd2fGh5jKl8"
            ),
        ),
        (
            "npm-token",
            "npm_Q8w2Er5Ty7Ui0Op3As6Df9Gh1Jk4Lz8Xc2Vb".to_string(),
        ),
        ("jwt", JWT.to_string()),
        (
            "bitbucket-app-password",
            "ATBBx7Kq2Lm9Nv4Rt8Wp1Zc6Hb0Jf5Gd3Es2".to_string(),
        ),
        (
            "azure-client-secret",
            "a1B8Q~Zq2Lm9Nv4Rt8Wp1Zc6Hb0Jf5Gd3Es7Ty".to_string(),
        ),
    ];
    for (detector, token) in cases {
        let page = format!("<p>use <code>{token}</code> for now</p>");
        let f = scan(&page);
        assert_eq!(f.len(), 1, "{detector}: {page}");
        assert_eq!(f[0].detector, detector, "{page}");
        assert_eq!(spans(&page, &f), [token.as_str()]);
    }
}

#[test]
fn pem_key_and_aws_secret_in_code() {
    let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx7Kq2Lm9Nv4Rt8Wp1Zc6Hb0Jf5Gd3Es7TyUi0Op3As6Df9Gh\nQ8w2Er5Ty7Ui0Op3As6Df9Gh1Jk4Lz8Xc2Vb==\n-----END RSA PRIVATE KEY-----";
    let secret = "k9Zq2Lm7Nv3Rt8Wp1Zc6Hb0Jf5Gd2EsQ8w2Er5T/";
    let page = code(&format!("{pem}\naws_secret_access_key = {secret}\n"));
    let f = scan(&page);
    assert_eq!(spans(&page, &f), [pem, secret]);
    assert_eq!(f[0].detector, "private-key");
    assert_eq!(f[1].detector, "aws-secret-access-key");
}

#[test]
fn connection_strings_report_only_the_password() {
    for (line, pw) in [
        ("postgres://app:S3cr!tPw9@db01:5432/app", "S3cr!tPw9"),
        (
            "mongodb+srv://svc:Xy7-Lm2q@cluster0.ab1cd.mongodb.net/x",
            "Xy7-Lm2q",
        ),
        (
            "jdbc:sqlserver://db:1433;user=sa;password=Qz8!mK2p;encrypt=true",
            "Qz8!mK2p",
        ),
        ("Driver={ODBC};Server=db;Uid=sa;Pwd=Lm9~Vb3x;", "Lm9~Vb3x"),
    ] {
        let page = code(line);
        assert_eq!(spans(&page, &scan(&page)), [pw], "{line}");
    }
}

#[test]
fn table_column_and_row_headers_mark_the_secret_cells() {
    let column = "<table><tbody><tr><th>Service</th><th>User</th><th>Password</th></tr><tr><td>LDAP</td><td>bind</td><td><p>Hx7!mQ2z</p></td></tr><tr><td>DB</td><td>sa</td><td>********</td></tr></tbody></table>";
    let f = scan(column);
    assert_eq!(spans(column, &f), ["Hx7!mQ2z"]);
    assert_eq!(f[0].detector, "table-password");
    assert_eq!(f[0].location.element_path, "table/tbody/tr[2]/td[3]/p");
    let row = "<table><tbody><tr><td>Host</td><td>db01</td></tr><tr><td>Password</td><td>Tr0ub4dor&amp;3</td></tr></tbody></table>";
    assert_eq!(spans(row, &scan(row)), ["Tr0ub4dor&amp;3"]);
    let benign = "<table><tbody><tr><th>Password policy</th><th>Owner</th></tr><tr><td>Min14chars!</td><td>sec-team</td></tr></tbody></table>";
    assert!(scan(benign).is_empty());
}

#[test]
fn prose_passwords_in_their_usual_phrasings() {
    for (page, pw) in [
        (
            "<p>The password for the admin account is Falcon!2931.</p>",
            "Falcon!2931",
        ),
        ("<p>Login as <b>root</b>, pw: q8Zr2Vb!x</p>", "q8Zr2Vb!x"),
        (
            "<ul><li>pwd - g&gt;n66tCVcggFb7</li></ul>",
            "g&gt;n66tCVcggFb7",
        ),
        ("<p>Password: Meadow2024#</p>", "Meadow2024#"),
        (
            "<p>Temporary password is <code>Xy7-Lm2q9</code> for now.</p>",
            "Xy7-Lm2q9",
        ),
    ] {
        assert_eq!(spans(page, &scan(page)), [pw], "{page}");
    }
    for benign in [
        "<p>The password is stored in CyberArk.</p>",
        "<p>Passwords are rotated every 30 days.</p>",
        "<p>The password policy requires 14 characters.</p>",
        "<p>Reset your password through the portal.</p>",
        "<p>The password is &lt;password&gt;.</p>",
        "<p>Connect with postgres://admin:your-password-here@db01:5432/x today.</p>",
        "<p>See password-reset-2024 and the token-rotation page.</p>",
    ] {
        assert!(scan(benign).is_empty(), "{benign}");
    }
}

#[test]
fn code_key_value_lines_with_punctuation() {
    let page = code(
        "DB_HOST=db01\nDB_PASSWORD=Summer2024!x\nLDAP_BIND_PASSWORD='p@ss;w0rd&x'\nPASSWORD_FILE=/run/secrets/db\nTOKEN_TTL=3600",
    );
    let f = scan(&page);
    assert_eq!(spans(&page, &f), ["Summer2024!x", "p@ss;w0rd&x"]);
    assert!(f.iter().all(|f| f.detector == "code-secret-assignment"));
}

#[test]
fn generic_assignments_need_a_random_value() {
    let page = "<p><code>api_key = 9f86d081884c7d659a2feaa0c55ad015</code> and <code>secret_name = prod_db</code></p>";
    let f = scan(page);
    assert_eq!(spans(page, &f), ["9f86d081884c7d659a2feaa0c55ad015"]);
}

#[test]
fn decoys_are_never_reported() {
    let page = code(
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\nstripe.api_key = sk_test_4eC39HqLyjWDarjtT1zdp7dc\nDB_PASSWORD=${DB_PASSWORD}\npassword: \"{{ vault_db_password }}\"\nset API_KEY=%API_KEY%\npassword = changeme\nTOKEN=your-token-here\nSECRET=REDACTED\nDB_URL=postgres://app:****@db01/app\nADMIN_PASSWORD=cyberark://Prod-DB/payments-db\nGITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    );
    let f = scan(&page);
    assert!(f.is_empty(), "{:?}", spans(&page, &f));
}

#[test]
fn values_inside_our_references_are_never_reported() {
    // What `arkbridge vault` leaves on a page: the object name says `password`, and its tail
    // must not read as "password-X" prose.
    let page = "<table><tbody><tr><th><p>User</p></th><th><p>Password</p></th></tr><tr><td><p>admin</p></td><td><p>cyberark://Vaulted-Secrets/legacy-db-notes-table-password-03090b09</p></td></tr></tbody></table><p>The password is cyberark://Ops/db-password-1a2b3c4d now.</p>";
    let f = scan(page);
    assert!(f.is_empty(), "{:?}", spans(page, &f));
}

#[test]
fn entity_encoded_secret_maps_to_its_storage_span() {
    let page = "<p>pw: a&lt;b&amp;c&#33;9Xy</p>";
    let f = scan(page);
    assert_eq!(spans(page, &f), ["a&lt;b&amp;c&#33;9Xy"]);
    let l = &f[0].location;
    assert_eq!((l.char_offset, l.char_length), (7, 20));
    assert_eq!(l.view_char_length, "a<b&c!9Xy".len());
    assert_eq!(l.element_path, "p");
}

#[test]
fn char_offsets_count_characters_not_bytes() {
    let page = format!("<p>Grüße → für alle</p><p>{GHP}</p>");
    let f = scan(&page);
    let start = page.find(GHP).unwrap();
    assert_eq!(f[0].location.byte_offset, start);
    assert_eq!(f[0].location.char_offset, page[..start].chars().count());
    assert_eq!(f[0].location.char_length, GHP.len());
}

#[test]
fn malformed_page_is_still_scanned_as_raw_text() {
    let page = format!("<p>broken <b>markup</p> {GHP} &bogus;");
    let scan = support::scanner().scan(Default::default(), &page);
    assert!(!scan.well_formed);
    assert_eq!(spans(&page, &scan.findings), [GHP]);
    assert_eq!(scan.findings[0].location.element_path, "");
}

#[test]
fn findings_hold_no_cleartext_and_fingerprint_the_full_value() {
    let page = format!("<p>{GHP}</p>");
    let f = &scan(&page)[0];
    let dump = format!("{f:?}{}", serde_json::to_string(f).unwrap());
    assert!(!dump.contains(&GHP[4..]), "{dump}");
    assert_eq!(f.preview, "ghp_… (40 chars)");
    assert!(support::key().matches(GHP, &f.fingerprint));
    assert_eq!(detectors_of(&page), ["github-token"]);
}

#[test]
fn realistic_benign_snippets_raise_nothing() {
    let snippets = [
        code("client_secret: !vault |\n  $ANSIBLE_VAULT;1.1;AES256"),
        code("password = os.getenv(\"DB_PASSWORD\")\ntoken = response.json()[\"access_token\"]"),
        code("password = getpass.getpass()\nPASSWORD=$(cat /run/secrets/db)"),
        code("password: ${{ secrets.DB_PASSWORD }}\ndb_password: \"{{ lookup('env', 'DB_PASS') }}\""),
        code("mysql -u root --password \"$DB_PASS\" -h db01\n\"password\": null,\n\"token\": \"\""),
        code("token_version = 2.14.0-rc1\nsecret_name = prod/db\npassword_min_length: 14"),
        "<table><tbody><tr><th>System</th><th>Password</th></tr><tr><td>DB</td><td>CyberArk</td></tr><tr><td>LDAP</td><td>see vault</td></tr><tr><td>SFTP</td><td>N/A</td></tr><tr><td>Mail</td><td>admin@corp.example</td></tr></tbody></table>".to_string(),
        "<table><tbody><tr><th>Token</th><th>Owner</th></tr><tr><td>v1.2.3</td><td>ops</td></tr><tr><td>2024-01-31</td><td>ops</td></tr></tbody></table>".to_string(),
        "<p>Password: use your AD password. Token: stored-in-vault. API key: issued per team.</p>".to_string(),
        "<p>The password is in 1Password; the token was rotated on 2024-05-01.</p>".to_string(),
        "<p>Use <code>--password-file=C:\\secrets\\db.txt</code> on Windows.</p>".to_string(),
    ];
    for page in snippets {
        let f = scan(&page);
        assert!(f.is_empty(), "{:?} in {page}", spans(&page, &f));
    }
}
