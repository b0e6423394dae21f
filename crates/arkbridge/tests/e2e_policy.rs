//! Policy from the command line, against `arkbridge sim`: `policy explain` gives every rule and
//! its reason, and a change to a safe's members in CyberArk shows as drift in `policy plan`
//! (and as a denial), which `policy apply` then repairs.

mod support;

use std::process::Output;

use arkbridge_cyberark::{MemberType, Permissions, PvwaClient};
use secrecy::SecretString;
use support::*;

const PLANTED: &str = "Policy-Planted-Secret-19";
const ADMIN_PASSWORD: &str = "Adm1n-policy-pw";

fn seed() -> String {
    seed_with(PLANTED, "").replacen(
        "  - username: Administrator\n",
        &format!("  - username: Administrator\n    password: {ADMIN_PASSWORD}\n"),
        1,
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn drift_in_safe_members_is_planned_denied_and_repaired() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &seed());
    let config = sim.config_path.to_str().unwrap();
    let rt = rt();
    let page = rt
        .block_on(confluence(&sim).find_pages("Restart payments API", None))
        .unwrap()
        .remove(0);
    approve(r, &sim, &page.id, "restart");
    let explain = |name: &str| {
        arkbridge(
            r,
            name,
            &[
                "policy",
                "explain",
                "--config",
                config,
                "--user",
                "alice@example.com",
                "--page",
                &page.id,
                "--block",
                "restart",
            ],
        )
    };

    // In step: no drift, and alice may run the block, every rule explained.
    let out = arkbridge(r, "plan-clean", &["policy", "plan", "--config", config]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = explain("explain-clean");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    for rule in [
        "verified",
        "view-page",
        "grant",
        "safe-membership",
        "approval",
    ] {
        assert!(text.contains(rule), "{rule} missing from:\n{text}");
    }
    assert!(text.contains("approved by carol@example.com"), "{text}");

    // A CyberArk administrator narrows platform-admins on Prod-DB and removes developers from
    // Prod-DB-RO, outside arkbridge.
    let mut pvwa_cfg = sim.config.cyberark.pvwa.clone();
    pvwa_cfg.username = "Administrator".into();
    rt.block_on(async {
        let admin = PvwaClient::logon(&pvwa_cfg, &SecretString::from(ADMIN_PASSWORD))
            .await
            .unwrap();
        admin
            .update_safe_member(
                "Prod-DB",
                "platform-admins",
                &Permissions::read_only(),
                None,
            )
            .await
            .unwrap();
        admin
            .remove_safe_member("Prod-DB-RO", "developers")
            .await
            .unwrap();
        admin.logoff().await.unwrap();
    });

    // The drift shows in the plan (exit 2) and in alice's explanation (denied, exit 3).
    let out = arkbridge(r, "plan-drift", &["policy", "plan", "--config", config]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "~ Prod-DB: platform-admins: grant [initiateCPMAccountManagementOperations], revoke []"
        ),
        "{text}"
    );
    assert!(
        text.contains("+ Prod-DB-RO: add group developers"),
        "{text}"
    );
    let out = explain("explain-drift");
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("none of the user's groups is a member of safe Prod-DB"),
        "{}",
        stdout(&out)
    );

    // apply --yes repairs it; the plan is clean again and alice may run the block.
    let out = arkbridge(
        r,
        "apply",
        &[
            "policy",
            "apply",
            "--config",
            config,
            "--yes",
            "--as",
            "carol@example.com",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).contains("applied 2 change(s)"),
        "{}",
        stdout(&out)
    );
    let out = arkbridge(r, "plan-after", &["policy", "plan", "--config", config]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(explain("explain-after").status.code(), Some(0));

    // The re-added group is a directory group with exactly the mapped permissions.
    rt.block_on(async {
        let admin = PvwaClient::logon(&pvwa_cfg, &SecretString::from(ADMIN_PASSWORD))
            .await
            .unwrap();
        let groups = admin
            .list_safe_members("Prod-DB-RO", Some(MemberType::Group))
            .await
            .unwrap();
        let dev = groups
            .iter()
            .find(|m| m.member_name == "developers")
            .expect("developers is a member again");
        assert_eq!(dev.permissions, Permissions::read_only());
        admin.logoff().await.unwrap();
    });
}

#[test]
fn apply_without_yes_and_without_a_terminal_changes_nothing() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &seed());
    let config = sim.config_path.to_str().unwrap();
    let mut pvwa_cfg = sim.config.cyberark.pvwa.clone();
    pvwa_cfg.username = "Administrator".into();
    rt().block_on(async {
        let admin = PvwaClient::logon(&pvwa_cfg, &SecretString::from(ADMIN_PASSWORD))
            .await
            .unwrap();
        admin
            .remove_safe_member("Prod-DB-RO", "developers")
            .await
            .unwrap();
    });
    let out = arkbridge(r, "apply-no-tty", &["policy", "apply", "--config", config]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pass --yes"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = arkbridge(r, "plan-still", &["policy", "plan", "--config", config]);
    assert_eq!(out.status.code(), Some(2));
}
