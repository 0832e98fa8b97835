package transformer

import (
	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/tensor"
)

// MakeBatch pads sequences to the longest one with pad and marks the padding.
func MakeBatch(seqs [][]int, pad int) Batch {
	t := 0
	for _, s := range seqs {
		t = max(t, len(s))
	}
	b := Batch{IDs: make([]int, len(seqs)*t), Pad: make([]bool, len(seqs)*t), B: len(seqs), T: t}
	for i, s := range seqs {
		for j := 0; j < t; j++ {
			if j < len(s) {
				b.IDs[i*t+j] = s[j]
			} else {
				b.IDs[i*t+j] = pad
				b.Pad[i*t+j] = true
			}
		}
	}
	return b
}

// TeacherForcing returns the decoder input (bos + target) and the expected
// output (target + eos) for each target, padded with pad; the returned
// targets hold pad where the loss must ignore them.
func TeacherForcing(tgts [][]int, bos, eos, pad int) (in Batch, out []int) {
	ins, outs := make([][]int, len(tgts)), make([][]int, len(tgts))
	for i, t := range tgts {
		ins[i] = append([]int{bos}, t...)
		outs[i] = append(append([]int(nil), t...), eos)
	}
	in = MakeBatch(ins, pad)
	return in, MakeBatch(outs, pad).IDs
}

// Greedy translates each source sequence by picking the most likely next
// token until eos or maxLen tokens. It runs without a tape, encoding once and
// re-running the decoder on the growing prefix. The result excludes bos and
// eos.
func (m *Model) Greedy(srcs [][]int, bos, eos, pad, maxLen int) ([][]int, error) {
	src := MakeBatch(srcs, pad)
	var tp *autograd.Tape
	mem, err := m.Encode(tp, src)
	if err != nil {
		return nil, err
	}
	maxLen = min(maxLen, m.Cfg.MaxLen-1)
	out := make([][]int, src.B)
	prefix := make([][]int, src.B)
	done := make([]bool, src.B)
	for i := range prefix {
		prefix[i] = []int{bos}
	}
	vocab := m.Cfg.TgtVocab
	for step := 0; step < maxLen; step++ {
		tgt := MakeBatch(prefix, pad)
		logits, err := m.Decode(tp, tgt, mem, src.Pad)
		if err != nil {
			return nil, err
		}
		allDone := true
		for i := range prefix {
			row := logits.Value.Data[(i*tgt.T+tgt.T-1)*vocab : (i*tgt.T+tgt.T)*vocab]
			next := tensor.Argmax(row)
			prefix[i] = append(prefix[i], next)
			if done[i] {
				continue
			}
			if next == eos {
				done[i] = true
			} else {
				out[i] = append(out[i], next)
				allDone = false
			}
		}
		if allDone {
			break
		}
	}
	return out, nil
}
