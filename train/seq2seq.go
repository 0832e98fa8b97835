package train

import (
	"encoding/json"
	"fmt"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/data"
	"github.com/attn-go/attn/model/transformer"
	"github.com/attn-go/attn/nn"
)

// Seq2SeqData says how a translation job batches and evaluates.
type Seq2SeqData struct {
	// MaxTokens bounds the source tokens and the target tokens of a batch,
	// padding included (the paper's batches held about 25,000 of each).
	MaxTokens int     `json:"max_tokens"`
	Smoothing float32 `json:"label_smoothing"`
	// EvalSentences limits how many validation sentences are translated
	// for BLEU at each evaluation (0: all).
	EvalSentences int    `json:"eval_sentences"`
	Seed          uint64 `json:"seed"`
}

// Seq2SeqModel is an encoder-decoder a Seq2SeqJob trains:
// transformer.Model, or a T5 behind an adapter. Forward returns the logits
// [B, T, V] of the teacher-forced target input tgt for the source src.
type Seq2SeqModel interface {
	Params() []nn.Param
	Forward(tp *autograd.Tape, src, tgt transformer.Batch) (*autograd.Var, error)
}

// Seq2SeqJob trains an encoder-decoder on sentence pairs with label-smoothed
// cross-entropy, and evaluates validation loss and, when Translate and BLEU
// are set, the BLEU of the validation translations.
type Seq2SeqJob struct {
	Data       Seq2SeqData
	Model      Seq2SeqModel
	Train, Val []data.Pair
	// ValRefs are the validation targets as text, for BLEU.
	ValRefs       []string
	Pad, BOS, EOS int
	// Translate decodes token sequences to target text (beam search and
	// detokenisation); BLEU scores hypotheses against references.
	Translate func(srcs [][]int) ([]string, error)
	BLEU      func(hyps, refs []string) (float64, error)
	Save      func(dir string) error

	batches *data.Batches
}

func (j *Seq2SeqJob) batcher() *data.Batches {
	if j.batches == nil {
		j.batches = data.NewBatches(j.Train, j.Data.MaxTokens, j.Data.Seed)
	}
	return j.batches
}

// StepsPerEpoch returns the number of batches in one pass over the data.
func (j *Seq2SeqJob) StepsPerEpoch() int { return j.batcher().Len() }

// Epoch returns the current epoch, counted from 0.
func (j *Seq2SeqJob) Epoch() int { return j.batcher().Epoch }

// Params implements Job.
func (j *Seq2SeqJob) Params() []nn.Param { return j.Model.Params() }

// NoDecay implements Job: biases and norms' weights are exempt, as HF's
// Trainer leaves them (the paper's recipe uses no weight decay at all).
func (j *Seq2SeqJob) NoDecay() map[*autograd.Var]bool { return vectors(j.Model.Params()) }

// loss runs the teacher-forced loss of pairs.
func (j *Seq2SeqJob) loss(tp *autograd.Tape, pairs []data.Pair, smoothing float32) (*autograd.Var, int, error) {
	srcs, tgts := make([][]int, len(pairs)), make([][]int, len(pairs))
	for i, p := range pairs {
		srcs[i], tgts[i] = p.Src, p.Tgt
	}
	src := transformer.MakeBatch(srcs, j.Pad)
	tgtIn, tgtOut := transformer.TeacherForcing(tgts, j.BOS, j.EOS, j.Pad)
	logits, err := j.Model.Forward(tp, src, tgtIn)
	if err != nil {
		return nil, 0, err
	}
	tokens := 0
	for _, t := range tgtOut {
		if t != j.Pad {
			tokens++
		}
	}
	for _, s := range srcs {
		tokens += len(s)
	}
	return tp.CrossEntropy(logits, tgtOut, j.Pad, smoothing), tokens, nil
}

// Loss implements Job.
func (j *Seq2SeqJob) Loss(tp *autograd.Tape) (*autograd.Var, int, error) {
	return j.loss(tp, j.batcher().Next(), j.Data.Smoothing)
}

// Evaluate implements Job: the validation loss (without label smoothing,
// averaged over target tokens) and BLEU.
func (j *Seq2SeqJob) Evaluate() (map[string]float64, error) {
	vb := data.NewBatches(j.Val, j.Data.MaxTokens, 0)
	var sum float64
	n := 0
	for range vb.Len() {
		pairs := vb.Next()
		loss, _, err := j.loss(nil, pairs, 0)
		if err != nil {
			return nil, err
		}
		tgt := 0
		for _, p := range pairs {
			tgt += len(p.Tgt) + 1
		}
		sum += float64(loss.Item()) * float64(tgt)
		n += tgt
	}
	b := j.batcher()
	ev := map[string]float64{"val_loss": sum / float64(max(n, 1)), "epoch": float64(b.Epoch) + float64(b.Pos)/float64(b.Len())}
	if j.Translate == nil || j.BLEU == nil {
		return ev, nil
	}
	k := len(j.Val)
	if j.Data.EvalSentences > 0 {
		k = min(k, j.Data.EvalSentences)
	}
	srcs := make([][]int, k)
	for i := range srcs {
		srcs[i] = j.Val[i].Src
	}
	hyps, err := j.Translate(srcs)
	if err != nil {
		return nil, err
	}
	bleu, err := j.BLEU(hyps, j.ValRefs[:k])
	if err != nil {
		return nil, err
	}
	ev["val_bleu"] = bleu
	return ev, nil
}

// SaveModel implements Job.
func (j *Seq2SeqJob) SaveModel(dir string) error { return j.Save(dir) }

// DataState implements Job.
func (j *Seq2SeqJob) DataState() json.RawMessage {
	b, _ := json.Marshal(j.batcher().State())
	return b
}

// SetDataState implements Job.
func (j *Seq2SeqJob) SetDataState(b json.RawMessage) error {
	var st data.BatchesState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("train: translation data state: %w", err)
	}
	return j.batcher().SetState(st)
}
