/* The pieces of the authorize hot path that grant.c reuses (authorize with an approval
 * grant): the run read in one exec, the packet in force, the policy's answer, the
 * count of a forbidden attempt. Ownership: as their callers in the lifecycle; the
 * packet belongs to the gov handle's cache (ag__gov_packet_put releases it). */
#ifndef AG_GOV_AUTHZ_H
#define AG_GOV_AUTHZ_H

#include "gov/gov.h"

/* AG__OK_REASON (lifecycle.h) when the agent may act, else why not; *have_s: s was decoded. */
enum ag_reason ag__authz_read_run(ag_gov *g, const char *agent, struct ag__session *s, int *have_s);
struct ag__pkt *ag__authz_packet_for(ag_gov *g, const char *agent, const char *digest);
/* Fills out's effect, reason and rule; returns 1 for an action the packet forbids. */
int ag__authz_decide_for(ag_gov *g, const struct ag__session *s, const ag_packet *p,
                         const char *action, const char *resource, struct ag_gov_decision *out);
/* Counts a forbidden attempt against the budget; 1 when it revoked the agent. */
int ag__authz_count_forbidden(ag_gov *g, const char *agent, const char *action,
                              const char *resource);
/* s when it is UTF-8, else a copy in buf with bad bytes as %XX. */
const char *ag__authz_ledger_text(const char *s, char *buf, size_t cap);

#endif
