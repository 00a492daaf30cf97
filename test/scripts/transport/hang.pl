#!/usr/bin/perl
# Ignores stdin EOF and never exits on its own; SIGTERM (default action)
# ends it. With the argument "ignore-term" it also ignores SIGTERM, so only
# SIGKILL ends it. Prints "ready" on stderr once its handlers are set.
use strict;
use warnings;
$SIG{TERM} = 'IGNORE' if @ARGV && $ARGV[0] eq 'ignore-term';
$| = 1;
print STDERR "ready\n";
sleep 1000 while 1;
