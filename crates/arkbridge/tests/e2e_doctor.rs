//! End to end: `arkbridge doctor` through the real binary against `arkbridge sim`. The demo
//! config passes but for its development identity; then one part is broken at a time (a wrong
//! AppID, the Vault down by fault injection, an expired client certificate, a safe that does not
//! exist, an over- and an under-privileged PVWA user from a custom seed, an inline secret) and
//! the check that owns that part fails (or warns) with its fix, while the others still run. No
//! secret is ever printed.

mod support;

use std::path::{Path, PathBuf};

use arkbridge_core::config::{Config, ConfigSecret};
use arkbridge_core::policy::Access;
use serde_json::Value;
use support::{arkbridge, rt, start_sim, test_root};

const ADMIN_PASSWORD: &str = "doctor-admin-pw-4f1c";

/// The demo seed, with a known `Administrator` password for the simulator's admin endpoint.
fn seed() -> String {
    let seed = arkbridge_sim::DEMO_SEED.replacen(
        "  - username: Administrator\n",
        &format!("  - username: Administrator\n    password: \"{ADMIN_PASSWORD}\"\n"),
        1,
    );
    assert!(
        seed.contains(ADMIN_PASSWORD),
        "the demo seed's layout changed"
    );
    seed
}

/// What `doctor --json` said, with its exit code. Asserts that no secret of the simulator
/// appears in anything it printed.
fn doctor(
    root: &Path,
    sim: &support::Sim,
    name: &str,
    config: &Path,
    extra: &[&str],
) -> (i32, Vec<Value>) {
    let mut args = vec!["doctor", "--config", config.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let out = arkbridge(root, name, &args);
    for key in ["pvwa_password", "confluence_token"] {
        let secret = sim.info[key].as_str().unwrap().as_bytes();
        for stream in [&out.stdout, &out.stderr] {
            assert!(
                !stream.windows(secret.len()).any(|w| w == secret),
                "doctor printed the {key}"
            );
        }
    }
    let checks: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor --json printed no JSON array ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    for c in &checks {
        for key in ["check", "status", "detail", "fix"] {
            assert!(c[key].is_string(), "{key} missing in {c}");
        }
    }
    (out.status.code().unwrap_or(-1), checks)
}

fn check<'a>(checks: &'a [Value], name: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {checks:#?}"))
}

fn status(checks: &[Value], name: &str) -> String {
    check(checks, name)["status"].as_str().unwrap().to_string()
}

fn not_passed(checks: &[Value]) -> Vec<String> {
    checks
        .iter()
        .filter(|c| c["status"] != "pass")
        .map(|c| {
            format!(
                "{}={}",
                c["check"].as_str().unwrap(),
                c["status"].as_str().unwrap()
            )
        })
        .collect()
}

/// Writes a changed copy of the simulator's config.
fn config_with(
    root: &Path,
    sim: &support::Sim,
    name: &str,
    change: impl FnOnce(&mut Config),
) -> PathBuf {
    let mut config = sim.config.clone();
    change(&mut config);
    let path = root.join(format!("{name}.toml"));
    std::fs::write(&path, config.to_toml()).unwrap();
    path
}

#[test]
fn the_demo_config_passes_every_check_but_its_development_identity() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &seed());
    let (code, checks) = doctor(r, &sim, "doctor-demo", &sim.config_path, &[]);
    assert_eq!(code, 0, "{checks:#?}");
    assert_eq!(not_passed(&checks), ["identity=warn"], "{checks:#?}");
    assert!(
        check(&checks, "identity")["fix"]
            .as_str()
            .unwrap()
            .contains("oidc")
    );
    // The doctor opens no store: the data folder is left as the simulator made it.
    let data: Vec<_> = std::fs::read_dir(&sim.config.data_dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        data.is_empty(),
        "the doctor wrote to the data folder: {data:?}"
    );
    let names: Vec<&str> = checks
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "config",
            "inline-secrets",
            "identity",
            "ccp",
            "client-certificate",
            "pvwa-logon",
            "policy-apply-logon",
            "confluence-auth",
            "safe:Integrations",
            "pvwa-permissions:Integrations",
            "safe:Prod-DB",
            "pvwa-permissions:Prod-DB",
            "safe:Prod-DB-RO",
            "pvwa-permissions:Prod-DB-RO",
        ]
    );
    // The OIDC variant of the same config has nothing left to warn about.
    let oidc = sim.dir.join("arkbridge-oidc.toml");
    let (code, checks) = doctor(r, &sim, "doctor-oidc", &oidc, &[]);
    assert_eq!((code, not_passed(&checks)), (0, vec![]), "{checks:#?}");
    // The text form says the same, one line per check, and still exits 0.
    let out = arkbridge(
        r,
        "doctor-text",
        &["doctor", "--config", sim.config_path.to_str().unwrap()],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("warn  identity"), "{text}");
    assert!(text.contains("pass  pvwa-logon"), "{text}");
    assert!(text.contains("13 passed, 1 warning(s), 0 failed"), "{text}");
}

#[test]
fn a_wrong_app_id_fails_the_ccp_check_and_what_needs_its_secrets_is_not_checked() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &seed());
    let config = config_with(r, &sim, "wrong-app", |c| {
        c.cyberark.ccp.app_id = "no-such-app".into()
    });
    let (code, checks) = doctor(r, &sim, "doctor-wrong-app", &config, &[]);
    assert_eq!(code, 1);
    let ccp = check(&checks, "ccp");
    assert_eq!(ccp["status"], "fail");
    assert!(
        ccp["detail"].as_str().unwrap().contains("APPAP008E"),
        "{ccp}"
    );
    assert!(
        ccp["fix"].as_str().unwrap().contains("cyberark.ccp.app_id"),
        "{ccp}"
    );
    assert_eq!(status(&checks, "pvwa-logon"), "warn");
    assert_eq!(status(&checks, "confluence-auth"), "warn");
    assert_eq!(status(&checks, "client-certificate"), "pass");
}

#[test]
fn the_vault_down_by_fault_injection_fails_the_ccp_check() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &seed());
    let pvwa = sim.info["pvwa_url"].as_str().unwrap().to_string();
    let ca = std::fs::read(sim.config.cyberark.ccp.ca_cert.as_ref().unwrap()).unwrap();
    let set = rt().block_on(async {
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .build()
            .unwrap()
            .post(format!("{pvwa}/__arkbridge_sim/faults"))
            .basic_auth("Administrator", Some(ADMIN_PASSWORD))
            .json(&serde_json::json!({ "vault_down": true }))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert!(set.is_success(), "setting the fault failed: {set}");
    let (code, checks) = doctor(r, &sim, "doctor-vault-down", &sim.config_path, &[]);
    assert_eq!(code, 1);
    let ccp = check(&checks, "ccp");
    assert_eq!(ccp["status"], "fail", "{ccp}");
    assert!(
        ccp["detail"].as_str().unwrap().contains("APPAP007E"),
        "{ccp}"
    );
    assert!(
        ccp["fix"]
            .as_str()
            .unwrap()
            .contains("cannot reach the Vault"),
        "{ccp}"
    );
    // Confluence is not behind the Vault, but its token is.
    assert_eq!(status(&checks, "confluence-auth"), "warn");
}

#[test]
fn an_expired_client_certificate_fails_with_the_renewal_as_fix() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &seed());
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "arkbridge");
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2025, 1, 1);
    let cert = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (r.join("expired.pem"), r.join("expired-key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let config = config_with(r, &sim, "expired", |c| {
        c.cyberark.ccp.client_cert = Some(cert_path.clone());
        c.cyberark.ccp.client_key = Some(key_path.clone());
    });
    let (code, checks) = doctor(r, &sim, "doctor-expired", &config, &[]);
    assert_eq!(code, 1);
    let cert_check = check(&checks, "client-certificate");
    assert_eq!(cert_check["status"], "fail", "{cert_check}");
    let detail = cert_check["detail"].as_str().unwrap();
    assert!(detail.contains("expired on 2025-01-01"), "{detail}");
    assert!(detail.contains("CN=arkbridge"), "{detail}");
    assert!(
        cert_check["fix"]
            .as_str()
            .unwrap()
            .contains("new client certificate")
    );
    // The CCP refuses the handshake too, so the bridge's credentials cannot be had.
    assert_eq!(status(&checks, "ccp"), "fail");
}

#[test]
fn a_safe_that_does_not_exist_fails_its_safe_check_only() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &seed());
    let config = config_with(r, &sim, "no-such-safe", |c| {
        c.grants[0]
            .safes
            .insert("No-Such-Safe".into(), Access::Read);
    });
    let (code, checks) = doctor(r, &sim, "doctor-no-such-safe", &config, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        not_passed(&checks),
        ["identity=warn", "safe:No-Such-Safe=fail"],
        "{checks:#?}"
    );
    let safe = check(&checks, "safe:No-Such-Safe");
    assert!(
        safe["detail"].as_str().unwrap().contains("does not exist"),
        "{safe}"
    );
    let fix = safe["fix"].as_str().unwrap();
    assert!(fix.contains("create the safe No-Such-Safe"), "{fix}");
    assert!(fix.contains("viewSafeMembers"), "{fix}");
}

#[test]
fn the_pvwa_user_holding_too_much_warns_and_too_little_fails() {
    let root = test_root();
    let r = root.path();
    let svc = "      - { name: arkbridge-svc, type: user, permissions: [listAccounts, viewSafeMembers, initiateCPMAccountManagementOperations] }\n";
    let base = seed();
    assert_eq!(
        base.matches(svc).count(),
        2,
        "the demo seed's layout changed"
    );
    // Prod-DB (after-run): initiateCPM missing, deleteAccounts extra. Prod-DB-RO: all it needs,
    // plus the power to manage the safe and read its passwords.
    let seed = base
        .replacen(
            svc,
            "      - { name: arkbridge-svc, type: user, permissions: [listAccounts, viewSafeMembers, deleteAccounts] }\n",
            1,
        )
        .replacen(
            svc,
            "      - { name: arkbridge-svc, type: user, permissions: [listAccounts, viewSafeMembers, manageSafe, retrieveAccounts] }\n",
            1,
        );
    let sim = start_sim(r, &seed);
    let (code, checks) = doctor(r, &sim, "doctor-privileges", &sim.config_path, &[]);
    assert_eq!(code, 1);
    let lacking = check(&checks, "pvwa-permissions:Prod-DB");
    assert_eq!(lacking["status"], "fail", "{lacking}");
    let detail = lacking["detail"].as_str().unwrap();
    assert!(
        detail.contains("lacks initiateCPMAccountManagementOperations"),
        "{detail}"
    );
    assert!(detail.contains("after-run"), "{detail}");
    assert!(detail.contains("also holds deleteAccounts"), "{detail}");
    assert!(
        lacking["fix"]
            .as_str()
            .unwrap()
            .contains("give arkbridge-svc initiateCPMAccountManagementOperations on Prod-DB")
    );
    let over = check(&checks, "pvwa-permissions:Prod-DB-RO");
    assert_eq!(over["status"], "warn", "{over}");
    let detail = over["detail"].as_str().unwrap();
    assert!(detail.contains("retrieveAccounts, manageSafe"), "{detail}");
    let fix = over["fix"].as_str().unwrap();
    assert!(
        fix.starts_with("remove retrieveAccounts, manageSafe"),
        "{fix}"
    );
    assert!(fix.contains("it needs only viewSafeMembers"), "{fix}");
}

#[test]
fn an_inline_secret_fails_unless_allowed_and_is_never_printed() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &seed());
    let token = sim.info["confluence_token"].as_str().unwrap().to_string();
    let config = config_with(r, &sim, "inline", |c| {
        c.confluence.token = ConfigSecret::Inline(token)
    });
    let (code, checks) = doctor(r, &sim, "doctor-inline", &config, &[]);
    assert_eq!(code, 1);
    let inline = check(&checks, "inline-secrets");
    assert_eq!(inline["status"], "fail", "{inline}");
    assert!(
        inline["detail"]
            .as_str()
            .unwrap()
            .contains("confluence.token"),
        "{inline}"
    );
    assert!(
        inline["fix"].as_str().unwrap().contains("cyberark://"),
        "{inline}"
    );
    // The inline token itself is good: Confluence is still checked with it.
    assert_eq!(status(&checks, "confluence-auth"), "pass");
    let (code, checks) = doctor(
        r,
        &sim,
        "doctor-inline-allowed",
        &config,
        &["--allow-inline-secrets"],
    );
    assert_eq!(code, 0, "{checks:#?}");
    assert_eq!(
        not_passed(&checks),
        ["inline-secrets=warn", "identity=warn"]
    );
}

#[test]
fn a_missing_config_is_one_failed_check_and_usage_errors_exit_2() {
    let root = test_root();
    let r = root.path();
    let out = arkbridge(
        r,
        "doctor-missing",
        &[
            "doctor",
            "--config",
            "/nonexistent/arkbridge.toml",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let checks: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(checks.len(), 1);
    assert_eq!(
        (checks[0]["check"].as_str(), checks[0]["status"].as_str()),
        (Some("config"), Some("fail"))
    );
    let out = arkbridge(r, "doctor-usage", &["doctor", "--jsn"]);
    assert_eq!(out.status.code(), Some(2));
}
