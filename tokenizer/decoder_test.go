package tokenizer

import (
	"strings"
	"testing"
)

// TestDecoders checks each decoder on edge cases; the expected texts are what
// HuggingFace's decoders return for the same tokens (npm tokenizers 0.23.2).
func TestDecoders(t *testing.T) {
	tests := []struct {
		json   string
		tokens []string
		want   string
	}{
		{`{"type":"BPEDecoder","suffix":"</w>"}`, []string{"hel", "lo</w>", "wor", "ld</w>", "!</w>"}, "hello world !"},
		{`{"type":"BPEDecoder","suffix":"</w>"}`, []string{"a</w>b", "c</w>"}, "a bc"},
		{`{"type":"WordPiece","prefix":"##","cleanup":true}`, []string{"hello", "##world", ",", "do", "not", "'", "s", "##s", "."}, "helloworld, do not ' ss."},
		{`{"type":"WordPiece","prefix":"##","cleanup":false}`, []string{"##a", "b", "##c", " ##d"}, "##a bc  ##d"},
		{`{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true}`, []string{"▁▁hey", "▁there", "▁", "x▁y"}, "hey there x y"},
		{`{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":true}`, []string{"▁hey", "▁there"}, "hey there"},
		{`{"type":"Metaspace","replacement":"▁","prepend_scheme":"never","split":true}`, []string{"▁hey", "▁there"}, " hey there"},
		{`{"type":"ByteFallback"}`, []string{"<0x61>", "<0xE2>", "<0x96>", "<0x81>", "x", "<0xFF>", "<0x62>", "<0xzz>", "<0x4>"}, "a▁x\uFFFD\uFFFD<0xzz><0x4>"},
		{`{"type":"Fuse"}`, []string{"a", "b", " c"}, "ab c"},
		{`{"type":"Strip","content":" ","start":1,"stop":2}`, []string{"  a  ", "b", "x  ", " y"}, " abxy"},
		{`{"type":"Replace","pattern":{"String":"▁"},"content":" "}`, []string{"▁a▁▁b", "c"}, " a  bc"},
		{`{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]}`,
			[]string{"▁Hello", "▁", "<0xE2>", "<0x82>", "<0xAC>", "!"}, "Hello €!"},
	}
	for _, tt := range tests {
		d, err := parseDecoder([]byte(tt.json), "decoder")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(d.decodeChain(tt.tokens), ""); got != tt.want {
			t.Errorf("%s on %q = %q; want %q", tt.json, tt.tokens, got, tt.want)
		}
	}
}
