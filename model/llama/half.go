package llama

import (
	"math"
	"runtime"
	"strconv"
	"strings"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/model/hf"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/safetensors"
	"github.com/attn-go/attn/tensor"
)

// halfWeights are a model's matrices kept in 16 bits (KeepBF16, LoadHalf)
// or quantized to 8 (QuantizeQ8).
type halfWeights struct {
	kind        tensor.Half // of 16-bit matrices
	q8          bool        // the matrices are 8-bit ones
	embed, head low         // head empty when tied to the embeddings
	layers      []halfLayer
}

type halfLayer struct {
	qkv, o low
	ffn    []halfMLP // as Layer.ffns
}

type halfMLP struct{ gateUp, down low }

// mlp returns the matrices of the layer's i-th MLP (see Layer.ffns): none
// of a float32 model.
func (h halfLayer) mlp(i int) halfMLP {
	if h.ffn == nil {
		return halfMLP{}
	}
	return h.ffn[i]
}

// matrices returns the matrices of l that a model keeps in fewer bits:
// the fused projections, then each MLP's two (the router stays float32).
func (l *Layer) matrices() []*autograd.Var {
	mats := []*autograd.Var{l.qkv, l.Attn.O.Weight}
	for _, f := range l.ffns() {
		mats = append(mats, f.gateUp, f.Down.Weight)
	}
	return mats
}

// newHalfLayer returns the matrices l.matrices lists, each made by keep, as a
// halfLayer.
func newHalfLayer(l *Layer, keep func(v *autograd.Var, i int) low) halfLayer {
	mats := l.matrices()
	h := halfLayer{qkv: keep(mats[0], 0), o: keep(mats[1], 1)}
	for i := 2; i < len(mats); i += 2 {
		h.ffn = append(h.ffn, halfMLP{keep(mats[i], i), keep(mats[i+1], i+1)})
	}
	return h
}

// lows lists h's matrices in the order of Layer.matrices.
func (h halfLayer) lows() []low {
	ls := []low{h.qkv, h.o}
	for _, f := range h.ffn {
		ls = append(ls, f.gateUp, f.down)
	}
	return ls
}

// dropViews drops the float32 values of l's separate projections, views of
// the fused buffers kept in fewer bits.
func (l *Layer) dropViews() {
	l.Attn.Q.Weight.Value.Data, l.Attn.K.Weight.Value.Data, l.Attn.V.Weight.Value.Data = nil, nil, nil
	for _, f := range l.ffns() {
		f.Gate.Weight.Value.Data, f.Up.Weight.Value.Data = nil, nil
	}
}

// viewFused makes l's separate projections views of the fused buffers.
func (l *Layer) viewFused() {
	viewRows(l.qkv, l.Attn.Q.Weight, l.Attn.K.Weight, l.Attn.V.Weight)
	for _, f := range l.ffns() {
		viewRows(f.gateUp, f.Gate.Weight, f.Up.Weight)
	}
}

// low is a matrix in fewer bits than float32: 16 (h), or 8 with a scale
// for each block of tensor.Q8Block values of a row (q, s).
type low struct {
	h []uint16
	q []int8
	s []float32
}

// empty reports whether l holds no matrix.
func (l low) empty() bool { return l.h == nil && l.q == nil }

// KeepBF16 keeps the model's matrices (the embeddings, the projections of
// every layer, the output layer) in bfloat16 if each of their values is
// one exactly, as a checkpoint stored in BF16 (SmolLM2's, Qwen2.5's, Llama
// 3's) is once loaded: they then take half the memory, and decoding, which
// is bound by reading them, runs in about half the time, with the very same
// numbers (bfloat16 widens to float32 exactly; the products are those of the
// float32 weights). It reports whether it did, or whether the model was
// kept in 16 bits already (LoadHalf's, in F16 too); a model with any other
// value is left as it is, as is one QuantizeQ8 quantized (false: its
// matrices are in 8 bits). Norms and biases stay float32. A model kept so
// generates (StepLast, Step, StepBatch) but does not train: Widen it first.
func (m *Model) KeepBF16() bool {
	if m.half != nil {
		return !m.half.q8
	}
	mats := []*autograd.Var{m.Embed.Weight}
	if m.LMHead != nil {
		mats = append(mats, m.LMHead)
	}
	for _, l := range m.Layers {
		mats = append(mats, l.matrices()...)
	}
	for _, v := range mats {
		for _, x := range v.Value.Data {
			if math.Float32bits(x)&0xffff != 0 {
				return false
			}
		}
	}
	h := &halfWeights{kind: tensor.BF16, embed: narrow(m.Embed.Weight)}
	if m.LMHead != nil {
		h.head = narrow(m.LMHead)
	}
	for _, l := range m.Layers {
		h.layers = append(h.layers, newHalfLayer(l, func(v *autograd.Var, _ int) low { return narrow(v) }))
		l.dropViews()
	}
	m.half = h
	return true
}

// Widen brings the matrices KeepBF16 or LoadHalf kept back to float32,
// for training or saving, and those QuantizeQ8 quantized to their
// dequantized values, the numbers the model computed with (a model not
// kept is left as it is).
func (m *Model) Widen() {
	h := m.half
	if h == nil {
		return
	}
	widen := func(v *autograd.Var, x low) {
		if !x.empty() { // else it was left in float32
			v.Value.Data = h.values(x)
		}
	}
	widen(m.Embed.Weight, h.embed)
	if m.LMHead != nil {
		widen(m.LMHead, h.head)
	}
	for i, l := range m.Layers {
		lows := h.layers[i].lows()
		for j, v := range l.matrices() {
			widen(v, lows[j])
		}
		l.viewFused()
	}
	m.half = nil
}

// values returns a kept matrix's values in float32: widened, or
// dequantized.
func (h *halfWeights) values(x low) []float32 {
	if x.q != nil {
		v := make([]float32, len(x.q))
		tensor.DequantizeQ8(v, x.q, x.s)
		return v
	}
	v := make([]float32, len(x.h))
	h.kind.Widen(v, x.h)
	return v
}

// Halved reports whether the model's matrices are kept in fewer bits than
// float32 (bfloat16, half precision or 8-bit).
func (m *Model) Halved() bool { return m.half != nil }

// Format names the form the model's matrices are kept in: "f32", "bf16",
// "f16" or "q8".
func (m *Model) Format() string {
	switch {
	case m.half == nil:
		return "f32"
	case m.half.q8:
		return "q8"
	}
	return m.half.kind.String()
}

// QuantizeQ8 quantizes the model's matrices (the embeddings, every
// projection, the output layer) to 8 bits with a float32 scale for each
// block of 32 values of a row (tensor.QuantizeQ8, llama.cpp's Q8_0 scheme):
// about 1.1 bytes a weight instead of 4, or 2 in 16 bits, which decoding,
// bound by reading them, turns into speed. Unlike KeepBF16 and LoadHalf,
// it changes the numbers: each weight moves by at most 1/254 of the
// largest in its block, and the model then computes exactly as the
// float32 model of the dequantized weights would. A model in 16 bits is
// quantized a few rows at a time, never held in float32, and drops each
// layer's 16-bit matrices as it goes, so that it never holds both copies
// whole. A matrix
// whose rows are not whole blocks (a width that is not a multiple of 32)
// stays as it is. Widen it to train it.
func (m *Model) QuantizeQ8() {
	if m.half != nil && m.half.q8 {
		return
	}
	old := m.half
	h := &halfWeights{q8: true}
	var embed, head low
	if old != nil {
		h.kind, embed, head = old.kind, old.embed, old.head
		old.embed, old.head = low{}, low{} // the copies go as they are quantized
	}
	h.embed, embed = h.quantizeVar(m.Embed.Weight, embed), low{}
	if m.LMHead != nil {
		h.head, head = h.quantizeVar(m.LMHead, head), low{}
	}
	for i, l := range m.Layers {
		var was []low
		if old != nil {
			// The layer's 16-bit matrices are dropped as it is quantized,
			// so that the model never holds both whole.
			was, old.layers[i] = old.layers[i].lows(), halfLayer{}
		}
		h.layers = append(h.layers, h.quantizeLayer(l, was))
		// The separate projections were views of the fused buffers; those
		// of a fused matrix left unquantized (a width not of whole
		// blocks) keep their values.
		if hl := h.layers[i]; hl.qkv.q != nil {
			l.Attn.Q.Weight.Value.Data, l.Attn.K.Weight.Value.Data, l.Attn.V.Weight.Value.Data = nil, nil, nil
		}
		for j, f := range l.ffns() {
			if h.layers[i].ffn[j].gateUp.q != nil {
				f.Gate.Weight.Value.Data, f.Up.Weight.Value.Data = nil, nil
			}
		}
	}
	m.half = h
}

// quantizeVar returns v's matrix in 8 bits: from x, its 16-bit values,
// when x is not empty, else from v's float32 values, which it drops. A
// matrix whose rows are not whole blocks is returned as it is (x, or
// empty: left in float32).
func (h *halfWeights) quantizeVar(v *autograd.Var, x low) low {
	cols := v.Value.Shape[len(v.Value.Shape)-1]
	switch {
	case !x.empty(): // in 16 bits
		return h.quantize(x, cols)
	case cols%tensor.Q8Block != 0:
		return x // left in float32
	}
	q, s := tensor.QuantizeQ8(v.Value.Data, cols)
	v.Value.Data = nil
	return low{q: q, s: s}
}

// quantizeLayer returns layer l's matrices in 8 bits (quantizeVar), from
// its 16-bit ones, was (by newHalfLayer's order; nil for a layer in
// float32), each dropped from was as it is quantized.
func (h *halfWeights) quantizeLayer(l *Layer, was []low) halfLayer {
	return newHalfLayer(l, func(v *autograd.Var, j int) low {
		var x low
		if was != nil {
			x, was[j] = was[j], low{}
		}
		return h.quantizeVar(v, x)
	})
}

// quantize returns the matrix x, of rows of cols values, in 8 bits (as
// tensor.QuantizeQ8 quantizes it), widening a few rows at a time rather
// than the whole matrix to float32. A matrix whose rows are not whole
// blocks is returned as it is.
func (h *halfWeights) quantize(x low, cols int) low {
	if x.q != nil || x.h == nil || cols%tensor.Q8Block != 0 {
		return x
	}
	q, s := make([]int8, len(x.h)), make([]float32, len(x.h)/tensor.Q8Block)
	step := max(1, (1<<16)/cols) * cols // 256 KB of float32 at a time, pieces spread over the cores
	tensor.Parallel((len(x.h)+step-1)/step, 1, func(lo, hi int) {
		buf := make([]float32, min(step, len(x.h)))
		for at := lo * step; at < min(hi*step, len(x.h)); at += step {
			end := min(at+step, len(x.h))
			w := buf[:end-at]
			h.kind.Widen(w, x.h[at:end])
			tensor.QuantizeQ8To(q[at:end], s[at/tensor.Q8Block:end/tensor.Q8Block], w)
		}
	})
	return low{q: q, s: s}
}

// layerOf returns the layer a parameter name ("layers.N. …") is of.
func layerOf(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "layers.")
	if !ok {
		return 0, false
	}
	n, _, _ := strings.Cut(rest, ".")
	l, err := strconv.Atoi(n)
	return l, err == nil
}

// narrow returns v's values in bfloat16 (their upper halves, which KeepBF16
// has checked are all there is) and drops the float32 ones.
func narrow(v *autograd.Var) low {
	h := make([]uint16, len(v.Value.Data))
	for i, x := range v.Value.Data {
		h[i] = uint16(math.Float32bits(x) >> 16)
	}
	v.Value.Data = nil
	return low{h: h}
}

// viewRows makes each of ps a view of its rows of all, in order, as
// concatRows does.
func viewRows(all *autograd.Var, ps ...*autograd.Var) {
	at := 0
	for _, p := range ps {
		n := 1
		for _, d := range p.Value.Shape {
			n *= d
		}
		p.Value.Data = all.Value.Data[at : at+n : at+n]
		at += n
	}
}

// linear is tp.Linear on a layer's weight w, or on its copy in fewer bits
// h when the model keeps one.
func (m *Model) linear(tp *autograd.Tape, x, w *autograd.Var, h low, b *autograd.Var) *autograd.Var {
	switch {
	case h.q != nil:
		return tp.LinearQ8(x, h.q, h.s, w.Value.Shape[0], b)
	case h.h != nil:
		return tp.LinearHalf(x, m.half.kind, h.h, w.Value.Shape[0], b)
	}
	return tp.Linear(x, w, b)
}

// embed looks ids up in the embeddings.
func (m *Model) embed(tp *autograd.Tape, ids []int) *autograd.Var {
	switch {
	case m.half == nil:
	case m.half.embed.q != nil:
		return tp.EmbeddingQ8(m.half.embed.q, m.half.embed.s, m.Cfg.Hidden, ids, m.Embed.Scale)
	case m.half.embed.h != nil:
		return tp.EmbeddingHalf(m.half.kind, m.half.embed.h, m.Cfg.Hidden, ids, m.Embed.Scale)
	}
	return tp.Embedding(m.Embed.Weight, ids, m.Embed.Scale)
}

// halfLayer returns layer l's 16-bit matrices (none for a float32 model).
func (m *Model) halfLayer(l int) halfLayer {
	if m.half == nil {
		return halfLayer{}
	}
	return m.half.layers[l]
}

// matrices returns the set of parameters KeepBF16 keeps, of a model whose
// projections are not fused yet.
func (m *Model) matrices() map[*autograd.Var]bool {
	mats := map[*autograd.Var]bool{m.Embed.Weight: true}
	if m.LMHead != nil {
		mats[m.LMHead] = true
	}
	for _, l := range m.Layers {
		for _, w := range []*autograd.Var{l.Attn.Q.Weight, l.Attn.K.Weight, l.Attn.V.Weight, l.Attn.O.Weight} {
			mats[w] = true
		}
		for _, f := range l.ffns() {
			mats[f.Gate.Weight], mats[f.Up.Weight], mats[f.Down.Weight] = true, true, true
		}
	}
	return mats
}

// storedHalf returns the 16-bit format ck stores every matrix of m in (a
// tied output layer may be absent: the embeddings' copy read is the one
// checked), if they share one.
func (m *Model) storedHalf(ck *hf.Checkpoint) (tensor.Half, bool) {
	mats := m.matrices()
	var dtype safetensors.DType
	for _, p := range m.Params() {
		if !mats[p.Var] {
			continue
		}
		t, ok := m.stored(ck, p)
		if !ok {
			return 0, false
		}
		if dtype == "" {
			dtype = t.DType
		}
		if t.DType != dtype {
			return 0, false
		}
	}
	switch dtype {
	case safetensors.DTypeBF16:
		return tensor.BF16, true
	case safetensors.DTypeF16:
		return tensor.F16, true
	}
	return 0, false
}

// halfBuffers gives the model, its projections not fused yet, its 16-bit
// matrices (in the format kind), fused as fuseWeights fuses the float32
// ones but without float32 values, and returns the buffer each matrix
// loads into.
func (m *Model) halfBuffers(kind tensor.Half) map[*autograd.Var][]uint16 {
	into := map[*autograd.Var][]uint16{}
	h := &halfWeights{kind: kind}
	h.embed, h.head = m.outerBuffers(into)
	for _, l := range m.Layers {
		h.layers = append(h.layers, l.halfBuffers(into))
	}
	m.half = h
	return into
}

// stackHalf returns one 16-bit buffer for ps stacked, each's part its view
// (recorded in into), and the shape-only parameter standing for the stack.
func stackHalf(into map[*autograd.Var][]uint16, ps ...*autograd.Var) (low, *autograd.Var) {
	size := func(v *autograd.Var) int { return tensor.Size(v.Value.Shape) }
	shape := append([]int(nil), ps[0].Value.Shape...)
	n := 0
	for _, p := range ps {
		n += size(p)
	}
	shape[0] = n / shape[1]
	all := make([]uint16, n)
	at := 0
	for _, p := range ps {
		into[p] = all[at : at+size(p) : at+size(p)]
		at += size(p)
	}
	return low{h: all}, autograd.NewParam(&tensor.Tensor{Shape: shape})
}

// outerBuffers returns the 16-bit buffers of the embeddings and the output
// layer (none when tied), recording them in into.
func (m *Model) outerBuffers(into map[*autograd.Var][]uint16) (embed, head low) {
	embed, _ = stackHalf(into, m.Embed.Weight)
	if m.LMHead != nil {
		head, _ = stackHalf(into, m.LMHead)
	}
	return embed, head
}

// halfBuffers gives layer l, its projections not fused yet, its 16-bit
// matrices, fused, recording the buffer each of its matrices loads into.
func (l *Layer) halfBuffers(into map[*autograd.Var][]uint16) halfLayer {
	var hl halfLayer
	hl.qkv, l.qkv = stackHalf(into, l.Attn.Q.Weight, l.Attn.K.Weight, l.Attn.V.Weight)
	hl.o, _ = stackHalf(into, l.Attn.O.Weight)
	for _, f := range l.ffns() {
		var hf halfMLP
		hf.gateUp, f.gateUp = stackHalf(into, f.Gate.Weight, f.Up.Weight)
		hf.down, _ = stackHalf(into, f.Down.Weight)
		hl.ffn = append(hl.ffn, hf)
	}
	return hl
}

// loadQ8 fills the model, its projections not fused yet, from ck, whose
// matrices are all stored in the 16-bit format kind, quantizing them to 8
// bits as it goes (see QuantizeQ8): with every tensor checked
// (loadCheckpoint), it reads
// the embeddings and output layer, then one layer at a time, each
// quantized and its 16-bit copy dropped before the next is read, so that
// loading takes about the 8-bit model's memory, not the 16-bit one's.
func (m *Model) loadQ8(ck *hf.Checkpoint, opt hf.LoadOptions, kind tensor.Half) error {
	opt.Partial = true
	h := &halfWeights{kind: kind, q8: true}
	m.half = h
	var outer []nn.Param
	inLayer := make([][]nn.Param, len(m.Layers)) // by layer
	for _, p := range m.Params() {
		l, ok := layerOf(p.Name)
		if !ok {
			outer = append(outer, p)
			continue
		}
		inLayer[l] = append(inLayer[l], p)
	}
	into := map[*autograd.Var][]uint16{}
	embed, head := m.outerBuffers(into)
	opt.Half = into
	if err := ck.Load(outer, opt); err != nil {
		return err
	}
	h.embed, embed = h.quantizeVar(m.Embed.Weight, embed), low{}
	if m.LMHead != nil {
		h.head, head = h.quantizeVar(m.LMHead, head), low{}
	}
	opt.Half = nil // its map holds the 16-bit buffers
	runtime.GC()
	for i, l := range m.Layers {
		into := map[*autograd.Var][]uint16{}
		was := l.halfBuffers(into).lows()
		opt.Half = into
		if err := ck.Load(inLayer[i], opt); err != nil {
			return err
		}
		h.layers = append(h.layers, h.quantizeLayer(l, was))
		// Collect the layer's 16-bit buffers now, so that the next layer's
		// reuse their memory: left to the collector's pace, the heap
		// would grow to twice the model before it ran. opt.Half's map
		// holds them too.
		opt.Half = nil
		runtime.GC()
	}
	return nil
}
