-- Client-secret digests record which pepper keyed them, so the pepper can be replaced
-- (credentials.pepper_file, credentials.previous_pepper_files): a secret that authenticates
-- under an older pepper is digested again under the current one. Every digest made before this
-- migration was keyed by the oldest pepper in the key store (the only one the service used).
-- That pepper's kid is also the column's default, so replicas still running the previous
-- version (which do not name the pepper) keep creating credentials that verify.

ALTER TABLE client_credentials ADD COLUMN pepper_id TEXT;
DO $$
DECLARE
    initial TEXT;
BEGIN
    SELECT kid INTO initial FROM signing_keys
        WHERE purpose = 'secret_pepper' ORDER BY created_at, kid LIMIT 1;
    initial := COALESCE(initial, 'p-initial');
    UPDATE client_credentials SET pepper_id = initial;
    EXECUTE format('ALTER TABLE client_credentials ALTER COLUMN pepper_id SET DEFAULT %L', initial);
END
$$;
ALTER TABLE client_credentials ALTER COLUMN pepper_id SET NOT NULL;
