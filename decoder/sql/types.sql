-- Every type family: native encodings and their json rendering.
\set VERBOSITY terse
SET client_min_messages = warning;
SET extra_float_digits = 0;

SELECT 'init' FROM pg_create_logical_replication_slot('s_types', 'walstar_decoder');

CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE DOMAIN email AS text;
CREATE DOMAIN money_amount AS numeric(12,2);
CREATE TYPE pair AS (a int, b text);

CREATE TABLE ints (id serial PRIMARY KEY, i2 int2, i4 int4, i8 int8, o oid);
INSERT INTO ints (i2, i4, i8, o) VALUES
	(-32768, -2147483648, -9223372036854775808, 0),
	(32767, 2147483647, 9223372036854775807, 4294967295),
	(NULL, NULL, NULL, NULL);

CREATE TABLE floats (id serial PRIMARY KEY, f4 float4, f8 float8, n numeric, n2 numeric(12,2));
INSERT INTO floats (f4, f8, n, n2) VALUES
	(1.5, 2.25, 123456789012345678901234567890.123456789, 10.10),
	('NaN', 'Infinity', 'NaN', -0.01),
	('-Infinity', '-1e308', 'Infinity', 0),
	(0.1, 0.1, '-Infinity', NULL);

CREATE TABLE texts (id serial PRIMARY KEY, t text, v varchar(10), c char(4), nm name, b bool, by bytea);
INSERT INTO texts (t, v, c, nm, b, by) VALUES
	('plain', 'vc', 'ab', 'nm', true, '\x00ff10'),
	(E'quote " backslash \\ tab \t newline \n unicode é €', '', '', '', false, ''),
	(NULL, NULL, NULL, NULL, NULL, NULL);

CREATE TABLE times (id serial PRIMARY KEY, d date, t time, ts timestamp, tz timestamptz, iv interval, tt timetz);
SET TimeZone = 'Europe/Berlin';
INSERT INTO times (d, t, ts, tz, iv, tt) VALUES
	('2024-02-29', '23:59:59.999999', '2024-02-29 12:34:56.5', '2024-07-01 12:00:00+02', '1 year 2 mons 3 days 04:05:06.7', '10:00+02'),
	('1970-01-01', '00:00', '1970-01-01 00:00', '1970-01-01 00:00+00', '-1 day -00:00:01', '00:00+00'),
	('1969-12-31', '12:00', '1900-06-30 23:59:59', '1900-01-01 00:00+00', '0', NULL),
	('infinity', NULL, 'infinity', '-infinity', NULL, NULL),
	('0044-03-15 BC', NULL, '0044-03-15 12:00:00 BC', NULL, NULL, NULL),
	('5874897-12-31', NULL, '294276-12-31 23:59:59', '294276-12-31 23:59:59+00', NULL, NULL);
RESET TimeZone;

CREATE TABLE others (id serial PRIMARY KEY, u uuid, j json, jb jsonb, m mood, a int[], ta text[],
	ma mood[], p posint, e email, am money_amount, r pair, ip inet, x xml, pt point);
INSERT INTO others (u, j, jb, m, a, ta, ma, p, e, am, r, ip, x, pt) VALUES
	('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"k": [1, 2]}', '{"k": [1, 2], "a": null}', 'happy',
	 '{1,2,NULL}', '{"a b","c,d",NULL}', '{sad,ok}', 7, 'x@example.com', 12.5, '(1,"x y")',
	 '192.168.0.1/24', '<a>1</a>', '(1.5,2)'),
	(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

SELECT data FROM pg_logical_slot_get_changes('s_types', NULL, NULL,
	'format', 'json', 'include-transaction', 'false');

-- column descriptions: type names, landing types, keys
INSERT INTO others (id) VALUES (100);
SELECT data FROM pg_logical_slot_get_changes('s_types', NULL, NULL,
	'format', 'json', 'include-transaction', 'false', 'include-columns', 'true');

-- object-name types land as text
CREATE TABLE regs (id int PRIMARY KEY, rc regclass, rt regtype[], o oid);
INSERT INTO regs VALUES (1, 'regs', '{int4,text}', 1);
SELECT data::json->'columns' AS columns, data::json->'new' AS new
FROM pg_logical_slot_get_changes('s_types', NULL, NULL, 'format', 'json',
	'include-transaction', 'false', 'include-columns', 'true');
DROP TABLE regs;

-- enum labels are cached per relation: added and renamed labels
INSERT INTO others (id, m) VALUES (199, 'ok');
ALTER TYPE mood ADD VALUE 'ecstatic';
INSERT INTO others (id, m) VALUES (200, 'ecstatic');
ALTER TYPE mood RENAME VALUE 'sad' TO 'blue';
INSERT INTO others (id, m, ma) VALUES (201, 'blue', '{blue,ok}');
SELECT data::json->'new'->>'id' AS id, data::json->'new'->>'m' AS m, data::json->'new'->>'ma' AS ma
FROM pg_logical_slot_get_changes('s_types', NULL, NULL, 'format', 'json', 'include-transaction', 'false');

SELECT 'stop' FROM pg_drop_replication_slot('s_types');
DROP TABLE ints, floats, texts, times, others;
DROP TYPE mood, pair;
DROP DOMAIN posint, email, money_amount;
