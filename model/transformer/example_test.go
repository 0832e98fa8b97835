package transformer_test

import (
	"fmt"
	"log"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/model/transformer"
	"github.com/attn-go/attn/safetensors"
)

// A model trained in PyTorch runs here from its state dict saved as
// safetensors. The module must be laid out as this package documents:
// nn.Transformer's encoder and decoder (batch_first=True) plus src_embed,
// tgt_embed and generator, so its state dict names are ours. This file holds
// one, under the prefix "param.", beside its test inputs.
func Example_loadPyTorch() {
	cfg := transformer.Config{
		SrcVocab: 23, TgtVocab: 19, DModel: 48, Heads: 3,
		EncoderLayers: 2, DecoderLayers: 2, DFF: 80, Activation: "relu",
		FinalNorm: true, // nn.Transformer always ends each stack with a LayerNorm
		Positions: transformer.Sinusoidal, MaxLen: 64, Eps: 1e-5,
	}
	m, err := transformer.New(cfg, 0)
	if err != nil {
		log.Fatal(err)
	}
	f, err := safetensors.Open("../../testdata/torch/seq2seq_postln_relu.safetensors")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if err := m.LoadWeights(f, "param."); err != nil {
		log.Fatal(err)
	}

	src := transformer.MakeBatch([][]int{{5, 9, 3, 14}}, 0)
	tgt := transformer.MakeBatch([][]int{{1, 7, 2}}, 0)
	var inference *autograd.Tape // nil: no gradients are recorded
	logits, err := m.Forward(inference, src, tgt)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("logits shape:", logits.Value.Shape)
	out, err := m.Greedy([][]int{{5, 9, 3, 14}}, 1, 2, 0, 6)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("greedy tokens:", out[0]) // PyTorch decodes the same weights to the same tokens
	// Output:
	// logits shape: [1 3 19]
	// greedy tokens: [9 10 9 10 9 10]
}
