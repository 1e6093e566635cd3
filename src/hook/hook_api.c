/* The hook's public entry points (agentgov/hook.h): one event answered by the helper or
 * in process, and the denials before there is an event. */
#include <stdlib.h>
#include <string.h>

#include "agentgov/hook.h"
#include "core/buf.h"
#include "hook/hook_eval.h"
#include "hook/hook_helper.h"

/* Hands the buffers' text to the answer. */
static int take(struct ag__hook_out *out, int status, struct ag_hook_answer *a)
{
    /* An answer that could not be written whole is no allow. */
    if (ag__buf_status(&out->out) != AG_OK || ag__buf_status(&out->err) != AG_OK)
        status = AG_HOOK_EXIT_DENY;
    a->out_len = out->out.len;
    a->err_len = out->err.len;
    a->out = a->out_len ? ag__buf_take(&out->out) : NULL;
    a->err = a->err_len ? ag__buf_take(&out->err) : NULL;
    ag__hook_out_free(out);
    a->status = status;
    return status;
}

int ag_hook_answer(const struct ag_hook_opts *o, int use_helper, const char *text, size_t len,
                   struct ag_hook_answer *a)
{
    memset(a, 0, sizeof *a);
    struct ag_hook_opts own = *o; /* the decision fills policy and tier from the config */
    struct ag__hook_out out;
    ag__hook_out_init(&out);
    int code = AG_HOOK_EXIT_DENY;
    enum ag__helper_result r = use_helper && o->home
                                   ? ag__hook_helper_ask(&own, text, len, &code, &out)
                                   : AG__HELPER_UNAVAILABLE;
    if (r == AG__HELPER_FAILED)
        code = ag__hook_deny(&out, "hook helper", AG_EIO);
    else if (r == AG__HELPER_UNAVAILABLE)
        code = o->home ? ag__hook_eval(&own, text, len, NULL, &out)
                       : ag__hook_deny(&out, "no data directory", AG_EINVAL);
    a->helper_missing = r == AG__HELPER_UNAVAILABLE;
    return take(&out, code, a);
}

int ag_hook_deny_early(const struct ag_hook_opts *o, const char *what, enum ag_reason reason,
                       ag_err err, struct ag_hook_answer *a)
{
    memset(a, 0, sizeof *a);
    struct ag__hook_out out;
    ag__hook_out_init(&out);
    if (o->home)
        (void)ag__hook_deny_early(o, what, reason, err, &out);
    else
        (void)ag__hook_deny(&out, what, err);
    return take(&out, AG_HOOK_EXIT_DENY, a);
}

void ag_hook_answer_clear(struct ag_hook_answer *a)
{
    free(a->out);
    free(a->err);
    memset(a, 0, sizeof *a);
}
