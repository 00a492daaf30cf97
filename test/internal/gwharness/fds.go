package gwharness

import "os"

// CountFDs is the number of descriptors this process has open (Linux).
func CountFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}
