-- arkbridge store on PostgreSQL, version 5: what the lease watchdog and crash recovery need.
-- `run_guards` keeps, per run, the deadline by which its credentials must be rotated and the
-- process group of its script with the group leader's start time (in clock ticks since boot), so
-- that recovery kills an orphaned group and never a process that merely reused the number.
-- Each lease keeps the deadline of its run as it was when the lease was written.

CREATE TABLE run_guards (
    run_id          TEXT PRIMARY KEY,
    deadline_micros BIGINT NOT NULL,
    pgid            INTEGER,
    process_start   BIGINT,
    updated_micros  BIGINT NOT NULL
);

ALTER TABLE leases ADD COLUMN deadline_micros BIGINT;
CREATE INDEX leases_state_updated ON leases(state, updated_micros);
