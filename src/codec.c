/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Job records on disk.
 *
 * A job is stored in the queue's "jobs" database as one msgpack map with
 * short string keys, so fields can be added later and old readers skip
 * what they do not know:
 *
 *	id	uint	job id, global and never reused
 *	key	str	idempotency key (absent when none)
 *	ten	str	tenant name ("" is the default tenant)
 *	tid	uint	tenant number, used in scheduling keys
 *	pri	uint	priority 0 (lowest, default) to 9
 *	size	uint	bytes of input, for size tiers and budgets
 *	src	uint	source kind (enum job_source)
 *	path	str	file path, spool name, or debug command
 *	off	uint	NDJSON byte range start
 *	len	uint	NDJSON byte range length
 *	st	uint	state (enum job_state)
 *	att	uint	failed attempts
 *	cr	uint	lease holders that died with the job
 *	lslot	uint	lease owner's worker slot
 *	lpid	uint	lease owner's process id
 *	lgen	uint	lease generation (the fence for acks)
 *	ldl	uint	lease deadline, ms since the epoch
 *	prog	uint	progress reported by the worker
 *	cx	bool	cancel requested while leased
 *	ct	uint	created, ms since the epoch
 *	ut	uint	last state change, ms since the epoch
 *	run	uint	ready again at (retry), ms since the epoch
 *	err	str	last error or dead-letter reason
 *	lang	str	stemming language of the source (absent: default)
 *	xid	str	spool: the uploader's external id (absent: none)
 *	title	str	spool: the uploader's title (absent: none)
 *	ctype	str	spool: the uploader's content type (absent: sniff)
 *
 * Decoding is bounded: a record longer than CODEC_RECORD_MAX, one that is
 * not a map, has a field of the wrong type or a string longer than its
 * field, or is truncated, is an error return and never a crash.  Before
 * msgpack sees a record, codec_check() walks its items and refuses any
 * container that claims more entries than bytes remain: msgpack allocates
 * a container's entries when it meets the header, so five bytes could
 * otherwise ask for a map of four billion entries.  IPC frames (ipc.c)
 * go through the same check.
 */

#include <sys/types.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"

static const char *codec_states[JOB_NSTATES] = {
	"ready", "leased", "retry", "done", "dead", "cancelled"
};

static const char *codec_sources[SRC_NKINDS] = {
	"path", "spool", "ndjson", "debug", "delete", "move"
};

const char *
codec_state_name(int st)
{
	if (st < 0 || st >= JOB_NSTATES)
		return ("unknown");
	return (codec_states[st]);
}

int
codec_state_parse(const char *s)
{
	int	 i;

	for (i = 0; i < JOB_NSTATES; i++)
		if (strcmp(s, codec_states[i]) == 0)
			return (i);
	return (-1);
}

const char *
codec_source_name(int k)
{
	if (k < 0 || k >= SRC_NKINDS)
		return ("unknown");
	return (codec_sources[k]);
}

int
codec_source_parse(const char *s)
{
	int	 i;

	for (i = 0; i < SRC_NKINDS; i++)
		if (strcmp(s, codec_sources[i]) == 0)
			return (i);
	return (-1);
}

/* Pairs of a msgpack map whose keys are strings: the key, then a value. */
void
codec_pack_key(msgpack_packer *pk, const char *k)
{
	msgpack_pack_str(pk, strlen(k));
	msgpack_pack_str_body(pk, k, strlen(k));
}

void
codec_pack_str(msgpack_packer *pk, const char *k, const char *v)
{
	size_t	 len = strlen(v);

	codec_pack_key(pk, k);
	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, v, len);
}

void
codec_pack_uint(msgpack_packer *pk, const char *k, uint64_t v)
{
	codec_pack_key(pk, k);
	msgpack_pack_uint64(pk, v);
}

/* Append the record for j to sb (which the caller clears). */
int
codec_job_encode(const struct job *j, msgpack_sbuffer *sb)
{
	msgpack_packer	 pk;
	size_t		 n;

	if (j->j_state < 0 || j->j_state >= JOB_NSTATES ||
	    j->j_srckind < 0 || j->j_srckind >= SRC_NKINDS)
		return (-1);
	n = 21 + (j->j_key[0] != '\0') + (j->j_error[0] != '\0') +
	    (j->j_lang[0] != '\0') + (j->j_extid[0] != '\0') +
	    (j->j_title[0] != '\0') + (j->j_ctype[0] != '\0');
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, n);
	codec_pack_uint(&pk, "id", j->j_id);
	if (j->j_key[0] != '\0')
		codec_pack_str(&pk, "key", j->j_key);
	codec_pack_str(&pk, "ten", j->j_tenant);
	codec_pack_uint(&pk, "tid", j->j_tenant_id);
	codec_pack_uint(&pk, "pri", j->j_prio);
	codec_pack_uint(&pk, "size", j->j_size);
	codec_pack_uint(&pk, "src", j->j_srckind);
	codec_pack_str(&pk, "path", j->j_path);
	codec_pack_uint(&pk, "off", j->j_off);
	codec_pack_uint(&pk, "len", j->j_len);
	codec_pack_uint(&pk, "st", j->j_state);
	codec_pack_uint(&pk, "att", j->j_attempts);
	codec_pack_uint(&pk, "cr", j->j_crashes);
	codec_pack_uint(&pk, "lslot", j->j_lease_slot);
	codec_pack_uint(&pk, "lpid", j->j_lease_pid);
	codec_pack_uint(&pk, "lgen", j->j_lease_gen);
	codec_pack_uint(&pk, "ldl", j->j_lease_deadline);
	codec_pack_uint(&pk, "prog", j->j_progress);
	msgpack_pack_str(&pk, 2);
	msgpack_pack_str_body(&pk, "cx", 2);
	if (j->j_cancel)
		msgpack_pack_true(&pk);
	else
		msgpack_pack_false(&pk);
	codec_pack_uint(&pk, "ct", j->j_created);
	codec_pack_uint(&pk, "ut", j->j_updated);
	codec_pack_uint(&pk, "run", j->j_runat);
	if (j->j_error[0] != '\0')
		codec_pack_str(&pk, "err", j->j_error);
	if (j->j_lang[0] != '\0')
		codec_pack_str(&pk, "lang", j->j_lang);
	if (j->j_extid[0] != '\0')
		codec_pack_str(&pk, "xid", j->j_extid);
	if (j->j_title[0] != '\0')
		codec_pack_str(&pk, "title", j->j_title);
	if (j->j_ctype[0] != '\0')
		codec_pack_str(&pk, "ctype", j->j_ctype);
	return (sb->size > CODEC_RECORD_MAX ? -1 : 0);
}

enum codec_kind { CK_DATA, CK_ARRAY, CK_MAP, CK_BAD };

/* msgpack tags 0xc0 to 0xdf: bytes that follow, width of a length. */
static const struct codec_tag {
	uint8_t		 ct_fixed;
	uint8_t		 ct_width;
	uint8_t		 ct_kind;
} codec_tags[32] = {
	/* nil, (never used), false, true */
	{ 0, 0, CK_DATA }, { 0, 0, CK_BAD }, { 0, 0, CK_DATA },
	{ 0, 0, CK_DATA },
	/* bin 8, 16, 32; ext 8, 16, 32 (a type byte, then the data) */
	{ 0, 1, CK_DATA }, { 0, 2, CK_DATA }, { 0, 4, CK_DATA },
	{ 1, 1, CK_DATA }, { 1, 2, CK_DATA }, { 1, 4, CK_DATA },
	/* float 32, 64; uint 8 to 64; int 8 to 64 */
	{ 4, 0, CK_DATA }, { 8, 0, CK_DATA },
	{ 1, 0, CK_DATA }, { 2, 0, CK_DATA }, { 4, 0, CK_DATA },
	{ 8, 0, CK_DATA },
	{ 1, 0, CK_DATA }, { 2, 0, CK_DATA }, { 4, 0, CK_DATA },
	{ 8, 0, CK_DATA },
	/* fixext 1 to 16 */
	{ 2, 0, CK_DATA }, { 3, 0, CK_DATA }, { 5, 0, CK_DATA },
	{ 9, 0, CK_DATA }, { 17, 0, CK_DATA },
	/* str 8, 16, 32; array 16, 32; map 16, 32 */
	{ 0, 1, CK_DATA }, { 0, 2, CK_DATA }, { 0, 4, CK_DATA },
	{ 0, 2, CK_ARRAY }, { 0, 4, CK_ARRAY },
	{ 0, 2, CK_MAP }, { 0, 4, CK_MAP }
};

/*
 * Walk the items of one msgpack value that fills p[0..len) exactly.
 * need counts the items still to come; each takes at least one byte, so
 * a container whose entries cannot fit in what is left is malformed.
 */
int
codec_check(const uint8_t *p, size_t len)
{
	const struct codec_tag	*t;
	size_t			 off = 0, need = 1, i;
	uint64_t		 n;
	uint8_t			 b;
	int			 kind;

	while (need > 0) {
		need--;
		if (off >= len)
			return (-1);
		b = p[off++];
		if (b <= 0x7f || b >= 0xe0)
			continue;		/* fixint */
		if (b <= 0x9f) {
			kind = b <= 0x8f ? CK_MAP : CK_ARRAY;
			n = b & 0x0f;
		} else if (b <= 0xbf) {
			kind = CK_DATA;		/* fixstr */
			n = b & 0x1f;
		} else {
			t = &codec_tags[b - 0xc0];
			if ((kind = t->ct_kind) == CK_BAD ||
			    len - off < t->ct_width)
				return (-1);
			for (n = 0, i = 0; i < t->ct_width; i++)
				n = n << 8 | p[off++];
			n += t->ct_fixed;
		}
		if (kind == CK_MAP)
			n *= 2;
		if (kind == CK_DATA) {
			if (n > len - off)
				return (-1);
			off += n;
		} else {
			if (need + n > len - off)
				return (-1);
			need += n;
		}
	}
	return (off == len ? 0 : -1);
}

enum codec_type { CT_U64, CT_U32, CT_INT, CT_STR, CT_BOOL };

struct codec_field {
	const char	*cf_name;
	enum codec_type	 cf_type;
	size_t		 cf_off;
	size_t		 cf_size;	/* of a string member */
	uint64_t	 cf_max;	/* for numbers */
};

#define F_U64(n, m, max) { n, CT_U64, offsetof(struct job, m), 0, max }
#define F_U32(n, m, max) { n, CT_U32, offsetof(struct job, m), 0, max }
#define F_INT(n, m, max) { n, CT_INT, offsetof(struct job, m), 0, max }
#define F_STR(n, m) { n, CT_STR, offsetof(struct job, m), \
	sizeof(((struct job *)0)->m), 0 }

static const struct codec_field codec_fields[] = {
	F_U64("id", j_id, UINT64_MAX),
	F_STR("key", j_key),
	F_STR("ten", j_tenant),
	F_U32("tid", j_tenant_id, UINT32_MAX),
	F_INT("pri", j_prio, JOB_PRIO_MAX),
	F_U64("size", j_size, UINT64_MAX),
	F_INT("src", j_srckind, SRC_NKINDS - 1),
	F_STR("path", j_path),
	F_U64("off", j_off, UINT64_MAX),
	F_U64("len", j_len, UINT64_MAX),
	F_INT("st", j_state, JOB_NSTATES - 1),
	F_U32("att", j_attempts, UINT32_MAX),
	F_U32("cr", j_crashes, UINT32_MAX),
	F_U32("lslot", j_lease_slot, UINT32_MAX),
	F_U32("lpid", j_lease_pid, UINT32_MAX),
	F_U64("lgen", j_lease_gen, UINT64_MAX),
	F_U64("ldl", j_lease_deadline, UINT64_MAX),
	F_U64("prog", j_progress, UINT64_MAX),
	{ "cx", CT_BOOL, offsetof(struct job, j_cancel), 0, 1 },
	F_U64("ct", j_created, UINT64_MAX),
	F_U64("ut", j_updated, UINT64_MAX),
	F_U64("run", j_runat, UINT64_MAX),
	F_STR("err", j_error),
	F_STR("lang", j_lang),
	F_STR("xid", j_extid),
	F_STR("title", j_title),
	F_STR("ctype", j_ctype),
};

static int
codec_set(struct job *j, const struct codec_field *f, const msgpack_object *v)
{
	char		*dst = (char *)j + f->cf_off;
	uint64_t	 u;
	uint32_t	 u32;
	int		 i;

	switch (f->cf_type) {
	case CT_U64:
	case CT_U32:
	case CT_INT:
		if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return (-1);
		u = v->via.u64;
		if (u > f->cf_max)
			return (-1);
		if (f->cf_type == CT_U64)
			memcpy(dst, &u, sizeof(u));
		else if (f->cf_type == CT_U32) {
			u32 = (uint32_t)u;
			memcpy(dst, &u32, sizeof(u32));
		} else {
			i = (int)u;
			memcpy(dst, &i, sizeof(i));
		}
		return (0);
	case CT_STR:
		if (v->type != MSGPACK_OBJECT_STR ||
		    v->via.str.size >= f->cf_size)
			return (-1);
		/* An empty string may come with a NULL pointer. */
		if (v->via.str.size > 0 && (memchr(v->via.str.ptr, '\0',
		    v->via.str.size) != NULL))
			return (-1);
		if (v->via.str.size > 0)
			memcpy(dst, v->via.str.ptr, v->via.str.size);
		dst[v->via.str.size] = '\0';
		return (0);
	case CT_BOOL:
		if (v->type != MSGPACK_OBJECT_BOOLEAN)
			return (-1);
		i = v->via.boolean ? 1 : 0;
		memcpy(dst, &i, sizeof(i));
		return (0);
	}
	return (-1);
}

/* Decode one record into j; -1 on anything malformed. */
int
codec_job_decode(const void *data, size_t len, struct job *j)
{
	msgpack_unpacked	 up;
	msgpack_object		*o;
	msgpack_object_kv	*kv;
	const struct codec_field *f;
	size_t			 off = 0, i, k, n, nf, hint = 0;
	int			 rv = -1, seen_id = 0;

	memset(j, 0, sizeof(*j));
	if (len == 0 || len > CODEC_RECORD_MAX || codec_check(data, len) == -1)
		return (-1);
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, data, len, &off) !=
	    MSGPACK_UNPACK_SUCCESS || off != len)
		goto out;
	o = &up.data;
	if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size > 64)
		goto out;
	nf = sizeof(codec_fields) / sizeof(codec_fields[0]);
	for (i = 0; i < o->via.map.size; i++) {
		kv = &o->via.map.ptr[i];
		if (kv->key.type != MSGPACK_OBJECT_STR)
			goto out;
		/* Records keep the table's order: look after the last match. */
		for (n = 0; n < nf; n++) {
			k = (hint + n) % nf;
			f = &codec_fields[k];
			if (strlen(f->cf_name) != kv->key.via.str.size ||
			    memcmp(f->cf_name, kv->key.via.str.ptr,
			    kv->key.via.str.size) != 0)
				continue;
			if (codec_set(j, f, &kv->val) == -1)
				goto out;
			if (k == 0)
				seen_id = 1;
			hint = k + 1;
			break;
		}
	}
	if (seen_id)
		rv = 0;
out:
	msgpack_unpacked_destroy(&up);
	return (rv);
}
