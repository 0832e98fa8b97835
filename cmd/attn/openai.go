package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// POST /v1/completions speaks OpenAI's (legacy) completions API for a GPT,
// so that the clients and tools written for it work with attn serve
// unchanged. Fields a GPT here cannot honour are refused by name rather
// than ignored.

// maxChoices bounds the completions of one request (prompts × n).
const maxChoices = 16

type completionRequest struct {
	Model       string          `json:"model"` // any: the server runs one model
	Prompt      json.RawMessage `json:"prompt"`
	MaxTokens   *int            `json:"max_tokens"`
	Temperature *float64        `json:"temperature"`
	TopP        *float64        `json:"top_p"`
	N           *int            `json:"n"`
	Stream      bool            `json:"stream"`
	Stop        json.RawMessage `json:"stop"`
	Seed        *uint64         `json:"seed"`
	Echo        bool            `json:"echo"`
	User        string          `json:"user"`
	// Refused unless absent or neutral.
	Suffix           *string            `json:"suffix"`
	Logprobs         *int               `json:"logprobs"`
	BestOf           *int               `json:"best_of"`
	PresencePenalty  float64            `json:"presence_penalty"`
	FrequencyPenalty float64            `json:"frequency_penalty"`
	LogitBias        map[string]float64 `json:"logit_bias"`
	StreamOptions    json.RawMessage    `json:"stream_options"`
}

type completionChoice struct {
	Text         string  `json:"text"`
	Index        int     `json:"index"`
	Logprobs     any     `json:"logprobs"`      // always null
	FinishReason *string `json:"finish_reason"` // "stop", "length"; null while streaming
}

type completionUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type completionResponse struct {
	ID      string             `json:"id"`
	Object  string             `json:"object"`
	Created int64              `json:"created"`
	Model   string             `json:"model"`
	Choices []completionChoice `json:"choices"`
	Usage   *completionUsage   `json:"usage,omitempty"`
}

// openAIError writes an error in OpenAI's shape, which its clients read.
func openAIError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": err.Error(), "type": "invalid_request_error", "param": nil, "code": nil}})
}

// completions answers POST /v1/completions: each prompt (a string or a list
// of strings) n times, all generated together by the GPT's batcher.
func (s *server) completions(w http.ResponseWriter, r *http.Request) {
	if s.lm == nil {
		openAIError(w, http.StatusNotFound, fmt.Errorf("/v1/completions is for GPT models; this server runs a %s model: POST %s", s.typ, s.endpoint()))
		return
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	var req completionRequest
	if err := decodeBody(dec, &req); err != nil {
		status := http.StatusBadRequest
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			status, err = http.StatusRequestEntityTooLarge, fmt.Errorf("the request body is over %d bytes", maxBody)
		}
		openAIError(w, status, err)
		return
	}
	prompts, gens, err := req.generations()
	if err != nil {
		openAIError(w, http.StatusBadRequest, err)
		return
	}
	for _, g := range gens { // a bad prompt fails the request before any work
		if _, err := encodePrompt(s.lmTok, g.Prompt); err != nil {
			openAIError(w, http.StatusBadRequest, err)
			return
		}
	}
	head := completionResponse{ID: fmt.Sprintf("cmpl-%016x", rand.Uint64()), Object: "text_completion", Created: time.Now().Unix(), Model: cmp.Or(req.Model, filepath.Base(s.dir))}
	n := len(gens) / len(prompts)
	prefix := func(i int) string { // what the text starts with: the prompt, with echo
		if req.Echo {
			return prompts[i/n]
		}
		return ""
	}

	var mu sync.Mutex // one writer at a time on the stream
	var event func(v any)
	if req.Stream {
		rc := http.NewResponseController(w)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		event = func(v any) {
			mu.Lock()
			defer mu.Unlock()
			if s, ok := v.(string); ok {
				fmt.Fprintf(w, "data: %s\n\n", s)
			} else {
				b, _ := json.Marshal(v)
				fmt.Fprintf(w, "data: %s\n\n", b)
			}
			rc.Flush()
		}
	}
	chunk := func(i int, text string, finish *string) {
		c := head
		c.Choices = []completionChoice{{Text: text, Index: i, FinishReason: finish}}
		event(c)
	}
	results := make([]*generateResponse, len(gens))
	errs := make([]error, len(gens))
	var wg sync.WaitGroup
	for i, g := range gens {
		wg.Go(func() {
			var emit func(string)
			if event != nil {
				if p := prefix(i); p != "" {
					chunk(i, p, nil)
				}
				emit = func(text string) { chunk(i, text, nil) }
			}
			defer func() { // a bug fails the request, not the server
				if p := recover(); p != nil {
					errs[i] = fmt.Errorf("generation failed: %v", p)
				}
			}()
			results[i], errs[i] = s.generate(r.Context(), g, emit)
			if event != nil && errs[i] == nil {
				chunk(i, "", finishReason(results[i]))
			}
		})
	}
	wg.Wait()
	err = errors.Join(errs...)
	switch {
	case r.Context().Err() != nil:
		if event == nil {
			w.WriteHeader(499)
		}
	case event != nil && err != nil:
		event(map[string]any{"error": map[string]any{"message": err.Error(), "type": "server_error"}})
	case event != nil:
		event("[DONE]")
	case err != nil: // the request was checked: this is the server's failure
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": map[string]any{"message": err.Error(), "type": "server_error", "param": nil, "code": nil}})
	default:
		resp := head
		resp.Usage = &completionUsage{}
		for i, g := range results {
			resp.Choices = append(resp.Choices, completionChoice{Text: prefix(i) + g.Text, Index: i, FinishReason: finishReason(g)})
			resp.Usage.CompletionTokens += g.Tokens
			if i%n == 0 {
				resp.Usage.PromptTokens += g.PromptTokens
			}
		}
		resp.Usage.TotalTokens = resp.Usage.PromptTokens + resp.Usage.CompletionTokens
		writeJSON(w, http.StatusOK, resp)
	}
}

// finishReason is OpenAI's name for why a completion ended.
func finishReason(g *generateResponse) *string {
	reason := "length"
	if g.StopFound {
		reason = "stop"
	}
	return &reason
}

// generations checks the request and returns its prompts and the generate
// requests of its choices: prompt i's n completions are choices i·n to
// i·n+n−1, and choice c is sampled with seed seed+c.
func (req *completionRequest) generations() ([]string, []generateRequest, error) {
	var prompts []string
	var one string
	switch {
	case len(req.Prompt) == 0 || string(req.Prompt) == "null":
		return nil, nil, errors.New(`"prompt" is missing`)
	case json.Unmarshal(req.Prompt, &one) == nil:
		prompts = []string{one}
	case json.Unmarshal(req.Prompt, &prompts) == nil:
	default:
		return nil, nil, errors.New(`"prompt" must be a string or a list of strings (token ids are not taken)`)
	}
	var stop []string
	switch {
	case len(req.Stop) == 0 || string(req.Stop) == "null":
	case json.Unmarshal(req.Stop, &one) == nil:
		stop = []string{one}
	case json.Unmarshal(req.Stop, &stop) == nil:
	default:
		return nil, nil, errors.New(`"stop" must be a string or a list of strings`)
	}
	n := 1
	if req.N != nil {
		n = *req.N
	}
	maxTokens, temp, topP := 16, 1.0, 1.0 // OpenAI's defaults
	if req.MaxTokens != nil {
		maxTokens = *req.MaxTokens
	}
	if req.Temperature != nil {
		temp = *req.Temperature
	}
	if req.TopP != nil {
		topP = *req.TopP
	}
	seed := rand.Uint64()
	if req.Seed != nil {
		seed = *req.Seed
	}
	switch {
	case len(prompts) == 0:
		return nil, nil, errors.New(`"prompt" is an empty list`)
	case n < 1 || n > maxChoices || len(prompts) > maxChoices/n:
		return nil, nil, fmt.Errorf(`"n" is %d for %d prompts; want 1 or more, and at most %d completions in all`, n, len(prompts), maxChoices)
	case len(stop) > 4:
		return nil, nil, fmt.Errorf(`"stop" has %d strings; want at most 4`, len(stop))
	case maxTokens < 1 || maxTokens > maxNewTokens:
		return nil, nil, fmt.Errorf(`"max_tokens" is %d; want 1 to %d`, maxTokens, maxNewTokens)
	case temp < 0 || temp > 2:
		return nil, nil, fmt.Errorf(`"temperature" is %v; want 0 to 2`, temp)
	case !(topP >= 0 && topP <= 1):
		return nil, nil, fmt.Errorf(`"top_p" is %v; want 0 to 1`, topP)
	case slices.Contains(prompts, ""):
		return nil, nil, errors.New(`"prompt" holds an empty text`)
	case req.Suffix != nil && *req.Suffix != "":
		return nil, nil, errors.New(`"suffix" is not supported (a GPT continues text; it does not fill in)`)
	case req.Logprobs != nil:
		return nil, nil, errors.New(`"logprobs" is not supported`)
	case req.BestOf != nil && *req.BestOf != n:
		return nil, nil, errors.New(`"best_of" is not supported`)
	case req.PresencePenalty != 0 || req.FrequencyPenalty != 0:
		return nil, nil, errors.New(`"presence_penalty" and "frequency_penalty" are not supported`)
	case len(req.LogitBias) > 0:
		return nil, nil, errors.New(`"logit_bias" is not supported`)
	case len(req.StreamOptions) > 0 && string(req.StreamOptions) != "null":
		return nil, nil, errors.New(`"stream_options" is not supported`)
	}
	topK := 0      // OpenAI has no top-k
	if topP == 0 { // OpenAI's narrowest nucleus: the most likely token
		topK = 1
	}
	var gens []generateRequest
	for _, p := range prompts {
		for range n {
			gens = append(gens, generateRequest{Prompt: p, MaxNewTokens: maxTokens, Temperature: temp, TopK: topK, TopP: topP, Seed: seed + uint64(len(gens)), Stop: stop, Beam: 1})
		}
	}
	return prompts, gens, nil
}
