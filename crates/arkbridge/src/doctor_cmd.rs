//! `arkbridge doctor --config FILE [--json]`: prints each check of the engine's
//! [`diagnose`] as pass, warn or fail with its finding and fix, or all of them as a JSON array.
//! Exit 0 when nothing failed (warnings alone included), 1 when something did; clap answers
//! usage errors with 2.

use std::process::ExitCode;

use arkbridge_engine::{CheckStatus, DoctorOptions, DoctorReport, diagnose};

use crate::cli::DoctorArgs;

pub(crate) async fn main(args: DoctorArgs, allow_inline_secrets: bool) -> anyhow::Result<ExitCode> {
    let report = diagnose(
        &args.config,
        DoctorOptions {
            allow_inline_secrets,
        },
    )
    .await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", text(&report, &args.config.display().to_string()));
    }
    Ok(if report.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The report as text: one line per check, its fix indented below, and a count.
fn text(report: &DoctorReport, config: &str) -> String {
    let width = report
        .checks
        .iter()
        .map(|c| c.check.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = format!("arkbridge doctor: {config}\n");
    for c in &report.checks {
        out.push_str(&format!(
            "{:<4}  {:<width$}  {}\n",
            c.status.as_str(),
            c.check,
            c.detail
        ));
        if !c.fix.is_empty() {
            out.push_str(&format!("{:<4}  {:<width$}  fix: {}\n", "", "", c.fix));
        }
    }
    let (pass, warn, fail) = (
        report.count(CheckStatus::Pass),
        report.count(CheckStatus::Warn),
        report.count(CheckStatus::Fail),
    );
    out.push_str(&format!(
        "{pass} passed, {warn} warning(s), {fail} failed\n"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use arkbridge_engine::Check;

    #[test]
    fn text_aligns_checks_and_puts_each_fix_under_its_finding() {
        let report = DoctorReport {
            checks: vec![
                Check {
                    check: "config".into(),
                    status: CheckStatus::Pass,
                    detail: "fine".into(),
                    fix: String::new(),
                },
                Check {
                    check: "pvwa-logon".into(),
                    status: CheckStatus::Fail,
                    detail: "refused".into(),
                    fix: "check the password".into(),
                },
            ],
        };
        let expected = [
            "arkbridge doctor: a.toml".to_string(),
            "pass  config      fine".into(),
            "fail  pvwa-logon  refused".into(),
            format!("{}fix: check the password", " ".repeat(18)),
            "1 passed, 0 warning(s), 1 failed".into(),
        ];
        assert_eq!(text(&report, "a.toml"), expected.join("\n") + "\n");
    }
}
