#!/bin/sh
# Reads events until EOF, then keeps writing to stdout: as on Asterisk, the
# closed pipe kills it with SIGPIPE.
while read -r line; do :; done
while :; do echo "L,after eof" || exit 42; done
