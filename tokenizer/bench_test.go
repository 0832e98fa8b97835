package tokenizer

import (
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"testing"
)

// benchTexts returns the benchmark inputs: English (tinyshakespeare's
// first 20 kB, repeated to 1 MB) and mixed-language text (the test corpus,
// repeated to 1 MB). ATTN_BENCH_FILE replaces them with one file, so that
// tools/tokgolden/bench.js can run attn and HuggingFace on the same input.
func benchTexts(b *testing.B) map[string]string {
	if p := os.Getenv("ATTN_BENCH_FILE"); p != "" {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		return map[string]string{"file": string(data)}
	}
	var c struct {
		Single []string `json:"single"`
	}
	if err := json.Unmarshal(readTestdata(b, "corpus.json"), &c); err != nil {
		b.Fatal(err)
	}
	grow := func(s string) string { return strings.Repeat(s, (1<<20)/len(s)+1)[:1<<20] }
	mixed := strings.ToValidUTF8(grow(strings.Join(c.Single, "\n")+"\n"), "")
	return map[string]string{"english": grow(string(readTestdata(b, "shakespeare-head.txt"))), "mixed": mixed}
}

// BenchmarkEncode measures encoding throughput in MB/s on one core (one
// Encode call on the whole text) and on all cores (EncodeBatch over lines).
func BenchmarkEncode(b *testing.B) {
	texts := benchTexts(b)
	for _, tk := range []struct{ name, file string }{{"gpt2", "gpt2.json"}, {"bert", "bert-base-uncased.json"}, {"t5", "t5.json"}} {
		tok, err := Parse(readTestdata(b, tk.file))
		if err != nil {
			b.Fatal(err)
		}
		for tname, text := range texts {
			lines := strings.SplitAfter(text, "\n")
			b.Run(tk.name+"/"+tname+"/1core", func(b *testing.B) {
				b.SetBytes(int64(len(text)))
				for i := 0; i < b.N; i++ {
					if _, err := tok.EncodeWith(text, nil, false); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(tk.name+"/"+tname+"/allcores", func(b *testing.B) {
				b.SetBytes(int64(len(text)))
				b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "cores")
				for i := 0; i < b.N; i++ {
					if _, err := tok.EncodeBatch(lines, false); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
