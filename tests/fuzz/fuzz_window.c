/*
 * fuzz_window: context windows from backend answers (src/window.c) and the
 * status line text (src/convstat.c) on arbitrary bytes.
 *
 * Input: a 1-byte header, then a backend's answer.
 *   hdr[0] % 5   which answer it is (enum window_src)
 *   hdr[0] & 8   look for a named model ("m") instead of the loaded one
 * Checks: window_parse never reports a window it did not find (a found
 * window is 1..1e9), the model name is NUL-terminated within its buffer;
 * convstat_line's output is one line without control bytes.
 */
#include "convstat.h"
#include "window.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    enum window_src src = (enum window_src)(data[0] % 5);
    const char *want = data[0] & 8 ? "m" : NULL;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    window_found f;
    int rc = window_parse(src, body, len, want, &f);
    FUZZ_CHECK(rc == 0 ? f.window >= 1 && f.window <= 1000000000L : f.window == 0,
               "window %ld with rc %d", f.window, rc);
    FUZZ_CHECK(memchr(f.model, '\0', sizeof f.model) != NULL, "model name not terminated");
    char line[600];
    convstat_line(body, len, line, sizeof line);
    FUZZ_CHECK(memchr(line, '\0', sizeof line) != NULL, "line not terminated");
    for (const char *p = line; *p; p++)
        FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f,
                   "control byte 0x%02x in the status line", (unsigned char)*p);
    return 0;
}
