package kernels

import "sync/atomic"

// Experiment is tensor.Experiment's value, here where the kernels can read
// it.
var Experiment atomic.Int32
