package train

import (
	"encoding/json"
	"fmt"

	"github.com/attn-go/attn/tensor"
)

// epochWalk visits the examples of a training set epoch after epoch, each
// epoch in a new order drawn from the seed and the epoch number, so that a
// resumed run (state, setState) draws exactly what it would have.
type epochWalk struct {
	epoch, pos int
	order      []int
}

// next returns the indices of the next batch of the n examples and the
// epoch each was drawn in, starting a new epoch as one runs out.
func (w *epochWalk) next(seed uint64, n, batch int) (idx, epochs []int) {
	for len(idx) < batch {
		if w.order == nil || w.pos == len(w.order) {
			if w.order != nil {
				w.epoch++
			}
			w.order, w.pos = epochOrder(seed, w.epoch, n), 0
		}
		idx, epochs = append(idx, w.order[w.pos]), append(epochs, w.epoch)
		w.pos++
	}
	return idx, epochs
}

// epochOrder is the order of n examples in an epoch.
func epochOrder(seed uint64, epoch, n int) []int {
	return tensor.NewRNG(tensor.Mix64(seed ^ tensor.Mix64(uint64(epoch)+1))).Perm(n)
}

// walkState is an epochWalk's position: the epoch and how far into it.
type walkState struct {
	Epoch int `json:"epoch"`
	Pos   int `json:"pos"`
}

func (w *epochWalk) state() json.RawMessage {
	b, _ := json.Marshal(walkState{w.epoch, w.pos})
	return b
}

// setState restores a position saved by state over n examples; what names
// them in an error.
func (w *epochWalk) setState(b json.RawMessage, seed uint64, n int, what string) error {
	var st walkState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("train: %s data state: %w", what, err)
	}
	if st.Pos < 0 || st.Pos > n || st.Epoch < 0 {
		return fmt.Errorf("train: %s data state %+v does not fit %d training examples", what, st, n)
	}
	w.epoch, w.pos = st.Epoch, st.Pos
	w.order = epochOrder(seed, w.epoch, n)
	return nil
}
