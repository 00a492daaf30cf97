package main

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// Both ways of marking descriptors close-on-exec reach one that lacks it.
func TestCloseOnExecInherited(t *testing.T) {
	for _, tt := range []struct {
		name string
		mark func() error
	}{
		{"close_range or /proc", closeOnExecInherited},
		{"/proc", closeOnExecListed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			defer w.Close()
			// As if inherited: no close-on-exec.
			if _, err := unix.FcntlInt(r.Fd(), unix.F_SETFD, 0); err != nil {
				t.Fatal(err)
			}
			if err := tt.mark(); err != nil {
				t.Fatal(err)
			}
			flags, err := unix.FcntlInt(r.Fd(), unix.F_GETFD, 0)
			if err != nil || flags&unix.FD_CLOEXEC == 0 {
				t.Errorf("fd %d flags %#x (%v), want FD_CLOEXEC", r.Fd(), flags, err)
			}
			for fd := range 3 { // stdin, stdout, stderr are left alone
				if flags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); flags&unix.FD_CLOEXEC != 0 {
					t.Errorf("fd %d marked close-on-exec", fd)
				}
			}
		})
	}
}
