package llama

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/generate"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/model/bert"
	"github.com/attn-go/attn/safetensors"
	"github.com/attn-go/attn/tensor"
)

// tinyFolders are the folders of testdata/hf that
// tools/golden/torch_llama.py writes with their PyTorch twin's references.
var tinyFolders = []string{"llama-tiny", "llama-tiny-llama3", "qwen2-tiny", "qwen3-tiny", "gemma3-tiny", "gemma2-tiny", "smollm3-tiny", "mistral-tiny", "phi3-tiny", "phi3-tiny-longrope", "granite-tiny", "olmo2-tiny",
	"mixtral-tiny", "qwen3moe-tiny", "olmoe-tiny", "granitemoe-tiny", "granitemoeshared-tiny", "qwen2moe-tiny",
	"gptoss-tiny", "gptoss-tiny-mxfp4"}

func load(t *testing.T, name string) *Model {
	t.Helper()
	m, err := Load(filepath.Join(golden.Root(t), "testdata", "hf", name))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// greedy returns n tokens after prompt, each the most likely, with the
// cache (no end-of-text stop: the reference runs n steps).
func greedy(t *testing.T, m *Model, prompt []int, n int) []int {
	t.Helper()
	c := m.NewCache()
	logits, err := m.StepLast(c, prompt)
	var out []int
	for err == nil && len(out) < n {
		next := 0
		for i, v := range logits.Data {
			if v > logits.Data[next] {
				next = i
			}
		}
		out = append(out, next)
		logits, err = m.StepLast(c, []int{next})
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMatchesPyTorch compares each folder's logits (the whole sequence at
// once, and in two chunks through the cache) and a greedy generation with
// the model in PyTorch (tools/golden/torch_llama.py): Llama in F32 with
// grouped-query attention; Llama 3.1's rope scaling with a tied output
// layer, in BF16; Qwen2 with q/k/v biases, one key/value head and linear
// rope scaling, in F16; Qwen3; Gemma 3 with its local layers' window; Gemma 2
// with its softcaps, in BF16; SmolLM3 with its NoPE layers.
func TestMatchesPyTorch(t *testing.T) {
	for _, name := range tinyFolders {
		t.Run(name, func(t *testing.T) {
			m := load(t, name)
			f := golden.Open(t, "hf/"+name+"/reference.safetensors")
			ids := f.Ints("input.ids")
			want := f.Tensor("logits")
			b, tt, v := want.Shape[0], want.Shape[1], want.Shape[2]
			var whole, chunked []float32
			for i := range b {
				row := ids[i*tt : (i+1)*tt]
				got, err := m.Step(m.NewCache(), row)
				if err != nil {
					t.Fatal(err)
				}
				whole = append(whole, got.Data...)
				c := m.NewCache()
				a, err := m.Step(c, row[:5])
				if err != nil {
					t.Fatal(err)
				}
				chunked = append(chunked, a.Data...)
				rest, err := m.Step(c, row[5:])
				if err != nil {
					t.Fatal(err)
				}
				chunked = append(chunked, rest.Data...)
			}
			d1 := golden.CheckAbs(t, "logits", whole, want.Data, 1e-4)
			if m.Cfg.longRope() {
				// The first chunk alone is a text within the original
				// context, whose logits HF computes with the short factors;
				// the second passes it, and the whole text runs again.
				for i := range b {
					copy(chunked[i*tt*v:(i*tt+5)*v], want.Data[i*tt*v:(i*tt+5)*v])
				}
			}
			d2 := golden.CheckAbs(t, "logits through the cache", chunked, want.Data, 1e-4)
			t.Logf("%s: max abs error %.2e whole, %.2e in two chunks (V=%d)", name, d1, d2, v)
			if got, want := greedy(t, m, f.Ints("greedy.prompt"), 12), f.Ints("greedy.tokens"); !slices.Equal(got, want) {
				t.Errorf("greedy: %v; PyTorch %v", got, want)
			}
		})
	}
}

// TestConfigs checks what each folder's config.json gives and refuses.
func TestConfigs(t *testing.T) {
	l3 := load(t, "llama-tiny-llama3")
	if l3.LMHead != nil || !l3.Cfg.Tied || l3.Cfg.RopeScaling == nil || l3.Cfg.RopeScaling.Type != "llama3" {
		t.Errorf("llama-tiny-llama3: lm_head %v, %+v", l3.LMHead != nil, l3.Cfg)
	}
	q := load(t, "qwen2-tiny")
	if q.Cfg.Type != "qwen2" || !slices.Equal(q.Cfg.EOS, []int{2, 3}) || q.Layers[0].Attn.Q.Bias == nil || q.Layers[0].Attn.O.Bias != nil ||
		q.Cfg.RopeScaling == nil || q.Cfg.RopeScaling.Type != "linear" || q.Cfg.kvHeads() != 1 {
		t.Errorf("qwen2-tiny: %+v", q.Cfg)
	}
	for _, tc := range []struct{ json, want string }{
		{`{"model_type": "gemma"}`, `model_type "gemma" is not one of [llama qwen2`},
		{`{"model_type": "qwen2", "use_sliding_window": true}`, "sliding-window attention in some layers) is not supported"},
		{`{"model_type": "llama", "partial_rotary_factor": 0.5}`, "partial_rotary_factor 0.5 is not supported"},
		{`{"model_type": "llama", "eos_token_id": "x"}`, "is not an id or a list of ids"},
	} {
		var c Config
		if err := json.Unmarshal([]byte(tc.json), &c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", tc.json, err, tc.want)
		}
	}
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Act = "gelu" }, `hidden_act "gelu" is not silu`},
		{func(c *Config) { c.KVHeads = 3 }, "must be a multiple of num_key_value_heads 3"},
		{func(c *Config) { c.RopeScaling = &RopeScaling{Type: "yarn", Factor: 4} }, `rope_scaling type "yarn" is not supported`},
		{func(c *Config) { c.RopeScaling = &RopeScaling{Type: "llama3", Factor: 8} }, "llama3 rope_scaling needs"},
		{func(c *Config) { c.EOS = []int{100} }, "eos_token_id 100 is outside the vocabulary"},
	} {
		c := load(t, "llama-tiny").Cfg
		tc.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v; want %q", c, err, tc.want)
		}
	}
	// Defaults: a Llama config without eos_token_id ends texts at 2.
	var c Config
	if err := json.Unmarshal([]byte(`{"model_type": "llama", "rope_scaling": {"type": "linear", "factor": 2}}`), &c); err != nil || !slices.Equal(c.EOS, []int{2}) || c.RopeScaling.Type != "linear" || c.KVHeads != 0 || c.kvHeads() != 32 {
		t.Errorf("defaults: %+v, %v", c, err)
	}
}

// TestCacheLimits: the cache grows past its first allocation with the same
// logits, stops at max_position_embeddings, and bad ids are refused.
func TestCacheLimits(t *testing.T) {
	m := load(t, "llama-tiny")
	ids := make([]int, m.Cfg.MaxPositions)
	for i := range ids {
		ids[i] = 3 + i%90
	}
	whole, err := m.Step(m.NewCache(), ids)
	if err != nil {
		t.Fatal(err)
	}
	c := m.NewCache()
	var pieces []float32
	for i := 0; i < len(ids); i += 7 {
		l, err := m.Step(c, ids[i:min(i+7, len(ids))])
		if err != nil {
			t.Fatal(err)
		}
		pieces = append(pieces, l.Data...)
	}
	golden.CheckAbs(t, "logits in pieces of 7", pieces, whole.Data, 1e-5)
	if _, err := m.StepLast(c, []int{5}); err == nil || !strings.Contains(err.Error(), "65 positions exceed the model's window of 64") {
		t.Errorf("past the window: %v", err)
	}
	c.Reset()
	if _, err := m.StepLast(c, []int{5, 100}); err == nil || !strings.Contains(err.Error(), "token id 100 at index 1 is outside the vocabulary [0, 100)") {
		t.Errorf("a bad id: %v", err)
	}
	if _, err := load(t, "llama-tiny").StepLast(c, []int{5}); err == nil || !strings.Contains(err.Error(), "not a cache of this model") {
		t.Errorf("another model's cache: %v", err)
	}
}

// TestSave writes each folder back; it loads with the same logits, and
// config.json keeps what matters (tools/golden/torch_llama.py --check DIR
// NAME runs such a folder in PyTorch).
func TestSave(t *testing.T) {
	for _, name := range tinyFolders {
		m := load(t, name)
		dir := t.TempDir()
		if err := Save(dir, m); err != nil {
			t.Fatal(err)
		}
		back, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		ids := []int{5, 9, 14, 3}
		a, _ := m.Step(m.NewCache(), ids)
		b, err := back.Step(back.NewCache(), ids)
		if err != nil || !slices.Equal(a.Data, b.Data) || !slices.Equal(back.Cfg.EOS, m.Cfg.EOS) || (back.Cfg.RopeScaling == nil) != (m.Cfg.RopeScaling == nil) {
			t.Errorf("%s reloaded: %v, config %+v", name, err, back.Cfg)
		}
		raw, _ := os.ReadFile(filepath.Join(dir, "config.json"))
		if !strings.Contains(string(raw), `"model_type": "`+m.Cfg.Type+`"`) {
			t.Errorf("%s: config.json %s", name, raw)
		}
	}
}

// TestNew: a random model runs and is deterministic in its seed.
func TestNew(t *testing.T) {
	c := load(t, "qwen2-tiny").Cfg
	a, err := New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(c, 1)
	x, err := a.StepLast(a.NewCache(), []int{1, 2, 3})
	y, _ := b.StepLast(b.NewCache(), []int{1, 2, 3})
	if err != nil || !slices.Equal(x.Data, y.Data) || len(x.Data) != c.VocabSize {
		t.Errorf("New: %v", err)
	}
}

// TestStepBatch decodes one token for each of several sequences at their
// own lengths together: each row is, bit for bit, the same sequence stepped
// alone (the Batcher promises each caller Text's tokens); bad arguments
// are refused.
func TestStepBatch(t *testing.T) {
	for _, name := range []string{"llama-tiny", "qwen2-tiny", "qwen3-tiny", "gemma3-tiny", "gemma2-tiny", "smollm3-tiny", "mistral-tiny", "phi3-tiny", "phi3-tiny-longrope", "granite-tiny", "olmo2-tiny", "mixtral-tiny", "qwen3moe-tiny", "olmoe-tiny", "granitemoe-tiny", "granitemoeshared-tiny", "qwen2moe-tiny",
		"gptoss-tiny", "gptoss-tiny-mxfp4"} {
		m := load(t, name)
		bt := NewBatchBuffers()
		for _, b := range []int{1, 3, 8, 12, 16} {
			var alone, together []*Cache
			var ids []int
			for i := range b {
				prompt := make([]int, 1+i*5%13)
				for j := range prompt {
					prompt[j] = 3 + (i*7+j*11)%90
				}
				a, c := m.NewCache(), m.NewCache()
				if _, err := m.StepLast(a, prompt); err != nil {
					t.Fatal(err)
				}
				m.StepLast(c, prompt)
				alone, together, ids = append(alone, a), append(together, c), append(ids, 5+i)
			}
			for step := range 3 { // the rows' numbers carry into the next step
				got, err := m.StepBatch(bt, together, ids)
				if err != nil {
					t.Fatal(err)
				}
				v := m.Cfg.VocabSize
				for i, a := range alone {
					want, err := m.StepLast(a, ids[i:i+1])
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(got.Data[i*v:(i+1)*v], want.Data) { // up to 16 rows the products give each row the numbers it gets alone
						t.Errorf("%s, %d sequences, step %d, row %d: the logits differ from the sequence stepped alone", name, b, step, i)
					}
				}
			}
		}
	}
	m := load(t, "llama-tiny")
	c := m.NewCache()
	other := load(t, "llama-tiny").NewCache()
	for _, tc := range []struct {
		caches []*Cache
		ids    []int
		want   string
	}{
		{nil, nil, "one token id for each of its 0 caches"},
		{[]*Cache{c, c}, []int{1, 2}, "caches 0 and 1 are the same cache"},
		{[]*Cache{other}, []int{1}, "cache 0 is not a cache of this model"},
		{[]*Cache{c}, []int{100}, "sequence 0: token id 100 is outside the vocabulary"},
	} {
		if _, err := m.StepBatch(NewBatchBuffers(), tc.caches, tc.ids); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v; want %q", tc.ids, err, tc.want)
		}
	}
}

// TestTrainingMatchesPyTorch: the training pass (Forward on a recording
// tape) gives PyTorch's next-token loss and its gradients with respect to
// the embeddings, projections with and without biases, norms and the
// output layer (tied in llama-tiny-llama3), for each folder.
func TestTrainingMatchesPyTorch(t *testing.T) {
	for _, name := range tinyFolders {
		t.Run(name, func(t *testing.T) {
			m := load(t, name)
			f := golden.Open(t, "hf/"+name+"/reference.safetensors")
			ids, targets, b, tt := nextTokens(f)
			tp := autograd.NewTape(nil)
			loss, err := m.Loss(tp, ids, targets, b, tt)
			if err != nil {
				t.Fatal(err)
			}
			golden.CheckAbs(t, "loss", loss.Value.Data, f.Tensor("train.loss").Data, 1e-5)
			tp.Backward(loss)
			byName := map[string]*autograd.Var{}
			for _, p := range m.Params() {
				byName[p.Name] = p.Var
			}
			checked := 0
			for _, n := range f.Names() {
				stored, ok := strings.CutPrefix(n, "train.grad.")
				if !ok {
					continue
				}
				grad := storedGrad(m, byName, strings.TrimPrefix(stored, "model."))
				if grad == nil {
					t.Fatalf("no gradient for %s", stored)
				}
				d := golden.CheckRel(t, stored+" gradient", grad, f.Tensor(n).Data, 1e-3)
				t.Logf("%s gradient: relative error %.2e", stored, d)
				checked++
			}
			if checked < 8 {
				t.Errorf("only %d gradients compared", checked)
			}
		})
	}
}

// nextTokens returns a reference's training batch: input.ids [B, T+1]
// cut into the ids of each row's first T tokens and the targets of its
// last T, as the twin's train.loss is of them.
func nextTokens(f *golden.File) (ids, targets []int, b, t int) {
	all := f.Ints("input.ids")
	info, _ := f.Info("input.ids")
	b, t = info.Shape[0], info.Shape[1]-1
	for i := range b {
		row := all[i*(t+1) : (i+1)*(t+1)]
		ids, targets = append(ids, row[:t]...), append(targets, row[1:]...)
	}
	return ids, targets, b, t
}

// storedGrad returns the gradient of the tensor a checkpoint stores as
// name: a parameter's, or a GraniteMoe's experts' stacked as it stores
// their matrices (nil if some have none).
func storedGrad(m *Model, byName map[string]*autograd.Var, name string) []float32 {
	if m.Cfg.gptOSS() {
		name = fromGptOSS(name)
		if l, stack, ok := strings.Cut(name, ".mlp.experts."); ok {
			layer, _ := strconv.Atoi(strings.TrimPrefix(l, "layers."))
			missing := false
			s := m.gptOSSStacks(layer, func(v *autograd.Var) []float32 {
				if v.Grad == nil {
					missing = true
					return make([]float32, len(v.Value.Data))
				}
				return v.Grad.Data
			})
			if missing || s[stack] == nil {
				return nil
			}
			return s[stack].Data
		}
	}
	name = fromGranite(fromMixtral(name))
	var parts []string
	l, _, _ := strings.Cut(name, ".mlp.")
	switch {
	case strings.HasSuffix(name, ".mlp.experts.gate_up_proj"):
		for e := range m.Cfg.Experts {
			parts = append(parts, fmt.Sprintf("%s.mlp.experts.%d.gate_proj.weight", l, e), fmt.Sprintf("%s.mlp.experts.%d.up_proj.weight", l, e))
		}
	case strings.HasSuffix(name, ".mlp.experts.down_proj"):
		for e := range m.Cfg.Experts {
			parts = append(parts, fmt.Sprintf("%s.mlp.experts.%d.down_proj.weight", l, e))
		}
	case strings.HasSuffix(name, ".mlp.shared_expert.gate_up_proj"):
		p := strings.TrimSuffix(name, "gate_up_proj")
		parts = []string{p + "gate_proj.weight", p + "up_proj.weight"}
	default:
		parts = []string{name}
	}
	var g []float32
	for _, p := range parts {
		v := byName[p]
		if v == nil || v.Grad == nil {
			return nil
		}
		g = append(g, v.Grad.Data...)
	}
	return g
}

// TestForwardMatchesStep: the training pass and the cached inference pass
// give the same logits (to rounding).
func TestForwardMatchesStep(t *testing.T) {
	m := load(t, "qwen2-tiny")
	ids := []int{5, 17, 3, 99, 42, 8, 8, 61}
	logits, err := m.Forward(nil, ids, 1, len(ids))
	if err != nil {
		t.Fatal(err)
	}
	step, err := m.Step(m.NewCache(), ids)
	if err != nil {
		t.Fatal(err)
	}
	golden.CheckAbs(t, "Forward against Step", logits.Value.Data, step.Data, 1e-5)
	// An update of a parameter in place (as the optimizers make them)
	// reaches the fused products of the cached pass too.
	for i := range m.Layers[1].Attn.K.Weight.Value.Data {
		m.Layers[1].Attn.K.Weight.Value.Data[i] *= 1.5
	}
	m.Layers[0].MLP.Up.Weight.Value.Data[7] += 2
	logits2, _ := m.Forward(nil, ids, 1, len(ids))
	step2, _ := m.Step(m.NewCache(), ids)
	golden.CheckAbs(t, "Forward against Step after updates", logits2.Value.Data, step2.Data, 1e-5)
	if d, _ := golden.MaxAbs(logits2.Value.Data, logits.Value.Data); d < 1e-3 {
		t.Errorf("the updates changed the logits by %g only", d)
	}
	if _, err := m.Forward(nil, []int{1, 100}, 1, 2); err == nil || !strings.Contains(err.Error(), "token id 100 at index 1") {
		t.Errorf("a bad id: %v", err)
	}
	if _, err := m.Loss(nil, ids, ids[:3], 1, len(ids)); err == nil || !strings.Contains(err.Error(), "3 targets for 8 token ids") {
		t.Errorf("short targets: %v", err)
	}
}

// TestInvFreq: the rotary frequencies are HF's float32 ones (within an
// ulp), unscaled, linear and llama3.
func TestInvFreq(t *testing.T) {
	for _, name := range tinyFolders {
		m := load(t, name)
		want := golden.Open(t, "hf/"+name+"/reference.safetensors").Tensor("rope.inv_freq").Data
		if len(m.invFreq) != len(want) {
			t.Fatalf("%s: %d frequencies; want %d", name, len(m.invFreq), len(want))
		}
		tol := int64(0) // bit for bit; llama3's smoothing runs in float64 here
		if s := m.Cfg.RopeScaling; s != nil && s.Type == "llama3" {
			tol = 1
		}
		for i, f := range m.invFreq {
			if ulps := int64(math.Float32bits(f)) - int64(math.Float32bits(want[i])); ulps < -tol || ulps > tol {
				t.Errorf("%s: frequency %d is %v; HF's %v", name, i, f, want[i])
			}
		}
		if m.Cfg.longRope() {
			long := golden.Open(t, "hf/"+name+"/reference.safetensors").Tensor("rope.inv_freq.long").Data
			if !slices.Equal(m.invFreqLong, long) {
				t.Errorf("%s: long frequencies %v; HF's %v", name, m.invFreqLong, long)
			}
			if want := float32(math.Sqrt(1 + math.Log(8)/math.Log(8))); m.ropeScale != want {
				t.Errorf("%s: cos and sin scaled by %v; want √2", name, m.ropeScale)
			}
		}
	}
}

// TestLongCache: a cache that grows past its first allocation (256
// positions) and a truncated one give the logits of a pass over the whole
// sequence.
func TestLongCache(t *testing.T) {
	c := load(t, "qwen2-tiny").Cfg
	c.MaxPositions = 600
	m, err := New(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int, 530)
	for i := range ids {
		ids[i] = (i * 37) % c.VocabSize
	}
	whole, err := m.Step(m.NewCache(), ids)
	if err != nil {
		t.Fatal(err)
	}
	cache := m.NewCache()
	var pieces []float32
	for at := 0; at < len(ids); at += 100 {
		l, err := m.Step(cache, ids[at:min(at+100, len(ids))])
		if err != nil {
			t.Fatal(err)
		}
		pieces = append(pieces, l.Data...)
	}
	golden.CheckAbs(t, "logits through a growing cache", pieces, whole.Data, 1e-5)
	v := c.VocabSize
	cache.Truncate(300)
	again, err := m.Step(cache, ids[300:])
	if err != nil {
		t.Fatal(err)
	}
	golden.CheckAbs(t, "logits after Truncate(300)", again.Data, whole.Data[300*v:], 1e-5)
}

// TestConfigKeys: the config keys of other transformers versions and
// classes mean what they mean in HF.
func TestConfigKeys(t *testing.T) {
	parse := func(s string) Config {
		t.Helper()
		var c Config
		if err := json.Unmarshal([]byte(s), &c); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		return c
	}
	// transformers 5 keeps rope_theta and the scaling in rope_parameters.
	c := parse(`{"model_type": "llama", "rope_parameters": {"rope_theta": 500000.0, "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}}`)
	if c.RopeTheta != 500000 || c.RopeScaling == nil || c.RopeScaling.Type != "llama3" || c.RopeScaling.Original != 8192 {
		t.Errorf("rope_parameters: %+v, %+v", c, c.RopeScaling)
	}
	if c := parse(`{"model_type": "llama", "rope_parameters": {"rope_theta": 100000.0, "rope_type": "default"}}`); c.RopeTheta != 100000 || c.RopeScaling != nil {
		t.Errorf("rope_parameters without scaling: %+v", c)
	}
	if c := parse(`{"model_type": "llama", "rope_scaling": {"rope_type": "default"}}`); c.RopeScaling != nil {
		t.Errorf(`rope_type "default": %+v`, c.RopeScaling)
	}
	if c := parse(`{"model_type": "llama", "rope_scaling": {"type": "linear", "rope_type": "llama3", "factor": 2}}`); c.RopeScaling.Type != "linear" {
		t.Errorf(`"type" beside "rope_type": %+v`, c.RopeScaling)
	}
	var bad Config
	if err := json.Unmarshal([]byte(`{"model_type": "llama", "rope_parameters": {"partial_rotary_factor": 0.5}}`), &bad); err == nil || !strings.Contains(err.Error(), "partial_rotary_factor 0.5") {
		t.Errorf("partial rotary in rope_parameters: %v", err)
	}
	// Llama's attention_bias gives all four projections biases; Qwen2's
	// biases are its own whatever the keys say.
	lc := parse(`{"model_type": "llama", "attention_bias": true, "vocab_size": 10, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2}`)
	m, err := New(lc, 1)
	if err != nil || m.Layers[0].Attn.K.Bias == nil || m.Layers[0].Attn.O.Bias == nil {
		t.Errorf("llama attention_bias: %v", err)
	}
	qc := parse(`{"model_type": "qwen2", "attention_bias": true, "mlp_bias": true, "vocab_size": 10, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2}`)
	if m, err := New(qc, 1); err != nil || m.Layers[0].Attn.Q.Bias == nil || m.Layers[0].Attn.O.Bias != nil || m.Layers[0].MLP.Up.Bias != nil {
		t.Errorf("qwen2 with bias keys: %v", err)
	}
	// Sliding windows that no layer uses are accepted; layer_types says
	// which layers slide.
	if c := parse(`{"model_type": "qwen2", "use_sliding_window": true, "max_window_layers": 28, "num_hidden_layers": 24}`); c.Layers != 24 {
		t.Errorf("sliding window on no layer: %+v", c)
	}
	if err := json.Unmarshal([]byte(`{"model_type": "qwen3", "use_sliding_window": true, "max_window_layers": 28, "num_hidden_layers": 2, "layer_types": ["full_attention", "sliding_attention"]}`), &bad); err == nil {
		t.Error("layer_types with a sliding layer: accepted")
	}
	if c := parse(`{"model_type": "llama", "rope_parameters": {"type": "linear", "factor": 4}}`); c.RopeScaling == nil || c.RopeScaling.Type != "linear" {
		t.Errorf(`rope_parameters' "type": %+v`, c.RopeScaling)
	}
	// Qwen3's defaults: head_dim 128, no MLP biases whatever the keys say.
	if c := parse(`{"model_type": "qwen3", "mlp_bias": true}`); c.headDim() != 128 || c.MLPBias || !c.qkNorm() {
		t.Errorf("qwen3 defaults: %+v", c)
	}
	// Saved configs name head_dim and the key/value heads even when the
	// source left them to their defaults (HF takes a 0 for a value).
	raw, err := json.Marshal(lc)
	if err != nil || !strings.Contains(string(raw), `"head_dim":4`) || !strings.Contains(string(raw), `"num_key_value_heads":2`) {
		t.Errorf("marshalled: %s, %v", raw, err)
	}
}

// TestGenerationConfigEOS: generation_config.json's end-of-text tokens join
// config.json's.
func TestGenerationConfigEOS(t *testing.T) {
	dir := t.TempDir()
	if err := Save(dir, load(t, "llama-tiny")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(`{"bos_token_id": 1, "eos_token_id": [2, 7, 9]}`), 0o644)
	m, err := Load(dir)
	if err != nil || !slices.Equal(m.Cfg.EOS, []int{2, 7, 9}) || !m.EndsText(7) || m.EndsText(8) {
		t.Errorf("EOS %v, %v", m.Cfg.EOS, err)
	}
	os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(`{"eos_token_id": 100}`), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "eos_token_id 100 is outside the vocabulary") {
		t.Errorf("an id outside the vocabulary: %v", err)
	}
}

// TestMLPBias: a Llama with mlp_bias gets the same logits from the cached
// pass (fused gate|up, with its bias) as from the training pass.
func TestMLPBias(t *testing.T) {
	c := load(t, "llama-tiny").Cfg
	c.MLPBias = true
	m, err := New(c, 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range m.Layers {
		for _, b := range []*autograd.Var{l.MLP.Gate.Bias, l.MLP.Up.Bias, l.MLP.Down.Bias} {
			for i := range b.Value.Data {
				b.Value.Data[i] = 0.5 - float32(i%3)*0.3
			}
		}
	}
	ids := []int{3, 9, 27, 81, 43}
	f, err := m.Forward(nil, ids, 1, len(ids))
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Step(m.NewCache(), ids)
	if err != nil {
		t.Fatal(err)
	}
	golden.CheckAbs(t, "Step against Forward with MLP biases", s.Data, f.Value.Data, 1e-5)
	nd := m.NoDecay()
	if !nd[m.Norm.Weight] || !nd[m.Layers[0].MLP.Gate.Bias] || nd[m.Layers[0].Attn.Q.Weight] || nd[m.Embed.Weight] {
		t.Error("NoDecay: want the norms and biases, not the matrices")
	}
}

// TestMistral: a Mistral's config.json, whose sliding_window (4096 when
// missing, none when null) puts every layer in a window; contexts longer
// than it run (its logits against PyTorch's past the window are
// TestMatchesPyTorch's mistral-tiny), and it saves and loads back.
func TestMistral(t *testing.T) {
	m := load(t, "mistral-tiny")
	if m.Cfg.Type != "mistral" || m.Window() != 64 || m.Cfg.LocalWindow != 5 || m.Cfg.window(1) != 5 {
		t.Fatalf("mistral-tiny: %+v", m.Cfg)
	}
	for _, c := range []struct {
		json string
		win  int
	}{
		{`{"model_type": "mistral", "num_hidden_layers": 3}`, 4096},
		{`{"model_type": "mistral", "num_hidden_layers": 3, "sliding_window": null}`, 0},
		{`{"model_type": "mistral", "num_hidden_layers": 3, "sliding_window": 512, "attention_bias": true}`, 512},
	} {
		var cf Config
		if err := json.Unmarshal([]byte(c.json), &cf); err != nil || cf.window(2) != c.win || cf.AttentionBias || cf.MaxPositions != 4096*32 {
			t.Errorf("%s: window %d, %+v, %v; want %d", c.json, cf.window(2), cf, err, c.win)
		}
	}
	var bad Config
	if err := json.Unmarshal([]byte(`{"model_type": "mistral", "sliding_window": -3}`), &bad); err == nil || !strings.Contains(err.Error(), "sliding_window -3") {
		t.Errorf("a negative window: %v", err)
	}
	odd := m.Cfg
	odd.Local = nil // a window, but no layer in it
	if _, err := New(odd, 1); err == nil || !strings.Contains(err.Error(), "disagree") {
		t.Errorf("a window without sliding layers: %v", err)
	}
	for _, win := range []int{5, 0} {
		m.Cfg.LocalWindow, m.Cfg.Local = win, nil
		if win > 0 {
			m.Cfg.Local = []bool{true, true}
		}
		saved := t.TempDir()
		if err := Save(saved, m); err != nil {
			t.Fatal(err)
		}
		if back, err := Load(saved); err != nil || back.Cfg.LocalWindow != win || back.Cfg.window(0) != win || back.Cfg.Type != "mistral" {
			t.Errorf("window %d saved and loaded: %v, %+v", win, err, back.Cfg)
		}
	}
}

// TestGemma3 checks what the golden folder cannot: a long context through
// the local layers' window (the whole sequence, pieces of it, and tokens
// one at a time through the cache agree; the training pass too), Gemma3's
// config keys in their several forms, and the settings refused.
func TestGemma3(t *testing.T) {
	c := load(t, "gemma3-tiny").Cfg
	c.MaxPositions, c.LocalWindow = 300, 37
	m, err := New(c, 4)
	if err != nil {
		t.Fatal(err)
	}
	if n := m.Layers[1].PreFFNorm.Weight.Value.Data; n[0] != 0 || m.Embed.Scale != float32(math.Sqrt(32)) {
		t.Errorf("a new Gemma: norm offsets %v, embedding scale %v", n[:2], m.Embed.Scale)
	}
	ids := make([]int, 230)
	for i := range ids {
		ids[i] = (i*37 + i*i) % c.VocabSize
	}
	whole, err := m.Step(m.NewCache(), ids)
	if err != nil {
		t.Fatal(err)
	}
	v := c.VocabSize
	cache := m.NewCache()
	var pieces []float32
	for at := 0; at < 200; at += 50 {
		l, err := m.Step(cache, ids[at:at+50])
		if err != nil {
			t.Fatal(err)
		}
		pieces = append(pieces, l.Data...)
	}
	for _, id := range ids[200:] {
		l, err := m.StepLast(cache, []int{id})
		if err != nil {
			t.Fatal(err)
		}
		pieces = append(pieces, l.Data...)
	}
	golden.CheckAbs(t, "logits in pieces, then a token at a time", pieces, whole.Data, 1e-5)
	fw, err := m.Forward(nil, ids[:120], 1, 120)
	if err != nil {
		t.Fatal(err)
	}
	golden.CheckAbs(t, "Forward against Step", fw.Value.Data, whole.Data[:120*v], 1e-5)
	// The window matters: without it the last logits differ.
	wide := *m
	wide.Cfg.LocalWindow = 300
	all, _ := wide.Step(wide.NewCache(), ids)
	if d, _ := golden.MaxAbs(all.Data[229*v:], whole.Data[229*v:]); d < 1e-3 {
		t.Errorf("a window of 37 and one of 300 differ by %g only", d)
	}

	parse := func(s string) (Config, error) {
		var c Config
		err := json.Unmarshal([]byte(s), &c)
		return c, err
	}
	// Without layer_types, every sliding_window_pattern-th layer is global.
	g, err := parse(`{"model_type": "gemma3_text", "num_hidden_layers": 7, "sliding_window_pattern": 3, "sliding_window": 512}`)
	if err != nil || !slices.Equal(g.Local, []bool{true, true, false, true, true, false, true}) || g.LocalWindow != 512 ||
		g.Act != "gelu_pytorch_tanh" || !g.Tied || g.QueryPreAttnScalar != 256 || g.RopeLocalTheta != 10000 {
		t.Errorf("sliding_window_pattern 3: %v %+v", err, g)
	}
	// transformers 5 keeps the rotary settings per layer type.
	g, err = parse(`{"model_type": "gemma3_text", "num_hidden_layers": 2, "layer_types": ["sliding_attention", "full_attention"],
		"rope_parameters": {"full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
		"sliding_attention": {"rope_type": "default", "rope_theta": 20000.0}}}`)
	if err != nil || g.RopeTheta != 1e6 || g.RopeScaling == nil || g.RopeScaling.Factor != 8 || g.RopeLocalTheta != 20000 || !slices.Equal(g.Local, []bool{true, false}) {
		t.Errorf("rope_parameters per layer type: %v %+v", err, g)
	}
	for _, tc := range []struct{ json, want string }{
		{`{"model_type": "gemma3_text", "final_logit_softcapping": 30.0}`, "Gemma 3 has none"},
		{`{"model_type": "gemma3_text", "attn_logit_softcapping": 50.0}`, "Gemma 3 has none"},
		{`{"model_type": "gemma2", "use_bidirectional_attention": true}`, "use_bidirectional_attention true is not supported for gemma2"},
		{`{"model_type": "gemma3_text", "use_bidirectional_attention": true, "sliding_window": null}`, "use_bidirectional_attention needs a positive sliding_window (got null)"},
		{`{"model_type": "gemma3_text", "num_hidden_layers": 2, "layer_types": ["full_attention"]}`, "1 layer_types for 2 layers"},
		{`{"model_type": "gemma3_text", "num_hidden_layers": 1, "layer_types": ["chunked_attention"]}`, `layer_types[0] "chunked_attention"`},
		{`{"model_type": "gemma3_text", "sliding_window_pattern": 0}`, "sliding_window_pattern 0"},
	} {
		if _, err := parse(tc.json); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", tc.json, err, tc.want)
		}
	}
	bad := c
	bad.Act = "gelu"
	if _, err := New(bad, 1); err == nil || !strings.Contains(err.Error(), `hidden_activation "gelu" is not gelu_pytorch_tanh`) {
		t.Errorf("another activation: %v", err)
	}
}

// TestGemma3ImageText: the text model of a Gemma 3 image-text checkpoint
// (model_type gemma3, text_config, weights under language_model, a vision
// tower beside them) loads, in either naming of transformers, with the
// text-only model's logits; its vision tower is left alone.
func TestGemma3ImageText(t *testing.T) {
	src := filepath.Join(golden.Root(t), "testdata", "hf", "gemma3-tiny")
	var text map[string]any
	raw, err := os.ReadFile(filepath.Join(src, "config.json"))
	if err != nil || json.Unmarshal(raw, &text) != nil {
		t.Fatal(err)
	}
	ref := load(t, "gemma3-tiny")
	ids := []int{5, 9, 14, 3, 77, 21, 8}
	want, _ := ref.Step(ref.NewCache(), ids)
	for _, layout := range []struct{ model, head, side string }{
		{"language_model.model.", "language_model.lm_head.weight", ""}, // transformers 4.50
		{"model.language_model.", "lm_head.weight", "model."},          // 4.52 on
	} {
		dir := t.TempDir()
		cfg, _ := json.Marshal(map[string]any{"model_type": "gemma3", "architectures": []string{"Gemma3ForConditionalGeneration"},
			"text_config": text, "vision_config": map[string]any{"hidden_size": 8}, "mm_tokens_per_image": 4})
		if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
			t.Fatal(err)
		}
		var ts []safetensors.Tensor
		for _, tn := range ref.Tensors() {
			tn.Name = layout.model + strings.TrimPrefix(tn.Name, "model.")
			ts = append(ts, tn)
		}
		head := ref.Tensors()[0] // any tensor: the tied output layer stored under its own name
		for _, tn := range ref.Tensors() {
			if tn.Name == "model.embed_tokens.weight" {
				head = tn
			}
		}
		head.Name = layout.head
		side := layout.side
		vision := safetensors.F32(side+"vision_tower.vision_model.embeddings.patch_embedding.weight", []int{2}, []float32{1, 2})
		proj := safetensors.F32(side+"multi_modal_projector.mm_input_projection_weight", []int{1}, []float32{3})
		if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), append(ts, head, vision, proj), nil); err != nil {
			t.Fatal(err)
		}
		m, err := Load(dir)
		if err != nil {
			t.Fatalf("%s: %v", layout.model, err)
		}
		got, err := m.Step(m.NewCache(), ids)
		if err != nil || !slices.Equal(got.Data, want.Data) || !m.Cfg.ImageText || !slices.Equal(m.Cfg.Local, ref.Cfg.Local) {
			t.Errorf("%s: %v, logits equal %v, config %+v", layout.model, err, err == nil && slices.Equal(got.Data, want.Data), m.Cfg)
		}
	}
	var c Config
	if err := json.Unmarshal([]byte(`{"model_type": "gemma3", "text_config": {"final_logit_softcapping": 30}}`), &c); err == nil || !strings.Contains(err.Error(), "(in text_config)") {
		t.Errorf("a bad text_config: %v", err)
	}
}

// TestGemma3ImageTextSpecialTokens: an image-text config's own
// eos_token_id and bos_token_id (Gemma 3 4B-it's [1, 106]) win over its
// text_config's, as transformers' GenerationConfig.from_model_config has
// them; text_config's (or Gemma3TextConfig's defaults) count where the outer
// config has none or null.
func TestGemma3ImageTextSpecialTokens(t *testing.T) {
	for _, tc := range []struct {
		json string
		eos  []int
		bos  int
	}{
		{`{"model_type": "gemma3", "eos_token_id": [1, 106], "text_config": {"num_hidden_layers": 2}}`, []int{1, 106}, 2},
		{`{"model_type": "gemma3", "eos_token_id": 106, "bos_token_id": 5, "text_config": {"eos_token_id": 1}}`, []int{106}, 5},
		{`{"model_type": "gemma3", "eos_token_id": null, "text_config": {"eos_token_id": [1, 7]}}`, []int{1, 7}, 2},
		{`{"model_type": "gemma3", "text_config": {}}`, []int{1}, 2},
	} {
		var c Config
		if err := json.Unmarshal([]byte(tc.json), &c); err != nil || !slices.Equal(c.EOS, tc.eos) || c.BOS != tc.bos || !c.HasBOS {
			t.Errorf("%s: %v, eos %v, bos %v %v; want %v, %v", tc.json, err, c.EOS, c.BOS, c.HasBOS, tc.eos, tc.bos)
		}
	}
	var c Config
	if err := json.Unmarshal([]byte(`{"model_type": "gemma3", "eos_token_id": "x"}`), &c); err == nil {
		t.Error("a bad outer eos_token_id was taken")
	}
}

// TestGemma3IgnoresHiddenAct: Gemma3TextConfig has no hidden_act (its MLP
// reads hidden_activation only), so a config carrying one, as Gemma 1's did,
// still gates with gelu_pytorch_tanh unless hidden_activation says otherwise.
func TestGemma3IgnoresHiddenAct(t *testing.T) {
	for _, tc := range []struct{ json, act string }{
		{`{"model_type": "gemma3_text", "hidden_act": "gelu"}`, "gelu_pytorch_tanh"},
		{`{"model_type": "gemma3_text", "hidden_act": "silu", "hidden_activation": "gelu_pytorch_tanh"}`, "gelu_pytorch_tanh"},
	} {
		var c Config
		if err := json.Unmarshal([]byte(tc.json), &c); err != nil || c.Act != tc.act || c.Validate() != nil {
			t.Errorf("%s: %v, act %q; want %q", tc.json, err, c.Act, tc.act)
		}
	}
}

// TestGemma3PatternKey: without layer_types, Gemma3TextConfig builds the
// layers' pattern from sliding_window_pattern alone (default 6); the
// "_sliding_window_pattern" that transformers 4.53 and later save next to
// layer_types is not read back.
func TestGemma3PatternKey(t *testing.T) {
	var c Config
	err := json.Unmarshal([]byte(`{"model_type": "gemma3_text", "num_hidden_layers": 7, "_sliding_window_pattern": 3}`), &c)
	if want := []bool{true, true, true, true, true, false, true}; err != nil || !slices.Equal(c.Local, want) {
		t.Errorf("_sliding_window_pattern 3: %v, local layers %v; want %v", err, c.Local, want)
	}
}

// TestGemma2Config: Gemma2Config's defaults and keys, as transformers reads
// them: the even layers local without layer_types, softcaps null for none.
func TestGemma2Config(t *testing.T) {
	var c Config
	if err := json.Unmarshal([]byte(`{"model_type": "gemma2", "num_hidden_layers": 5}`), &c); err != nil ||
		!slices.Equal(c.Local, []bool{true, false, true, false, true}) || c.AttnSoftcap != 50 || c.FinalSoftcap != 30 ||
		c.LocalWindow != 4096 || c.MaxPositions != 8192 || c.VocabSize != 256000 || c.qkNorm() || !c.Gemma() {
		t.Errorf("Gemma2Config's defaults: %v %+v", err, c)
	}
	c = Config{}
	if err := json.Unmarshal([]byte(`{"model_type": "gemma2", "attn_logit_softcapping": null, "final_logit_softcapping": 15.0}`), &c); err != nil || c.AttnSoftcap != 0 || c.FinalSoftcap != 15 {
		t.Errorf("softcaps null and 15: %v %+v", err, c)
	}
	for _, tc := range []struct{ json, want string }{
		{`{"model_type": "gemma2", "final_logit_softcapping": -1}`, "final_logit_softcapping -1 is not a positive number"},
		{`{"model_type": "gemma2", "attn_logit_softcapping": "x"}`, `attn_logit_softcapping "x" is not a positive number`},
	} {
		var c Config
		if err := json.Unmarshal([]byte(tc.json), &c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", tc.json, err, tc.want)
		}
	}
	m := load(t, "gemma2-tiny")
	if m.invFreqLocal != nil || m.Layers[0].Attn.QNorm != nil || m.Cfg.AttnSoftcap != 2 {
		t.Errorf("gemma2-tiny: local frequencies %v, q_norm %v, %+v", m.invFreqLocal, m.Layers[0].Attn.QNorm, m.Cfg)
	}
}

// TestSmolLM3Config: SmolLM3Config's NoPE layers, given or every
// no_rope_layer_interval-th, and its sliding window: on them when
// use_sliding_window, on layer_types' sliding layers when it has them; a
// short no_rope_layers, a sliding layer without a window are refused.
func TestSmolLM3Config(t *testing.T) {
	var c Config
	if err := json.Unmarshal([]byte(`{"model_type": "smollm3", "num_hidden_layers": 8, "no_rope_layer_interval": 3}`), &c); err != nil ||
		!slices.Equal(c.NoRope, []bool{false, false, true, false, false, true, false, false}) || c.Local != nil || !c.Tied || c.RopeTheta != 2e6 {
		t.Errorf("no_rope_layer_interval 3: %v %+v", err, c)
	}
	c = Config{}
	if err := json.Unmarshal([]byte(`{"model_type": "smollm3", "num_hidden_layers": 4, "no_rope_layers": [1, 1, 0, 1, 1], "use_sliding_window": true, "sliding_window": 64}`), &c); err != nil ||
		!slices.Equal(c.NoRope, []bool{false, false, true, false}) || !slices.Equal(c.Local, []bool{false, false, true, false}) || c.window(2) != 64 || c.window(1) != 0 {
		t.Errorf("a window on the NoPE layers: %v %+v", err, c)
	}
	if err := json.Unmarshal([]byte(`{"model_type": "smollm3", "num_hidden_layers": 4, "no_rope_layers": [1, 0]}`), &c); err == nil || !strings.Contains(err.Error(), "2 no_rope_layers for 4 layers") {
		t.Errorf("short no_rope_layers: %v", err)
	}
	// layer_types alone decides which layers slide, as transformers' masks
	// do (SmolLM3Model builds the sliding-window mask for the layers it
	// marks whatever use_sliding_window says), and a sliding layer needs a
	// sliding_window.
	c = Config{}
	if err := json.Unmarshal([]byte(`{"model_type": "smollm3", "num_hidden_layers": 4, "use_sliding_window": false, "sliding_window": 8,
		"layer_types": ["full_attention", "full_attention", "full_attention", "sliding_attention"]}`), &c); err != nil ||
		!slices.Equal(c.Local, []bool{false, false, false, true}) || c.window(3) != 8 || c.window(0) != 0 {
		t.Errorf("layer_types' sliding layer without use_sliding_window: %v %+v", err, c)
	}
	c = Config{}
	if err := json.Unmarshal([]byte(`{"model_type": "smollm3", "num_hidden_layers": 4, "use_sliding_window": true, "sliding_window": 64,
		"layer_types": ["full_attention", "full_attention", "full_attention", "full_attention"]}`), &c); err != nil || slices.Contains(c.Local, true) || c.window(3) != 0 {
		t.Errorf("use_sliding_window with no sliding layer_types: %v %+v", err, c)
	}
	for _, tc := range []struct{ json, want string }{
		{`{"model_type": "smollm3", "num_hidden_layers": 2, "use_sliding_window": true, "sliding_window": null, "layer_types": ["full_attention", "sliding_attention"]}`,
			"sliding_attention layers need a positive sliding_window (got null)"},
		{`{"model_type": "smollm3", "num_hidden_layers": 2, "layer_types": ["full_attention", "sliding_attention"]}`, "need a positive sliding_window (got none)"},
		{`{"model_type": "smollm3", "num_hidden_layers": 4, "use_sliding_window": true, "sliding_window": 0}`, "need a positive sliding_window (got 0)"},
		{`{"model_type": "smollm3", "num_hidden_layers": 2, "layer_types": ["full_attention", "chunked_attention"]}`, `layer_types[1] "chunked_attention" is not`},
		{`{"model_type": "smollm3", "num_hidden_layers": 2, "layer_types": ["full_attention"]}`, "1 layer_types for 2 layers"},
	} {
		var c Config
		if err := json.Unmarshal([]byte(tc.json), &c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", tc.json, err, tc.want)
		}
	}
	if err := (Config{Type: "llama", VocabSize: 8, Hidden: 8, Intermediate: 8, Layers: 2, Heads: 2, Act: "silu", MaxPositions: 8, Eps: 1e-6, RopeTheta: 1e4,
		Local: []bool{true, false}}).Validate(); err == nil || !strings.Contains(err.Error(), "sliding_window 0") {
		t.Errorf("a local layer without a window: %v", err)
	}
	m := load(t, "smollm3-tiny")
	if !slices.Equal(m.Cfg.NoRope, []bool{false, true, false, true}) {
		t.Errorf("smollm3-tiny: %+v", m.Cfg)
	}
}

// TestHidden: the last hidden states, after the final norm, are PyTorch's
// for every family (what an embedding model pools).
func TestHidden(t *testing.T) {
	for _, name := range tinyFolders {
		m := load(t, name)
		f := golden.Open(t, "hf/"+name+"/reference.safetensors")
		ids, want := f.Ints("input.ids"), f.Tensor("hidden")
		b, tt := want.Shape[0], want.Shape[1]
		var got []float32
		for i := range b {
			h, err := m.Hidden(ids[i*tt : (i+1)*tt])
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(h.Shape, []int{tt, m.Cfg.Hidden}) {
				t.Fatalf("%s: hidden %v", name, h.Shape)
			}
			got = append(got, h.Data...)
		}
		golden.CheckAbs(t, name+" hidden states", got, want.Data, 1e-4)
	}
	if _, err := load(t, "qwen3-tiny").Hidden(nil); err == nil {
		t.Error("Hidden of no tokens: no error")
	}
}

// TestLoadEncoder: an embedding model saved as its base model (no
// lm_head.weight beside an untied config) loads for Hidden, with the
// hidden states of the whole model; it refuses logits and saving, and a
// stored output layer is simply not read.
func TestLoadEncoder(t *testing.T) {
	src := filepath.Join(golden.Root(t), "testdata", "hf", "llama-tiny")
	full := load(t, "llama-tiny")
	ids := []int{5, 9, 14, 3, 77}
	want, err := full.Hidden(ids)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	raw, _ := os.ReadFile(filepath.Join(src, "config.json"))
	os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644)
	var ts []safetensors.Tensor
	for _, tn := range full.Tensors() {
		if tn.Name != "lm_head.weight" {
			ts = append(ts, tn)
		}
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "lm_head.weight") {
		t.Errorf("Load without lm_head.weight: %v; want it named", err)
	}
	for _, d := range []string{dir, src} {
		m, err := LoadEncoder(d)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.Hidden(ids)
		if err != nil || !slices.Equal(got.Data, want.Data) {
			t.Errorf("%s: Hidden %v, equal %v", d, err, err == nil && slices.Equal(got.Data, want.Data))
		}
		if _, err := m.StepLast(m.NewCache(), ids); err == nil || !strings.Contains(err.Error(), "without its output layer") {
			t.Errorf("StepLast of a headless model: %v", err)
		}
		if _, err := m.Forward(nil, ids, 1, len(ids)); err == nil {
			t.Error("Forward of a headless model: no error")
		}
		if err := Save(t.TempDir(), m); err == nil {
			t.Error("Save of a headless model: no error")
		}
	}
}

// TestLayerKindsSave: a config built in Go saves the sliding and NoPE
// layers its model computes with, and no others: a SmolLM3 with none saves
// none (a missing no_rope_layers would read back as every fourth layer,
// use_sliding_window as the NoPE layers sliding), and the types whose
// configs have no place for them refuse them rather than saving a model
// that reads back otherwise.
func TestLayerKindsSave(t *testing.T) {
	smol := load(t, "smollm3-tiny").Cfg
	for _, noPE := range [][]bool{nil, smol.NoRope} {
		c := smol
		c.NoRope, c.Local, c.LocalWindow = noPE, nil, 6
		m, err := New(c, 1)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := Save(dir, m); err != nil {
			t.Fatal(err)
		}
		back, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		for l := range c.Layers {
			if back.Cfg.noRope(l) != c.noRope(l) || back.Cfg.window(l) != 0 {
				t.Errorf("a SmolLM3 with NoPE layers %v and no sliding ones saved and loaded: NoPE %v, sliding %v", noPE, back.Cfg.NoRope, back.Cfg.Local)
				break
			}
		}
	}
	for _, typ := range []string{"llama", "qwen2", "qwen3"} {
		c := load(t, "llama-tiny").Cfg
		c.Type = typ
		sliding, noPE := c, c
		sliding.Local, sliding.LocalWindow = []bool{true, false}, 3
		noPE.NoRope = []bool{false, true}
		for what, c := range map[string]Config{"sliding": sliding, "NoPE": noPE} {
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), typ) {
				t.Errorf("%s layers in a %s config: %v; want an error naming the type", what, typ, err)
			}
		}
	}
}

// TestWindowCache: a sliding-window layer's cache drops the positions its
// window no longer reaches (keeping windowSlack more), with the logits of
// the whole sequence run at once (in pieces, a token at a time, and
// batched); a rewind within the slack goes on from the cache, a longer one
// empties it.
func TestWindowCache(t *testing.T) {
	m := newWindowModel(t, "gemma3-tiny", 8, 2000, 5)
	c := m.Cfg
	ids := make([]int, 900)
	for i := range ids {
		ids[i] = (i*37 + i*i/7) % c.VocabSize
	}
	whole, err := m.Step(m.NewCache(), ids)
	if err != nil {
		t.Fatal(err)
	}
	v := c.VocabSize
	cache, other := m.NewCache(), m.NewCache()
	var pieces []float32
	for at := 0; at < 600; at += 200 {
		l, err := m.Step(cache, ids[at:at+200])
		if err != nil {
			t.Fatal(err)
		}
		pieces = append(pieces, l.Data...)
		m.Step(other, ids[at:at+200]) // the same way, for StepBatch's bit-for-bit comparison
	}
	bt := NewBatchBuffers()
	for i, id := range ids[600:] {
		l, err := m.StepLast(cache, []int{id})
		if err != nil {
			t.Fatal(err)
		}
		pieces = append(pieces, l.Data...)
		both, err := m.StepBatch(bt, []*Cache{other, m.NewCache()}, []int{id, 1})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(both.Data[:v], l.Data) {
			t.Fatalf("position %d: StepBatch differs from StepLast", 600+i)
		}
	}
	golden.CheckAbs(t, "logits through a trimmed cache", pieces, whole.Data, 1e-5)
	for l := range m.Layers {
		local := c.window(l) > 0
		if local && (cache.start[l] == 0 || cache.size[l] > 1024) || !local && cache.start[l] != 0 {
			t.Errorf("layer %d (local %v): holds positions from %d, %d allocated", l, local, cache.start[l], cache.size[l])
		}
	}
	// A rewind within the slack goes on from the cache, with the numbers.
	if got := cache.Truncate(880); got != 880 {
		t.Fatalf("Truncate(880) kept %d", got)
	}
	again, err := m.Step(cache, ids[880:])
	if err != nil {
		t.Fatal(err)
	}
	golden.CheckAbs(t, "logits after a short rewind", again.Data, whole.Data[880*v:], 1e-5)
	// A rewind past what the windows hold empties the cache.
	if got := cache.Truncate(100); got != 0 || cache.Len() != 0 {
		t.Fatalf("Truncate(100) kept %d, holds %d", got, cache.Len())
	}
	fresh, err := m.Step(cache, ids[:50])
	if err != nil {
		t.Fatal(err)
	}
	golden.CheckAbs(t, "logits after a reset", fresh.Data, whole.Data[:50*v], 1e-5)
}

// TestWindowCacheSession: a conversation whose next prompt shares with the
// last only what a trimmed window no longer holds is run again from the
// start (generate.Session takes what Truncate keeps), with the reply a
// fresh session gives; one that shares the recent part goes on from the
// cache.
func TestWindowCacheSession(t *testing.T) {
	m := newWindowModel(t, "gemma3-tiny", 8, 2000, 6)
	first := make([]int, 700)
	for i := range first {
		first[i] = 3 + (i*29+i*i/5)%90
	}
	greedy := &generate.Sampler{}
	s := generate.NewSession(m)
	if _, err := s.Generate(first, 5, greedy, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		shared     int
		wantReused bool
	}{{690, true}, {100, false}} {
		next := append(slices.Clone(first[:tc.shared]), 7, 8, 9)
		got, err := s.Generate(next, 5, greedy, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := generate.NewSession(m).Generate(next, 5, greedy, nil)
		if !slices.Equal(got, want) || (s.Reused() > 0) != tc.wantReused {
			t.Errorf("sharing %d: %v (reused %d); a fresh session %v", tc.shared, got, s.Reused(), want)
		}
	}
}

// TestStepPieces: a text longer than stepChunk runs through the blocks in
// pieces, with the logits (every position's and the last's) and hidden
// states of the text in one piece, after a prefix already cached too; a
// bad id anywhere is refused before any piece runs.
func TestStepPieces(t *testing.T) {
	defer func(n int) { stepChunk = n }(stepChunk)
	for _, name := range []string{"llama-tiny", "gemma3-tiny", "phi3-tiny-longrope"} {
		stepChunk = 512 // the text in one piece
		m := load(t, name)
		ids := windowIDs(m.Cfg.MaxPositions-3, m.Cfg.VocabSize)
		whole, err := m.Step(m.NewCache(), ids)
		if err != nil {
			t.Fatal(err)
		}
		hidden, err := m.Hidden(ids)
		if err != nil {
			t.Fatal(err)
		}
		stepChunk = 9
		got, err := m.Step(m.NewCache(), ids)
		if err != nil {
			t.Fatal(err)
		}
		golden.CheckAbs(t, name+" Step in pieces", got.Data, whole.Data, 1e-4)
		h, err := m.Hidden(ids)
		if err != nil {
			t.Fatal(err)
		}
		golden.CheckAbs(t, name+" Hidden in pieces", h.Data, hidden.Data, 1e-5)
		v := m.Cfg.VocabSize
		c := m.NewCache()
		prefix := 4 // past a LongRoPE's original context (8): the text runs again
		if _, err := m.StepLast(c, ids[:prefix]); err != nil {
			t.Fatal(err)
		}
		last, err := m.StepLast(c, ids[prefix:])
		if err != nil {
			t.Fatal(err)
		}
		if c.Len() != len(ids) {
			t.Errorf("%s: %d positions cached after StepLast in pieces, want %d", name, c.Len(), len(ids))
		}
		golden.CheckAbs(t, name+" StepLast in pieces", last.Data, whole.Data[len(whole.Data)-v:], 1e-4)
		bad := slices.Clone(ids)
		bad[len(bad)-1] = v
		c.Reset()
		if _, err := m.Step(c, bad); err == nil || !strings.Contains(err.Error(), "outside the vocabulary") {
			t.Errorf("%s: a bad id in the last piece: %v", name, err)
		}
		if c.Len() != 0 {
			t.Errorf("%s: a refused text left %d positions in the cache", name, c.Len())
		}
	}
}

// TestPhi3Checkpoints: a Phi-3 folder's fused projections are named in its
// errors (a missing qkv_proj, a gate_up_proj of the wrong rows); a
// config's LongRoPE factors must be one per rotated pair, and partial
// rotation is a Phi-3's only.
func TestPhi3Checkpoints(t *testing.T) {
	src := filepath.Join(golden.Root(t), "testdata", "hf", "phi3-tiny")
	m := load(t, "phi3-tiny")
	raw, _ := os.ReadFile(filepath.Join(src, "config.json"))
	for _, tc := range []struct {
		name string
		edit func([]safetensors.Tensor) []safetensors.Tensor
		want string
	}{
		{"missing qkv_proj", func(ts []safetensors.Tensor) []safetensors.Tensor {
			return slices.DeleteFunc(ts, func(t safetensors.Tensor) bool { return t.Name == "model.layers.1.self_attn.qkv_proj.weight" })
		}, `missing tensor "layers.1.self_attn.qkv_proj.weight"`},
		{"short gate_up_proj", func(ts []safetensors.Tensor) []safetensors.Tensor {
			for i, t := range ts {
				if t.Name == "model.layers.0.mlp.gate_up_proj.weight" {
					ts[i] = safetensors.F32(t.Name, []int{79, 32}, make([]float32, 79*32))
				}
			}
			return ts
		}, `tensor "model.layers.0.mlp.gate_up_proj.weight" in model.safetensors: shape [79 32], where the config's layers.0.mlp.gate_proj.weight, layers.0.mlp.up_proj.weight need 80 rows`},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644)
		if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), tc.edit(m.Tensors()), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", tc.name, err, tc.want)
		}
	}
	for _, tc := range []struct{ config, want string }{
		{`{"model_type": "phi3", "hidden_size": 32, "num_attention_heads": 4, "rope_scaling": {"type": "longrope", "short_factor": [1, 1], "long_factor": [2, 2, 2, 2]}}`,
			"needs 4 short_factor and long_factor values, one per rotated pair (got 2 and 4)"},
		{`{"model_type": "phi3", "hidden_size": 32, "num_attention_heads": 4, "partial_rotary_factor": 0.1}`, "turns 0 values of a head of 8"},
		{`{"model_type": "llama", "rope_scaling": {"type": "longrope", "short_factor": [1], "long_factor": [1]}}`, "longrope is not supported for llama"},
	} {
		var c Config
		err := json.Unmarshal([]byte(tc.config), &c)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", tc.config, err, tc.want)
		}
	}
	// A LongRoPE cache past its original context (8) keeps nothing when cut
	// back within it: its keys were turned by the long factors.
	lr := load(t, "phi3-tiny-longrope")
	c := lr.NewCache()
	if _, err := lr.Step(c, windowIDs(12, lr.Cfg.VocabSize)); err != nil {
		t.Fatal(err)
	}
	if c.Keeps(10) != 10 || c.Keeps(8) != 0 || c.Truncate(5) != 0 || c.Len() != 0 {
		t.Errorf("Keeps(10) %d, Keeps(8) %d, then %d positions held after Truncate(5)", c.Keeps(10), c.Keeps(8), c.Len())
	}
	if _, err := lr.Step(nil, []int{5}); err == nil {
		t.Error("Step with a nil cache: no error")
	}
	var su Config
	if err := json.Unmarshal([]byte(`{"model_type": "phi3", "hidden_size": 32, "num_attention_heads": 4, "sliding_window": 262144, "rope_scaling": {"type": "su", "short_factor": [1, 1, 1, 1], "long_factor": [2, 2, 2, 2]}}`), &su); err != nil || su.Validate() != nil {
		t.Fatal(err, su.Validate())
	}
	if !su.longRope() || su.LocalWindow != 0 || su.Local != nil || su.OriginalMaxPositions != 4096 {
		t.Errorf("su: %+v; want longrope, no window, original 4096", su)
	}
}

// TestEmbeddingGemma: an EmbeddingGemma-shaped sentence-transformers
// folder (Gemma 3's layers attending both ways, the local ones within
// sliding_window/2 + 1 on either side) gives PyTorch's hidden states, and
// with its Pooling, Dense and Normalize modules its embeddings; it refuses
// to generate or train, also in pieces.
func TestEmbeddingGemma(t *testing.T) {
	dir := filepath.Join(golden.Root(t), "testdata", "hf", "embeddinggemma-tiny")
	m, err := LoadEncoder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Cfg.Bidirectional || m.Cfg.LocalWindow != 4 {
		t.Fatalf("config: bidirectional %v, window %d; want true, 6/2+1", m.Cfg.Bidirectional, m.Cfg.LocalWindow)
	}
	st, err := bert.LoadSentence(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Dense) != 2 || st.Dense[0].Bias != nil || st.Dense[0].Tanh || st.Dense[1].Bias == nil || !st.Dense[1].Tanh || !st.Normalize {
		t.Fatalf("modules: %+v", st)
	}
	f := golden.Open(t, "hf/embeddinggemma-tiny/reference.safetensors")
	ids, want, wantE := f.Ints("input.ids"), f.Tensor("hidden"), f.Tensor("embedding")
	tt := want.Shape[1]
	defer func(n int) { stepChunk = n }(stepChunk)
	stepChunk = 5 // an encoder runs in one piece whatever the chunk
	var hidden, embeddings []float32
	for i := range want.Shape[0] {
		h, err := m.Hidden(ids[i*tt : (i+1)*tt])
		if err != nil {
			t.Fatal(err)
		}
		hidden = append(hidden, h.Data...)
		v, err := bert.EmbedConcat(tensor.FromSlice(h.Data, 1, tt, m.Cfg.Hidden), nil, st.Poolings, false)
		if err != nil {
			t.Fatal(err)
		}
		embeddings = append(embeddings, bert.Finish(v[0], st.Dense, st.Normalize)...)
	}
	golden.CheckAbs(t, "hidden states", hidden, want.Data, 1e-4)
	golden.CheckAbs(t, "embeddings", embeddings, wantE.Data, 1e-5)
	full, err := Load(dir) // tied: it loads, but has no next token to give
	if err != nil {
		t.Fatal(err)
	}
	if _, err := full.StepLast(full.NewCache(), ids[:3]); err == nil || !strings.Contains(err.Error(), "attends both ways") {
		t.Errorf("StepLast: %v", err)
	}
	if _, err := full.Forward(nil, ids[:3], 1, 3); err == nil || !strings.Contains(err.Error(), "attends both ways") {
		t.Errorf("Forward: %v", err)
	}
}

// TestGraniteOlmo2Configs: Olmo2Config's and GraniteConfig's defaults for
// missing keys; Granite's multipliers must be positive, and are ignored,
// as HF ignores them, in another family's config.json.
func TestGraniteOlmo2Configs(t *testing.T) {
	var o Config
	if err := json.Unmarshal([]byte(`{"model_type": "olmo2"}`), &o); err != nil {
		t.Fatal(err)
	}
	if o.VocabSize != 50304 || o.Eps != 1e-5 || !slices.Equal(o.EOS, []int{50279}) || o.HasBOS || o.Tied || o.Validate() != nil {
		t.Errorf("olmo2 defaults: %+v, %v", o, o.Validate())
	}
	var g Config
	if err := json.Unmarshal([]byte(`{"model_type": "granite", "residual_multiplier": 0.22}`), &g); err != nil {
		t.Fatal(err)
	}
	if g.EmbeddingMultiplier != 1 || g.AttentionMultiplier != 1 || g.ResidualMultiplier != 0.22 || g.LogitsScaling != 1 || g.Validate() != nil {
		t.Errorf("granite defaults: %+v, %v", g, g.Validate())
	}
	g.LogitsScaling = 0
	if err := g.Validate(); err == nil || !strings.Contains(err.Error(), "Granite's multipliers must be positive") {
		t.Errorf("logits_scaling 0: %v", err)
	}
	var l Config
	if err := json.Unmarshal([]byte(`{"model_type": "llama", "logits_scaling": 8.0}`), &l); err != nil || l.LogitsScaling != 0 || l.Validate() != nil {
		t.Errorf("a llama config with logits_scaling: %v, %v, %v", err, l.LogitsScaling, l.Validate())
	}
	l.ResidualMultiplier = 0.5
	if err := l.Validate(); err == nil || !strings.Contains(err.Error(), "are Granite's, not llama's") {
		t.Errorf("a llama Config with a residual multiplier: %v", err)
	}
}
