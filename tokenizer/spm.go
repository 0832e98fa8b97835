package tokenizer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
)

// LoadSentencePiece reads a SentencePiece model file (a serialized
// ModelProto: tokenizer.model, spiece.model, Marian's source.spm and
// target.spm) and returns a tokenizer that encodes and decodes exactly as
// SentencePiece's SentencePieceProcessor does.
func LoadSentencePiece(path string) (*Pipeline, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := ParseSentencePiece(b)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return t, nil
}

// ParseSentencePiece is LoadSentencePiece on the file's contents. Unigram and
// BPE models are supported, with their normalizer (precompiled rules, extra
// whitespace removal, dummy prefix, whitespace escaping), user-defined
// pieces, byte fallback and decoding rules. Encode gives the ids and pieces
// of sp.encode(text) (no <s> or </s> is added), Decode the text of
// sp.decode(ids). Offsets point into the input as SentencePiece's begin and
// end do, except that all byte pieces of one character span that character.
// Invalid UTF-8 is first replaced as by every Pipeline (one U+FFFD per
// maximal invalid sequence, where SentencePiece's C++ API writes one per
// byte). The result cannot be saved as a tokenizer.json.
func ParseSentencePiece(data []byte) (*Pipeline, error) { return parseSentencePiece(data, false) }

// parseSentencePiece is ParseSentencePiece, with the model's dummy prefix
// turned off when noDummyPrefix is set (as SiglipTokenizer loads it).
func parseSentencePiece(data []byte, noDummyPrefix bool) (*Pipeline, error) {
	mp, err := parseModelProto(data)
	if err != nil {
		return nil, fmt.Errorf("sentencepiece: %w", err)
	}
	if noDummyPrefix {
		mp.normalizer.addDummyPrefix = false
	}
	m, err := newSPMModel(mp)
	if err != nil {
		return nil, fmt.Errorf("sentencepiece: %w", err)
	}
	norm, err := newSPMNormalizer(&mp.normalizer, m.user, mp.trainer.treatWhitespaceAsSuffix)
	if err != nil {
		return nil, fmt.Errorf("sentencepiece: normalizer_spec (%q): %w", mp.normalizer.name, err)
	}
	dec := &spmDecoder{m: m, unkSurface: mp.trainer.unkSurface,
		stripSpace: mp.normalizer.addDummyPrefix || mp.normalizer.removeExtraWhitespaces,
		stripAll:   mp.normalizer.removeExtraWhitespaces}
	if d := mp.denormalizer; d != nil && len(d.precompiledCharsmap) > 0 {
		// SentencePiece applies the denormalizer only when it has rules.
		if dec.denorm, err = newSPMNormalizer(d, nil, false); err != nil {
			return nil, fmt.Errorf("sentencepiece: denormalizer_spec: %w", err)
		}
	}
	t := &Pipeline{normalizer: norm, model: m, dec: dec}
	t.added = newAddedVocab(nil, t.normalizer)
	return t, nil
}

// The protobuf messages of sentencepiece_model.proto, reduced to the fields
// encoding and decoding need. Field numbers are the .proto's.

// pieceType is ModelProto.SentencePiece.Type.
type pieceType int32

const (
	pieceNormal      pieceType = 1
	pieceUnknown     pieceType = 2
	pieceControl     pieceType = 3
	pieceUserDefined pieceType = 4
	pieceUnused      pieceType = 5
	pieceByte        pieceType = 6
)

// TrainerSpec.ModelType values.
const (
	modelUnigram = 1
	modelBPE     = 2
	modelWord    = 3
	modelChar    = 4
)

type spmPiece struct {
	piece string    // field 1
	score float32   // field 2
	typ   pieceType // field 3, default NORMAL
}

type trainerSpec struct {
	modelType               int32  // field 3, default UNIGRAM
	treatWhitespaceAsSuffix bool   // field 24
	byteFallback            bool   // field 35
	unkSurface              string // field 44, default " ⁇ "
}

type normalizerSpec struct {
	name                   string // field 1
	precompiledCharsmap    []byte // field 2
	addDummyPrefix         bool   // field 3, default true
	removeExtraWhitespaces bool   // field 4, default true
	escapeWhitespaces      bool   // field 5, default true
}

type modelProto struct {
	pieces       []spmPiece      // field 1
	trainer      trainerSpec     // field 2
	normalizer   normalizerSpec  // field 3
	denormalizer *normalizerSpec // field 5; nil when absent
}

func defaultNormalizerSpec() normalizerSpec {
	return normalizerSpec{addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true}
}

// parseModelProto decodes a ModelProto. As protobuf does, a message field
// that occurs twice is merged and a scalar that occurs twice keeps its last
// value; unknown fields are skipped.
func parseModelProto(data []byte) (*modelProto, error) {
	if len(data) == 0 {
		return nil, errors.New("empty model file")
	}
	mp := &modelProto{
		trainer:    trainerSpec{modelType: modelUnigram, unkSurface: " \u2047 "},
		normalizer: defaultNormalizerSpec(),
	}
	err := walkMessage(data, "ModelProto", func(f protoField) error {
		var err error
		switch f.num {
		case 1:
			var p spmPiece
			if p, err = parsePiece(f, len(mp.pieces)); err == nil {
				mp.pieces = append(mp.pieces, p)
			}
		case 2:
			err = parseTrainerSpec(f, &mp.trainer)
		case 3:
			err = parseNormalizerSpec(f, "normalizer_spec", &mp.normalizer)
		case 5:
			if mp.denormalizer == nil {
				d := defaultNormalizerSpec()
				mp.denormalizer = &d
			}
			err = parseNormalizerSpec(f, "denormalizer_spec", mp.denormalizer)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return mp, nil
}

func parsePiece(f protoField, i int) (spmPiece, error) {
	where := fmt.Sprintf("pieces[%d]", i)
	b, err := f.bytes(where)
	if err != nil {
		return spmPiece{}, err
	}
	p := spmPiece{typ: pieceNormal}
	err = walkMessage(b, where, func(f protoField) error {
		switch f.num {
		case 1:
			s, err := f.bytes(where + ".piece")
			p.piece = string(s)
			return err
		case 2:
			v, err := f.fixed32(where + ".score")
			p.score = math.Float32frombits(v)
			return err
		case 3:
			v, err := f.varint(where + ".type")
			if err != nil {
				return err
			}
			t := pieceType(int32(v))
			if t < pieceNormal || t > pieceByte {
				return fmt.Errorf("%s.type: unknown piece type %d", where, int32(v))
			}
			p.typ = t
		}
		return nil
	})
	return p, err
}

func parseTrainerSpec(f protoField, t *trainerSpec) error {
	const where = "trainer_spec"
	b, err := f.bytes(where)
	if err != nil {
		return err
	}
	return walkMessage(b, where, func(f protoField) error {
		switch f.num {
		case 3:
			v, err := f.varint(where + ".model_type")
			t.modelType = int32(v)
			return err
		case 24:
			v, err := f.varint(where + ".treat_whitespace_as_suffix")
			t.treatWhitespaceAsSuffix = v != 0
			return err
		case 35:
			v, err := f.varint(where + ".byte_fallback")
			t.byteFallback = v != 0
			return err
		case 44:
			s, err := f.bytes(where + ".unk_surface")
			t.unkSurface = string(s)
			return err
		}
		return nil
	})
}

func parseNormalizerSpec(f protoField, where string, n *normalizerSpec) error {
	b, err := f.bytes(where)
	if err != nil {
		return err
	}
	return walkMessage(b, where, func(f protoField) error {
		var err error
		var v uint64
		switch f.num {
		case 1:
			var s []byte
			s, err = f.bytes(where + ".name")
			n.name = string(s)
		case 2:
			n.precompiledCharsmap, err = f.bytes(where + ".precompiled_charsmap")
		case 3:
			v, err = f.varint(where + ".add_dummy_prefix")
			n.addDummyPrefix = v != 0
		case 4:
			v, err = f.varint(where + ".remove_extra_whitespaces")
			n.removeExtraWhitespaces = v != 0
		case 5:
			v, err = f.varint(where + ".escape_whitespaces")
			n.escapeWhitespaces = v != 0
		}
		return err
	})
}

// The protobuf wire format, as much of it as reading ModelProto needs.

// Wire types.
const (
	wireVarint     = 0
	wireFixed64    = 1
	wireBytes      = 2
	wireStartGroup = 3
	wireEndGroup   = 4
	wireFixed32    = 5
)

var wireNames = [...]string{"varint", "fixed64", "length-delimited", "start-group", "end-group", "fixed32", "6", "7"}

// protoField is one field of a message: its number, wire type and value
// (v for varint and fixed types, data for length-delimited ones).
type protoField struct {
	num  int
	wire int
	v    uint64
	data []byte
}

func (f protoField) want(where string, wire int) error {
	if f.wire != wire {
		return fmt.Errorf("%s: wire type %s, want %s", where, wireNames[f.wire], wireNames[wire])
	}
	return nil
}

func (f protoField) varint(where string) (uint64, error) { return f.v, f.want(where, wireVarint) }
func (f protoField) bytes(where string) ([]byte, error)  { return f.data, f.want(where, wireBytes) }
func (f protoField) fixed32(where string) (uint32, error) {
	return uint32(f.v), f.want(where, wireFixed32)
}

// maxGroupDepth bounds nested groups, which are only ever skipped.
const maxGroupDepth = 64

// walkMessage calls fn on each field of the message in b, in order, and
// skips groups (a deprecated encoding no field we read uses).
func walkMessage(b []byte, where string, fn func(protoField) error) error {
	r := protoReader{b: b, where: where}
	for r.pos < len(b) {
		f, err := r.field()
		if err != nil {
			return err
		}
		switch f.wire {
		case wireStartGroup:
			if err := r.skipGroup(f.num, 1); err != nil {
				return err
			}
			continue
		case wireEndGroup:
			return fmt.Errorf("%s: end-group for field %d without a start at byte %d", where, f.num, r.pos)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

type protoReader struct {
	b     []byte
	pos   int
	where string
}

func (r *protoReader) uvarint(what string) (uint64, error) {
	v, n := binary.Uvarint(r.b[r.pos:])
	switch {
	case n == 0:
		return 0, fmt.Errorf("%s: truncated %s at byte %d of %d", r.where, what, r.pos, len(r.b))
	case n < 0:
		return 0, fmt.Errorf("%s: %s at byte %d overflows 64 bits", r.where, what, r.pos)
	}
	r.pos += n
	return v, nil
}

// field reads the next field's key and value.
func (r *protoReader) field() (protoField, error) {
	start := r.pos
	key, err := r.uvarint("field key")
	if err != nil {
		return protoField{}, err
	}
	f := protoField{num: int(key >> 3), wire: int(key & 7)}
	if key>>3 == 0 || key>>3 > 1<<29-1 {
		return f, fmt.Errorf("%s: invalid field number %d at byte %d", r.where, key>>3, start)
	}
	fixed := func(n int) error {
		if len(r.b)-r.pos < n {
			return fmt.Errorf("%s: field %d: truncated %d-byte value at byte %d of %d", r.where, f.num, n, r.pos, len(r.b))
		}
		if n == 4 {
			f.v = uint64(binary.LittleEndian.Uint32(r.b[r.pos:]))
		} else {
			f.v = binary.LittleEndian.Uint64(r.b[r.pos:])
		}
		r.pos += n
		return nil
	}
	switch f.wire {
	case wireVarint:
		f.v, err = r.uvarint(fmt.Sprintf("field %d varint", f.num))
	case wireFixed64:
		err = fixed(8)
	case wireFixed32:
		err = fixed(4)
	case wireBytes:
		var n uint64
		if n, err = r.uvarint(fmt.Sprintf("field %d length", f.num)); err != nil {
			break
		}
		if n > uint64(len(r.b)-r.pos) {
			err = fmt.Errorf("%s: field %d: length %d at byte %d runs past the end (%d bytes left)", r.where, f.num, n, r.pos, len(r.b)-r.pos)
			break
		}
		f.data = r.b[r.pos : r.pos+int(n)]
		r.pos += int(n)
	case wireStartGroup, wireEndGroup:
	default:
		err = fmt.Errorf("%s: field %d: invalid wire type %d at byte %d", r.where, f.num, f.wire, start)
	}
	return f, err
}

// skipGroup skips fields up to the end-group of field num.
func (r *protoReader) skipGroup(num, depth int) error {
	if depth > maxGroupDepth {
		return fmt.Errorf("%s: groups nested more than %d deep", r.where, maxGroupDepth)
	}
	for r.pos < len(r.b) {
		f, err := r.field()
		if err != nil {
			return err
		}
		switch {
		case f.wire == wireStartGroup:
			if err := r.skipGroup(f.num, depth+1); err != nil {
				return err
			}
		case f.wire == wireEndGroup && f.num == num:
			return nil
		case f.wire == wireEndGroup:
			return fmt.Errorf("%s: end-group for field %d inside group %d", r.where, f.num, num)
		}
	}
	return fmt.Errorf("%s: group %d is not closed", r.where, num)
}
