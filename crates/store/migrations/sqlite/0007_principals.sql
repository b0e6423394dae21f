-- arkbridge store, version 7: what the identity provider said about people, for decisions that
-- concern someone other than the caller.
--
-- `approvals.approver_groups` keeps the approver's groups as verified when they approved (a JSON
-- array; NULL for approvals recorded before this version). With OIDC groups from the token, this
-- is the only record of an approver's groups once their token has expired.
--
-- `principals` keeps, per e-mail, the latest identity a verified sign-in established: issuer,
-- subject, Confluence account id (from the token's account claim) and groups. A block's last
-- editor is looked up here by Confluence account when the provider is OIDC without LDAP; the
-- policy only trusts a row younger than `policy.principal_max_age_hours`.

ALTER TABLE approvals ADD COLUMN approver_groups TEXT;

CREATE TABLE principals (
    email               TEXT PRIMARY KEY,
    issuer              TEXT NOT NULL,
    subject             TEXT NOT NULL,
    confluence_account  TEXT,
    groups              TEXT NOT NULL,
    verified_micros     INTEGER NOT NULL
);
CREATE INDEX principals_account ON principals(confluence_account);
