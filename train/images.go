package train

import (
	"encoding/json"
	"fmt"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/data"
	"github.com/attn-go/attn/model/vit"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tensor"
)

// ImageData says how an image-classification job draws its batches.
type ImageData struct {
	Batch     int     `json:"batch"`           // images per micro-batch
	Smoothing float32 `json:"label_smoothing"` // of the cross-entropy
	Seed      uint64  `json:"seed"`            // the order of each epoch
	// Probe trains only the classifier, on the features of a frozen
	// backbone (linear probing): each image's features are computed once,
	// on the first step and the first evaluation, so that training the
	// classifier afterwards costs next to nothing.
	Probe bool `json:"linear_probe,omitempty"`
	// Augment varies each training image every time it is drawn
	// (vit.Processor.Augmented: a random crop, resized, mirrored half the
	// time), from the seed, the epoch and the image's index.
	Augment bool `json:"augment,omitempty"`
}

// ImageJob trains a ViT classifier on labelled images: each epoch visits
// the training images once in a new random order; evaluation is the loss
// and accuracy over every validation image.
type ImageJob struct {
	Data       ImageData
	Model      *vit.Model
	Processor  vit.Processor
	Train, Val []data.Image

	walk epochWalk

	trainFeat, valFeat []float32 // with Probe: prefix·C features per image
}

// Check reports settings the job cannot run with.
func (j *ImageJob) Check() error {
	switch {
	case j.Data.Batch <= 0:
		return fmt.Errorf("train: batch %d must be positive", j.Data.Batch)
	case j.Data.Smoothing < 0 || j.Data.Smoothing >= 1:
		return fmt.Errorf("train: label smoothing %v outside [0, 1)", j.Data.Smoothing)
	case len(j.Train) == 0 || len(j.Val) == 0:
		return fmt.Errorf("train: need training and validation images (have %d and %d)", len(j.Train), len(j.Val))
	case !j.Model.HasClassifier():
		return fmt.Errorf("train: the model has no classifier")
	case j.Data.Probe && j.Data.Augment:
		return fmt.Errorf("train: a linear probe computes each image's features once; it cannot augment them")
	}
	for _, set := range [][]data.Image{j.Train, j.Val} {
		for _, im := range set {
			if im.Label < 0 || im.Label >= j.Model.Labels() {
				return fmt.Errorf("train: image %s has label %d; the classifier has %d", im.Path, im.Label, j.Model.Labels())
			}
		}
	}
	return j.Processor.Validate(j.Model.Cfg)
}

// Params implements Job: every parameter, or with Probe the classifier's.
func (j *ImageJob) Params() []nn.Param {
	ps := j.Model.Params()
	if !j.Data.Probe {
		return ps
	}
	var head []nn.Param
	for _, p := range ps {
		if vit.IsHead(p.Name) {
			head = append(head, p)
		}
	}
	return head
}

// NoDecay implements Job: biases, LayerNorms, the class (and distillation)
// token and the positions are not decayed (as timm leaves them).
func (j *ImageJob) NoDecay() map[*autograd.Var]bool {
	out := map[*autograd.Var]bool{}
	e := j.Model.Embeddings
	for _, p := range j.Model.Params() {
		if len(p.Value.Shape) < 2 || p.Var == e.CLS || p.Var == e.Distillation || p.Var == e.Position {
			out[p.Var] = true
		}
	}
	return out
}

// pixels decodes and prepares images, on all cores; with augment non-nil,
// image i is varied by vit.Processor.Augmented with the RNG augment(i).
func (j *ImageJob) pixels(ims []data.Image, augment func(i int) *tensor.RNG) ([]float32, []int, error) {
	c := j.Model.Cfg
	per := c.Channels * c.ImageSize * c.ImageSize
	px, labels := make([]float32, len(ims)*per), make([]int, len(ims))
	errs := make([]error, len(ims))
	tensor.ParallelFor(len(ims), func(i int) {
		img := ims[i].Img
		if img == nil {
			var err error
			if img, err = vit.ReadImage(ims[i].Path); err != nil {
				errs[i] = err
				return
			}
		}
		var x []float32
		var err error
		if augment != nil {
			x, err = j.Processor.Augmented(img, augment(i))
		} else {
			x, err = j.Processor.Pixels(img)
		}
		if err != nil {
			errs[i] = fmt.Errorf("%s: %w", ims[i].Path, err)
			return
		}
		copy(px[i*per:], x)
		labels[i] = ims[i].Label
	})
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	return px, labels, nil
}

// features returns the frozen model's final states of the tokens before
// the patches (the class token, and DeiT's distillation token) for each
// image: Prefix·C values per image, computed without a tape.
func (j *ImageJob) features(ims []data.Image) ([]float32, error) {
	c := j.Model.Cfg
	k, d, t := c.Prefix(), c.Hidden, c.Prefix()+c.Patches()
	out := make([]float32, 0, len(ims)*k*d)
	for lo := 0; lo < len(ims); lo += j.Data.Batch {
		part := ims[lo:min(lo+j.Data.Batch, len(ims))]
		px, _, err := j.pixels(part, nil)
		if err != nil {
			return nil, err
		}
		hidden, _, err := j.Model.Encode(px, len(part))
		if err != nil {
			return nil, err
		}
		for i := range part {
			out = append(out, hidden.Data[i*t*d:(i*t+k)*d]...)
		}
	}
	return out, nil
}

// Loss implements Job: the label-smoothed cross-entropy of one batch; its
// "tokens" are images.
func (j *ImageJob) Loss(tp *autograd.Tape) (*autograd.Var, int, error) {
	idx, epochs := j.walk.next(j.Data.Seed, len(j.Train), j.Data.Batch)
	labels := make([]int, len(idx))
	for i, k := range idx {
		labels[i] = j.Train[k].Label
	}
	var h *autograd.Var
	if j.Data.Probe {
		if j.trainFeat == nil {
			f, err := j.features(j.Train)
			if err != nil {
				return nil, 0, err
			}
			j.trainFeat = f
		}
		h = autograd.Const(gatherRows(j.trainFeat, idx, j.Model.Cfg.Prefix(), j.Model.Cfg.Hidden))
	} else {
		ims := make([]data.Image, len(idx))
		for i, k := range idx {
			ims[i] = j.Train[k]
		}
		var augment func(i int) *tensor.RNG
		if j.Data.Augment { // a variation per seed, epoch and image
			augment = func(i int) *tensor.RNG {
				return tensor.NewRNG(tensor.Mix64(tensor.Mix64(j.Data.Seed^tensor.Mix64(uint64(epochs[i])+1)) ^ uint64(idx[i]+1)))
			}
		}
		px, _, err := j.pixels(ims, augment)
		if err != nil {
			return nil, 0, err
		}
		if h, err = j.Model.Forward(tp, px, len(ims)); err != nil {
			return nil, 0, err
		}
	}
	logits, err := j.Model.Logits(tp, h)
	if err != nil {
		return nil, 0, err
	}
	return tp.CrossEntropy(logits, labels, -1, j.Data.Smoothing), len(idx), nil
}

// gatherRows returns the features of images idx, k·d values each, as a
// [len(idx), k, d] tensor.
func gatherRows(feat []float32, idx []int, k, d int) *tensor.Tensor {
	out := tensor.New(len(idx), k, d)
	for i, n := range idx {
		copy(out.Data[i*k*d:(i+1)*k*d], feat[n*k*d:(n+1)*k*d])
	}
	return out
}

// Evaluate implements Job: the mean cross-entropy (without smoothing) and
// the accuracy over all validation images.
func (j *ImageJob) Evaluate() (map[string]float64, error) {
	if !j.Data.Probe {
		loss, acc, err := EvaluateImages(j.Model, j.Processor, j.Val, j.Data.Batch)
		if err != nil {
			return nil, err
		}
		return map[string]float64{"val_loss": loss, "val_accuracy": acc}, nil
	}
	if j.valFeat == nil {
		f, err := j.features(j.Val)
		if err != nil {
			return nil, err
		}
		j.valFeat = f
	}
	idx, labels := make([]int, len(j.Val)), make([]int, len(j.Val))
	for i, im := range j.Val {
		idx[i], labels[i] = i, im.Label
	}
	logits, err := j.Model.Logits(nil, autograd.Const(gatherRows(j.valFeat, idx, j.Model.Cfg.Prefix(), j.Model.Cfg.Hidden)))
	if err != nil {
		return nil, err
	}
	loss, right := score(logits.Value, labels)
	n := float64(len(j.Val))
	return map[string]float64{"val_loss": loss / n, "val_accuracy": float64(right) / n}, nil
}

// score returns the summed cross-entropy of logits [N, labels] against
// labels and how many rows have their label as the largest logit.
func score(logits *tensor.Tensor, labels []int) (loss float64, right int) {
	loss = float64((*autograd.Tape)(nil).CrossEntropy(autograd.Const(logits), labels, -1, 0).Item()) * float64(len(labels))
	n := logits.Shape[len(logits.Shape)-1]
	for i, l := range labels {
		row := logits.Data[i*n : (i+1)*n]
		best := 0
		for k, v := range row {
			if v > row[best] {
				best = k
			}
		}
		if best == l {
			right++
		}
	}
	return loss, right
}

// EvaluateImages returns a classifier's mean cross-entropy and top-1
// accuracy over labelled images, batch at a time.
func EvaluateImages(m *vit.Model, p vit.Processor, ims []data.Image, batch int) (loss, accuracy float64, err error) {
	if len(ims) == 0 {
		return 0, 0, fmt.Errorf("train: no images to evaluate")
	}
	j := &ImageJob{Model: m, Processor: p}
	var sum float64
	right := 0
	for lo := 0; lo < len(ims); lo += batch {
		part := ims[lo:min(lo+batch, len(ims))]
		px, labels, err := j.pixels(part, nil)
		if err != nil {
			return 0, 0, err
		}
		logits, err := m.Classify(px, len(part))
		if err != nil {
			return 0, 0, err
		}
		l, r := score(logits, labels)
		sum, right = sum+l, right+r
	}
	return sum / float64(len(ims)), float64(right) / float64(len(ims)), nil
}

// SaveModel implements Job: a HuggingFace ViT folder with its processor.
func (j *ImageJob) SaveModel(dir string) error { return vit.Save(dir, j.Model, j.Processor) }

// DataState implements Job.
func (j *ImageJob) DataState() json.RawMessage { return j.walk.state() }

// SetDataState implements Job.
func (j *ImageJob) SetDataState(b json.RawMessage) error {
	return j.walk.setState(b, j.Data.Seed, len(j.Train), "image")
}
