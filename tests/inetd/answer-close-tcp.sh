#!/bin/bash
# answer-close.sh with a TCP backend.
EMBER_TEST_TRANSPORT=tcp exec "$(dirname "$0")/answer-close.sh"
