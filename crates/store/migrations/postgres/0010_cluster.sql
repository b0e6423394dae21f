-- arkbridge store on PostgreSQL, version 10: what several replicas on one database share.
-- `replicas`: each `arkbridge serve` process registers with an id of its own and heartbeats;
-- a replica whose heartbeat is older than the cluster's timeout may be declared dead
-- (`dead_micros`), after which its heartbeats are refused and it stops its runs.
-- `api_runs`: runs started through the API, queued on any replica and claimed by one with
-- FOR UPDATE SKIP LOCKED; `api_run_output` holds their masked output for any replica's stream.
-- `run_owners`: which replica (and host) executes each engine run, for crash recovery.
-- `cluster_leader`: the scheduler's leader and its fencing epoch; `scheduled_slots`: each
-- scheduled job's occurrence, claimed under the leader's epoch and marked done when it ran.
-- Times are the database's clock (Unix microseconds), whatever the replicas' clocks say.

CREATE TABLE replicas (
    id               TEXT PRIMARY KEY,
    host             TEXT NOT NULL,
    pid              INTEGER NOT NULL,
    started_micros   BIGINT NOT NULL,
    heartbeat_micros BIGINT NOT NULL,
    stopped_micros   BIGINT,
    dead_micros      BIGINT
);

CREATE TABLE api_runs (
    id              TEXT PRIMARY KEY,
    owner           TEXT NOT NULL,
    page_id         TEXT NOT NULL,
    block           TEXT NOT NULL,
    request         TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('queued', 'running', 'finished')),
    status          TEXT NOT NULL,
    replica_id      TEXT,
    created_micros  BIGINT NOT NULL,
    claimed_micros  BIGINT,
    finished_micros BIGINT,
    last_seq        BIGINT NOT NULL DEFAULT 0,
    dropped         BIGINT NOT NULL DEFAULT 0,
    record          TEXT
);
CREATE INDEX api_runs_queued ON api_runs(created_micros) WHERE state = 'queued';
CREATE INDEX api_runs_running ON api_runs(replica_id) WHERE state = 'running';

CREATE TABLE api_run_output (
    run_id TEXT NOT NULL REFERENCES api_runs(id) ON DELETE CASCADE,
    seq    BIGINT NOT NULL,
    stream TEXT NOT NULL,
    text   TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE run_owners (
    run_id         TEXT PRIMARY KEY,
    replica_id     TEXT NOT NULL,
    host           TEXT NOT NULL,
    created_micros BIGINT NOT NULL
);

CREATE TABLE cluster_leader (
    name            TEXT PRIMARY KEY,
    replica_id      TEXT,
    epoch           BIGINT NOT NULL,
    acquired_micros BIGINT
);
INSERT INTO cluster_leader (name, epoch) VALUES ('scheduler', 0);

CREATE TABLE scheduled_slots (
    job            TEXT NOT NULL,
    slot           TEXT NOT NULL,
    replica_id     TEXT NOT NULL,
    epoch          BIGINT NOT NULL,
    claimed_micros BIGINT NOT NULL,
    done_micros    BIGINT,
    PRIMARY KEY (job, slot)
);

-- `used_tokens`: ids of single-use tokens (Forge invocation tokens) accepted by any replica,
-- until they expire, so that a token used on one replica is refused on the others.
CREATE TABLE used_tokens (
    key           TEXT PRIMARY KEY,
    until_seconds BIGINT NOT NULL
);
CREATE INDEX used_tokens_until ON used_tokens(until_seconds);
