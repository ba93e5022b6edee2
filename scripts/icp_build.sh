#!/bin/sh
# The build step icp.yaml declares for each canister: `sh scripts/icp_build.sh NAME ENTRY DID`.
# For the `local` environment (localnet) it packs the canister's Python sources and its .did into a
# wasm module (python -m localnet.wasm_bundle); for every other environment (e.g. `ic`) it runs
# Kybra's real build, embeds the candid:service metadata with ic-wasm and gzips the module.
# icp-cli exports ICP_CLI_ENVIRONMENT and ICP_WASM_OUTPUT_PATH to build steps.
set -eu
name=$1
entry=$2
did=$3
cd "$(dirname "$0")/.."
python=${PYTHON:-python}
if [ "${ICP_CLI_ENVIRONMENT:-}" = local ]; then
    exec "$python" -m localnet.wasm_bundle "$entry" --did "$did" --out "$ICP_WASM_OUTPUT_PATH"
fi
CANISTER_CANDID_PATH="$did" "$python" -m kybra "$name" "$entry"
ic-wasm ".kybra/$name/$name.wasm" -o ".kybra/$name/$name.meta.wasm" metadata candid:service -f "$did" -v public
gzip -9 -n -c ".kybra/$name/$name.meta.wasm" > "$ICP_WASM_OUTPUT_PATH"
