package train

import (
	"encoding/json"
	"fmt"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/model/bert"
	"github.com/attn-go/attn/nn"
)

// TextData says how a text-classification job draws its batches.
type TextData struct {
	Batch     int     `json:"batch"`           // texts per micro-batch
	Smoothing float32 `json:"label_smoothing"` // of the cross-entropy
	Seed      uint64  `json:"seed"`            // the order of each epoch
}

// TextExample is one tokenized text (or pair of texts) and its label.
type TextExample struct {
	IDs, Types []int // with the special tokens; Types 0 and 1 for the texts of a pair
	Label      int
}

// TextJob fine-tunes a BERT sequence classifier on labelled texts, as
// BertForSequenceClassification is fine-tuned (Devlin et al. 2019, §4):
// each epoch visits the training texts once in a new random order;
// evaluation is the loss and accuracy over every validation text.
type TextJob struct {
	Data       TextData
	Model      *bert.Model
	Train, Val []TextExample
	// Save writes the model folder with its tokenizer.
	Save func(dir string) error

	walk epochWalk
}

// Check reports settings and examples the job cannot run with.
func (j *TextJob) Check() error {
	switch {
	case j.Data.Batch <= 0:
		return fmt.Errorf("train: batch %d must be positive", j.Data.Batch)
	case j.Data.Smoothing < 0 || j.Data.Smoothing >= 1:
		return fmt.Errorf("train: label smoothing %v outside [0, 1)", j.Data.Smoothing)
	case len(j.Train) == 0 || len(j.Val) == 0:
		return fmt.Errorf("train: need training and validation texts (have %d and %d)", len(j.Train), len(j.Val))
	case j.Model.Labels() < 2:
		return fmt.Errorf("train: the model has %d classifier outputs; a single-label classifier has at least two", j.Model.Labels())
	}
	for _, set := range []struct {
		name string
		ex   []TextExample
	}{{"training", j.Train}, {"validation", j.Val}} {
		for i, e := range set.ex {
			switch {
			case e.Label < 0 || e.Label >= j.Model.Labels():
				return fmt.Errorf("train: %s text %d has label %d; the classifier has %d", set.name, i+1, e.Label, j.Model.Labels())
			case len(e.IDs) == 0 || len(e.IDs) > j.Model.Cfg.MaxLen() || len(e.Types) != len(e.IDs):
				return fmt.Errorf("train: %s text %d has %d tokens (%d types); the model takes 1 to %d", set.name, i+1, len(e.IDs), len(e.Types), j.Model.Cfg.MaxLen())
			}
		}
	}
	return nil
}

// Params implements Job.
func (j *TextJob) Params() []nn.Param { return j.Model.Params() }

// NoDecay implements Job: biases and LayerNorms are not decayed, as in
// BERT's fine-tuning recipe and HF's Trainer.
func (j *TextJob) NoDecay() map[*autograd.Var]bool { return vectors(j.Model.Params()) }

// vectors returns the parameters of fewer than two dimensions (biases and
// norms' weights), which AdamW's weight decay leaves alone in HF's Trainer
// and nanoGPT.
func vectors(ps []nn.Param) map[*autograd.Var]bool {
	out := map[*autograd.Var]bool{}
	for _, p := range ps {
		if len(p.Value.Shape) < 2 {
			out[p.Var] = true
		}
	}
	return out
}

// batch packs examples into one padded batch and returns their labels and
// how many tokens they hold.
func (j *TextJob) batch(ex []TextExample) (ids, types []int, pad []bool, b, t int, labels []int, tokens int) {
	seqs := make([][]int, len(ex))
	for i, e := range ex {
		seqs[i], tokens = e.IDs, tokens+len(e.IDs)
		labels = append(labels, e.Label)
	}
	ids, pad, b, t = bert.Batch(seqs, j.Model.Cfg.PadID)
	types = make([]int, len(ids))
	for i, e := range ex {
		copy(types[i*t:], e.Types)
	}
	return ids, types, pad, b, t, labels, tokens
}

// Loss implements Job: the label-smoothed cross-entropy of one batch.
func (j *TextJob) Loss(tp *autograd.Tape) (*autograd.Var, int, error) {
	idx, _ := j.walk.next(j.Data.Seed, len(j.Train), j.Data.Batch)
	ex := make([]TextExample, len(idx))
	for i, k := range idx {
		ex[i] = j.Train[k]
	}
	ids, types, pad, b, t, labels, tokens := j.batch(ex)
	h, err := j.Model.Forward(tp, ids, types, pad, b, t)
	if err != nil {
		return nil, 0, err
	}
	logits, err := j.Model.ClassLogits(tp, h, pad)
	if err != nil {
		return nil, 0, err
	}
	return tp.CrossEntropy(logits, labels, -1, j.Data.Smoothing), tokens, nil
}

// Evaluate implements Job: the mean cross-entropy (without smoothing) and
// the accuracy over all validation texts.
func (j *TextJob) Evaluate() (map[string]float64, error) {
	loss, acc, err := EvaluateTexts(j.Model, j.Val, j.Data.Batch)
	if err != nil {
		return nil, err
	}
	return map[string]float64{"val_loss": loss, "val_accuracy": acc}, nil
}

// EvaluateTexts returns a sequence classifier's mean cross-entropy and
// top-1 accuracy over labelled texts, batch at a time.
func EvaluateTexts(m *bert.Model, ex []TextExample, batch int) (loss, accuracy float64, err error) {
	if len(ex) == 0 {
		return 0, 0, fmt.Errorf("train: no texts to evaluate")
	}
	j := &TextJob{Model: m}
	var sum float64
	right := 0
	for lo := 0; lo < len(ex); lo += batch {
		ids, types, pad, b, t, labels, _ := j.batch(ex[lo:min(lo+batch, len(ex))])
		logits, err := m.Classify(ids, types, pad, b, t)
		if err != nil {
			return 0, 0, err
		}
		l, r := score(logits, labels)
		sum, right = sum+l, right+r
	}
	return sum / float64(len(ex)), float64(right) / float64(len(ex)), nil
}

// SaveModel implements Job.
func (j *TextJob) SaveModel(dir string) error { return j.Save(dir) }

// DataState implements Job.
func (j *TextJob) DataState() json.RawMessage { return j.walk.state() }

// SetDataState implements Job.
func (j *TextJob) SetDataState(b json.RawMessage) error {
	return j.walk.setState(b, j.Data.Seed, len(j.Train), "text")
}
