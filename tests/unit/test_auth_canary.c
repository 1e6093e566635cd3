/* Canary: 1,000 distinct secret values are written and read back, then every byte the
 * system left behind (state.db and its WAL, the ledger and its WAL, every other file in
 * the data directory; on Redis every stored value) is searched for any of them. */
#include <dirent.h>

#include "auth_fixture.h"
#include "core/fileio.h"

#define NCANARY    1000
#define CANARY_LEN 32 /* "cnry-" + 27 random hex digits */

static char canaries[NCANARY][CANARY_LEN + 1];

static void make_canaries(void)
{
    for (int i = 0; i < NCANARY; i++) {
        char hex[29];
        ag__random_hex(14, hex);
        hex[27] = '\0';
        snprintf(canaries[i], sizeof canaries[i], "cnry-%.27s", hex);
    }
}

/* Number of canaries found in buf. Every canary starts with "cnry-": find those, then
 * compare the candidates. */
static int hits_in(const char *buf, size_t len)
{
    int hits = 0;
    for (size_t i = 0; i + CANARY_LEN <= len; i++) {
        if (memcmp(buf + i, "cnry-", 5) != 0)
            continue;
        for (int k = 0; k < NCANARY; k++)
            if (memcmp(buf + i, canaries[k], CANARY_LEN) == 0)
                hits++;
    }
    return hits;
}

static int scan_dir(const char *dir, int *files)
{
    DIR *d = opendir(dir);
    ASSERT_TRUE(d != NULL);
    struct dirent *e;
    int hits = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *data = NULL;
        size_t len = 0;
        if (ag__read_file(path, 512u << 20, &data, &len) != AG_OK)
            continue;
        hits += hits_in(data, len);
        (*files)++;
        free(data);
    }
    closedir(d);
    return hits;
}

static void write_and_read(struct afx *f)
{
    make_canaries();
    char path[64], json[96];
    for (int i = 0; i < NCANARY; i++) {
        snprintf(path, sizeof path, "secret/services/canary/%04d", i);
        snprintf(json, sizeof json, "{\"password\":\"%.32s\"}", canaries[i]);
        ASSERT_OK(ag_auth_secret_put(f->auth, f->root, path, json, -1, NULL));
    }
    char tok[AG_TOKEN_BUF];
    afx_login(f, "reader", 3, tok);
    for (int i = 0; i < NCANARY; i += 7) {
        snprintf(path, sizeof path, "services/canary/%04d", i);
        struct ag_secret s;
        ASSERT_OK(ag_auth_secret_get(f->auth, tok, path, 0, &s));
        ASSERT_CONTAINS(s.data_json, canaries[i]);
        ag_secret_clear(&s);
    }
}

TEST(canary_sqlite_no_plaintext_on_disk)
{
    struct afx f;
    afx_open(&f, "canary", 0);
    write_and_read(&f);
    /* Scan while open (the WAL files still hold every recent page), then after close. */
    int files = 0;
    ASSERT_EQ(scan_dir(f.dir, &files), 0);
    ASSERT_TRUE(files >= 4); /* state.db, ledger.db and their WALs at least */
    afx_close(&f);
    files = 0;
    ASSERT_EQ(scan_dir(f.dir, &files), 0);
    /* The scanner does find a canary where one is. */
    ASSERT_EQ(hits_in(canaries[5], CANARY_LEN), 1);
}

TEST(canary_redis_no_plaintext_in_store)
{
    struct afx f;
    afx_open(&f, "canary_redis", 1);
    write_and_read(&f);
    char **keys = NULL;
    size_t n = 0;
    ASSERT_OK(ag_store_keys(f.store, "", &keys, &n));
    ASSERT_TRUE(n >= NCANARY);
    int hits = 0;
    for (size_t i = 0; i < n; i++) {
        char *v = NULL;
        hits += hits_in(keys[i], strlen(keys[i]));
        if (ag_store_get(f.store, keys[i], &v) == AG_OK && v)
            hits += hits_in(v, strlen(v));
        free(v);
    }
    ag_store_strv_free(keys, n);
    ASSERT_EQ(hits, 0);
    afx_close(&f);
    int files = 0;
    ASSERT_EQ(scan_dir(f.dir, &files), 0); /* the ledger */
}
