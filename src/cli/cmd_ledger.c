/* `agentgov ledger`: append, verify, tail, query, export, pubkey, hash, checkpoint.
 * Each subcommand parses its own options with getopt_long and has --help. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agentgov/config.h"
#include "agentgov/ledger.h"
#include "cli/cliutil.h"
#include "cli/commands.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/fileio.h"
#include "core/time.h"

/* Columns in export order, for CSV. */
static const char *const columns[] = {"seq",           "ts",        "kind",       "agent_id",
                                      "agent_version", "task_id",   "tier",       "phase",
                                      "action",        "resource",  "decision",   "reason",
                                      "confidence",    "success",   "error_type", "error_message",
                                      "data",          "prev_hash", "hash"};
#define NCOLUMNS (sizeof columns / sizeof columns[0])

/* ---- helpers ------------------------------------------------------------------------- */

static int parse_int(const char *opt, const char *text, long min, long max, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max) {
        ag__cli_error("--%s: '%s' is not an integer in %ld..%ld", opt, text, min, max);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* A time bound: RFC 3339, or a duration meaning that long ago ("15m", "2d"). */
static int parse_when(const char *opt, const char *text, int64_t *ms)
{
    int64_t d;
    if (ag__parse_rfc3339(text, ms) == AG_OK)
        return 0;
    if (ag__parse_duration(text, &d) == AG_OK) {
        *ms = ag__wall_ms() - d;
        return 0;
    }
    ag__cli_error("--%s: '%s' is neither an RFC 3339 time nor a duration (e.g. 15m)", opt, text);
    return -1;
}

/* Opens the data directory's ledger; it must exist (created by `agentgov init`). The
 * handle is the caller's: the home that opened it is freed at once. NULL, with the exit
 * status in *status, after printing the problem. */
static ag_ledger *open_ledger(int read_only, int *status)
{
    ag_home *h;
    ag_ledger *l = NULL;
    struct ag_home_opts ho = {.lazy_config = read_only}; /* a query needs no config */
    *status = AG_EXIT_USAGE;
    if (ag__cli_home(&ho, &h) != 0)
        return NULL;
    ag_err err =
        ag_home_open_ledger(h, read_only ? AG_HOME_LEDGER_READ : AG_HOME_LEDGER_COMMAND, &l);
    if (err) {
        ag__cli_home_fail(0);
        *status = ag__cli_exit_of(err);
    }
    ag_home_free(h);
    return l;
}

/* Parses the options of a subcommand with only --help; 0 to go on, else exit+1. */
static int help_only(int argc, char **argv, void (*usage)(FILE *))
{
    if (ag__cli_wants_help(argc, argv)) {
        usage(stdout);
        return 1;
    }
    return 0;
}

/* ---- output formats ------------------------------------------------------------------- */

enum fmt { FMT_TABLE, FMT_JSONL, FMT_CSV };

static int parse_fmt(const char *text, enum fmt *f)
{
    if (strcmp(text, "table") == 0)
        *f = FMT_TABLE;
    else if (strcmp(text, "jsonl") == 0)
        *f = FMT_JSONL;
    else if (strcmp(text, "csv") == 0)
        *f = FMT_CSV;
    else {
        ag__cli_error("--format: '%s' is not table, jsonl or csv", text);
        return -1;
    }
    return 0;
}

/* The text of a column for table and CSV output ("" for null). */
static char *column_text(json_t *row, const char *name)
{
    json_t *v = json_object_get(row, name);
    if (v == NULL || json_is_null(v))
        return strdup("");
    if (json_is_string(v))
        return strdup(json_string_value(v));
    return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

static void print_csv_field(const char *s)
{
    if (strpbrk(s, ",\"\n\r") == NULL) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void print_table_header(void)
{
    printf("%-6s %-24s %-10s %-16s %-4s %-9s %-20s %-8s %-3s %s\n", "SEQ", "TS", "KIND", "AGENT",
           "TIER", "PHASE", "ACTION", "DECISION", "OK", "REASON");
}

static void print_row(enum fmt f, const char *row_json)
{
    if (f == FMT_JSONL) {
        puts(row_json);
        return;
    }
    json_t *row = json_loads(row_json, JSON_ALLOW_NUL, NULL);
    if (row == NULL)
        return;
    if (f == FMT_CSV) {
        for (size_t i = 0; i < NCOLUMNS; i++) {
            char *t = column_text(row, columns[i]);
            if (i)
                putchar(',');
            print_csv_field(t ? t : "");
            free(t);
        }
        putchar('\n');
    } else {
        static const char *const cols[] = {"seq",   "ts",     "kind",     "agent_id", "tier",
                                           "phase", "action", "decision", "success",  "reason"};
        char *t[10];
        for (size_t i = 0; i < 10; i++)
            t[i] = column_text(row, cols[i]);
        printf("%-6s %-24s %-10s %-16s %-4s %-9s %-20s %-8s %-3s %s\n", t[0], t[1], t[2], t[3],
               t[4], t[5], t[6], t[7], t[8], t[9]);
        for (size_t i = 0; i < 10; i++)
            free(t[i]);
    }
    json_decref(row);
}

struct printer {
    enum fmt fmt;
    int64_t last_seq;
};

static int print_cb(void *ctx, int64_t seq, const char *row_json)
{
    struct printer *p = ctx;
    print_row(p->fmt, row_json);
    p->last_seq = seq;
    return 0;
}

/* ---- append ---------------------------------------------------------------------------- */

static void usage_append(FILE *out)
{
    fprintf(out,
            "usage: agentgov ledger append --kind KIND --agent ID [FIELD OPTIONS] [--data JSON]\n"
            "                              [--sensitive KEY]...\n\n"
            "Appends one entry, durably, and prints its seq and hash.\n\n"
            "  --kind K             action, decision, violation, error, lifecycle, revocation,\n"
            "                       promotion, handoff, token, secret or system\n"
            "  --agent ID           agent id\n"
            "  --agent-version V    --task ID   --tier 0..4   --phase P   --action A\n"
            "  --resource R         --decision D   --reason TEXT\n"
            "  --confidence 0..1000 (per mille)   --success 0|1\n"
            "  --error-type T       --error-message TEXT\n"
            "  --data JSON          a JSON object (integers only, no floating point)\n"
            "  --sensitive KEY      store data.KEY as its HMAC (repeatable)\n");
    ag__cli_print_exit_statuses(out);
}

static int cmd_append(int argc, char **argv)
{
    enum {
        O_VERSION = 256,
        O_TASK,
        O_TIER,
        O_PHASE,
        O_ACTION,
        O_RESOURCE,
        O_DECISION,
        O_REASON,
        O_CONF,
        O_SUCCESS,
        O_ETYPE,
        O_EMSG,
        O_DATA,
        O_SENS
    };
    static const struct option opts[] = {{"kind", required_argument, NULL, 'k'},
                                         {"agent", required_argument, NULL, 'a'},
                                         {"agent-version", required_argument, NULL, O_VERSION},
                                         {"task", required_argument, NULL, O_TASK},
                                         {"tier", required_argument, NULL, O_TIER},
                                         {"phase", required_argument, NULL, O_PHASE},
                                         {"action", required_argument, NULL, O_ACTION},
                                         {"resource", required_argument, NULL, O_RESOURCE},
                                         {"decision", required_argument, NULL, O_DECISION},
                                         {"reason", required_argument, NULL, O_REASON},
                                         {"confidence", required_argument, NULL, O_CONF},
                                         {"success", required_argument, NULL, O_SUCCESS},
                                         {"error-type", required_argument, NULL, O_ETYPE},
                                         {"error-message", required_argument, NULL, O_EMSG},
                                         {"data", required_argument, NULL, O_DATA},
                                         {"sensitive", required_argument, NULL, O_SENS},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct ag_ledger_entry e = {.tier = -1, .confidence = -1, .success = -1};
    const char *sens[64];
    size_t nsens = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:a:h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            e.kind = optarg;
            break;
        case 'a':
            e.agent_id = optarg;
            break;
        case O_VERSION:
            e.agent_version = optarg;
            break;
        case O_TASK:
            e.task_id = optarg;
            break;
        case O_TIER:
            if (parse_int("tier", optarg, 0, 4, &e.tier))
                return AG_EXIT_USAGE;
            break;
        case O_PHASE:
            e.phase = optarg;
            break;
        case O_ACTION:
            e.action = optarg;
            break;
        case O_RESOURCE:
            e.resource = optarg;
            break;
        case O_DECISION:
            e.decision = optarg;
            break;
        case O_REASON:
            e.reason = optarg;
            break;
        case O_CONF:
            if (parse_int("confidence", optarg, 0, 1000, &e.confidence))
                return AG_EXIT_USAGE;
            break;
        case O_SUCCESS:
            if (parse_int("success", optarg, 0, 1, &e.success))
                return AG_EXIT_USAGE;
            break;
        case O_ETYPE:
            e.error_type = optarg;
            break;
        case O_EMSG:
            e.error_message = optarg;
            break;
        case O_DATA:
            e.data_json = optarg;
            break;
        case O_SENS:
            if (nsens == sizeof sens / sizeof sens[0]) {
                ag__cli_error("--sensitive: at most 64 keys");
                return AG_EXIT_USAGE;
            }
            sens[nsens++] = optarg;
            break;
        case 'h':
            usage_append(stdout);
            return 0;
        default:
            usage_append(stderr);
            return AG_EXIT_USAGE;
        }
    }
    if (e.kind == NULL || e.agent_id == NULL || optind < argc) {
        ag__cli_error(optind < argc ? "ledger append: unexpected argument '%s'"
                                    : "ledger append: --kind and --agent are required%s",
                      optind < argc ? argv[optind] : "");
        return AG_EXIT_USAGE;
    }
    e.sensitive_keys = sens;
    e.nsensitive = nsens;
    int open_status;
    ag_ledger *l = open_ledger(0, &open_status);
    if (l == NULL)
        return open_status;
    int64_t seq;
    char hash[AG_HASH_HEX_LEN];
    ag_err err = ag_ledger_append(l, &e, &seq, hash);
    if (err)
        ag__cli_error_ag(err, "ledger append");
    else
        printf("%lld %s\n", (long long)seq, hash);
    ag_ledger_close(l);
    return ag__cli_exit_of(err);
}

/* ---- verify ----------------------------------------------------------------------------- */

static void usage_verify(FILE *out)
{
    fprintf(out,
            "usage: agentgov ledger verify [--db FILE] [--pubkey FILE] [--checkpoint-file FILE]\n"
            "                              [--require-checkpoint]\n\n"
            "Recomputes every hash and link of the chain, checks every checkpoint\n"
            "signature and the checkpoint file, then the database file itself (SQLite's\n"
            "integrity check; indexes, views and triggers exactly as agentgov creates\n"
            "them). Prints `OK <n> entries, head <hash>` and a line with the number of\n"
            "signed checkpoints verified and the seq of the newest, and exits 0; or\n"
            "`FAIL seq <n>: <problem>` naming the first bad row (`FAIL: <problem>` for a\n"
            "problem of no single row: the file, its schema, no checkpoint) and exits\n"
            "2 (DENY); exits 4 (ERROR) if it could not check.\n\n"
            "Only rows up to the newest valid checkpoint are protected against someone\n"
            "without the signing key; see docs/ledger-format.md, \"What verify\n"
            "guarantees\". An auditor pins the key and brings a checkpoint file kept off\n"
            "the host:\n"
            "  agentgov ledger verify --pubkey KEY --checkpoint-file COPY --require-checkpoint\n\n"
            "  --db FILE               ledger database (default: <dir>/ledger.db)\n"
            "  --pubkey FILE           public key (default: ledger.pub next to the db; a\n"
            "                          copy kept elsewhere cannot be swapped with the db)\n"
            "  --checkpoint-file FILE  newest checkpoint kept outside the database; must\n"
            "                          exist (default: <db>.checkpoint, if it exists)\n"
            "  --require-checkpoint    fail unless at least one checkpoint is validly\n"
            "                          signed (without one, a rewrite of the whole chain\n"
            "                          by someone without the key does not show)\n");
    ag__cli_print_exit_statuses(out);
}

/* The second line of an OK: how much of the ledger the signatures cover. */
static void print_signed(const struct ag_verify_result *r)
{
    if (r->checkpoints == 0) {
        printf("0 signed checkpoints: nothing is signed, so a rewrite of the whole chain "
               "would not show (--require-checkpoint fails on this)\n");
        return;
    }
    int64_t after = r->entries - r->newest_checkpoint;
    printf("%lld signed checkpoint%s verified, newest at seq %lld; %lld entr%s after it not "
           "signed yet\n",
           (long long)r->checkpoints, r->checkpoints == 1 ? "" : "s",
           (long long)r->newest_checkpoint, (long long)after, after == 1 ? "y" : "ies");
}

static int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                         {"pubkey", required_argument, NULL, 'p'},
                                         {"checkpoint-file", required_argument, NULL, 'c'},
                                         {"require-checkpoint", no_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *db = NULL, *pk = NULL, *cp = NULL;
    unsigned flags = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 'p':
            pk = optarg;
            break;
        case 'c':
            cp = optarg;
            break;
        case 'r':
            flags |= AG_VERIFY_REQUIRE_CHECKPOINT;
            break;
        case 'h':
            usage_verify(stdout);
            return 0;
        default:
            usage_verify(stderr);
            return AG_EXIT_USAGE;
        }
    }
    if (db == NULL)
        db = ag__cli_path(AG_HOME_LEDGER_DB);
    struct ag_verify_result r;
    ag_err err = ag_ledger_verify_ex(db, pk, cp, flags, &r);
    if (err) {
        ag__cli_error_ag(err, "ledger verify");
        return AG_EXIT_ERROR;
    }
    if (!r.ok && r.whole_ledger)
        printf("FAIL: %s\n", r.problem);
    else if (!r.ok)
        printf("FAIL seq %lld: %s\n", (long long)r.bad_seq, r.problem);
    if (!r.ok)
        return AG_EXIT_DENY;
    printf("OK %lld entries, head %s\n", (long long)r.entries, r.head);
    print_signed(&r);
    return 0;
}

/* ---- query, tail, export ----------------------------------------------------------------- */

static void usage_query(FILE *out)
{
    fprintf(out,
            "usage: agentgov ledger query [--agent ID] [--task ID] [--kind K] [--since T]\n"
            "                             [--until T] [--limit N] [--format table|jsonl|csv]\n\n"
            "Prints matching entries, oldest first. T is an RFC 3339 time or a duration\n"
            "meaning that long ago (15m, 2h, 7d); --until is exclusive.\n");
    ag__cli_print_exit_statuses(out);
}

static int cmd_query(int argc, char **argv)
{
    static const struct option opts[] = {{"agent", required_argument, NULL, 'a'},
                                         {"task", required_argument, NULL, 't'},
                                         {"kind", required_argument, NULL, 'k'},
                                         {"since", required_argument, NULL, 's'},
                                         {"until", required_argument, NULL, 'u'},
                                         {"limit", required_argument, NULL, 'n'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct ag_ledger_filter flt = {0};
    struct printer p = {.fmt = FMT_TABLE};
    int c, limit;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            flt.agent_id = optarg;
            break;
        case 't':
            flt.task_id = optarg;
            break;
        case 'k':
            if (!ag_ledger_kind_valid(optarg)) {
                ag__cli_error("--kind: unknown kind '%s'", optarg);
                return AG_EXIT_USAGE;
            }
            flt.kind = optarg;
            break;
        case 's':
            if (parse_when("since", optarg, &flt.since_ms))
                return AG_EXIT_USAGE;
            break;
        case 'u':
            if (parse_when("until", optarg, &flt.until_ms))
                return AG_EXIT_USAGE;
            break;
        case 'n':
            if (parse_int("limit", optarg, 1, INT_MAX, &limit))
                return AG_EXIT_USAGE;
            flt.limit = limit;
            break;
        case 'f':
            if (parse_fmt(optarg, &p.fmt))
                return AG_EXIT_USAGE;
            break;
        case 'h':
            usage_query(stdout);
            return 0;
        default:
            usage_query(stderr);
            return AG_EXIT_USAGE;
        }
    }
    int open_status;
    ag_ledger *l = open_ledger(1, &open_status);
    if (l == NULL)
        return open_status;
    if (p.fmt == FMT_TABLE)
        print_table_header();
    else if (p.fmt == FMT_CSV)
        for (size_t i = 0; i < NCOLUMNS; i++)
            printf("%s%s", columns[i], i + 1 < NCOLUMNS ? "," : "\n");
    ag_err err = ag_ledger_query(l, &flt, print_cb, &p);
    if (err)
        ag__cli_error_ag(err, "ledger query");
    ag_ledger_close(l);
    return ag__cli_exit_of(err);
}

static void usage_tail(FILE *out)
{
    fprintf(out, "usage: agentgov ledger tail [-n N] [-f] [--format table|jsonl|csv]\n\n"
                 "Prints the last N entries (default 10); with -f, keeps printing new entries\n"
                 "as they are committed until interrupted.\n");
    ag__cli_print_exit_statuses(out);
}

static volatile sig_atomic_t stop_follow;
static void on_signal(int sig)
{
    (void)sig;
    stop_follow = 1;
}

static int cmd_tail(int argc, char **argv)
{
    static const struct option opts[] = {{"lines", required_argument, NULL, 'n'},
                                         {"follow", no_argument, NULL, 'f'},
                                         {"format", required_argument, NULL, 'F'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c, n = 10, follow = 0;
    struct printer p = {.fmt = FMT_TABLE};
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:fh", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (parse_int("lines", optarg, 0, INT_MAX, &n))
                return AG_EXIT_USAGE;
            break;
        case 'f':
            follow = 1;
            break;
        case 'F':
            if (parse_fmt(optarg, &p.fmt))
                return AG_EXIT_USAGE;
            break;
        case 'h':
            usage_tail(stdout);
            return 0;
        default:
            usage_tail(stderr);
            return AG_EXIT_USAGE;
        }
    }
    int open_status;
    ag_ledger *l = open_ledger(1, &open_status);
    if (l == NULL)
        return open_status;
    int64_t head;
    ag_err err = ag_ledger_head(l, &head, NULL);
    if (p.fmt == FMT_TABLE)
        print_table_header();
    struct ag_ledger_filter flt = {.after_seq = head > n ? head - n : 0};
    if (err == AG_OK && n > 0)
        err = ag_ledger_query(l, &flt, print_cb, &p);
    p.last_seq = head;
    fflush(stdout);
    if (follow) {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
    }
    while (follow && err == AG_OK && !stop_follow) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        flt = (struct ag_ledger_filter){.after_seq = p.last_seq};
        err = ag_ledger_query(l, &flt, print_cb, &p);
        fflush(stdout);
    }
    if (err)
        ag__cli_error_ag(err, "ledger tail");
    ag_ledger_close(l);
    return ag__cli_exit_of(err);
}

static void usage_export(FILE *out)
{
    fprintf(out, "usage: agentgov ledger export [--format jsonl]\n\n"
                 "Prints every entry as one JSON object per line, oldest first: exactly the\n"
                 "hashed fields plus `hash`, in canonical (RFC 8785) form, so an auditor can\n"
                 "verify the chain without SQLite (see docs/ledger-format.md).\n");
    ag__cli_print_exit_statuses(out);
}

static int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'f' && strcmp(optarg, "jsonl") != 0) {
            ag__cli_error("--format: only jsonl is supported for export");
            return AG_EXIT_USAGE;
        } else if (c == 'h') {
            usage_export(stdout);
            return 0;
        } else if (c != 'f') {
            usage_export(stderr);
            return AG_EXIT_USAGE;
        }
    }
    int open_status;
    ag_ledger *l = open_ledger(1, &open_status);
    if (l == NULL)
        return open_status;
    struct printer p = {.fmt = FMT_JSONL};
    ag_err err = ag_ledger_query(l, NULL, print_cb, &p);
    if (err)
        ag__cli_error_ag(err, "ledger export");
    ag_ledger_close(l);
    return ag__cli_exit_of(err);
}

/* ---- keys ------------------------------------------------------------------------------- */

static void usage_pubkey(FILE *out)
{
    fprintf(out, "usage: agentgov ledger pubkey [--pem]\n\n"
                 "Prints the Ed25519 public key that checks the ledger's checkpoints: 64 hex\n"
                 "digits, or with --pem a PEM SubjectPublicKeyInfo for `openssl pkeyutl`.\n");
    ag__cli_print_exit_statuses(out);
}

static int cmd_pubkey(int argc, char **argv)
{
    if (help_only(argc, argv, usage_pubkey))
        return 0;
    int pem = argc == 2 && strcmp(argv[1], "--pem") == 0;
    if (argc > 2 || (argc == 2 && !pem)) {
        usage_pubkey(stderr);
        return AG_EXIT_USAGE;
    }
    uint8_t pk[AG_LEDGER_PK_LEN];
    ag_home *h;
    struct ag_home_opts ho = {.lazy_config = 1};
    if (ag__cli_home(&ho, &h) != 0)
        return AG_EXIT_USAGE;
    ag_err err = ag_home_ledger_pubkey(h, pk);
    ag_home_free(h);
    if (err) {
        ag__cli_error_ag(err, "ledger pubkey");
        return ag__cli_exit_of(err);
    }
    if (!pem) {
        char hex[2 * AG_LEDGER_PK_LEN + 1];
        ag__hex(pk, sizeof pk, hex);
        puts(hex);
        return 0;
    }
    /* RFC 8410: SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING key }. */
    uint8_t der[12 + AG_LEDGER_PK_LEN] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                          0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
    memcpy(der + 12, pk, sizeof pk);
    char b64[sodium_base64_ENCODED_LEN(sizeof der, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, der, sizeof der, sodium_base64_VARIANT_ORIGINAL);
    printf("-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n", b64);
    return 0;
}

static void usage_hash(FILE *out)
{
    fprintf(out,
            "usage: agentgov ledger hash VALUE\n\n"
            "Prints HMAC-SHA256(ledger.hmac, VALUE) in hex: what a field marked sensitive\n"
            "holds instead of VALUE, so an auditor can search the ledger for a known value.\n");
    ag__cli_print_exit_statuses(out);
}

static int cmd_hash(int argc, char **argv)
{
    if (help_only(argc, argv, usage_hash))
        return 0;
    if (argc != 2) {
        usage_hash(stderr);
        return AG_EXIT_USAGE;
    }
    ag_home *h;
    struct ag_home_opts ho = {.lazy_config = 1};
    if (ag__cli_home(&ho, &h) != 0)
        return AG_EXIT_USAGE;
    char hex[AG_HASH_HEX_LEN];
    ag_err err = ag_home_ledger_hmac(h, argv[1], hex);
    ag_home_free(h);
    if (err) {
        ag__cli_error_ag(err, "ledger hash");
        return ag__cli_exit_of(err);
    }
    puts(hex);
    return 0;
}

static void usage_checkpoint(FILE *out)
{
    fprintf(out, "usage: agentgov ledger checkpoint\n\n"
                 "Writes a signed checkpoint over the current head now and prints its seq\n"
                 "(the existing one if the head is already a checkpoint).\n");
    ag__cli_print_exit_statuses(out);
}

static int cmd_checkpoint(int argc, char **argv)
{
    if (help_only(argc, argv, usage_checkpoint))
        return 0;
    if (argc != 1) {
        usage_checkpoint(stderr);
        return AG_EXIT_USAGE;
    }
    int open_status;
    ag_ledger *l = open_ledger(0, &open_status);
    if (l == NULL)
        return open_status;
    int64_t seq;
    ag_err err = ag_ledger_checkpoint(l, &seq);
    if (err)
        ag__cli_error_ag(err, "ledger checkpoint");
    else
        printf("%lld\n", (long long)seq);
    ag_ledger_close(l);
    return ag__cli_exit_of(err);
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} subs[] = {
    {"append", cmd_append, "append one entry, print its seq and hash"},
    {"verify", cmd_verify, "recompute the chain and check every checkpoint signature"},
    {"tail", cmd_tail, "print the last entries; -f follows new ones"},
    {"query", cmd_query, "entries by agent, task, kind and time"},
    {"export", cmd_export, "every entry as canonical JSON lines (for auditors)"},
    {"pubkey", cmd_pubkey, "print the checkpoint public key"},
    {"hash", cmd_hash, "print the HMAC a sensitive VALUE is stored as"},
    {"checkpoint", cmd_checkpoint, "write a signed checkpoint now"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: agentgov ledger SUBCOMMAND [OPTIONS]\n\n"
                 "The tamper-evident audit ledger of the data directory (format:\n"
                 "docs/ledger-format.md).\n\nsubcommands:\n");
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        fprintf(out, "  %-11s %s\n", subs[i].name, subs[i].help);
    fprintf(out, "\n`agentgov ledger SUBCOMMAND --help` for its options.\n");
    ag__cli_print_exit_statuses(out);
}

int ag__cmd_ledger(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return AG_EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (ag__crypto_init() != AG_OK) {
        ag__cli_error_ag(AG_ECRYPTO, "ledger");
        return AG_EXIT_ERROR;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].fn(argc - 1, argv + 1);
    ag__cli_error("ledger: unknown subcommand '%s' (see agentgov ledger --help)", argv[1]);
    return AG_EXIT_USAGE;
}
