/* ${VAR} expansion and the importer's mapping (issue 16). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "corral/expand.h"
#include "corral/fs.h"
#include "corral/importer.h"
#include "corral/jsonutil.h"
#include "corral/manifest.h"
#include "corral/paths.h"

static const char *table_lookup(void *ud, const char *name)
{
        static const char *const vars[][2] = {
                {"HOME", "/home/me"}, {"EMPTY", ""}, {"DOLLAR", "a$b"}, {"REF", "${HOME}"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(vars); i++)
                if (strcmp(vars[i][0], name) == 0)
                        return vars[i][1];
        return NULL;
}

static void test_expand_table(void **state)
{
        static const struct {
                const char *in, *out, *err;
        } cases[] = {
                {"plain", "plain", NULL},
                {"${HOME}/x", "/home/me/x", NULL},
                {"a${HOME}b${HOME}", "a/home/meb/home/me", NULL},
                {"${UNSET:-dflt}", "dflt", NULL},
                {"${EMPTY:-dflt}", "dflt", NULL},
                {"${HOME:-dflt}", "/home/me", NULL},
                {"${UNSET:-}", "", NULL},
                {"$$", "$", NULL},
                {"$${HOME}", "${HOME}", NULL},
                {"$HOME", "$HOME", NULL},
                {"price $5", "price $5", NULL},
                {"trailing $", "trailing $", NULL},
                {"${DOLLAR}", "a$b", NULL},
                {"${REF}", "${HOME}", NULL}, /* never expanded twice */
                {"${UNSET}", NULL, "${UNSET} is not set and has no default"},
                {"${HOME", NULL, "unterminated"},
                {"${1X}", NULL, "is not a ${NAME}"},
                {"${}", NULL, "is not a ${NAME}"},
                {"${A-B}", NULL, "is not a ${NAME}"},
                {"${input:x}", NULL, "is not a ${NAME}"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                corral_error err = {0};
                char *out = NULL;
                int r = expand_vars(cases[i].in, table_lookup, NULL, &out, &err);
                if (cases[i].out) {
                        if (r != 0)
                                fail_msg("case %zu '%s': %s", i, cases[i].in, err.msg);
                        assert_string_equal(out, cases[i].out);
                        free(out);
                } else {
                        assert_int_equal(r, -EX_DATAERR);
                        assert_null(out);
                        if (!strstr(err.msg, cases[i].err))
                                fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].err);
                }
        }
}

static void test_expand_caps(void **state)
{
        corral_error err = {0};
        char *out = NULL;
        /* A result past the cap: many references to a long default. */
        size_t n = 300;
        char *in = xcalloc(n * 8 + 1, 1);
        for (size_t i = 0; i < n; i++)
                memcpy(in + i * 7, "${HOME}", 7);
        assert_int_equal(expand_vars(in, table_lookup, NULL, &out, &err), -EX_DATAERR);
        assert_non_null(strstr(err.msg, "references"));
        free(in);
        in = xcalloc(EXPAND_MAX_BYTES + 2, 1);
        memset(in, 'x', EXPAND_MAX_BYTES + 1);
        corral_error_clear(&err);
        assert_int_equal(expand_vars(in, table_lookup, NULL, &out, &err), -EX_DATAERR);
        free(in);
}

static void test_expand_json(void **state)
{
        _cleanup_json_ cJSON *j = cJSON_Parse(
                "{\"http\": {\"public_url\": \"https://${HOME}\", \"n\": 3, \"${HOME}\": \"k\"},"
                " \"list\": [\"$$\", \"${UNSET:-d}\"]}");
        corral_error err = {0};
        assert_int_equal(expand_json(j, "corral.json", table_lookup, NULL, &err), 0);
        assert_string_equal(json_get_string(json_get_object(j, "http"), "public_url"),
                            "https:///home/me");
        assert_string_equal(json_get_string(json_get_object(j, "http"), "${HOME}"), "k");
        assert_string_equal(cJSON_GetArrayItem(json_get_array(j, "list"), 0)->valuestring, "$");
        assert_string_equal(cJSON_GetArrayItem(json_get_array(j, "list"), 1)->valuestring, "d");
        _cleanup_json_ cJSON *bad = cJSON_Parse("{\"a\": {\"b\": [\"x\", \"${NOPE}\"]}}");
        assert_int_equal(expand_json(bad, "corral.json", table_lookup, NULL, &err), -EX_DATAERR);
        assert_non_null(strstr(err.msg, "corral.json: a.b[1]: ${NOPE} is not set"));
}

/* A global server's ${VAR} reads its secrets, then the daemon's environment;
 * a user's own server (owner set) its secrets only. */
static void test_expand_manifest_owner(void **state)
{
        (void)state;
        char root[] = "/tmp/corral-expand-XXXXXX";
        const char *json = "{\"manifest_version\": 1, \"name\": \"x\", "
                           "\"source\": {\"spec\": \"/srv/x\", \"kind\": \"local\"}, "
                           "\"runtime\": {\"backend\": \"native\", \"command\": "
                           "[\"node\", \"--key=${CORRAL_TEST_SITE_SECRET}\"]}, "
                           "\"installed_at\": \"2026-01-02T03:04:05Z\", "
                           "\"corral_version\": \"0.1.0\"}";
        corral_paths p = {0};
        corral_error err = {0};
        manifest *m = NULL, *out = NULL;

        assert_non_null(mkdtemp(root));
        assert_int_equal(paths_init(&p, root, &err), 0);
        if (manifest_parse(&m, json, strlen(json), &err) != 0)
                fail_msg("%s", err.msg);
        setenv("CORRAL_TEST_SITE_SECRET", "site-s3cret", 1);

        assert_int_equal(expand_manifest(m, &p, &out, &err), 0);
        assert_string_equal(out->command[1], "--key=site-s3cret");
        manifest_free(out);

        m->owner = strdup("alice");
        assert_int_equal(expand_manifest(m, &p, &out, &err), -EX_CONFIG);
        assert_null(out);
        assert_non_null(strstr(err.msg, "CORRAL_TEST_SITE_SECRET"));

        /* Her own secrets.json still fills it. */
        char *dir = paths_server_dir(&p, "x"), *sp = path_join(dir, "secrets.json");
        assert_int_equal(mkdir_p(dir, 0755), 0);
        FILE *f = fopen(sp, "w");
        assert_non_null(f);
        fputs("{\"env\": {\"CORRAL_TEST_SITE_SECRET\": \"hers\"}}", f);
        fclose(f);
        assert_int_equal(expand_manifest(m, &p, &out, &err), 0);
        assert_string_equal(out->command[1], "--key=hers");
        manifest_free(out);

        unsetenv("CORRAL_TEST_SITE_SECRET");
        unlink(sp);
        rmdir(dir);
        free(sp);
        free(dir);
        char *servers = xstrdup(p.servers);
        rmdir(servers);
        free(servers);
        rmdir(root);
        manifest_free(m);
        paths_done(&p);
}

static void test_server_names(void **state)
{
        static const char *const cases[][2] = {
                {"github", "github"},           {"My Server", "my-server"},
                {"A__B", "a-b"},                {"--x--", "x"},
                {"", "server"},                 {"ünïcode", "n-code"},
                {"@scope/pkg.name", "scope-pkg-name"},
                {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                _cleanup_free_ char *n = importer_server_name(cases[i][0]);
                assert_string_equal(n, cases[i][1]);
        }
}

static const import_entry *find(const import_plan *p, const char *key)
{
        for (size_t i = 0; i < p->n; i++)
                if (strcmp(p->entries[i].key, key) == 0)
                        return &p->entries[i];
        fail_msg("no entry %s", key);
        return NULL;
}

static void test_import_mapping(void **state)
{
        const char *doc =
                "{\"mcpServers\": {"
                " \"a\": {\"command\": \"npx\", \"args\": [\"-y\", \"@scope/pkg@1.2\", \"--x\", \"${HOME}\"]},"
                " \"b\": {\"command\": \"docker\", \"args\": [\"run\", \"-it\", \"--rm\", \"--net=host\","
                "         \"-e\", \"TOKEN\", \"-e\", \"MODE=fast\", \"--mount\","
                "         \"type=bind,src=/srv,dst=/data,readonly\", \"-v\", \"/a:/a:z,ro\","
                "         \"-v\", \"/b:/b:rprivate\", \"-v\", \"/c:/c:ro,rw\", \"-v\", \"/d:/d\","
                "         \"img:1\", \"serve\"],"
                "         \"env\": {\"TOKEN\": \"t0k\"}},"
                " \"c\": {\"command\": \"docker\", \"args\": [\"run\", \"--weird\", \"img\"]},"
                " \"d\": {\"url\": \"https://x.example/mcp\", \"type\": \"sse\","
                "         \"headers\": {\"X-Api-Key\": \"k\", \"Accept-Language\": \"en\"}},"
                " \"e\": {\"command\": \"pipx\", \"args\": [\"run\", \"x\"]},"
                " \"f\": {\"command\": \"/usr/bin/env\", \"args\": [\"x\"]},"
                " \"g\": {\"command\": \"npx\", \"args\": [\"-p\", \"x\", \"y\"]},"
                " \"h\": {\"command\": \"npx\", \"args\": [\"-y\", \"Not_Valid\"]},"
                " \"i\": {\"command\": \"npx\", \"args\": [\"-y\", \"pkg\"], \"extra\": 1, \"disabled\": true},"
                " \"j\": {\"command\": \"npx -y pkg && curl evil\"},"
                " \"k\": {\"command\": \"$(id)\"},"
                " \"l\": {\"command\": \"node\", \"args\": [\"/nonexistent/x.js\"]},"
                " \"m\": {\"command\": \"docker\", \"args\": [\"run\", \"-e\", \"=x\", \"img\"]},"
                " \"n\": {\"command\": \"docker\", \"args\": [\"run\", \"-iP\", \"img\"]},"
                " \"o\": {\"command\": \"docker\", \"args\": [\"run\", \"--rm\", \"-e\"]},"
                " \"p\": {\"command\": \"docker\", \"args\": [\"run\", \"-ti\", \"--\", \"-img\"]}"
                "}}";
        import_context ic = {.lookup = table_lookup};
        import_plan p = {0};
        corral_error err = {0};
        assert_int_equal(importer_parse(doc, strlen(doc), &ic, &p, &err), 0);
        assert_string_equal(p.format, "mcpServers");

        const import_entry *e = find(&p, "a");
        assert_int_equal(e->action, IMPORT_INSTALL);
        assert_string_equal(e->spec, "npm:@scope/pkg@1.2");
        assert_string_equal(e->command[0], "--x");
        assert_string_equal(e->command[1], "/home/me");

        e = find(&p, "b");
        assert_int_equal(e->action, IMPORT_INSTALL);
        assert_string_equal(e->spec, "docker:img:1");
        assert_string_equal(e->image_args[0], "serve");
        assert_string_equal(e->secret_env[0], "TOKEN=t0k");
        assert_string_equal(e->env[0], "MODE=fast");
        assert_string_equal(e->mounts[0], "/srv:/data:ro");
        assert_string_equal(e->mounts[1], "/a:/a:ro");
        assert_string_equal(e->mounts[2], "/b:/b:rw");
        assert_string_equal(e->mounts[3], "/c:/c:rw"); /* the last of ro/rw */
        assert_string_equal(e->mounts[4], "/d:/d:rw");
        bool net_noted = false;
        for (size_t i = 0; e->notes && e->notes[i]; i++)
                net_noted |= strstr(e->notes[i], "--net host: dropped") != NULL;
        assert_true(net_noted);

        assert_int_equal(find(&p, "c")->action, IMPORT_REFUSED);
        e = find(&p, "d");
        assert_true(e->remote);
        assert_string_equal(e->transport, "sse");
        assert_string_equal(e->secret_headers[0], "X-Api-Key: k");
        assert_string_equal(e->headers[0], "Accept-Language: en");
        assert_int_equal(find(&p, "e")->action, IMPORT_SKIP);
        assert_int_equal(find(&p, "f")->action, IMPORT_SKIP);
        assert_int_equal(find(&p, "g")->action, IMPORT_REFUSED);
        assert_int_equal(find(&p, "h")->action, IMPORT_REFUSED);
        e = find(&p, "i");
        assert_true(e->disabled);
        assert_non_null(strstr(e->notes[0], "\"extra\" ignored"));
        /* Shell syntax is never run, nor passed on as a program name. */
        assert_int_equal(find(&p, "j")->action, IMPORT_REFUSED);
        assert_non_null(strstr(find(&p, "j")->reason, "shell"));
        assert_int_equal(find(&p, "k")->action, IMPORT_REFUSED);
        assert_int_equal(find(&p, "l")->action, IMPORT_REFUSED);
        /* docker run's odd corners: an empty variable name (docker refuses
         * it too), a flag corral has no word for inside a bundle, a value
         * missing at the end, and "--" before an image named like an option. */
        assert_int_equal(find(&p, "m")->action, IMPORT_REFUSED);
        assert_non_null(strstr(find(&p, "m")->reason, "no variable name"));
        assert_int_equal(find(&p, "n")->action, IMPORT_REFUSED);
        assert_non_null(strstr(find(&p, "n")->reason, "'-iP'"));
        assert_int_equal(find(&p, "o")->action, IMPORT_REFUSED);
        assert_non_null(strstr(find(&p, "o")->reason, "-e needs a value"));
        e = find(&p, "p");
        assert_int_equal(e->action, IMPORT_INSTALL);
        assert_string_equal(e->spec, "docker:-img");
        assert_non_null(strstr(e->notes[0], "-ti: dropped"));
        import_plan_done(&p);

        /* Unknown shapes are refused whole. */
        const char *bad[] = {"[]", "{\"servers\": []}", "{\"x\": {}}", "not json"};
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                corral_error_clear(&err);
                assert_int_equal(importer_parse(bad[i], strlen(bad[i]), &ic, &p, &err),
                                 -EX_DATAERR);
        }
}

static bool has_note(const import_entry *e, const char *text)
{
        for (size_t i = 0; e->notes && e->notes[i]; i++)
                if (strstr(e->notes[i], text))
                        return true;
        return false;
}

/* VS Code envFile, Claude Code's per-project servers, npx mcp-remote. */
static void test_import_details(void **state)
{
        char dir[] = "/tmp/corral-test-import-XXXXXX";
        import_plan p = {0};
        corral_error err = {0};
        const import_entry *e;

        assert_non_null(mkdtemp(dir));
        char *envpath = NULL;
        assert_true(asprintf(&envpath, "%s/.env", dir) > 0);
        FILE *f = fopen(envpath, "w");
        assert_non_null(f);
        fputs("# comment\n\nexport REGION=eu-west  # inline\nAPI_TOKEN=\"tok en\\n\"\r\n"
              "LITERAL='a $b #c'\nGREETING=from-file\nEMPTY=\n",
              f);
        fclose(f);
        import_context ic = {.lookup = table_lookup, .base_dir = dir};
        const char *vs = "{\"servers\": {"
                         " \"a\": {\"command\": \"npx\", \"args\": [\"-y\", \"pkg\"],"
                         "         \"envFile\": \"${workspaceFolder}/.env\", \"env\": {\"GREETING\": \"hi\"}},"
                         " \"b\": {\"command\": \"npx\", \"args\": [\"-y\", \"pkg\"], \"envFile\": \"missing.env\"},"
                         " \"c\": {\"command\": \"npx\", \"args\": [\"-y\", \"pkg\"], \"envFile\": 5}"
                         "}}";
        assert_int_equal(importer_parse(vs, strlen(vs), &ic, &p, &err), 0);
        e = find(&p, "a");
        assert_int_equal(e->action, IMPORT_INSTALL);
        assert_string_equal(e->env[0], "REGION=eu-west");
        assert_string_equal(e->env[1], "LITERAL=a $$b #c"); /* "$" kept literal */
        assert_string_equal(e->env[2], "EMPTY=");
        assert_string_equal(e->env[3], "GREETING=hi");      /* "env" wins */
        assert_null(e->env[4]);
        assert_string_equal(e->secret_env[0], "API_TOKEN=tok en\n");
        assert_true(has_note(e, "(5 variables"));
        assert_int_equal(find(&p, "b")->action, IMPORT_REFUSED);
        assert_non_null(strstr(find(&p, "b")->reason, "missing.env: cannot read it"));
        assert_int_equal(find(&p, "c")->action, IMPORT_REFUSED);
        import_plan_done(&p);

        const char *bad_lines[] = {"1X=a\n", "A B=c\n", "A=\"open\n", "A='x' y\n", "JUST\n"};
        for (size_t i = 0; i < ARRAY_SIZE(bad_lines); i++) {
                f = fopen(envpath, "w");
                fprintf(f, "OK=1\n%s", bad_lines[i]);
                fclose(f);
                assert_int_equal(importer_parse(vs, strlen(vs), &ic, &p, &err), 0);
                e = find(&p, "a");
                assert_int_equal(e->action, IMPORT_REFUSED);
                if (!strstr(e->reason, ".env, line 2:"))
                        fail_msg("%s: %s", bad_lines[i], e->reason);
                import_plan_done(&p);
        }
        unlink(envpath);
        free(envpath);
        rmdir(dir);

        /* ~/.claude.json: user scope + this project's local scope (wins). */
        const char *cc = "{\"numStartups\": 3, \"mcpServers\": {"
                         "  \"u\": {\"command\": \"npx\", \"args\": [\"-y\", \"user-pkg\"]},"
                         "  \"both\": {\"command\": \"npx\", \"args\": [\"-y\", \"user-both\"]}},"
                         " \"projects\": {"
                         "  \"/work/app\": {\"mcpServers\": {"
                         "    \"both\": {\"command\": \"npx\", \"args\": [\"-y\", \"local-both\"]},"
                         "    \"l\": {\"url\": \"https://l.example/mcp\"}}},"
                         "  \"/work/other\": {\"mcpServers\": {"
                         "    \"o\": {\"command\": \"npx\", \"args\": [\"-y\", \"other\"]}}}}}";
        import_context icc = {.lookup = table_lookup, .project = "/work/app"};
        assert_int_equal(importer_parse(cc, strlen(cc), &icc, &p, &err), 0);
        assert_string_equal(p.format, "claude.json");
        assert_int_equal(p.n, 3);
        assert_string_equal(find(&p, "u")->spec, "npm:user-pkg");
        assert_string_equal(find(&p, "both")->spec, "npm:local-both");
        assert_true(has_note(find(&p, "both"), "replaces the user-scope entry"));
        assert_true(find(&p, "l")->remote);
        for (size_t i = 0; i < p.n; i++)
                assert_string_not_equal(p.entries[i].key, "o"); /* another project's */
        import_plan_done(&p);
        icc.project = "/elsewhere";
        assert_int_equal(importer_parse(cc, strlen(cc), &icc, &p, &err), 0);
        assert_int_equal(p.n, 2);
        assert_string_equal(find(&p, "both")->spec, "npm:user-both");
        import_plan_done(&p);

        /* With the project's .mcp.json: user < project < local, by name. */
        const char *pj = "{\"mcpServers\": {"
                         "  \"u\": {\"command\": \"npx\", \"args\": [\"-y\", \"project-u\"]},"
                         "  \"both\": {\"command\": \"npx\", \"args\": [\"-y\", \"project-both\"]},"
                         "  \"p\": {\"command\": \"npx\", \"args\": [\"-y\", \"project-only\"]}}}";
        icc.project = "/work/app";
        icc.project_json = pj;
        icc.project_json_len = strlen(pj);
        assert_int_equal(importer_parse(cc, strlen(cc), &icc, &p, &err), 0);
        assert_int_equal(p.n, 4);
        assert_string_equal(find(&p, "u")->spec, "npm:project-u");
        assert_true(has_note(find(&p, "u"), "replaces the user-scope entry"));
        assert_string_equal(find(&p, "p")->spec, "npm:project-only");
        assert_true(has_note(find(&p, "p"), "Claude Code's project scope"));
        assert_string_equal(find(&p, "both")->spec, "npm:local-both");
        assert_true(has_note(find(&p, "both"), "replaces the project-scope entry"));
        assert_true(find(&p, "l")->remote);
        import_plan_done(&p);
        /* .mcp.json with ~/.claude.json that has no "projects" yet */
        const char *bare = "{\"mcpServers\": {\"u\": {\"command\": \"npx\", \"args\": [\"x\"]}}}";
        assert_int_equal(importer_parse(bare, strlen(bare), &icc, &p, &err), 0);
        assert_int_equal(p.n, 3);
        assert_string_equal(find(&p, "u")->spec, "npm:project-u");
        import_plan_done(&p);
        icc.project_json = "[1]";
        icc.project_json_len = 3;
        assert_int_equal(importer_parse(cc, strlen(cc), &icc, &p, &err), -EX_DATAERR);
        assert_non_null(strstr(err.msg, ".mcp.json"));
        icc.project_json = NULL;
        icc.project_json_len = 0;

        /* npx mcp-remote → the remote server; ${VAR} from the entry's env. */
        const char *mr =
                "{\"mcpServers\": {"
                " \"r\": {\"command\": \"npx\", \"args\": [\"-y\", \"mcp-remote@0.1.29\","
                "   \"https://r.example/mcp\", \"9696\", \"--header\", \"Authorization:${AUTH_HEADER}\","
                "   \"--header\", \"X-Team: blue\", \"--header\", \"X-Key:${API_KEY}\","
                "   \"--transport\", \"sse-only\", \"--debug\", \"--host\", \"127.0.0.1\"],"
                "   \"env\": {\"AUTH_HEADER\": \"Bearer abc\", \"API_KEY\": \"k1\"}},"
                " \"h\": {\"command\": \"npx\", \"args\": [\"mcp-remote\", \"http://127.0.0.1:9/mcp\","
                "   \"--header\", \"X-Home:${HOME}\"]},"
                " \"bad1\": {\"command\": \"npx\", \"args\": [\"mcp-remote\", \"https://x/mcp\", \"--wat\"]},"
                " \"bad2\": {\"command\": \"npx\", \"args\": [\"mcp-remote\", \"--header\", \"nocolon\", \"https://x\"]},"
                " \"bad3\": {\"command\": \"npx\", \"args\": [\"mcp-remote\", \"ftp://x\"]},"
                " \"bad4\": {\"command\": \"npx\", \"args\": [\"mcp-remote\", \"https://x/${API_KEY}\"],"
                "   \"env\": {\"API_KEY\": \"k\"}},"
                " \"notit\": {\"command\": \"npx\", \"args\": [\"-y\", \"mcp-remote-helper\"]}"
                "}}";
        assert_int_equal(importer_parse(mr, strlen(mr), &ic, &p, &err), 0);
        e = find(&p, "r");
        assert_int_equal(e->action, IMPORT_INSTALL);
        assert_true(e->remote);
        assert_string_equal(e->kind, "remote");
        assert_string_equal(e->spec, "https://r.example/mcp");
        assert_string_equal(e->transport, "sse");
        assert_string_equal(e->secret_headers[0], "Authorization: Bearer abc");
        assert_string_equal(e->secret_headers[1], "X-Key: k1"); /* from a secret env value */
        assert_string_equal(e->headers[0], "X-Team: blue");
        assert_null(e->env);
        assert_null(e->secret_env);
        assert_true(has_note(e, "callback port 9696"));
        assert_true(has_note(e, "--debug: dropped"));
        assert_true(has_note(e, "--host: dropped"));
        e = find(&p, "h");
        assert_int_equal(e->action, IMPORT_INSTALL);
        assert_string_equal(e->transport, "http");
        assert_string_equal(e->headers[0], "X-Home: /home/me");
        assert_int_equal(find(&p, "bad1")->action, IMPORT_REFUSED);
        assert_int_equal(find(&p, "bad2")->action, IMPORT_REFUSED);
        assert_int_equal(find(&p, "bad3")->action, IMPORT_REFUSED);
        assert_int_equal(find(&p, "bad4")->action, IMPORT_REFUSED);
        assert_string_equal(find(&p, "notit")->spec, "npm:mcp-remote-helper");
        import_plan_done(&p);
}

static void test_secret_names(void **state)
{
        const char *secret[] = {"API_KEY", "GITHUB_PERSONAL_ACCESS_TOKEN", "password", "APIKEY",
                                "Authorization", "X-Api-Key", "CLIENT_SECRET", "slack-bot-token"};
        const char *plain[] = {"HOME", "MEMORY_FILE_PATH", "REGION", "KEYBOARD_LAYOUT", "MONKEY"};
        for (size_t i = 0; i < ARRAY_SIZE(secret); i++)
                if (!importer_name_is_secret(secret[i]))
                        fail_msg("%s should be secret", secret[i]);
        for (size_t i = 0; i < ARRAY_SIZE(plain); i++)
                if (importer_name_is_secret(plain[i]))
                        fail_msg("%s should not be secret", plain[i]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_expand_table),   cmocka_unit_test(test_expand_caps),
                cmocka_unit_test(test_expand_json),    cmocka_unit_test(test_server_names),
                cmocka_unit_test(test_import_mapping), cmocka_unit_test(test_secret_names),
                cmocka_unit_test(test_import_details), cmocka_unit_test(test_expand_manifest_owner),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
