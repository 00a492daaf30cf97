#!/usr/bin/perl
# menu.pl - a legacy ExternalIVR menu over stdio, as written for
# ExternalIVR(/path/menu.pl(<greeting>,<logfile>)).
#
# Plays <greeting> (default hello-world) with autoclear on, then per digit:
#   1  V,MENU_CHOICE=1 then G,MENU_CHOICE; on the G reply plays beep
#   2  E,menu-exit   (the dialplan continues)
#   3  H,menu-hangup (the call is hung up)
#   0,4-9  appends digits/<d>
# Every line received is appended, byte for byte, to <logfile> if given.
# Exits on E, H or end of input.
use strict;
use warnings;

my $greeting = (defined $ARGV[0] && $ARGV[0] ne '') ? $ARGV[0] : 'hello-world';
my $logfile  = $ARGV[1];
my $log;
if (defined $logfile && $logfile ne '') {
    open($log, '>>', $logfile) or die "menu.pl: cannot open $logfile: $!\n";
    binmode $log;
    my $old = select($log); $| = 1; select($old);
}
binmode STDIN;
binmode STDOUT;
$| = 1;

sub cmd { print STDOUT $_[0], "\n"; }

cmd("O,autoclear");
cmd("S,$greeting");
print STDERR "menu.pl: started, greeting $greeting\n";

while (defined(my $line = <STDIN>)) {
    print $log $line if $log;
    chomp $line;
    my ($tag, $ts, $data) = split /,/, $line, 3;
    next unless defined $tag;
    if ($tag =~ /^[0-9*#A-D]$/ && !defined $data) {
        if    ($tag eq '1') { cmd("V,MENU_CHOICE=1"); cmd("G,MENU_CHOICE"); }
        elsif ($tag eq '2') { cmd("E,menu-exit"); }
        elsif ($tag eq '3') { cmd("H,menu-hangup"); }
        elsif ($tag =~ /^[0-9]$/) { cmd("A,digits/$tag"); }
    } elsif ($tag eq 'G') {
        cmd("S,beep");
    } elsif ($tag eq 'E' || $tag eq 'H') {
        last;
    }
}
exit 0;
