#!/usr/bin/perl
# Never reads its stdin (events) and never exits on its own.
use strict;
use warnings;
$| = 1;
print STDERR "ready\n";
sleep 1000 while 1;
