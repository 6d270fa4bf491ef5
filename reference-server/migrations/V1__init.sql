-- Meters and readings. Every u64 of a reading is stored as NUMERIC(20,0)
-- constrained to 0..2^64-1, so the whole u64 range round-trips.

CREATE TABLE meters (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username           TEXT        NOT NULL UNIQUE,
    key_id             BYTEA       NOT NULL UNIQUE CHECK (octet_length(key_id) = 32),
    public_key_der     BYTEA       NOT NULL,
    registered_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at         TIMESTAMPTZ,
    -- Policy state: the last stored reading (NULL until the first).
    last_sequence      NUMERIC(20,0),
    last_timestamp_ms  NUMERIC(20,0),
    last_wh_imported   NUMERIC(20,0),
    last_wh_exported   NUMERIC(20,0),
    readings_count     BIGINT      NOT NULL DEFAULT 0,
    gap_count          BIGINT      NOT NULL DEFAULT 0
);

CREATE TABLE readings (
    meter_id     BIGINT        NOT NULL REFERENCES meters (id),
    sequence     NUMERIC(20,0) NOT NULL CHECK (sequence BETWEEN 0 AND 18446744073709551615),
    timestamp_ms NUMERIC(20,0) NOT NULL CHECK (timestamp_ms BETWEEN 0 AND 18446744073709551615),
    wh_imported  NUMERIC(20,0) NOT NULL CHECK (wh_imported BETWEEN 0 AND 18446744073709551615),
    wh_exported  NUMERIC(20,0) NOT NULL CHECK (wh_exported BETWEEN 0 AND 18446744073709551615),
    algorithm    SMALLINT      NOT NULL,
    signature    BYTEA         NOT NULL,
    received_at  TIMESTAMPTZ   NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, sequence)
);

-- Applies the storage policy to one verified reading, atomically, under the
-- meter's row lock, so that it holds with any number of server processes.
-- Never raises for a policy violation: the outcome says what happened.
CREATE FUNCTION smartmeter_store_reading(
    p_meter BIGINT, p_sequence NUMERIC, p_timestamp_ms NUMERIC,
    p_wh_imported NUMERIC, p_wh_exported NUMERIC, p_algorithm SMALLINT, p_signature BYTEA,
    OUT outcome TEXT, OUT previous_sequence NUMERIC)
LANGUAGE plpgsql AS $$
DECLARE
    m meters%ROWTYPE;
    r readings%ROWTYPE;
BEGIN
    SELECT * INTO m FROM meters WHERE id = p_meter FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'unknown_meter';
        RETURN;
    END IF;
    previous_sequence := m.last_sequence;
    IF m.revoked_at IS NOT NULL THEN
        outcome := 'meter_revoked';
        RETURN;
    END IF;
    IF m.last_sequence IS NOT NULL AND p_sequence <= m.last_sequence THEN
        SELECT * INTO r FROM readings WHERE meter_id = p_meter AND sequence = p_sequence;
        IF FOUND AND r.timestamp_ms = p_timestamp_ms AND r.wh_imported = p_wh_imported
           AND r.wh_exported = p_wh_exported AND r.algorithm = p_algorithm
           AND r.signature = p_signature THEN
            outcome := 'duplicate';
        ELSE
            outcome := 'stale_sequence';
        END IF;
        RETURN;
    END IF;
    IF p_timestamp_ms < m.last_timestamp_ms THEN
        outcome := 'timestamp_backwards';
        RETURN;
    END IF;
    IF p_wh_imported < m.last_wh_imported OR p_wh_exported < m.last_wh_exported THEN
        outcome := 'register_decreased';
        RETURN;
    END IF;
    INSERT INTO readings (meter_id, sequence, timestamp_ms, wh_imported, wh_exported, algorithm, signature)
    VALUES (p_meter, p_sequence, p_timestamp_ms, p_wh_imported, p_wh_exported, p_algorithm, p_signature);
    UPDATE meters
       SET last_sequence = p_sequence, last_timestamp_ms = p_timestamp_ms,
           last_wh_imported = p_wh_imported, last_wh_exported = p_wh_exported,
           readings_count = readings_count + 1,
           gap_count = gap_count + CASE WHEN m.last_sequence IS NOT NULL AND p_sequence > m.last_sequence + 1 THEN 1 ELSE 0 END
     WHERE id = p_meter;
    outcome := 'accepted';
END
$$;
