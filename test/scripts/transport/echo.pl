#!/usr/bin/perl
# Echoes every event line back on stdout unchanged and logs it on stderr as
# "got <line>"; exits 0 at EOF on stdin.
use strict;
use warnings;
$| = 1;
select(STDERR); $| = 1; select(STDOUT);
while (my $line = <STDIN>) {
    print $line;
    chomp $line;
    print STDERR "got $line\n";
}
exit 0;
