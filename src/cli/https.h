/* HTTPS GET for the CLI's daemon clients (`agentgov health --addr https://...`).
 * Ownership: *body is malloc'd and the caller's to free.
 *
 * Only agentgovd links libcurl (the lean agentgov leaves it out for the start-up cost of
 * every hook process): https_get.c is in agentgovd, and the lean binary's version
 * (daemon_exec.c) re-runs the whole command in agentgovd with the same arguments. */
#ifndef AG_CLI_HTTPS_H
#define AG_CLI_HTTPS_H

#include <stddef.h>

/* The environment variable naming the CA certificate a client trusts for the daemon
 * (also handed by `agentgov run` to its child). */
#define AG_CLI_CA_CERT_ENV "AGENTGOV_CA_CERT"

/* GETs url (https:// only), verifying the daemon's certificate and host name against
 * ca (a PEM file; NULL: the system's trust store). Verification is never turned off.
 * Returns 0 with *status and *body; -1 with a one-line reason in err (a certificate
 * that does not verify says so and names ca). argc/argv: the command's own arguments,
 * used by the lean binary to re-run it in agentgovd (it then returns only on failure). */
int ag__cli_https_get(int argc, char **argv, const char *url, const char *ca, int *status,
                      char **body, char *err, size_t errlen);

#endif
