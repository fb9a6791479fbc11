#!/bin/bash
# idle-timeout.sh through the in-kernel relay (--relay=kernel; splice where BPF is unavailable, as without root).
EMBER_TEST_RELAY=kernel exec "$(dirname "$0")/idle-timeout.sh"
