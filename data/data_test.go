package data

import (
	"testing"

	"github.com/attn-go/attn/tensor"
)

func TestShakespeareEmbedded(t *testing.T) {
	seen := map[rune]bool{}
	for _, r := range Shakespeare {
		seen[r] = true
	}
	if len(Shakespeare) != 1115394 || len(seen) != 65 {
		t.Fatalf("Tiny Shakespeare: %d bytes, %d characters; want 1115394 and 65", len(Shakespeare), len(seen))
	}
	train, val := Split([]byte(Shakespeare), 0.9)
	if len(train) != 1003854 || len(val) != 111540 {
		t.Errorf("Split = %d / %d characters; want nanoGPT's 1003854 / 111540", len(train), len(val))
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
