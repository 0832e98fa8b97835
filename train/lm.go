package train

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
)

// LM is a language model: next-token loss over windows of a token stream.
type LM interface {
	// Loss returns the mean cross-entropy of predicting targets from ids,
	// both B×T.
	Loss(tp *autograd.Tape, ids, targets []int, b, t int) (*autograd.Var, error)
	Params() []nn.Param
	NoDecay() map[*autograd.Var]bool
}

// LMData says how a language-model job draws its batches.
type LMData struct {
	Context     int    `json:"context"`      // tokens per training window
	Batch       int    `json:"batch"`        // windows per micro-batch
	EvalBatches int    `json:"eval_batches"` // micro-batches per validation run
	Seed        uint64 `json:"seed"`
	// Text and TextSHA256 name the text file trained on, if not the
	// embedded one, so that resuming can find it and check it is unchanged.
	Text       string `json:"text,omitempty"`
	TextSHA256 string `json:"text_sha256,omitempty"`
}

// LMJob trains a language model on random windows of a token stream, as
// nanoGPT does, and evaluates on fixed random windows of a validation stream.
type LMJob struct {
	Data       LMData
	Model      LM
	Train, Val []int
	// Save writes the model folder; Tokenizer, if set, is written beside it
	// as tokenizer.json.
	Save      func(dir string) error
	Tokenizer []byte

	rng *tensor.RNG
}

// Check reports data too short for the windows.
func (j *LMJob) Check() error {
	d := j.Data
	if d.Context <= 0 || d.Batch <= 0 || d.EvalBatches <= 0 {
		return fmt.Errorf("train: context, batch and eval_batches must be positive (got %d, %d, %d)", d.Context, d.Batch, d.EvalBatches)
	}
	if len(j.Train) <= d.Context+1 || len(j.Val) <= d.Context+1 {
		return fmt.Errorf("train: need more than context+1 = %d tokens of training and validation data (have %d and %d)", d.Context+1, len(j.Train), len(j.Val))
	}
	return nil
}

// Params implements Job.
func (j *LMJob) Params() []nn.Param { return j.Model.Params() }

// NoDecay implements Job.
func (j *LMJob) NoDecay() map[*autograd.Var]bool { return j.Model.NoDecay() }

// HiddenMatrices implements HiddenMatrices when the model does.
func (j *LMJob) HiddenMatrices() []*autograd.Var {
	if h, ok := j.Model.(HiddenMatrices); ok {
		return h.HiddenMatrices()
	}
	return nil
}

func (j *LMJob) dataRNG() *tensor.RNG {
	if j.rng == nil {
		j.rng = tensor.NewRNG(j.Data.Seed)
	}
	return j.rng
}

// batch draws Batch random windows of Context+1 tokens from stream: inputs
// and the same shifted by one as targets.
func (j *LMJob) batch(stream []int, rng *tensor.RNG) (ids, targets []int) {
	t := j.Data.Context
	ids, targets = make([]int, 0, j.Data.Batch*t), make([]int, 0, j.Data.Batch*t)
	for range j.Data.Batch {
		off := rng.Intn(len(stream) - t - 1)
		ids = append(ids, stream[off:off+t]...)
		targets = append(targets, stream[off+1:off+t+1]...)
	}
	return ids, targets
}

// Loss implements Job.
func (j *LMJob) Loss(tp *autograd.Tape) (*autograd.Var, int, error) {
	ids, targets := j.batch(j.Train, j.dataRNG())
	loss, err := j.Model.Loss(tp, ids, targets, j.Data.Batch, j.Data.Context)
	return loss, len(ids), err
}

// Evaluate implements Job: the mean validation loss over EvalBatches
// batches. The windows are the same at every evaluation (a fixed seed), so
// the curve compares like with like.
func (j *LMJob) Evaluate() (map[string]float64, error) {
	rng := tensor.NewRNG(j.Data.Seed ^ 0xe7a1)
	var sum float64
	for range j.Data.EvalBatches {
		ids, targets := j.batch(j.Val, rng)
		loss, err := j.Model.Loss(nil, ids, targets, j.Data.Batch, j.Data.Context)
		if err != nil {
			return nil, err
		}
		sum += float64(loss.Item())
	}
	return map[string]float64{"val_loss": sum / float64(j.Data.EvalBatches)}, nil
}

// SaveModel implements Job.
func (j *LMJob) SaveModel(dir string) error {
	if err := j.Save(dir); err != nil {
		return err
	}
	if j.Tokenizer == nil {
		return nil
	}
	return writeSynced(filepath.Join(dir, "tokenizer.json"), j.Tokenizer)
}

// lmState is the LM job's data position: its RNG.
type lmState struct {
	RNG uint64 `json:"rng"`
}

// DataState implements Job.
func (j *LMJob) DataState() json.RawMessage {
	b, _ := json.Marshal(lmState{RNG: j.dataRNG().State})
	return b
}

// SetDataState implements Job.
func (j *LMJob) SetDataState(b json.RawMessage) error {
	var st lmState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("train: language-model data state: %w", err)
	}
	j.dataRNG().State = st.RNG
	return nil
}

// ReadLMData returns the data settings saved with a language-model run's
// checkpoint.
func ReadLMData(ckpt string) (LMData, RunConfig, error) {
	var d LMData
	st, err := ReadState(ckpt)
	if err != nil {
		return d, st.Config, err
	}
	if err := json.Unmarshal(st.Job, &d); err != nil {
		return d, st.Config, fmt.Errorf("train: %s: job settings: %w", filepath.Join(ckpt, "trainer_state.json"), err)
	}
	return d, st.Config, nil
}
