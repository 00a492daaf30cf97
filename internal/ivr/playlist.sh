#!/bin/sh
# playlist.sh - a legacy ExternalIVR client in POSIX sh, as written for
# ExternalIVR(/path/playlist.sh(<logfile>,<file>,<file>...)).
#
# Asks for its arguments with P, plays the files (S for the first, A for
# the rest), and once every file is accounted for (F or Z) sends E,done.
# Every line received is appended to <logfile> ("-" = none). Exits on E, H,
# I or end of input.
log=$1
shift
[ "$log" = "-" ] && log=/dev/null
echo "P,args"
first=1
for f in "$@"; do
	if [ $first = 1 ]; then echo "S,$f"; first=0; else echo "A,$f"; fi
done
left=$#
[ $left = 0 ] && echo "E,nothing-to-play"
while IFS= read -r line; do
	printf '%s\n' "$line" >>"$log"
	case $line in
	F,*|Z,*,*)
		left=$((left - 1))
		[ $left = 0 ] && echo "E,done"
		;;
	E,*|H,*|I,*) exit 0 ;;
	esac
done
exit 0
