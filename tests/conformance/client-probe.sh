#!/bin/sh
# The MCP conformance suite's client under test (client mode): `corral probe`
# against the suite's server at $1, doing what $MCP_CONFORMANCE_SCENARIO
# asks of a client.  CORRAL_BIN is the corral binary.
set -e
url=$1
case ${MCP_CONFORMANCE_SCENARIO:-} in
tools_call) exec "$CORRAL_BIN" probe --call add_numbers "$url" '{"a":5,"b":3}' ;;
sse-retry) exec "$CORRAL_BIN" probe --call test_reconnection "$url" '{}' ;;
*) exec "$CORRAL_BIN" probe "$url" ;;
esac
