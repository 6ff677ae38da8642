/* Gateway naming, pagination and resource routing (src/gateway/names.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "corral/gateway.h"
#include "corral/jsonutil.h"
#include "gateway/names.h"

static void test_qualify(void **state)
{
        static const struct {
                const char *server, *name, *want;
        } cases[] = {
                {"everything", "echo", "everything__echo"},
                {"memory", "create_entities", "memory__create_entities"},
                {"a", "b__c", "a__b__c"},
                {"srv-1", "_x", "srv-1___x"},
        };

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                char *q = gateway_qualify(cases[i].server, cases[i].name);
                char *server = NULL, *name = NULL;

                assert_string_equal(q, cases[i].want);
                /* Round trip: splitting what we qualified gives the parts back. */
                assert_true(gateway_split(q, &server, &name));
                assert_string_equal(server, cases[i].server);
                assert_string_equal(name, cases[i].name);
                free(server);
                free(name);
                free(q);
        }
}

static void test_split(void **state)
{
        static const struct {
                const char *in;
                bool ok;
                const char *server, *name;
        } cases[] = {
                {"everything__echo", true, "everything", "echo"},
                {"a__b__c", true, "a", "b__c"}, /* tool names may hold "__" */
                {"a___b", true, "a", "_b"},     /* first "__" is the boundary */
                {"a____b", true, "a", "__b"},
                {"srv__x_y", true, "srv", "x_y"},
                {"echo", false, NULL, NULL}, /* no separator */
                {"a_b", false, NULL, NULL},
                {"__echo", false, NULL, NULL},       /* empty server */
                {"everything__", false, NULL, NULL}, /* empty name */
                {"__", false, NULL, NULL},
                {"", false, NULL, NULL},
                {"___", false, NULL, NULL}, /* "" + "_" : empty server */
        };

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                char *server = (char *)"untouched", *name = (char *)"untouched";
                bool ok = gateway_split(cases[i].in, &server, &name);

                assert_int_equal(ok, cases[i].ok);
                if (ok) {
                        assert_string_equal(server, cases[i].server);
                        assert_string_equal(name, cases[i].name);
                        free(server);
                        free(name);
                } else {
                        /* Outputs are not clobbered on failure. */
                        assert_string_equal(server, "untouched");
                        assert_string_equal(name, "untouched");
                }
        }
        assert_false(gateway_split(NULL, NULL, NULL));
        assert_true(gateway_split("x__y", NULL, NULL));
}

static void test_cursor(void **state)
{
        static const struct {
                const char *in;
                bool ok;
                size_t offset;
        } cases[] = {
                {"o:0", true, 0},
                {"o:100", true, 100},
                {"o:18446744073", true, 18446744073u},
                {"o:", false, 0},
                {"o:-1", false, 0},
                {"o:+5", false, 0},
                {"o: 5", false, 0},
                {"o:05", false, 0},
                {"o:5x", false, 0},
                {"o:99999999999999999999", false, 0}, /* overflows */
                {"x:5", false, 0},
                {"5", false, 0},
                {"", false, 0},
        };

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                size_t off = 12345;
                bool ok = gw_cursor_decode(cases[i].in, &off);

                assert_int_equal(ok, cases[i].ok);
                assert_int_equal(off, ok ? cases[i].offset : 12345);
        }
        for (size_t off = 0; off < 1000000; off = off * 7 + 3) {
                char *c = gw_cursor_encode(off);
                size_t back = 0;
                assert_true(gw_cursor_decode(c, &back));
                assert_int_equal(back, off);
                free(c);
        }
        assert_false(gw_cursor_decode(NULL, NULL));
}

/* An array of n tools named PREFIX0..PREFIXn-1, with a description each. */
static cJSON *make_tools(const char *prefix, int n)
{
        cJSON *arr = cJSON_CreateArray();

        for (int i = 0; i < n; i++) {
                cJSON *t = cJSON_CreateObject();
                char name[64];

                snprintf(name, sizeof(name), "%s%d", prefix, i);
                cJSON_AddStringToObject(t, "name", name);
                cJSON_AddStringToObject(t, "description", "d");
                cJSON_AddItemToObject(t, "inputSchema", cJSON_Parse("{\"type\":\"object\"}"));
                cJSON_AddItemToArray(arr, t);
        }
        return arr;
}

static void test_list_page(void **state)
{
        cJSON *a = make_tools("t", 5), *b = make_tools("u", 3), *empty = cJSON_CreateArray();
        gw_source src[] = {{"alpha", a}, {"none", NULL}, {"mid", empty}, {"beta", b}};
        static const char *const want[] = {"alpha__t0", "alpha__t1", "alpha__t2", "alpha__t3",
                                           "alpha__t4", "beta__u0",  "beta__u1",  "beta__u2"};
        char *cursor = NULL;
        size_t seen = 0, pages = 0;

        /* Walk every page of size 3 following nextCursor: 3 + 3 + 2. */
        do {
                cJSON *page = gw_list_page(src, ARRAY_SIZE(src), "tools", true, cursor, 3);
                const cJSON *arr = json_get_array(page, "tools"), *t;
                const char *next = json_get_string(page, "nextCursor");

                assert_non_null(page);
                assert_non_null(arr);
                cJSON_ArrayForEach(t, arr)
                {
                        assert_true(seen < ARRAY_SIZE(want));
                        assert_string_equal(json_get_string(t, "name"), want[seen]);
                        /* Everything but the name is kept. */
                        assert_string_equal(json_get_string(t, "description"), "d");
                        assert_non_null(json_get_object(t, "inputSchema"));
                        seen++;
                }
                free(cursor);
                cursor = next ? strdup(next) : NULL;
                pages++;
                cJSON_Delete(page);
        } while (cursor);
        assert_int_equal(seen, ARRAY_SIZE(want));
        assert_int_equal(pages, 3);
        /* The sources were not modified (items are copies). */
        assert_string_equal(json_get_string(cJSON_GetArrayItem(a, 0), "name"), "t0");

        /* Exactly one full page: no nextCursor. */
        {
                cJSON *page = gw_list_page(src, 1, "tools", true, NULL, 5);
                assert_int_equal(cJSON_GetArraySize(json_get_array(page, "tools")), 5);
                assert_null(json_get_string(page, "nextCursor"));
                cJSON_Delete(page);
        }
        /* Unqualified (resources): names untouched. */
        {
                cJSON *page = gw_list_page(src, ARRAY_SIZE(src), "resources", false, NULL, 0);
                assert_int_equal(cJSON_GetArraySize(json_get_array(page, "resources")), 8);
                assert_string_equal(
                        json_get_string(cJSON_GetArrayItem(json_get_array(page, "resources"), 5),
                                        "name"),
                        "u0");
                cJSON_Delete(page);
        }
        /* Past the end: empty page; garbage: NULL (-32602 for the caller). */
        {
                cJSON *page = gw_list_page(src, ARRAY_SIZE(src), "tools", true, "o:500", 3);
                assert_int_equal(cJSON_GetArraySize(json_get_array(page, "tools")), 0);
                assert_null(json_get_string(page, "nextCursor"));
                cJSON_Delete(page);
                assert_null(gw_list_page(src, ARRAY_SIZE(src), "tools", true, "bogus", 3));
                assert_null(gw_list_page(src, ARRAY_SIZE(src), "tools", true, "o:-3", 3));
        }
        cJSON_Delete(a);
        cJSON_Delete(b);
        cJSON_Delete(empty);
}

static cJSON *json(const char *text)
{
        cJSON *j = cJSON_Parse(text);
        assert_non_null(j);
        return j;
}

static void test_uri_template_match(void **state)
{
        static const struct {
                const char *tpl, *uri;
                bool match;
                size_t literal;
        } cases[] = {
                {"demo://resource/dynamic/text/{id}", "demo://resource/dynamic/text/7", true, 29},
                {"demo://resource/dynamic/text/{id}", "demo://resource/dynamic/text/", true, 29},
                {"demo://resource/dynamic/text/{id}", "demo://resource/dynamic/text/7/x", false, 0},
                {"demo://resource/dynamic/text/{id}", "demo://resource/dynamic/blob/7", false, 0},
                {"mem://graph/{id}/edges", "mem://graph/7/edges", true, 18},
                {"mem://graph/{id}/edges", "mem://graph/7", false, 0},
                {"file://{+path}", "file:///etc/hosts", true, 7},
                {"file:///{path}", "file:///etc/hosts", false, 0}, /* '/' is %2F there */
                {"file:///{path}", "file:///etc%2Fhosts", true, 8},
                {"x://{a}{b}", "x://ab", true, 4},
                {"x://{a,b}", "x://1,2", true, 4},
                {"q://search{?q,lang}", "q://search?q=x&lang=en", true, 10},
                {"q://search{?q,lang}", "q://search", true, 10},
                {"q://search{?q,lang}", "q://searchX", false, 0},
                {"q://s{?q}{&r}", "q://s?q=1&r=2", true, 5},
                {"q://s{&r}", "q://s?r=2", false, 0},
                {"p://{/seg*}", "p:///a/b/c", true, 4},
                {"p://{/seg}/end", "p:///a/end", true, 8},
                {"p://x{.ext}", "p://x.json", true, 5},
                {"p://x{.ext}", "p://xjson", false, 0},
                {"p://x{;k}", "p://x;k=1", true, 5},
                {"p://x{#frag}", "p://x#a/b", true, 5},
                {"p://x{#frag}", "p://x", true, 5},
                {"p://{=bad}", "p://", false, 0}, /* reserved operator */
                {"p://{open", "p://{open", false, 0},
                {"lit://only", "lit://only", true, 10},
                {"lit://only", "lit://onl", false, 0},
        };

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                size_t literal = 0;
                bool got = gw_uri_template_match(cases[i].tpl, cases[i].uri, &literal);

                if (got != cases[i].match)
                        fail_msg("%s ~ %s: got %d", cases[i].tpl, cases[i].uri, got);
                if (got)
                        assert_int_equal(literal, cases[i].literal);
        }
        assert_false(gw_uri_template_match(NULL, "x", NULL));
        assert_false(gw_uri_template_match("x", NULL, NULL));
}

static void test_owners(void **state)
{
        cJSON *r_fs =
                json("[{\"uri\":\"file:///a\"},{\"uri\":\"file:///b\"},{\"uri\":\"mem://x\"}]");
        cJSON *r_mem = json("[{\"uri\":\"mem://x\"},{\"uri\":\"mem://y\"},{\"uri\":\"mem://y\"}]");
        cJSON *r_third = json("[{\"uri\":\"mem://x\"},{\"name\":\"no uri\"}]");
        cJSON *t_fs = json("[{\"uriTemplate\":\"file:///{path}\"},{\"uriTemplate\":\"x://{a}\"},"
                           "{\"uriTemplate\":\"mem://graph/{id}/edges\"}]");
        cJSON *t_mem =
                json("[{\"uriTemplate\":\"file:///docs/{name}\"},"
                     "{\"uriTemplate\":\"x://{a}\"},{\"uriTemplate\":\"mem://graph/{id}\"}]");
        gw_source res[] = {{"fs", r_fs}, {"mem", r_mem}, {"third", r_third}};
        gw_source tpl[] = {{"fs", t_fs}, {"mem", t_mem}};
        gw_owners *o = gw_owners_build(res, ARRAY_SIZE(res), tpl, ARRAY_SIZE(tpl));
        static const struct {
                const char *uri, *owner, *ref_owner;
        } cases[] = {
                {"file:///a", "fs", "fs"},
                {"mem://x", "fs", "fs"},               /* collision: first-installed wins */
                {"mem://y", "mem", "mem"},             /* listed twice by one server */
                {"file:///docs/readme", "mem", "mem"}, /* longest template prefix */
                {"file:///etc/hosts", "fs", "fs"},
                {"x://q", "fs", "fs"}, /* same template: first wins */
                {"mem://graph/7", "mem", "mem"}, /* RFC 6570: not .../{id}/edges */
                {"mem://graph/7/edges", "fs", "fs"},
                {"mem://graph/{id}/edges", "fs", "fs"},
                {"file:///{path}", "fs", "fs"}, /* literal template (completion ref) */
                {"file:///docs/{name}", "mem", "mem"},
                {"http://nowhere", NULL, NULL},
                {"mem://z", NULL, NULL},
        };
        cJSON *coll, *c;
        static const char *const want_coll[][3] = {
                {"mem://x", "fs", "mem,third"},
                {"x://{a}", "fs", "mem"},
        };
        size_t i = 0;

        for (i = 0; i < ARRAY_SIZE(cases); i++) {
                const char *got = gw_owners_lookup(o, cases[i].uri);
                const char *got_ref = gw_owners_lookup_ref(o, cases[i].uri);

                if (cases[i].owner)
                        assert_string_equal(got, cases[i].owner);
                else
                        assert_null(got);
                if (cases[i].ref_owner)
                        assert_string_equal(got_ref, cases[i].ref_owner);
                else
                        assert_null(got_ref);
        }

        coll = gw_owners_collisions_json(o);
        assert_int_equal(cJSON_GetArraySize(coll), ARRAY_SIZE(want_coll));
        i = 0;
        cJSON_ArrayForEach(c, coll)
        {
                char joined[128] = "";
                size_t len = 0;
                const cJSON *s;

                assert_string_equal(json_get_string(c, "uri"), want_coll[i][0]);
                assert_string_equal(json_get_string(c, "owner"), want_coll[i][1]);
                cJSON_ArrayForEach(s, json_get_array(c, "shadowed"))
                {
                        len += (size_t)snprintf(joined + len, sizeof(joined) - len, "%s%s",
                                                len ? "," : "", s->valuestring);
                        assert_true(len < sizeof(joined));
                }
                assert_string_equal(joined, want_coll[i][2]);
                i++;
        }
        cJSON_Delete(coll);
        o = gw_owners_free(o);
        assert_null(o);

        /* Nothing at all. */
        o = gw_owners_build(NULL, 0, NULL, 0);
        assert_null(gw_owners_lookup(o, "file:///a"));
        coll = gw_owners_collisions_json(o);
        assert_int_equal(cJSON_GetArraySize(coll), 0);
        cJSON_Delete(coll);
        gw_owners_free(o);
        assert_null(gw_owners_lookup(NULL, "x"));

        cJSON_Delete(r_fs);
        cJSON_Delete(r_mem);
        cJSON_Delete(r_third);
        cJSON_Delete(t_fs);
        cJSON_Delete(t_mem);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_qualify), cmocka_unit_test(test_split),
                cmocka_unit_test(test_cursor),  cmocka_unit_test(test_list_page),
                cmocka_unit_test(test_uri_template_match),
                cmocka_unit_test(test_owners),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
