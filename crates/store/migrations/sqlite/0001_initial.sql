-- arkbridge store, version 1: runs, leases and the audit chain.
-- No column ever holds a secret value.

CREATE TABLE runs (
    id              TEXT PRIMARY KEY,
    page_id         TEXT NOT NULL,
    page_version    INTEGER NOT NULL,
    block           TEXT NOT NULL,
    user_email      TEXT NOT NULL,
    mode            TEXT NOT NULL,
    status          TEXT NOT NULL,
    exit_code       INTEGER,
    started_micros  INTEGER NOT NULL,
    finished_micros INTEGER,
    comment_id      TEXT
);

CREATE TABLE leases (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id          TEXT NOT NULL REFERENCES runs(id),
    safe            TEXT NOT NULL,
    object          TEXT NOT NULL,
    account_id      TEXT,
    rotation        TEXT NOT NULL,
    state           TEXT NOT NULL,
    created_micros  INTEGER NOT NULL,
    updated_micros  INTEGER NOT NULL,
    error           TEXT
);
CREATE INDEX leases_open ON leases(state);
CREATE INDEX leases_run ON leases(run_id);

CREATE TABLE audit (
    seq             INTEGER PRIMARY KEY,
    ts_micros       INTEGER NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    run_id          TEXT,
    target          TEXT,
    details         TEXT NOT NULL,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL UNIQUE
);
