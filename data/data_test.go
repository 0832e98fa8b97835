package data

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/attn-go/attn/tensor"
)

func TestShakespeareEmbedded(t *testing.T) {
	c := NewChars(Shakespeare)
	if len(Shakespeare) != 1115394 || c.VocabSize() != 65 {
		t.Fatalf("Tiny Shakespeare: %d bytes, %d characters; want 1115394 and 65", len(Shakespeare), c.VocabSize())
	}
	ids, err := c.Encode(Shakespeare)
	if err != nil {
		t.Fatal(err)
	}
	train, val := Split(ids, 0.9)
	if len(train) != 1003854 || len(val) != 111540 {
		t.Errorf("Split = %d / %d tokens; want nanoGPT's 1003854 / 111540", len(train), len(val))
	}
}

func TestCharsRoundTrip(t *testing.T) {
	c := NewChars("hello, wörld\n")
	ids, err := c.Encode("low\nhö")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Decode(ids); got != "low\nhö" {
		t.Errorf("Decode(Encode(x)) = %q", got)
	}
	if _, err := c.Encode("hi!"); err == nil || !strings.Contains(err.Error(), `'i' at byte 1`) {
		t.Errorf("Encode of an unknown character: err = %v", err)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back Chars
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Decode(ids) != "low\nhö" || back.VocabSize() != c.VocabSize() {
		t.Errorf("tokenizer.json round trip lost the vocabulary: %s", b)
	}
	for _, bad := range []string{`{"model":{"type":"WordPiece","vocab":{}}}`, `{"model":{"type":"BPE","vocab":{"ab":0}}}`, `{"model":{"type":"BPE","vocab":{"a":3}}}`, `[`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("Unmarshal(%s) succeeded; want an error", bad)
		}
	}
}

func TestCopyTask(t *testing.T) {
	task := CopyTask{Symbols: 5, Len: 6, Reverse: true}
	src, tgt := task.Sample(tensor.NewRNG(3))
	for i := range src {
		if src[i] < First || src[i] >= task.Vocab() || tgt[len(tgt)-1-i] != src[i] {
			t.Fatalf("reverse task: src %v, tgt %v", src, tgt)
		}
	}
}
