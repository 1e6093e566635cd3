#include "mcp/mcp_int.h"

int ag__mcp_tools_list(struct ag__mcp_session *s, json_t *m)
{
    (void)s;
    (void)m;
    return 0;
}

int ag__mcp_pin_blocked(struct ag__mcp_session *s, const char *tool, struct ag__mcp_call *c)
{
    (void)s;
    (void)tool;
    (void)c;
    return 0;
}

void ag__mcp_pins_free(struct ag__mcp_session *s)
{
    json_decref(s->pins);
    json_decref(s->changed);
}
