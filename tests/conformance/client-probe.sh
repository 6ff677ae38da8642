#!/bin/sh
# The MCP conformance suite's client under test (client mode): `corral probe`
# against the suite's server at $1, doing what $MCP_CONFORMANCE_SCENARIO
# asks of a client.  CORRAL_BIN is the corral binary.
#
# auth/*: the suite's authorization server approves at once and redirects
# to the redirect_uri; $BROWSER follows the authorization URL headlessly
# with curl, so the redirect reaches probe's loopback listener as a
# browser's would.  Every auth scenario names a Client ID Metadata Document
# URL (the suite's, used only where the server advertises
# client_id_metadata_document_supported); auth/pre-registration passes the
# client the suite's MCP_CONFORMANCE_CONTEXT names, its secret on stdin.
set -e
url=$1
case ${MCP_CONFORMANCE_SCENARIO:-} in
tools_call) exec "$CORRAL_BIN" probe --call add_numbers "$url" '{"a":5,"b":3}' ;;
sse-retry) exec "$CORRAL_BIN" probe --call test_reconnection "$url" '{}' ;;
auth/*)
        BROWSER='curl -fsS -o /dev/null -L --max-redirs 3'
        export BROWSER
        cimd=https://conformance-test.local/client-metadata.json
        if [ "$MCP_CONFORMANCE_SCENARIO" = auth/pre-registration ]; then
                ctx=${MCP_CONFORMANCE_CONTEXT:?the suite passes the client}
                id=$(printf '%s' "$ctx" | node -e \
                        'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).client_id))')
                printf '%s' "$ctx" | node -e \
                        'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).client_secret))' |
                        "$CORRAL_BIN" probe --auth --auth-timeout 20 --client-id "$id" \
                                --client-secret-stdin --call test-tool "$url" '{}'
                exit
        fi
        exec "$CORRAL_BIN" probe --auth --auth-timeout 20 --client-metadata-url "$cimd" \
                --call test-tool "$url" '{}'
        ;;
*) exec "$CORRAL_BIN" probe "$url" ;;
esac
