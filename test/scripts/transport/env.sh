#!/bin/sh
# Reports how it was started, one fact per line on stdout, then waits for EOF
# on stdin: argv (one "arg=" line each, $0 first), the working directory,
# the uid and the environment.
echo "arg=$0"
for a in "$@"; do echo "arg=$a"; done
echo "pwd=$(pwd)"
echo "uid=$(id -u)"
env | sort | sed 's/^/env=/'
echo "end"
while read -r line; do :; done
