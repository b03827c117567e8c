/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The supervisor's view of the storage: what happens while the disk is
 * full, the map has reached map-max, or the disk returns errors.
 *
 * None of these is a document's fault, so none may cost a document an
 * attempt or send it to the dead letters.  Workers that meet a fault
 * hold their batch and their leases and retry (worker.c); they report
 * the fault and its end over IPC_STORAGE.  Here:
 *
 *	the fault shown in status is the first one still reported, by a
 *	worker or by the supervisor's own writes; a worker's report ends
 *	when it says "ok" or when it dies;
 *
 *	leases are not swept while a fault lasts, nor for one lease-time
 *	after it ends, so that the workers that waited can extend theirs
 *	before they would count as expired;
 *
 *	the release of a dead worker's leases that cannot be written is
 *	deferred and tried again every tick until it is (with the crash
 *	count it would have had), rather than left to expire.
 *
 * Each start and end of a fault is one log line.
 */

#include <sys/types.h>
#include <sys/statvfs.h>

#include <stdio.h>
#include <string.h>

#include "quire.h"

#define STORAGE_RETRY_MS	1000	/* deferred releases tried again */

/* The fault to show: the supervisor's own, else the first worker's. */
static void
storage_update(struct supervisor *sv)
{
	struct storage	*st = &sv->sv_storage;
	struct wslot	*w;
	uint64_t	 now = util_mono_ms();
	int		 i, fault = st->st_own;
	char		 what[sizeof(st->st_what)];

	strlcpy(what, "supervisor: release", sizeof(what));
	for (i = 0; fault == STORE_FAULT_NONE && i < QUIRE_WORKERS_MAX; i++) {
		w = &sv->sv_fleet.f_w[i];
		if (w->w_pid == 0 || w->w_fault == STORE_FAULT_NONE)
			continue;
		fault = w->w_fault;
		snprintf(what, sizeof(what), "worker %d: %s", w->w_slot,
		    w->w_fault_what);
	}
	if (fault == st->st_fault)
		return;
	if (st->st_fault == STORE_FAULT_NONE) {
		st->st_since = now;
		st->st_episodes++;
		strlcpy(st->st_what, what, sizeof(st->st_what));
		log_warnx("storage: %s (%s); workers hold their jobs and "
		    "retry", store_fault_name(fault), what);
	} else if (fault == STORE_FAULT_NONE) {
		st->st_cleared = now;
		log_info("storage: ok again after %.1f s of %s",
		    (now - st->st_since) / 1000.0,
		    store_fault_name(st->st_fault));
	} else
		strlcpy(st->st_what, what, sizeof(st->st_what));
	st->st_fault = fault;
}

/* A worker's report; a worker that died reports "ok". */
void
storage_report(struct supervisor *sv, struct wslot *w, int fault,
    const char *what)
{
	if (fault < STORE_FAULT_NONE || fault > STORE_FAULT_IDS)
		fault = STORE_FAULT_IO;
	w->w_fault = fault;
	strlcpy(w->w_fault_what, what, sizeof(w->w_fault_what));
	storage_update(sv);
}

static int
storage_own(struct supervisor *sv, int rc)
{
	sv->sv_storage.st_own = queue_fault(rc);
	storage_update(sv);
	return (rc);
}

/*
 * Give back a dead worker's leases, or defer it while the storage
 * cannot take the write.
 */
void
storage_release(struct supervisor *sv, uint32_t pid, const char *cause,
    uint64_t crash, struct queue_release *rel)
{
	struct storage		*st = &sv->sv_storage;
	struct storage_defer	*sd;
	int			 rc;

	memset(rel, 0, sizeof(*rel));
	rc = storage_own(sv, queue_release_pid(&sv->sv_q, pid, cause, crash,
	    rel));
	if (rc == 0)
		return;
	if (queue_fault(rc) == STORE_FAULT_NONE ||
	    st->st_ndefer == STORAGE_DEFER_MAX) {
		st->st_defer_lost++;
		log_warnx("pid %u: releasing its jobs failed (%s); they go "
		    "back when their leases expire", pid, queue_strerror(rc));
		return;
	}
	sd = &st->st_defer[st->st_ndefer++];
	sd->sd_pid = pid;
	sd->sd_crash = crash;
	strlcpy(sd->sd_cause, cause, sizeof(sd->sd_cause));
	log_warnx("pid %u: releasing its jobs waits for the storage (%s)",
	    pid, queue_strerror(rc));
}

/* Deferred releases, tried again once a second. */
void
storage_tick(struct supervisor *sv)
{
	struct storage		*st = &sv->sv_storage;
	struct storage_defer	*sd;
	struct queue_release	 rel;
	uint64_t		 now = util_mono_ms();

	if (st->st_ndefer == 0 || now - st->st_retried < STORAGE_RETRY_MS)
		return;
	st->st_retried = now;
	while (st->st_ndefer > 0) {
		sd = &st->st_defer[0];
		if (storage_own(sv, queue_release_pid(&sv->sv_q, sd->sd_pid,
		    sd->sd_cause, sd->sd_crash, &rel)) != 0)
			return;
		log_info("pid %u: released %u jobs, %u quarantined, after "
		    "the storage came back", sd->sd_pid, rel.qr_released,
		    rel.qr_dead);
		sv->sv_fleet.f_released += rel.qr_released;
		sv->sv_fleet.f_quarantined += rel.qr_dead;
		memmove(sd, sd + 1, (--st->st_ndefer) * sizeof(*sd));
	}
}

/* Whether expired leases may be swept: not while workers wait out a fault. */
int
storage_sweep_ok(struct supervisor *sv)
{
	struct storage	*st = &sv->sv_storage;

	if (st->st_fault != STORE_FAULT_NONE || st->st_ndefer > 0)
		return (0);
	return (st->st_cleared == 0 ||
	    util_mono_ms() - st->st_cleared >= sv->sv_conf.c_lease_ms);
}

/* Bytes free for us in the data directory's file system, or -1. */
long long
storage_free(struct supervisor *sv)
{
	struct statvfs	 vfs;

	if (statvfs(sv->sv_conf.c_datadir, &vfs) == -1)
		return (-1);
	return ((long long)vfs.f_bavail * (long long)vfs.f_frsize);
}
