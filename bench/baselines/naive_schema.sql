-- Naive baseline for bench/hot_item.sh: the schema a first-cut flash-sale app would use.
-- One counter row per item, one row per granted order, nothing else (no idempotency, no
-- waitlist, no leases). Run with: psql -v stock=10000000 -f naive_schema.sql
-- The stock defaults to 10,000,000 so the run never sells out: every transaction takes the
-- item's row lock, like the hot-item phase before sell-out.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
\if :{?stock}
\else
  \set stock 10000000
\endif

DROP TABLE IF EXISTS naive_orders;
DROP TABLE IF EXISTS naive_items;

CREATE TABLE naive_items (
  id        text PRIMARY KEY,
  available int  NOT NULL CHECK (available >= 0)
);

CREATE TABLE naive_orders (
  id         bigserial PRIMARY KEY,
  item_id    text,
  user_id    text,
  created_at timestamptz DEFAULT now()
);

INSERT INTO naive_items (id, available) VALUES ('hot', :stock);
