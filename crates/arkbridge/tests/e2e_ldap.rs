//! OIDC sign-in with groups from a real LDAP directory, against `arkbridge sim` and slapd.
//!
//! The token's groups are made wrong on purpose (the seed puts bob, not carol, in
//! change-approvers), so every decision below can only be right if the groups came from the
//! directory: carol approves `restart` through a nested LDAP group, alice runs it (rule 5 maps the
//! block's last editor from a Confluence account id to an e-mail through `users_bulk` and then to
//! LDAP groups), and once slapd is gone `policy explain` fails closed.

mod remote_support;
mod support;
mod support_ldap;

use std::path::Path;
use std::time::Instant;

use arkbridge_core::config::GroupsFrom;
use remote_support::{login_as, oidc_identity, remote_seed, run, text};
use support::*;
use support_ldap::{SERVICE_DN, SUFFIX, Slapd};

const PLANTED: &str = "Ldap-Planted-Secret-41";
/// The slapd service account's password, held by the simulated Vault only.
const SERVICE_PASSWORD: &str = "Ldap-Bind-Pw-7c1e";

/// The demo seed with an administrator password, the LDAP bind account in the Integrations safe,
/// and carol's approver group moved to bob in the identity provider's tokens.
fn seed() -> String {
    let seed = remote_seed(PLANTED)
        .replacen(
            "        secretOf: { pvwaUser: arkbridge-safe-admin }\n",
            &format!(
                "        secretOf: {{ pvwaUser: arkbridge-safe-admin }}\n\
                 \x20     - name: ldap-arkbridge\n\
                 \x20       platformId: LDAPBind\n\
                 \x20       address: localhost\n\
                 \x20       userName: arkbridge\n\
                 \x20       automaticManagementEnabled: false\n\
                 \x20       secret: \"{SERVICE_PASSWORD}\"\n"
            ),
            1,
        )
        .replacen(
            "  - name: change-approvers\n    members: [carol@example.com]\n",
            "  - name: change-approvers\n    members: [bob@example.com]\n",
            1,
        );
    assert!(
        seed.contains(SERVICE_PASSWORD) && seed.contains("members: [bob@example.com]\n  - name: change-approvers\n    members: [bob@example.com]"),
        "the demo seed's layout changed"
    );
    seed
}

/// The simulator's bridge config with OIDC sign-in and groups from `slapd`.
fn write_ldap_config(r: &Path, sim: &Sim, slapd: &Slapd) -> String {
    let mut config = sim.config.clone();
    config.identity = oidc_identity(sim, GroupsFrom::Ldap);
    let ldap = format!(
        "\n[identity.ldap]\n\
         bind_password = \"cyberark://Integrations/ldap-arkbridge\"\n\
         url = \"{url}\"\n\
         bind_dn = \"{SERVICE_DN}\"\n\
         user_base_dn = \"ou=people,{SUFFIX}\"\n\
         group_base_dn = \"ou=groups,{SUFFIX}\"\n\
         connect_timeout_secs = 5\n\
         operation_timeout_secs = 5\n\
         groups = {{ kind = \"search\", filter = \"(&(objectClass=groupOfNames)(member={{dn}}))\" }}\n",
        url = slapd.url
    );
    let path = r.join("ldap.toml");
    std::fs::write(&path, format!("{}{ldap}", config.to_toml())).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn ldap_groups_decide_approval_and_run_and_an_unreachable_directory_fails_closed() {
    let started = Instant::now();
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &seed());
    let mut slapd = Slapd::start(r, SERVICE_PASSWORD);
    let config = write_ldap_config(r, &sim, &slapd);
    let page = page_id_by_title(&sim, "Restart payments API");
    let setup = started.elapsed();

    // bob's token says change-approvers, but the directory says developers: he may not approve.
    let (code, shown) = login_as(r, &sim, &["--config", &config], "bob@example.com");
    assert_eq!(code, Some(0), "login failed: {shown}");
    let out = run(
        r,
        "approve-bob",
        &["approve", &page, "--block", "restart", "--config", &config],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("bob@example.com is not in an approver group"),
        "{err}"
    );

    // carol approves: her token says nothing of change-approvers, LDAP does (through `cab`).
    let (code, shown) = login_as(r, &sim, &["--config", &config], "carol@example.com");
    assert_eq!(code, Some(0), "login failed: {shown}");
    let out = run(
        r,
        "approve-carol",
        &["approve", &page, "--block", "restart", "--config", &config],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // alice runs it: her platform-admins grant and the last editor check both go through LDAP.
    let (code, shown) = login_as(r, &sim, &["--config", &config], "alice@example.com");
    assert_eq!(code, Some(0), "login failed: {shown}");
    let out = run(
        r,
        "explain-alice",
        &[
            "policy", "explain", "--config", &config, "--page", &page, "--block", "restart",
        ],
    );
    let shown = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{shown}{}", text(&out.stderr));
    assert!(shown.contains("is in groups [platform-admins]"), "{shown}");
    assert!(
        shown.contains("approved by carol@example.com (an approver"),
        "{shown}"
    );
    assert!(
        shown.contains("the last editor alice@example.com holds the grant too"),
        "{shown}"
    );
    let out = run(
        r,
        "run-alice",
        &[
            "run", &page, "--block", "restart", "--config", &config, "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "succeeded", "{report}");
    assert_eq!(
        report["output"],
        "Restarting payments-api with DB_PASSWORD=*****\npayments-api restarted\n"
    );

    // Without the directory nothing is decided from stale or token groups.
    slapd.stop();
    let out = run(
        r,
        "explain-no-ldap",
        &[
            "policy", "explain", "--config", &config, "--page", &page, "--block", "restart",
        ],
    );
    let err = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        err.contains("LDAP groups of alice@example.com") && err.contains("is unreachable"),
        "{err}"
    );
    assert!(!err.contains(SERVICE_PASSWORD), "{err}");
    eprintln!(
        "timings: setup {setup:?}, whole test {:?}",
        started.elapsed()
    );
}
