/*-------------------------------------------------------------------------
 *
 * percentile_ranks.c
 *		Where percentile_cont(fraction) falls in one value histogram.
 *
 * A model keeps a rollup row's percentiles in the row and computes them
 * again, in the apply transaction, for every row a batch changed: one read
 * of the row's value histogram, (value, count) in value order, per batch
 * and row. In SQL that read is a running sum (two window passes) per
 * fraction; here it is one pass over the counts for every fraction of the
 * histogram. Only the ranks are found here; the values are interpolated in
 * SQL, with the value type's own operators, exactly as percentile_cont
 * does (lo + (hi - lo) * part), so the result is the same bit for bit.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "walstar.h"

/* The elements of a one-dimensional float8 array without NULLs. */
static float8 *
float8_elements(ArrayType *a, const char *what, int *n)
{
	if (ARR_ELEMTYPE(a) != FLOAT8OID)
		elog(ERROR, "walstar._percentile_ranks: %s must be double precision[]", what);
	if (ARR_NDIM(a) > 1 || ARR_HASNULL(a))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("%s must be a one-dimensional array without NULLs", what)));
	*n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
	return (float8 *) ARR_DATA_PTR(a);
}

/*
 * walstar._percentile_ranks(counts float8[], fractions float8[]) -> float8[]
 *
 * counts: how many times each value occurs, in value order (each > 0).
 * For each fraction f, three elements: the 1-based positions of the values
 * at the 0-based ranks floor(f * (n - 1)) and ceil(f * (n - 1)), n the sum
 * of the counts, and part = f * (n - 1) - floor(f * (n - 1)), 0 where the
 * two ranks are one. NULL for an empty histogram (percentile_cont of no
 * rows). The counts are summed as double precision, as the SQL running
 * sums do: exact below 2^53.
 */
PG_FUNCTION_INFO_V1(walstar_percentile_ranks);

Datum
walstar_percentile_ranks(PG_FUNCTION_ARGS)
{
	int			ncounts;
	int			nfracs;
	float8	   *counts = float8_elements(PG_GETARG_ARRAYTYPE_P(0), "counts", &ncounts);
	float8	   *fracs = float8_elements(PG_GETARG_ARRAYTYPE_P(1), "fractions", &nfracs);
	float8		n = 0;
	Datum	   *out;

	for (int i = 0; i < ncounts; i++)
	{
		if (!(counts[i] > 0))
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("a histogram count must be positive, got %g", counts[i])));
		n += counts[i];
	}
	if (n == 0)
		PG_RETURN_NULL();
	out = palloc(sizeof(Datum) * 3 * (Size) nfracs);
	for (int f = 0; f < nfracs; f++)
	{
		float8		rk;
		float8		lo_rank;
		float8		hi_rank;
		float8		upto = 0;
		int			lo = 0;
		int			hi = 0;

		if (!(fracs[f] >= 0 && fracs[f] <= 1))
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("a fraction must be between 0 and 1, got %g", fracs[f])));
		rk = fracs[f] * (n - 1);
		lo_rank = floor(rk);
		hi_rank = ceil(rk);
		/* the first value whose running count passes each rank */
		for (int i = 0; i < ncounts && hi == 0; i++)
		{
			upto += counts[i];
			if (lo == 0 && upto > lo_rank)
				lo = i + 1;
			if (upto > hi_rank)
				hi = i + 1;
		}
		Assert(lo > 0 && hi >= lo);
		out[3 * f] = Float8GetDatum((float8) lo);
		out[3 * f + 1] = Float8GetDatum((float8) hi);
		out[3 * f + 2] = Float8GetDatum(lo_rank == hi_rank ? 0.0 : rk - lo_rank);
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(out, 3 * nfracs, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
										  TYPALIGN_DOUBLE));
}
