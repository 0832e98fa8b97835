package llama

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/safetensors"
)

// TestMoEConfigs: MixtralConfig's, Qwen3MoeConfig's and OlmoeConfig's
// defaults and keys, which layers are sparse, what is refused, and a
// config written by MarshalJSON reading back as itself.
func TestMoEConfigs(t *testing.T) {
	read := func(s string) (Config, error) {
		var c Config
		err := json.Unmarshal([]byte(s), &c)
		return c, err
	}
	mx, err := read(`{"model_type": "mixtral", "norm_topk_prob": false}`)
	if err != nil {
		t.Fatal(err)
	}
	// Mixtral always renormalises.
	if mx.Experts != 8 || mx.ExpertsPerToken != 2 || !mx.NormTopK || mx.ExpertIntermediate != 14336 || mx.KVHeads != 8 || mx.LocalWindow != 0 || mx.Validate() != nil {
		t.Errorf("mixtral defaults: %+v, %v", mx, mx.Validate())
	}
	for l := range mx.Layers {
		if !mx.sparse(l) {
			t.Errorf("mixtral layer %d is not sparse", l)
		}
	}
	q, err := read(`{"model_type": "qwen3_moe", "num_hidden_layers": 6, "decoder_sparse_step": 2, "mlp_only_layers": [3], "norm_topk_prob": true, "num_experts": 16, "num_experts_per_tok": 4, "moe_intermediate_size": 96}`)
	if err != nil {
		t.Fatal(err)
	}
	var sparse []int
	for l := range q.Layers {
		if q.sparse(l) {
			sparse = append(sparse, l)
		}
	}
	// Layers 1, 3, 5 are the multiples of 2 counted from 1; 3 is dense.
	if !slices.Equal(sparse, []int{1, 5}) || q.Experts != 16 || q.ExpertsPerToken != 4 || q.ExpertIntermediate != 96 || q.Intermediate != 6144 || !q.NormTopK || !q.qkNorm() || q.Validate() != nil {
		t.Errorf("qwen3_moe: sparse layers %v, %+v, %v", sparse, q, q.Validate())
	}
	o, err := read(`{"model_type": "olmoe", "clip_qkv": null}`)
	if err != nil {
		t.Fatal(err)
	}
	if o.Experts != 64 || o.ExpertsPerToken != 8 || o.NormTopK || o.ExpertIntermediate != 2048 || !o.wholeQKNorm() || o.olmo2() || o.Eps != 1e-5 || o.Validate() != nil {
		t.Errorf("olmoe defaults: %+v, %v", o, o.Validate())
	}
	// Each class reads the other's name for the count (transformers 5 saves
	// Qwen3-MoE's as num_local_experts); mlp_only_layers is Qwen3-MoE's.
	for _, c := range []string{
		`{"model_type": "qwen3_moe", "num_local_experts": 4, "num_experts_per_tok": 2}`,
		`{"model_type": "olmoe", "num_local_experts": 4, "num_experts_per_tok": 2, "mlp_only_layers": [0]}`,
		`{"model_type": "mixtral", "num_experts": 4, "num_local_experts": 4, "mlp_only_layers": [0]}`,
	} {
		got, err := read(c)
		if err != nil || got.Experts != 4 || !got.sparse(0) || got.Validate() != nil {
			t.Errorf("%s: %v, %d experts, layer 0 sparse %v, %v", c, err, got.Experts, got.sparse(0), got.Validate())
		}
	}
	q2, err := read(`{"model_type": "qwen2_moe", "num_hidden_layers": 3, "mlp_only_layers": [2], "attention_bias": true}`)
	if err != nil {
		t.Fatal(err)
	}
	// Qwen2's fixed biases: q, k and v, not o (qkv_bias's default);
	// attention_bias is not a Qwen2MoeConfig key.
	if q2.Experts != 60 || q2.ExpertsPerToken != 4 || q2.ExpertIntermediate != 1408 || q2.SharedIntermediate != 5632 || q2.NormTopK || !q2.sparse(1) || q2.sparse(2) || !q2.qkvBias() || q2.oBias() || q2.Validate() != nil {
		t.Errorf("qwen2_moe: %+v, %v", q2, q2.Validate())
	}
	for _, bad := range []struct{ config, err string }{
		{`{"model_type": "mixtral", "num_experts": 3, "num_local_experts": 4}`, "num_experts 3 and num_local_experts 4 disagree"},
		{`{"model_type": "qwen3_moe", "use_sliding_window": true, "sliding_window": 8, "max_window_layers": 99}`, "use_sliding_window true"},
		{`{"model_type": "olmoe", "clip_qkv": 8}`, "clip_qkv 8"},
		{`{"model_type": "qwen3_moe", "decoder_sparse_step": 0}`, "decoder_sparse_step 0"},
		{`{"model_type": "qwen2_moe", "qkv_bias": false}`, "qkv_bias false"},
		{`{"model_type": "qwen2_moe", "shared_expert_intermediate_size": 0}`, "shared expert of 0"},
		{`{"model_type": "mixtral", "num_experts_per_tok": 9}`, "num_experts_per_tok 9"},
		{`{"model_type": "qwen3_moe", "num_experts": 0}`, "0 experts"},
		{`{"model_type": "qwen3_moe", "moe_intermediate_size": 0}`, "intermediate size 0"},
	} {
		c, err := read(bad.config)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("%s: %v; want an error naming %q", bad.config, err, bad.err)
		}
	}
	// A Mixtral or an OLMoE whose config.json could not say so.
	for _, c := range []Config{defaults("mixtral"), defaults("olmoe")} {
		if err := c.Validate(); err != nil {
			t.Errorf("%s defaults: %v", c.Type, err)
		}
		dense, wide := c, c
		dense.Sparse = make([]bool, c.Layers)
		wide.ExpertIntermediate++
		for _, bad := range []Config{dense, wide} {
			if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "layers are all sparse") {
				t.Errorf("%s with dense layers or wider experts: %v", c.Type, err)
			}
		}
	}
	// mlp_bias is not a key of the MoE classes: read, it is ignored; set in
	// code, refused (no checkpoint would have the biases).
	for _, typ := range []string{"mixtral", "granitemoe", "granitemoeshared", "qwen2_moe", "qwen3_moe", "olmoe"} {
		c, err := read(`{"model_type": "` + typ + `", "mlp_bias": true}`)
		if err != nil || c.MLPBias {
			t.Errorf("%s with mlp_bias: %v, MLPBias %v", typ, err, c.MLPBias)
		}
		c.MLPBias = true
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "have no biases") {
			t.Errorf("a %s Config with MLPBias: %v", typ, err)
		}
	}
	renorm := defaults("mixtral")
	renorm.NormTopK = false
	if err := renorm.Validate(); err == nil || !strings.Contains(err.Error(), "renormalises") {
		t.Errorf("a Mixtral without NormTopK: %v", err)
	}
	l := defaults("llama")
	l.Experts = 4
	if err := l.Validate(); err == nil || !strings.Contains(err.Error(), "4 experts in a llama model") {
		t.Errorf("a llama Config with experts: %v", err)
	}
	for _, c := range []Config{mx, q, o, q2} {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := read(string(b))
		if err != nil {
			t.Fatal(err)
		}
		for l := range c.Layers {
			if back.sparse(l) != c.sparse(l) {
				t.Errorf("%s: layer %d sparse %v, read back %v (%s)", c.Type, l, c.sparse(l), back.sparse(l), b)
			}
		}
		if back.Experts != c.Experts || back.ExpertsPerToken != c.ExpertsPerToken || back.ExpertIntermediate != c.ExpertIntermediate || back.NormTopK != c.NormTopK || back.SharedIntermediate != c.SharedIntermediate {
			t.Errorf("%s read back as %+v from %s", c.Type, back, b)
		}
	}
}

// TestMixtralNames: a Mixtral checkpoint's names and this package's map
// one to one.
func TestMixtralNames(t *testing.T) {
	for hfName, ours := range map[string]string{
		"layers.3.block_sparse_moe.gate.weight":           "layers.3.mlp.gate.weight",
		"layers.0.block_sparse_moe.experts.7.w1.weight":   "layers.0.mlp.experts.7.gate_proj.weight",
		"layers.0.block_sparse_moe.experts.7.w2.weight":   "layers.0.mlp.experts.7.down_proj.weight",
		"layers.10.block_sparse_moe.experts.12.w3.weight": "layers.10.mlp.experts.12.up_proj.weight",
		"layers.1.self_attn.q_proj.weight":                "layers.1.self_attn.q_proj.weight",
		"layers.1.post_attention_layernorm.weight":        "layers.1.post_attention_layernorm.weight",
	} {
		if got := fromMixtral(hfName); got != ours {
			t.Errorf("fromMixtral(%s) = %s; want %s", hfName, got, ours)
		}
		if got := mixtralName(ours); got != hfName {
			t.Errorf("mixtralName(%s) = %s; want %s", ours, got, hfName)
		}
	}
}

// TestRouterTraining: output_router_logits adds router_aux_loss_coef (the
// classes' defaults where missing) times the load-balancing loss to a
// training loss, not to an evaluation; the setting round-trips through
// config.json; router noise (Mixtral's router_jitter_noise) refuses to
// train but evaluates.
func TestRouterTraining(t *testing.T) {
	read := func(extra string) Config {
		var c Config
		if err := json.Unmarshal([]byte(`{"model_type": "mixtral", "vocab_size": 50, "hidden_size": 16, "intermediate_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1, "num_local_experts": 3, `+extra+`}`), &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, c := range []struct {
		extra string
		coef  float64
	}{{`"output_router_logits": true`, 0.001}, {`"output_router_logits": true, "router_aux_loss_coef": 0.5`, 0.5}, {`"router_aux_loss_coef": 0.5`, 0}} {
		cfg := read(c.extra)
		if cfg.RouterAux != c.coef {
			t.Errorf("%s: RouterAux %v; want %v", c.extra, cfg.RouterAux, c.coef)
		}
		b, _ := json.Marshal(cfg)
		var back Config
		if err := json.Unmarshal(b, &back); err != nil || back.RouterAux != cfg.RouterAux {
			t.Errorf("%s: read back as %v (%v) from %s", c.extra, back.RouterAux, err, b)
		}
	}
	var o Config
	json.Unmarshal([]byte(`{"model_type": "olmoe", "output_router_logits": true}`), &o)
	if o.RouterAux != 0.01 {
		t.Errorf("OLMoE's default router_aux_loss_coef: %v; want 0.01", o.RouterAux)
	}
	m, err := New(read(`"output_router_logits": true, "router_aux_loss_coef": 0.5`), 1)
	if err != nil {
		t.Fatal(err)
	}
	ids := []int{1, 2, 3, 4, 5, 6}
	tp := autograd.NewTape(nil)
	train, err := m.Loss(tp, ids, ids, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	eval, err := m.Loss(nil, ids, ids, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	_, routers, _ := m.forward(nil, ids, 2, 3)
	balance := autograd.NewTape(nil).LoadBalance(routers, m.Cfg.ExpertsPerToken).Value.Data[0]
	if d := train.Value.Data[0] - eval.Value.Data[0] - 0.5*balance; math.Abs(float64(d)) > 1e-5 || balance < 1 {
		t.Errorf("training loss %v, evaluation %v, balance %v: want the difference 0.5·balance", train.Value.Data[0], eval.Value.Data[0], balance)
	}
	tp.Backward(train)
	if g := m.Layers[1].MLP.Router.Weight.Grad; g == nil {
		t.Error("no gradient for the router")
	}
	jitter, err := New(read(`"router_jitter_noise": 0.01`), 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jitter.Loss(autograd.NewTape(nil), ids, ids, 2, 3); err == nil || !strings.Contains(err.Error(), "router_jitter_noise 0.01") {
		t.Errorf("router noise: training loss: %v", err)
	}
	if _, err := jitter.Loss(nil, ids, ids, 2, 3); err != nil {
		t.Errorf("router noise: evaluation: %v", err)
	}
}

// copyTiny copies testdata/hf/name's config.json and model.safetensors to
// a new folder and returns it.
func copyTiny(t *testing.T, name string) string {
	t.Helper()
	src, dir := filepath.Join(golden.Root(t), "testdata", "hf", name), t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, f), b, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// stackExperts rewrites the folder's model.safetensors as transformers 5
// may save a mixture of experts: each sparse layer's experts stacked in
// mlp.experts.gate_up_proj [E, 2·I, C] (each expert's gate rows, then its
// up rows) and mlp.experts.down_proj [E, C, I]; the router as mlp.gate.
func stackExperts(t *testing.T, dir string, c Config, mixtral bool) {
	t.Helper()
	path := filepath.Join(dir, "model.safetensors")
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	raw := map[string][]byte{}
	var ts []safetensors.Tensor
	var dtype safetensors.DType
	for _, n := range f.Names() {
		b, info, err := f.Raw(n)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(n, ".experts.") {
			raw[n], dtype = slices.Clone(b), info.DType
			continue
		}
		if mixtral {
			n = strings.Replace(n, "block_sparse_moe.gate", "mlp.gate", 1)
		}
		ts = append(ts, safetensors.Tensor{Name: n, DType: info.DType, Shape: info.Shape, Data: slices.Clone(b)})
	}
	f.Close()
	names := [3]string{"gate_proj", "up_proj", "down_proj"}
	prefix := "mlp"
	if mixtral {
		names, prefix = [3]string{"w1", "w3", "w2"}, "block_sparse_moe"
	}
	for l := range c.Layers {
		if !c.sparse(l) {
			continue
		}
		var gateUp, down []byte
		for e := range c.Experts {
			x := fmt.Sprintf("model.layers.%d.%s.experts.%d.", l, prefix, e)
			gateUp = append(append(gateUp, raw[x+names[0]+".weight"]...), raw[x+names[1]+".weight"]...)
			down = append(down, raw[x+names[2]+".weight"]...)
		}
		p := fmt.Sprintf("model.layers.%d.mlp.experts.", l)
		ts = append(ts, safetensors.Tensor{Name: p + "gate_up_proj", DType: dtype, Shape: []int{c.Experts, 2 * c.ExpertIntermediate, c.Hidden}, Data: gateUp},
			safetensors.Tensor{Name: p + "down_proj", DType: dtype, Shape: []int{c.Experts, c.Hidden, c.ExpertIntermediate}, Data: down})
	}
	if err := safetensors.WriteFile(path, ts, nil); err != nil {
		t.Fatal(err)
	}
}

// TestStackedExperts: a folder whose experts are stored stacked
// (transformers 5's layout) loads as the per-expert one does, in float32
// (Load) and kept in 16 bits (LoadHalf); a stack of the wrong shape is an
// error naming it.
func TestStackedExperts(t *testing.T) {
	for _, name := range []string{"mixtral-tiny", "qwen3moe-tiny", "olmoe-tiny", "qwen2moe-tiny"} {
		dir := copyTiny(t, name)
		want := load(t, name)
		stackExperts(t, dir, want.Cfg, name == "mixtral-tiny")
		for _, loadFn := range []func(string) (*Model, error){Load, LoadHalf} {
			m, err := loadFn(dir)
			if err != nil {
				t.Fatalf("%s stacked: %v", name, err)
			}
			ids := []int{5, 9, 14, 3, 27}
			a, _ := want.Step(want.NewCache(), ids)
			b, err := m.Step(m.NewCache(), ids)
			if err != nil || !slices.Equal(a.Data, b.Data) {
				t.Errorf("%s stacked: the logits differ (%v)", name, err)
			}
		}
	}
	dir := copyTiny(t, "olmoe-tiny")
	stackExperts(t, dir, load(t, "olmoe-tiny").Cfg, false)
	raw, _ := os.ReadFile(filepath.Join(dir, "config.json")) // experts one narrower: the rows do not add up
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(strings.Replace(string(raw), `"intermediate_size": 16`, `"intermediate_size": 15`, 1)), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "layers.0.mlp.experts.gate_up_proj") || !strings.Contains(err.Error(), "[6 32 32]") {
		t.Errorf("a stack of other experts' width: %v", err)
	}
}

// TestLoadBalanceMatchesPyTorch: with output_router_logits, each mixture
// of experts' training loss and its gradients are HF's (the PyTorch twin's
// train.aux.* references): the load-balancing loss over the sparse layers'
// routers to 1e-5 (GPT-OSS's over its routers' top-k scores, as HF's model
// records them), the loss with it, and — what checks the added term's
// gradient sharply — the change it makes to the routers' and an expert's
// gradients.
func TestLoadBalanceMatchesPyTorch(t *testing.T) {
	for _, name := range []string{"mixtral-tiny", "qwen3moe-tiny", "olmoe-tiny", "granitemoe-tiny", "granitemoeshared-tiny", "qwen2moe-tiny", "gptoss-tiny", "gptoss-tiny-mxfp4"} {
		f := golden.Open(t, "hf/"+name+"/reference.safetensors")
		ids, targets, b, tt := nextTokens(f)
		grads := func(coef float64) (*Model, map[string]*autograd.Var, float32) {
			m := load(t, name)
			m.Cfg.RouterAux = coef
			tp := autograd.NewTape(nil)
			loss, err := m.Loss(tp, ids, targets, b, tt)
			if err != nil {
				t.Fatal(err)
			}
			tp.Backward(loss)
			byName := map[string]*autograd.Var{}
			for _, p := range m.Params() {
				byName[p.Name] = p.Var
			}
			return m, byName, loss.Value.Data[0]
		}
		coef := float64(f.Tensor("train.aux.coef").Data[0])
		m, withAux, loss := grads(coef)
		mCE, ce, _ := grads(0) // its own model: GPT-OSS's stacked gradients are read from the model's experts
		golden.CheckAbs(t, name+" loss with the balance", []float32{loss}, f.Tensor("train.aux.loss").Data, 1e-5)
		_, routers, err := m.forward(nil, ids, b, tt)
		if err != nil {
			t.Fatal(err)
		}
		balance := m.balance(autograd.NewTape(nil), routers).Value.Data
		golden.CheckAbs(t, name+" balance", balance, f.Tensor("train.aux.balance").Data, 1e-5)
		checked, sharp, names := 0, 0, f.Names()
		for _, n := range names {
			stored, ok := strings.CutPrefix(n, "train.aux.grad.")
			if !ok {
				continue
			}
			with, without := storedGrad(m, withAux, strings.TrimPrefix(stored, "model.")), storedGrad(mCE, ce, strings.TrimPrefix(stored, "model."))
			if with == nil || without == nil {
				t.Fatalf("%s: no gradient for %s", name, stored)
			}
			checked++
			if !slices.Contains(names, "train.grad."+stored) { // the whole gradient only
				golden.CheckRel(t, name+" "+stored+" gradient", with, f.Tensor(n).Data, 1e-3)
				continue
			}
			torchCE := f.Tensor("train.grad." + stored).Data
			want, got := slices.Clone(f.Tensor(n).Data), slices.Clone(with)
			for i := range want { // the balance's part, over its coefficient
				want[i] = (want[i] - torchCE[i]) / float32(coef)
				got[i] = (got[i] - without[i]) / float32(coef)
			}
			golden.CheckAbs(t, name+" "+stored+" gradient of the balance", got, want, 2e-2*float64(maxAbs(want))+1e-4)
			sharp++
		}
		if sharp == 0 {
			t.Errorf("%s: no gradient of the balance compared alone", name)
		}
		if checked < 2 {
			t.Errorf("%s: %d aux gradients compared", name, checked)
		}
	}
}

func maxAbs(x []float32) float32 {
	var m float32
	for _, v := range x {
		m = max(m, float32(math.Abs(float64(v))))
	}
	return m
}

// BenchmarkMixture times a Qwen3-MoE-shaped sparse layer's work through
// the model (2 layers of 64 experts of 256, 8 a token, width 512): a
// 128-token prompt, where each expert sees about 16 tokens, and one
// decoded token, which reads 8 experts of 64. Reported per step.
func BenchmarkMixture(b *testing.B) {
	c := defaults("qwen3_moe")
	c.VocabSize, c.Hidden, c.Layers, c.Heads, c.KVHeads, c.HeadDim = 1000, 512, 2, 8, 2, 64
	c.Experts, c.ExpertsPerToken, c.ExpertIntermediate, c.NormTopK, c.MaxPositions = 64, 8, 256, true, 512
	m, err := New(c, 1)
	if err != nil {
		b.Fatal(err)
	}
	prompt := make([]int, 128)
	for i := range prompt {
		prompt[i] = (i * 37) % c.VocabSize
	}
	b.Run("prompt128", func(b *testing.B) {
		cache := m.NewCache()
		for range b.N {
			cache.Reset()
			if _, err := m.StepLast(cache, prompt); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		cache := m.NewCache()
		if _, err := m.StepLast(cache, prompt[:16]); err != nil {
			b.Fatal(err)
		}
		for range b.N {
			if _, err := m.StepLast(cache, prompt[16:17]); err != nil {
				b.Fatal(err)
			}
			cache.Truncate(16)
		}
	})
}
