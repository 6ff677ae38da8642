/* corral: the command-line entry point.  Global options come before the verb;
 * each verb parses its own.  Exit codes follow sysexits(3). */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "corral/log.h"

typedef struct verb {
        const char *name;
        cli_verb_fn fn;
        const char *summary;
        const char *usage; /* options and arguments after the verb */
} verb;

static int verb_help(cli_ctx *ctx, int argc, char **argv);

static const verb verbs[] = {
        { "help", verb_help, "show the verbs, or one verb's usage", "[VERB]" },
        { "install", cli_install, "install a server from a source spec",
          "[--name NAME] [--force] [--env KEY=VALUE]... [--sandbox PROFILE] [--yes] [--json]\n"
          "              [--registry URL] [--offline] [--frozen] [--allow-scripts] [--submodules]\n"
          "              [--access LEVEL] [--mount HOST[:TARGET][:ro|rw]]... [--run-as-owner]\n"
          "              [--dry-run] [--quiet] [--remote] [--set KEY=VALUE|KEY=-]... [--config FILE.json]\n"
          "              [--package TYPE] [--disabled]\n"
          "              [--header 'K: V']... [--secret-header K]... [--transport http|sse]\n"
          "              [--sessions per_user|per_user_or_shared|shared] [--insecure-http]\n"
          "              SPEC [-- COMMAND ARGS...]\n"
          "  SPEC is one of:\n"
          "    ./dir, /dir          a directory with package.json, or any directory with an\n"
          "                         explicit command after --\n"
          "    npm:NAME[@RANGE|@TAG], @scope/name[@range], name@range\n"
          "                         an npm package; arguments after -- are appended to its bin\n"
          "    docker:IMAGE[:TAG][@sha256:DIGEST]\n"
          "                         an image pulled through the Docker engine and pinned by digest\n"
          "    github:OWNER/REPO[@REF][#SUBDIR], github.com/OWNER/REPO, URL.git[#REF[:SUBDIR]],\n"
          "    git+https://…, git://…, file:///PATH\n"
          "                         a git repository at a branch, tag or commit (default: its\n"
          "                         HEAD), pinned by commit; --submodules fetches its https:// and\n"
          "                         git:// submodules.  $CORRAL_GITHUB_URL (or corral.json\n"
          "                         \"github_url\") redirects github: to a mirror\n"
          "    registry:REVERSE.DNS/NAME[@VERSION]\n"
          "                         a server.json from the official MCP Registry ($CORRAL_MCP_REGISTRY\n"
          "                         or corral.json \"mcp_registries\"); --package mcpb|npm|oci|remote\n"
          "                         picks its package; --set KEY=VALUE and --config FILE.json give\n"
          "                         the values it asks for (asked on a terminal otherwise)\n"
          "    mcpb:PATH_OR_URL, ./NAME.mcpb\n"
          "                         an MCP Bundle (zip with manifest.json); user_config as above\n"
          "    smithery:QUALIFIED_NAME\n"
          "                         a Smithery server run here: its stdio bundle (configSchema asked\n"
          "                         like the inputs above) or npx package, else its http deployment\n"
          "    https://HOST/PATH --remote\n"
          "                         a remote MCP server over Streamable HTTP (or --transport sse);\n"
          "                         --header and --secret-header (value on stdin) go with every\n"
          "                         request.  --sessions: in a system-mode store, per_user (the\n"
          "                         default) serves each calling user through a session and OAuth\n"
          "                         token of their own; per_user_or_shared serves users without a\n"
          "                         token through the shared one; shared: one session with the\n"
          "                         daemon's token for everyone\n"
          "  --sandbox default|strict|log|none chooses the native sandbox profile (none runs the\n"
          "  server unconfined and says so in every listing).  --frozen reinstalls the installed\n"
          "  server's lock exactly; --offline uses only the download cache.  --allow-scripts runs\n"
          "  npm install scripts, inside the sandbox only (no network).  --mount gives the server\n"
          "  a host path (read-only unless :rw; a read-write mount is idmapped, so files it\n"
          "  writes belong to the directory's owner and nothing is chowned; where the filesystem\n"
          "  cannot idmap, --run-as-owner runs the server as that owner instead); absolute paths\n"
          "  in the command must exist (else exit 66, nothing installed) and are bound read-only\n"
          "  (answer rw to the confirmation to make them read-write).\n"
          "  --dry-run fetches and prints the manifest it would write, installing nothing.\n"
          "  --disabled installs it disabled: nothing runs until `corral enable NAME`.\n"
          "  Answering no to the confirmation exits 1." },
        { "search", cli_search, "search the configured MCP registries for servers",
          "[--json] [--limit N] [--offline] TEXT\n"
          "  Asks each registry ($CORRAL_MCP_REGISTRY, comma-separated, or corral.json\n"
          "  \"mcp_registries\"; default https://registry.modelcontextprotocol.io) for the latest\n"
          "  versions of servers whose name contains TEXT, following its pages up to N results\n"
          "  (default 100, at most 500).  Answers are cached like npm metadata (fresh for\n"
          "  npm_metadata_max_age seconds, then revalidated); --offline uses the cache alone." },
        { "import", cli_import, "install the MCP servers of a client's config",
          "[--dry-run] [--yes] [--force] [--json] FILE | - | --from claude-desktop|vscode|cursor|claude-code\n"
          "  Reads a Claude Desktop / Cursor / .mcp.json (\"mcpServers\") or VS Code mcp.json\n"
          "  (\"servers\", \"inputs\") config, '-' from stdin, or the client's own file\n"
          "  (--from), and installs each entry: npx PKG → npm:PKG, docker run IMAGE →\n"
          "  docker:IMAGE (flags that weaken confinement dropped and reported), node|python3\n"
          "  SCRIPT → its directory, url → a remote server; uvx/pipx are listed as not\n"
          "  installable.  ${VAR} and ${VAR:-default} are expanded from the environment;\n"
          "  VS Code inputs come from $CORRAL_INPUT_<ID> or the terminal.  Secret-looking env\n"
          "  values and headers go to the server's secrets.json.  Prints the plan and asks\n"
          "  (--yes for scripts); --dry-run only prints it.  A server already installed from\n"
          "  the same source is left alone; --force replaces one installed from another.\n"
          "  Each server is installed on its own: one failure does not stop the others." },
        { "export", cli_export, "print a client config that points the client at corral",
          "--format claude-desktop|vscode|mcp-json [--per-server] [--http URL]\n"
          "  Prints on stdout one \"corral\" entry running `corral serve --stdio` (the\n"
          "  store of --root goes with it), or with --per-server one `corral run NAME` entry\n"
          "  per enabled native server, or with --http the endpoint URL.  No secret is ever\n"
          "  written: with \"auth\" configured, the vscode format asks for the token (an\n"
          "  input) and mcp-json reads ${CORRAL_TOKEN}." },
        { "mount", cli_mount, "give an installed server a host path, or take it away",
          "[--quiet] [--json] NAME add HOST[:TARGET][:ro|rw] | NAME remove HOST|TARGET | NAME list\n"
          "  A running server is restarted with the new mounts (corral reload)." },
        { "uninstall", cli_uninstall, "remove an installed server", "[--purge] NAME\n"
          "  --purge also removes the server's data directory." },
        { "list", cli_list, "list installed servers", "[--json]" },
        { "update", cli_update,
          "move a server to what its npm range, git ref or docker tag gives now",
          "[--dry-run] [--json] [--registry URL] [--set KEY=VALUE]... [--config FILE] NAME "
          "[VERSION]" },
        { "outdated", cli_outdated, "list servers whose source offers a newer version",
          "[--json] [--registry URL]" },
        { "info", cli_info, "show one installed server's manifest", "[--json] NAME" },
        { "access", cli_access, "set the permission level a server or tool needs",
          "NAME public|trusted|anchor [--tool TOOL]" },
        { "enable", cli_enable, "let the daemon run a server", "NAME" },
        { "disable", cli_disable, "keep the daemon from running a server", "NAME" },
        { "start", cli_start, "start a server in the running daemon", "NAME" },
        { "stop", cli_stop, "stop a server in the running daemon", "NAME" },
        { "restart", cli_restart, "restart a server (also one that failed)", "NAME" },
        { "status", cli_status, "show every unit's state in the running daemon", "[--json]" },
        { "tools", cli_tools, "list the tools the gateway exposes", "[--json] [SERVER]" },
        { "call", cli_call, "call a tool through the gateway",
          "[--json] [--timeout SECONDS] SERVER__TOOL [JSON | KEY=VALUE...]\n"
          "  Arguments are one JSON object, or KEY=VALUE pairs (VALUE is parsed as JSON\n"
          "  when it parses, else taken as a string)." },
        { "reset", cli_reset, "discard what a server wrote over its code", "NAME\n"
          "  Removes the upper layer of NAME's code overlay (data/NAME/overlay/); a running\n"
          "  server is stopped and started again.  Its data directory is kept." },
        { "cache", cli_cache, "show or empty the download cache", "[--json] info | clean [--all]\n"
          "  info: its location, size, entries and cap (corral.json \"cache_max_size\", default\n"
          "  2G; after every install the least recently used entries go until it fits).\n"
          "  clean: removes leftovers of interrupted installs, npm metadata, and the npm\n"
          "  packages no installed server's lock names; --all empties it, git mirrors too." },
        { "config", cli_config, "show, change or check corral.json",
          "[--json] get [KEY] | set KEY VALUE | set --unset KEY | edit | validate [FILE]\n"
          "  KEY is a dotted path (sandbox.memory_mb); VALUE is JSON when it parses, else a\n"
          "  string.  Every change is checked first (unknown keys refused, as in the sandbox\n"
          "  object; ${VAR} references must expand), written atomically under the store's\n"
          "  lock, and a running daemon reloads it.  edit opens $VISUAL or $EDITOR on a copy\n"
          "  and saves it only when it validates.  get shows ${VAR} references as written." },
        { "logs", cli_logs, "show a server's log", "[-f] [-n LINES] NAME" },
        { "reload", cli_reload, "make the daemon reconcile with the store", "" },
        { "daemon", cli_daemon, "run the supervisor and gateway in the foreground",
          "[--http ADDR:PORT] [--system]\n"
          "  --system gives this store the system store's rules (root only): sockets 0660 for\n"
          "  corral.json site.socket_group, per-user servers, admins (site.admin_group)." },
        { "run", cli_run, "run one installed server sandboxed on this stdio (for MCP clients)",
          "NAME\n"
          "  Starts NAME under corral-sandbox with its manifest's policy, speaking MCP on\n"
          "  stdin/stdout; exits with the server's status." },
        { "serve", cli_serve, "speak MCP on stdin/stdout (bridges to the daemon, or runs embedded)",
          "--stdio" },
        { "auth", cli_auth, "authorize corral to a remote server (OAuth 2.1)",
          "start NAME [--client-id ID [--client-secret-stdin]] [--client-metadata-url URL] "
          "[--redirect-uri URI] [--scope S] [--listen|--no-listen] [--timeout S] | complete NAME "
          "CODE_OR_REDIRECT_URL | status [--json] [NAME] | set-token NAME (token on stdin) | "
          "logout NAME" },
        { "probe", cli_probe, "connect to an MCP server over HTTP and show what it offers",
          "[--header 'K: V']... [--transport http|sse] [--insecure-http] [--json] "
          "[--auth|--no-auth] [--client-id ID [--client-secret-stdin]] "
          "[--client-metadata-url URL] [--auth-timeout S] URL|NAME [--call TOOL JSON_ARGS]" },
        { "audit", cli_audit, "show the tool-call log (the state database)",
          "[--user USER] [--server NAME] [--since WHEN] [--arguments] [--json]\n"
          "  WHEN is YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ (UTC) or N[smhd] ago.  Argument values\n"
          "  are logged only when corral.json says \"audit\": {\"arguments\": true}, with every\n"
          "  secret corral knows redacted; --arguments prints them (--json always has them)." },
        { "metrics", cli_metrics, "show daily call counts and latencies per user and tool",
          "[--day YYYY-MM-DD] [--json]" },
        { "limit", cli_limit, "set, list or clear rate limits on tool calls",
          "set SERVER[__TOOL] [--user USER] [--calls N --per SECONDS] [--concurrent N] | "
          "list [--json] | clear SERVER[__TOOL] [--user USER] | clear --all\n"
          "  SERVER, TOOL and USER are globs (USER default \"*\": every user, each counted\n"
          "  apart).  Each user may make N calls per SECONDS (a token bucket) and have\n"
          "  --concurrent calls in flight; a call over a limit is refused at once with\n"
          "  retryAfterMs.  Kept in the state database beside corral.json's \"limits\";\n"
          "  a running daemon reloads them." },
        { "token", cli_token, "manage static API tokens for HTTP clients", "create --user NAME --level public|trusted|anchor [--json] | list [--json] | revoke ID" },
};

static const verb *verb_find(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
                if (strcmp(verbs[i].name, name) == 0)
                        return &verbs[i];
        return NULL;
}

static void usage(FILE *f)
{
        fprintf(f, "Usage: corral [--root DIR | --store system|user] [--as-user USER] [--json] [--yes] [--quiet] VERB [OPTIONS] [ARGS]\n\n"
                   "Installs MCP servers, runs each one supervised, and exposes all their tools\n"
                   "through one MCP endpoint.\n\nVerbs:\n");
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
                fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
        fprintf(f, "\nGlobal options:\n"
                   "  --root DIR   use DIR as the store instead of the system or user paths\n"
                   "               (also $CORRAL_ROOT)\n"
                   "  --store system|user  the system store (through the system daemon for\n"
                   "               non-root users) or your own; without it a non-root user\n"
                   "               gets the system store when the system daemon's socket\n"
                   "               is theirs to use (the corral group), else their own\n"
                   "  --json       machine-readable output for listings\n"
                   "  --yes        do not ask for confirmation\n"
                   "  --help       this text; `corral VERB --help` for one verb\n"
                   "  --version    print the version\n"
                   "  --quiet      no confirmation line from verbs that change something\n"
                   "  --as-user USER  act for USER: only USER's and global servers exist,\n"
                   "               installs are USER's (root; the daemon uses it for users)\n"
                   "\nExit codes: 0 ok, 1 a confirmation answered no; sysexits(3): 64 usage,\n"
                   "65 bad data, 66 not found, 69 unavailable, 70 internal, 71 OS error,\n"
                   "73 can't create, 75 try again (a call's --timeout), 77 permission denied,\n"
                   "78 config.\n");
}

int cli_usage(const cli_ctx *ctx)
{
        const verb *v = verb_find(ctx->verb);
        if (!v)
                return EX_SOFTWARE;
        printf("Usage: corral %s %s\n\n%s.\n", v->name, v->usage, v->summary);
        return 0;
}

static int verb_help(cli_ctx *ctx, int argc, char **argv)
{
        const verb *v;

        if (argc > 2)
                return cli_usage_error(ctx, "help takes at most one VERB");
        if (argc < 2) {
                usage(stdout);
                return 0;
        }
        v = verb_find(argv[1]);
        if (!v)
                return cli_fail(ctx, EX_USAGE, "unknown verb '%.64s' (try 'corral help')",
                                argv[1]);
        ctx->verb = v->name;
        return cli_usage(ctx);
}

/* The verbs whose one line on stdout confirms a change (--quiet drops it). */
static bool changes_state(const char *name)
{
        static const char *const names[] = {"install", "uninstall", "update",  "access",
                                            "enable",  "disable",   "start",   "stop",
                                            "restart", "reset",     "reload", "import"};
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                if (strcmp(names[i], name) == 0)
                        return true;
        return false;
}

/* Takes --quiet/-q out of the verb's options (before "--"): every verb
 * accepts it.  Returns whether it was there. */
static bool take_quiet(int *argc, char **argv)
{
        bool quiet = false;
        int w = 1;

        for (int i = 1; i < *argc; i++) {
                if (strcmp(argv[i], "--") == 0) {
                        while (i < *argc)
                                argv[w++] = argv[i++];
                        break;
                }
                if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
                        quiet = true;
                        continue;
                }
                argv[w++] = argv[i];
        }
        *argc = w;
        argv[w] = NULL;
        return quiet;
}

static bool wants_help(int argc, char **argv)
{
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--") == 0)
                        return false;
                if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
                        return true;
        }
        return false;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "root", required_argument, NULL, 'r' }, { "json", no_argument, NULL, 'j' },
                { "yes", no_argument, NULL, 'y' },        { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },    { "quiet", no_argument, NULL, 'q' },
                { "as-user", required_argument, NULL, 'U' },
                { "store", required_argument, NULL, 'S' },
                {},
        };
        cli_ctx ctx = { .verb = "corral" };
        const char *store_opt = NULL;
        int c;

        log_init_from_env();
        /* '+' stops at the verb: the rest belongs to it. */
        while ((c = getopt_long(argc, argv, "+hyq", opts, NULL)) != -1) {
                switch (c) {
                case 'r':
                        ctx.root = optarg;
                        break;
                case 'j':
                        ctx.json = true;
                        break;
                case 'y':
                        ctx.yes = true;
                        break;
                case 'q':
                        ctx.quiet = true;
                        break;
                case 'U':
                        ctx.as_user = optarg;
                        break;
                case 'S':
                        if (strcmp(optarg, "system") != 0 && strcmp(optarg, "user") != 0) {
                                fprintf(stderr, "corral: --store wants 'system' or 'user', not "
                                                "'%.32s'\n",
                                        optarg);
                                return EX_USAGE;
                        }
                        store_opt = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case 'V':
                        printf("corral %s\n", CORRAL_VERSION);
                        return 0;
                default:
                        fprintf(stderr, "Try 'corral --help'.\n");
                        return EX_USAGE;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return EX_USAGE;
        }

        const verb *v = verb_find(argv[optind]);
        if (!v) {
                fprintf(stderr, "corral: unknown verb '%s'\nTry 'corral --help'.\n", argv[optind]);
                return EX_USAGE;
        }
        if (store_opt && ctx.root) {
                fprintf(stderr, "corral: --store and --root exclude each other\n");
                return EX_USAGE;
        }
        if (store_opt)
                paths_choose_store(strcmp(store_opt, "system") == 0 ? PATHS_SYSTEM : PATHS_USER);
        else if (strcmp(v->name, "daemon") == 0 && geteuid() != 0)
                /* A user's own daemon (systemctl --user) keeps the user's
                 * store, even where the system daemon's socket is theirs to
                 * use. */
                paths_choose_store(PATHS_USER);
        ctx.verb = v->name;
        int vargc = argc - optind;
        char **vargv = argv + optind;
        if (wants_help(vargc, vargv))
                return cli_usage(&ctx);
        ctx.quiet |= take_quiet(&vargc, vargv);
        /* A user's change to a store that is not theirs: the daemon does it
         * for them (issue 15). */
        if (!ctx.as_user && cli_should_forward(&ctx, v->name))
                return cli_forward(&ctx, vargc, vargv);
        if (ctx.quiet && !ctx.json && changes_state(v->name)) {
                /* Confirmation lines go to stdout, errors to stderr. */
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (null >= 0) {
                        fflush(stdout);
                        (void)dup2(null, STDOUT_FILENO);
                        close(null);
                }
        }
        optind = 0; /* full getopt reset for the verb's own parsing */
        return v->fn(&ctx, vargc, vargv);
}
