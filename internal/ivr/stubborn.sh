#!/bin/sh
# stubborn.sh - a misbehaving client for tests: it ignores SIGTERM, sends
# nothing, never reads, and never exits on its own (the gateway must
# SIGKILL and reap it when the session ends).
trap '' TERM
while :; do sleep 1; done
