/* walstar--0.1--0.2.sql: ALTER EXTENSION walstar UPDATE from 0.1 to 0.2.
 *
 * Every change made to walstar--0.2.sql since 0.1 is made here too, so that
 * an updated installation has exactly the objects of a fresh one (the same
 * columns in the same order, the same function bodies, grants and comments):
 * regress/t/091_ext_upgrade.pl compares them. New table columns therefore go
 * at the end of their table in walstar--0.2.sql as well. */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION walstar UPDATE" to load this file. \quit
