# The claims scenario's five questions answered both ways, for the tests
# that compare them (069 end to end, 072 with out-of-order versions): each
# walstar_claims metric function over sets of arguments, and the scenario's
# definition (shared/scenario/README.md) in plain SQL over the source tables
# and the source's record of customer versions.
#
#   my $got = $ana->safe_psql('analytics', WalstarTest::ClaimsAnswers::model_sql($countries, $years, $periods));
#   my $want = $src->safe_psql('acme', WalstarTest::ClaimsAnswers::expected_sql('customer_versions', ...));
#   WalstarTest::ClaimsAnswers::compare('after the workload', $got, $want);   # three tests
#
# $countries, $years: SQL VALUES rows ("('DE'), ('FR')", "(2021), (2022)");
# $periods: (from, to) date pairs; each also runs with NULL (no filter).
# The versions table has (seq, id, country_code, updated_at).
package WalstarTest::ClaimsAnswers;

use strict;
use warnings;
use Test::More;

sub model_sql
{
	my ($countries, $years, $periods) = @_;
	return qq{
WITH c(c) AS (VALUES (NULL::text), $countries), y(y) AS (VALUES (NULL::int), $years), p(f, t) AS (VALUES $periods)
SELECT * FROM (
SELECT concat_ws(' | ', 'total_claims', p.f, p.t, c.c, walstar_claims.total_claims(p.f, p.t, c.c)) AS l FROM p, c
UNION ALL
SELECT concat_ws(' | ', 'claim_amount_stats', y.y, c.c, s.claims, s.min_amount, s.max_amount, s.avg_amount, s.median_amount)
FROM y, c, walstar_claims.claim_amount_stats(y.y, c.c) s
UNION ALL
SELECT concat_ws(' | ', 'positive_feedback_count', p.f, p.t, c.c, walstar_claims.positive_feedback_count(p.f, p.t, c.c)) FROM p, c
UNION ALL
SELECT concat_ws(' | ', 'anomaly_feedback_sentiment', year, country_code, sentiment, feedback)
FROM walstar_claims.anomaly_feedback_sentiment()
UNION ALL
SELECT concat_ws(' | ', 'anomaly_resolution_time', y.y, r.country_code, r.resolved_claims, extract(epoch FROM r.avg_time),
				 extract(epoch FROM r.median_time), extract(epoch FROM r.p90_time))
FROM y, walstar_claims.anomaly_resolution_time(y.y) r) x
ORDER BY 1};
}

sub expected_sql
{
	my ($versions, $countries, $years, $periods) = @_;
	return qq{
WITH cx AS (
	SELECT cl.*, (cl.created_at AT TIME ZONE 'UTC')::date AS day,
		   extract(year FROM cl.created_at AT TIME ZONE 'UTC')::int AS yr,
		   coalesce((SELECT v.country_code FROM $versions v
					 WHERE v.id = cl.customer_id AND v.updated_at <= cl.created_at
					 ORDER BY v.updated_at DESC, v.seq DESC LIMIT 1),
					(SELECT v.country_code FROM $versions v
					 WHERE v.id = cl.customer_id ORDER BY v.updated_at, v.seq LIMIT 1),
					'??') AS country,
		   CASE WHEN cl.is_anomaly AND cl.resolved_at IS NOT NULL THEN
				(extract(epoch FROM cl.resolved_at) - extract(epoch FROM cl.created_at)) * 1000000 END AS res_us
	FROM claims cl),
fx AS (
	SELECT f.*, (f.created_at AT TIME ZONE 'UTC')::date AS day,
		   coalesce(f.sentiment::text, CASE WHEN f.rating >= 4 THEN 'positive' WHEN f.rating = 3 THEN 'neutral'
									  ELSE 'negative' END) AS sent,
		   x.id IS NOT NULL AS claim_known, x.is_anomaly, x.yr, coalesce(x.country, '??') AS country
	FROM feedback f LEFT JOIN cx x ON x.id = f.claim_id),
c(c) AS (VALUES (NULL::text), $countries), y(y) AS (VALUES (NULL::int), $years), p(f, t) AS (VALUES $periods)
SELECT * FROM (
SELECT concat_ws(' | ', 'total_claims', p.f, p.t, c.c,
	(SELECT count(*) FROM cx WHERE (p.f IS NULL OR day >= p.f) AND (p.t IS NULL OR day < p.t)
		AND (c.c IS NULL OR country = c.c))) AS l FROM p, c
UNION ALL
SELECT concat_ws(' | ', 'claim_amount_stats', y.y, c.c,
	(SELECT concat_ws(' | ', count(*), min(amount), max(amount), avg(amount),
		trim_scale((percentile_disc(0.5) WITHIN GROUP (ORDER BY amount)
					+ percentile_disc(0.5) WITHIN GROUP (ORDER BY amount DESC)) / 2))
	 FROM cx WHERE (y.y IS NULL OR yr = y.y) AND (c.c IS NULL OR country = c.c)))
FROM y, c
UNION ALL
SELECT concat_ws(' | ', 'positive_feedback_count', p.f, p.t, c.c,
	(SELECT count(*) FROM fx WHERE sent = 'positive' AND (p.f IS NULL OR day >= p.f) AND (p.t IS NULL OR day < p.t)
		AND (c.c IS NULL OR country = c.c))) FROM p, c
UNION ALL
SELECT concat_ws(' | ', 'anomaly_feedback_sentiment', yr, country, sent, count(*))
FROM fx WHERE claim_known AND is_anomaly GROUP BY yr, country, sent
UNION ALL
SELECT concat_ws(' | ', 'anomaly_resolution_time', y.y, country, count(*),
	extract(epoch FROM round(avg(res_us)) * interval '1 microsecond'),
	extract(epoch FROM round(percentile_cont(0.5) WITHIN GROUP (ORDER BY res_us::float8)) * interval '1 microsecond'),
	extract(epoch FROM round(percentile_cont(0.9) WITHIN GROUP (ORDER BY res_us::float8)) * interval '1 microsecond'))
FROM y JOIN cx ON res_us IS NOT NULL AND (y.y IS NULL OR cx.yr = y.y)
GROUP BY y.y, country) x
ORDER BY 1};
}

# Every expected line is given and no other: three tests ("LABEL: ..." when a
# label is given).
sub compare
{
	my ($label, $got, $want) = @_;
	my $p = $label ? "$label: " : '';
	my @got = split /\n/, $got;
	my @want = split /\n/, $want;
	my %g = map { $_ => 1 } @got;
	my %wt = map { $_ => 1 } @want;
	my @missing = grep { !$g{$_} } @want;
	my @extra = grep { !$wt{$_} } @got;
	cmp_ok(scalar(@want), '>', 100, "${p}the comparison covers " . scalar(@want) . ' answers');
	is(join("\n", map { "want $_" } @missing[0 .. ($#missing < 9 ? $#missing : 9)]), '',
		"${p}every expected answer is given");
	is(join("\n", map { "got $_" } @extra[0 .. ($#extra < 9 ? $#extra : 9)]), '',
		"${p}no answer differs from the sources");
}

1;
