package hf

import (
	"fmt"
	"strconv"
)

// Labels names a classifier's outputs: HF's id2label, keyed by the output's
// index in decimal, as config.json stores it.
type Labels map[string]string

// LabelsOf returns the Labels of names in output order.
func LabelsOf(names []string) Labels {
	l := make(Labels, len(names))
	for i, n := range names {
		l[strconv.Itoa(i)] = n
	}
	return l
}

// Name returns the name of output i: id2label's, or LABEL_i as HF names
// outputs without one.
func (l Labels) Name(i int) string {
	if n, ok := l[strconv.Itoa(i)]; ok {
		return n
	}
	return "LABEL_" + strconv.Itoa(i)
}

// Check reports a key that is not an output index below n (n < 0: any).
func (l Labels) Check(n int) error {
	for k := range l {
		if i, err := strconv.Atoi(k); err != nil || i < 0 || n >= 0 && i >= n {
			return fmt.Errorf("id2label key %q is not an output index of %d", k, n)
		}
	}
	return nil
}

// Label2ID is id2label inverted, which save_pretrained writes beside it;
// nil for no labels.
func (l Labels) Label2ID() map[string]int {
	if len(l) == 0 {
		return nil
	}
	out := make(map[string]int, len(l))
	for k, n := range l {
		if i, err := strconv.Atoi(k); err == nil {
			out[n] = i
		}
	}
	return out
}
