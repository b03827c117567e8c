# quire: durable document ingestion and search on one Unix box. ISC license.
#
# The fault tests' end check, sourced after t/lib.sh.  A test submits
# documents with chk_submit, each with a unique id (ck-N), the word
# "quirecheck" and a word of its own (kNz), and every submission that
# quirectl acknowledged (exit 0) is recorded.  chk_verify then compares
# the index with a reference built from the acknowledged files by one
# fault-free process (quirectl ingest -w 1 on a fresh data directory):
#
#   lost        acknowledged, in the reference, not in the index, and not
#               in a dead letter with a reason
#   duplicated  a document found more than once
#   unexpected  a document in the index that is not in the reference
#               (nor in a submission that failed, which may have
#               committed before it failed)
#
# and fails unless all three are 0, quirectl check passes, every hit
# carries its own word, and no lease is held by a process that is gone.
# It prints one line: "checker: lost 0, duplicated 0, unexpected 0 ...".

CHK=$T/chk
# Documents go into CHK_BUCKETS buckets by a word of their own (qcbN),
# so that each search lists at most 10,000 of them: 1 bucket up to
# 10,000 documents, as many more as a soak needs.
: "${CHK_BUCKETS:=1}"
mkdir -p "$CHK"
: > "$CHK/acked"
: > "$CHK/unacked"
CHK_NEXT=1

# CHK_PAD words of filler text (letters only, drawn from a fixed
# vocabulary) follow each document's own words, for documents of a
# realistic size; 0 by default.
: "${CHK_PAD:=0}"

# chk_make N: write N new documents as one NDJSON file, named in CHK_FILE.
chk_make() {
	_n=$1
	CHK_FILE=$CHK/s$CHK_NEXT.ndjson
	awk -v a="$CHK_NEXT" -v n="$_n" -v b="$CHK_BUCKETS" -v pad="$CHK_PAD" \
	    'BEGIN {
	    srand(1)
	    for (w = 0; w < 5000 && pad > 0; w++) {
		v = ""
		for (c = 3 + int(rand() * 7); c > 0; c--)
			v = v sprintf("%c", 97 + int(rand() * 26))
		voc[w] = v
	    }
	    srand(a)
	    for (i = a; i < a + n; i++) {
		t = ""
		for (j = 0; j < pad; j++)
			t = t " " voc[int(rand() * rand() * 5000)]
		printf "{\"id\":\"ck-%d\",\"text\":\"quirecheck k%dz qcb%d " \
		    "alpha beta gamma%s\"}\n", i, i, i % b, t
	    } }' > "$CHK_FILE"
	CHK_NEXT=$((CHK_NEXT + _n))
}

# chk_send FILE [SUBMIT-OPTIONS...]: submit a file of chk_make's; returns
# quirectl's exit status.
chk_send() {
	_f=$1
	shift
	_rc=0
	ctl submit --ndjson "$_f" "$@" > "$CHK/submit.out" 2>&1 || _rc=$?
	if [ "$_rc" = 0 ]; then
		echo "$_f" >> "$CHK/acked"
	else
		echo "$_f" >> "$CHK/unacked"
	fi
	return "$_rc"
}

# chk_submit N [SUBMIT-OPTIONS...]: submit N new documents as one NDJSON
# file; returns quirectl's exit status.
chk_submit() {
	chk_make "$1"
	shift
	chk_send "$CHK_FILE" "$@"
}

# Jobs the acknowledged submissions made (one each: the files are small).
chk_jobs() {
	wc -l < "$CHK/acked" | tr -d ' '
}

# Ids of the documents that hold "quirecheck" in data directory $1,
# with a line "BAD id" for a hit whose snippet lacks the id's own word.
chk_ids() {
	_b=0
	while [ "$_b" -lt "$CHK_BUCKETS" ]; do
		"$QUIRECTL" -D "$1" search --json --exact -n 10000 "qcb$_b" |
		    jq -r '.hits[] | .id as $id |
		    ($id | ltrimstr("ck-")) as $n |
		    if (.snippet | contains("k" + $n + "z")) then $id
		    else "BAD " + $id end' || return 1
		_b=$((_b + 1))
	done
}

# chk_verify: the end check, against $DATA.
chk_verify() {
	_ref=$CHK/ref
	rm -rf "$_ref"
	if [ -s "$CHK/acked" ]; then
		# shellcheck disable=SC2046
		"$QUIRECTL" -D "$_ref" ingest -w 1 $(cat "$CHK/acked") \
		    > "$CHK/ref.out" 2>&1 ||
		    fail "checker: the reference ingest: $(cat "$CHK/ref.out")"
		chk_ids "$_ref" | sort > "$CHK/ref.ids"
	else
		: > "$CHK/ref.ids"
	fi
	chk_ids "$DATA" > "$CHK/got.all" ||
	    fail "checker: search failed"
	grep '^BAD ' "$CHK/got.all" > "$CHK/bad" || true
	[ -s "$CHK/bad" ] && fail "checker: hits without their words:" \
	    "$(head -3 "$CHK/bad")"
	sort "$CHK/got.all" > "$CHK/got.ids"
	sort -u "$CHK/got.ids" > "$CHK/got.uniq"
	_dup=$(($(wc -l < "$CHK/got.ids") - $(wc -l < "$CHK/got.uniq")))
	# Documents of files whose job is a dead letter with a reason.
	ctl jobs --state dead --limit 100000 --json |
	    jq -r '.jobs[] | select(.error != null) | .path // empty' |
	    sort -u > "$CHK/dead.files"
	: > "$CHK/dead.ids"
	for _f in $(cat "$CHK/dead.files"); do
		# Only the checker's own files; other dead letters (a test's
		# hostile documents) hold none of its documents.
		case $_f in
		"$CHK"/*)	jq -r .id "$_f" >> "$CHK/dead.ids" ;;
		esac
	done
	sort -u -o "$CHK/dead.ids" "$CHK/dead.ids"
	# Documents of submissions that failed may be there or not.
	: > "$CHK/maybe.ids"
	for _f in $(cat "$CHK/unacked"); do
		jq -r .id "$_f" >> "$CHK/maybe.ids"
	done
	sort -u -o "$CHK/maybe.ids" "$CHK/maybe.ids"
	comm -23 "$CHK/ref.ids" "$CHK/got.uniq" |
	    comm -23 - "$CHK/dead.ids" > "$CHK/lost"
	comm -13 "$CHK/ref.ids" "$CHK/got.uniq" |
	    comm -23 - "$CHK/maybe.ids" > "$CHK/unexpected"
	_lost=$(wc -l < "$CHK/lost")
	_unexp=$(wc -l < "$CHK/unexpected")
	_dead=$(comm -23 "$CHK/ref.ids" "$CHK/got.uniq" |
	    comm -12 - "$CHK/dead.ids" | wc -l)
	# Leases of processes that are gone.
	_stale=0
	for _p in $(ctl jobs --state leased --limit 100000 --json |
	    jq -r '.jobs[].lease.pid // empty'); do
		kill -0 "$_p" 2>/dev/null || _stale=$((_stale + 1))
	done
	ctl check > "$CHK/check.out" 2>&1 ||
	    fail "checker: quirectl check: $(cat "$CHK/check.out")"
	echo "checker: lost $_lost, duplicated $_dup, unexpected $_unexp;" \
	    "$(wc -l < "$CHK/ref.ids") documents in the reference," \
	    "$(wc -l < "$CHK/got.uniq") indexed, $_dead in dead letters," \
	    "$(wc -l < "$CHK/unacked") submissions failed," \
	    "$_stale leases of dead pids"
	[ "$_lost" -eq 0 ] && [ "$_dup" -eq 0 ] && [ "$_unexp" -eq 0 ] ||
	    fail "checker: lost $(head -3 "$CHK/lost" | tr '\n' ' ')," \
	    "unexpected $(head -3 "$CHK/unexpected" | tr '\n' ' ')"
	[ "$_stale" -eq 0 ] || fail "checker: $_stale leases of dead pids"
}
