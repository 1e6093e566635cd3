/* What the auth, token and secret subcommands share: their options, opening the data
 * directory's store, ledger, policy and auth engine, finding the caller's token, and
 * printing Vault-shaped JSON or Vault-like tables. Ownership: struct ag__cli_auth owns
 * everything it opened (ag__cli_auth_close frees it); JSON objects passed to the print
 * functions are consumed. */
#ifndef AG_CLI_AUTHCTX_H
#define AG_CLI_AUTHCTX_H

#include <jansson.h>
#include <stdint.h>

#include "agentgov/auth.h"
#include "agentgov/home.h"

/* The handles are the home's (borrowed): ag__cli_auth_close frees the home. */
struct ag__cli_auth {
    ag_home *home;
    ag_store *store;
    ag_ledger *ledger;
    ag_policy *policy;
    ag_auth *auth;
};

/* Options of the three commands; strings are NULL and numbers -1 when not given. */
struct ag__cli_aopts {
    const char *store, *policy, *token, *token_file, *agent_id, *bound_cidrs, *role_id, *secret_id,
        *source_addr, *accessor, *field, *versions, *new_key_file, *policies;
    int64_t token_ttl, token_max_ttl, token_num_uses, secret_id_ttl, secret_id_num_uses, ttl,
        explicit_max_ttl, num_uses, increment, version, cas;
    int tier, json, rotate, renewable;
};

/* Parses argv (argv[0] = the subcommand word) for the options named in `allowed`
 * (space-separated long names, e.g. "json tier"). Single-dash long options work too,
 * as in Vault's CLI (-version 2, -field password). Positionals go to pos (at most
 * maxpos). Returns their number, or -1 after printing the problem. */
int ag__cli_auth_opts(int argc, char **argv, const char *allowed, struct ag__cli_aopts *o,
                      char **pos, int maxpos);

/* Opens the data directory (agentgov/home.h), its ledger, the policy (--policy, config
 * `policy`, <dir>/policy.yaml, or the shipped default), the store (--store,
 * $AGENTGOV_STORE, config `store`, embedded) and the auth engine
 * under the master key ($AGENTGOV_MASTER_KEY or <dir>/master.key). Prints the problem
 * and returns -1 on failure. */
int ag__cli_auth_open(struct ag__cli_auth *c, const struct ag__cli_aopts *o);
void ag__cli_auth_close(struct ag__cli_auth *c);

/* The caller's token: --token, else $AGENTGOV_TOKEN, else --token-file, else the data
 * directory's root.token (whoever can read the 0700 data directory administers it).
 * Prints the problem and returns -1 when there is none. */
int ag__cli_auth_token(const struct ag__cli_aopts *o, char token[AG_TOKEN_BUF]);

/* Prints "agentgov: error: <what>: <detail>" and returns the exit status for err:
 * 3 for a refusal (permission denied), 2 otherwise. */
int ag__cli_auth_fail(ag_err err, const char *what);

/* Prints o as indented JSON (keys in insertion order) and releases it. */
void ag__cli_print_json(json_t *o);
/* Prints the members of o as a Vault-style two-column "Key  Value" table and releases
 * it. Arrays print as [a b], null as n/a, objects as compact JSON. */
void ag__cli_print_table(json_t *o);

/* Seconds (Vault's unit for TTLs in JSON) of a millisecond duration, rounded down. */
json_int_t ag__cli_secs(int64_t ms);
/* RFC 3339 text of wall-clock ms, or JSON null for 0. */
json_t *ag__cli_time(int64_t ms);

/* Vault's "auth" block for a token (client_token, accessor, policies, token_policies,
 * metadata, lease_duration, renewable, ...); token may be NULL. */
json_t *ag__cli_auth_block(const char *token, const struct ag_token_info *t);
/* The human table of a login or renewal, as Vault prints it. */
void ag__cli_print_auth(const char *token, const struct ag_token_info *t);

#endif
