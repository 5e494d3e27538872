-- Schema version 1: users, API keys, refresh tokens, versioned workflows,
-- executions with their steps and logs, and audit events.
-- Timestamps are unix milliseconds (INTEGER); JSON columns hold JSON text.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
) STRICT;

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'executor', 'admin')),
    PRIMARY KEY (user_id, role)
) STRICT, WITHOUT ROWID;

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
) STRICT;

CREATE INDEX api_keys_by_user ON api_keys (user_id, created_at);

CREATE TABLE api_key_roles (
    api_key_id TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'executor', 'admin')),
    PRIMARY KEY (api_key_id, role)
) STRICT, WITHOUT ROWID;

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER,
    revoked_at INTEGER
) STRICT;

CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_id);

CREATE TABLE workflows (
    id              TEXT PRIMARY KEY,
    owner_id        TEXT NOT NULL REFERENCES users (id),
    name            TEXT NOT NULL,
    current_version INTEGER NOT NULL CHECK (current_version >= 1),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    deleted_at      INTEGER
) STRICT;

CREATE INDEX workflows_by_created ON workflows (created_at, id);

CREATE TABLE workflow_versions (
    workflow_id TEXT NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL CHECK (version >= 1),
    definition  TEXT NOT NULL CHECK (json_valid(definition)),
    created_by  TEXT NOT NULL REFERENCES users (id),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, version)
) STRICT;

CREATE TABLE executions (
    id               TEXT PRIMARY KEY,
    workflow_id      TEXT NOT NULL,
    workflow_version INTEGER NOT NULL,
    user_id          TEXT NOT NULL REFERENCES users (id),
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded',
                         'failed', 'cancelled', 'timed_out', 'interrupted')),
    parameters       TEXT NOT NULL CHECK (json_valid(parameters)),
    error            TEXT,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    FOREIGN KEY (workflow_id, workflow_version)
        REFERENCES workflow_versions (workflow_id, version)
) STRICT;

CREATE INDEX executions_by_created ON executions (created_at, id);
CREATE INDEX executions_by_workflow ON executions (workflow_id, created_at);
CREATE INDEX executions_by_user ON executions (user_id, created_at);
CREATE INDEX executions_by_status ON executions (status, created_at);
CREATE INDEX executions_by_finished ON executions (finished_at);

CREATE TABLE steps (
    execution_id  TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    step_id       TEXT NOT NULL,
    position      INTEGER NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded',
                      'failed', 'skipped', 'cancelled', 'timed_out', 'interrupted')),
    exit_code     INTEGER,
    signal        INTEGER,
    outputs       TEXT CHECK (outputs IS NULL OR json_valid(outputs)),
    error         TEXT,
    profile       TEXT,
    profile_hash  TEXT,
    confinement   TEXT CHECK (confinement IS NULL OR json_valid(confinement)),
    usage         TEXT CHECK (usage IS NULL OR json_valid(usage)),
    denial_hints  TEXT CHECK (denial_hints IS NULL OR json_valid(denial_hints)),
    log_truncated INTEGER NOT NULL DEFAULT 0 CHECK (log_truncated IN (0, 1)),
    started_at    INTEGER,
    finished_at   INTEGER,
    duration_ms   INTEGER,
    PRIMARY KEY (execution_id, step_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE step_logs (
    id           INTEGER PRIMARY KEY,
    execution_id TEXT NOT NULL,
    step_id      TEXT NOT NULL,
    stream       TEXT NOT NULL CHECK (stream IN ('stdout', 'stderr', 'worker')),
    line         TEXT NOT NULL,
    truncated    INTEGER NOT NULL CHECK (truncated IN (0, 1)),
    created_at   INTEGER NOT NULL,
    FOREIGN KEY (execution_id, step_id)
        REFERENCES steps (execution_id, step_id) ON DELETE CASCADE
) STRICT;

-- Reading an execution's logs in order, and finding the logs of a step when
-- the step is deleted (the foreign key's lookup).
CREATE INDEX step_logs_by_execution ON step_logs (execution_id, id);
CREATE INDEX step_logs_by_step ON step_logs (execution_id, step_id);

-- No foreign keys: audit events outlive the users, workflows and
-- executions they name, and a failed login may name no user.
CREATE TABLE audit_events (
    id           INTEGER PRIMARY KEY,
    ts           INTEGER NOT NULL,
    level        TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    user_id      TEXT,
    workflow_id  TEXT,
    execution_id TEXT,
    ip_address   TEXT,
    user_agent   TEXT,
    outcome      TEXT NOT NULL,
    details      TEXT NOT NULL CHECK (json_valid(details))
) STRICT;

CREATE INDEX audit_events_by_ts ON audit_events (ts, id);
CREATE INDEX audit_events_by_user ON audit_events (user_id, ts);
CREATE INDEX audit_events_by_type ON audit_events (event_type, ts);
