//! The audit status the daily report embeds: the latest checkpoint's facts and a full
//! verification, which reports a broken log instead of failing.

mod common;

use arkbridge_audit::audit_status;
use common::TestLog;

#[tokio::test]
async fn an_intact_log_reports_its_latest_checkpoint_and_unsigned_tail() {
    let log = TestLog::new().await;
    let empty = audit_status(&log.store, None).await.unwrap();
    assert!(empty.latest.is_none() && empty.verify.ok);
    assert_eq!(empty.verify.records, 0);

    log.append(0, 5).await;
    let stored = log.checkpoint().await;
    log.append(5, 2).await;
    let keys = [log.public.clone()];
    let status = audit_status(&log.store, Some(&keys)).await.unwrap();
    let latest = status.latest.unwrap();
    assert_eq!((latest.id, latest.tree_size), (stored.id, 5));
    assert_eq!(latest.origin, common::ORIGIN);
    assert_eq!(latest.key_id, format!("{:08x}", log.public.key_id));
    assert!(latest.time.ends_with('Z'));
    let v = status.verify;
    assert!(v.ok && v.signatures_checked, "{v:?}");
    assert_eq!((v.records, v.checkpoints, v.unsigned_records), (7, 1, 2));
    assert_eq!(v.failure, None);
    assert_eq!(
        v.root.unwrap(),
        arkbridge_audit::verify_log(&log.store, &Default::default())
            .await
            .unwrap()
            .unwrap()
            .root_base64()
    );
}

#[tokio::test]
async fn a_tampered_log_is_reported_with_the_first_bad_record_not_an_error() {
    let log = TestLog::new().await;
    log.append(0, 6).await;
    log.checkpoint().await;
    log.sql("UPDATE audit SET record = replace(record, 'bob', 'eve') WHERE seq = 2")
        .await;
    let status = audit_status(&log.store, Some(std::slice::from_ref(&log.public)))
        .await
        .unwrap();
    assert_eq!(status.latest.unwrap().tree_size, 6);
    let v = status.verify;
    assert!(!v.ok && v.root.is_none());
    let failure = v.failure.unwrap();
    assert!(failure.contains("audit record 2"), "{failure}");
}
