//! Tests of the record schema, its canonical form and the version-1 migration.

use serde_json::json;

use super::*;

fn event() -> AuditEvent {
    let mut actor = Actor::user(
        "https://id.example.com",
        "alice@example.com",
        AuthMethod::Oidc,
    );
    actor.name = Some("Alice Liddell".into());
    actor.session_id = Some("sess-1".into());
    AuditEvent::new(Action::CredentialIssued)
        .at(1_764_504_000_123_456)
        .by(actor)
        .from_address("10.0.0.7")
        .target(Target::account("Prod-DB", "payments-db").with_account_id(Some("12_3")))
        .reason("page 1001 v7 block restart")
        .run("run-1")
        .details(json!({"lease": 4, "via": "ccp"}))
}

#[test]
fn canonical_form_is_the_documented_one() {
    let r = encode(42, event());
    assert_eq!(
        r.canonical,
        r#"{"action":"credential.issued","actor":{"auth_method":"oidc","issuer":"https://id.example.com","name":"Alice Liddell","session_id":"sess-1","subject":"alice@example.com"},"details":{"lease":4,"via":"ccp"},"outcome":"success","reason":"page 1001 v7 block restart","run_id":"run-1","seq":42,"source":"10.0.0.7","target":{"account_id":"12_3","object":"payments-db","safe":"Prod-DB"},"time_us":1764504000123456,"v":2}"#
    );
    assert!(is_canonical(&r.canonical));
    // SHA-256(0x00 || text), computed independently (Python hashlib).
    assert_eq!(
        hex::encode(r.leaf_hash()),
        "b8dd3286073d18f3de8521089f319894dd9ede27a607b2028614d39d10a96ba2"
    );
}

#[test]
fn records_round_trip_through_their_text() {
    let r = encode(7, event());
    let back = decode(&r.canonical).unwrap();
    assert_eq!(back, r);
    assert_eq!(back.leaf_index(), 6);
    let minimal = encode(1, AuditEvent::new(Action::ConfigLoaded).at(5));
    assert_eq!(
        minimal.canonical,
        r#"{"action":"config.loaded","actor":{"auth_method":"system","issuer":"arkbridge","subject":"arkbridge"},"outcome":"success","seq":1,"time_us":5,"v":2}"#
    );
    assert_eq!(decode(&minimal.canonical).unwrap(), minimal);
}

#[test]
fn absent_and_empty_fields_hash_differently() {
    let a = encode(1, event());
    let mut e = event();
    e.reason = Some(String::new());
    let b = encode(1, e);
    let mut e = event();
    e.reason = None;
    let c = encode(1, e);
    assert_ne!(a.leaf_hash(), b.leaf_hash());
    assert_ne!(b.leaf_hash(), c.leaf_hash());
}

#[test]
fn the_same_event_hashes_the_same_whatever_the_order_of_its_details() {
    let a = encode(
        3,
        event().details(json!({"b": [1, 2.5], "a": {"y": 1, "x": null}})),
    );
    let b = encode(
        3,
        event().details(json!({"a": {"x": null, "y": 1}, "b": [1, 2.5]})),
    );
    assert_eq!(a.canonical, b.canonical);
}

#[test]
fn malformed_records_are_refused_with_a_reason() {
    assert!(matches!(decode("{"), Err(RecordError::Schema(_))));
    let r = encode(1, event());
    let unknown_action = r
        .canonical
        .replace("credential.issued", "credential.stolen");
    assert!(
        matches!(decode(&unknown_action), Err(RecordError::Schema(m)) if m.contains("credential.stolen"))
    );
    let extra = r.canonical.replacen("{", r#"{"zz":1,"#, 1);
    assert!(matches!(decode(&extra), Err(RecordError::Schema(_))));
    let v3 = r.canonical.replace(r#""v":2"#, r#""v":3"#);
    assert_eq!(decode(&v3), Err(RecordError::Version(3)));
    let details = r
        .canonical
        .replace(r#""details":{"lease":4,"via":"ccp"}"#, r#""details":[1]"#);
    assert_eq!(decode(&details), Err(RecordError::Details));
    assert!(!is_canonical(&r.canonical.replace(",", ", ")));
}

#[test]
fn non_object_details_are_wrapped() {
    let r = encode(1, AuditEvent::new(Action::ApiCall).details(json!([1, 2])));
    assert_eq!(r.event.details, json!({"value": [1, 2]}));
    assert!(r.canonical.contains(r#""details":{"value":[1,2]}"#));
}

#[test]
fn every_action_name_parses_back() {
    assert_eq!(Action::ALL.len(), 20);
    for a in Action::ALL {
        assert_eq!(a.as_str().parse::<Action>().unwrap(), *a);
        assert_eq!(serde_json::to_value(a).unwrap(), json!(a.as_str()));
    }
    assert!("run.stolen".parse::<Action>().is_err());
}

fn v1(seq: i64, prev: &str, action: &str, actor: &str, target: Option<&str>) -> LegacyV1 {
    let mut r = LegacyV1 {
        ts_micros: 1_700_000_000_000_000 + seq,
        actor: actor.into(),
        action: action.into(),
        run_id: Some("run-9".into()),
        target: target.map(str::to_string),
        details: json!({"b": 1, "a": [seq], "error": "boom"}),
        prev_hash: prev.into(),
        hash: String::new(),
    };
    r.hash = r.compute_hash(seq);
    r
}

#[test]
fn version_1_hash_is_unchanged() {
    // The value version 1 computed for this record (kept so that old chains still verify).
    let r = LegacyV1 {
        ts_micros: 1_700_000_000_000_000,
        actor: "alice@example.com".into(),
        action: "run.requested".into(),
        run_id: Some("run-0".into()),
        target: Some("page:1".into()),
        details: json!({"b": 1, "a": [0]}),
        prev_hash: legacy::GENESIS.into(),
        hash: String::new(),
    };
    assert_eq!(
        r.compute_hash(1),
        "f2fb236cd7da76deba39e2475731779cd40e6f3f3ad45ec34acb290e7322c401"
    );
}

#[test]
fn version_1_records_migrate_with_their_chain_intact() {
    let a = v1(
        1,
        legacy::GENESIS,
        "run.denied",
        "bob@example.com",
        Some("page:1001"),
    );
    let b = v1(
        2,
        &a.hash,
        "secret.retrieved",
        "alice@example.com",
        Some("Prod-DB/payments-db"),
    );
    let c = v1(
        3,
        &b.hash,
        "bridge.credential_fetched",
        "arkbridge",
        Some("cyberark://Ops/pvwa#password"),
    );
    let mut chain = LegacyChain::default();
    for (seq, r) in [(1, &a), (2, &b), (3, &c)] {
        chain.push(seq, r).unwrap();
    }
    let m = a.clone().migrate(1);
    assert_eq!(m.event.action, Action::PolicyDecided);
    assert_eq!(m.event.outcome, Outcome::Denied);
    assert_eq!(m.event.target.page_id.as_deref(), Some("1001"));
    assert_eq!(m.event.actor.auth_method, AuthMethod::CliLocal);
    assert_eq!(m.event.reason.as_deref(), Some("boom"));
    let back = decode(&m.canonical).unwrap();
    assert_eq!(back.legacy.as_ref(), Some(&a));
    assert_eq!(back.legacy.unwrap().to_event(), back.event);
    let m = c.clone().migrate(3);
    assert_eq!(m.event.actor, {
        let mut s = Actor::system();
        s.session_id = Some("run-9".into());
        s
    });
    assert_eq!(m.event.target, Target::account("Ops", "pvwa"));
    let m = b.migrate(2);
    assert_eq!(m.event.action, Action::CredentialIssued);
    assert_eq!(m.event.target, Target::account("Prod-DB", "payments-db"));
}

#[test]
fn a_changed_version_1_record_breaks_its_chain_at_that_record() {
    let a = v1(
        1,
        legacy::GENESIS,
        "run.requested",
        "alice@example.com",
        None,
    );
    let mut b = v1(2, &a.hash, "run.allowed", "alice@example.com", None);
    let c = v1(3, &b.hash, "run.finished", "alice@example.com", None);
    b.actor.push('x');
    let mut chain = LegacyChain::default();
    chain.push(1, &a).unwrap();
    assert_eq!(chain.push(2, &b).unwrap_err().seq, 2);
    let mut chain = LegacyChain::default();
    chain.push(1, &a).unwrap();
    assert_eq!(chain.push(3, &c).unwrap_err().seq, 3);
}

#[test]
fn the_light_check_accepts_and_refuses_exactly_what_decode_does() {
    let good = encode(42, event());
    let legacy = v1(
        1,
        legacy::GENESIS,
        "run.denied",
        "bob@example.com",
        Some("page:1"),
    )
    .migrate(1);
    let minimal = encode(1, AuditEvent::new(Action::ConfigLoaded));
    let mut cases = vec![
        good.canonical.clone(),
        legacy.canonical.clone(),
        minimal.canonical.clone(),
        "{".into(),
        "[]".into(),
        good.canonical
            .replace("credential.issued", "credential.stolen"),
        good.canonical.replace("\"oidc\"", "\"kerberos\""),
        good.canonical.replacen('{', r#"{"zz":1,"#, 1),
        good.canonical
            .replace(r#""safe":"Prod-DB""#, r#""safe":"Prod-DB","vault":1"#),
        good.canonical.replace(r#""v":2"#, r#""v":3"#),
        good.canonical
            .replace(r#""details":{"lease":4,"via":"ccp"}"#, r#""details":[1]"#),
        good.canonical
            .replace(r#""details":{"lease":4,"via":"ccp"}"#, r#""details":"x""#),
        good.canonical.replace(r#""seq":42"#, r#""seq":"42""#),
        good.canonical.replace(r#","time_us":1764504000123456"#, ""),
        good.canonical.replace(
            r#""subject":"alice@example.com""#,
            r#""subject":"al\u0069ce""#,
        ),
    ];
    cases.push(
        good.canonical
            .replace(r#""page_version""#, r#""page_versions""#),
    );
    // The same verdict (the messages name different structs).
    let kind = |r: Result<validate::Checked, RecordError>| {
        r.map_err(|e| match e {
            RecordError::Schema(_) => RecordError::Schema(String::new()),
            other => other,
        })
    };
    for text in &cases {
        let full = decode(text).map(|r| validate::Checked {
            seq: r.seq,
            legacy: r.legacy.is_some(),
        });
        assert_eq!(kind(validate::check(text)), kind(full), "{text}");
    }
    assert!(validate::check(&legacy.canonical).unwrap().legacy);
}
