package tokenizer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Load reads a HuggingFace tokenizer.json file.
func Load(path string) (*Pipeline, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return t, nil
}

// fileJSON is the layout of tokenizer.json.
type fileJSON struct {
	Version       string          `json:"version"`
	Truncation    json.RawMessage `json:"truncation"`
	Padding       json.RawMessage `json:"padding"`
	AddedTokens   []AddedToken    `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         json.RawMessage `json:"model"`
}

// Parse reads the contents of a HuggingFace tokenizer.json, in the older
// (merges as "a b" strings, legacy Metaspace) or newer layout.
func Parse(data []byte) (*Pipeline, error) {
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not a tokenizer.json: %w", err)
	}
	if isNull(f.Model) {
		return nil, fmt.Errorf("field \"model\" is missing")
	}
	t := &Pipeline{raw: rawParts{}}
	var err error
	if t.normalizer, err = parseNormalizer(f.Normalizer, "normalizer"); err != nil {
		return nil, err
	}
	if t.pre, err = parsePreTokenizer(f.PreTokenizer, "pre_tokenizer"); err != nil {
		return nil, err
	}
	if t.model, err = parseModel(f.Model); err != nil {
		return nil, err
	}
	if t.post, err = parsePostProcessor(f.PostProcessor, "post_processor"); err != nil {
		return nil, err
	}
	if t.dec, err = parseDecoder(f.Decoder, "decoder"); err != nil {
		return nil, err
	}
	if t.Truncation, err = parseTruncation(f.Truncation); err != nil {
		return nil, err
	}
	if t.Padding, err = parsePadding(f.Padding); err != nil {
		return nil, err
	}
	for i, a := range f.AddedTokens {
		if a.Content == "" {
			return nil, fmt.Errorf("added_tokens[%d]: empty content", i)
		}
		if a.ID < 0 {
			return nil, fmt.Errorf("added_tokens[%d] %q: negative id %d", i, a.Content, a.ID)
		}
	}
	t.added = newAddedVocab(nil, t.normalizer)
	t.AddTokens(f.AddedTokens...)
	t.raw = rawParts{normalizer: f.Normalizer, pre: f.PreTokenizer, post: f.PostProcessor, dec: f.Decoder}
	return t, nil
}

func isNull(m json.RawMessage) bool {
	m = bytes.TrimSpace(m)
	return len(m) == 0 || string(m) == "null"
}

// object splits a JSON object into its fields and returns its "type".
func object(m json.RawMessage, where string) (map[string]json.RawMessage, string, error) {
	var o map[string]json.RawMessage
	if err := json.Unmarshal(m, &o); err != nil {
		return nil, "", fmt.Errorf("%s: want an object: %w", where, err)
	}
	var typ string
	if t, ok := o["type"]; ok {
		if err := json.Unmarshal(t, &typ); err != nil {
			return nil, "", fmt.Errorf("%s.type: want a string: %w", where, err)
		}
	}
	return o, typ, nil
}

// field decodes o[name] into v if present; required fields must be there.
func field(o map[string]json.RawMessage, name string, v any, where string, required bool) error {
	m, ok := o[name]
	if !ok || isNull(m) {
		if required {
			return fmt.Errorf("%s: field %q is missing", where, name)
		}
		return nil
	}
	if err := json.Unmarshal(m, v); err != nil {
		return fmt.Errorf("%s.%s: %w", where, name, err)
	}
	return nil
}

// patternSpec is a split or replace pattern: {"String": s} or {"Regex": r}.
type patternSpec struct {
	String *string `json:"String,omitempty"`
	Regex  *string `json:"Regex,omitempty"`
}

func (p patternSpec) compile(where string) (pattern, error) {
	switch {
	case p.String != nil:
		return stringPattern(*p.String), nil
	case p.Regex != nil:
		if *p.Regex == gpt2Regex {
			return gpt2Split{}, nil
		}
		src, lookahead := *p.Regex, strings.HasSuffix(*p.Regex, "|"+spaceRunRegex)
		if lookahead { // the last alternatives (see spaceRunPattern)
			src = strings.TrimSuffix(src, spaceRunRegex) + `(?P<run>\s+)`
		}
		rewritten, err := rewriteRegex(src)
		if err != nil {
			return nil, fmt.Errorf("%s.pattern: regex %q is not supported: %w", where, *p.Regex, err)
		}
		re, err := regexp.Compile(rewritten)
		if err != nil {
			return nil, fmt.Errorf("%s.pattern: regex %q is not supported (Go RE2 syntax, no look-around): %w", where, *p.Regex, err)
		}
		if lookahead {
			shared, windowed := windowSafe[*p.Regex]
			return spaceRunPattern{re, re.SubexpIndex("run"), windowed, shared}, nil
		}
		return regexPattern{re}, nil
	}
	return nil, fmt.Errorf("%s.pattern: want {\"String\": ...} or {\"Regex\": ...}", where)
}

// gpt2Regex is GPT-2's pre-tokenization regex as tokenizer.json files spell it.
const gpt2Regex = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

func parseNormalizer(m json.RawMessage, where string) (normalizer, error) {
	if isNull(m) {
		return nil, nil
	}
	o, typ, err := object(m, where)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "BertNormalizer":
		b := &bertNormalizer{CleanText: true, HandleChineseChars: true, Lowercase: true}
		if err := json.Unmarshal(m, b); err != nil {
			return nil, fmt.Errorf("%s (BertNormalizer): %w", where, err)
		}
		return b, nil
	case "NFC":
		return unicodeNormalizer{norm.NFC}, nil
	case "NFD":
		return unicodeNormalizer{norm.NFD}, nil
	case "NFKC":
		return unicodeNormalizer{norm.NFKC}, nil
	case "NFKD":
		return unicodeNormalizer{norm.NFKD}, nil
	case "Lowercase":
		return lowercaseNormalizer{}, nil
	case "StripAccents":
		return stripAccentsNormalizer{}, nil
	case "Strip":
		s := &stripNormalizer{}
		if err := json.Unmarshal(m, s); err != nil {
			return nil, fmt.Errorf("%s (Strip): %w", where, err)
		}
		return s, nil
	case "Nmt":
		return nmtNormalizer{}, nil
	case "Prepend":
		var p string
		if err := field(o, "prepend", &p, where, true); err != nil {
			return nil, err
		}
		return &prependNormalizer{p}, nil
	case "Replace":
		var spec patternSpec
		var content string
		if err := field(o, "pattern", &spec, where, true); err != nil {
			return nil, err
		}
		if err := field(o, "content", &content, where, true); err != nil {
			return nil, err
		}
		p, err := spec.compile(where)
		if err != nil {
			return nil, err
		}
		return &replaceNormalizer{pat: p, content: content}, nil
	case "Precompiled":
		var s string
		if err := field(o, "precompiled_charsmap", &s, where, true); err != nil {
			return nil, err
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%s.precompiled_charsmap: not base64: %w", where, err)
		}
		p, err := parsePrecompiled(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		return p, nil
	case "Sequence":
		seq, err := parseList(o, "normalizers", where, parseNormalizer)
		if err != nil {
			return nil, err
		}
		return sequenceNormalizer(seq), nil
	case "":
		return nil, fmt.Errorf("%s: field \"type\" is missing", where)
	}
	return nil, fmt.Errorf("%s: unsupported type %q", where, typ)
}

func parseByteLevel(m json.RawMessage, where string) (byteLevelPre, error) {
	b := byteLevelPre{AddPrefixSpace: true, TrimOffsets: true, UseRegex: true}
	if err := json.Unmarshal(m, &b); err != nil {
		return b, fmt.Errorf("%s (ByteLevel): %w", where, err)
	}
	return b, nil
}

func parseMetaspace(o map[string]json.RawMessage, where string) (metaspacePre, error) {
	m := metaspacePre{Replacement: '▁', PrependScheme: prependAlways, Split: true}
	var rep string
	if err := field(o, "replacement", &rep, where, false); err != nil {
		return m, err
	}
	if rep != "" {
		r, n := utf8.DecodeRuneInString(rep)
		if n != len(rep) {
			return m, fmt.Errorf("%s.replacement: %q is not a single character", where, rep)
		}
		m.Replacement = r
	}
	if _, ok := o["prepend_scheme"]; ok {
		var s string
		if err := field(o, "prepend_scheme", &s, where, false); err != nil {
			return m, err
		}
		switch prependScheme(s) {
		case prependAlways, prependNever, prependFirst:
			m.PrependScheme = prependScheme(s)
		default:
			return m, fmt.Errorf("%s.prepend_scheme: unknown value %q", where, s)
		}
	} else if _, ok := o["add_prefix_space"]; ok {
		var a bool
		if err := field(o, "add_prefix_space", &a, where, false); err != nil {
			return m, err
		}
		if !a {
			m.PrependScheme = prependNever
		}
	}
	if err := field(o, "split", &m.Split, where, false); err != nil {
		return m, err
	}
	return m, nil
}

func parseBehavior(o map[string]json.RawMessage, where string) (splitBehavior, error) {
	var s string
	if err := field(o, "behavior", &s, where, false); err != nil {
		return 0, err
	}
	if s == "" {
		return splitIsolated, nil
	}
	b, ok := splitBehaviorNames[s]
	if !ok {
		return 0, fmt.Errorf("%s.behavior: unknown value %q", where, s)
	}
	return b, nil
}

func parsePreTokenizer(m json.RawMessage, where string) (preTokenizer, error) {
	if isNull(m) {
		return nil, nil
	}
	o, typ, err := object(m, where)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "ByteLevel":
		b, err := parseByteLevel(m, where)
		return &b, err
	case "BertPreTokenizer":
		return bertPre{}, nil
	case "Whitespace":
		return whitespacePre{}, nil
	case "WhitespaceSplit":
		return whitespaceSplitPre{}, nil
	case "Metaspace":
		ms, err := parseMetaspace(o, where)
		return &ms, err
	case "Split":
		var spec patternSpec
		if err := field(o, "pattern", &spec, where, true); err != nil {
			return nil, err
		}
		p, err := spec.compile(where)
		if err != nil {
			return nil, err
		}
		s := &splitPre{pat: p}
		if s.behavior, err = parseBehavior(o, where); err != nil {
			return nil, err
		}
		if err := field(o, "invert", &s.invert, where, false); err != nil {
			return nil, err
		}
		return s, nil
	case "Punctuation":
		b, err := parseBehavior(o, where)
		return &punctuationPre{b}, err
	case "Digits":
		d := &digitsPre{}
		err := field(o, "individual_digits", &d.Individual, where, false)
		return d, err
	case "Sequence":
		seq, err := parseList(o, "pretokenizers", where, parsePreTokenizer)
		if err != nil {
			return nil, err
		}
		return sequencePre(seq), nil
	case "":
		return nil, fmt.Errorf("%s: field \"type\" is missing", where)
	}
	return nil, fmt.Errorf("%s: unsupported type %q", where, typ)
}

func parseSpecialPair(o map[string]json.RawMessage, name, where string) (specialPair, error) {
	var raw []json.RawMessage
	if err := field(o, name, &raw, where, true); err != nil {
		return specialPair{}, err
	}
	var p specialPair
	if len(raw) != 2 || json.Unmarshal(raw[0], &p.Token) != nil || json.Unmarshal(raw[1], &p.ID) != nil {
		return p, fmt.Errorf("%s.%s: want [token, id]", where, name)
	}
	return p, nil
}

func parsePostProcessor(m json.RawMessage, where string) (postProcessor, error) {
	if isNull(m) {
		return nil, nil
	}
	o, typ, err := object(m, where)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "TemplateProcessing":
		t := &templateProcessor{}
		for _, name := range []string{"single", "pair"} {
			var pieces []map[string]struct {
				ID     string `json:"id"`
				TypeID int    `json:"type_id"`
			}
			if err := field(o, name, &pieces, where, true); err != nil {
				return nil, err
			}
			var tpl []templatePiece
			for i, p := range pieces {
				if s, ok := p["Sequence"]; ok {
					if s.ID != "A" && s.ID != "B" {
						return nil, fmt.Errorf("%s.%s[%d].Sequence.id: %q, want A or B", where, name, i, s.ID)
					}
					tpl = append(tpl, templatePiece{Sequence: s.ID, TypeID: s.TypeID})
				} else if s, ok := p["SpecialToken"]; ok {
					tpl = append(tpl, templatePiece{Special: s.ID, TypeID: s.TypeID})
				} else {
					return nil, fmt.Errorf("%s.%s[%d]: want Sequence or SpecialToken", where, name, i)
				}
			}
			if name == "single" {
				t.single = tpl
			} else {
				t.pair = tpl
			}
		}
		if err := field(o, "special_tokens", &t.special, where, false); err != nil {
			return nil, err
		}
		if err := t.validate(); err != nil {
			return nil, err
		}
		return t, nil
	case "BertProcessing":
		sep, err := parseSpecialPair(o, "sep", where)
		if err != nil {
			return nil, err
		}
		cls, err := parseSpecialPair(o, "cls", where)
		if err != nil {
			return nil, err
		}
		return &bertProcessor{sep: sep, cls: cls}, nil
	case "RobertaProcessing":
		sep, err := parseSpecialPair(o, "sep", where)
		if err != nil {
			return nil, err
		}
		cls, err := parseSpecialPair(o, "cls", where)
		if err != nil {
			return nil, err
		}
		r := &robertaProcessor{sep: sep, cls: cls, trimOffsets: true, addPrefixSpace: true}
		if err := field(o, "trim_offsets", &r.trimOffsets, where, false); err != nil {
			return nil, err
		}
		if err := field(o, "add_prefix_space", &r.addPrefixSpace, where, false); err != nil {
			return nil, err
		}
		return r, nil
	case "ByteLevel":
		b, err := parseByteLevel(m, where)
		return &byteLevelProcessor{b}, err
	case "Sequence":
		seq, err := parseList(o, "processors", where, parsePostProcessor)
		if err != nil {
			return nil, err
		}
		adders := 0
		for _, p := range seq {
			if _, ok := p.(*byteLevelProcessor); !ok {
				if adders++; adders > 1 {
					return nil, fmt.Errorf("%s: more than one processor that adds special tokens is not supported", where)
				}
			}
		}
		return sequenceProcessor(seq), nil
	case "":
		return nil, fmt.Errorf("%s: field \"type\" is missing", where)
	}
	return nil, fmt.Errorf("%s: unsupported type %q", where, typ)
}

func parseDecoder(m json.RawMessage, where string) (decoder, error) {
	if isNull(m) {
		return nil, nil
	}
	o, typ, err := object(m, where)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "ByteLevel":
		b, err := parseByteLevel(m, where)
		return byteLevelDecoder{b}, err
	case "WordPiece":
		d := &wordPieceDecoder{Prefix: "##", Cleanup: true}
		if err := json.Unmarshal(m, d); err != nil {
			return nil, fmt.Errorf("%s (WordPiece): %w", where, err)
		}
		return d, nil
	case "Metaspace":
		ms, err := parseMetaspace(o, where)
		return &metaspaceDecoder{ms}, err
	case "ByteFallback":
		return byteFallbackDecoder{}, nil
	case "Fuse":
		return fuseDecoder{}, nil
	case "Strip":
		d := &stripDecoder{}
		if err := json.Unmarshal(m, d); err != nil {
			return nil, fmt.Errorf("%s (Strip): %w", where, err)
		}
		return d, nil
	case "Replace":
		var spec patternSpec
		var content string
		if err := field(o, "pattern", &spec, where, true); err != nil {
			return nil, err
		}
		if err := field(o, "content", &content, where, true); err != nil {
			return nil, err
		}
		p, err := spec.compile(where)
		if err != nil {
			return nil, err
		}
		return &replaceDecoder{pat: p, content: content}, nil
	case "BPEDecoder":
		d := &bpeDecoder{Suffix: "</w>"}
		err := field(o, "suffix", &d.Suffix, where, false)
		return d, err
	case "Sequence":
		seq, err := parseList(o, "decoders", where, parseDecoder)
		if err != nil {
			return nil, err
		}
		return sequenceDecoder(seq), nil
	case "":
		return nil, fmt.Errorf("%s: field \"type\" is missing", where)
	}
	return nil, fmt.Errorf("%s: unsupported type %q", where, typ)
}

// parseList reads o[key], a Sequence's list of components, with parse,
// keeping those that do something (parse returns nil for the others).
func parseList[T any](o map[string]json.RawMessage, key, where string, parse func(json.RawMessage, string) (T, error)) ([]T, error) {
	var list []json.RawMessage
	if err := field(o, key, &list, where, true); err != nil {
		return nil, err
	}
	var out []T
	for i, x := range list {
		c, err := parse(x, fmt.Sprintf("%s.%s[%d]", where, key, i))
		if err != nil {
			return nil, err
		}
		if any(c) != nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// parseMerges reads merges as "a b" strings (older files) or ["a", "b"] pairs.
func parseMerges(raw []json.RawMessage) ([][2]string, error) {
	out := make([][2]string, len(raw))
	for i, m := range raw {
		var s string
		if json.Unmarshal(m, &s) == nil {
			a, b, ok := strings.Cut(s, " ")
			if !ok || strings.Contains(b, " ") {
				return nil, fmt.Errorf("model.merges[%d]: %q is not two tokens separated by one space", i, s)
			}
			out[i] = [2]string{a, b}
			continue
		}
		var p []string
		if err := json.Unmarshal(m, &p); err != nil || len(p) != 2 {
			return nil, fmt.Errorf("model.merges[%d]: want \"a b\" or [\"a\", \"b\"]", i)
		}
		out[i] = [2]string{p[0], p[1]}
	}
	return out, nil
}

func parseModel(m json.RawMessage) (model, error) {
	const where = "model"
	o, typ, err := object(m, where)
	if err != nil {
		return nil, err
	}
	if typ == "" {
		// Older files leave the type out; HuggingFace tries each model in turn.
		switch {
		case o["merges"] != nil:
			typ = "BPE"
		case len(bytes.TrimSpace(o["vocab"])) > 0 && bytes.TrimSpace(o["vocab"])[0] == '[':
			typ = "Unigram"
		case o["max_input_chars_per_word"] != nil || o["continuing_subword_prefix"] != nil:
			typ = "WordPiece"
		default:
			typ = "WordLevel"
		}
	}
	switch typ {
	case "BPE":
		var vocab map[string]int
		var rawMerges []json.RawMessage
		if err := field(o, "vocab", &vocab, where, true); err != nil {
			return nil, err
		}
		if err := field(o, "merges", &rawMerges, where, false); err != nil {
			return nil, err
		}
		merges, err := parseMerges(rawMerges)
		if err != nil {
			return nil, err
		}
		var prefix string
		if err := field(o, "continuing_subword_prefix", &prefix, where, false); err != nil {
			return nil, err
		}
		b, err := newBPE(vocab, merges, prefix)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		for _, f := range []struct {
			name string
			v    any
		}{{"unk_token", &b.unk}, {"end_of_word_suffix", &b.suffix}, {"fuse_unk", &b.fuseUnk},
			{"byte_fallback", &b.byteFallback}, {"ignore_merges", &b.ignoreMerges}, {"dropout", &b.dropout}} {
			if err := field(o, f.name, f.v, where, false); err != nil {
				return nil, err
			}
		}
		if b.dropout != nil && (*b.dropout < 0 || *b.dropout > 1) {
			return nil, fmt.Errorf("%s.dropout: %v is outside [0, 1]", where, *b.dropout)
		}
		if b.dropout != nil && *b.dropout > 0 {
			// HF's tokenizers then skip merges at random on every encode.
			return nil, fmt.Errorf("%s.dropout: BPE dropout %v is not supported (set it to null to encode deterministically)", where, *b.dropout)
		}
		return b, nil
	case "WordPiece":
		w := &wordPieceModel{unk: "[UNK]", prefix: "##", maxChars: 100}
		var vocab map[string]int
		if err := field(o, "vocab", &vocab, where, true); err != nil {
			return nil, err
		}
		if w.vocabulary, err = newVocabulary(vocab); err != nil {
			return nil, fmt.Errorf("%s.%w", where, err)
		}
		for _, f := range []struct {
			name string
			v    any
		}{{"unk_token", &w.unk}, {"continuing_subword_prefix", &w.prefix}, {"max_input_chars_per_word", &w.maxChars}} {
			if err := field(o, f.name, f.v, where, false); err != nil {
				return nil, err
			}
		}
		return w, nil
	case "WordLevel":
		w := &wordLevelModel{}
		var vocab map[string]int
		if err := field(o, "vocab", &vocab, where, true); err != nil {
			return nil, err
		}
		if w.vocabulary, err = newVocabulary(vocab); err != nil {
			return nil, fmt.Errorf("%s.%w", where, err)
		}
		if err := field(o, "unk_token", &w.unk, where, false); err != nil {
			return nil, err
		}
		return w, nil
	case "Unigram":
		var raw [][]json.RawMessage
		if err := field(o, "vocab", &raw, where, true); err != nil {
			return nil, err
		}
		pieces := make([]unigramPiece, len(raw))
		for i, r := range raw {
			if len(r) != 2 || json.Unmarshal(r[0], &pieces[i].Piece) != nil || json.Unmarshal(r[1], &pieces[i].Score) != nil {
				return nil, fmt.Errorf("%s.vocab[%d]: want [piece, score]", where, i)
			}
		}
		unk := -1
		if err := field(o, "unk_id", &unk, where, false); err != nil {
			return nil, err
		}
		if unk < -1 {
			return nil, fmt.Errorf("%s.unk_id: %d is negative", where, unk)
		}
		var bf bool
		if err := field(o, "byte_fallback", &bf, where, false); err != nil {
			return nil, err
		}
		u, err := newUnigram(pieces, unk, bf)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		return u, nil
	}
	return nil, fmt.Errorf("%s: unsupported type %q", where, typ)
}

func parseTruncation(m json.RawMessage) (*Truncation, error) {
	if isNull(m) {
		return nil, nil
	}
	t := &Truncation{Strategy: "LongestFirst", Direction: "Right"}
	if err := json.Unmarshal(m, t); err != nil {
		return nil, fmt.Errorf("truncation: %w", err)
	}
	switch {
	case t.MaxLength < 0:
		return nil, fmt.Errorf("truncation.max_length: %d is negative", t.MaxLength)
	case t.Direction != "Right" && t.Direction != "Left":
		return nil, fmt.Errorf("truncation.direction: %q, want Right or Left", t.Direction)
	case t.Strategy != "LongestFirst" && t.Strategy != "OnlyFirst" && t.Strategy != "OnlySecond":
		return nil, fmt.Errorf("truncation.strategy: unknown value %q", t.Strategy)
	}
	return t, nil
}

func parsePadding(m json.RawMessage) (*Padding, error) {
	if isNull(m) {
		return nil, nil
	}
	var j struct {
		Strategy  json.RawMessage `json:"strategy"`
		Direction string          `json:"direction"`
		Multiple  *int            `json:"pad_to_multiple_of"`
		PadID     int             `json:"pad_id"`
		PadTypeID int             `json:"pad_type_id"`
		PadToken  string          `json:"pad_token"`
	}
	j.Direction = "Right"
	if err := json.Unmarshal(m, &j); err != nil {
		return nil, fmt.Errorf("padding: %w", err)
	}
	p := &Padding{Direction: j.Direction, PadID: j.PadID, PadTypeID: j.PadTypeID, PadToken: j.PadToken}
	if j.Multiple != nil {
		p.PadToMultiple = *j.Multiple
	}
	var s string
	if json.Unmarshal(j.Strategy, &s) == nil {
		if s != "BatchLongest" {
			return nil, fmt.Errorf("padding.strategy: unknown value %q", s)
		}
	} else {
		var fx struct {
			Fixed *int `json:"Fixed"`
		}
		if err := json.Unmarshal(j.Strategy, &fx); err != nil || fx.Fixed == nil || *fx.Fixed < 0 {
			return nil, fmt.Errorf("padding.strategy: want \"BatchLongest\" or {\"Fixed\": n}")
		}
		p.Fixed = *fx.Fixed
	}
	if p.Direction != "Right" && p.Direction != "Left" {
		return nil, fmt.Errorf("padding.direction: %q, want Right or Left", p.Direction)
	}
	if p.PadToMultiple < 0 {
		return nil, fmt.Errorf("padding.pad_to_multiple_of: %d is negative", p.PadToMultiple)
	}
	return p, nil
}

// sortedByID returns a vocabulary's tokens ordered by id.
func sortedByID(v map[string]int) []string {
	out := make([]string, 0, len(v))
	for k := range v {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return v[out[i]] < v[out[j]] })
	return out
}
