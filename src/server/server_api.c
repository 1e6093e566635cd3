/* The daemon's public entry points (agentgov/server.h) over server/server.h. */
#include "agentgov/server.h"

#include "server/log.h"
#include "server/server.h"

void ag_server_log_setup(const ag_config *settings)
{
    struct ag__server_config c;
    ag__server_config_from(settings, &c);
    ag__log_setup(c.log_json ? AG_LOG_JSON : AG_LOG_TEXT, (enum ag__log_level)c.log_level);
}

ag_err ag_server_serve(const ag_config *settings, const char *dir)
{
    struct ag__server_config c;
    ag__server_config_from(settings, &c);
    ag__server_block_signals();
    struct ag__srv *srv;
    ag_err e = ag__server_new(&c, dir, &srv);
    if (e)
        return e;
    if ((e = ag__server_start(srv))) {
        ag__server_free(srv);
        return e;
    }
    ag__server_run(srv);
    ag__server_free(srv);
    ag__log(AG_LOG_INFO, "stop", "stopped");
    return AG_OK;
}
