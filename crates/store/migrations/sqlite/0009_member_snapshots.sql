-- arkbridge store, version 9: the safe members as the PVWA last listed them, so that rule 4 can
-- still decide while the PVWA is unavailable (the read-only fallback's case), within
-- `policy.members_snapshot_max_age_secs`. Member names and permissions only; never a secret.

CREATE TABLE safe_member_snapshots (
    -- Lower-case safe name: CyberArk safe names compare ignoring case.
    safe           TEXT PRIMARY KEY,
    -- JSON array of {name, is_group, permissions}.
    members        TEXT NOT NULL,
    read_micros    INTEGER NOT NULL
);
