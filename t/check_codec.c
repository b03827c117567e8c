/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Tests for codec.c: a job record survives encode and decode field by
 * field, and every malformed record (truncated, mistyped, oversized, not
 * a map, too long, random bytes) decodes as -1, never as a crash or as a
 * job that breaks the limits of struct job.  State and source names
 * parse back to their numbers.
 */

#include <sys/types.h>

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "quire.h"
#include "tlib.h"

#define FUZZ_ROUNDS	4000

/* A small deterministic generator, so a failing input can be replayed. */
static uint64_t	 fuzz_state;

static uint64_t
fuzz_next(void)
{
	fuzz_state ^= fuzz_state << 13;
	fuzz_state ^= fuzz_state >> 7;
	fuzz_state ^= fuzz_state << 17;
	return (fuzz_state);
}

/* Every field at its longest or largest, each one distinct. */
static void
job_fill_max(struct job *j)
{
	size_t	 i;

	memset(j, 0, sizeof(*j));
	j->j_id = UINT64_MAX;
	for (i = 0; i < JOB_KEY_MAX; i++)
		j->j_key[i] = 'a' + i % 26;
	for (i = 0; i < JOB_TENANT_MAX; i++)
		j->j_tenant[i] = 'A' + i % 26;
	j->j_tenant_id = UINT32_MAX;
	j->j_prio = JOB_PRIO_MAX;
	j->j_size = UINT64_MAX - 1;
	j->j_srckind = SRC_NKINDS - 1;
	for (i = 0; i < JOB_PATH_MAX; i++)
		j->j_path[i] = i % 64 == 0 ? '/' : '0' + i % 10;
	j->j_off = UINT64_MAX - 2;
	j->j_len = UINT64_MAX - 3;
	j->j_state = JOB_NSTATES - 1;
	j->j_attempts = UINT32_MAX;
	j->j_crashes = UINT32_MAX - 1;
	j->j_lease_slot = UINT32_MAX - 2;
	j->j_lease_pid = UINT32_MAX - 3;
	j->j_lease_gen = UINT64_MAX - 4;
	j->j_lease_deadline = UINT64_MAX - 5;
	j->j_progress = UINT64_MAX - 6;
	j->j_cancel = 1;
	j->j_created = UINT64_MAX - 7;
	j->j_updated = UINT64_MAX - 8;
	j->j_runat = UINT64_MAX - 9;
	for (i = 0; i < JOB_ERROR_MAX - 1; i++)
		j->j_error[i] = 'z' - i % 26;
	for (i = 0; i < JOB_LANG_MAX; i++)
		j->j_lang[i] = 'a' + i % 3;
}

/* Small distinct values; no key and no error, so both are left out. */
static void
job_fill_small(struct job *j)
{
	memset(j, 0, sizeof(*j));
	j->j_id = 1;
	strlcpy(j->j_tenant, "default", sizeof(j->j_tenant));
	j->j_tenant_id = 2;
	j->j_prio = 3;
	j->j_size = 4;
	j->j_srckind = SRC_SPOOL;
	strlcpy(j->j_path, "spool/0001", sizeof(j->j_path));
	j->j_off = 5;
	j->j_len = 6;
	j->j_state = JOB_RETRY;
	j->j_attempts = 7;
	j->j_crashes = 8;
	j->j_lease_slot = 9;
	j->j_lease_pid = 10;
	j->j_lease_gen = 11;
	j->j_lease_deadline = 12;
	j->j_progress = 13;
	j->j_cancel = 0;
	j->j_created = 14;
	j->j_updated = 15;
	j->j_runat = 16;
}

static void
job_assert_eq(const struct job *a, const struct job *b)
{
	ck_assert_uint_eq(a->j_id, b->j_id);
	ck_assert_str_eq(a->j_key, b->j_key);
	ck_assert_str_eq(a->j_tenant, b->j_tenant);
	ck_assert_uint_eq(a->j_tenant_id, b->j_tenant_id);
	ck_assert_int_eq(a->j_prio, b->j_prio);
	ck_assert_uint_eq(a->j_size, b->j_size);
	ck_assert_int_eq(a->j_srckind, b->j_srckind);
	ck_assert_str_eq(a->j_path, b->j_path);
	ck_assert_uint_eq(a->j_off, b->j_off);
	ck_assert_uint_eq(a->j_len, b->j_len);
	ck_assert_int_eq(a->j_state, b->j_state);
	ck_assert_uint_eq(a->j_attempts, b->j_attempts);
	ck_assert_uint_eq(a->j_crashes, b->j_crashes);
	ck_assert_uint_eq(a->j_lease_slot, b->j_lease_slot);
	ck_assert_uint_eq(a->j_lease_pid, b->j_lease_pid);
	ck_assert_uint_eq(a->j_lease_gen, b->j_lease_gen);
	ck_assert_uint_eq(a->j_lease_deadline, b->j_lease_deadline);
	ck_assert_uint_eq(a->j_progress, b->j_progress);
	ck_assert_int_eq(a->j_cancel, b->j_cancel);
	ck_assert_uint_eq(a->j_created, b->j_created);
	ck_assert_uint_eq(a->j_updated, b->j_updated);
	ck_assert_uint_eq(a->j_runat, b->j_runat);
	ck_assert_str_eq(a->j_error, b->j_error);
	ck_assert_str_eq(a->j_lang, b->j_lang);
}

/* What a successful decode must guarantee to the code that uses a job. */
static void
job_assert_sane(const struct job *j)
{
	ck_assert_uint_lt(strnlen(j->j_key, sizeof(j->j_key)),
	    sizeof(j->j_key));
	ck_assert_uint_lt(strnlen(j->j_tenant, sizeof(j->j_tenant)),
	    sizeof(j->j_tenant));
	ck_assert_uint_lt(strnlen(j->j_path, sizeof(j->j_path)),
	    sizeof(j->j_path));
	ck_assert_uint_lt(strnlen(j->j_error, sizeof(j->j_error)),
	    sizeof(j->j_error));
	ck_assert_uint_lt(strnlen(j->j_lang, sizeof(j->j_lang)),
	    sizeof(j->j_lang));
	ck_assert_int_ge(j->j_prio, JOB_PRIO_MIN);
	ck_assert_int_le(j->j_prio, JOB_PRIO_MAX);
	ck_assert_int_ge(j->j_state, 0);
	ck_assert_int_lt(j->j_state, JOB_NSTATES);
	ck_assert_int_ge(j->j_srckind, 0);
	ck_assert_int_lt(j->j_srckind, SRC_NKINDS);
	ck_assert(j->j_cancel == 0 || j->j_cancel == 1);
}

static void
roundtrip(const struct job *in)
{
	msgpack_sbuffer	 sb;
	struct job	 out;

	msgpack_sbuffer_init(&sb);
	ck_assert_int_eq(codec_job_encode(in, &sb), 0);
	ck_assert_uint_gt(sb.size, 0);
	ck_assert_uint_le(sb.size, CODEC_RECORD_MAX);
	/* Decoding overwrites whatever the job held before. */
	memset(&out, 0x5a, sizeof(out));
	ck_assert_int_eq(codec_job_decode(sb.data, sb.size, &out), 0);
	job_assert_eq(in, &out);
	msgpack_sbuffer_destroy(&sb);
}

/* Record building for hand-made (mostly malformed) records. */

static void
pk_key(msgpack_packer *pk, const char *k)
{
	msgpack_pack_str(pk, strlen(k));
	msgpack_pack_str_body(pk, k, strlen(k));
}

static void
pk_uint(msgpack_packer *pk, const char *k, uint64_t v)
{
	pk_key(pk, k);
	msgpack_pack_uint64(pk, v);
}

static void
pk_strn(msgpack_packer *pk, const char *k, const char *v, size_t len)
{
	pk_key(pk, k);
	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, v, len);
}

static int
decode_sb(const msgpack_sbuffer *sb, struct job *j)
{
	return (codec_job_decode(sb->data, sb->size, j));
}

/* { id: 7, name: a string of len bytes c } */
static int
decode_str_field(const char *name, size_t len, int c, struct job *j)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	char		*s;
	int		 rv;

	s = malloc(len + 1);
	ck_assert_ptr_nonnull(s);
	memset(s, c, len);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	pk_uint(&pk, "id", 7);
	pk_strn(&pk, name, s, len);
	rv = decode_sb(&sb, j);
	msgpack_sbuffer_destroy(&sb);
	free(s);
	return (rv);
}

enum wrong { W_STR, W_NEG, W_FLOAT, W_NIL, W_BOOL, W_UINT, W_BIN, W_ARRAY };

/* { id: 7, name: a value of the given kind } or { id: value }. */
static int
decode_wrong(const char *name, enum wrong w)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	struct job	 j;
	int		 rv;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (strcmp(name, "id") == 0)
		msgpack_pack_map(&pk, 1);
	else {
		msgpack_pack_map(&pk, 2);
		pk_uint(&pk, "id", 7);
	}
	pk_key(&pk, name);
	switch (w) {
	case W_STR:
		msgpack_pack_str(&pk, 1);
		msgpack_pack_str_body(&pk, "1", 1);
		break;
	case W_NEG:
		msgpack_pack_int64(&pk, -1);
		break;
	case W_FLOAT:
		msgpack_pack_double(&pk, 1.0);
		break;
	case W_NIL:
		msgpack_pack_nil(&pk);
		break;
	case W_BOOL:
		msgpack_pack_true(&pk);
		break;
	case W_UINT:
		msgpack_pack_uint64(&pk, 1);
		break;
	case W_BIN:
		msgpack_pack_bin(&pk, 1);
		msgpack_pack_bin_body(&pk, "1", 1);
		break;
	case W_ARRAY:
		msgpack_pack_array(&pk, 1);
		msgpack_pack_uint64(&pk, 1);
		break;
	}
	rv = decode_sb(&sb, &j);
	msgpack_sbuffer_destroy(&sb);
	return (rv);
}

static const char *num_fields[] = {
	"id", "tid", "pri", "size", "src", "off", "len", "st", "att", "cr",
	"lslot", "lpid", "lgen", "ldl", "prog", "ct", "ut", "run"
};
static const char *str_fields[] = { "key", "ten", "path", "err", "lang" };

START_TEST(test_roundtrip_max)
{
	struct job	 j;

	job_fill_max(&j);
	ck_assert_uint_eq(strlen(j.j_key), JOB_KEY_MAX);
	ck_assert_uint_eq(strlen(j.j_tenant), JOB_TENANT_MAX);
	ck_assert_uint_eq(strlen(j.j_path), JOB_PATH_MAX);
	ck_assert_uint_eq(strlen(j.j_error), JOB_ERROR_MAX - 1);
	ck_assert_uint_eq(strlen(j.j_lang), JOB_LANG_MAX);
	roundtrip(&j);
}
END_TEST

START_TEST(test_roundtrip_small)
{
	struct job	 j;

	job_fill_small(&j);
	roundtrip(&j);
}
END_TEST

START_TEST(test_roundtrip_states_sources)
{
	struct job	 j;
	int		 st, src;

	for (st = 0; st < JOB_NSTATES; st++) {
		for (src = 0; src < SRC_NKINDS; src++) {
			job_fill_small(&j);
			j.j_state = st;
			j.j_srckind = src;
			j.j_cancel = st & 1;
			j.j_prio = (st + src) % (JOB_PRIO_MAX + 1);
			strlcpy(j.j_key, "k", sizeof(j.j_key));
			strlcpy(j.j_error, "e", sizeof(j.j_error));
			strlcpy(j.j_lang, st & 1 ? "en" : "", sizeof(j.j_lang));
			roundtrip(&j);
		}
	}
}
END_TEST

START_TEST(test_encode_rejects_bad_enums)
{
	msgpack_sbuffer	 sb;
	struct job	 j;

	msgpack_sbuffer_init(&sb);
	job_fill_small(&j);
	j.j_state = JOB_NSTATES;
	ck_assert_int_eq(codec_job_encode(&j, &sb), -1);
	j.j_state = -1;
	ck_assert_int_eq(codec_job_encode(&j, &sb), -1);
	job_fill_small(&j);
	j.j_srckind = SRC_NKINDS;
	ck_assert_int_eq(codec_job_encode(&j, &sb), -1);
	j.j_srckind = -1;
	ck_assert_int_eq(codec_job_encode(&j, &sb), -1);
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(test_minimal_and_missing_id)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	struct job	 j;

	/* Only the id is required; everything else defaults to zero. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	pk_uint(&pk, "id", 7);
	ck_assert_int_eq(decode_sb(&sb, &j), 0);
	ck_assert_uint_eq(j.j_id, 7);
	ck_assert_int_eq(j.j_state, JOB_READY);
	ck_assert_str_eq(j.j_key, "");
	ck_assert_str_eq(j.j_tenant, "");

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 2);
	pk_strn(&pk, "ten", "acme", 4);
	pk_uint(&pk, "st", JOB_DONE);
	ck_assert_int_eq(decode_sb(&sb, &j), -1);

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 0);
	ck_assert_int_eq(decode_sb(&sb, &j), -1);
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(test_unknown_fields_skipped)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	struct job	 j;

	/* Fields from a later version, of any type, are skipped. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 5);
	pk_uint(&pk, "id", 9);
	pk_key(&pk, "future");
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_double(&pk, 2.5);
	msgpack_pack_map(&pk, 1);
	pk_strn(&pk, "a", "b", 1);
	pk_key(&pk, "neg");
	msgpack_pack_int64(&pk, -5);
	pk_key(&pk, "blob");
	msgpack_pack_bin(&pk, 3);
	msgpack_pack_bin_body(&pk, "\0\1\2", 3);
	pk_strn(&pk, "ten", "acme", 4);
	ck_assert_int_eq(decode_sb(&sb, &j), 0);
	ck_assert_uint_eq(j.j_id, 9);
	ck_assert_str_eq(j.j_tenant, "acme");
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(test_truncated)
{
	msgpack_sbuffer	 sb;
	struct job	 j;
	char		*copy;
	size_t		 len;
	int		 pass;

	for (pass = 0; pass < 2; pass++) {
		if (pass == 0)
			job_fill_max(&j);
		else
			job_fill_small(&j);
		msgpack_sbuffer_init(&sb);
		ck_assert_int_eq(codec_job_encode(&j, &sb), 0);
		/* A copy of each prefix, so a read past it is caught. */
		for (len = 0; len < sb.size; len++) {
			copy = malloc(len > 0 ? len : 1);
			ck_assert_ptr_nonnull(copy);
			memcpy(copy, sb.data, len);
			ck_assert_msg(codec_job_decode(copy, len, &j) == -1,
			    "prefix of %zu of %zu bytes decoded", len,
			    sb.size);
			free(copy);
		}
		ck_assert_int_eq(codec_job_decode(sb.data, sb.size, &j), 0);
		msgpack_sbuffer_destroy(&sb);
	}
}
END_TEST

START_TEST(test_wrong_types)
{
	size_t	 i;

	for (i = 0; i < sizeof(num_fields) / sizeof(num_fields[0]); i++) {
		ck_assert_int_eq(decode_wrong(num_fields[i], W_UINT), 0);
		ck_assert_int_eq(decode_wrong(num_fields[i], W_STR), -1);
		ck_assert_int_eq(decode_wrong(num_fields[i], W_NEG), -1);
		ck_assert_int_eq(decode_wrong(num_fields[i], W_FLOAT), -1);
		ck_assert_int_eq(decode_wrong(num_fields[i], W_NIL), -1);
		ck_assert_int_eq(decode_wrong(num_fields[i], W_BOOL), -1);
		ck_assert_int_eq(decode_wrong(num_fields[i], W_ARRAY), -1);
	}
	for (i = 0; i < sizeof(str_fields) / sizeof(str_fields[0]); i++) {
		ck_assert_int_eq(decode_wrong(str_fields[i], W_STR), 0);
		ck_assert_int_eq(decode_wrong(str_fields[i], W_UINT), -1);
		ck_assert_int_eq(decode_wrong(str_fields[i], W_BIN), -1);
		ck_assert_int_eq(decode_wrong(str_fields[i], W_NIL), -1);
		ck_assert_int_eq(decode_wrong(str_fields[i], W_ARRAY), -1);
	}
	ck_assert_int_eq(decode_wrong("cx", W_BOOL), 0);
	ck_assert_int_eq(decode_wrong("cx", W_UINT), -1);
	ck_assert_int_eq(decode_wrong("cx", W_STR), -1);
	ck_assert_int_eq(decode_wrong("cx", W_NIL), -1);
}
END_TEST

START_TEST(test_number_ranges)
{
	static const struct {
		const char	*name;
		uint64_t	 max;
	} r[] = {
		{ "tid", UINT32_MAX }, { "pri", JOB_PRIO_MAX },
		{ "src", SRC_NKINDS - 1 }, { "st", JOB_NSTATES - 1 },
		{ "att", UINT32_MAX }, { "cr", UINT32_MAX },
		{ "lslot", UINT32_MAX }, { "lpid", UINT32_MAX },
	};
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	struct job	 j;
	size_t		 i;
	int		 over;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		for (over = 0; over < 2; over++) {
			msgpack_sbuffer_clear(&sb);
			msgpack_pack_map(&pk, 2);
			pk_uint(&pk, "id", 7);
			pk_uint(&pk, r[i].name, r[i].max + over);
			ck_assert_msg(decode_sb(&sb, &j) == (over ? -1 : 0),
			    "%s = %llu", r[i].name,
			    (unsigned long long)r[i].max + over);
		}
	}
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 1);
	pk_uint(&pk, "id", 0);
	ck_assert_int_eq(decode_sb(&sb, &j), 0);
	ck_assert_uint_eq(j.j_id, 0);
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(test_oversize_strings)
{
	struct job	 j;

	ck_assert_int_eq(decode_str_field("key", JOB_KEY_MAX, 'k', &j), 0);
	ck_assert_uint_eq(strlen(j.j_key), JOB_KEY_MAX);
	ck_assert_int_eq(decode_str_field("key", JOB_KEY_MAX + 1, 'k', &j),
	    -1);
	ck_assert_int_eq(decode_str_field("ten", JOB_TENANT_MAX, 't', &j), 0);
	ck_assert_uint_eq(strlen(j.j_tenant), JOB_TENANT_MAX);
	ck_assert_int_eq(decode_str_field("ten", JOB_TENANT_MAX + 1, 't', &j),
	    -1);
	ck_assert_int_eq(decode_str_field("path", JOB_PATH_MAX, 'p', &j), 0);
	ck_assert_uint_eq(strlen(j.j_path), JOB_PATH_MAX);
	ck_assert_int_eq(decode_str_field("path", JOB_PATH_MAX + 1, 'p', &j),
	    -1);
	ck_assert_int_eq(decode_str_field("err", JOB_ERROR_MAX - 1, 'e', &j),
	    0);
	ck_assert_uint_eq(strlen(j.j_error), JOB_ERROR_MAX - 1);
	ck_assert_int_eq(decode_str_field("err", JOB_ERROR_MAX, 'e', &j), -1);
	ck_assert_int_eq(decode_str_field("lang", JOB_LANG_MAX, 'l', &j), 0);
	ck_assert_uint_eq(strlen(j.j_lang), JOB_LANG_MAX);
	ck_assert_int_eq(decode_str_field("lang", JOB_LANG_MAX + 1, 'l', &j),
	    -1);
	/* A NUL inside a string would cut it short: refused. */
	ck_assert_int_eq(decode_str_field("key", 3, '\0', &j), -1);
}
END_TEST

START_TEST(test_not_a_map)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	struct job	 j;
	int		 i;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);

	msgpack_pack_array(&pk, 2);
	pk_uint(&pk, "id", 7);
	ck_assert_int_eq(decode_sb(&sb, &j), -1);
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_uint64(&pk, 7);
	ck_assert_int_eq(decode_sb(&sb, &j), -1);
	msgpack_sbuffer_clear(&sb);
	pk_key(&pk, "id");
	ck_assert_int_eq(decode_sb(&sb, &j), -1);
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_nil(&pk);
	ck_assert_int_eq(decode_sb(&sb, &j), -1);

	/* A map whose key is not a string. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 2);
	pk_uint(&pk, "id", 7);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 2);
	ck_assert_int_eq(decode_sb(&sb, &j), -1);

	/* Two records back to back, or trailing bytes, are not one record. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 1);
	pk_uint(&pk, "id", 7);
	ck_assert_int_eq(decode_sb(&sb, &j), 0);
	msgpack_pack_map(&pk, 1);
	pk_uint(&pk, "id", 8);
	ck_assert_int_eq(decode_sb(&sb, &j), -1);
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 1);
	pk_uint(&pk, "id", 7);
	msgpack_pack_nil(&pk);
	ck_assert_int_eq(decode_sb(&sb, &j), -1);

	/* More entries than any record has. */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 65);
	pk_uint(&pk, "id", 7);
	for (i = 0; i < 64; i++)
		pk_uint(&pk, "x", i);
	ck_assert_int_eq(decode_sb(&sb, &j), -1);
	msgpack_sbuffer_destroy(&sb);

	ck_assert_int_eq(codec_job_decode("", 0, &j), -1);
}
END_TEST

START_TEST(test_record_too_long)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	struct job	 j;
	char		*pad;
	size_t		 n = CODEC_RECORD_MAX - 64;

	pad = calloc(1, CODEC_RECORD_MAX + 1);
	ck_assert_ptr_nonnull(pad);
	memset(pad, 'x', CODEC_RECORD_MAX);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	pk_uint(&pk, "id", 7);
	pk_strn(&pk, "pad", pad, n);
	/* Pad to exactly the limit (the string header keeps its width). */
	n += CODEC_RECORD_MAX - sb.size;
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 2);
	pk_uint(&pk, "id", 7);
	pk_strn(&pk, "pad", pad, n);
	ck_assert_uint_eq(sb.size, CODEC_RECORD_MAX);
	ck_assert_int_eq(decode_sb(&sb, &j), 0);
	ck_assert_uint_eq(j.j_id, 7);

	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 2);
	pk_uint(&pk, "id", 7);
	pk_strn(&pk, "pad", pad, n + 1);
	ck_assert_uint_eq(sb.size, CODEC_RECORD_MAX + 1);
	ck_assert_int_eq(decode_sb(&sb, &j), -1);
	msgpack_sbuffer_destroy(&sb);
	free(pad);
}
END_TEST

START_TEST(test_huge_counts)
{
	static const struct {
		const char	*b;
		size_t		 len;
	} recs[] = {
		/* array32 and map32 of about 4G entries, with no entries */
		{ "\xdd\xff\xff\xff\xff", 5 },
		{ "\xdf\xff\xff\xff\xff", 5 },
		{ "\xdf\x7f\xff\xff\xff\xa2id\x07", 9 },
		/* map16 of 65535 entries holding one */
		{ "\xde\xff\xff\xa2id\x07", 7 },
		/* { id: 7, x: array32 of 2^31 entries } */
		{ "\x82\xa2id\x07\xa1x\xdd\x80\x00\x00\x00", 12 },
		/* { id: 7, x: str32 of 4G bytes } */
		{ "\x82\xa2id\x07\xa1x\xdb\xff\xff\xff\xff", 12 },
		/* { id: 7, x: bin32 and ext32 of 4G bytes } */
		{ "\x82\xa2id\x07\xa1x\xc6\xff\xff\xff\xff", 12 },
		{ "\x82\xa2id\x07\xa1x\xc9\xff\xff\xff\xff\x01", 13 },
		/* the byte msgpack never uses */
		{ "\x81\xa2id\xc1", 5 },
	};
	struct job	 j;
	size_t		 i;

	for (i = 0; i < sizeof(recs) / sizeof(recs[0]); i++)
		ck_assert_msg(codec_job_decode(recs[i].b, recs[i].len, &j) ==
		    -1, "record %zu decoded", i);
}
END_TEST

START_TEST(test_deep_nesting)
{
	uint8_t		 buf[2048];
	struct job	 j;
	size_t		 len;

	/* { id: 7, x: [[[[ ... 1 ... ]]]] }, 2000 levels deep */
	memcpy(buf, "\x82\xa2id\x07\xa1x", 7);
	len = 7;
	while (len < sizeof(buf) - 1)
		buf[len++] = 0x91;
	buf[len++] = 0x01;
	ck_assert_int_eq(codec_job_decode(buf, len, &j), -1);
}
END_TEST

START_TEST(test_random_garbage)
{
	msgpack_sbuffer	 sb;
	struct job	 j, good;
	uint8_t		*buf;
	size_t		 len, i, k, nok = 0;
	int		 rv;

	fuzz_state = 0x9e3779b97f4a7c15ULL;
	buf = malloc(CODEC_RECORD_MAX);
	ck_assert_ptr_nonnull(buf);
	job_fill_small(&good);
	strlcpy(good.j_key, "key-1", sizeof(good.j_key));
	strlcpy(good.j_error, "boom", sizeof(good.j_error));
	msgpack_sbuffer_init(&sb);
	ck_assert_int_eq(codec_job_encode(&good, &sb), 0);

	for (i = 0; i < 3 * FUZZ_ROUNDS; i++) {
		switch (i % 3) {
		case 0:
			/* Random bytes. */
			len = 1 + fuzz_next() % 512;
			for (k = 0; k < len; k++)
				buf[k] = fuzz_next();
			break;
		case 1:
			/* A small map header, then random bytes. */
			len = 2 + fuzz_next() % 128;
			buf[0] = 0x80 | (fuzz_next() % 16);
			for (k = 1; k < len; k++)
				buf[k] = fuzz_next();
			break;
		default:
			/* A valid record with a few bytes changed. */
			len = sb.size;
			memcpy(buf, sb.data, len);
			for (k = 1 + fuzz_next() % 4; k > 0; k--)
				buf[fuzz_next() % len] = fuzz_next();
			if (fuzz_next() % 4 == 0)
				len = 1 + fuzz_next() % len;
			break;
		}
		rv = codec_job_decode(buf, len, &j);
		ck_assert_msg(rv == 0 || rv == -1, "input %zu: returned %d",
		    i, rv);
		if (rv == 0) {
			job_assert_sane(&j);
			nok++;
		}
	}
	/* The mutations leave some records valid, so both paths ran. */
	ck_assert_uint_gt(nok, 0);
	ck_assert_uint_lt(nok, 3 * FUZZ_ROUNDS);
	msgpack_sbuffer_destroy(&sb);
	free(buf);
}
END_TEST

START_TEST(test_state_names)
{
	static const char *names[JOB_NSTATES] = {
		"ready", "leased", "retry", "done", "dead", "cancelled"
	};
	int	 i;

	for (i = 0; i < JOB_NSTATES; i++) {
		ck_assert_str_eq(codec_state_name(i), names[i]);
		ck_assert_int_eq(codec_state_parse(names[i]), i);
	}
	ck_assert_str_eq(codec_state_name(-1), "unknown");
	ck_assert_str_eq(codec_state_name(JOB_NSTATES), "unknown");
	ck_assert_int_eq(codec_state_parse("unknown"), -1);
	ck_assert_int_eq(codec_state_parse(""), -1);
	ck_assert_int_eq(codec_state_parse("READY"), -1);
	ck_assert_int_eq(codec_state_parse("read"), -1);
	ck_assert_int_eq(codec_state_parse("readyx"), -1);
}
END_TEST

START_TEST(test_source_names)
{
	static const char *names[SRC_NKINDS] = {
		"path", "spool", "ndjson", "debug", "delete", "move"
	};
	int	 i;

	for (i = 0; i < SRC_NKINDS; i++) {
		ck_assert_str_eq(codec_source_name(i), names[i]);
		ck_assert_int_eq(codec_source_parse(names[i]), i);
	}
	ck_assert_str_eq(codec_source_name(-1), "unknown");
	ck_assert_str_eq(codec_source_name(SRC_NKINDS), "unknown");
	ck_assert_int_eq(codec_source_parse("unknown"), -1);
	ck_assert_int_eq(codec_source_parse(""), -1);
	ck_assert_int_eq(codec_source_parse("Path"), -1);
	ck_assert_int_eq(codec_source_parse("ndjso"), -1);
}
END_TEST

static Suite *
codec_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("codec");

	tc = tcase_create("roundtrip");
	tcase_add_test(tc, test_roundtrip_max);
	tcase_add_test(tc, test_roundtrip_small);
	tcase_add_test(tc, test_roundtrip_states_sources);
	tcase_add_test(tc, test_encode_rejects_bad_enums);
	tcase_add_test(tc, test_minimal_and_missing_id);
	tcase_add_test(tc, test_unknown_fields_skipped);
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_wrong_types);
	tcase_add_test(tc, test_number_ranges);
	tcase_add_test(tc, test_oversize_strings);
	tcase_add_test(tc, test_not_a_map);
	tcase_add_test(tc, test_record_too_long);
	tcase_add_test(tc, test_huge_counts);
	tcase_add_test(tc, test_deep_nesting);
	tcase_add_test(tc, test_random_garbage);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_test(tc, test_state_names);
	tcase_add_test(tc, test_source_names);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tlib_main("check_codec", codec_suite()));
}
