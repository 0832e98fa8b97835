package main

import (
	"cmp"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// metrics counts the server's requests for GET /metrics, in Prometheus's
// text format, so that the usual monitoring can watch attn serve.
type metrics struct {
	mu       sync.Mutex
	requests map[[2]string]int64   // (path, status) → requests
	seconds  map[string][2]float64 // path → (sum of seconds, requests)
}

func newMetrics() *metrics {
	return &metrics{requests: map[[2]string]int64{}, seconds: map[string][2]float64{}}
}

// servedPaths are the paths counted by name; any other is "other", so
// that stray URLs cannot grow the metrics without bound.
var servedPaths = []string{"/", "/healthz", "/metrics", "/v1/model", "/v1/models", "/v1/generate", "/v1/completions", "/v1/chat/completions", "/v1/embed", "/v1/embeddings", "/v1/translate", "/v1/classify"}

func (m *metrics) record(path string, status int, d time.Duration) {
	if !slices.Contains(servedPaths, path) {
		path = "other"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[2]string{path, strconv.Itoa(status)}]++
	s := m.seconds[path]
	m.seconds[path] = [2]float64{s[0] + d.Seconds(), s[1] + 1}
}

// writeMetrics prints the counts, and the GPT batcher's when there is one.
func (s *server) writeMetrics(w io.Writer) {
	m := s.metrics
	m.mu.Lock()
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	fmt.Fprintln(w, "# HELP attn_requests_total Requests answered, by path and status.")
	fmt.Fprintln(w, "# TYPE attn_requests_total counter")
	for _, k := range keys {
		fmt.Fprintf(w, "attn_requests_total{path=%q,code=%q} %d\n", k[0], k[1], m.requests[k])
	}
	paths := make([]string, 0, len(m.seconds))
	for p := range m.seconds {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	fmt.Fprintln(w, "# HELP attn_request_seconds Time to answer a request, by path.")
	fmt.Fprintln(w, "# TYPE attn_request_seconds summary")
	for _, p := range paths {
		fmt.Fprintf(w, "attn_request_seconds_sum{path=%q} %g\n", p, m.seconds[p][0])
		fmt.Fprintf(w, "attn_request_seconds_count{path=%q} %g\n", p, m.seconds[p][1])
	}
	m.mu.Unlock()
	if s.batcher != nil {
		st := s.batcher.Stats()
		fmt.Fprintln(w, "# HELP attn_batch_sequences Sequences a GPT is decoding together now, with the prompts waiting to run.")
		fmt.Fprintln(w, "# TYPE attn_batch_sequences gauge")
		fmt.Fprintf(w, "attn_batch_sequences %d\n", st.Active)
		fmt.Fprintln(w, "# HELP attn_decode_steps_total Decoding steps run (one token for every sequence in the batch).")
		fmt.Fprintln(w, "# TYPE attn_decode_steps_total counter")
		fmt.Fprintf(w, "attn_decode_steps_total %d\n", st.Steps)
		fmt.Fprintln(w, "# HELP attn_generated_tokens_total Tokens generated.")
		fmt.Fprintln(w, "# TYPE attn_generated_tokens_total counter")
		fmt.Fprintf(w, "attn_generated_tokens_total %d\n", st.Tokens)
		fmt.Fprintln(w, "# HELP attn_prompt_positions_reused_total Prompt positions found in an earlier sequence's cache instead of run (a conversation's earlier turns).")
		fmt.Fprintln(w, "# TYPE attn_prompt_positions_reused_total counter")
		fmt.Fprintf(w, "attn_prompt_positions_reused_total %d\n", st.Reused)
	}
}

// serveMetrics answers GET /metrics.
func (s *server) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.writeMetrics(w)
}
