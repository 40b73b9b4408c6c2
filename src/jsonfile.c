/*
 * jsonfile: see jsonfile.h.
 */
#include "jsonfile.h"

#include <stdlib.h>

cJSON *jsonfile_read(FILE *fp, size_t max)
{
    char *data = NULL;
    size_t len = 0, cap = 0;
    while (len < max) {
        if (cap == len) {
            size_t ncap = cap ? cap * 2 : 8192;
            if (ncap > max) ncap = max;
            char *nd = realloc(data, ncap);
            if (!nd) break;
            data = nd;
            cap = ncap;
        }
        size_t r = fread(data + len, 1, cap - len, fp);
        if (r == 0) break;
        len += r;
    }
    cJSON *j = data ? cJSON_ParseWithLength(data, len) : NULL;
    free(data);
    return j;
}
