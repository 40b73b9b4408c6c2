/*
 * fuzz_toolargs: tool-argument repair and coercion (src/toolargs.c) on
 * arbitrary bytes.
 *
 * Input: a 4-byte header, then the arguments text.
 *   hdr[0]   schema: one of the input_schemas below (last: NULL)
 *   hdr[1]   out maximum: 0 → 1 MiB, else hdr[1] * 16 bytes
 *   hdr[2]   property schema for toolargs_value_from_text
 *   hdr[3]   unused (reserved)
 * Checks (toolargs.h): toolargs_repair returns 0 with a compact JSON object
 * appended (bytes already in out kept), or an error with out unchanged and a
 * message; repairing its own output again changes nothing; a strictly valid
 * JSON object with no schema comes out as cJSON prints it; toolargs_parse
 * never crashes; toolargs_value_from_text keeps the text verbatim for a
 * string-typed or unknown property; toolargs_find_tool finds only a tool
 * with that name (exact match first, else the only case-insensitive one).
 */
#include <strings.h>

#include "toolargs.h"
#include "fuzz_util.h"

static const char tools_json[] =
    "[{\"name\":\"Bash\",\"input_schema\":{\"type\":\"object\",\"properties\":{"
    "\"command\":{\"type\":\"string\"},\"timeout\":{\"type\":\"number\"},"
    "\"run_in_background\":{\"type\":\"boolean\"}},\"required\":[\"command\"]}},"
    FUZZ_TOOL_READ "," FUZZ_TOOL_TODOWRITE ","
    "{\"name\":\"MultiEdit\",\"input_schema\":{\"type\":\"object\",\"properties\":{"
    "\"file_path\":{\"type\":\"string\"},\"edits\":{\"type\":\"array\",\"items\":{"
    "\"type\":\"object\",\"properties\":{\"old_string\":{\"type\":\"string\"},"
    "\"new_string\":{\"type\":\"string\"},\"replace_all\":{\"type\":\"boolean\"}}}}}}},"
    "{\"name\":\"Mixed\",\"input_schema\":{\"type\":\"object\",\"properties\":{"
    "\"n\":{\"type\":[\"integer\",\"string\"]},\"o\":{\"anyOf\":[{\"type\":\"object\"},"
    "{\"type\":\"null\"}]},\"s\":{\"oneOf\":[{\"type\":\"number\"},{\"type\":\"boolean\"}]},"
    "\"f\":{\"type\":\"boolean\"},\"a\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}},"
    "\"deep\":{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"object\",\"properties\":"
    "{\"y\":{\"type\":\"integer\"}}}}}}}},"
    "{\"name\":\"read\",\"input_schema\":{\"type\":\"object\"}},"
    "{\"name\":\"NoSchema\"},"
    "{\"name\":\"Odd\",\"input_schema\":{\"type\":\"object\",\"properties\":[1,2]}}]";

static cJSON *tools;
static const cJSON *schemas[16];
static size_t nschemas;

static const char *prop_json[] = {
    "{\"type\":\"string\"}",
    "{\"type\":\"integer\"}",
    "{\"type\":\"number\"}",
    "{\"type\":\"boolean\"}",
    "{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}",
    "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}}",
    "{\"type\":[\"null\",\"integer\"]}",
    "{\"anyOf\":[{\"type\":\"array\"},{\"type\":\"string\"}]}",
    "{}",
};
static cJSON *props[sizeof prop_json / sizeof prop_json[0]];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    tools = cJSON_Parse(tools_json);
    if (!tools) return -1;
    const cJSON *t;
    cJSON_ArrayForEach(t, tools) schemas[nschemas++] = cJSON_GetObjectItemCaseSensitive(t, "input_schema");
    schemas[nschemas++] = NULL;
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        if (!(props[i] = cJSON_Parse(prop_json[i]))) return -1;
    return 0;
}

/* Strict: p is exactly one JSON object (whitespace around allowed). */
static cJSON *strict_object(const char *p, size_t n)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(p, n, &end, 0);
    if (!j) return NULL;
    while (end && end < p + n && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
        end++;
    if (!cJSON_IsObject(j) || end != p + n) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

FUZZ_TARGET(4)
{
    const cJSON *schema = schemas[in->hdr[0] % nschemas];
    size_t max = in->hdr[1] ? (size_t)in->hdr[1] * 16 : (size_t)1 << 20;

    buf out;
    char err[128];
    buf_init(&out, max + 3);
    if (buf_append(&out, "PRE", 3)) abort();
    memset(err, 'x', sizeof err);
    int rc = toolargs_repair(p, len, schema, &out, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == TOOLARGS_EPARSE || rc == TOOLARGS_ENOTOBJ ||
                   rc == TOOLARGS_ETOOBIG,
               "unexpected return %d", rc);
    FUZZ_CHECK(out.len >= 3 && memcmp(out.data, "PRE", 3) == 0, "bytes already in out changed");
    if (rc) {
        FUZZ_CHECK(out.len == 3, "failed repair (%d) changed out", rc);
        FUZZ_CHECK(memchr(err, '\0', sizeof err) && err[0], "failed repair (%d) without a message",
                   rc);
        /* also with err NULL */
        FUZZ_CHECK(toolargs_repair(p, len, schema, &out, NULL, 0) == rc, "err NULL changed rc");
    } else {
        const char *r = out.data + 3;
        size_t rn = out.len - 3;
        fuzz_check_compact_object("repair result", r, rn);

        /* idempotent: its own output is left as it is */
        buf again;
        buf_init(&again, 0);
        int r2 = toolargs_repair(r, rn, schema, &again, NULL, 0);
        FUZZ_CHECK(r2 == 0 && again.len == rn && memcmp(again.data, r, rn) == 0,
                   "repair is not idempotent (%d):\n  once:  %.*s\n  twice: %.*s", r2, (int)rn, r,
                   (int)again.len, again.data ? again.data : "");
        buf_free(&again);

        /* strictly valid object, no schema: as cJSON prints it */
        cJSON *s = schema ? NULL : strict_object(p, len);
        if (s) {
            char *sp = cJSON_PrintUnformatted(s);
            FUZZ_CHECK(sp && strlen(sp) == rn && memcmp(sp, r, rn) == 0,
                       "a valid object was changed without a schema: %s -> %.*s", sp, (int)rn, r);
            cJSON_free(sp);
            cJSON_Delete(s);
        }
    }
    buf_free(&out);

    cJSON *v = toolargs_parse(p, len);
    if (v) {
        char *c = cJSON_PrintUnformatted(v);
        FUZZ_CHECK(c, "toolargs_parse returned an unprintable value");
        cJSON_free(c);
        cJSON_Delete(v);
    }

    const cJSON *prop = props[in->hdr[2] % (sizeof props / sizeof props[0])];
    cJSON *val = toolargs_value_from_text(p, len, prop);
    FUZZ_CHECK(val, "toolargs_value_from_text returned NULL");
    if (!memchr(p, '\0', len)) {
        const char *pt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(prop, "type"));
        int keep = !cJSON_GetObjectItemCaseSensitive(prop, "type") &&
                   !cJSON_GetObjectItemCaseSensitive(prop, "anyOf");
        if ((pt && strcmp(pt, "string") == 0) || keep)
            FUZZ_CHECK(cJSON_IsString(val) && strlen(val->valuestring) == len &&
                           memcmp(val->valuestring, p, len) == 0,
                       "string property not kept verbatim");
    }
    cJSON_Delete(val);

    /* the name lookup */
    const cJSON *t = toolargs_find_tool(tools, p, len);
    if (t) {
        const char *nm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "name"));
        FUZZ_CHECK(nm && strlen(nm) == len && strncasecmp(nm, p, len) == 0,
                   "find_tool returned %s for %.*s", nm ? nm : "(null)", (int)len, p);
        const cJSON *s = toolargs_find_schema(tools, p, len);
        FUZZ_CHECK(s == cJSON_GetObjectItemCaseSensitive(t, "input_schema"), "find_schema differs");
    }
    return 0;
}
