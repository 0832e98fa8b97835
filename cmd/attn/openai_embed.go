package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"slices"

	"github.com/attn-go/attn/model/bert"
)

// embeddingsRequest is OpenAI's embeddings request.
type embeddingsRequest struct {
	Input          json.RawMessage `json:"input"`
	Model          string          `json:"model"`
	EncodingFormat string          `json:"encoding_format"` // "float" (the default) or "base64"
	Dimensions     *int            `json:"dimensions"`
	User           string          `json:"user"`
}

// texts reads "input": a text or a list of texts. Token ids, which
// OpenAI's API also takes, are refused by name: the server tokenizes, and
// a client's ids are OpenAI's tokenizer's, not this model's.
func (r embeddingsRequest) texts() ([]string, error) {
	raw := bytes.TrimSpace(r.Input)
	var one string
	var many []string
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, errors.New(`"input" is missing: send a text or a list of texts`)
	case json.Unmarshal(raw, &one) == nil:
		many = []string{one}
	case json.Unmarshal(raw, &many) == nil:
	default:
		// LangChain's OpenAIEmbeddings sends tiktoken's ids unless told
		// not to; they would be other tokens in this model's vocabulary.
		return nil, errors.New(`"input" is not a text or a list of texts (token ids are not taken: send the texts; LangChain's OpenAIEmbeddings sends OpenAI's token ids unless check_embedding_ctx_length=False)`)
	}
	if len(many) == 0 || len(many) > maxInputs {
		return nil, fmt.Errorf(`"input" has %d texts; want 1 to %d`, len(many), maxInputs)
	}
	for i, t := range many {
		if t == "" {
			return nil, fmt.Errorf(`"input" text %d is empty`, i)
		}
	}
	return many, nil
}

type embeddingsResponse struct {
	Object string          `json:"object"` // "list"
	Data   []embeddingData `json:"data"`
	Model  string          `json:"model"`
	Usage  struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

type embeddingData struct {
	Object    string `json:"object"` // "embedding"
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"` // []float32, or a base64 string of little-endian float32s
}

// embeddings answers POST /v1/embeddings, OpenAI's embeddings, for a text
// encoder or a decoder-only embedding model: each text embedded as
// /v1/embed embeds it (the folder's pooling and normalisation); a text
// encoder's run together with other requests' texts, a decoder's one
// request at a time.
// "dimensions" keeps the first values and, for a model whose embeddings
// are normalised, normalises them again, as OpenAI shortens its own.
func (s *server) embeddings(w http.ResponseWriter, r *http.Request) {
	if (s.embedder == nil || s.bert.Labels() > 0) && s.decoder == nil {
		openAIError(w, http.StatusNotFound, fmt.Errorf("/v1/embeddings is for text embedding models; this server runs a %s model: POST %s", s.typ, s.endpoint()))
		return
	}
	var req embeddingsRequest
	if !decodeOpenAI(w, r, &req) {
		return
	}
	texts, err := req.texts()
	size := s.embeddingSize()
	switch {
	case err != nil:
	case req.EncodingFormat != "" && req.EncodingFormat != "float" && req.EncodingFormat != "base64":
		err = fmt.Errorf(`"encoding_format" %q: want "float" or "base64"`, req.EncodingFormat)
	case req.Dimensions != nil && (*req.Dimensions < 1 || *req.Dimensions > size):
		err = fmt.Errorf(`"dimensions" %d: this model's embeddings have %d`, *req.Dimensions, size)
	}
	if err != nil {
		openAIError(w, http.StatusBadRequest, err)
		return
	}
	vecs, tokens, normalized, err := s.embedTexts(r.Context(), texts)
	var bad *badInput
	switch {
	case errors.As(err, &bad):
		openAIError(w, http.StatusBadRequest, bad.err)
		return
	case r.Context().Err() != nil:
		w.WriteHeader(499) // the client went away
		return
	case errors.Is(err, errEmbedClosed):
		openAIError(w, http.StatusServiceUnavailable, err)
		return
	case err != nil:
		openAIError(w, http.StatusInternalServerError, err)
		return
	}
	if d := req.Dimensions; d != nil {
		for i, v := range vecs {
			vecs[i] = shorten(v, *d, normalized)
		}
	}
	resp := embeddingsResponse{Object: "list", Model: cmp.Or(req.Model, filepath.Base(s.dir))}
	for i, v := range vecs {
		var e any = v
		if req.EncodingFormat == "base64" {
			b := make([]byte, 4*len(v))
			for k, x := range v {
				binary.LittleEndian.PutUint32(b[4*k:], math.Float32bits(x))
			}
			e = base64.StdEncoding.EncodeToString(b)
		}
		resp.Data = append(resp.Data, embeddingData{Object: "embedding", Index: i, Embedding: e})
		resp.Usage.PromptTokens += tokens[i]
	}
	resp.Usage.TotalTokens = resp.Usage.PromptTokens
	writeJSON(w, http.StatusOK, resp)
}

// embeddingSize returns the length of the server's text embeddings: the
// last Dense module's output, or the hidden size once per pooling
// concatenated.
func (s *server) embeddingSize() int {
	e, hidden := s.embedding, 0
	if s.decoder != nil {
		e, hidden = s.decoder.e, s.decoder.m.Cfg.Hidden
	} else {
		hidden = s.bert.Cfg.Hidden
	}
	return e.size(hidden)
}

// badInput is an error of the request's texts (a 400), not of the server.
type badInput struct{ err error }

func (b *badInput) Error() string { return b.err.Error() }

// embedTexts returns the embeddings of texts as the server's model makes
// them, their numbers of tokens, and whether they are normalised.
func (s *server) embedTexts(ctx context.Context, texts []string) (vecs [][]float32, tokens []int, normalized bool, err error) {
	if s.decoder != nil {
		vecs, tokens, err = s.embedDecoder(ctx, texts, s.decoder.e)
		if err != nil && ctx.Err() == nil {
			err = &badInput{err}
		}
		return vecs, tokens, s.decoder.e.normalize, err
	}
	seqs, err := embedSeqs(s.bert, s.bertTok, texts, s.embedding) // the token counts; a text too long fails here
	if err != nil {
		return nil, nil, false, &badInput{err}
	}
	for _, q := range seqs {
		tokens = append(tokens, len(q))
	}
	vecs, err = s.embedder.embed(ctx, texts, s.embedding)
	return vecs, tokens, s.embedding.normalize, err
}

// shorten returns v's first d values, scaled to unit length when
// normalize.
func shorten(v []float32, d int, normalize bool) []float32 {
	v = v[:min(d, len(v))]
	if !normalize {
		return v
	}
	out := slices.Clone(v)
	bert.Normalize(out)
	return out
}
