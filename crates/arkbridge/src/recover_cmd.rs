//! `arkbridge recover --config FILE [--json]`: only the crash recovery every command runs first
//! (`Bridge::recover`), with what it did printed. Exit 0 when nothing failed, 1 when a rotation
//! failed again (the alert was raised); a bridge that cannot start at all is an error (2).

use std::process::ExitCode;

use anyhow::Context;
use arkbridge_core::config::Config;
use arkbridge_engine::{Bridge, RecoveryReport};

use crate::cli::RecoverArgs;

pub(crate) async fn main(args: RecoverArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config)?;
    // Connecting recovers before anything else; nothing more is done here.
    let (bridge, report) = Bridge::connect(config)
        .await
        .context("cannot connect the bridge")?;
    bridge.shutdown().await;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", text(&report));
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The report as text: one line per thing done.
fn text(r: &RecoveryReport) -> String {
    if r.is_empty() && r.in_progress == 0 {
        return "nothing to recover\n".into();
    }
    let mut out = String::new();
    for run in &r.crashed_runs {
        out.push_str(&format!("run {run}: its process had died; recovered\n"));
    }
    for pgid in &r.killed_groups {
        out.push_str(&format!(
            "killed the orphaned script's process group {pgid}\n"
        ));
    }
    if r.workspaces_removed > 0 {
        out.push_str(&format!(
            "removed {} leftover private director{} (secret files included)\n",
            r.workspaces_removed,
            if r.workspaces_removed == 1 {
                "y"
            } else {
                "ies"
            }
        ));
    }
    for a in &r.rotated {
        out.push_str(&format!("rotated {a}\n"));
    }
    for a in &r.released {
        out.push_str(&format!("released {a} (nothing to rotate)\n"));
    }
    for a in &r.failed {
        out.push_str(&format!(
            "FAILED to rotate {a}: alert raised; it is tried again at the next start\n"
        ));
    }
    if r.in_progress > 0 {
        out.push_str(&format!(
            "{} run(s) or account(s) still in use by a live run: left to it\n",
            r.in_progress
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_report_says_nothing_to_recover() {
        assert_eq!(text(&RecoveryReport::default()), "nothing to recover\n");
    }

    #[test]
    fn report_lists_kills_rotations_and_failures() {
        let r = RecoveryReport {
            crashed_runs: vec!["r-1".into()],
            killed_groups: vec![4242],
            workspaces_removed: 1,
            rotated: vec!["Prod-DB/payments-db".into()],
            failed: vec!["Prod-DB/orders-db".into()],
            ..RecoveryReport::default()
        };
        let t = text(&r);
        assert!(t.contains("run r-1: its process had died"), "{t}");
        assert!(t.contains("process group 4242"), "{t}");
        assert!(t.contains("removed 1 leftover private directory"), "{t}");
        assert!(t.contains("rotated Prod-DB/payments-db\n"), "{t}");
        assert!(t.contains("FAILED to rotate Prod-DB/orders-db"), "{t}");
    }
}
