#!/usr/bin/perl
# Floods stdout with lines of an unknown command letter ("Q,flood"), which
# ExternalIVR ignores without a reply, as fast as it can; never reads stdin.
# Dies of SIGPIPE (default action) once its stdout is closed.
use strict;
use warnings;
my $line = "Q,flood\n" x 256;
print $line while 1;
