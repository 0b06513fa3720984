-- The device registry of push channels (POST/DELETE /v1/devices): one row per push token. A
-- token names one app install, so registering it again (by whichever user is now signed in on
-- that device) moves it. Not in the events publication: devices are not domain facts.
CREATE TABLE devices (
  token         text PRIMARY KEY CHECK (length(token) BETWEEN 1 AND 4096),
  user_id       text NOT NULL CHECK (length(user_id) BETWEEN 1 AND 256),
  registered_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_user_id ON devices (user_id);
