/* The scripted model server fixture: see model_fixture.h. */
#include "model_fixture.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "test.h"

static pid_t server_pid, owner_pid;
static char url[96], base[64];

static void stop_server(void)
{
    if (server_pid > 0 && getpid() == owner_pid) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
    server_pid = 0;
}

void ag_test_model_stop(void)
{
    stop_server();
}

const char *ag_test_model_url(void)
{
    if (server_pid > 0)
        return url;
    const char *src = getenv("AGENTGOV_SRC");
    char script[1024], portfile[1024];
    snprintf(script, sizeof script, "%s/tests/llm/model_server.py", src ? src : ".");
    snprintf(portfile, sizeof portfile, "%s/model.port", ag_test_fresh_dir("model-server"));
    pid_t p = fork();
    if (p < 0)
        return NULL;
    if (p == 0) {
        execlp("python3", "python3", script, portfile, (char *)NULL);
        _exit(127);
    }
    server_pid = p;
    owner_pid = getpid();
    atexit(stop_server);
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(portfile, "r");
        int port = 0;
        if (f) {
            if (fscanf(f, "%d", &port) != 1)
                port = 0;
            fclose(f);
        }
        if (port > 0) {
            snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
            snprintf(url, sizeof url, "%s/v1", base);
            return url;
        }
        struct timespec ts = {0, 25 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "model server %s did not start\n", script);
    stop_server();
    return NULL;
}

static size_t sink(char *p, size_t sz, size_t n, void *ctx)
{
    FILE *f = ctx;
    return fwrite(p, sz, n, f);
}

/* One control request; the body answered goes to *out when out is given. */
static int control(const char *method, const char *path, const char *body, char **out)
{
    if (!ag_test_model_url())
        return -1;
    char u[256];
    snprintf(u, sizeof u, "%s%s", base, path);
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, u);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    fclose(mem);
    if (rc != CURLE_OK || status != 200) {
        free(buf);
        return -1;
    }
    if (out)
        *out = buf;
    else
        free(buf);
    return 0;
}

int ag_test_model_script(const char *json_list)
{
    return control("POST", "/_script", json_list, NULL);
}

int ag_test_model_reset(void)
{
    return control("POST", "/_reset", "", NULL);
}

char *ag_test_model_log(void)
{
    char *out = NULL;
    return control("GET", "/_log", NULL, &out) == 0 ? out : NULL;
}
