package eval_test

import (
	"fmt"

	"github.com/attn-go/attn/eval"
)

// The example of sacreBLEU's README: three hypotheses, two reference streams.
func ExampleBLEU() {
	hyps := []string{"The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."}
	refs := [][]string{
		{"The dog bit the man.", "It was not unexpected.", "The man bit him first."},
		{"The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."},
	}
	bleu, err := eval.BLEU(hyps, refs)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(bleu)
	chrf, err := eval.ChrF(hyps, refs)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(chrf)
	// Output:
	// BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)
	// chrF2 = 59.73
}

func ExampleTokenize13a() {
	fmt.Println(eval.Tokenize13a(`"It's 3.14," he said (in 2019-2020).`))
	// Output:
	// " It's 3.14 , " he said ( in 2019 - 2020 ) .
}
