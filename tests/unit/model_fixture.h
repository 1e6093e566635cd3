/* A scripted OpenAI-compatible model server (tests/llm/model_server.py) for unit tests
 * and benches. Ownership: the fixture owns the server process; the first
 * ag_test_model_url() starts it (once per binary) and an atexit handler stops it by PID;
 * strings returned are static, except ag_test_model_log's (malloc'd for the caller). */
#ifndef AG_TEST_MODEL_FIXTURE_H
#define AG_TEST_MODEL_FIXTURE_H

/* "http://127.0.0.1:PORT/v1", or NULL (reason on stderr) if it could not start. */
const char *ag_test_model_url(void);
/* Replaces the server's queue of scripted answers (a JSON list; see the script). 0 ok. */
int ag_test_model_script(const char *json_list);
/* Clears the queue and the request log. */
int ag_test_model_reset(void);
/* The JSON list of requests received so far; NULL on failure. free() it. */
char *ag_test_model_log(void);
/* Stops the server (to test a model that went away). */
void ag_test_model_stop(void);

#endif
