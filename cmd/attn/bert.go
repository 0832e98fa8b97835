package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/attn-go/attn/model/bert"
	"github.com/attn-go/attn/tensor"
	"github.com/attn-go/attn/tokenizer"
)

// loadBERT loads a BERT folder (HuggingFace layout) and its WordPiece
// tokenizer (tokenizer.json or vocab.txt).
func loadBERT(dir, command string) (*bert.Model, *tokenizer.Pipeline, error) {
	dir, _, err := modelOfType(dir, command, "bert") // RoBERTa and XLM-R too
	if err != nil {
		return nil, nil, err
	}
	m, err := bert.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	tok, err := openTokenizer(dir, m.Cfg.VocabSize)
	if err != nil {
		return nil, nil, err
	}
	return m, tok, nil
}

// encodeBERT tokenizes lines with special tokens ([CLS] … [SEP]) and packs
// them into one padded batch. The tokenizer file's own padding and
// truncation are left off, as transformers leaves them unless asked (a
// sentence-transformers tokenizer.json pads every text to 128 tokens, which
// bert.Batch would take for text).
//
// maxLen > 0 cuts each line's tokens to maxLen, special tokens included, as
// sentence-transformers cuts to its max_seq_length; otherwise a line
// longer than the model takes is an error.
func encodeBERT(m *bert.Model, tok *tokenizer.Pipeline, lines []string, maxLen int) (ids, types []int, pad []bool, b, t int, err error) {
	seqs, err := encodeSeqs(m, tok, lines, maxLen)
	if err != nil {
		return nil, nil, nil, 0, 0, err
	}
	ids, pad, b, t = bert.Batch(seqs, m.Cfg.PadID)
	return ids, make([]int, len(ids)), pad, b, t, nil
}

// encodeSeqs is encodeBERT's tokenizing, before the batch is packed.
func encodeSeqs(m *bert.Model, tok *tokenizer.Pipeline, lines []string, maxLen int) ([][]int, error) {
	var trunc *tokenizer.Truncation
	if maxLen > 0 {
		trunc = &tokenizer.Truncation{MaxLength: maxLen, Strategy: "LongestFirst", Direction: "Right"}
	}
	encs, err := truncatedOnly(tok, trunc).EncodeBatch(lines, true)
	if err != nil {
		return nil, err
	}
	seqs := make([][]int, len(encs))
	for i, e := range encs {
		if len(e.IDs) > m.Cfg.MaxLen() {
			return nil, fmt.Errorf("line %d has %d tokens; the model takes at most %d", i+1, len(e.IDs), m.Cfg.MaxLen())
		}
		seqs[i] = e.IDs
	}
	return seqs, nil
}

// embedding is how texts become vectors: the poolings (concatenated) and
// the normalisation, and a sentence-transformers folder's truncation and
// lowercasing.
type embedding struct {
	poolings  []bert.Pooling
	dense     []bert.DenseModule // sentence-transformers' Dense modules, after the pooling
	prompt    string             // put before each text (a sentence-transformers prompt)
	st        *bert.Sentence     // the folder's recipe, for its prompts by name (may be nil)
	normalize bool
	maxLen    int  // tokens kept of a text; 0: a longer one is an error
	strip     bool // trim the text's surrounding white space first, as sentence-transformers does
	lowercase bool // lowercase the text first
}

// vectors pools hidden [B, T, C] (pad: its padding, or nil) as e says,
// through the Dense modules, normalised when e says so.
func (e embedding) vectors(hidden *tensor.Tensor, pad []bool) ([][]float32, error) {
	vecs, err := bert.EmbedConcat(hidden, pad, e.poolings, e.normalize && len(e.dense) == 0)
	if err != nil || len(e.dense) == 0 {
		return vecs, err
	}
	for i, v := range vecs {
		if len(v) != e.dense[0].In {
			return nil, fmt.Errorf("the pooled vector has %d values; the first Dense module takes %d", len(v), e.dense[0].In)
		}
		vecs[i] = bert.Finish(v, e.dense, e.normalize)
	}
	return vecs, nil
}

// with returns e as a request or the command line changes it: a prompt
// (withPrompt), another pooling (withPooling), and normalisation when
// normalize is not nil.
func (e embedding) with(promptName string, prompt *string, pool bert.Pooling, normalize *bool) (embedding, error) {
	e, err := e.withPrompt(promptName, prompt)
	if err == nil {
		e, err = e.withPooling(pool)
	}
	if err == nil && normalize != nil {
		e.normalize = *normalize
	}
	return e, err
}

// withPrompt returns e putting a prompt before each text: text when not
// nil, else the folder's prompt of that name (none for "" but its
// default).
func (e embedding) withPrompt(name string, text *string) (embedding, error) {
	if text != nil {
		if *text != "" && e.st != nil && e.st.ExcludePrompt {
			return e, errors.New("the Pooling module leaves a prompt's tokens out (include_prompt false), which attn does not do")
		}
		e.prompt = *text
		return e, nil
	}
	if name == "" {
		return e, nil
	}
	var err error
	e.prompt, err = e.st.Prompt(name)
	return e, err
}

// withPooling returns e pooling with pool instead of its own (e when pool
// is ""). A folder's Dense modules were trained on its own pooling's
// vectors: another one is refused there.
func (e embedding) withPooling(pool bert.Pooling) (embedding, error) {
	if pool == "" {
		return e, nil
	}
	if len(e.dense) > 0 && !slices.Equal(e.poolings, []bert.Pooling{pool}) {
		return e, fmt.Errorf("pooling %s: the folder's Dense modules take its own pooling's vectors (%v)", pool, e.poolings)
	}
	e.poolings = []bert.Pooling{pool}
	return e, nil
}

// size returns the length of e's embeddings of a model of the given hidden
// size.
func (e embedding) size(hidden int) int {
	if n := len(e.dense); n > 0 {
		return e.dense[n-1].Out
	}
	return hidden * len(e.poolings)
}

// embeddingOf returns a text encoder's way of embedding: a
// sentence-transformers folder's own (st, from bert.LoadSentence, cut to
// the model's length), or mean pooling without normalisation.
func embeddingOf(m *bert.Model, st *bert.Sentence) (embedding, error) {
	if st == nil {
		return embedding{poolings: []bert.Pooling{bert.PoolMean}}, nil
	}
	return sentenceEmbedding(st, m.Cfg.MaxLen())
}

// sentenceEmbedding returns a sentence-transformers folder's way of
// embedding (st, not nil) with a model that takes maxLen tokens: its
// pooling, Dense modules, normalisation, text handling and default prompt,
// cut to its max_seq_length.
func sentenceEmbedding(st *bert.Sentence, maxLen int) (embedding, error) {
	e := embedding{poolings: st.Poolings, dense: st.Dense, normalize: st.Normalize, strip: true, lowercase: st.Lowercase, maxLen: maxLen, st: st}
	if st.MaxSeqLength > 0 {
		e.maxLen = min(e.maxLen, st.MaxSeqLength)
	}
	var err error
	e.prompt, err = st.Prompt("") // the default, if any
	return e, err
}

// parsePooling reads a --pooling or "pooling" value.
func parsePooling(s string) (bert.Pooling, error) {
	p := bert.Pooling(s)
	if !slices.Contains(bert.Poolings, p) {
		return "", fmt.Errorf("pooling %q: want one of %v", s, bert.Poolings)
	}
	return p, nil
}

// embedLines returns one embedding per line.
func embedLines(m *bert.Model, tok *tokenizer.Pipeline, lines []string, e embedding) ([][]float32, error) {
	seqs, err := embedSeqs(m, tok, lines, e)
	if err != nil {
		return nil, err
	}
	ids, pad, b, t := bert.Batch(seqs, m.Cfg.PadID)
	hidden, _, err := m.Encode(ids, nil, pad, b, t)
	if err != nil {
		return nil, err
	}
	return e.vectors(hidden, pad)
}

// embedSeqs tokenizes lines for embedding as e says (stripped, lowercased,
// cut to e.maxLen), with special tokens.
func embedSeqs(m *bert.Model, tok *tokenizer.Pipeline, lines []string, e embedding) ([][]int, error) {
	if e.strip || e.lowercase || e.prompt != "" {
		texts := make([]string, len(lines))
		for i, l := range lines {
			l = e.prompt + l
			if e.strip {
				l = strings.TrimSpace(l)
			}
			if e.lowercase {
				l = strings.ToLower(l)
			}
			texts[i] = l
		}
		lines = texts
	}
	return encodeSeqs(m, tok, lines, e.maxLen)
}

func runEmbed(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("attn embed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "a BERT, RoBERTa, XLM-R, DistilBERT or ModernBERT folder (HuggingFace layout: config.json, model.safetensors, vocab.txt or tokenizer.json; a sentence-transformers folder's modules too), a Llama-family embedding model (Qwen3-Embedding, EmbeddingGemma), a ViT folder (images as arguments, or their paths on stdin), or a CLIP or SigLIP folder (texts, or images with --images)")
	pooling := fs.String("pooling", "", "cls (first token), mean (over the tokens; a ViT's patches), max, mean_sqrt_len or lasttoken; default: a sentence-transformers folder's own, else mean for a text encoder, lasttoken for a decoder, cls for a ViT")
	normalize := fs.Bool("normalize", false, "scale each embedding to unit length (for cosine similarity); default: a sentence-transformers folder's own")
	batch := fs.Int("batch", 32, "lines encoded together (a decoder-only model runs them one at a time)")
	promptName := fs.String("prompt-name", "", "the sentence-transformers prompt (config_sentence_transformers.json) put before each line, by name (EmbeddingGemma's query or document); default: the folder's default_prompt_name, if any")
	prompt := fs.String("prompt", "", "a text put before each line (overrides --prompt-name)")
	images := fs.Bool("images", false, "CLIP, SigLIP: embed the image files named as arguments (or by the lines of stdin) rather than the lines of a text file")
	dims := fs.Int("dims", 0, "keep each text embedding's first N values (a Matryoshka model's shorter embedding: EmbeddingGemma's 512, 256, 128), scaled back to unit length when normalised; 0: all")
	if err := fs.Parse(args); err != nil {
		return err // -h: run answers 0
	}
	given := setFlags(fs)
	var promptText *string
	if given["prompt"] {
		promptText = prompt
	}
	var norm *bool
	if given["normalize"] {
		norm = normalize
	}
	dir, typ, err := modelOfType(*model, "embed", "bert", "llama", "vit", "deit", "clip", "siglip")
	if err != nil {
		return err
	}
	if typ == "clip" || typ == "siglip" {
		for _, f := range []string{"pooling", "prompt", "prompt-name", "dims"} {
			if given[f] {
				return fmt.Errorf("--%s does not apply to a CLIP model (its embeddings are its projections)", f)
			}
		}
		return runEmbedCLIP(dir, fs.Args(), *images, *normalize, *batch, stdout)
	}
	if *images {
		return fmt.Errorf("--images is for a CLIP model; %s is a %s model", dir, typ)
	}
	var pool bert.Pooling
	if given["pooling"] {
		if pool, err = parsePooling(*pooling); err != nil {
			return fmt.Errorf("--%w", err)
		}
	}
	if typ == "vit" || typ == "deit" {
		return runEmbedImages(dir, fs.Args(), cmp.Or(pool, bert.PoolCLS), *normalize, *batch, stdout)
	}
	if family(typ) == "llama" {
		return runEmbedDecoder(dir, pool, norm, *promptName, promptText, *dims, fs.Arg(0), *batch, stdout)
	}
	m, tok, err := loadBERT(dir, "embed")
	if err != nil {
		return err
	}
	st, err := bert.LoadSentence(dir)
	if err != nil {
		return err
	}
	e, err := embeddingOf(m, st)
	if err == nil {
		e, err = e.with(*promptName, promptText, pool, norm)
	}
	if err != nil {
		return err
	}
	if err := checkDims(*dims, e.size(m.Cfg.Hidden)); err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	return eachBatch(fs.Arg(0), *batch, func(lines []string) error {
		vecs, err := embedLines(m, tok, lines, e)
		if err != nil {
			return err
		}
		return writeEmbeddings(w, shortenAll(vecs, *dims, e.normalize))
	})
}

// checkDims refuses a --dims outside 0 (all) … size.
func checkDims(dims, size int) error {
	if dims < 0 || dims > size {
		return fmt.Errorf("--dims %d: the embeddings have %d values", dims, size)
	}
	return nil
}

// shortenAll cuts each vector to its first dims values (none when dims is
// 0), as shorten does.
func shortenAll(vecs [][]float32, dims int, normalize bool) [][]float32 {
	if dims == 0 {
		return vecs
	}
	for i, v := range vecs {
		vecs[i] = shorten(v, dims, normalize)
	}
	return vecs
}

// writeEmbeddings writes one JSON line {"embedding": [...]} per vector and
// flushes, so each batch reaches a pipe as it is done.
func writeEmbeddings(w *bufio.Writer, vecs [][]float32) error {
	for _, v := range vecs {
		line, _ := json.Marshal(map[string][]float32{"embedding": v})
		w.Write(append(line, '\n'))
	}
	return w.Flush()
}

func runFillMask(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("attn fill-mask", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "a BERT, RoBERTa, XLM-R, DistilBERT or ModernBERT folder with its masked-LM head")
	topK := fs.Int("top-k", 5, "predictions to show per mask")
	if err := fs.Parse(args); err != nil {
		return err // -h: run answers 0
	}
	text := strings.Join(fs.Args(), " ")
	if text == "" {
		return errors.New(`usage: attn fill-mask --model DIR "Paris is the [MASK] of France." (<mask> for a RoBERTa; either is taken)`)
	}
	m, tok, err := loadBERT(*model, "fill-mask")
	if err != nil {
		return err
	}
	// BERT's mask token is [MASK], RoBERTa's <mask>; a text written with
	// the other one's is read as meaning the model's.
	mask, other := "[MASK]", "<mask>"
	maskID, ok := tok.TokenToID(mask)
	if !ok {
		mask, other = other, mask
		if maskID, ok = tok.TokenToID(mask); !ok {
			return errors.New("the tokenizer has no [MASK] or <mask> token")
		}
	}
	if !strings.Contains(text, mask) {
		text = strings.ReplaceAll(text, other, mask)
	}
	ids, types, pad, b, t, err := encodeBERT(m, tok, []string{text}, 0)
	if err != nil {
		return err
	}
	logits, err := m.MLMLogits(ids, types, pad, b, t)
	if err != nil {
		return err
	}
	v := logits.Shape[len(logits.Shape)-1]
	found := false
	for pos, id := range ids {
		if id != maskID {
			continue
		}
		found = true
		for _, p := range bert.TopK(logits.Data[pos*v:(pos+1)*v], *topK) {
			// The decoded token, as HF's fill-mask pipeline shows it:
			// "capital" rather than RoBERTa's "Ġcapital".
			word, err := tok.Decode([]int{p.ID})
			if err != nil { // an id past the tokenizer's vocabulary (a model's padded one)
				word = fmt.Sprintf("[id %d]", p.ID)
			}
			fmt.Fprintf(stdout, "%-16s %.4f\n", strings.TrimSpace(word), p.Prob)
		}
	}
	if !found {
		return fmt.Errorf("the text has no %s", mask)
	}
	return nil
}

// encodeTexts tokenizes texts for a BERT classifier, with special tokens; a
// text holding a tab is a pair (the two sides as segments 0 and 1, as NLI
// and paraphrase classifiers take them). Sequences are cut to maxLen
// tokens as HF's tokenizers truncate for a classifier (longest_first: a
// pair loses tokens from its longer side, and keeps both [SEP]s); the
// tokenizer's own padding is left off. first is the line number of
// texts[0], for errors.
func encodeTexts(tok *tokenizer.Pipeline, texts []string, maxLen, first int) (ids, types [][]int, err error) {
	if maxLen < 3 {
		return nil, nil, fmt.Errorf("sequences of at most %d tokens cannot hold [CLS], a token and [SEP]", maxLen)
	}
	t := truncatedOnly(tok, &tokenizer.Truncation{MaxLength: maxLen, Strategy: "LongestFirst", Direction: "Right"})
	pairSpecial := -1 // the special tokens of a pair, once one is seen
	for i, text := range texts {
		var e *tokenizer.Encoding
		if a, b, pair := strings.Cut(text, "\t"); pair {
			if pairSpecial < 0 {
				empty, err := truncatedOnly(tok, nil).EncodePair("", "")
				if err != nil {
					return nil, nil, err
				}
				pairSpecial = len(empty.IDs)
			}
			if maxLen < pairSpecial+2 {
				return nil, nil, fmt.Errorf("line %d: sequences of at most %d tokens cannot hold a pair's %d special tokens and a token of each text", first+i, maxLen, pairSpecial)
			}
			e, err = t.EncodePair(a, b)
		} else {
			e, err = t.Encode(text)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", first+i, err)
		}
		ty := e.TypeIDs
		if len(ty) != len(e.IDs) {
			ty = make([]int, len(e.IDs))
		}
		ids, types = append(ids, e.IDs), append(types, ty)
	}
	return ids, types, nil
}

// batchTexts packs encodeTexts' sequences into one padded batch.
func batchTexts(m *bert.Model, ids, types [][]int) (flat, flatTypes []int, pad []bool, b, t int) {
	flat, pad, b, t = bert.Batch(ids, m.Cfg.PadID)
	flatTypes = make([]int, len(flat))
	for i, ty := range types {
		copy(flatTypes[i*t:], ty)
	}
	return flat, flatTypes, pad, b, t
}

// classifyTexts returns the k best labels of each text (see Config.Scores),
// texts longer than the model's positions cut as encodeTexts cuts them,
// 32 texts at a time (a file may hold thousands); first numbers texts[0]
// in errors.
func classifyTexts(m *bert.Model, tok *tokenizer.Pipeline, texts []string, k, first int) ([][]label, error) {
	var out [][]label
	for lo := 0; lo < len(texts); lo += 32 {
		part := texts[lo:min(lo+32, len(texts))]
		seqs, types, err := encodeTexts(tok, part, m.Cfg.MaxLen(), first+lo)
		if err != nil {
			return nil, err
		}
		ids, ty, pad, b, t := batchTexts(m, seqs, types)
		logits, err := m.Classify(ids, ty, pad, b, t)
		if err != nil {
			return nil, err
		}
		out = append(out, labelsOf(m, logits.Data, b, k)...)
	}
	return out, nil
}

// labelsOf reads b rows of a classifier's logits as the k best labels of
// each (see Config.Scores).
func labelsOf(m *bert.Model, logits []float32, b, k int) [][]label {
	return scoreRows(m.Cfg, logits, b, k, m.Cfg.Label)
}

// runClassifyText classifies the lines of a file (or stdin) with a BERT
// sequence classifier.
func runClassifyText(dir string, args []string, topK, batch int, asJSON bool, stdout io.Writer) error {
	if len(args) > 1 {
		return fmt.Errorf("a BERT classifier reads one file of lines (or stdin), not %d arguments", len(args))
	}
	m, tok, err := loadBERT(dir, "classify")
	if err != nil {
		return err
	}
	if m.Labels() == 0 {
		return fmt.Errorf("%s has no sequence classifier: attn embed runs it (and attn fill-mask, if it has a masked-LM head)", dir)
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	line := 1
	return eachBatch(firstArg(args), batch, func(lines []string) error {
		labels, err := classifyTexts(m, tok, lines, topK, line)
		if err != nil {
			return err
		}
		line += len(lines)
		for i, text := range lines {
			writeLabels(w, "text", text, labels[i], asJSON)
		}
		return w.Flush()
	})
}

// firstArg returns args[0], or "" for none.
func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
