/*-------------------------------------------------------------------------
 *
 * change_value.h
 *		A Value as the text its landing column's input function reads.
 *
 * Backend code (the extension's apply and walstar.decode(), the decoder's
 * json format): dates and times go through PostgreSQL's own encoders.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALSTAR_CHANGE_VALUE_H
#define WALSTAR_CHANGE_VALUE_H

#include "walstar.pb-c.h"

/*
 * The value in the text form PostgreSQL's input function of the column's
 * landing type reads, independent of DateStyle and TimeZone; NULL for SQL
 * NULL, "not set" and unchanged TOAST (callers tell those apart first).
 * column may be NULL: timestamps then read as timestamptz.  A value the
 * type cannot hold is an ERROR.
 */
extern char *change_value_text(const Walstar__V1__Value *value,
							   const Walstar__V1__Column *column);

#endif							/* WALSTAR_CHANGE_VALUE_H */
