package gpt_test

import (
	"fmt"
	"log"

	"github.com/attn-go/attn/model/gpt"
	"github.com/attn-go/attn/safetensors"
	"github.com/attn-go/attn/tensor"
)

// A GPT-2 written by PyTorch (HF's parameter names, here under the prefix
// "param.") generates greedily with a KV cache: the prompt runs in one Step,
// then each new token is one Step of one token.
func Example_generate() {
	cfg := gpt.Config{VocabSize: 65, NPositions: 32, NEmbd: 42, NLayer: 2, NHead: 3, Eps: 1e-5}
	m, err := gpt.New(cfg, 0)
	if err != nil {
		log.Fatal(err)
	}
	f, err := safetensors.Open("../../testdata/torch/gpt_forward.safetensors")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if err := m.LoadWeights(f, "param."); err != nil {
		log.Fatal(err)
	}

	cache := m.NewCache(1)
	ids := []int{20, 43, 50, 50, 53} // a prompt
	logits, err := m.StepLast(cache, ids, 1)
	for range 8 {
		if err != nil {
			log.Fatal(err)
		}
		next := tensor.Argmax(logits.Data)
		ids = append(ids, next)
		logits, err = m.StepLast(cache, []int{next}, 1)
	}
	fmt.Println("tokens:", ids) // PyTorch decodes these weights to the same tokens
	fmt.Println("cached positions:", cache.Len())
	// Output:
	// tokens: [20 43 50 50 53 0 0 0 0 0 0 0 0]
	// cached positions: 13
}
