package bert_test

import (
	"fmt"
	"log"

	"github.com/attn-go/attn/model/bert"
)

// A HuggingFace BERT folder gives sentence embeddings (mean pooling, L2
// normalised, as sentence-transformers computes them) and masked-token
// predictions. Token ids come from the model's tokenizer; here they are
// the tiny test model's.
func Example() {
	m, err := bert.Load("../../testdata/hf/bert-tiny")
	if err != nil {
		log.Fatal(err)
	}
	ids := []int{
		2, 17, 41, 5, 99, 0, // a sentence of 5 tokens and one pad
		2, 23, 8, 61, 30, 12, // one of 6
	}
	pad := []bool{false, false, false, false, false, true, false, false, false, false, false, false}
	hidden, pooled, err := m.Encode(ids, nil, pad, 2, 6)
	if err != nil {
		log.Fatal(err)
	}
	vecs, err := bert.Embed(hidden, pad, bert.PoolMean, true)
	if err != nil {
		log.Fatal(err)
	}
	var dot float32
	for i := range vecs[0] {
		dot += vecs[0][i] * vecs[1][i]
	}
	fmt.Printf("hidden %v, pooled %v, %d embeddings of %d, cosine %.3f\n", hidden.Shape, pooled.Shape, len(vecs), len(vecs[0]), dot)

	logits, err := m.MLMLogits(ids, nil, pad, 2, 6)
	if err != nil {
		log.Fatal(err)
	}
	v := m.Cfg.VocabSize
	for _, p := range bert.TopK(logits.Data[3*v:4*v], 3) { // predictions for position 3 of sentence 0
		fmt.Printf("token %d: %.3f\n", p.ID, p.Prob)
	}
	// Output:
	// hidden [2 6 32], pooled [2 32], 2 embeddings of 32, cosine 0.494
	// token 98: 0.421
	// token 82: 0.070
	// token 59: 0.062
}
