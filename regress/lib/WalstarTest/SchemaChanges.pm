# What the schema-change tests share (056 follows changes without DDL
# capture, 058 with it): a table t in the source database app, its landing
# copy public.t in the analytics database ana, compared row by row over the
# source's current columns, and a writer that keeps changing rows of t
# while the schema changes, touching only the columns every phase keeps (id
# and n).
#
#   my $t = WalstarTest::SchemaChanges->new($src, $analytics);
#   $t->landing_equal('after ADD COLUMN');   # one test: polls until equal
#   my $w = $t->writer(8);                    # pgbench at 20 tx/s for 8 s
#   WalstarTest::Sink::finish_background($w);
package WalstarTest::SchemaChanges;

use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Shop;
use WalstarTest::Sink;

sub new
{
	my ($class, $src, $node) = @_;
	my $script = "$PostgreSQL::Test::Utils::tmp_check/schema_changes_writer.sql";
	open(my $fh, '>', $script) or die "$script: $!";
	print $fh q{\set id random(1, 300)
\set del random(1, 10)
INSERT INTO t (id, n) VALUES (:id, 1) ON CONFLICT (id) DO UPDATE SET n = t.n + 1;
DELETE FROM t WHERE id = :id AND :del = 1;
};
	close($fh);
	return bless { src => $src, node => $node, script => $script }, $class;
}

# The source's columns of t, quoted, in the source's order.
sub source_columns
{
	my ($self) = @_;
	return $self->{src}->safe_psql('app', q{
SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
WHERE attrelid = 't'::regclass AND attnum > 0 AND NOT attisdropped});
}

# Landing equals source over the source's columns (as text), row by row.
sub landing_equal
{
	my ($self, $what) = @_;
	my $cols = $self->source_columns;
	my $rel = "(SELECT $cols FROM public.t)";
	my $want = $self->{src}->safe_psql('app', WalstarTest::Shop::sum_sql($rel));
	my $ok = $self->{node}->poll_query_until('ana', 'SELECT (' . WalstarTest::Shop::sum_sql($rel) . ") = '$want'", 't');
	ok($ok, "$what: landing equals the source ($cols)")
	  or diag('have ' . ($self->{node}->psql('ana', WalstarTest::Shop::sum_sql($rel)))[1] . " want $want");
	return $ok;
}

# The writer at 20 transactions/s for this many seconds, in the background.
sub writer
{
	my ($self, $seconds) = @_;
	return WalstarTest::Sink::background("$PostgreSQL::Test::Utils::tmp_check/schema_changes_writer.log",
		'pgbench', '-n', '-R', '20', '-T', $seconds, '-f', $self->{script}, $self->{src}->connstr('app'));
}

1;
