-- arkbridge store on PostgreSQL, version 4: the audit log as an RFC 6962 Merkle tree with signed
-- checkpoints (translated from migrations/sqlite/0004_audit_merkle.sql).
--
-- Each row holds one record's canonical JSON text (RFC 8785), its leaf hash and the interior
-- nodes its leaf completes (see arkbridge_core::audit::tree). The search columns are generated
-- from the record itself, so they can never disagree with what is hashed. The version-1 table is
-- dropped without a copy: a PostgreSQL store never held version-1 rows (`store migrate` moves an
-- old SQLite store only after `SqliteStore::open` has migrated it).

DROP TABLE audit;

CREATE TABLE audit (
    seq         BIGINT PRIMARY KEY,
    record      TEXT NOT NULL,
    leaf_hash   BYTEA,
    nodes       BYTEA NOT NULL DEFAULT '\x'::bytea,
    time_us     BIGINT GENERATED ALWAYS AS ((record::jsonb ->> 'time_us')::bigint) STORED,
    action      TEXT GENERATED ALWAYS AS (record::jsonb ->> 'action') STORED,
    subject     TEXT GENERATED ALWAYS AS (record::jsonb -> 'actor' ->> 'subject') STORED,
    actor_name  TEXT GENERATED ALWAYS AS (record::jsonb -> 'actor' ->> 'name') STORED,
    page_id     TEXT GENERATED ALWAYS AS (record::jsonb -> 'target' ->> 'page_id') STORED,
    safe        TEXT GENERATED ALWAYS AS (record::jsonb -> 'target' ->> 'safe') STORED,
    run_id      TEXT GENERATED ALWAYS AS (record::jsonb ->> 'run_id') STORED
);

CREATE INDEX audit_time ON audit(time_us);
CREATE INDEX audit_subject ON audit(lower(subject));
CREATE INDEX audit_actor_name ON audit(lower(actor_name));
CREATE INDEX audit_page ON audit(page_id);
CREATE INDEX audit_safe ON audit(lower(safe));
CREATE INDEX audit_run ON audit(run_id);

ALTER TABLE approvals ADD CONSTRAINT approvals_audit_seq FOREIGN KEY (audit_seq) REFERENCES audit(seq);

-- Signed checkpoints (C2SP signed notes), numbered from 1; each names the hash of the one before.
CREATE TABLE audit_checkpoints (
    id          BIGINT PRIMARY KEY,
    tree_size   BIGINT NOT NULL,
    time_us     BIGINT NOT NULL,
    note        TEXT NOT NULL
);

-- How far each consumer (the syslog forwarder) has durably taken the log.
CREATE TABLE audit_cursors (
    name        TEXT PRIMARY KEY,
    seq         BIGINT NOT NULL,
    updated_us  BIGINT NOT NULL
);

-- Appends `p_records` (with their leaf hashes and completed nodes) as seqs `p_size + 1, ...` if
-- the log holds exactly `p_size` records, under the audit log's advisory lock, which every append
-- path takes first: appenders on any number of connections, pools or replicas are serialised, so
-- seq stays gapless and the tree linear. Returns the log's size as found: equal to `p_size` when
-- the rows were inserted. Otherwise nothing was inserted (the caller's idea of the tree is stale)
-- and `edge` holds the stored right edge of the tree of `current_size` records (the roots of its
-- complete subtrees, largest first: one per set bit of the size), so that the caller can rebuild
-- its batch without another round trip; inside a transaction the lock is still held then.
-- Each statement of this VOLATILE function takes a fresh snapshot, so the size it reads includes
-- every append committed by the lock's previous holder.
CREATE FUNCTION arkbridge_audit_append(p_size BIGINT, p_records TEXT[], p_leaf_hashes BYTEA[],
                                       p_nodes BYTEA[], OUT current_size BIGINT,
                                       OUT edge BYTEA[])
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    covered BIGINT := 0;
    node BYTEA;
BEGIN
    PERFORM pg_advisory_xact_lock(7160237542337503587);
    SELECT COALESCE(MAX(a.seq), 0) INTO current_size FROM audit a;
    edge := ARRAY[]::BYTEA[];
    IF current_size = p_size THEN
        INSERT INTO audit (seq, record, leaf_hash, nodes)
        SELECT p_size + r.n, r.rec, r.leaf, r.completed
        FROM unnest(p_records, p_leaf_hashes, p_nodes) WITH ORDINALITY AS r(rec, leaf, completed, n);
        RETURN;
    END IF;
    -- The root of a complete subtree of 2^level leaves is stored in the row of its last leaf:
    -- its leaf hash at level 0, else the 32 bytes at (level - 1) * 32 of its nodes.
    FOR level IN REVERSE 62..0 LOOP
        IF (current_size >> level) & 1 = 1 THEN
            covered := covered + (1::BIGINT << level);
            SELECT CASE WHEN level = 0 THEN a.leaf_hash
                        ELSE substring(a.nodes FROM (level - 1) * 32 + 1 FOR 32) END
              INTO node FROM audit a WHERE a.seq = covered;
            edge := edge || node;
        END IF;
    END LOOP;
END;
$$;
