//! Tests of `arkbridge doctor`'s checks: the config-only checks on their own, the service checks
//! against the simulators in process (the binary's end-to-end tests are in
//! `crates/arkbridge/tests/e2e_doctor.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

fn status(report: &DoctorReport, name: &str) -> CheckStatus {
    report
        .get(name)
        .unwrap_or_else(|| panic!("no check {name} in {report:#?}"))
        .status
}

fn sample(dir: &Path, extra_top: &str, token: &str) -> PathBuf {
    let path = dir.join("arkbridge.toml");
    std::fs::write(
        &path,
        format!(
            r#"{extra_top}
data_dir = "data"
[identity]
provider = "local-trusted"
[cyberark.ccp]
url = "https://127.0.0.1:1"
app_id = "arkbridge"
[cyberark.pvwa]
url = "https://127.0.0.1:2"
username = "arkbridge-svc"
password = "cyberark://Integrations/pvwa"
[confluence]
url = "https://127.0.0.1:3"
user = "arkbridge@example.com"
token = "{token}"
"#
        ),
    )
    .unwrap();
    path
}

#[test]
fn a_missing_or_broken_config_is_one_failed_check() {
    let dir = tempfile::tempdir().unwrap();
    let mut report = DoctorReport::default();
    assert!(load(&dir.path().join("nope.toml"), &mut report).is_none());
    assert_eq!(report.checks.len(), 1);
    assert_eq!(status(&report, "config"), CheckStatus::Fail);
    assert!(report.checks[0].fix.contains("--config"));

    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "data_dir = \"d\"\ncolour = \"s3cr3t-blue\"\n").unwrap();
    let mut report = DoctorReport::default();
    assert!(load(&path, &mut report).is_none());
    let check = &report.checks[0];
    assert_eq!(check.status, CheckStatus::Fail);
    assert!(!check.detail.contains("s3cr3t"), "{}", check.detail);
}

#[test]
fn an_inline_secret_fails_unless_allowed_and_never_shows_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path(), "", "hunter2-inline");
    let mut report = DoctorReport::default();
    let config = load(&path, &mut report).expect("loaded despite the inline secret");
    assert_eq!(status(&report, "config"), CheckStatus::Pass);
    let refused = inline_secrets(&config, DoctorOptions::default());
    assert_eq!(refused.status, CheckStatus::Fail);
    assert!(
        refused.detail.contains("confluence.token"),
        "{}",
        refused.detail
    );
    assert!(refused.fix.contains("cyberark://"), "{}", refused.fix);
    let flagged = inline_secrets(
        &config,
        DoctorOptions {
            allow_inline_secrets: true,
        },
    );
    assert_eq!(flagged.status, CheckStatus::Warn);
    for c in [&refused, &flagged] {
        assert!(!format!("{c:?}").contains("hunter2"), "{c:?}");
    }
    let path = sample(dir.path(), "allow_inline_secrets = true", "hunter2-inline");
    let config = load(&path, &mut DoctorReport::default()).unwrap();
    assert_eq!(
        inline_secrets(&config, DoctorOptions::default()).status,
        CheckStatus::Warn
    );
    let path = sample(dir.path(), "", "cyberark://Integrations/confluence");
    let config = load(&path, &mut DoctorReport::default()).unwrap();
    assert_eq!(
        inline_secrets(&config, DoctorOptions::default()).status,
        CheckStatus::Pass
    );
}

#[test]
fn local_trusted_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample(dir.path(), "", "cyberark://Integrations/confluence");
    let config = load(&path, &mut DoctorReport::default()).unwrap();
    let check = identity(&config);
    assert_eq!(check.status, CheckStatus::Warn);
    assert!(check.fix.contains("oidc"), "{}", check.fix);
}

#[test]
fn the_report_serialises_as_an_array_of_checks() {
    let report = DoctorReport {
        checks: vec![
            Check::fail("ccp", "down", "start it"),
            Check::pass("config", "fine"),
        ],
    };
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json,
        serde_json::json!([
            {"check": "ccp", "status": "fail", "detail": "down", "fix": "start it"},
            {"check": "config", "status": "pass", "detail": "fine", "fix": ""},
        ])
    );
    assert!(report.failed());
    assert_eq!(report.count(CheckStatus::Pass), 1);
}

async fn sim(dir: &Path, seed: Option<&str>) -> arkbridge_sim::SimHandle {
    let seed = seed.map(|text| {
        let path = dir.join("seed.yaml");
        std::fs::write(&path, text).unwrap();
        path
    });
    arkbridge_sim::start(arkbridge_sim::SimOptions {
        dir: dir.join("sim"),
        seed,
        cpm_delay: Duration::from_millis(20),
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_demo_config_passes_but_for_its_development_identity() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim(dir.path(), None).await;
    let report = diagnose(
        &dir.path().join("sim/arkbridge.toml"),
        DoctorOptions::default(),
    )
    .await;
    let not_passed: Vec<&Check> = report
        .checks
        .iter()
        .filter(|c| c.status != CheckStatus::Pass)
        .collect();
    assert_eq!(not_passed.len(), 1, "{not_passed:#?}");
    assert_eq!(not_passed[0].check, "identity");
    for name in [
        "config",
        "ccp",
        "client-certificate",
        "pvwa-logon",
        "policy-apply-logon",
        "confluence-auth",
        "safe:Integrations",
        "safe:Prod-DB",
        "safe:Prod-DB-RO",
        "pvwa-permissions:Prod-DB",
        "pvwa-permissions:Prod-DB-RO",
        "pvwa-permissions:Integrations",
    ] {
        assert_eq!(
            status(&report, name),
            CheckStatus::Pass,
            "{name}: {report:#?}"
        );
    }
    assert!(
        report
            .get("pvwa-logon")
            .unwrap()
            .detail
            .ends_with("and off again"),
        "{report:#?}"
    );
    let text = format!("{report:?}");
    for secret in [&sim.info().pvwa_password, &sim.info().confluence_token] {
        assert!(!text.contains(secret.as_str()), "a secret in the report");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_pvwa_password_still_lets_confluence_be_checked() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim(dir.path(), None).await;
    let path = dir.path().join("sim/arkbridge.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace(
        "password = \"cyberark://Integrations/pvwa-arkbridge-svc\"",
        "password = \"wrong-hunter2\"",
    );
    let text = if text.contains("allow_inline_secrets = false") {
        text.replace(
            "allow_inline_secrets = false",
            "allow_inline_secrets = true",
        )
    } else {
        format!("allow_inline_secrets = true\n{text}")
    };
    std::fs::write(&path, text).unwrap();
    let report = diagnose(&path, DoctorOptions::default()).await;
    assert_eq!(status(&report, "inline-secrets"), CheckStatus::Warn);
    assert_eq!(status(&report, "pvwa-logon"), CheckStatus::Fail);
    let logon = report.get("pvwa-logon").unwrap();
    assert!(logon.fix.contains("arkbridge-svc"), "{logon:?}");
    assert!(!format!("{report:?}").contains("hunter2"));
    assert_eq!(status(&report, "confluence-auth"), CheckStatus::Pass);
    assert_eq!(status(&report, "ccp"), CheckStatus::Pass);
    // Without a PVWA session, the safe the CCP read from is still proven; the others are not.
    assert_eq!(status(&report, "safe:Integrations"), CheckStatus::Pass);
    assert_eq!(status(&report, "safe:Prod-DB"), CheckStatus::Warn);
    assert!(report.get("pvwa-permissions:Prod-DB").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn vault_down_fails_the_ccp_and_skips_what_needs_its_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim(dir.path(), None).await;
    sim.set_vault_down(true);
    let report = diagnose(
        &dir.path().join("sim/arkbridge.toml"),
        DoctorOptions::default(),
    )
    .await;
    let ccp = report.get("ccp").unwrap();
    assert_eq!(ccp.status, CheckStatus::Fail, "{ccp:?}");
    assert!(ccp.detail.contains("APPAP007E"), "{ccp:?}");
    assert!(ccp.fix.contains("cannot reach the Vault"), "{ccp:?}");
    assert_eq!(status(&report, "client-certificate"), CheckStatus::Pass);
    assert_eq!(status(&report, "pvwa-logon"), CheckStatus::Warn);
    assert_eq!(status(&report, "confluence-auth"), CheckStatus::Warn);
    assert!(report.failed());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_second_ccp_is_checked_and_stands_in_for_an_unreachable_first() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim(dir.path(), None).await;
    let mut config = Config::load(&dir.path().join("sim/arkbridge.toml")).unwrap();
    config.cyberark.fallback_ccp = Some(config.cyberark.ccp.clone());
    // Nothing listens on port 1 of the loopback address: the first CCP is unreachable.
    config.cyberark.ccp.url = "https://127.0.0.1:1".into();
    let path = dir.path().join("two-ccps.toml");
    std::fs::write(&path, config.to_toml()).unwrap();
    let report = diagnose(&path, DoctorOptions::default()).await;
    let ccp = report.get("ccp").unwrap();
    assert_eq!(ccp.status, CheckStatus::Fail, "{ccp:?}");
    assert!(ccp.fix.contains("cyberark.ccp.url"), "{ccp:?}");
    assert_eq!(status(&report, "fallback-ccp"), CheckStatus::Pass);
    assert_eq!(
        status(&report, "fallback-client-certificate"),
        CheckStatus::Pass
    );
    // The second CCP's values let the PVWA and Confluence checks run, as at start.
    assert_eq!(status(&report, "pvwa-logon"), CheckStatus::Pass);
    assert_eq!(status(&report, "confluence-auth"), CheckStatus::Pass);
    assert_eq!(status(&report, "safe:Prod-DB"), CheckStatus::Pass);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_rotating_safe_the_pvwa_user_cannot_see_fails_even_when_the_ccp_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim(dir.path(), None).await;
    let mut config = Config::load(&dir.path().join("sim/arkbridge.toml")).unwrap();
    config.safes.insert(
        "Integrations".into(),
        arkbridge_core::config::SafePolicy {
            rotation: arkbridge_core::config::Rotation::AfterRun,
        },
    );
    let path = dir.path().join("rotating-integrations.toml");
    std::fs::write(&path, config.to_toml()).unwrap();
    let report = diagnose(&path, DoctorOptions::default()).await;
    let safe = report.get("safe:Integrations").unwrap();
    assert_eq!(safe.status, CheckStatus::Fail, "{safe:?}");
    assert!(
        safe.detail.contains("exists (the CCP read from it)"),
        "{safe:?}"
    );
    assert_eq!(
        safe.fix,
        "make arkbridge-svc a member of Integrations with listAccounts, \
         initiateCPMAccountManagementOperations"
    );
    // The safe check said what the user needs; no second failure for the same cause.
    assert!(report.get("pvwa-permissions:Integrations").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_apply_as_password_fails_only_its_own_logon() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim(dir.path(), None).await;
    let mut config = Config::load(&dir.path().join("sim/arkbridge.toml")).unwrap();
    let apply_as = config
        .policy
        .apply_as
        .as_mut()
        .expect("the demo sets apply_as");
    apply_as.password = ConfigSecret::Inline("wrong-hunter2".into());
    config.allow_inline_secrets = true;
    let path = dir.path().join("wrong-apply-as.toml");
    std::fs::write(&path, config.to_toml()).unwrap();
    let report = diagnose(&path, DoctorOptions::default()).await;
    let logon = report.get("policy-apply-logon").unwrap();
    assert_eq!(logon.status, CheckStatus::Fail, "{logon:?}");
    assert!(logon.detail.contains("arkbridge-safe-admin"), "{logon:?}");
    assert!(logon.fix.contains("policy.apply_as.username"), "{logon:?}");
    assert!(
        logon.fix.contains("given inline in the config"),
        "{logon:?}"
    );
    assert_eq!(status(&report, "pvwa-logon"), CheckStatus::Pass);
    assert!(!format!("{report:?}").contains("hunter2"));
    sim.shutdown().await;
}
