/* docs/ledger-format.md's worked example is real: the canonical bytes in the document
 * are what the ledger's code produces for those values, the hashes are their SHA-256,
 * the rows chain, and the checkpoint's signature holds under the example key. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/fileio.h"
#include "core/jcs.h"
#include "ledger/keys.h"
#include "ledger/row.h"
#include "test.h"

#define ZERO "0000000000000000000000000000000000000000000000000000000000000000"

struct doc {
    char canon[3][2048];
    char hash[3][AG_HASH_HEX_LEN];
};

static void read_doc(struct doc *d)
{
    const char *src = getenv("AGENTGOV_SRC");
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/ledger-format.md", src ? src : ".");
    char *text = NULL;
    size_t len;
    ASSERT_OK(ag__read_file(path, 1 << 20, &text, &len));
    int nc = 0, nh = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "{\"action\":", 10) == 0 && nc < 3)
            snprintf(d->canon[nc++], sizeof d->canon[0], "%s", line);
        else if (strncmp(line, "hash = ", 7) == 0 && nh < 3)
            snprintf(d->hash[nh++], sizeof d->hash[0], "%s", line + 7);
    }
    free(text);
    ASSERT_EQ(nc, 3);
    ASSERT_EQ(nh, 3);
}

static void example_key(uint8_t pk[32], uint8_t sk[64])
{
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i;
    ASSERT_OK(ag__crypto_init());
    crypto_sign_seed_keypair(pk, sk, seed);
}

/* The three rows of the example, built with the ledger's own row code. */
static void build_rows(const struct doc *d, struct ag_buf out[3])
{
    uint8_t pk[32], sk[64];
    example_key(pk, sk);
    struct ag__ledger_row r;
    ag__row_clear(&r);
    ag__row_int(&r, AG__COL_SEQ, 1);
    ag__row_text(&r, AG__COL_TS, "2026-11-25T12:00:00.000Z");
    ag__row_text(&r, AG__COL_KIND, "system");
    ag__row_text(&r, AG__COL_ACTION, "init");
    ag__row_text(&r, AG__COL_REASON, "data directory created");
    ag__row_int(&r, AG__COL_SUCCESS, 1);
    ag__row_text(&r, AG__COL_PREV_HASH, ZERO);
    ASSERT_OK(ag__row_canonical(&r, 0, &out[0]));

    ag__row_clear(&r);
    ag__row_int(&r, AG__COL_SEQ, 2);
    ag__row_text(&r, AG__COL_TS, "2026-11-25T12:00:01.250Z");
    ag__row_text(&r, AG__COL_KIND, "action");
    ag__row_text(&r, AG__COL_AGENT_ID, "alpha");
    ag__row_text(&r, AG__COL_AGENT_VERSION, "1.2.0");
    ag__row_text(&r, AG__COL_TASK_ID, "task-42");
    ag__row_int(&r, AG__COL_TIER, 1);
    ag__row_text(&r, AG__COL_PHASE, "EXECUTE");
    ag__row_text(&r, AG__COL_ACTION, "write_file");
    ag__row_text(&r, AG__COL_RESOURCE, "/srv/app/caf\xc3\xa9.txt");
    ag__row_text(&r, AG__COL_DECISION, "allow");
    ag__row_text(&r, AG__COL_REASON, "rule \"sandbox-write\"\tmatched");
    ag__row_int(&r, AG__COL_CONFIDENCE, 875);
    ag__row_int(&r, AG__COL_SUCCESS, 1);
    ag__row_text(&r, AG__COL_DATA, "{\"bytes\":1024,\"tags\":[\"a\",\"b\"]}");
    ag__row_text(&r, AG__COL_PREV_HASH, d->hash[0]);
    ASSERT_OK(ag__row_canonical(&r, 0, &out[1]));

    char sig[2 * AG_LEDGER_SIG_LEN + 1], kid[AG_LEDGER_KEY_ID_LEN], data[512];
    ag__checkpoint_sign(sk, 2, d->hash[1], sig);
    ag__ledger_key_id(pk, kid);
    snprintf(data, sizeof data,
             "{\"key_id\":\"%s\",\"signature\":\"%s\",\"signed_hash\":\"%s\","
             "\"signed_seq\":2}",
             kid, sig, d->hash[1]);
    ag__row_clear(&r);
    ag__row_int(&r, AG__COL_SEQ, 3);
    ag__row_text(&r, AG__COL_TS, "2026-11-25T12:00:01.250Z");
    ag__row_text(&r, AG__COL_KIND, "checkpoint");
    ag__row_text(&r, AG__COL_DATA, data);
    ag__row_text(&r, AG__COL_PREV_HASH, d->hash[1]);
    ASSERT_OK(ag__row_canonical(&r, 0, &out[2]));
}

TEST(doc_worked_example_bytes_and_hashes)
{
    struct doc d;
    read_doc(&d);
    struct ag_buf rows[3];
    for (int i = 0; i < 3; i++)
        ag__buf_init(&rows[i]);
    build_rows(&d, rows);
    for (int i = 0; i < 3; i++) {
        ASSERT_STREQ(rows[i].data, d.canon[i]);
        char h[AG_SHA256_HEX_LEN];
        ag__sha256_hex(d.canon[i], strlen(d.canon[i]), h);
        ASSERT_STREQ(h, d.hash[i]);
        /* The generic serialiser agrees with the row serialiser on these bytes. */
        json_t *j = json_loads(d.canon[i], 0, NULL);
        char *again = NULL;
        ASSERT_OK(ag__jcs_dump(j, AG_JCS_NO_FLOATS, &again));
        ASSERT_STREQ(again, d.canon[i]);
        free(again);
        json_decref(j);
        ag__buf_free(&rows[i]);
    }
    ASSERT_CONTAINS(d.canon[0], "\"prev_hash\":\"" ZERO "\"");
    char link[128];
    snprintf(link, sizeof link, "\"prev_hash\":\"%s\"", d.hash[0]);
    ASSERT_CONTAINS(d.canon[1], link);
    snprintf(link, sizeof link, "\"prev_hash\":\"%s\"", d.hash[1]);
    ASSERT_CONTAINS(d.canon[2], link);
}

TEST(doc_worked_example_checkpoint_signature)
{
    struct doc d;
    read_doc(&d);
    uint8_t pk[32], sk[64];
    example_key(pk, sk);
    json_t *j = json_loads(d.canon[2], 0, NULL);
    json_t *data = json_object_get(j, "data");
    const char *sig = json_string_value(json_object_get(data, "signature"));
    ASSERT_EQ(json_integer_value(json_object_get(data, "signed_seq")), 2);
    ASSERT_STREQ(json_string_value(json_object_get(data, "signed_hash")), d.hash[1]);
    ASSERT_TRUE(ag__checkpoint_verify(pk, 2, d.hash[1], sig));
    ASSERT_FALSE(ag__checkpoint_verify(pk, 1, d.hash[1], sig));
    json_decref(j);
}
