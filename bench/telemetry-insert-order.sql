-- Telemetry rows inserted in key order against arrival order (see campus-grain-host/Campus.Controller/History/README.md).
-- Run on a scratch database of a test server:  psql -d scratch -f bench/telemetry-insert-order.sql
-- Builds a 6,000,000-row copy of the telemetry table with its indexes (10,000 devices, 600 readings
-- each, written in time order as ingestion writes them), then inserts 40 batches of 3,000 rows, the
-- two orders alternating, and prints the mean microseconds per row of each order.
CREATE TABLE tel (device text NOT NULL, boot bigint NOT NULL, seq bigint NOT NULL, school text NOT NULL, room text NOT NULL, kind text NOT NULL,
 device_time bigint, received_at bigint NOT NULL, energy_kwh double precision, power_w double precision, voltage_v double precision, current_a double precision,
 power_factor double precision, temperature_c double precision, humidity_pct double precision, occupied boolean, readings text, PRIMARY KEY (device, boot, seq));
CREATE INDEX tel_dt ON tel (device, received_at);
CREATE INDEX tel_brin ON tel USING brin (received_at);
DO $$ BEGIN
FOR s IN 1..600 LOOP
  INSERT INTO tel SELECT 'dev-' || lpad(d::text, 5, '0'), 1, s, 's01', 'r' || (d % 200), 'energy', 1700000000000 + s * 500, 1700000000000 + s * 500 + d % 500,
    s * 0.01, 1000, 230, 4.3, 0.95, NULL, NULL, NULL, NULL
  FROM generate_series(1, 10000) d ORDER BY random();
END LOOP; END $$;
VACUUM ANALYZE tel;

CREATE FUNCTION insert_batch(s int, sorted bool) RETURNS double precision LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz; BEGIN
  CREATE TEMP TABLE IF NOT EXISTS b AS SELECT * FROM tel LIMIT 0;
  TRUNCATE b;
  INSERT INTO b SELECT 'dev-' || lpad(d::text, 5, '0'), 1, s, 's01', 'r' || (d % 200), 'energy', 1700000000000 + s * 500, 1700000000000 + s * 500 + d % 500,
    s * 0.01, 1000, 230, 4.3, 0.95, NULL, NULL, NULL, NULL
  FROM (SELECT d FROM generate_series(1, 10000) d ORDER BY random() LIMIT 3000) x;
  t0 := clock_timestamp();
  IF sorted THEN INSERT INTO tel SELECT * FROM b ORDER BY device, boot, seq;
  ELSE INSERT INTO tel SELECT * FROM b ORDER BY random(); END IF;
  RETURN extract(epoch FROM clock_timestamp() - t0) * 1e6 / 3000;
END $$;

SELECT CASE WHEN s % 2 = 0 THEN 'key order' ELSE 'arrival order' END AS rows_in, round(avg(us)::numeric, 1) AS microseconds_per_row
FROM (SELECT s, insert_batch(s, s % 2 = 0) AS us FROM generate_series(601, 640) s) r GROUP BY 1;

DROP FUNCTION insert_batch(int, bool);
DROP TABLE tel;
