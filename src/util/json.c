/* cJSON conveniences. */
#include <string.h>

#include "corral/jsonutil.h"
#include "corral/macro.h"

const char *json_get_string(const cJSON *obj, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

const cJSON *json_array_find(const cJSON *arr, const char *key, const char *value)
{
        const cJSON *item;

        cJSON_ArrayForEach(item, arr)
        {
                const char *v = json_get_string(item, key);
                if (v && strcmp(v, value) == 0)
                        return item;
        }
        return NULL;
}

const cJSON *json_get_object(const cJSON *obj, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
        return cJSON_IsObject(v) ? v : NULL;
}

const cJSON *json_get_array(const cJSON *obj, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
        return cJSON_IsArray(v) ? v : NULL;
}

double json_get_number(const cJSON *obj, const char *key, double def)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
        return cJSON_IsNumber(v) ? v->valuedouble : def;
}

bool json_get_bool(const cJSON *obj, const char *key, bool def)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
        return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

char *json_print(const cJSON *j)
{
        char *s = cJSON_PrintUnformatted(j);
        if (!s)
                abort();
        return s;
}

cJSON *json_dup(const cJSON *j)
{
        cJSON *d = cJSON_Duplicate(j, 1);
        if (!d)
                abort();
        return d;
}

void json_set(cJSON *obj, const char *key, cJSON *item)
{
        if (cJSON_HasObjectItem(obj, key))
                cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item);
        else
                cJSON_AddItemToObject(obj, key, item);
}

cJSON *json_object_member(cJSON *obj, const char *key)
{
        cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, key);

        if (cJSON_IsObject(m))
                return m;
        m = cJSON_CreateObject();
        if (!m)
                abort();
        json_set(obj, key, m);
        return m;
}
