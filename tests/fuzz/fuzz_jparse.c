/*
 * fuzz_jparse: jparse (src/core/jparse.c) against cJSON's own parse on
 * arbitrary bytes. The input is the JSON text. Both must fail, or both
 * succeed with the same tree (jparse_same: every field, the prev links too)
 * and the same end pointer; jparse_in too, in an arena kept across inputs
 * (as a stream's chunks keep theirs). And jw_value (src/core/jw.c) writes every
 * parsed tree exactly as cJSON_PrintUnformatted prints it.
 */
#include <cjson/cJSON.h>

#include "fuzz_util.h"
#include "jparse.h"
#include "jw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data, *e1 = NULL, *e2 = NULL;
    cJSON *want = cJSON_ParseWithLengthOpts(s, size, &e1, 0);
    cJSON *got = jparse(s, size, &e2);
    FUZZ_CHECK(!want == !got, "cJSON %s, jparse %s", want ? "parses" : "fails",
               got ? "parses" : "fails");
    FUZZ_CHECK(e1 == e2, "end differs: cJSON at %td, jparse at %td", e1 ? e1 - s : -1,
               e2 ? e2 - s : -1);
    static jparse_arena arena;
    const char *e3 = NULL;
    cJSON *in = jparse_in(&arena, s, size, &e3);
    FUZZ_CHECK(jparse_same(want, in) && e1 == e3, "jparse_in differs from cJSON");
    jparse_arena_drop(&arena);
    if (want) {
        FUZZ_CHECK(jparse_same(want, got), "the trees differ");
        char *p = cJSON_PrintUnformatted(want);
        buf b;
        jw w;
        buf_init(&b, 0);
        jw_init(&w, &b);
        jw_value(&w, want);
        int rc = jw_finish(&w);
        FUZZ_CHECK(p && rc == 0 && b.len == strlen(p) && memcmp(b.data, p, b.len) == 0,
                   "jw_value differs from cJSON_PrintUnformatted");
        buf_free(&b);
        cJSON_free(p);
    }
    cJSON_Delete(want);
    cJSON_Delete(got);
    return 0;
}
