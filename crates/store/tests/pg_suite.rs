//! The shared store behaviour (`support_pg/behaviour.rs`) run against both backends: every
//! check once on a fresh SQLite file and once on a fresh PostgreSQL database.

mod support_pg;

use support_pg::PgCluster;
use support_pg::behaviour;

macro_rules! on_both_backends {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $check() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = arkbridge_store::SqliteStore::open(&dir.path().join("s.db"))
                        .await
                        .unwrap();
                    super::behaviour::$check(&store).await;
                    store.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let cluster = super::PgCluster::start();
                    let options = cluster.options(stringify!($check)).await;
                    let store = arkbridge_store::PgStore::connect(&options).await.unwrap();
                    super::behaviour::$check(&store).await;
                    store.close().await;
                }
            )*
        }
    };
}

on_both_backends!(
    runs_round_trip_and_a_missing_run_is_not_found,
    leases_move_through_their_states_and_open_ones_are_listed,
    run_guards_keep_the_process_group_and_leases_take_the_deadline,
    rotation_failures_since_lists_only_failed_leases_changed_after_the_time,
    approvals_are_stored_with_their_audit_record,
    managed_members_compare_names_ignoring_case,
    the_latest_sign_in_of_a_principal_wins,
    findings_keep_their_triage_state_when_seen_again,
    concurrent_appends_form_one_gapless_tree,
    issuing_a_credential_logs_first_and_only_from_requested,
    audit_queries_filter_by_user_page_safe_action_run_and_time,
    checkpoints_are_compare_and_set_and_cursors_move,
    safe_member_snapshots_keep_the_latest_listing_ignoring_case,
);
