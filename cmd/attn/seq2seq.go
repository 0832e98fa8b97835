package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/generate"
	"github.com/attn-go/attn/internal/atomicfile"
	"github.com/attn-go/attn/model"
	"github.com/attn-go/attn/model/t5"
	"github.com/attn-go/attn/model/transformer"
	"github.com/attn-go/attn/nn"
	"github.com/attn-go/attn/tokenizer"
	"github.com/attn-go/attn/train"
)

// seq2seq is an encoder-decoder that attn train trains on sentence pairs:
// attn's own translation model, or a T5 folder being fine-tuned.
type seq2seq interface {
	trainable() train.Seq2SeqModel
	// encodeSrc and encodeTgt tokenize sources and targets for training;
	// targets without an end token (teacher forcing appends it).
	encodeSrc(lines []string) ([][]int, error)
	encodeTgt(lines []string) ([][]int, error)
	// translate decodes token sequences with beam search to text.
	translate(srcs [][]int, beam int) ([]string, error)
	save(dir string) error
	specials() (pad, bos, eos int)
}

func (mt *mtModel) trainable() train.Seq2SeqModel             { return mt.m }
func (mt *mtModel) encodeSrc(lines []string) ([][]int, error) { return mt.encode(lines) }
func (mt *mtModel) encodeTgt(lines []string) ([][]int, error) { return mt.encode(lines) }
func (mt *mtModel) specials() (pad, bos, eos int)             { return mtPad, mtBOS, mtEOS }
func (mt *mtModel) translate(srcs [][]int, beam int) ([]string, error) {
	return mt.translateIDs(srcs, beam, 0.6, 32)
}

// loadSeq2Seq loads a folder that runTrainTranslation trains: one of
// attn's translation models or a T5.
func loadSeq2Seq(dir string) (seq2seq, error) {
	typ, err := model.Type(dir)
	if err != nil {
		return nil, err
	}
	if typ == "t5" || typ == "mt5" {
		tm, err := loadT5(dir)
		if err != nil {
			return nil, err
		}
		// Sequences are cut at 512 tokens (memory grows with their square),
		// and a padding setting saved in tokenizer.json is HF's per-call
		// option, not one for training pairs.
		tm.tok = truncatedOnly(tm.tok, &tokenizer.Truncation{MaxLength: 512, Strategy: "LongestFirst", Direction: "Right"})
		t := &t5Trainer{t5Model: tm, files: map[string][]byte{}}
		// The tokenizer files go into every checkpoint; they are read now,
		// as the folder they are in may be gone by then (a resumed run's
		// ckpt.old, a moved base model).
		for _, name := range []string{"tokenizer.json", "spiece.model", "tokenizer_config.json", "special_tokens_map.json"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if os.IsNotExist(err) {
				continue
			}
			if err != nil {
				return nil, err
			}
			t.files[name] = b
		}
		return t, nil
	}
	return loadMT(dir)
}

// t5Trainer fine-tunes a T5 on text pairs as HF's seq2seq examples do: the
// source with its end token, labels the target and an end token, the
// decoder fed decoder_start_token_id and the target.
type t5Trainer struct {
	*t5Model
	files map[string][]byte // the tokenizer files of the folder it came from
}

// t5Forward adapts T5's forward pass to train.Seq2SeqModel; the decoder
// needs no padding mask (it is causal, and padding comes last).
type t5Forward struct{ *t5.Model }

func (f t5Forward) Forward(tp *autograd.Tape, src, tgt transformer.Batch) (*autograd.Var, error) {
	return f.Model.Forward(tp, src.IDs, src.Pad, tgt.IDs, src.B, src.T, tgt.T)
}

func (f t5Forward) Params() []nn.Param { return f.Model.Params() }

func (t *t5Trainer) trainable() train.Seq2SeqModel { return t5Forward{t.m} }

func (t *t5Trainer) specials() (pad, bos, eos int) {
	c := t.m.Cfg
	return c.PadTokenID, c.DecoderStartTokenID, c.EOSTokenID
}

func (t *t5Trainer) encodeSrc(lines []string) ([][]int, error) {
	encs, err := t.tok.EncodeBatch(lines, true) // T5's post-processor appends </s>
	if err != nil {
		return nil, err
	}
	out := make([][]int, len(encs))
	for i, e := range encs {
		out[i] = e.IDs
		if len(out[i]) == 0 || out[i][len(out[i])-1] != t.m.Cfg.EOSTokenID {
			out[i] = append(out[i], t.m.Cfg.EOSTokenID)
		}
	}
	return out, nil
}

func (t *t5Trainer) encodeTgt(lines []string) ([][]int, error) {
	encs, err := t.tok.EncodeBatch(lines, false)
	if err != nil {
		return nil, err
	}
	out := make([][]int, len(encs))
	for i, e := range encs {
		out[i] = e.IDs
	}
	return out, nil
}

// translate decodes 32 sources at a time, each answer at most 128 tokens
// (HF's seq2seq examples' val_max_target_length).
func (t *t5Trainer) translate(srcs [][]int, beam int) ([]string, error) {
	c := t.m.Cfg
	var out []string
	for lo := 0; lo < len(srcs); lo += 32 {
		part := srcs[lo:min(lo+32, len(srcs))]
		b := transformer.MakeBatch(part, c.PadTokenID)
		d, err := t.m.NewDecoder(b.IDs, b.Pad, b.B, b.T, beam)
		if err != nil {
			return nil, err
		}
		hs, err := generate.Beam(d, b.B, generate.BeamOpts{Beam: beam, Alpha: 0.6, MaxLen: 128, BOS: c.DecoderStartTokenID, EOS: c.EOSTokenID, Vocab: t.tok.VocabSize()})
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			s, err := t.tok.DecodeWith(h.Tokens, true)
			if err != nil {
				return nil, err
			}
			out = append(out, strings.TrimSpace(s))
		}
	}
	return out, nil
}

// save writes the T5 folder with the tokenizer files of the folder it came
// from, byte for byte.
func (t *t5Trainer) save(dir string) error {
	if err := t5.Save(dir, t.m); err != nil {
		return err
	}
	return writeFiles(dir, t.files)
}

// writeFiles writes files (name → content) into dir, each atomically: the
// tokenizer files a fine-tuned model keeps beside its weights.
func writeFiles(dir string, files map[string][]byte) error {
	for name, b := range files {
		if err := atomicfile.Write(filepath.Join(dir, name), b); err != nil {
			return err // it names the file
		}
	}
	return nil
}
