#include "policy/yaml.h"

#include <libfyaml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/jcs.h"

#define MAX_DEPTH 64

/* A container being filled: children are collected in a malloc'd vector and copied
 * into the arena when the container closes. */
struct frame {
    struct ag__ynode *node;
    struct ag__ynode **kids;
    size_t n, cap;
};

struct anchor {
    const char *name;
    size_t len;
    struct ag__ynode *node;
};

struct builder {
    struct ag__arena *a;
    const char *name;
    struct frame stack[MAX_DEPTH];
    int depth;
    struct anchor *anchors;
    size_t nanchors, capanchors;
    struct ag__ynode *root;
    int ndocs;
    int last_line, last_col;
    char diag[512]; /* first error message libfyaml reported */
};

/* libfyaml formats "<input>:line:col: error: message" and then the source line; the
 * first chunk that holds "error:" is kept, the rest is dropped (the library never
 * prints). */
static void diag_out(struct fy_diag *d, void *user, const char *buf, size_t len)
{
    struct builder *b = user;
    (void)d;
    if (b->diag[0] != '\0')
        return;
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%.*s", (int)len, buf);
    if (strstr(tmp, "error:"))
        snprintf(b->diag, sizeof b->diag, "%s", tmp);
}

/* Turns libfyaml's "<input>:3:6: error: missing comma" into "name:3:6: missing comma". */
static ag_err syntax_error(struct builder *b)
{
    const char *e = strstr(b->diag, ": error: ");
    if (e) {
        const char *p = e;
        int colons = 0;
        while (p > b->diag && colons < 2) {
            p--;
            if (*p == ':')
                colons++;
        }
        char *nl = strchr(e, '\n');
        if (nl)
            *nl = '\0';
        if (colons == 2)
            return ag__fail(AG_EPARSE, "%s%.*s: YAML syntax error: %s", b->name, (int)(e - p), p,
                            e + 9);
    }
    return ag__fail(AG_EPARSE, "%s:%d:%d: YAML syntax error", b->name, b->last_line, b->last_col);
}

static struct ag__ynode *new_node(struct builder *b, enum ag__ytype type, const struct fy_mark *m)
{
    struct ag__ynode *n = ag__arena_alloc(b->a, sizeof *n);
    if (n == NULL)
        return NULL;
    n->type = type;
    if (m && m->line >= 0) {
        b->last_line = m->line + 1;
        b->last_col = m->column + 1;
    }
    /* An empty value has no mark of its own: it sits where the parser last was. */
    n->line = b->last_line;
    n->col = b->last_col;
    return n;
}

static ag_err add_child(struct builder *b, struct ag__ynode *n)
{
    if (b->depth == 0) {
        if (b->root)
            return ag__fail(AG_EPARSE, "%s:%d:%d: more than one YAML node at top level", b->name,
                            n->line, n->col);
        b->root = n;
        return AG_OK;
    }
    struct frame *f = &b->stack[b->depth - 1];
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        struct ag__ynode **k = realloc(f->kids, cap * sizeof *k);
        if (k == NULL)
            return AG_ENOMEM;
        f->kids = k;
        f->cap = cap;
    }
    f->kids[f->n++] = n;
    return AG_OK;
}

static ag_err remember_anchor(struct builder *b, struct fy_token *anchor, struct ag__ynode *n)
{
    if (anchor == NULL)
        return AG_OK;
    if (b->nanchors == b->capanchors) {
        size_t cap = b->capanchors ? b->capanchors * 2 : 8;
        struct anchor *x = realloc(b->anchors, cap * sizeof *x);
        if (x == NULL)
            return AG_ENOMEM;
        b->anchors = x;
        b->capanchors = cap;
    }
    struct anchor *x = &b->anchors[b->nanchors++];
    const char *name = fy_token_get_text(anchor, &x->len);
    /* Copied: the token dies with its event. */
    x->name = ag__arena_strndup(b->a, name ? name : "", name ? x->len : 0);
    x->node = n;
    return x->name ? AG_OK : AG_ENOMEM;
}

/* Aliases share the anchored node: the tree is read-only once built. Later anchors
 * with the same name win, as YAML says. */
static struct ag__ynode *find_anchor(struct builder *b, struct fy_token *alias)
{
    size_t len;
    const char *name = fy_token_get_text(alias, &len);
    for (size_t i = b->nanchors; i-- > 0;)
        if (name && b->anchors[i].len == len && memcmp(b->anchors[i].name, name, len) == 0)
            return b->anchors[i].node;
    return NULL;
}

static ag_err open_container(struct builder *b, struct fy_event *e, enum ag__ytype type)
{
    struct ag__ynode *n = new_node(b, type, fy_event_start_mark(e));
    if (n == NULL)
        return AG_ENOMEM;
    if (b->depth == MAX_DEPTH)
        return ag__fail(AG_EPARSE, "%s:%d:%d: YAML nested deeper than %d levels", b->name, n->line,
                        n->col, MAX_DEPTH);
    struct fy_token *anchor =
        type == AG__Y_MAP ? e->mapping_start.anchor : e->sequence_start.anchor;
    ag_err err = remember_anchor(b, anchor, n);
    if (err == AG_OK)
        err = add_child(b, n);
    if (err != AG_OK)
        return err;
    struct frame *f = &b->stack[b->depth++];
    memset(f, 0, sizeof *f);
    f->node = n;
    return AG_OK;
}

static ag_err close_container(struct builder *b)
{
    struct frame *f = &b->stack[--b->depth];
    struct ag__ynode *n = f->node;
    size_t count = f->n;
    if (count) {
        n->items = ag__arena_alloc(b->a, count * sizeof *n->items);
        if (n->items == NULL)
            return AG_ENOMEM;
        memcpy(n->items, f->kids, count * sizeof *n->items);
    }
    n->n = n->type == AG__Y_MAP ? count / 2 : count;
    free(f->kids);
    f->kids = NULL;
    return AG_OK;
}

static ag_err on_scalar(struct builder *b, struct fy_event *e)
{
    struct ag__ynode *n = new_node(b, AG__Y_SCALAR, fy_event_start_mark(e));
    if (n == NULL)
        return AG_ENOMEM;
    size_t len = 0;
    const char *text = fy_token_get_text(e->scalar.value, &len);
    enum fy_node_style style = fy_event_get_node_style(e);
    n->text = ag__arena_strndup(b->a, text ? text : "", text ? len : 0);
    if (n->text == NULL)
        return AG_ENOMEM;
    n->len = text ? len : 0;
    n->quoted = style != FYNS_PLAIN && style != FYNS_ANY;
    /* libfyaml marks a quoted scalar at its first character; point at the quote. */
    if ((style == FYNS_SINGLE_QUOTED || style == FYNS_DOUBLE_QUOTED) && n->col > 1)
        n->col--;
    n->is_null = !n->quoted && n->len == 0;
    ag_err err = remember_anchor(b, e->scalar.anchor, n);
    return err ? err : add_child(b, n);
}

static ag_err on_event(struct builder *b, struct fy_event *e)
{
    switch (e->type) {
    case FYET_DOCUMENT_START:
        if (++b->ndocs > 1) {
            const struct fy_mark *m = fy_event_start_mark(e);
            return ag__fail(AG_EPARSE, "%s:%d:%d: more than one YAML document", b->name,
                            m && m->line >= 0 ? m->line + 1 : b->last_line,
                            m && m->line >= 0 ? m->column + 1 : b->last_col);
        }
        return AG_OK;
    case FYET_MAPPING_START:
        return open_container(b, e, AG__Y_MAP);
    case FYET_SEQUENCE_START:
        return open_container(b, e, AG__Y_SEQ);
    case FYET_MAPPING_END:
    case FYET_SEQUENCE_END:
        return close_container(b);
    case FYET_SCALAR:
        return on_scalar(b, e);
    case FYET_ALIAS: {
        struct ag__ynode *n = find_anchor(b, e->alias.anchor);
        if (n == NULL) {
            const struct fy_mark *m = fy_event_start_mark(e);
            return ag__fail(AG_EPARSE, "%s:%d:%d: unknown alias", b->name,
                            m ? m->line + 1 : b->last_line, m ? m->column + 1 : b->last_col);
        }
        return add_child(b, n);
    }
    default:
        return AG_OK;
    }
}

static void builder_free(struct builder *b)
{
    while (b->depth > 0)
        free(b->stack[--b->depth].kids);
    free(b->anchors);
}

/* Index of the first byte of s[0..n) that is a NUL or starts malformed UTF-8, else n. */
static size_t bad_byte_at(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c == 0 ? 0 : c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
        if (k == 0 || k > n - i || !ag__utf8_valid(s + i, k))
            return i;
        i += k;
    }
    return n;
}

/* libfyaml ends the stream without an error at a NUL byte, and at malformed UTF-8 that
 * starts a token, so everything after it (a deny rule, say) would be silently dropped.
 * Such bytes are refused before parsing, at their line and (byte) column. */
static ag_err check_bytes(const char *name, const char *buf, size_t len)
{
    int line = 1;
    for (size_t start = 0; start < len;) {
        const char *nl = memchr(buf + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - buf) : len;
        size_t bad = bad_byte_at(buf + start, end - start);
        if (bad < end - start)
            return ag__fail(AG_EPARSE, "%s:%d:%zu: %s", name, line, bad + 1,
                            buf[start + bad] ? "not valid UTF-8" : "NUL byte");
        line++;
        start = end + 1;
    }
    return AG_OK;
}

ag_err ag__yaml_parse(struct ag__arena *a, const char *name, const char *buf, size_t len,
                      struct ag__ynode **root)
{
    *root = NULL;
    ag_err bytes = check_bytes(name, buf, len);
    if (bytes != AG_OK)
        return bytes;
    struct builder b;
    memset(&b, 0, sizeof b);
    b.a = a;
    b.name = name;
    b.last_line = 1;
    b.last_col = 1;

    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = diag_out;
    dcfg.user = &b;
    dcfg.colorize = false;
    dcfg.show_source = false;
    dcfg.show_position = true;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET, .diag = diag};
    struct fy_parser *fyp = diag ? fy_parser_create(&cfg) : NULL;
    if (fyp == NULL || fy_parser_set_string(fyp, buf, len) != 0) {
        if (fyp)
            fy_parser_destroy(fyp);
        fy_diag_destroy(diag);
        return AG_ENOMEM;
    }
    ag_err err = AG_OK;
    struct fy_event *e;
    while (err == AG_OK && (e = fy_parser_parse(fyp)) != NULL) {
        err = on_event(&b, e);
        fy_parser_event_free(fyp, e);
    }
    if (err == AG_OK && fy_parser_get_stream_error(fyp))
        err = syntax_error(&b);
    fy_parser_destroy(fyp);
    fy_diag_destroy(diag);
    builder_free(&b);
    *root = err == AG_OK ? b.root : NULL;
    return err;
}

struct ag__ynode *ag__yaml_get(const struct ag__ynode *map, const char *key)
{
    if (map == NULL || map->type != AG__Y_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++) {
        const struct ag__ynode *k = map->items[2 * i];
        if (k->type == AG__Y_SCALAR && strcmp(k->text, key) == 0)
            return map->items[2 * i + 1];
    }
    return NULL;
}
