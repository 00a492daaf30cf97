#!/bin/sh
# Leaves a child behind in its process group and exits: the child must not
# outlive the session's grace period. Prints the child's pid first.
sleep 1000 &
echo "child=$!"
exit 0
