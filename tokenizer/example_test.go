package tokenizer_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/attn-go/attn/tokenizer"
)

func ExampleLoad() {
	tok, err := tokenizer.Load("testdata/bert-base-uncased.json")
	if err != nil {
		log.Fatal(err)
	}
	e, err := tok.EncodePair("Who wrote Hamlet?", "Shakespeare.")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Tokens)
	fmt.Println(e.IDs)
	fmt.Println(e.TypeIDs)
	text, _ := tok.DecodeWith(e.IDs, true)
	fmt.Println(text)
	// Output:
	// [[CLS] who wrote hamlet ? [SEP] shakespeare . [SEP]]
	// [101 2040 2626 8429 1029 102 8101 1012 102]
	// [0 0 0 0 0 0 1 1 1]
	// who wrote hamlet? shakespeare.
}

func ExampleBPETrainer() {
	text := "low lower lowest newer newest wider wide\n"
	tr := &tokenizer.BPETrainer{VocabSize: 30}
	tok, err := tr.Train(strings.NewReader(text))
	if err != nil {
		log.Fatal(err)
	}
	e, _ := tok.Encode("lowest newest")
	fmt.Println(e.Tokens)
	// Output:
	// [lowest newest]
}

func ExampleChars() {
	c := tokenizer.NewChars("hello world")
	e, _ := c.Encode("hello")
	fmt.Println(c.VocabSize(), e.IDs)
	// Output:
	// 8 [3 2 4 4 5]
}

func ExampleChatTemplate() {
	// A model folder's template is read by tokenizer.OpenChatTemplate(dir);
	// this one is ChatML, as Qwen's models use it.
	chat, err := tokenizer.ParseChatTemplate(`{%- for m in messages %}
{{- '<|im_start|>' + m.role + '\n' + m.content + '<|im_end|>\n' }}
{%- endfor %}
{%- if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}`, map[string]string{"eos_token": "<|im_end|>"})
	if err != nil {
		log.Fatal(err)
	}
	text, err := chat.Render([]tokenizer.Message{
		{Role: "system", Content: "Answer briefly."},
		{Role: "user", Content: "What is the capital of France?"},
	}, true)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(text)
	// Output:
	// <|im_start|>system
	// Answer briefly.<|im_end|>
	// <|im_start|>user
	// What is the capital of France?<|im_end|>
	// <|im_start|>assistant
}
