/* The hook helper's wire: a Unix stream socket at <data dir>/hook.sock, one request
 * per connection. Every integer is a 32-bit little-endian word; a string is its length
 * followed by its bytes; an optional string is a byte (1 present, 0 absent) and then a
 * string.
 *
 *   request: "AGH2", kind byte ('D' decide, 'S' status, 'Q' stop), build id string;
 *            for 'D': dialect, policy (optional), tier (decimal, "-1" none), agent
 *            (optional), cwd, home (optional), CLAUDE_PROJECT_DIR (optional), answer
 *            options ("allow_means,permission_requests", each -1, 0 or 1), mount
 *            namespace, take-by deadline
 *            (decimal CLOCK_MONOTONIC ms), event
 *   reply:   "AGR2" and a status byte:
 *            'M' not taken: the hook decides in process;
 *            'T' taken: the hook answers one byte 'G' (go) if it still waits, and only
 *                then does the helper decide and send 'S', exit code, stdout, stderr;
 *            'S' (status and stop): exit code, stdout, stderr.
 *
 * The take/go exchange makes one side alone responsible for each event: a hook that
 * gave up before it sent 'G' decides in process, and the helper decides only after 'G',
 * so an event is never recorded twice nor by the side that did not answer. A failure
 * after 'G' is a deny that the hook does not record.
 *
 * Both ends check that the peer runs as the same user (SO_PEERCRED). */
#ifndef AG_HOOK_HOOK_WIRE_H
#define AG_HOOK_HOOK_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agentgov/err.h"
#include "agentgov/home.h"
#include "core/buf.h"

#define AG__WIRE_MAX_STRING (72u << 20) /* the event's 64 MiB cap, and some */

/* The build's identity: version, and the executable's device, inode and mtime, so that
 * a rebuilt or upgraded binary never talks to a helper started from the old one. */
const char *ag__wire_build_id(void);

/* <data dir>/hook.sock into buf; 0 when the path does not fit a socket address. */
int ag__wire_sock_path(ag_home *home, char *buf, size_t len);

/* The peer of fd runs as this process's effective user. */
int ag__wire_peer_is_me(int fd);
/* 1 and *uid: the peer's user as the kernel saw it at connect (SO_PEERCRED). */
int ag__wire_peer_uid(int fd, uid_t *uid);

/* Reading from a socket with a deadline (CLOCK_MONOTONIC ms). */
struct ag__wire_in {
    int fd;
    int64_t deadline_ms;
};

AG_MUST_USE ag_err ag__wire_read(struct ag__wire_in *in, void *buf, size_t len);
AG_MUST_USE ag_err ag__wire_read_u32(struct ag__wire_in *in, uint32_t *v);
/* A string of at most max bytes into a NUL-terminated malloc'd *out. */
AG_MUST_USE ag_err ag__wire_read_str(struct ag__wire_in *in, size_t max, char **out, size_t *len);

AG_MUST_USE ag_err ag__wire_read_opt(struct ag__wire_in *in, size_t max, char **out);

void ag__wire_put_u32(struct ag_buf *b, uint32_t v);
void ag__wire_put_str(struct ag_buf *b, const char *s, size_t len);
/* NULL is absent; "" is present and empty. */
void ag__wire_put_opt(struct ag_buf *b, const char *s);

/* This process's mount namespace ("mnt:[4026531840]"), "" when unknown: a helper
 * decides only for hooks that see the same files. */
const char *ag__wire_mnt_ns(void);

/* Writes all of buf (no SIGPIPE), before the deadline. */
AG_MUST_USE ag_err ag__wire_write(int fd, const void *buf, size_t len, int64_t deadline_ms);

#endif
