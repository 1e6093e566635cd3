/* The daemon's TLS settings (libmicrohttpd serves HTTPS with GnuTLS). */
#include <stdlib.h>

#include "core/err.h"
#include "core/fileio.h"
#include "server/server.h"

/* --tls-cert and --tls-key: both files read into memory (libmicrohttpd's GnuTLS takes
 * PEM text), kept for the daemon's life. One without the other is an error, not plain
 * HTTP. */
ag_err ag__server_tls_load(struct ag__srv *s, struct MHD_OptionItem opts[3])
{
    const char *cert = s->cfg.tls_cert, *key = s->cfg.tls_key;
    if (!cert[0] && !key[0])
        return AG_OK;
    if (!cert[0] || !key[0])
        return ag__fail(AG_EINVAL,
                        "TLS needs both tls.cert and tls.key (--tls-cert and "
                        "--tls-key); only %s is set",
                        cert[0] ? "tls.cert" : "tls.key");
    size_t n;
    ag_err e = ag__read_file(cert, 1 << 20, &s->tls_cert_pem, &n);
    if (e)
        return ag__fail_wrap(e, "tls.cert %s", cert);
    e = ag__read_file(key, 1 << 20, &s->tls_key_pem, &n);
    if (e)
        return ag__fail_wrap(e, "tls.key %s", key);
    opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert_pem};
    opts[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key_pem};
    opts[2] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    s->tls = 1;
    return AG_OK;
}
