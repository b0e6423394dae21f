//! The `[cyberark.*]` configuration as an administrator writes it: a PKCS#12 client identity
//! for the CCP, Privilege Cloud (ISPSS) for the PVWA, and the combinations that are refused with
//! a message naming the field.

use std::path::Path;

use arkbridge_core::config::{Config, ConfigError, PvwaAuthMethod};

/// A valid config whose CCP and PVWA sections are `ccp` and `pvwa`.
fn config(ccp: &str, pvwa: &str) -> String {
    format!(
        r#"
data_dir = "data"

[identity]
provider = "local-trusted"
users = [{{ email = "alice@example.com", groups = ["ops"] }}]

[cyberark.ccp]
url = "https://ccp.example.com"
app_id = "arkbridge"
{ccp}

[cyberark.pvwa]
username = "arkbridge-svc"
password = "cyberark://Integrations/pvwa-arkbridge-svc"
{pvwa}

[confluence]
url = "https://example.atlassian.net"
user = "arkbridge@example.com"
token = "cyberark://Integrations/confluence-api-token"
"#
    )
}

const PVWA: &str = r#"url = "https://pvwa.example.com""#;
const PEM: &str = "client_cert = \"client.pem\"\nclient_key = \"client-key.pem\"";

fn invalid(text: &str) -> String {
    match Config::parse(text) {
        Err(ConfigError::Invalid(message)) => message,
        other => panic!("expected an invalid config, got {other:?}"),
    }
}

#[test]
fn pkcs12_identity_with_password_file_parses_and_resolves_relative_paths() {
    let dir = tempfile::tempdir().unwrap();
    let ccp = "client_pkcs12 = \"certs/arkbridge.p12\"\n\
               client_pkcs12_password_file = \"/run/credentials/arkbridge/p12\"";
    let path = dir.path().join("arkbridge.toml");
    std::fs::write(&path, config(ccp, PVWA)).unwrap();
    let cfg = Config::load(&path).unwrap();
    let ccp = &cfg.cyberark.ccp;
    assert_eq!(
        ccp.client_pkcs12.as_deref(),
        Some(dir.path().join("certs/arkbridge.p12").as_path())
    );
    assert_eq!(
        ccp.client_pkcs12_password_file.as_deref(),
        Some(Path::new("/run/credentials/arkbridge/p12"))
    );
    assert!(ccp.client_cert.is_none());
}

#[test]
fn pkcs12_and_pem_identity_together_are_refused() {
    let ccp = format!("{PEM}\nclient_pkcs12 = \"arkbridge.p12\"");
    let message = invalid(&config(&ccp, PVWA));
    assert!(message.contains("client_pkcs12"), "{message}");
}

#[test]
fn pkcs12_password_file_without_pkcs12_is_refused() {
    let ccp = format!("{PEM}\nclient_pkcs12_password_file = \"p12-password\"");
    let message = invalid(&config(&ccp, PVWA));
    assert!(message.contains("client_pkcs12_password_file"), "{message}");
}

#[test]
fn ispss_needs_the_identity_tenant_url() {
    let pvwa = format!("{PVWA}\nauth_method = \"ISPSS\"");
    let message = invalid(&config(PEM, &pvwa));
    assert!(message.contains("identity_url"), "{message}");
}

#[test]
fn ispss_with_identity_url_parses() {
    let pvwa = "url = \"https://tenant.privilegecloud.cyberark.cloud\"\n\
                auth_method = \"ISPSS\"\n\
                identity_url = \"https://abc1234.id.cyberark.cloud\"";
    let cfg = Config::parse(&config(PEM, pvwa)).unwrap();
    assert_eq!(cfg.cyberark.pvwa.auth_method, PvwaAuthMethod::Ispss);
    assert_eq!(
        cfg.cyberark.pvwa.identity_url.as_deref(),
        Some("https://abc1234.id.cyberark.cloud")
    );
    assert_eq!(PvwaAuthMethod::Ispss.path_segment(), None);
}

#[test]
fn identity_url_without_ispss_is_refused() {
    let pvwa = format!("{PVWA}\nidentity_url = \"https://abc1234.id.cyberark.cloud\"");
    let message = invalid(&config(PEM, &pvwa));
    assert!(message.contains("ISPSS"), "{message}");
}

#[test]
fn logon_methods_keep_their_documented_path_segments() {
    for (name, method, segment) in [
        ("CyberArk", PvwaAuthMethod::CyberArk, "Cyberark"),
        ("LDAP", PvwaAuthMethod::Ldap, "LDAP"),
        ("RADIUS", PvwaAuthMethod::Radius, "RADIUS"),
    ] {
        let pvwa = format!("{PVWA}\nauth_method = \"{name}\"");
        let cfg = Config::parse(&config(PEM, &pvwa)).unwrap();
        assert_eq!(cfg.cyberark.pvwa.auth_method, method);
        assert_eq!(method.path_segment(), Some(segment));
    }
}
