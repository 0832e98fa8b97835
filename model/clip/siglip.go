package clip

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/model/hf"
	"github.com/attn-go/attn/nn"
)

// SigLIP (Zhai et al. 2023; HF's modeling_siglip.py, model_type "siglip")
// is CLIP trained with a sigmoid per image-text pair instead of a softmax
// over the batch. Its towers' layers are CLIP's, under the same names; it
// differs around them: the text is not causal and is read at its last
// position through a linear head, the image has no class token and is
// pooled by a learned query attending over its tokens, and the logits
// carry a learned bias. SigLIP 2's fixed-resolution checkpoints share the
// architecture.

// siglipDefaults is SiglipConfig's defaults (siglip-base-patch16-224).
func siglipDefaults() Config {
	return Config{
		Text: TextConfig{
			Tower:     Tower{Hidden: 768, Intermediate: 3072, Layers: 12, Heads: 12, Act: "gelu_pytorch_tanh", Eps: 1e-6},
			VocabSize: 32000, MaxPositions: 64, PadID: 1, BOSID: 49406, EOSID: 49407,
		},
		Vision: VisionConfig{
			Tower:     Tower{Hidden: 768, Intermediate: 3072, Layers: 12, Heads: 12, Act: "gelu_pytorch_tanh", Eps: 1e-6},
			ImageSize: 224, PatchSize: 16, Channels: 3,
		},
		Siglip: true,
	}
}

// projection is the width of SigLIP's text head.
func (t TextConfig) projection() int {
	if t.ProjectionSize > 0 {
		return t.ProjectionSize
	}
	return t.Hidden
}

// siglipJSON is SiglipConfig as config.json holds it.
type siglipJSON struct {
	ModelType     string   `json:"model_type"`
	Architectures []string `json:"architectures,omitempty"`
	Text          struct {
		TextConfig
		ModelType string `json:"model_type"`
	} `json:"text_config"`
	Vision struct {
		VisionConfig
		ModelType string `json:"model_type"`
		UseHead   *bool  `json:"vision_use_head,omitempty"`
	} `json:"vision_config"`
}

// unmarshalSiglip reads a SiglipConfig into c. A vision tower without its
// pooling head (vision_use_head false), which gives no image embedding,
// and other classes than SiglipModel are refused.
func (c *Config) unmarshalSiglip(b []byte) error {
	def := siglipDefaults()
	var v siglipJSON
	v.Text.TextConfig, v.Vision.VisionConfig = def.Text, def.Vision
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	for _, a := range v.Architectures {
		if a != "SiglipModel" {
			return fmt.Errorf("clip: architectures %q: only SiglipModel (both towers and their heads) is read", a)
		}
	}
	if v.Vision.UseHead != nil && !*v.Vision.UseHead {
		return fmt.Errorf("clip: a SigLIP vision tower without its pooling head (vision_use_head false) gives no image embedding")
	}
	*c = Config{Text: v.Text.TextConfig, Vision: v.Vision.VisionConfig, Siglip: true}
	return nil
}

// marshalSiglip writes c as HF's SiglipConfig.
func (c Config) marshalSiglip() ([]byte, error) {
	var v siglipJSON
	v.ModelType, v.Architectures = "siglip", []string{"SiglipModel"}
	v.Text.TextConfig, v.Text.ModelType = c.Text, "siglip_text_model"
	v.Text.ProjectionSize = c.Text.projection()
	v.Vision.VisionConfig, v.Vision.ModelType = c.Vision, "siglip_vision_model"
	return json.Marshal(v)
}

// newSiglip builds a SiglipModel of c with random weights (see New) around
// its text tower.
func newSiglip(c Config, w hf.Init, text *TextModel, linear func(in, out int, bias bool) *nn.Linear, norm func(d int, eps float32) *nn.LayerNorm, encoder func(Tower) *Encoder) *Model {
	vc := c.Vision
	d := vc.Hidden
	return &Model{
		Cfg:  c,
		Text: text,
		Vision: &VisionModel{
			Embeddings: &VisionEmbeddings{
				Patch:     w.Normal(0.02, d, vc.Channels, vc.PatchSize, vc.PatchSize),
				PatchBias: w.Fill(0, d),
				Position:  &nn.Embedding{Weight: w.Normal(0.02, vc.Patches(), d), Scale: 1},
			},
			Encoder:  encoder(vc.Tower),
			PostNorm: norm(d, vc.Eps),
			Head: &PoolingHead{
				Probe:     w.Normal(0.02, 1, 1, d),
				Attention: &nn.MultiHeadAttention{InProjWeight: w.Normal(0.02, 3*d, d), InProjBias: w.Fill(0, 3*d), OutProj: linear(d, d, true), Heads: vc.Heads},
				Norm:      norm(d, vc.Eps),
				MLP:       &MLP{FC1: linear(d, vc.Intermediate, true), FC2: linear(vc.Intermediate, d, true)},
			},
		},
		LogitScale: w.Fill(float32(math.Log(10)), 1),
		LogitBias:  w.Fill(-10, 1),
	}
}

// siglipVision runs SigLIP's vision tower on the patch embeddings x
// [b, patches, C]: positions, the layers, post_layernorm on every token
// (the last hidden state), and the pooling head's output (the pooled
// state).
func (m *Model) siglipVision(tp *autograd.Tape, x *autograd.Var, b int) (hidden, pooled *autograd.Var, err error) {
	c := m.Cfg.Vision
	n, d := c.Patches(), c.Hidden
	x = tp.Add(x, tp.Reshape(m.Vision.Embeddings.Position.Weight, n, d))
	if x, err = encode(tp, m.Vision.Encoder, c.Tower, x, autograd.AttentionOpts{}); err != nil {
		return nil, nil, err
	}
	hidden = m.Vision.PostNorm.Forward(tp, x)
	h := m.Vision.Head
	at := h.Attention
	// nn.MultiheadAttention's projections are rows [i·C, (i+1)·C) of the
	// stacked weight and bias: i = 0 the query's, 1 the key's, 2 the
	// value's. The probe's is projected once, not once per image, which
	// at.Forward would do.
	proj := func(x *autograd.Var, i int) *autograd.Var {
		return tp.Linear(x, tp.SliceRows(at.InProjWeight, i*d, (i+1)*d), tp.SliceRows(at.InProjBias, i*d, (i+1)*d))
	}
	q := proj(tp.Reshape(h.Probe, 1, d), 0)                     // (1, C): the same query for every image
	q = tp.Reshape(tp.Embedding(q, make([]int, b), 1), b, 1, d) // (B, 1, C)
	y := at.OutProj.Forward(tp, tp.Attention(q, proj(hidden, 1), proj(hidden, 2), c.Heads, autograd.AttentionOpts{}))
	act, err := c.activation() // the head's MLP takes the tower's
	if err != nil {
		return nil, nil, err
	}
	y = tp.Add(y, h.MLP.FC2.Forward(tp, act(tp, h.MLP.FC1.Forward(tp, h.Norm.Forward(tp, y)))))
	return hidden, tp.Reshape(y, b, d), nil
}
