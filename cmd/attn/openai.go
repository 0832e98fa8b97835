package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/attn-go/attn/generate"
)

// POST /v1/completions speaks OpenAI's (legacy) completions API for a GPT,
// so that the clients and tools written for it work with attn serve
// unchanged. Fields a GPT here cannot honour are refused by name rather
// than ignored.

// maxChoices bounds the completions of one request (prompts × n).
const maxChoices = 16

// openAIOptions are the request fields that completions and chat
// completions share.
type openAIOptions struct {
	Model       string          `json:"model"` // any: the server runs one model
	MaxTokens   *int            `json:"max_tokens"`
	Temperature *float64        `json:"temperature"`
	TopP        *float64        `json:"top_p"`
	N           *int            `json:"n"`
	Stream      bool            `json:"stream"`
	Stop        json.RawMessage `json:"stop"`
	Seed        *int64          `json:"seed"` // OpenAI's are signed: a negative one is taken as its two's complement
	User        string          `json:"user"`
	// Refused unless absent or neutral.
	PresencePenalty  float64            `json:"presence_penalty"`
	FrequencyPenalty float64            `json:"frequency_penalty"`
	LogitBias        map[string]float64 `json:"logit_bias"`
}

type completionRequest struct {
	openAIOptions
	Prompt        json.RawMessage `json:"prompt"`
	Echo          bool            `json:"echo"`
	StreamOptions *streamOptions  `json:"stream_options"`
	// Refused unless absent or neutral.
	Suffix   *string `json:"suffix"`
	Logprobs *int    `json:"logprobs"`
	BestOf   *int    `json:"best_of"`
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
	Usage   *completionUsage   `json:"usage,omitempty"` // a stream's only on its last chunk, with include_usage
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
	var req completionRequest
	if !decodeOpenAI(w, r, &req) {
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

	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage

	var event func(v any)
	var chunk func(i int, text string, finish *string)
	if req.Stream {
		event = eventStream(w)
		chunk = func(i int, text string, finish *string) {
			c := head
			c.Choices = []completionChoice{{Text: text, Index: i, FinishReason: finish}}
			event(c)
		}
		for i := range gens {
			if p := prefix(i); p != "" {
				chunk(i, p, nil)
			}
		}
	}
	results, err := s.generateChoices(r.Context(), gens, chunk)
	endChoices(w, r, event, err, func() any {
		resp := head
		resp.Usage = &completionUsage{}
		for i, g := range results {
			resp.Usage.CompletionTokens += g.Tokens
			if i%n == 0 {
				resp.Usage.PromptTokens += g.PromptTokens
			}
		}
		resp.Usage.TotalTokens = resp.Usage.PromptTokens + resp.Usage.CompletionTokens
		if event != nil { // OpenAI's last chunk: no choices, the usage
			if !includeUsage {
				return nil
			}
			resp.Choices = []completionChoice{}
			return resp
		}
		for i, g := range results {
			resp.Choices = append(resp.Choices, completionChoice{Text: prefix(i) + g.Text, Index: i, FinishReason: finishReason(g)})
		}
		return resp
	})
}

// decodeOpenAI reads an OpenAI request into req, refusing fields it does
// not know; on an error it answers the request and returns false.
func decodeOpenAI(w http.ResponseWriter, r *http.Request, req any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := decodeBody(dec, req); err != nil {
		status := http.StatusBadRequest
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			status, err = http.StatusRequestEntityTooLarge, fmt.Errorf("the request body is over %d bytes", maxBody)
		}
		openAIError(w, status, err)
		return false
	}
	return true
}

// eventStream starts an answer of server-sent events and returns what
// sends one: a value as JSON, a string ("[DONE]") as it is. The choices'
// goroutines call it, one at a time.
func eventStream(w http.ResponseWriter) func(v any) {
	var mu sync.Mutex
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	return func(v any) {
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

// generateChoices runs the checked generate requests of one OpenAI request
// together (the batcher decodes them in the same steps). chunk, if not nil,
// receives choice i's text as it becomes final, then its finish_reason
// with no text.
func (s *server) generateChoices(ctx context.Context, gens []generateRequest, chunk func(i int, text string, finish *string)) ([]*generateResponse, error) {
	results := make([]*generateResponse, len(gens))
	errs := make([]error, len(gens))
	var wg sync.WaitGroup
	for i, g := range gens {
		wg.Go(func() {
			var emit func(string)
			if chunk != nil {
				emit = func(text string) { chunk(i, text, nil) }
			}
			defer func() { // a bug fails the request, not the server
				if p := recover(); p != nil {
					errs[i] = fmt.Errorf("generation failed: %v", p)
				}
			}()
			results[i], errs[i] = s.generate(ctx, g, emit)
			if chunk != nil && errs[i] == nil {
				chunk(i, "", finishReason(results[i]))
			}
		})
	}
	wg.Wait()
	return results, errors.Join(errs...)
}

// endChoices ends the answer to a checked request whose choices have been
// generated (err: the server's failure): with a stream (event), the event
// answer returns, if not nil, then [DONE]; without, answer's response.
func endChoices(w http.ResponseWriter, r *http.Request, event func(any), err error, answer func() any) {
	switch {
	case r.Context().Err() != nil:
		if event == nil {
			w.WriteHeader(499)
		}
	case event != nil && err != nil:
		event(map[string]any{"error": map[string]any{"message": err.Error(), "type": "server_error"}})
	case event != nil:
		if v := answer(); v != nil {
			event(v)
		}
		event("[DONE]")
	case err != nil:
		status := http.StatusInternalServerError
		if errors.Is(err, generate.ErrClosed) { // stopping, or the decoding loop has failed: as /v1/generate and /healthz say
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, map[string]any{"error": map[string]any{"message": err.Error(), "type": "server_error", "param": nil, "code": nil}})
	default:
		writeJSON(w, http.StatusOK, answer())
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
	if len(prompts) == 0 {
		return nil, nil, errors.New(`"prompt" is an empty list`)
	}
	g, n, err := req.choice(len(prompts))
	if err != nil {
		return nil, nil, err
	}
	g.MaxNewTokens = 16 // OpenAI's default
	if req.MaxTokens != nil {
		g.MaxNewTokens = *req.MaxTokens
	}
	switch {
	case g.MaxNewTokens < 1 || g.MaxNewTokens > maxNewTokens:
		return nil, nil, fmt.Errorf(`"max_tokens" is %d; want 1 to %d`, g.MaxNewTokens, maxNewTokens)
	case slices.Contains(prompts, ""):
		return nil, nil, errors.New(`"prompt" holds an empty text`)
	case req.Suffix != nil && *req.Suffix != "":
		return nil, nil, errors.New(`"suffix" is not supported (a GPT continues text; it does not fill in)`)
	case req.Logprobs != nil:
		return nil, nil, errors.New(`"logprobs" is not supported`)
	case req.BestOf != nil && *req.BestOf != n:
		return nil, nil, errors.New(`"best_of" is not supported`)
	case req.StreamOptions != nil && !req.Stream:
		return nil, nil, errors.New(`"stream_options" is for "stream": true`)
	}
	var gens []generateRequest
	for _, p := range prompts {
		for range n {
			g.Prompt = p
			gens = append(gens, g)
			g.Seed++
		}
	}
	return prompts, gens, nil
}

// choice checks the shared fields of a request for prompts prompts and
// returns how many choices each gets (n) and the generate request of the
// first, less its prompt and its length: choice c is the same, sampled
// with seed seed+c.
func (o *openAIOptions) choice(prompts int) (generateRequest, int, error) {
	var stop []string
	var one string
	switch {
	case len(o.Stop) == 0 || string(o.Stop) == "null":
	case json.Unmarshal(o.Stop, &one) == nil:
		stop = []string{one}
	case json.Unmarshal(o.Stop, &stop) == nil:
	default:
		return generateRequest{}, 0, errors.New(`"stop" must be a string or a list of strings`)
	}
	n := 1
	if o.N != nil {
		n = *o.N
	}
	temp, topP := 1.0, 1.0 // OpenAI's defaults
	if o.Temperature != nil {
		temp = *o.Temperature
	}
	if o.TopP != nil {
		topP = *o.TopP
	}
	seed := rand.Uint64()
	if o.Seed != nil {
		seed = uint64(*o.Seed)
	}
	switch {
	case n < 1 || n > maxChoices || prompts > maxChoices/n:
		if prompts == 1 {
			return generateRequest{}, 0, fmt.Errorf(`"n" is %d; want 1 to %d`, n, maxChoices)
		}
		return generateRequest{}, 0, fmt.Errorf(`"n" is %d for %d prompts; want 1 or more, and at most %d completions in all`, n, prompts, maxChoices)
	case len(stop) > 4:
		return generateRequest{}, 0, fmt.Errorf(`"stop" has %d strings; want at most 4`, len(stop))
	case temp < 0 || temp > 2:
		return generateRequest{}, 0, fmt.Errorf(`"temperature" is %v; want 0 to 2`, temp)
	case !(topP >= 0 && topP <= 1):
		return generateRequest{}, 0, fmt.Errorf(`"top_p" is %v; want 0 to 1`, topP)
	case o.PresencePenalty != 0 || o.FrequencyPenalty != 0:
		return generateRequest{}, 0, errors.New(`"presence_penalty" and "frequency_penalty" are not supported`)
	case len(o.LogitBias) > 0:
		return generateRequest{}, 0, errors.New(`"logit_bias" is not supported`)
	}
	topK := nucleusTopK(0, topP) // OpenAI has no top-k
	return generateRequest{Temperature: temp, TopK: topK, TopP: topP, Seed: seed, Stop: stop, Beam: 1}, n, nil
}
