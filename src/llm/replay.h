/* The replay provider and the recorder: a JSONL file whose lines are
 * {"request_sha256": HEX, "agent": ID, "request": BODY, "response": CHAT_COMPLETION}
 * ("agent" and "request" optional when read).
 * Ownership: struct ag__llm_replay is owned by the llm handle (load/free); responses it
 * hands out are malloc'd copies for the caller. */
#ifndef AG_LLM_REPLAY_H
#define AG_LLM_REPLAY_H

#include <pthread.h>
#include <stddef.h>

#include "agentgov/err.h"

struct ag__llm_replay_ent {
    char digest[65];
    char agent[129]; /* "" when the line names none */
    char *response;  /* JSON text */
    int used;
};

struct ag__llm_replay {
    struct ag__llm_replay_ent *v;
    size_t n;
    pthread_mutex_t mu;
};

/* Loads path. Errors name path:line and the field. */
AG_MUST_USE ag_err ag__llm_replay_load(const char *path, struct ag__llm_replay *r);
void ag__llm_replay_free(struct ag__llm_replay *r);
/* The response recorded for digest: the first unused one (requests repeated in a run
 * get their answers in recorded order), else the last one. When no line has this
 * digest, the first unused line recorded for the same agent (compared up to an '@':
 * "alpha@task-1" replays "alpha@task-9"'s recording): agents running in
 * parallel see each other's messages in an order that varies from run to run, so
 * their requests do not always repeat byte for byte, but each agent's turns do come
 * in order. AG_ENOTFOUND when neither exists. *resp is malloc'd. */
AG_MUST_USE ag_err ag__llm_replay_next(struct ag__llm_replay *r, const char *digest,
                                       const char *agent, char **resp);
/* Appends one exchange to path (O_APPEND, one write per line, so that threads and
 * processes recording at once do not interleave lines). */
AG_MUST_USE ag_err ag__llm_record(const char *path, const char *digest, const char *agent,
                                  const char *request, const char *response);

#endif
