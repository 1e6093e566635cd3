/* Tamper-evident audit ledger (append-only, hash-chained, signed checkpoints).
 * Ownership: ag_ledger is an opaque handle (ag_ledger_open/ag_ledger_close);
 * struct ag_ledger_entry is caller-owned and only read during ag_ledger_append. */
#ifndef AGENTGOV_LEDGER_H
#define AGENTGOV_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "agentgov/breaker.h"
#include "agentgov/err.h"

typedef struct ag_ledger ag_ledger;

#define AG_HASH_HEX_LEN  65 /* 64 lowercase hex digits + NUL */
#define AG_LEDGER_PK_LEN 32 /* Ed25519 public key (ledger.pub) */

struct ag_ledger_opts {
    const char *signing_key_path; /* Ed25519 secret key file; NULL = no checkpoints */
    const char *hmac_key_path;    /* per-ledger HMAC key for sensitive values */
    int checkpoint_every;         /* automatic checkpoint every N entries; 0 = never */
    int read_only;                /* open for queries and verify only */
    /* Zero keeps the defaults for the fields below. */
    int busy_timeout_ms; /* wait for another writer's lock; 0 = 5000 ms */
    /* Short-lived processes (hooks, CLI commands): close without folding the WAL
     * into the database and without deleting it (saves several fsyncs per process;
     * the WAL stays durable and every reader sees it). */
    int keep_wal;
    int no_close_checkpoint;     /* skip the final checkpoint in ag_ledger_close
                                    (short-lived writers such as `ledger append`) */
    const char *checkpoint_path; /* where the latest signed checkpoint is also kept;
                                    NULL = "<db path>.checkpoint" for a file path */
};

/* One entry. NULL strings and -1 integers are stored as SQL NULL / JSON null. */
struct ag_ledger_entry {
    const char *kind; /* action, decision, violation, error, lifecycle, revocation,
                         promotion, handoff, token, secret, checkpoint, system,
                         approval, notify, pipeline */
    const char *agent_id;
    const char *agent_version;
    const char *task_id;
    int tier; /* 0..4 or -1 */
    const char *phase;
    const char *action;
    const char *resource;
    const char *decision;
    const char *reason;
    int confidence; /* per mille 0..1000, or -1 */
    int success;    /* 0/1, or -1 */
    const char *error_type;
    const char *error_message;
    const char *data_json; /* a JSON object, or NULL */
    /* Top-level keys of data_json whose values are stored as HMAC-SHA256 hex, never
     * in the clear. */
    const char *const *sensitive_keys;
    size_t nsensitive;
};

/* Opens (creating if absent) the ledger database at path, in WAL mode with
 * synchronous=FULL. */
AG_MUST_USE ag_err ag_ledger_open(const char *path, const struct ag_ledger_opts *opts,
                                  ag_ledger **out);
/* Writes a final checkpoint (when a signing key is configured and entries were
 * appended since the last one) and closes. Accepts NULL. */
void ag_ledger_close(ag_ledger *l);

/* Appends one entry and returns only once it is durably committed (see
 * ag_ledger_defer_sync for the one exception a holder may choose). Thread-safe:
 * concurrent callers are group-committed in one transaction. On any failure nothing
 * is acknowledged and the error says why (AG_ENOSPACE, AG_EREADONLY, AG_ELEDGER...).
 * seq and hash may be NULL. */
AG_MUST_USE ag_err ag_ledger_append(ag_ledger *l, const struct ag_ledger_entry *e, int64_t *seq,
                                    char hash[AG_HASH_HEX_LEN]);
/* Appends n (1..8) entries in order, queued together so that they are committed in
 * the same group commit (one fsync) unless the queue's batch limit falls between them;
 * returns only once all are committed. On failure the ones before the failed one may
 * be committed; seqs (may be NULL) receives each entry's seq. */
AG_MUST_USE ag_err ag_ledger_append_batch(ag_ledger *l, const struct ag_ledger_entry *const *e,
                                          size_t n, int64_t *seqs);
/* Deferred durability, for a holder on a latency-bound path (the stdio MCP gateway with
 * mcp.ledger_sync = deferred): from now on an append returns once its entry is
 * committed (chained, visible to every reader, kept if this process crashes or is
 * killed) but before the disk has it; a background thread makes the committed entries
 * durable, one sync for all of them, at most max_delay_ms (1..10000) after the oldest,
 * and ag_ledger_close makes the rest durable. What it gives up: a power loss or kernel
 * crash can drop the entries of the last max_delay_ms, after the actions they decided
 * may have happened (the chain left on the disk is still a valid prefix: it verifies).
 * A background sync that fails makes every later append fail (AG_EIO). The SQLite
 * backend only; AG_EUNSUPPORTED elsewhere. */
AG_MUST_USE ag_err ag_ledger_defer_sync(ag_ledger *l, int max_delay_ms);
/* Makes every entry committed so far durable now (nothing to do unless deferred). */
AG_MUST_USE ag_err ag_ledger_sync(ag_ledger *l);
/* Puts appends behind a circuit breaker (borrowed: it must outlive the handle's use;
 * NULL removes it). While it is open an append fails at once with AG_ELEDGER naming the
 * breaker (a decision is then deny ledger_unavailable); only failed writes (disk full,
 * I/O error, read-only file system) count against it. */
void ag_ledger_set_breaker(ag_ledger *l, ag_breaker *b);
/* Told of every entry this handle committed, on the appending thread, after the commit
 * and before the append returns (so it runs before the caller sees its answer: it must
 * be quick and must not append). e is the caller's entry: data_json is as given, with
 * sensitive values in the clear, so an observer must not pass it on when nsensitive is
 * set. Set it before appends start, or clear it (NULL) only when none is in flight. */
typedef void (*ag_ledger_observer)(void *ctx, int64_t seq, const struct ag_ledger_entry *e);
void ag_ledger_set_observer(ag_ledger *l, ag_ledger_observer fn, void *ctx);
/* The row feed, for a listener in this process that shows the ledger as it grows (the
 * dashboard's live tail): told of the rows this handle committed, checkpoints included,
 * exactly as ag_ledger_query gives them (canonical JSON with hash; sensitive values are
 * HMACs), in seq order, on the committing thread after each commit and before the
 * batch's appenders are answered: it must be quick and must neither append nor query.
 * json is not NUL-terminated: len bytes. Rows are formatted only while the feed is on
 * (ag_ledger_row_feed_on), so that no one pays for a feed no one reads. The feed sees
 * only this handle's appends: another handle or process appending to the same ledger
 * shows as a gap in the seqs, which the listener must read with ag_ledger_query (as it
 * must after a batch lost for want of memory). fn may be changed at any time (NULL
 * removes it); once ag_ledger_set_row_feed returns, the old one is not running and will
 * not be called again, so the caller must not hold, while calling it, a lock its
 * listener takes. */
struct ag_ledger_row_text {
    int64_t seq;
    const char *json;
    size_t len;
};
typedef void (*ag_ledger_row_feed)(void *ctx, const struct ag_ledger_row_text *rows, size_t n);
void ag_ledger_set_row_feed(ag_ledger *l, ag_ledger_row_feed fn, void *ctx);
void ag_ledger_row_feed_on(ag_ledger *l, int on);
/* Housekeeping for a process that keeps the ledger open with keep_wal and appends now
 * and then (the hook helper): when the WAL has grown past a few dozen frames, copies
 * it into the database and starts it over in place, as a keep_wal process does when it
 * closes. Call it when idle: it costs two fsyncs. Does nothing while an append is in
 * flight on this handle, or when the WAL is short. Best effort: never fails. */
void ag_ledger_tidy(ag_ledger *l);
/* Writes a signed checkpoint entry over the current head now. */
AG_MUST_USE ag_err ag_ledger_checkpoint(ag_ledger *l, int64_t *seq);
/* HMAC-SHA256 hex of value under this ledger's key (what a sensitive field holds). */
AG_MUST_USE ag_err ag_ledger_hmac(ag_ledger *l, const char *value, char out[AG_HASH_HEX_LEN]);

/* Signs msg with the ledger's Ed25519 key, so that other records (approval grants) can
 * be checked offline against the same exported public key. The message must begin
 * with "agentgov-" and must not be a checkpoint message ("agentgov-ledger-checkpoint:"),
 * so that no signature made here can pass for a checkpoint. sig_hex receives 128 hex
 * digits, key_id (may be NULL) the key id (16 hex digits, as checkpoints carry).
 * AG_EINVAL without a signing key. */
#define AG_LEDGER_SIG_HEX    129
#define AG_LEDGER_KEY_ID_HEX 17
AG_MUST_USE ag_err ag_ledger_sign(ag_ledger *l, const char *msg, size_t len,
                                  char sig_hex[AG_LEDGER_SIG_HEX],
                                  char key_id[AG_LEDGER_KEY_ID_HEX]);
/* 1 when sig_hex is this ledger key's signature of msg, else 0. */
int ag_ledger_sig_valid(ag_ledger *l, const char *msg, size_t len, const char *sig_hex);

/* Result of a verification. */
struct ag_verify_result {
    int ok;                     /* 1 when the whole chain and every signature hold */
    int64_t entries;            /* rows checked */
    int64_t checkpoints;        /* signatures checked */
    char head[AG_HASH_HEX_LEN]; /* hash of the last row */
    int64_t bad_seq;            /* first bad seq (may be <= 0: a row below 1), 0 when ok */
    char problem[256];          /* "hash mismatch", "gap", "broken link", ... */
    int64_t witnessed_seq;      /* seq of the checkpoint file's checkpoint, 0 if none */
    int64_t newest_checkpoint;  /* seq of the newest valid checkpoint row, 0 if none */
    /* 1 when the problem is not in one row (the database file or its schema, or no
     * checkpoint where one is required): bad_seq is 0 then. */
    int whole_ledger;
};

/* Recomputes the chain of the database at db_path and every checkpoint signature
 * with the public key at pubkey_path (NULL: the key next to the database), checks the
 * checkpoint file next to the database when it exists, and then the database file
 * itself (SQLite's integrity check, and a schema exactly as the ledger creates it).
 * Returns AG_OK when it could check, whatever the verdict in r (a corrupt file is a
 * verdict); an error when it could not. docs/ledger-format.md says what a verdict of
 * ok does and does not guarantee. */
AG_MUST_USE ag_err ag_ledger_verify(const char *db_path, const char *pubkey_path,
                                    struct ag_verify_result *r);

/* Query filter for ag_ledger_query; NULL / 0 fields do not filter. */
struct ag_ledger_filter {
    const char *agent_id;
    const char *task_id;
    const char *kind;
    int64_t since_ms;  /* inclusive, wall-clock ms; 0 = unbounded */
    int64_t until_ms;  /* exclusive; 0 = unbounded */
    int64_t after_seq; /* only rows with seq > after_seq (pagination) */
    int64_t limit;     /* 0 = no limit */
    int descending;    /* newest first */
};

/* Calls cb for each matching row with the row as a JSON object text: exactly the
 * hashed fields plus "hash" (the export format). Stops early when cb returns non-0. */
typedef int (*ag_ledger_row_cb)(void *ctx, int64_t seq, const char *row_json);
AG_MUST_USE ag_err ag_ledger_query(ag_ledger *l, const struct ag_ledger_filter *f,
                                   ag_ledger_row_cb cb, void *ctx);

/* Highest seq and its hash (0 and 64 zeros for an empty ledger). */
AG_MUST_USE ag_err ag_ledger_head(ag_ledger *l, int64_t *seq, char hash[AG_HASH_HEX_LEN]);

/* Flags for ag_ledger_verify_ex. */
/* Fail (r->ok 0) unless at least one checkpoint row holds a valid signature: without
 * one, nothing stops someone without the key from rewriting the whole chain. */
#define AG_VERIFY_REQUIRE_CHECKPOINT 1u

/* Like ag_ledger_verify, with an explicit checkpoint file (NULL: the default next to
 * the database, checked when it exists; "": none; any other path must exist, else
 * AG_ENOTFOUND) and flags (AG_VERIFY_*). */
AG_MUST_USE ag_err ag_ledger_verify_ex(const char *db_path, const char *pubkey_path,
                                       const char *checkpoint_path, unsigned flags,
                                       struct ag_verify_result *r);
/* 1 if kind is one of the entry kinds listed in struct ag_ledger_entry. */
int ag_ledger_kind_valid(const char *kind);

#endif
