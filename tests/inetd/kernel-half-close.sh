#!/bin/bash
# half-close.sh through the in-kernel relay (--relay=kernel; splice where BPF is unavailable, as without root).
EMBER_TEST_RELAY=kernel exec "$(dirname "$0")/half-close.sh"
