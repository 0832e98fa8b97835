package tokenizer

import (
	"strings"
	"testing"
)

// TestParseErrors checks that malformed files give an error naming the
// field at fault.
func TestParseErrors(t *testing.T) {
	const wl = `"model":{"type":"WordLevel","vocab":{"a":0,"[UNK]":1},"unk_token":"[UNK]"}`
	tests := []struct{ in, want string }{
		{`not json`, "not a tokenizer.json"},
		{`{}`, `field "model" is missing`},
		{`{"model":{"type":"Magic"}}`, `model: unsupported type "Magic"`},
		{`{"model":{"type":"BPE","merges":[]}}`, `model: field "vocab" is missing`},
		{`{"model":{"type":"BPE","vocab":{"a":0},"merges":["a b c"]}}`, `model.merges[0]: "a b c"`},
		{`{"model":{"type":"BPE","vocab":{"a":0},"merges":[["a","b"]]}}`, `merges[0]: token "b" is not in the vocab`},
		{`{"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":[["a","b"]]}}`, `merged token "ab" is not in the vocab`},
		{`{"model":{"type":"BPE","vocab":{"a":-3},"merges":[]}}`, `negative id`},
		{`{"model":{"type":"BPE","vocab":{"a":0},"merges":[],"dropout":2}}`, `model.dropout`},
		{`{"model":{"type":"Unigram","vocab":[["a",0]],"unk_id":4}}`, `unk_id 4 is outside`},
		{`{"model":{"type":"Unigram","vocab":[["a"]]}}`, `model.vocab[0]: want [piece, score]`},
		{`{"model":{"type":"WordPiece","vocab":{"a":"x"}}}`, `model.vocab`},
		{`{"normalizer":{"type":"Bogus"},` + wl + `}`, `normalizer: unsupported type "Bogus"`},
		{`{"normalizer":{"lowercase":true},` + wl + `}`, `normalizer: field "type" is missing`},
		{`{"normalizer":{"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"Replace","content":"x"}]},` + wl + `}`, `normalizer.normalizers[1]: field "pattern" is missing`},
		{`{"normalizer":{"type":"Replace","pattern":{"Regex":"(?!x)"},"content":""},` + wl + `}`, `normalizer.pattern: regex "(?!x)" is not supported`},
		{`{"normalizer":{"type":"Precompiled","precompiled_charsmap":"!!"},` + wl + `}`, `precompiled_charsmap: not base64`},
		{`{"normalizer":{"type":"Precompiled","precompiled_charsmap":"AQAAAA=="},` + wl + `}`, `precompiled_charsmap: trie size`},
		{`{"pre_tokenizer":{"type":"Metaspace","prepend_scheme":"sometimes"},` + wl + `}`, `pre_tokenizer.prepend_scheme: unknown value "sometimes"`},
		{`{"pre_tokenizer":{"type":"Metaspace","replacement":"ab"},` + wl + `}`, `pre_tokenizer.replacement: "ab" is not a single character`},
		{`{"pre_tokenizer":{"type":"Split","pattern":{"String":" "},"behavior":"Sideways"},` + wl + `}`, `pre_tokenizer.behavior: unknown value "Sideways"`},
		{`{"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Nope"}]},` + wl + `}`, `pre_tokenizer.pretokenizers[0]: unsupported type "Nope"`},
		{`{"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"[CLS]","type_id":0}}],"pair":[],"special_tokens":{}},` + wl + `}`, `special token "[CLS]" missing from special_tokens`},
		{`{"post_processor":{"type":"TemplateProcessing","single":[{"Sequence":{"id":"C","type_id":0}}],"pair":[]},` + wl + `}`, `post_processor.single[0].Sequence.id: "C"`},
		{`{"post_processor":{"type":"BertProcessing","sep":["[SEP]"],"cls":["[CLS]",1]},` + wl + `}`, `post_processor.sep: want [token, id]`},
		{`{"post_processor":{"type":"Sequence","processors":[{"type":"Magic"}]},` + wl + `}`, `post_processor.processors[0]: unsupported type "Magic"`},
		{`{"post_processor":{"type":"Sequence","processors":[{"type":"BertProcessing","sep":["[SEP]",1],"cls":["[CLS]",0]},{"type":"RobertaProcessing","sep":["</s>",1],"cls":["<s>",0]}]},` + wl + `}`, `post_processor: more than one processor that adds special tokens`},
		{`{"decoder":{"type":"Strip","start":"x"},` + wl + `}`, `decoder (Strip)`},
		{`{"decoder":{"type":"Sequence","decoders":[{"type":"ByteLevel"},{"type":"Nope"}]},` + wl + `}`, `decoder.decoders[1]: unsupported type "Nope"`},
		{`{"truncation":{"max_length":4,"strategy":"Middle"},` + wl + `}`, `truncation.strategy: unknown value "Middle"`},
		{`{"padding":{"strategy":{"Fixed":-1}},` + wl + `}`, `padding.strategy`},
		{`{"added_tokens":[{"id":0,"content":""}],` + wl + `}`, `added_tokens[0]: empty content`},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%s) error = %v; want one containing %q", tt.in, err, tt.want)
		}
	}
}

// TestEncodeErrors checks errors at encode and decode time.
func TestEncodeErrors(t *testing.T) {
	tok, err := Parse([]byte(`{"model":{"type":"WordLevel","vocab":{"a":0}},"pre_tokenizer":{"type":"Whitespace"},
		"truncation":{"max_length":1,"strategy":"OnlySecond"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Encode("b"); err == nil || !strings.Contains(err.Error(), `"b" is not in the vocab`) {
		t.Errorf("Encode(b) error = %v", err)
	}
	if _, err := tok.Encode("a a"); err == nil || !strings.Contains(err.Error(), "OnlySecond needs a pair") {
		t.Errorf("Encode(a a) error = %v", err)
	}
	if _, err := tok.Decode([]int{0, 7}); err == nil || !strings.Contains(err.Error(), "ids[1] = 7") {
		t.Errorf("Decode([0 7]) error = %v", err)
	}
}
