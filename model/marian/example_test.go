package marian_test

import (
	"fmt"
	"log"

	"github.com/attn-go/attn/generate"
	"github.com/attn-go/attn/model/marian"
)

// An opus-mt style folder translates a padded batch of two sources with
// beam search; the ids come from its source.spm, the output ids are
// target.spm's, and each source ends with eos_token_id.
func Example() {
	m, err := marian.Load("../../testdata/hf/marian-tiny")
	if err != nil {
		log.Fatal(err)
	}
	eos, pad := m.Cfg.EOSTokenID, m.Cfg.PadTokenID
	src := []int{ // B = 2, S = 5, row-major
		17, 3, 41, 9, eos,
		25, 8, eos, pad, pad,
	}
	srcPad := []bool{
		false, false, false, false, false,
		false, false, false, true, true,
	}
	const beams = 4
	d, err := m.NewDecoder(src, srcPad, 2, 5, beams)
	if err != nil {
		log.Fatal(err)
	}
	hs, err := generate.Beam(d, 2, generate.BeamOpts{
		Beam: beams, Alpha: 0.6, MaxLen: 8, BOS: m.Cfg.DecoderStartTokenID, EOS: eos,
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range hs {
		fmt.Println(h.Tokens)
	}
	// Output:
	// [40 40 22 22 22 40 40 22]
	// [21 21 21 21 21 21 21 21]
}
