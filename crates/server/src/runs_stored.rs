//! What a replica needs of a run another replica executes (`cluster_runs.rs`): a mirror entry
//! in the registry, fed with the output and the end the executing replica stored, keeping the
//! stored sequence numbers so that cursors mean the same on every replica.

use std::sync::Arc;

use super::{RunEntry, RunRegistry};

impl RunEntry {
    /// Adds a chunk another replica stored (`cluster_runs.rs`), keeping its sequence number.
    pub(crate) fn push_stored(&self, seq: u64, stream: &str, text: String) {
        let mut state = self.lock();
        if seq <= state.next_seq {
            return;
        }
        // Chunks the executing replica trimmed before this one was read count as dropped.
        let skipped = seq - state.next_seq - 1;
        state.dropped += skipped;
        state.next_seq = seq;
        let stream = if stream == "stderr" {
            "stderr"
        } else {
            "stdout"
        };
        self.append(state, seq, stream, text);
    }

    /// Sets the status of a run another replica executes (`queued`, `running`).
    pub(crate) fn set_stored_status(&self, status: &str) {
        let mut state = self.lock();
        if state.finished_us.is_none() && state.status != status {
            state.status = status.to_string();
            drop(state);
            self.changed.send_modify(|v| *v += 1);
        }
    }

    /// Ends a run another replica executed, with the record it stored.
    pub(crate) fn finish_stored(&self, status: &str, record: serde_json::Value, finished_us: i64) {
        let mut state = self.lock();
        if state.finished_us.is_some() {
            return;
        }
        state.status = status.to_string();
        state.exit_code = record
            .get("exit_code")
            .and_then(serde_json::Value::as_i64)
            .and_then(|c| i32::try_from(c).ok());
        state.mode = record
            .get("mode")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string);
        state.error = record
            .get("error")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string);
        state.stored_record = Some(record);
        state.finished_us = Some(finished_us);
        drop(state);
        self.changed.send_modify(|v| *v += 1);
    }

    /// The last sequence number handed to this run's output.
    pub(crate) fn last_seq(&self) -> u64 {
        self.lock().next_seq
    }
}

impl RunRegistry {
    /// Lists a mirror of a run another replica (or this one's claimer) executes.
    pub(crate) fn mirror(
        &self,
        id: &str,
        owner: &str,
        page_id: &str,
        block: &str,
        status: &str,
    ) -> (Arc<RunEntry>, bool) {
        let mut registry = self.lock();
        if let Some(existing) = registry.by_id.get(id) {
            return (existing.clone(), false);
        }
        let entry = self.new_entry(
            id.into(),
            owner.into(),
            page_id.into(),
            block.into(),
            status,
        );
        registry.order.push_back(entry.id.clone());
        registry.by_id.insert(entry.id.clone(), entry.clone());
        self.evict(&mut registry);
        (entry, true)
    }

    /// Records that a claimed run's end is in the store.
    pub(crate) fn claimed_done(&self, id: &str) {
        self.claimed.send_modify(|ids| {
            ids.remove(id);
        });
    }

    /// The claimed runs whose end is not yet in the store.
    pub(crate) fn claimed_ids(&self) -> std::collections::HashSet<String> {
        self.claimed.borrow().clone()
    }

    /// Waits until every claimed run's end is in the store, or `limit` has passed; returns how
    /// many are still missing.
    pub async fn wait_claimed_stored(&self, limit: std::time::Duration) -> usize {
        let mut claimed = self.claimed.subscribe();
        let stored = claimed.wait_for(|ids| ids.is_empty());
        match tokio::time::timeout(limit, stored).await {
            Ok(_) => 0,
            Err(_) => self.claimed.borrow().len(),
        }
    }
}
