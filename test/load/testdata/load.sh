#!/bin/sh
# load.sh - the legacy ExternalIVR client of test/load, stdio flavour:
# ExternalIVR(/path/load.sh(<id>)).
# Sets and reads back a variable, plays beep, says it is ready with
# V,LOAD_READY=1, answers each of three digits with V,LOAD_D<n>=<digit>,
# then sends E,done and exits on E or H.
id=$1
echo "V,LOAD_IN=$id"
echo "G,LOAD_IN"
echo "S,beep"
n=0
while IFS= read -r line; do
	case $line in
	G,*,LOAD_IN="$id") echo "V,LOAD_GOK=1" ;;
	F,*,beep) echo "V,LOAD_READY=1" ;;
	[0-9*#],*)
		n=$((n + 1))
		echo "V,LOAD_D$n=${line%%,*}"
		[ $n = 3 ] && echo "E,done"
		;;
	E,* | H,*) exit 0 ;;
	esac
done
exit 0
