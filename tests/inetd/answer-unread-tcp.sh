#!/bin/bash
# answer-unread.sh with a TCP backend.
EMBER_TEST_TRANSPORT=tcp exec "$(dirname "$0")/answer-unread.sh"
