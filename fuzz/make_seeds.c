/*
 * make_seeds.c
 *		Writes the fuzz targets' seed corpus: real-shaped walstar records
 *		(every op with values of every kind, a key-changing UPDATE) and the
 *		concatenation of two records that once crashed the apply worker.
 *		Made by the build, so no binary lives in the tree.  With "options":
 *		option values for options_fuzz instead (kind byte, value, names).
 *
 *		make_seeds DIR [options]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "walstar.pb-c.h"

typedef Walstar__V1__Value Value;
typedef Walstar__V1__Column Column;
typedef Walstar__V1__Change Change;

static const char *dir;
static int	nseed;

static void
write_seed(const uint8_t *buf, size_t len)
{
	char		path[4096];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/seed%02d", dir, nseed++);
	if ((f = fopen(path, "wb")) == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
	{
		perror(path);
		exit(1);
	}
}

static size_t
pack(const Change *c, uint8_t **out)
{
	size_t		len = walstar__v1__change__get_packed_size(c);

	*out = malloc(len ? len : 1);
	walstar__v1__change__pack(c, *out);
	return len;
}

/* options_fuzz inputs: kind (0 tables, 1 columns, 2 format, 3 salt id),
 * the value, then NUL-separated names. */
static void
option_seeds(void)
{
	static const struct
	{
		char		kind;
		const char *value;
		const char *names[3];
	}			seeds[] = {
		{0, "public.orders_*, sales.*", {"public", "orders_2024", NULL}},
		{0, "public.odd\\.name,\\ x.y\\,z", {"public", "odd.name", NULL}},
		{0, "a*a*a*a*a*a*a*b.*", {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", "t", NULL}},
		{1, "public.users.email,*.*.ssn", {"public", "users", "email"}},
		{1, "s.t.c\\*,  ,x", {"s", "t", "c*"}},
		{2, "json", {NULL, NULL, NULL}},
		{2, "protobuf", {NULL, NULL, NULL}},
		{3, "0123456789abcdef", {NULL, NULL, NULL}},
	};
	size_t		i;

	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
	{
		uint8_t		buf[512];
		size_t		len = 0;
		int			k;

		buf[len++] = (uint8_t) seeds[i].kind;
		memcpy(buf + len, seeds[i].value, strlen(seeds[i].value));
		len += strlen(seeds[i].value);
		for (k = 0; k < 3 && seeds[i].names[k]; k++)
		{
			buf[len++] = '\0';
			memcpy(buf + len, seeds[i].names[k], strlen(seeds[i].names[k]));
			len += strlen(seeds[i].names[k]);
		}
		write_seed(buf, len);
	}
}

int
main(int argc, char **argv)
{
	Column		cols[6];
	Column	   *colp[6];
	Value		nv[6],
				ov[6];
	Value	   *nvp[6],
			   *ovp[6];
	Walstar__V1__Interval iv = WALSTAR__V1__INTERVAL__INIT;
	Walstar__V1__Commit commit = WALSTAR__V1__COMMIT__INIT;
	static uint8_t uuid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	static const char *names[6] = {"id", "name", "price", "at", "tag", "span"};
	static const char *types[6] = {"integer", "text", "numeric(10,2)",
	"timestamp with time zone", "uuid", "interval"};
	Change		c = WALSTAR__V1__CHANGE__INIT;
	uint8_t    *ins,
			   *del,
			   *buf;
	size_t		ins_len,
				del_len,
				len;
	int			i;

	if (argc != 2 && !(argc == 3 && strcmp(argv[2], "options") == 0))
	{
		fprintf(stderr, "usage: make_seeds DIR [options]\n");
		return 2;
	}
	dir = argv[1];
	if (argc == 3)
	{
		option_seeds();
		return 0;
	}
	for (i = 0; i < 6; i++)
	{
		walstar__v1__column__init(&cols[i]);
		cols[i].name = (char *) names[i];
		cols[i].type_name = (char *) types[i];
		cols[i].landing_type = (char *) types[i];
		cols[i].is_key = (i == 0);
		colp[i] = &cols[i];
		walstar__v1__value__init(&nv[i]);
		walstar__v1__value__init(&ov[i]);
		nvp[i] = &nv[i];
		ovp[i] = &ov[i];
	}
	nv[0].kind_case = WALSTAR__V1__VALUE__KIND_INT_VALUE;
	nv[0].int_value = 42;
	nv[1].kind_case = WALSTAR__V1__VALUE__KIND_TEXT_VALUE;
	nv[1].text_value = "caf\xc3\xa9";
	nv[2].kind_case = WALSTAR__V1__VALUE__KIND_NUMERIC_VALUE;
	nv[2].numeric_value = "12.50";
	nv[3].kind_case = WALSTAR__V1__VALUE__KIND_TIMESTAMP_VALUE;
	nv[3].timestamp_value = 1714564800000000;
	nv[4].kind_case = WALSTAR__V1__VALUE__KIND_UUID_VALUE;
	nv[4].uuid_value.data = uuid;
	nv[4].uuid_value.len = 16;
	iv.months = 1;
	iv.days = 2;
	iv.micros = 3;
	nv[5].kind_case = WALSTAR__V1__VALUE__KIND_INTERVAL_VALUE;
	nv[5].interval_value = &iv;
	ov[0].kind_case = WALSTAR__V1__VALUE__KIND_INT_VALUE;
	ov[0].int_value = 41;

	c.version = 1;
	c.source = "shop";
	c.schema = "public";
	c.table = "items";
	c.n_columns = 6;
	c.columns = colp;
	c.commit_lsn = 0x1000000;
	c.commit_time = 1714564800000000;
	c.position = 1;

	c.op = WALSTAR__V1__OP__INSERT;
	c.n_new_values = 6;
	c.new_values = nvp;
	ins_len = pack(&c, &ins);
	write_seed(ins, ins_len);

	c.op = WALSTAR__V1__OP__UPDATE;	/* key change 41 -> 42 */
	c.n_old_values = 6;
	c.old_values = ovp;
	nv[1].kind_case = WALSTAR__V1__VALUE__KIND_UNCHANGED_TOAST;
	nv[1].unchanged_toast = 1;
	len = pack(&c, &buf);
	write_seed(buf, len);
	free(buf);
	nv[1].kind_case = WALSTAR__V1__VALUE__KIND_TEXT_VALUE;

	c.op = WALSTAR__V1__OP__DELETE;
	c.n_new_values = 0;
	c.new_values = NULL;
	del_len = pack(&c, &del);
	write_seed(del, del_len);

	/* two real records in one message: INSERT then DELETE */
	buf = malloc(ins_len + del_len);
	memcpy(buf, ins, ins_len);
	memcpy(buf + ins_len, del, del_len);
	write_seed(buf, ins_len + del_len);
	free(buf);

	memset(&c, 0, sizeof(c));
	walstar__v1__change__init(&c);
	c.version = 1;
	c.source = "shop";
	c.op = WALSTAR__V1__OP__COMMIT;
	commit.change_count = 3;
	commit.end_lsn = 0x1000100;
	c.commit = &commit;
	c.commit_lsn = 0x1000000;
	len = pack(&c, &buf);
	write_seed(buf, len);
	free(buf);

	c.op = WALSTAR__V1__OP__TRUNCATE;
	c.commit = NULL;
	c.schema = "public";
	c.table = "items";
	len = pack(&c, &buf);
	write_seed(buf, len);
	free(buf);

	/* the sink's HEARTBEAT after a failover: on timeline 2 */
	c.op = WALSTAR__V1__OP__HEARTBEAT;
	c.schema = c.table = NULL;
	c.system_id = UINT64_C(7312345678901234567);
	c.timeline = 2;
	c.lsn = c.commit_lsn = 0x2000000;
	c.commit_time = 1714564800000000;
	len = pack(&c, &buf);
	write_seed(buf, len);
	free(buf);
	free(ins);
	free(del);
	return 0;
}
