#include "mcp/mcp_int.h"

int ag__mcp_redact(struct ag__mcp_session *s, json_t *m, const char *tool)
{
    (void)s;
    (void)m;
    (void)tool;
    return 0;
}

void ag__mcp_redact_free(struct ag__mcp_session *s)
{
    (void)s;
}
