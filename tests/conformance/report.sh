#!/bin/sh
# Runs the whole conformance suite and writes its results tables into
# tests/conformance/README.md (between the conformance:* markers).
#
#   tests/conformance/report.sh [BUILD_DIR]     (default: build)
#
# BUILD_DIR is a configured build tree of this project with the examples on.
# The exit status is that of the test programs: 0 if no case FAILED.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
cmake --build "$build" --target test_conformance_server test_conformance_client echo_server -j2
status=0
for side in server client; do
  WEBSOCKETS_CONFORMANCE_REPORT="$here/README.md" "$build/tests/test_conformance_$side" "[$side]" ||
    status=1
done
exit $status
