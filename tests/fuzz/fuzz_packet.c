/* libFuzzer target: instruction packet and handoff validation on arbitrary bytes. What
 * validates must serialise, and the serialised form must validate again to the same
 * bytes (the canonical form is what is hashed and stored). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agentgov/gov.h"
#include "core/crypto.h"

/* libFuzzer's entry points (it declares none in a header). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (ag__crypto_init() != AG_OK)
        abort();
    return 0;
}

static void packet(const char *s, size_t len)
{
    ag_packet *p = NULL;
    if (ag_packet_parse(s, len, &p) != AG_OK)
        return;
    static const char *const lists[] = {"deliverables",          "success_criteria",
                                        "escalation_rules",      "constraints.scope",
                                        "constraints.forbidden", "constraints.required_steps",
                                        "required_artifacts"};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        size_t n = 0;
        const char *const *v = ag_packet_list(p, lists[i], &n);
        for (size_t k = 0; k < n; k++)
            if (v[k] == NULL)
                abort();
    }
    char *json = NULL;
    if (ag_packet_to_json(p, &json) != AG_OK)
        abort();
    ag_packet *q = NULL;
    if (ag_packet_parse(json, strlen(json), &q) != AG_OK)
        abort(); /* the canonical form of a valid packet is valid */
    char *json2 = NULL;
    if (ag_packet_to_json(q, &json2) != AG_OK || strcmp(json, json2) != 0)
        abort();
    free(json2);
    free(json);
    ag_packet_free(q);
    ag_packet_free(p);
}

static void handoff(const char *s, size_t len)
{
    char *canon = NULL;
    if (ag_handoff_validate(s, len, &canon) != AG_OK)
        return;
    char *canon2 = NULL;
    if (ag_handoff_validate(canon, strlen(canon), &canon2) != AG_OK || strcmp(canon, canon2))
        abort();
    free(canon2);
    free(canon);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    packet((const char *)data, size);
    handoff((const char *)data, size);
    return 0;
}
