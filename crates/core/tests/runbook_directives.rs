//! Runbook directives: the product example, defaults, and a precise error with its line for
//! every kind of malformed directive.

use std::time::Duration;

use arkbridge_core::runbook::{BindingKind, Mode, parse_duration, parse_script};

#[track_caller]
fn check_err(script: &str, line: usize, needle: &str) {
    let errs = parse_script("b", None, script).unwrap_err();
    assert_eq!(errs.0.len(), 1, "{errs}");
    let e = &errs.0[0];
    assert_eq!((e.line, e.block.as_str()), (line, "b"), "{e}");
    assert!(e.to_string().contains(needle), "{e}");
}

#[test]
fn parses_the_product_example() {
    let rb = parse_script(
        "restart",
        Some("bash"),
        "#!/usr/bin/env bash\n# arkbridge: mode write\n# arkbridge: timeout 10m\n\
         # arkbridge: secret DB_PASSWORD cyberark://Prod-DB/postgres-admin\n\
         # arkbridge: secret DB_USER cyberark://Prod-DB/postgres-admin#UserName\n\
         # arkbridge: secret-file SSH_KEY cyberark://Prod-Linux/deploy-key\n\
         # arkbridge: fallback DB_PASSWORD cyberark://Prod-DB-RO/postgres-readonly\n\
         psql -c 'select 1'\n# arkbridge: mode read\n",
    )
    .unwrap();
    assert_eq!(
        rb.mode,
        Mode::Write,
        "directives after the first command are ignored"
    );
    assert_eq!(rb.timeout, Some(Duration::from_secs(600)));
    assert_eq!(rb.bindings.len(), 3);
    assert_eq!(
        rb.bindings[0].fallback.as_ref().unwrap().to_string(),
        "cyberark://Prod-DB-RO/postgres-readonly"
    );
    assert_eq!(rb.bindings[1].reference.field.as_deref(), Some("UserName"));
    assert_eq!(rb.bindings[2].kind, BindingKind::File);
}

#[test]
fn references_may_name_safes_with_spaces() {
    let rb = parse_script(
        "b",
        None,
        "# arkbridge: secret ROOT_PW cyberark://Linux Root/host 1#UserName\n",
    )
    .unwrap();
    let r = &rb.bindings[0].reference;
    assert_eq!(
        (r.safe.as_str(), r.object.as_str(), r.field.as_deref()),
        ("Linux Root", "host 1", Some("UserName"))
    );
}

#[test]
fn defaults_to_read_without_timeout() {
    let rb = parse_script("b", None, "echo hi\n").unwrap();
    assert_eq!(
        (rb.mode, rb.timeout, rb.bindings.len()),
        (Mode::Read, None, 0)
    );
}

#[test]
fn malformed_directives_name_their_line() {
    check_err("# arkbridge: mode admin\n", 1, "unknown mode `admin`");
    check_err(
        "#!/bin/sh\n\n# arkbridge: timeout soon\n",
        3,
        "not a duration",
    );
    check_err("# arkbridge: timeout 0s\n", 1, "positive");
    check_err(
        "# arkbridge: secret db cyberark://S/o\n",
        1,
        "not a valid variable",
    );
    check_err("# arkbridge: secret PATH cyberark://S/o\n", 1, "reserved");
    check_err("# arkbridge: secret X vault://S/o\n", 1, "cyberark://");
    check_err(
        "# arkbridge: secret X cyberark://S/o\n# arkbridge: secret X cyberark://S/p\n",
        2,
        "bound twice",
    );
    check_err(
        "# arkbridge: fallback X cyberark://S/o\n",
        1,
        "comes before",
    );
    check_err("# arkbridge: secret X\n", 1, "wrong number of arguments");
    check_err(
        "# arkbridge: secret X\n",
        1,
        "write `secret VAR cyberark://SAFE/OBJECT[#FIELD]`",
    );
    check_err(
        "# arkbridge: mode read write\n",
        1,
        "wrong number of arguments",
    );
    check_err("# arkbridge: timeout\n", 1, "wrong number of arguments");
    check_err(
        "# arkbridge: sekret X cyberark://S/o\n",
        1,
        "unknown directive `sekret`",
    );
    check_err(
        "# arkbridge: mode read\n# arkbridge: mode write\n",
        2,
        "twice",
    );
    check_err("#arkbridge:\n", 1, "empty directive");
}

#[test]
fn durations() {
    assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
    assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
    assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
    assert!(parse_duration("1d").is_err());
    assert!(parse_duration("99999999999999999999h").is_err());
    assert!(parse_duration("").is_err());
}

#[test]
fn every_malformed_directive_is_reported_not_only_the_first() {
    let errs = parse_script(
        "deploy",
        None,
        "# arkbridge: mode admin\n# arkbridge: timeout 5x\n# arkbridge: secret OK cyberark://S/o\n\
         # arkbridge: secret OK cyberark://S/p\n",
    )
    .unwrap_err();
    let lines: Vec<usize> = errs.0.iter().map(|e| e.line).collect();
    assert_eq!(lines, [1, 2, 4]);
    assert!(errs.0.iter().all(|e| e.block == "deploy"));
    let msg = errs.to_string();
    assert!(
        msg.starts_with("runbook `deploy` has 3 malformed directives: line 1: unknown mode"),
        "{msg}"
    );
}

#[test]
fn near_misses_of_the_prefix_are_errors_not_comments() {
    check_err(
        "# ARKBRIDGE: mode write\n",
        1,
        "`ARKBRIDGE:` looks like a directive",
    );
    check_err("#Arkbridge:mode write\n", 1, "in lower case");
    check_err(
        "# arkbridge secret-file K cyberark://S/o\n",
        1,
        "lacks the colon: write `arkbridge: secret-file`",
    );
    // Ordinary comments that mention arkbridge stay comments.
    let rb = parse_script(
        "b",
        None,
        "# arkbridge runs this nightly\n# see arkbridge: docs\n",
    )
    .unwrap();
    assert!(rb.bindings.is_empty());
}

#[test]
fn a_value_written_where_a_reference_belongs_is_not_echoed() {
    for script in [
        "# arkbridge: secret DB_PW hunter2-prod\n",
        "# arkbridge: fallback DB_PW hunter2-prod\n",
        "# arkbridge: secret hunter2-prod\n",
    ] {
        let errs = parse_script("b", None, script).unwrap_err();
        assert!(!errs.to_string().contains("hunter2"), "{errs}");
    }
}
