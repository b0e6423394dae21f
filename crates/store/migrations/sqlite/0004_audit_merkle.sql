-- arkbridge store, version 4: the audit log becomes an RFC 6962 Merkle tree with signed
-- checkpoints.
--
-- Each row holds one record's canonical JSON text (RFC 8785), its leaf hash and the interior
-- nodes its leaf completes (see arkbridge_core::audit::tree). The search columns are generated
-- from the record itself, so they can never disagree with what is hashed.
--
-- Version-1 rows (a hash chain over columns) are carried over with every original field inside
-- `{"legacy_v1": {...}}`; `SqliteStore::open` then rewrites each into the current schema (keeping
-- the original fields and chain hashes) and computes its leaf hash and nodes, which SQL cannot.
-- Approvals reference audit(seq): the foreign key is deferred while the table is rebuilt, and the
-- rows come back with the same seq before the transaction commits.

PRAGMA defer_foreign_keys = ON;

CREATE TABLE audit_v1 AS SELECT * FROM audit;
DROP TABLE audit;

CREATE TABLE audit (
    seq         INTEGER PRIMARY KEY,
    record      TEXT NOT NULL,
    leaf_hash   BLOB,
    nodes       BLOB NOT NULL DEFAULT x'',
    time_us     INTEGER GENERATED ALWAYS AS (json_extract(record, '$.time_us')) VIRTUAL,
    action      TEXT GENERATED ALWAYS AS (json_extract(record, '$.action')) VIRTUAL,
    subject     TEXT GENERATED ALWAYS AS (json_extract(record, '$.actor.subject')) VIRTUAL,
    actor_name  TEXT GENERATED ALWAYS AS (json_extract(record, '$.actor.name')) VIRTUAL,
    page_id     TEXT GENERATED ALWAYS AS (json_extract(record, '$.target.page_id')) VIRTUAL,
    safe        TEXT GENERATED ALWAYS AS (json_extract(record, '$.target.safe')) VIRTUAL,
    run_id      TEXT GENERATED ALWAYS AS (json_extract(record, '$.run_id')) VIRTUAL
);

INSERT INTO audit (seq, record)
SELECT seq, json_object('legacy_v1', json_object(
    'ts_micros', ts_micros,
    'actor', actor,
    'action', action,
    'run_id', run_id,
    'target', target,
    'details', CASE WHEN json_valid(details) THEN json(details) ELSE details END,
    'prev_hash', prev_hash,
    'hash', hash))
FROM audit_v1 ORDER BY seq;

DROP TABLE audit_v1;

CREATE INDEX audit_time ON audit(time_us);
CREATE INDEX audit_subject ON audit(subject COLLATE NOCASE);
CREATE INDEX audit_page ON audit(page_id);
CREATE INDEX audit_safe ON audit(safe COLLATE NOCASE);
CREATE INDEX audit_run ON audit(run_id);

-- Signed checkpoints (C2SP signed notes), numbered from 1; each names the hash of the one before.
CREATE TABLE audit_checkpoints (
    id          INTEGER PRIMARY KEY,
    tree_size   INTEGER NOT NULL,
    time_us     INTEGER NOT NULL,
    note        TEXT NOT NULL
);

-- How far each consumer (the syslog forwarder) has durably taken the log.
CREATE TABLE audit_cursors (
    name        TEXT PRIMARY KEY,
    seq         INTEGER NOT NULL,
    updated_us  INTEGER NOT NULL
);
