package main

import (
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// closeOnExecInherited marks every descriptor above 2 close-on-exec, so
// that only stdin, stdout and stderr of the programs the gateway starts are
// their own (eivr.StartProgram gives them their three pipes): a descriptor
// the gateway inherited without close-on-exec (a socket or file of its
// parent, fd 10, fd 251...) would otherwise reach every program. Go opens
// its own descriptors close-on-exec; the inherited ones stay open for the
// gateway itself, which never uses them. Called once, first thing in main.
func closeOnExecInherited() error {
	// One call on Linux >= 5.11; else each descriptor listed in /proc.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return nil
	}
	return closeOnExecListed()
}

// closeOnExecListed is closeOnExecInherited one descriptor at a time, as
// /proc/self/fd lists them.
func closeOnExecListed() error {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 {
			continue
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && !errors.Is(err, unix.EBADF) {
			errs = append(errs, err) // EBADF: ReadDir's own, closed since
		}
	}
	return errors.Join(errs...)
}
