/* Minimal JSON reader for the test fixtures: objects, arrays, numbers, strings (escapes kept
 * simple), true/false/null. Parses a whole file into a tree; errors return NULL. */
#ifndef FFL_TEST_JSON_MIN_H
#define FFL_TEST_JSON_MIN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { JV_NULL, JV_BOOL, JV_NUM, JV_STR, JV_ARR, JV_OBJ };

typedef struct jv {
    int type;
    double num;        /* JV_NUM, JV_BOOL */
    char *str;         /* JV_STR */
    int n;             /* JV_ARR / JV_OBJ: element count */
    struct jv **items; /* elements / member values */
    char **keys;       /* JV_OBJ member names */
} jv;

typedef struct {
    const char *p, *end;
} jparse;

static void jv_free(jv *v) {
    if (!v) return;
    for (int i = 0; i < v->n; i++) {
        jv_free(v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v);
}

static void jskip(jparse *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')) j->p++;
}

static char *jstring(jparse *j) {
    if (j->p >= j->end || *j->p != '"') return NULL;
    j->p++;
    size_t cap = 16, n = 0;
    char *s = malloc(cap);
    while (j->p < j->end && *j->p != '"') {
        char c = *j->p++;
        if (c == '\\' && j->p < j->end) {
            char e = *j->p++;
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': /* keep ASCII code points, replace others by '?' */
                if (j->end - j->p >= 4) {
                    char hex[5] = {j->p[0], j->p[1], j->p[2], j->p[3], 0};
                    long cp = strtol(hex, NULL, 16);
                    c = cp < 128 ? (char)cp : '?';
                    j->p += 4;
                }
                break;
            default: c = e;
            }
        }
        if (n + 1 >= cap) s = realloc(s, cap *= 2);
        s[n++] = c;
    }
    if (j->p >= j->end) {
        free(s);
        return NULL;
    }
    j->p++;
    s[n] = 0;
    return s;
}

static jv *jvalue(jparse *j, int depth) {
    jskip(j);
    if (j->p >= j->end || depth > 64) return NULL;
    jv *v = calloc(1, sizeof *v);
    char c = *j->p;
    if (c == '{' || c == '[') {
        v->type = c == '{' ? JV_OBJ : JV_ARR;
        j->p++;
        int cap = 0;
        jskip(j);
        if (j->p < j->end && *j->p == (c == '{' ? '}' : ']')) {
            j->p++;
            return v;
        }
        for (;;) {
            char *key = NULL;
            if (v->type == JV_OBJ) {
                jskip(j);
                key = jstring(j);
                jskip(j);
                if (!key || j->p >= j->end || *j->p != ':') {
                    free(key);
                    jv_free(v);
                    return NULL;
                }
                j->p++;
            }
            jv *item = jvalue(j, depth + 1);
            if (!item) {
                free(key);
                jv_free(v);
                return NULL;
            }
            if (v->n == cap) {
                cap = cap ? cap * 2 : 8;
                v->items = realloc(v->items, (size_t)cap * sizeof *v->items);
                if (v->type == JV_OBJ) v->keys = realloc(v->keys, (size_t)cap * sizeof *v->keys);
            }
            v->items[v->n] = item;
            if (v->type == JV_OBJ) v->keys[v->n] = key;
            v->n++;
            jskip(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == (v->type == JV_OBJ ? '}' : ']')) {
                j->p++;
                return v;
            }
            jv_free(v);
            return NULL;
        }
    }
    if (c == '"') {
        v->type = JV_STR;
        v->str = jstring(j);
        if (!v->str) {
            jv_free(v);
            return NULL;
        }
        return v;
    }
    if (j->end - j->p >= 4 && memcmp(j->p, "true", 4) == 0) {
        v->type = JV_BOOL;
        v->num = 1;
        j->p += 4;
        return v;
    }
    if (j->end - j->p >= 5 && memcmp(j->p, "false", 5) == 0) {
        v->type = JV_BOOL;
        j->p += 5;
        return v;
    }
    if (j->end - j->p >= 4 && memcmp(j->p, "null", 4) == 0) {
        j->p += 4;
        return v;
    }
    char *endp;
    v->type = JV_NUM;
    v->num = strtod(j->p, &endp);
    if (endp == j->p) {
        jv_free(v);
        return NULL;
    }
    j->p = endp;
    return v;
}

static jv *jv_parse_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    size_t got = fread(buf, 1, (size_t)size, f);
    fclose(f);
    buf[got] = 0;
    jparse j = {buf, buf + got};
    jv *v = jvalue(&j, 0);
    free(buf);
    return v;
}

static jv *jv_get(const jv *o, const char *key) {
    if (!o || o->type != JV_OBJ) return NULL;
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0) return o->items[i];
    return NULL;
}

/* Array of numbers to a new int32 array; *n = length. */
static int *jv_ints(const jv *a, int *n) {
    *n = 0;
    if (!a || a->type != JV_ARR) return NULL;
    int *out = malloc((size_t)(a->n ? a->n : 1) * sizeof *out);
    for (int i = 0; i < a->n; i++) out[i] = (int)a->items[i]->num;
    *n = a->n;
    return out;
}

#endif
