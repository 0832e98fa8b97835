package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/attn-go/attn/internal/atomicfile"
)

// Save writes the tokenizer as a HuggingFace tokenizer.json (the newer
// layout: typed model, merges as pairs), atomically.
func (t *Pipeline) Save(path string) error {
	b, err := t.MarshalJSON()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, b); err != nil {
		return fmt.Errorf("tokenizer: save: %w", err)
	}
	return nil
}

// MarshalJSON returns the tokenizer.json contents.
func (t *Pipeline) MarshalJSON() ([]byte, error) {
	model, err := modelJSON(t.model)
	if err != nil {
		return nil, err
	}
	added := append([]AddedToken(nil), t.added.tokens...)
	sort.SliceStable(added, func(i, j int) bool { return added[i].ID < added[j].ID })
	f := fileJSON{
		Version:       "1.0",
		Truncation:    truncationJSON(t.Truncation),
		Padding:       paddingJSON(t.Padding),
		AddedTokens:   added,
		Normalizer:    orNull(t.raw.normalizer),
		PreTokenizer:  orNull(t.raw.pre),
		PostProcessor: orNull(t.raw.post),
		Decoder:       orNull(t.raw.dec),
		Model:         model,
	}
	if f.AddedTokens == nil {
		f.AddedTokens = []AddedToken{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func orNull(m json.RawMessage) json.RawMessage {
	if isNull(m) {
		return json.RawMessage("null")
	}
	return m
}

func truncationJSON(t *Truncation) json.RawMessage {
	if t == nil {
		return json.RawMessage("null")
	}
	return mustJSON(map[string]any{"direction": t.Direction, "max_length": t.MaxLength, "strategy": t.Strategy, "stride": t.Stride})
}

func paddingJSON(p *Padding) json.RawMessage {
	if p == nil {
		return json.RawMessage("null")
	}
	var strategy any = "BatchLongest"
	if p.Fixed > 0 {
		strategy = map[string]int{"Fixed": p.Fixed}
	}
	var multiple any
	if p.PadToMultiple > 0 {
		multiple = p.PadToMultiple
	}
	return mustJSON(map[string]any{"strategy": strategy, "direction": p.Direction, "pad_to_multiple_of": multiple,
		"pad_id": p.PadID, "pad_type_id": p.PadTypeID, "pad_token": p.PadToken})
}

// orderedVocab marshals a vocabulary as a JSON object in id order, as
// HuggingFace writes it.
type orderedVocab map[string]int

// MarshalJSON writes the vocabulary in id order.
func (v orderedVocab) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, tok := range sortedByID(v) {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshalNoEscape(tok)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(v[tok]))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func modelJSON(m model) (json.RawMessage, error) {
	var v any
	switch m := m.(type) {
	case *bpeModel:
		j := bpeJSON(nil, m.mergeList, m)
		j["vocab"] = orderedVocab(m.ids)
		v = j
	case *wordPieceModel:
		v = map[string]any{"type": "WordPiece", "unk_token": m.unk, "continuing_subword_prefix": m.prefix,
			"max_input_chars_per_word": m.maxChars, "vocab": orderedVocab(m.ids)}
	case *wordLevelModel:
		v = map[string]any{"type": "WordLevel", "unk_token": m.unk, "vocab": orderedVocab(m.ids)}
	case *unigramModel:
		pieces := make([][2]any, len(m.pieces))
		for i, p := range m.pieces {
			pieces[i] = [2]any{p.Piece, p.Score}
		}
		var unk any
		if m.unkID >= 0 {
			unk = m.unkID
		}
		v = map[string]any{"type": "Unigram", "unk_id": unk, "vocab": pieces, "byte_fallback": m.byteFallback}
	case *spmModel:
		return nil, fmt.Errorf("tokenizer: save: a SentencePiece model cannot be written as tokenizer.json")
	default:
		return nil, fmt.Errorf("tokenizer: save: unknown model %T", m)
	}
	return marshalNoEscape(v)
}
