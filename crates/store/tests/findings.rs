//! The scanner's triage memory: a finding seen again keeps its triage state, the same secret in
//! two places is two findings, and cursors and daily reports round-trip.

use arkbridge_store::{FindingState, NewFinding, SqliteStore, Store};

fn finding(fingerprint: &str, page: &str, offset: i64) -> NewFinding {
    NewFinding {
        fingerprint: fingerprint.into(),
        location_key: format!("page:{page}"),
        page_id: Some(page.into()),
        page_version: Some(3),
        title: Some("Legacy DB notes".into()),
        author: Some("bob@example.com".into()),
        space: Some("OPS".into()),
        file_path: None,
        element_path: "table/tbody/tr[2]/td[2]".into(),
        char_offset: offset,
        char_length: 12,
        detector: "confluence-table-password".into(),
        category: "confluence-password".into(),
        severity: "high".into(),
        preview: "Hu…(12)".into(),
    }
}

#[tokio::test]
async fn a_finding_seen_again_keeps_its_triage_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("s.db")).await.unwrap();
    let (first, new) = store
        .record_finding(&finding("ab12", "1001", 40), 100)
        .await
        .unwrap();
    assert!(new);
    assert_eq!(first.state, FindingState::New);
    assert!(
        store
            .triage_finding(
                first.id,
                FindingState::Accepted,
                "carol@example.com",
                Some("test db"),
                None
            )
            .await
            .unwrap()
    );
    // The page moved the secret a little; it is the same finding, still accepted.
    let (again, new) = store
        .record_finding(&finding("ab12", "1001", 55), 200)
        .await
        .unwrap();
    assert!(!new);
    assert_eq!(again.id, first.id);
    assert_eq!(again.state, FindingState::Accepted);
    assert_eq!(again.finding.char_offset, 55);
    assert_eq!(
        (again.first_seen_micros, again.last_seen_micros),
        (100, 200)
    );
    assert_eq!(again.triage_note.as_deref(), Some("test db"));
    // The same value on another page is another finding.
    let (other, new) = store
        .record_finding(&finding("ab12", "1002", 10), 300)
        .await
        .unwrap();
    assert!(new);
    assert_ne!(other.id, first.id);
    assert_eq!(
        store.findings(Some(FindingState::New)).await.unwrap().len(),
        1
    );
    assert_eq!(store.findings(None).await.unwrap().len(), 2);
    assert!(
        store
            .triage_finding(
                other.id,
                FindingState::Vaulted,
                "alice@example.com",
                None,
                Some("cyberark://Legacy/db")
            )
            .await
            .unwrap()
    );
    let vaulted = store.finding(other.id).await.unwrap().unwrap();
    assert_eq!(vaulted.vaulted_ref.as_deref(), Some("cyberark://Legacy/db"));
    assert!(
        !store
            .triage_finding(999, FindingState::Accepted, "x", None, None)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn cursors_and_daily_reports_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("s.db")).await.unwrap();
    assert_eq!(store.scan_cursor("OPS").await.unwrap(), None);
    store.set_scan_cursor("OPS", 5).await.unwrap();
    store.set_scan_cursor("OPS", 9).await.unwrap();
    assert_eq!(store.scan_cursor("OPS").await.unwrap(), Some(9));
    let a = store.save_daily_report(1, true, "{\"a\":1}").await.unwrap();
    let b = store
        .save_daily_report(2, false, "{\"b\":2}")
        .await
        .unwrap();
    let latest = store.daily_reports(1).await.unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!((latest[0].id, latest[0].passed), (b, false));
    assert_eq!(store.daily_reports(10).await.unwrap()[1].id, a);
}
