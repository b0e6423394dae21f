//! Unit tests of the safe model: lenient parsing, body building and local validation, and
//! the typed `SFWS` refusals.

use super::*;
use crate::error::classify;

#[test]
fn parses_a_safe_with_microsecond_modification_and_string_creation_time() {
    let s: Safe = serde_json::from_str(
        r#"{"safeUrlId":"My%20Safe","safeName":"My Safe","safeNumber":98,"description":"d",
            "location":"\\","creator":{"id":"2","name":"Administrator"},"olacEnabled":false,
            "managingCPM":"PasswordManager","numberOfVersionsRetention":null,
            "numberOfDaysRetention":7,"autoPurgeEnabled":false,"creationTime":"1604919933",
            "lastModificationTime":1604919933475657,"isExpiredMember":false}"#,
    )
    .unwrap();
    assert_eq!(s.safe_url_id, "My%20Safe");
    assert_eq!(s.safe_name, "My Safe");
    assert_eq!(s.safe_number.as_deref(), Some("98"));
    assert_eq!(s.creator.as_deref(), Some("Administrator"));
    assert_eq!(s.managing_cpm.as_deref(), Some("PasswordManager"));
    assert_eq!(s.number_of_versions_retention, None);
    assert_eq!(s.number_of_days_retention, Some(7));
    assert_eq!(s.creation_time, Some(1_604_919_933));
    assert_eq!(s.last_modification_time, Some(1_604_919_933));
}

#[test]
fn pages_parse_with_and_without_next_link() {
    let p: Page<Safe> = serde_json::from_str(
        r#"{"value":[{"safeName":"A"}],"count":1769,"nextLink":"api/safes?offset=25&limit=25&useCache=False"}"#,
    )
    .unwrap();
    assert_eq!(p.value.len(), 1);
    assert!(p.next_link.unwrap().starts_with("api/safes?offset=25"));
    let p: Page<Safe> = serde_json::from_str(r#"{"value":[],"count":0,"nextLink":""}"#).unwrap();
    assert!(p.value.is_empty() && p.next_link.is_none());
    assert!(serde_json::from_str::<Page<Safe>>("[]").is_err());
    assert!(serde_json::from_str::<Page<Safe>>(r#"{"value":5}"#).is_err());
}

#[test]
fn safe_names_with_forbidden_characters_are_refused() {
    for c in SAFE_NAME_FORBIDDEN {
        let name = format!("Prod{c}DB");
        let err = check_safe_name(&name).unwrap_err();
        assert!(
            matches!(
                err,
                CyberArkError::Invalid {
                    field: "safeName",
                    ..
                }
            ),
            "{name}: {err:?}"
        );
    }
    assert!(check_safe_name("").is_err());
    assert!(check_safe_name("   ").is_err());
    assert!(check_safe_name("a\tb").is_err());
    assert!(check_safe_name("Prod-DB_2 (eu)").is_ok());
}

#[test]
fn safe_names_longer_than_28_characters_are_refused() {
    assert!(check_safe_name(&"a".repeat(28)).is_ok());
    let err = check_safe_name(&"a".repeat(29)).unwrap_err();
    assert!(err.to_string().contains("28"), "{err}");
    // Characters, not bytes.
    assert!(check_safe_name(&"ä".repeat(28)).is_ok());
}

#[test]
fn settings_body_holds_only_the_fields_set() {
    let s = SafeSettings {
        description: Some("db".into()),
        managing_cpm: Some("PasswordManager".into()),
        retention: Some(Retention::Versions(5)),
        olac_enabled: Some(false),
        ..SafeSettings::default()
    };
    assert_eq!(
        s.to_body(Some(" New-Safe ")).unwrap(),
        json!({"safeName":"New-Safe","description":"db","managingCPM":"PasswordManager",
               "numberOfVersionsRetention":5,"olacEnabled":false})
    );
    let days = SafeSettings {
        retention: Some(Retention::Days(0)),
        auto_purge_enabled: Some(true),
        ..SafeSettings::default()
    };
    assert_eq!(
        days.to_body(None).unwrap(),
        json!({"numberOfDaysRetention":0,"autoPurgeEnabled":true})
    );
}

#[test]
fn settings_out_of_range_are_refused() {
    for r in [
        Retention::Versions(0),
        Retention::Versions(1000),
        Retention::Days(3651),
    ] {
        let s = SafeSettings {
            retention: Some(r),
            ..SafeSettings::default()
        };
        assert!(
            matches!(s.to_body(None), Err(CyberArkError::Invalid { .. })),
            "{r:?}"
        );
    }
    let s = SafeSettings {
        description: Some("x".repeat(101)),
        ..SafeSettings::default()
    };
    assert!(s.to_body(None).is_err());
}

#[test]
fn sfws_codes_become_typed_refusals() {
    for (status, code, kind) in [
        (409, "SFWS0002", SafeRefusal::AlreadyExists),
        (404, "SFWS0007", SafeRefusal::NotFound),
        (409, "SFWS0012", SafeRefusal::AlreadyMember),
        (400, "SFWS0013", SafeRefusal::OwnMembership),
    ] {
        let body = format!(r#"{{"ErrorCode":"{code}","ErrorMessage":"m"}}"#);
        let err = classify("pvwa", status, body.as_bytes());
        assert!(
            matches!(&err, CyberArkError::Refused { code: c, .. } if c == code),
            "{err:?}"
        );
        assert_eq!(err.safe_refusal(), Some(kind));
        assert_eq!(kind.code(), code);
    }
    let other = classify("pvwa", 403, br#"{"ErrorCode":"PASWS041E"}"#);
    assert_eq!(other.safe_refusal(), None);
}
