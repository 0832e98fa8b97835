//go:build !unix

package autograd

import "time"

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }
