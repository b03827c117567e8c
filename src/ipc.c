/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Messages between the supervisor and its children, and between quirectl
 * and the admin socket.
 *
 * A frame is a 4-byte big-endian length and a msgpack array
 * [type, a, b, str]: two numbers and one string whose meaning depends on
 * the type (see enum ipc_type in quire.h).  Frames are bounded by
 * IPC_FRAME_MAX; a longer or malformed frame is an error, and the
 * supervisor treats a child that sends one as broken.
 *
 * Children write frames with blocking writes (they are small and the
 * supervisor always reads); the supervisor reads them from a libevent
 * bufferevent with ipc_evbuffer_get().  A child reads its orders with
 * ipc_recv() between pieces of work and while it waits.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "quire.h"

/* Encode m as one frame into sb (cleared first). */
int
ipc_encode(const struct ipc_msg *m, msgpack_sbuffer *sb)
{
	msgpack_packer	 pk;
	uint8_t		 hdr[4] = { 0, 0, 0, 0 };
	size_t		 len = strlen(m->m_str);

	if (len > IPC_STR_MAX)
		return (-1);
	msgpack_sbuffer_clear(sb);
	msgpack_sbuffer_write(sb, (const char *)hdr, sizeof(hdr));
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint32(&pk, m->m_type);
	msgpack_pack_uint64(&pk, m->m_a);
	msgpack_pack_uint64(&pk, m->m_b);
	msgpack_pack_str(&pk, len);
	msgpack_pack_str_body(&pk, m->m_str, len);
	if (sb->size - 4 > IPC_FRAME_MAX)
		return (-1);
	util_put_be32((uint8_t *)sb->data, sb->size - 4);
	return (0);
}

/* Decode a frame's payload (without its length). */
int
ipc_decode(const void *data, size_t len, struct ipc_msg *m)
{
	msgpack_unpacked	 up;
	msgpack_object		*o, *v;
	size_t			 off = 0;
	int			 rv = -1;

	memset(m, 0, sizeof(*m));
	/* msgpack would allocate whatever a container header claims. */
	if (codec_check(data, len) == -1)
		return (-1);
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, data, len, &off) !=
	    MSGPACK_UNPACK_SUCCESS || off != len)
		goto out;
	o = &up.data;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4)
		goto out;
	v = o->via.array.ptr;
	if (v[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    v[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    v[2].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    v[3].type != MSGPACK_OBJECT_STR ||
	    v[0].via.u64 >= IPC_NTYPES || v[3].via.str.size > IPC_STR_MAX)
		goto out;
	m->m_type = v[0].via.u64;
	m->m_a = v[1].via.u64;
	m->m_b = v[2].via.u64;
	if (v[3].via.str.size > 0)
		memcpy(m->m_str, v[3].via.str.ptr, v[3].via.str.size);
	m->m_str[v[3].via.str.size] = '\0';
	rv = 0;
out:
	msgpack_unpacked_destroy(&up);
	return (rv);
}

static int
ipc_write_all(int fd, const char *p, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= n;
	}
	return (0);
}

/* One message's frame in sb, from its parts. */
static int
ipc_frame(msgpack_sbuffer *sb, uint32_t type, uint64_t a, uint64_t b,
    const char *str)
{
	struct ipc_msg	 m;

	memset(&m, 0, sizeof(m));
	m.m_type = type;
	m.m_a = a;
	m.m_b = b;
	if (str != NULL && strlcpy(m.m_str, str, sizeof(m.m_str)) >=
	    sizeof(m.m_str))
		return (-1);
	return (ipc_encode(&m, sb));
}

/* A packer's output into a fixed buffer: no allocation. */
struct ipc_fixed {
	char		*f_buf;
	size_t		 f_len;
	size_t		 f_cap;
};

static int
ipc_fixed_write(void *data, const char *p, size_t len)
{
	struct ipc_fixed	*f = data;

	if (len > f->f_cap - f->f_len)
		return (-1);
	memcpy(f->f_buf + f->f_len, p, len);
	f->f_len += len;
	return (0);
}

/*
 * An order with no string (IPC_STOP, IPC_ADMIT), encoded on the stack and
 * written at once: the supervisor sends these while memory is short.
 * -1 if the socket did not take all of it.
 */
int
ipc_order(int fd, uint32_t type, uint64_t a, uint64_t b)
{
	msgpack_packer		 pk;
	struct ipc_fixed	 f;
	char			 buf[64];

	f.f_buf = buf;
	f.f_len = 4;
	f.f_cap = sizeof(buf);
	msgpack_packer_init(&pk, &f, ipc_fixed_write);
	if (msgpack_pack_array(&pk, 4) != 0 ||
	    msgpack_pack_uint32(&pk, type) != 0 ||
	    msgpack_pack_uint64(&pk, a) != 0 ||
	    msgpack_pack_uint64(&pk, b) != 0 ||
	    msgpack_pack_str(&pk, 0) != 0)
		return (-1);
	util_put_be32((uint8_t *)buf, f.f_len - 4);
	return (write(fd, buf, f.f_len) == (ssize_t)f.f_len ? 0 : -1);
}

/* Send one message with blocking writes. */
int
ipc_send(int fd, uint32_t type, uint64_t a, uint64_t b, const char *str)
{
	msgpack_sbuffer	 sb;
	int		 rv;

	msgpack_sbuffer_init(&sb);
	rv = ipc_frame(&sb, type, a, b, str);
	if (rv == 0)
		rv = ipc_write_all(fd, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return (rv);
}

/*
 * Take one whole frame out of buf.  1: a message, 0: not yet, -1: a
 * malformed or oversized frame.
 */
int
ipc_take(struct ipc_buf *ib, struct ipc_msg *m)
{
	uint32_t	 len;

	if (ib->ib_len < 4)
		return (0);
	len = util_get_be32(ib->ib_data);
	if (len > IPC_FRAME_MAX)
		return (-1);
	if (ib->ib_len < 4 + len)
		return (0);
	if (ipc_decode(ib->ib_data + 4, len, m) == -1)
		return (-1);
	ib->ib_len -= 4 + len;
	memmove(ib->ib_data, ib->ib_data + 4 + len, ib->ib_len);
	return (1);
}

/*
 * Wait up to timeout_ms (-1: forever) for a message on fd.  1: a message
 * in m, 0: none in time, -1: end of file or a broken stream.
 */
int
ipc_recv(int fd, struct ipc_buf *ib, struct ipc_msg *m, int timeout_ms)
{
	struct pollfd	 pfd;
	ssize_t		 n;
	int		 rv;

	for (;;) {
		if ((rv = ipc_take(ib, m)) != 0)
			return (rv);
		pfd.fd = fd;
		pfd.events = POLLIN;
		rv = poll(&pfd, 1, timeout_ms);
		if (rv == -1 && errno == EINTR)
			return (0);
		if (rv <= 0)
			return (rv);
		n = read(fd, ib->ib_data + ib->ib_len,
		    sizeof(ib->ib_data) - ib->ib_len);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return (-1);
		ib->ib_len += n;
		/* Data came: do not wait again for the rest of a frame. */
		timeout_ms = timeout_ms == 0 ? 0 : 1000;
	}
}

/* The bufferevent flavour of ipc_take, for the supervisor. */
int
ipc_evbuffer_get(struct evbuffer *eb, struct ipc_msg *m)
{
	uint8_t		 hdr[4], *p;
	uint32_t	 len;

	if (evbuffer_copyout(eb, hdr, 4) < 4)
		return (0);
	len = util_get_be32(hdr);
	if (len > IPC_FRAME_MAX)
		return (-1);
	if (evbuffer_get_length(eb) < 4 + (size_t)len)
		return (0);
	if ((p = evbuffer_pullup(eb, 4 + len)) == NULL)
		return (-1);
	if (ipc_decode(p + 4, len, m) == -1)
		return (-1);
	evbuffer_drain(eb, 4 + len);
	return (1);
}

/* Queue a message on a bufferevent's output. */
int
ipc_evbuffer_put(struct evbuffer *eb, uint32_t type, uint64_t a, uint64_t b,
    const char *str)
{
	msgpack_sbuffer	 sb;
	int		 rv;

	msgpack_sbuffer_init(&sb);
	rv = ipc_frame(&sb, type, a, b, str);
	if (rv == 0)
		rv = evbuffer_add(eb, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return (rv);
}
