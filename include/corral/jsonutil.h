/* cJSON conveniences: typed getters that tolerate absence, and compact
 * serialisation. */
#pragma once

#include <stdbool.h>
#include <cJSON.h>

static inline void cjson_deletep(cJSON **j)
{
        if (*j)
                cJSON_Delete(*j);
}
#define _cleanup_json_ _cleanup_(cjson_deletep)

/* NULL when absent or not a string. */
const char *json_get_string(const cJSON *obj, const char *key);
/* The object member when present and an object, else NULL. */
const cJSON *json_get_object(const cJSON *obj, const char *key);
const cJSON *json_get_array(const cJSON *obj, const char *key);
/* The first element of the array arr whose string member key equals value
 * (e.g. a tools/list entry by "name", a resource by "uri"); borrowed from
 * arr.  NULL when there is none or arr is not an array. */
const cJSON *json_array_find(const cJSON *arr, const char *key, const char *value);
/* def when absent or of the wrong type. */
double json_get_number(const cJSON *obj, const char *key, double def);
bool json_get_bool(const cJSON *obj, const char *key, bool def);
/* Compact one-line serialisation; owned (free()). */
char *json_print(const cJSON *j);
/* Deep copy; aborts on OOM. */
cJSON *json_dup(const cJSON *j);
/* Sets key to item (replacing), taking ownership of item. */
void json_set(cJSON *obj, const char *key, cJSON *item);
/* The object member key of obj, made (an empty object, replacing any member
 * of another type) when it is not an object; owned by obj.  Aborts on OOM. */
cJSON *json_object_member(cJSON *obj, const char *key);
