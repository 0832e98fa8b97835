package tensor

import "github.com/attn-go/attn/tensor/internal/kernels"

// Experiment reports which of two versions of some code to run, 0 or 1,
// for timing a change against the code it replaces in one process: `attn
// bench … --pairs` switches it from run to run. The change reads it
// (kernels.Experiment in the kernels) only while it is being measured;
// nothing else does, so outside such a measurement it does nothing. Two
// versions timed in separate processes, or minutes apart, differ by more
// than most changes do on a shared machine.
func Experiment() int32 { return kernels.Experiment.Load() }

// SetExperiment sets what Experiment reports.
func SetExperiment(v int32) { kernels.Experiment.Store(v) }
