/* The table of ledger backends. */
#include "ledger/backend.h"

#include <string.h>

#include "core/err.h"
#include "ledger/backend_sqlite.h"

ag_err ag__ledger_backend_find(const char *target, const struct ag__ledger_backend **be,
                               const char **rest)
{
    if (target == NULL || *target == '\0')
        return ag__fail(AG_EINVAL, "ledger: empty database path");
    if (strncmp(target, "sqlite:", 7) == 0) {
        *be = &ag__ledger_backend_sqlite;
        *rest = target + 7;
        return AG_OK;
    }
    if (strstr(target, "://") != NULL)
        return ag__fail(AG_EUNSUPPORTED, "ledger: no backend for '%s' (only sqlite)", target);
    *be = &ag__ledger_backend_sqlite;
    *rest = target;
    return AG_OK;
}
