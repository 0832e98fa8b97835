package llama

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/model/hf"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/safetensors"
	"github.com/attn-go/attn/tensor"
)

// ignored matches stored tensors that are not weights: the rotary
// frequencies some checkpoints saved as a buffer.
var ignored = []*regexp.Regexp{regexp.MustCompile(`^layers\.\d+\.self_attn\.rotary_emb\.inv_freq$`)}

// imageTextIgnored adds the image side of a Gemma 3 image-text checkpoint,
// which the text model does not use.
var imageTextIgnored = append(slices.Clip(ignored), regexp.MustCompile(`^(vision_tower|multi_modal_projector)\.`))

// headIgnored matches the output layer, which LoadEncoder does not read.
var headIgnored = regexp.MustCompile(`^lm_head\.weight$`)

// textOfImageText renames the text model's tensors of a Gemma 3 image-text
// checkpoint to the text-only model's: transformers before 4.52 saved them
// as language_model.model.* and language_model.lm_head.*, later ones as
// model.language_model.* (whose "model." Canonical has taken off).
func textOfImageText(n string) string {
	for _, p := range []string{"language_model.model.", "language_model."} {
		if rest, ok := strings.CutPrefix(n, p); ok {
			return rest
		}
	}
	return n
}

// Load reads a HuggingFace Llama-family folder (see Types): config.json
// (LlamaConfig, Qwen2Config, Qwen3Config, MistralConfig, Gemma2Config,
// Gemma3TextConfig, SmolLM3Config, Phi3Config, GraniteConfig,
// Olmo2Config, the mixtures of experts' configs, GptOssConfig) and
// model.safetensors or its shards, in F32, F16, BF16 or F64, converted
// once into float32 weights. It accepts LlamaForCausalLM's names ("model."
// before the base model, lm_head.weight), and a tied output layer stored
// or not; a Phi-3's fused qkv_proj and gate_up_proj; a GPT-OSS's stacked
// experts, in MXFP4 or not (see splitGptOSS). A Gemma 3 image-text folder
// ("gemma3": Gemma3ForConditionalGeneration) loads as its text model, its
// vision tower and projector skipped. Missing, unexpected or mis-shaped tensors
// are errors naming the tensor and its file. The end-of-text tokens of
// generation_config.json, when there is one, join config.json's (HF's
// generate reads them there: Llama 3 Instruct's <|eot_id|>, say).
func Load(dir string) (*Model, error) { return loadFolder(dir, LoadCheckpoint) }

// loadFolder is Load with the checkpoint read by loadCk.
func loadFolder(dir string, loadCk func(Config, *hf.Checkpoint) (*Model, error)) (*Model, error) {
	m, err := hf.LoadFolder(dir, loadCk)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "generation_config.json")
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	var g struct {
		EOS json.RawMessage `json:"eos_token_id"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, fmt.Errorf("llama: %s: %w", path, err)
	}
	if len(g.EOS) == 0 {
		return m, nil
	}
	ids, err := tokenIDs(g.EOS)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, id := range ids {
		if id < 0 || id >= m.Cfg.VocabSize {
			return nil, fmt.Errorf("llama: %s: eos_token_id %d is outside the vocabulary [0, %d)", path, id, m.Cfg.VocabSize)
		}
		if !slices.Contains(m.Cfg.EOS, id) {
			m.Cfg.EOS = append(m.Cfg.EOS, id)
		}
	}
	return m, nil
}

// LoadCheckpoint builds the model of cfg and fills it from ck (see Load).
func LoadCheckpoint(cfg Config, ck *hf.Checkpoint) (*Model, error) {
	return loadCheckpoint(cfg, ck, false, false, false)
}

// LoadHalf is Load for generation: a checkpoint whose matrices are all
// stored in BF16, or all in F16, has them read straight into those 16 bits
// and kept so, never held in float32, so that a model that fits in memory
// as stored loads (a 7B model in 14 GB, not 28) and decoding, which reads
// every matrix once a token, reads half the bytes. The numbers are those of
// Load's float32 model, bit for bit (both formats widen to float32
// exactly). A float32 checkpoint of bfloat16 values is kept too
// (KeepBF16). A model kept in 16 bits generates but does not train: Widen
// it first, or Load it.
func LoadHalf(dir string) (*Model, error) {
	m, err := loadFolder(dir, func(cfg Config, ck *hf.Checkpoint) (*Model, error) {
		return loadCheckpoint(cfg, ck, true, false, false)
	})
	if err == nil {
		m.KeepBF16()
	}
	return m, err
}

// LoadQ8 is LoadHalf followed by QuantizeQ8, in the memory of the 8-bit
// model: a checkpoint whose matrices are stored in BF16 or F16 is read a
// layer at a time, each quantized before the next is read (an 8B model's
// 16 GB in BF16 load as its 8.5 GB in 8 bits); another is loaded, then
// quantized a matrix at a time. The numbers are QuantizeQ8's.
func LoadQ8(dir string) (*Model, error) {
	m, err := loadFolder(dir, func(cfg Config, ck *hf.Checkpoint) (*Model, error) { return loadCheckpoint(cfg, ck, true, false, true) })
	if err == nil {
		m.QuantizeQ8()
	}
	return m, err
}

// LoadEncoder is LoadHalf for Hidden only, what an embedding model
// (Qwen3-Embedding, EmbeddingGemma) computes: the output layer is neither
// read nor needed, so a checkpoint saved as its base model (Qwen3Model,
// Gemma3TextModel, with no lm_head.weight beside an untied config) loads. The model refuses to
// compute logits (Step, StepLast, StepBatch, Forward).
func LoadEncoder(dir string) (*Model, error) {
	m, err := loadFolder(dir, func(cfg Config, ck *hf.Checkpoint) (*Model, error) { return loadCheckpoint(cfg, ck, true, true, false) })
	if err == nil {
		m.KeepBF16()
	}
	return m, err
}

// LoadEncoderQ8 is LoadEncoder with the matrices quantized to 8 bits as
// they load, as LoadQ8 quantizes them.
func LoadEncoderQ8(dir string) (*Model, error) {
	m, err := loadFolder(dir, func(cfg Config, ck *hf.Checkpoint) (*Model, error) { return loadCheckpoint(cfg, ck, true, true, true) })
	if err == nil {
		m.QuantizeQ8()
	}
	return m, err
}

// errHeadless is what a model loaded without its output layer answers a
// request for logits.
var errHeadless = errors.New("llama: the model was loaded without its output layer (LoadEncoder): it computes hidden states, not logits")

// loadCheckpoint is LoadCheckpoint; with keep, matrices all stored in one
// 16-bit format are kept in it (see LoadHalf), and with q8 (keep or not)
// quantized as they load (see LoadQ8); headless leaves the output layer
// out (see LoadEncoder).
func loadCheckpoint(cfg Config, ck *hf.Checkpoint, keep, headless, q8 bool) (*Model, error) {
	build := cfg
	if headless {
		build.Tied = true // no output layer to fill
	}
	m, err := newUnfused(build, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(ck.Dir, hf.ConfigFile), err)
	}
	m.Cfg.Tied, m.headless = cfg.Tied, headless
	opt := hf.LoadOptions{Ignore: ignored}
	if cfg.ImageText {
		opt.Ignore = imageTextIgnored
		if err := ck.Rename(textOfImageText); err != nil {
			return nil, err
		}
	}
	switch cfg.Type {
	case "phi3":
		if err := splitFused(cfg, ck); err != nil {
			return nil, err
		}
		opt.Stored = fusedName
	case "mixtral":
		if err := ck.Rename(fromMixtral); err != nil {
			return nil, err
		}
		opt.Stored = mixtralName
	case "granitemoe", "granitemoeshared":
		if err := ck.Rename(fromGranite); err != nil {
			return nil, err
		}
		opt.Stored = graniteName
	case "gpt_oss":
		if err := ck.Rename(fromGptOSS); err != nil {
			return nil, err
		}
		if err := splitGptOSS(cfg, ck); err != nil {
			return nil, err
		}
		opt.Stored = gptOSSName
	}
	if cfg.moe() && !cfg.gptOSS() {
		if err := splitExperts(cfg, ck); err != nil {
			return nil, err
		}
	}
	switch {
	case headless: // a stored output layer is not read
		opt.Ignore = append(slices.Clip(opt.Ignore), headIgnored)
	case cfg.Tied:
		opt.Tied = map[string]string{"lm_head.weight": "embed_tokens.weight"}
	}
	// A tensor missing, unexpected or of another shape than the config's
	// is named before anything is allocated (the fused buffers are made
	// at the config's sizes).
	check := opt
	check.CheckOnly = true
	if err := ck.Load(m.Params(), check); err != nil {
		return nil, err
	}
	m.fuseBiases()
	kind, half := m.storedHalf(ck)
	if q8 && half {
		return m, m.loadQ8(ck, opt, kind)
	}
	if keep && half {
		opt.Half = m.halfBuffers(kind)
	} else {
		m.fuseWeights()
	}
	if err := ck.Load(m.Params(), opt); err != nil { // into the fused buffers (see fuseWeights)
		return nil, err
	}
	return m, nil
}

// The projections a Phi-3 checkpoint stores fused, as Phi3ForCausalLM
// names them, and the separate ones the layers are built of.
var (
	fusedQKV    = [...]string{"self_attn.qkv_proj.weight", "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight"}
	fusedGateUp = [...]string{"mlp.gate_up_proj.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight"}
	layerName   = regexp.MustCompile(`^(layers\.\d+\.)(.*)$`)
)

// splitFused reads a Phi-3 checkpoint's qkv_proj as the q, k and v
// projections (rows in that order, as Phi3Attention splits them) and its
// gate_up_proj as the gate and up projections (gate first, as Phi3MLP
// chunks it).
func splitFused(c Config, ck *hf.Checkpoint) error {
	d, kv := c.headDim(), c.kvHeads()
	for l := range c.Layers {
		p := fmt.Sprintf("layers.%d.", l)
		if err := ck.SplitRows(p+fusedQKV[0], []string{p + fusedQKV[1], p + fusedQKV[2], p + fusedQKV[3]}, []int{c.Heads * d, kv * d, kv * d}); err != nil {
			return err
		}
		if err := ck.SplitRows(p+fusedGateUp[0], []string{p + fusedGateUp[1], p + fusedGateUp[2]}, []int{c.Intermediate, c.Intermediate}); err != nil {
			return err
		}
	}
	return nil
}

// fusedName returns the name a Phi-3 checkpoint stores parameter name
// under: a separate projection's is its fused one's.
func fusedName(name string) string {
	m := layerName.FindStringSubmatch(name)
	if m == nil {
		return name
	}
	for _, f := range [][]string{fusedQKV[:], fusedGateUp[:]} {
		if slices.Contains(f[1:], m[2]) {
			return m[1] + f[0]
		}
	}
	return name
}

// Mixtral's names for a sparse layer's parameters (MixtralSparseMoeBlock:
// block_sparse_moe, its experts' w1, w3 and w2), and this package's.
var (
	mixtralNames = regexp.MustCompile(`^(layers\.\d+\.)block_sparse_moe\.(gate\.weight|experts\.\d+\.)(w1|w2|w3)?(\.weight)?$`)
	attnNames    = regexp.MustCompile(`^(layers\.\d+\.)mlp\.(gate\.weight|experts\.\d+\.)(gate_proj|down_proj|up_proj)?(\.weight)?$`)
	fromW        = map[string]string{"w1": "gate_proj", "w2": "down_proj", "w3": "up_proj", "": ""}
	toW          = map[string]string{"gate_proj": "w1", "down_proj": "w2", "up_proj": "w3", "": ""}
)

// fromMixtral returns the name of a Mixtral checkpoint's tensor n in this
// package (a MixtralSparseMoeBlock read as an MLP with Router and Experts).
func fromMixtral(n string) string {
	m := mixtralNames.FindStringSubmatch(n)
	if m == nil {
		return n
	}
	return m[1] + "mlp." + m[2] + fromW[m[3]] + m[4]
}

// mixtralName returns the name a Mixtral checkpoint stores this package's
// parameter name under (fromMixtral's inverse).
func mixtralName(n string) string {
	m := attnNames.FindStringSubmatch(n)
	if m == nil {
		return n
	}
	return m[1] + "block_sparse_moe." + m[2] + toW[m[3]] + m[4]
}

// Granite's names for a sparse layer's parameters (GraniteMoeMoE: the
// router's layer, the experts' matrices stacked in input_linear [E, 2·I, C],
// gate rows first, and output_linear [E, C, I]; GraniteMoeShared's
// shared_mlp likewise, of one MLP), this package's for what they stack,
// which splitExperts splits, and this package's for each matrix.
var (
	graniteNames     = regexp.MustCompile(`^(layers\.\d+\.)(block_sparse_moe\.router\.layer\.weight|block_sparse_moe\.input_linear\.weight|block_sparse_moe\.output_linear\.weight|shared_mlp\.input_linear\.weight|shared_mlp\.output_linear\.weight)$`)
	fromGraniteNames = map[string]string{
		"block_sparse_moe.router.layer.weight":  "mlp.gate.weight",
		"block_sparse_moe.input_linear.weight":  "mlp.experts.gate_up_proj",
		"block_sparse_moe.output_linear.weight": "mlp.experts.down_proj",
		"shared_mlp.input_linear.weight":        "mlp.shared_expert.gate_up_proj",
		"shared_mlp.output_linear.weight":       "mlp.shared_expert.down_proj.weight",
	}
	attnGraniteNames = regexp.MustCompile(`^(layers\.\d+\.)mlp\.(gate\.weight|experts\.\d+\.(gate_proj|up_proj)\.weight|experts\.\d+\.down_proj\.weight|shared_expert\.(gate_proj|up_proj)\.weight|shared_expert\.down_proj\.weight)$`)
)

// fromGranite returns the name of a GraniteMoe checkpoint's tensor n in
// this package, the stacked matrices under the names splitExperts splits.
func fromGranite(n string) string {
	if m := graniteNames.FindStringSubmatch(n); m != nil {
		return m[1] + fromGraniteNames[m[2]]
	}
	return n
}

// graniteName returns the name a GraniteMoe checkpoint stores this
// package's parameter name in (an expert's matrix: in a stack of them).
func graniteName(n string) string {
	m := attnGraniteNames.FindStringSubmatch(n)
	if m == nil {
		return n
	}
	switch rest := m[2]; {
	case rest == "gate.weight":
		return m[1] + "block_sparse_moe.router.layer.weight"
	case strings.HasPrefix(rest, "experts.") && strings.HasSuffix(rest, "down_proj.weight"):
		return m[1] + "block_sparse_moe.output_linear.weight"
	case strings.HasPrefix(rest, "experts."):
		return m[1] + "block_sparse_moe.input_linear.weight"
	case rest == "shared_expert.down_proj.weight":
		return m[1] + "shared_mlp.output_linear.weight"
	}
	return m[1] + "shared_mlp.input_linear.weight"
}

// GPT-OSS's names for a sparse layer's parameters (GptOssMLP): the router
// (with a bias) and the experts stacked, under experts. as gate_up_proj
// [E, C, 2·I] (input-major, gate and up columns alternating: the gate's
// are the even ones), gate_up_proj_bias [E, 2·I], down_proj [E, I, C] and
// down_proj_bias [E, C]; the released checkpoints store the two matrices
// in MXFP4, as _blocks and _scales output-major ([E, 2·I, C] and
// [E, C, I] once decoded).
var (
	gptOSSRouter  = regexp.MustCompile(`^(layers\.\d+\.mlp\.)router\.(weight|bias)$`)
	gptOSSRouted  = regexp.MustCompile(`^(layers\.\d+\.mlp\.)gate\.(weight|bias)$`)
	gptOSSExperts = regexp.MustCompile(`^(layers\.\d+\.mlp\.experts\.)\d+\.(gate_proj|up_proj|down_proj)\.(weight|bias)$`)
)

// fromGptOSS returns the name of a GPT-OSS checkpoint's tensor n in this
// package: the router's is the gate's (splitGptOSS splits the experts).
func fromGptOSS(n string) string { return gptOSSRouter.ReplaceAllString(n, "${1}gate.$2") }

// gptOSSName returns the name a GPT-OSS checkpoint stores this package's
// parameter name under: the router's, or the stack an expert's matrix or
// bias is part of.
func gptOSSName(n string) string {
	if m := gptOSSExperts.FindStringSubmatch(n); m != nil {
		stack := map[string]string{"gate_proj": "gate_up_proj", "up_proj": "gate_up_proj", "down_proj": "down_proj"}[m[2]]
		if m[3] == "bias" {
			stack += "_bias"
		}
		return m[1] + stack
	}
	return gptOSSRouted.ReplaceAllString(n, "${1}router.$2")
}

// splitGptOSS reads a GPT-OSS's stacked experts (see gptOSSName), decoding
// the MXFP4 ones, as each expert's gate, up and down projections and their
// biases.
func splitGptOSS(c Config, ck *hf.Checkpoint) error {
	E, C, I := c.Experts, c.Hidden, c.ExpertIntermediate
	for l := range c.Layers {
		p := fmt.Sprintf("layers.%d.mlp.experts.", l)
		_, packed := ck.Lookup(p + "gate_up_proj_blocks")
		_, packedDown := ck.Lookup(p + "down_proj_blocks")
		for _, n := range []string{"gate_up_proj", "down_proj"} {
			if err := ck.DequantizeMXFP4(p + n); err != nil {
				return err
			}
		}
		var gateUp, gateUpBias, down, downBias []string
		var gateUpShapes, gateUpBiasShapes, downShapes, downBiasShapes [][]int
		for e := range E {
			x := fmt.Sprintf("%s%d.", p, e)
			gateUp, gateUpShapes = append(gateUp, x+"gate_proj.weight", x+"up_proj.weight"), append(gateUpShapes, []int{I, C}, []int{I, C})
			gateUpBias, gateUpBiasShapes = append(gateUpBias, x+"gate_proj.bias", x+"up_proj.bias"), append(gateUpBiasShapes, []int{I}, []int{I})
			down, downShapes = append(down, x+"down_proj.weight"), append(downShapes, []int{C, I})
			downBias, downBiasShapes = append(downBias, x+"down_proj.bias"), append(downBiasShapes, []int{C})
		}
		// Part 2e+u is expert e's gate (u = 0) or up (u = 1) projection:
		// column 2r+u of the stack is their row r. Each function returns
		// where value i is in the stack and how many follow it there.
		gateUpAt, want := func(part, i int) (int, int) { return part/2*C*2*I + i%C*2*I + 2*(i/C) + part%2, 1 }, []int{E, C, 2 * I}
		if packed { // row 2r+u of the decoded stack
			gateUpAt, want = func(part, i int) (int, int) { return part/2*2*I*C + (2*(i/C)+part%2)*C + i%C, C - i%C }, []int{E, 2 * I, C}
		}
		downAt, wantDown := func(e, i int) (int, int) { return e*I*C + i%I*C + i/I, 1 }, []int{E, I, C}
		if packedDown { // already [C, I] per expert
			downAt, wantDown = func(e, i int) (int, int) { return e*C*I + i, C*I - i }, []int{E, C, I}
		}
		for _, d := range []struct {
			src    string
			want   []int
			parts  []string
			shapes [][]int
			at     func(part, i int) (int, int)
		}{
			{p + "gate_up_proj", want, gateUp, gateUpShapes, gateUpAt},
			{p + "gate_up_proj_bias", []int{E, 2 * I}, gateUpBias, gateUpBiasShapes, func(part, i int) (int, int) { return part/2*2*I + 2*i + part%2, 1 }},
			{p + "down_proj", wantDown, down, downShapes, downAt},
			{p + "down_proj_bias", []int{E, C}, downBias, downBiasShapes, func(e, i int) (int, int) { return e*C + i, C - i }},
		} {
			if err := ck.Derive(d.src, d.want, d.parts, d.shapes, d.at); err != nil {
				return err
			}
		}
	}
	return nil
}

// splitExperts reads a sparse layer's experts stored stacked, as
// transformers 5 may save any mixture of experts (experts.gate_up_proj
// [E, 2·I, C], gate rows first, and experts.down_proj [E, C, I]) and
// Granite always does (renamed so by fromGranite), as the experts'
// separate matrices; and a shared MLP's gate_up_proj as its gate and up.
func splitExperts(c Config, ck *hf.Checkpoint) error {
	for l := range c.Layers {
		if !c.sparse(l) {
			continue
		}
		p := fmt.Sprintf("layers.%d.mlp.", l)
		var gateUp, down []string
		var gateUpRows, downRows []int
		for e := range c.Experts {
			x := fmt.Sprintf("%sexperts.%d.", p, e)
			gateUp, gateUpRows = append(gateUp, x+"gate_proj.weight", x+"up_proj.weight"), append(gateUpRows, c.ExpertIntermediate, c.ExpertIntermediate)
			down, downRows = append(down, x+"down_proj.weight"), append(downRows, c.Hidden)
		}
		// A stack's shape, not only its rows, is the config's: a transposed
		// one could otherwise split into matrices of the right sizes.
		for _, s := range []struct {
			name  string
			shape []int
		}{{p + "experts.gate_up_proj", []int{c.Experts, 2 * c.ExpertIntermediate, c.Hidden}}, {p + "experts.down_proj", []int{c.Experts, c.Hidden, c.ExpertIntermediate}}} {
			if t, ok := ck.Lookup(s.name); ok && !tensor.EqualShape(t.Shape, s.shape) {
				return fmt.Errorf("llama: tensor %q in %s: shape %v, where the config's experts are %v", t.Name, t.File, t.Shape, s.shape)
			}
		}
		if err := ck.SplitRows(p+"experts.gate_up_proj", gateUp, gateUpRows); err != nil {
			return err
		}
		if err := ck.SplitRows(p+"experts.down_proj", down, downRows); err != nil {
			return err
		}
		s := p + "shared_expert."
		if err := ck.SplitRows(s+"gate_up_proj", []string{s + "gate_proj.weight", s + "up_proj.weight"}, []int{c.SharedIntermediate, c.SharedIntermediate}); err != nil {
			return err
		}
	}
	return nil
}

// graniteTensors replaces in ps a GraniteMoe's sparse layers' parameters
// by what its checkpoints store: the router's layer, the experts' matrices
// stacked, the shared MLP's gate and up as one.
func (m *Model) graniteTensors(ps []nn.Param) []nn.Param {
	ps = slices.DeleteFunc(ps, func(p nn.Param) bool { return graniteName(p.Name) != p.Name })
	for l, layer := range m.Layers {
		f := layer.MLP
		if f.Router == nil {
			continue
		}
		var gateUp, down []*autograd.Var
		for _, e := range f.Experts {
			gateUp, down = append(gateUp, e.gateUp), append(down, e.Down.Weight)
		}
		p := fmt.Sprintf("layers.%d.", l)
		ps = append(ps, nn.Param{Name: p + "block_sparse_moe.router.layer.weight", Var: f.Router.Weight},
			nn.Param{Name: p + "block_sparse_moe.input_linear.weight", Var: stack(gateUp)},
			nn.Param{Name: p + "block_sparse_moe.output_linear.weight", Var: stack(down)})
		if f.Shared != nil {
			ps = append(ps, nn.Param{Name: p + "shared_mlp.input_linear.weight", Var: f.Shared.gateUp},
				nn.Param{Name: p + "shared_mlp.output_linear.weight", Var: f.Shared.Down.Weight})
		}
	}
	return ps
}

// gptOSSTensors replaces in ps a GPT-OSS's sparse layers' parameters by
// what its checkpoints store (see gptOSSName), in float32: the router's
// under its name, each expert's matrices and biases in the stacks.
func (m *Model) gptOSSTensors(ps []nn.Param) []nn.Param {
	ps = slices.DeleteFunc(ps, func(p nn.Param) bool { return gptOSSName(p.Name) != p.Name })
	for l, layer := range m.Layers {
		f := layer.MLP
		s := m.gptOSSStacks(l, func(v *autograd.Var) []float32 { return v.Value.Data })
		p := fmt.Sprintf("layers.%d.mlp.", l)
		ps = append(ps, nn.Param{Name: p + "router.weight", Var: f.Router.Weight}, nn.Param{Name: p + "router.bias", Var: f.Router.Bias})
		for _, n := range gptOSSStackNames {
			ps = append(ps, nn.Param{Name: p + "experts." + n, Var: autograd.NewParam(s[n])})
		}
	}
	return ps
}

// gptOSSStackNames are the stacks of a GPT-OSS's experts (see gptOSSName).
var gptOSSStackNames = []string{"gate_up_proj", "gate_up_proj_bias", "down_proj", "down_proj_bias"}

// gptOSSStacks returns layer l's experts' matrices and biases stacked as a
// GPT-OSS checkpoint stores them, by name, of what of gets of each
// parameter (its values, its gradient).
func (m *Model) gptOSSStacks(l int, of func(*autograd.Var) []float32) map[string]*tensor.Tensor {
	C, I, E := m.Cfg.Hidden, m.Cfg.ExpertIntermediate, len(m.Layers[l].MLP.Experts)
	gateUp, gateUpBias := tensor.New(E, C, 2*I), tensor.New(E, 2*I)
	down, downBias := tensor.New(E, I, C), tensor.New(E, C)
	for e, x := range m.Layers[l].MLP.Experts {
		for u, w := range []*nn.Linear{x.Gate, x.Up} { // columns 2r+u
			wd, bd := of(w.Weight), of(w.Bias)
			for r := range I {
				for col := range C {
					gateUp.Data[e*C*2*I+col*2*I+2*r+u] = wd[r*C+col]
				}
				gateUpBias.Data[e*2*I+2*r+u] = bd[r]
			}
		}
		dd := of(x.Down.Weight)
		for r := range C {
			for col := range I {
				down.Data[e*I*C+col*C+r] = dd[r*I+col]
			}
		}
		copy(downBias.Data[e*C:], of(x.Down.Bias))
	}
	return map[string]*tensor.Tensor{"gate_up_proj": gateUp, "gate_up_proj_bias": gateUpBias, "down_proj": down, "down_proj_bias": downBias}
}

// stack returns the matrices vs, of one shape, as one [len(vs), rows,
// columns] tensor (a copy).
func stack(vs []*autograd.Var) *autograd.Var {
	shape := append([]int{len(vs)}, vs[0].Value.Shape...)
	all := tensor.New(shape...)
	at := 0
	for _, v := range vs {
		at += copy(all.Data[at:], v.Value.Data)
	}
	return autograd.NewParam(all)
}

// stored returns the tensor Load reads p from: its own, or for the
// embeddings of a tied model stored only as the output layer, that.
func (m *Model) stored(ck *hf.Checkpoint, p nn.Param) (*hf.Tensor, bool) {
	t, ok := ck.Lookup(p.Name)
	if !ok && m.Cfg.Tied && p.Var == m.Embed.Weight {
		t, ok = ck.Lookup("lm_head.weight")
	}
	return t, ok
}

// Tensors returns the weights under LlamaForCausalLM's names ("model."
// before the base model, lm_head.weight unless tied); a Phi-3's q, k and v
// projections as its qkv_proj, its gate and up as gate_up_proj; a
// GPT-OSS's experts stacked as its checkpoints hold them, in float32.
func (m *Model) Tensors() []safetensors.Tensor {
	m.Widen() // a model kept in 16 bits saves its float32 values (the same numbers)
	ps := m.Params()
	if m.Cfg.granite() && m.Cfg.moe() {
		ps = m.graniteTensors(ps)
	}
	if m.Cfg.gptOSS() {
		ps = m.gptOSSTensors(ps)
	}
	if m.Cfg.Type == "phi3" {
		ps = slices.DeleteFunc(ps, func(p nn.Param) bool { return fusedName(p.Name) != p.Name })
		for l, layer := range m.Layers {
			p := fmt.Sprintf("layers.%d.", l)
			ps = append(ps, nn.Param{Name: p + fusedQKV[0], Var: layer.qkv}, nn.Param{Name: p + fusedGateUp[0], Var: layer.MLP.gateUp})
		}
	}
	return hf.Tensors(ps, func(name string) string {
		if strings.HasPrefix(name, "lm_head.") {
			return name
		}
		if m.Cfg.Type == "mixtral" {
			name = mixtralName(name)
		}
		return "model." + name
	})
}

// Save writes the model to dir as a HuggingFace folder: config.json and
// model.safetensors (a Gemma 3 image-text model's as a text-only Gemma 3).
// A model LoadEncoder loaded, which has no output layer, does not save.
func Save(dir string, m *Model) error {
	if m.headless {
		return errors.New("llama: a model loaded without its output layer (LoadEncoder) does not save: Load it")
	}
	return hf.Save(dir, m.Cfg, m.Tensors())
}
