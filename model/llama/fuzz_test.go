package llama

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzConfig: any config.json either fails to read or validate with an
// error, or builds a model that runs a prompt and a cached step without
// panicking (sizes are capped so a run stays small).
func FuzzConfig(f *testing.F) {
	for _, name := range []string{"llama-tiny", "qwen2-tiny", "gemma3-tiny", "gemma2-tiny", "smollm3-tiny", "mistral-tiny", "phi3-tiny-longrope", "granitemoeshared-tiny", "qwen2moe-tiny", "olmo2-tiny", "mixtral-tiny", "embeddinggemma-tiny", "gptoss-tiny"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "hf", name, "config.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Config
		if json.Unmarshal(b, &c) != nil || c.Validate() != nil {
			return
		}
		if c.VocabSize > 512 || c.Hidden > 128 || c.Heads > 16 || c.headDim() > 64 || c.Layers > 4 || c.Intermediate > 256 ||
			c.Experts > 8 || c.ExpertIntermediate > 256 || c.SharedIntermediate > 256 || c.MaxPositions > 4096 {
			return
		}
		m, err := New(c, 1)
		if err != nil {
			return
		}
		ids := []int{0, c.VocabSize - 1, c.VocabSize / 2}
		if _, err := m.Hidden(ids); err != nil {
			return
		}
		if c.Bidirectional {
			return
		}
		cache := m.NewCache()
		if _, err := cache.Next(ids); err != nil {
			return
		}
		cache.Next(ids[:1])
	})
}
