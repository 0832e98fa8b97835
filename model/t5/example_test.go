package t5_test

import (
	"fmt"
	"log"

	"github.com/attn-go/attn/generate"
	"github.com/attn-go/attn/model/t5"
)

// A flan-t5 style folder (config.json, model.safetensors) translates token
// ids greedily and with beam search; the ids come from its SentencePiece
// tokenizer, and the source ends with eos_token_id.
func Example() {
	m, err := t5.Load("../../testdata/hf/flan-t5-tiny")
	if err != nil {
		log.Fatal(err)
	}
	src := []int{12, 40, 7, 33, m.Cfg.EOSTokenID}
	greedy, err := m.Greedy(src, nil, 1, len(src), 8)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("greedy:", greedy[0])

	const beams = 4
	d, err := m.NewDecoder(src, nil, 1, len(src), beams)
	if err != nil {
		log.Fatal(err)
	}
	hs, err := generate.Beam(d, 1, generate.BeamOpts{
		Beam: beams, Alpha: 0.6, MaxLen: 8, BOS: m.Cfg.DecoderStartTokenID, EOS: m.Cfg.EOSTokenID,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("beam:", hs[0].Tokens)
	// Output:
	// greedy: [19 47 47 47 47 19 19 19]
	// beam: [19 47 47 47 47 19 19 19]
}
