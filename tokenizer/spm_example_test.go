package tokenizer_test

import (
	"fmt"
	"log"

	"github.com/attn-go/attn/tokenizer"
)

func ExampleLoadSentencePiece() {
	// A unigram model with byte fallback and the user-defined pieces
	// "<sep>" and "Hund".
	tok, err := tokenizer.LoadSentencePiece("testdata/spm/unigram-bytes.model")
	if err != nil {
		log.Fatal(err)
	}
	e, err := tok.Encode("Zwei Hunde <sep> spielen im Schnee ❄")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", e.Tokens)
	fmt.Println(e.IDs)
	text, _ := tok.Decode(e.IDs)
	fmt.Println(text)
	// Output:
	// ["▁Zwei" "▁" "Hund" "e" "▁" "<sep>" "▁spielen" "▁im" "▁Sch" "n" "e" "e" "▁" "<0xE2>" "<0x9D>" "<0x84>"]
	// [333 263 5 266 263 4 526 329 385 270 266 266 263 233 164 139]
	// Zwei Hunde <sep> spielen im Schnee ❄
}
