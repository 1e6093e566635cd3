/* Internal side of instruction packets and handoffs (the public API is in gov.h).
 * Ownership: strings returned here live as long as the packet or buffer they came from. */
#ifndef AG_GOV_PACKET_H
#define AG_GOV_PACKET_H

#include "agentgov/gov.h"

/* SHA-256 hex of the packet's stored text: the key of the packet cache. */
const char *ag__packet_digest(const ag_packet *p);
/* Phase name ("EXECUTE") or "" for AG_PHASE_NONE; and its inverse (exact, upper case).
 * Local copies so that this module needs nothing from the policy engine but its enum. */
const char *ag__phase_str(enum ag_phase ph);
AG_MUST_USE ag_err ag__phase_from_str(const char *s, enum ag_phase *out);

#endif
