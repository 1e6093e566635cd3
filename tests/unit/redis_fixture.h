/* A private redis-server for unit tests. Ownership: the fixture owns the server process
 * and its directory; the first ag_test_redis_url() call starts it (once per test binary)
 * and an atexit handler stops it by PID. Strings returned are static.
 *
 *   const char *url = ag_test_redis_url();   // "redis://127.0.0.1:PORT/0"
 *   ASSERT_TRUE(url != NULL);
 */
#ifndef AG_TEST_REDIS_FIXTURE_H
#define AG_TEST_REDIS_FIXTURE_H

/* URL of the fixture's server, started on first use on 127.0.0.1 and a free port with
 * no persistence (--save '' --appendonly no); NULL (with the reason on stderr) if it
 * could not start. */
const char *ag_test_redis_url(void);
/* TCP port of the server (0 before it started). */
int ag_test_redis_port(void);
/* Deletes every key in every database: an empty server for the next test. */
void ag_test_redis_flush(void);
/* Runs one command with hiredis printf-style formatting on a fresh connection; returns
 * 0 when the reply is not an error. For setup the API does not offer (CONFIG SET ...). */
int ag_test_redis_cmd(const char *fmt, ...);
/* Stops the server (SIGTERM, then waits for it), to test a store that went away. */
void ag_test_redis_stop(void);
/* Starts it again on the same port after ag_test_redis_stop(); 0 once it answers PING. */
int ag_test_redis_restart(void);
/* Sends sig to the server (SIGSTOP/SIGCONT: a server that hangs); -1 when not running. */
int ag_test_redis_signal(int sig);

#endif
