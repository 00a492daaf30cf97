#!/usr/bin/perl
# Floods stdout with commands ("P,flood <n>") as fast as it can and reports
# "wrote <n>" on stderr every 1000 lines. SIGPIPE keeps its default action:
# it dies of SIGPIPE once its stdout is closed.
use strict;
use warnings;
select(STDERR); $| = 1; select(STDOUT); $| = 1;
my $n = 0;
while (1) {
    print "P,flood ", $n, "\n";
    $n++;
    print STDERR "wrote $n\n" if $n % 1000 == 0;
}
