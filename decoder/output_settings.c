/*-------------------------------------------------------------------------
 *
 * output_settings.c
 *		Fixed session settings while the decoder turns a change into text.
 *
 * Values sent as output-function text (arrays, ranges, composites, timetz,
 * reg* types, ...), the text hashed for hash-columns, json floats and the
 * type names of column descriptions all depend on session settings.  A
 * walsender takes them from postgresql.conf, ALTER DATABASE / ALTER ROLE
 * and its startup packet; a backend calling pg_logical_slot_get_changes
 * has its user's.  With DateStyle 'SQL, DMY' a daterange would leave as
 * [10/03/2024,...) and be read back on the other side as October 3rd.
 *
 * So around each row change (and TRUNCATE) the decoder enters a new GUC
 * nest level, sets the fixed values at it and leaves it afterwards, as a
 * function's SET clause does.  The user's session is left as it was, also
 * when decoding fails: aborting the (sub)transaction the change callbacks
 * run in pops the level.  Setting them once for the whole decoding session
 * would be simpler, but rude to a backend that decodes with
 * pg_logical_slot_get_changes and then goes on with its own work.
 *
 * When the session already has these values -- walstar-sink sets them in
 * its startup packet -- nothing is pushed, so the hot path costs a few
 * comparisons per change.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/bytea.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/pg_locale.h"

#include "walstar_decoder.h"

/*
 * The fixed values, and whether the session already has one.  Any positive
 * extra_float_digits gives the shortest exact text; the DateStyle order
 * (MDY) only matters for input.
 */
static bool
datestyle_ok(void)
{
	return DateStyle == USE_ISO_DATES;
}

static bool
intervalstyle_ok(void)
{
	return IntervalStyle == INTSTYLE_POSTGRES;
}

static bool
timezone_ok(void)
{
	const char *name = pg_get_timezone_name(session_timezone);

	return name != NULL && strcmp(name, "UTC") == 0;
}

static bool
float_digits_ok(void)
{
	return extra_float_digits > 0;
}

static bool
bytea_ok(void)
{
	return bytea_output == BYTEA_OUTPUT_HEX;
}

static bool
monetary_ok(void)
{
	return locale_monetary != NULL && strcmp(locale_monetary, "C") == 0;
}

static bool
search_path_ok(void)
{
	return namespace_search_path != NULL &&
		strcmp(namespace_search_path, "pg_catalog") == 0;
}

typedef struct FixedSetting
{
	const char *name;			/* the GUC */
	const char *value;			/* what the decoder wants */
	bool		(*ok) (void);	/* does the session have it already? */
} FixedSetting;

static const FixedSetting fixed_settings[] = {
	{"DateStyle", "ISO, MDY", datestyle_ok},
	{"IntervalStyle", "postgres", intervalstyle_ok},
	{"TimeZone", "UTC", timezone_ok},
	{"extra_float_digits", "3", float_digits_ok},
	{"bytea_output", "hex", bytea_ok},
	{"lc_monetary", "C", monetary_ok},
	{"search_path", "pg_catalog", search_path_ok},
};

/*
 * Enter the fixed settings.  Returns the GUC nest level to hand to
 * output_settings_leave, or 0 when the session had them all already.
 * Called inside the transaction the decoding callbacks run in.
 */
int
output_settings_enter(void)
{
	int			level = 0;
	int			i;

	for (i = 0; i < (int) lengthof(fixed_settings); i++)
	{
		const FixedSetting *s = &fixed_settings[i];

		if (s->ok())
			continue;
		if (level == 0)
			level = NewGUCNestLevel();
		(void) set_config_option(s->name, s->value, PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, ERROR, false);
	}
	return level;
}

/* Back to the session's own settings. */
void
output_settings_leave(int level)
{
	if (level > 0)
		AtEOXact_GUC(true, level);
}
