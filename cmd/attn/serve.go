package main

import (
	"bytes"
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"net"
	"net/http"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/attn-go/attn/generate"
	"github.com/attn-go/attn/model/bert"
	"github.com/attn-go/attn/model/clip"
	"github.com/attn-go/attn/model/gpt"
	"github.com/attn-go/attn/model/llama"
	"github.com/attn-go/attn/model/lm"
	"github.com/attn-go/attn/model/transformer"
	"github.com/attn-go/attn/model/vit"
	"github.com/attn-go/attn/tensor"
	"github.com/attn-go/attn/tokenizer"
)

// Limits on one request, so that a client cannot make the server hold a
// gigabyte of text or compute for an hour.
const (
	maxBody      = 1 << 20 // bytes of JSON
	maxInputs    = 256     // texts of one embed or translate request
	maxNewTokens = 4096    // tokens of one generate request
	maxBeam      = 16
	maxStops     = 16 // stop strings of one generate request: each is looked for at every token
	// A T5's prompt: its encoder's memory grows with the square of the
	// length (4,000 tokens took 1.5 GB), and T5 was trained on 512.
	maxT5Prompt = 2048
	// Images come base64-encoded in the JSON, so /v1/classify takes a
	// larger body.
	maxImageBody     = 32 << 20
	maxImages        = 64
	maxRequestPixels = 64 << 20 // decoded pixels of one request, all images together
	maxJPEGScans     = 100      // progressive JPEGs have about ten
)

// server answers HTTP requests with one loaded model. A GPT's generations
// are decoded together (generate.Batcher): a decoding step is bound by
// reading the weights, which one step reads for all of them. A text
// encoder's embed and classify requests run in batches too (embedBatcher).
// Other
// requests compute one at a time: each already uses every core, and the
// models' caches and arenas are not shared between goroutines.
type server struct {
	typ, dir string
	started  time.Time // for OpenAI's model list
	mu       modelLock

	lm      lm.Model // gpt2 or a Llama-family model
	lmTok   tokenizer.Tokenizer
	batcher *generate.Batcher
	window  int                     // the most positions a generation keeps: --context, within the model's window
	chat    *tokenizer.ChatTemplate // nil without one: then chatErr says why
	chatErr error

	metrics *metrics // for GET /metrics

	t5 *t5Model // t5, mt5

	bert      *bert.Model // bert
	bertTok   *tokenizer.Pipeline
	embedding embedding     // a BERT's way of embedding (a sentence-transformers folder's own)
	embedder  *embedBatcher // a BERT's embed or classify requests, run together

	decoder *decoderEmbedder // a decoder-only embedding model (a Llama-family sentence-transformers folder)

	mt         *mtModel          // attn's own translation models
	nllb       *nllbMT           // an M2M100 (NLLB-200) folder
	marian     *marianMT         // marian
	seq2seqQ8  bool              // a T5's, Marian's or NLLB's matrices in 8 bits (--quantize q8)
	translator *translateBatcher // a translation model's, Marian's or NLLB's requests, run together

	vit     *vit.Model    // vit
	vitProc vit.Processor // a ViT's or a CLIP's image processor

	clip    *clip.Model // clip: /v1/embed (texts or images) and /v1/classify (zero-shot)
	clipTok clipTokens  // its tokenizer (none without one: texts refused)
	clipErr error       // why clipTok is empty
}

// weights names the model's weights when they are not float32, for the
// start line: a Llama's bf16, f16 or q8, a Marian's or NLLB's q8 (--quantize); ""
// when they are.
func (s *server) weights() string {
	if f, ok := s.format(); ok && f != "f32" {
		return f
	}
	if s.seq2seqQ8 {
		return "q8"
	}
	return ""
}

// format returns the format of a Llama-family model's weights (f32, bf16,
// f16 or q8), whether it generates or embeds; false for other models.
func (s *server) format() (string, bool) {
	if s.decoder != nil {
		return s.decoder.m.Format(), true
	}
	f, ok := s.lm.(interface{ Format() string })
	if !ok {
		return "", false
	}
	return f.Format(), true
}

// endpoints names the endpoint that runs each kind of model (a ViT
// without a classifier embeds, a BERT with one classifies; see endpoint).
var endpoints = map[string]string{
	"gpt2": "/v1/generate", "llama": "/v1/generate", "t5": "/v1/generate", "mt5": "/v1/generate",
	"bert": "/v1/embed", transformer.ModelType: "/v1/translate", "marian": "/v1/translate", "m2m_100": "/v1/translate",
	"vit": "/v1/classify", "deit": "/v1/classify", "clip": "/v1/embed", "siglip": "/v1/embed",
}

// serves reports whether ep is one of the server's POST endpoints: its
// endpoint, and for a CLIP or SigLIP /v1/classify as well (zero-shot).
func (s *server) serves(ep string) bool {
	return ep == s.endpoint() || s.clip != nil && ep == "/v1/classify"
}

// endpoint is the server's main POST endpoint (a CLIP's or SigLIP's
// /v1/embed; see serves).
func (s *server) endpoint() string {
	switch {
	case s.vit != nil && !s.vit.HasClassifier():
		return "/v1/embed"
	case s.bert != nil && s.bert.Labels() > 0:
		return "/v1/classify"
	case s.decoder != nil:
		return "/v1/embed"
	}
	return endpoints[family(s.typ)]
}

// newServer loads the model in dir; a GPT decodes up to batch generations
// a step, each keeping at most window positions of context (0: the
// model's window), its batcher made with opts. close stops it.
func newServer(dir string, batch, window int, opts ...generate.BatcherOption) (*server, error) {
	return newServerQuantized(dir, "", batch, window, opts...)
}

// newServerQuantized is newServer with a Llama-family model's matrices
// quantized as --quantize says.
func newServerQuantized(dir, quantize string, batch, window int, opts ...generate.BatcherOption) (*server, error) {
	dir, typ, err := modelOfType(dir, "serve", "gpt2", "llama", "t5", "mt5", "bert", transformer.ModelType, "marian", "m2m_100", "vit", "deit", "clip", "siglip")
	if err != nil {
		return nil, err
	}
	if err := checkQuantize(quantize, typ); err != nil {
		return nil, err
	}
	s := &server{typ: typ, dir: dir, started: time.Now(), metrics: newMetrics()}
	switch family(typ) {
	case "gpt2":
		var m *gpt.Model
		if m, s.lmTok, err = loadLM(dir, "serve"); err == nil {
			if batch > 1 { // sequences decoded together
				m.BatchLayout()
			}
			s.serveLM(m, window, batch, opts)
		}
	case "llama":
		// A sentence-transformers folder (Qwen3-Embedding) embeds. A
		// modules.json attn cannot run fails, as attn embed fails on it,
		// rather than leaving an embedding model to serve generation.
		var st *bert.Sentence
		if st, err = bert.LoadSentence(dir); err != nil {
			err = fmt.Errorf("%w (attn serve embeds with a Llama-family folder that has a modules.json)", err)
			break
		}
		if st != nil {
			s.decoder, err = loadDecoderEmbedder(dir, quantize)
			break
		}
		var m *llama.Model
		if m, s.lmTok, err = loadLlamaToRun(dir, quantize); err == nil {
			s.serveLM(m, window, batch, opts)
		}
	case "t5", "mt5":
		if s.t5, err = loadT5(dir); err == nil && quantize == "q8" {
			s.seq2seqQ8 = s.t5.m.QuantizeQ8() > 0
		}
	case "bert":
		if s.bert, s.bertTok, err = loadBERT(dir, "serve"); err == nil {
			var st *bert.Sentence
			if st, err = bert.LoadSentence(dir); err == nil {
				s.embedding, err = embeddingOf(s.bert, st)
			}
			if err == nil {
				s.embedder = newEmbedBatcher(s.bert, s.bertTok)
			}
		}
	case "marian":
		if s.marian, err = loadMarian(dir); err == nil && quantize == "q8" {
			s.seq2seqQ8 = s.marian.m.QuantizeQ8() > 0
		}
		if err == nil {
			s.translator = newTranslateBatcher(func(srcs [][]int, _, beam int, alpha float64) ([]string, error) {
				return s.marian.translateIDs(srcs, beam, alpha)
			})
		}
	case "m2m_100":
		if s.nllb, err = loadNLLB(dir); err == nil && quantize == "q8" {
			s.seq2seqQ8 = s.nllb.m.QuantizeQ8() > 0
		}
		if err == nil {
			s.translator = newTranslateBatcher(s.nllb.translateIDs)
		}
	case "vit", "deit":
		s.vit, s.vitProc, err = loadViTModel(dir, "serve")
	case "clip", "siglip":
		if s.clip, err = clip.Load(dir); err == nil {
			s.vitProc, err = clip.LoadProcessor(dir, s.clip.Cfg)
			s.clipTok, s.clipErr = clipTokenizer(dir, s.clip)
		}
	default:
		if s.mt, err = loadMT(dir); err == nil {
			s.translator = newTranslateBatcher(func(srcs [][]int, _, beam int, alpha float64) ([]string, error) {
				return s.mt.translateIDs(srcs, beam, alpha, len(srcs))
			})
		}
	}
	return s, err
}

// serveLM starts the batcher of a language model, and reads its chat
// template: a folder without one (a base model) still serves completions.
func (s *server) serveLM(m lm.BatchModel, window, batch int, opts []generate.BatcherOption) {
	bm := generate.WithWindow(m, window)
	s.lm, s.window, s.batcher = m, bm.Window(), generate.NewBatcher(bm, batch, opts...)
	s.chat, s.chatErr = openChat(s.dir)
}

// reuseMin is the fewest positions worth taking from an earlier sequence's
// cache (fewer cost next to nothing to run again): --prefix-cache.
const reuseMin = 32

// close stops the GPT's batcher, the BERT's embed batcher and the
// translator's (when there are).
func (s *server) close() {
	if s.batcher != nil {
		s.batcher.Close()
	}
	if s.embedder != nil {
		s.embedder.close()
	}
	if s.translator != nil {
		s.translator.close()
	}
}

func runServe(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("attn serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "model folder: a GPT (a run folder from attn train, GPT-2, Llama, Qwen2, Qwen3, Mistral, Gemma, SmolLM3, Phi-3), a T5, a BERT, RoBERTa, XLM-R, DistilBERT or ModernBERT (a sentence-transformers folder too), a Llama-family sentence-transformers folder (Qwen3-Embedding, EmbeddingGemma), a translation model, a Marian or NLLB-200 folder, a ViT folder, or a CLIP or SigLIP folder (/v1/embed for texts or images, /v1/classify by labels)")
	addr := fs.String("addr", "localhost:8080", "address to listen on")
	batch := fs.Int("batch", 8, "a GPT's or Llama's generations decoded together, one token each a step (up to 8 read each weight once a step)")
	window := fs.Int("context", 4096, "a GPT's or Llama's most positions of context a request keeps (a longer prompt keeps its end; 0: the model's window): a bound on each request's memory and time")
	quantize := quantizeFlag(fs)
	prefixCache := fs.Bool("prefix-cache", true, "a GPT's or Llama's prompt that begins with what the cache of a recent request holds (a chat's next turn) goes on from it; false: every prompt runs whole, its numbers bit for bit those it gets alone")
	if err := fs.Parse(args); err != nil {
		return err // -h: run answers 0
	}
	if *batch < 1 {
		return fmt.Errorf("--batch %d; want at least 1", *batch)
	}
	if *window < 0 {
		return fmt.Errorf("--context %d; want 0 (the model's window) or more", *window)
	}
	var opts []generate.BatcherOption
	if *prefixCache {
		opts = append(opts, generate.ReusePrefixes(reuseMin))
	}
	s, err := newServerQuantized(*model, *quantize, *batch, *window, opts...)
	if err != nil {
		return err
	}
	defer s.close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: logRequests(s.handler(), stderr, s.metrics), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	shutDown := make(chan struct{})
	go func() {
		defer close(shutDown)
		<-ctx.Done()
		stop() // a second Ctrl-C ends the program at once
		shut, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		srv.Shutdown(shut) // lets the requests in progress finish
	}()
	weights := ""
	if w := s.weights(); w != "" {
		weights = " (" + w + " weights)"
	}
	fmt.Fprintf(stdout, "serving the %s model in %s%s at http://%s%s\n", s.typ, s.dir, weights, ln.Addr(), s.endpoint())
	if s.chat != nil {
		fmt.Fprintf(stdout, "chat: POST http://%s/v1/chat/completions, or the page at http://%s/\n", ln.Addr(), ln.Addr())
	}
	if s.lm != nil && s.chatErr != nil {
		fmt.Fprintf(stderr, "attn serve: no /v1/chat/completions: %v\n", s.chatErr)
	}
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-shutDown // Serve returns as Shutdown begins; the requests finish first
	return nil
}

// indexHTML is the page at /: a form for the model's endpoint.
//
//go:embed web/index.html
var indexHTML []byte

// handler routes the requests: GET / (a page to try the model), GET
// /healthz, GET /v1/model, GET /metrics, the POST endpoints of the model's
// kind (serves), and OpenAI's completions, chat completions and models.
func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(indexHTML)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if s.batcher != nil && s.batcher.Err() != nil { // a GPT's decoding loop has stopped
			http.Error(w, s.batcher.Err().Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /v1/model", func(w http.ResponseWriter, r *http.Request) {
		info := map[string]any{"model_type": s.typ, "dir": s.dir, "endpoint": s.endpoint(), "chat": s.chat != nil}
		if f, ok := s.format(); ok { // a Llama's: f32, bf16, f16 or q8
			info["weights"] = f
		}
		writeJSON(w, http.StatusOK, info)
	})
	// OpenAI's model list and model, which its clients ask for first (the
	// one model served, by its folder's name).
	model := map[string]any{"id": filepath.Base(s.dir), "object": "model", "created": s.started.Unix(), "owned_by": "attn"}
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []any{model}})
	})
	mux.HandleFunc("GET /v1/models/{id}", func(w http.ResponseWriter, r *http.Request) {
		if id := r.PathValue("id"); id != model["id"] {
			openAIError(w, http.StatusNotFound, fmt.Errorf("the model %q does not exist: this server runs %q", id, model["id"]))
			return
		}
		writeJSON(w, http.StatusOK, model)
	})
	mux.HandleFunc("POST /v1/completions", s.completions)
	mux.HandleFunc("POST /v1/chat/completions", s.chatCompletions)
	mux.HandleFunc("POST /v1/embeddings", s.embeddings)
	mux.HandleFunc("GET /metrics", s.serveMetrics)
	for _, ep := range []string{"/v1/generate", "/v1/embed", "/v1/translate", "/v1/classify"} {
		mux.HandleFunc("POST "+ep, func(w http.ResponseWriter, r *http.Request) {
			if !s.serves(ep) {
				writeError(w, http.StatusNotFound, fmt.Errorf("this server runs a %s model: POST %s", s.typ, s.endpoint()))
				return
			}
			s.serve(w, r, ep)
		})
	}
	return mux
}

func (s *server) serve(w http.ResponseWriter, r *http.Request, ep string) {
	limit := int64(maxBody)
	if s.vit != nil || s.clip != nil {
		limit = maxImageBody
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	var (
		resp any
		err  error
	)
	switch ep {
	case "/v1/generate":
		req := generateRequest{MaxNewTokens: 100, Temperature: 0.8, TopK: 200, TopP: 1, Seed: 1, Beam: 1}
		if err = decodeBody(dec, &req); err == nil && req.Stream {
			s.stream(w, r, req)
			return
		}
		if err == nil {
			resp, err = s.generate(r.Context(), req, nil)
		}
	case "/v1/embed":
		req := embedRequest{}
		if err = decodeBody(dec, &req); err == nil {
			resp, err = s.embed(r.Context(), req)
		}
	case "/v1/classify":
		req := classifyRequest{TopK: 5}
		if err = decodeBody(dec, &req); err == nil {
			resp, err = s.classify(r.Context(), req)
		}
	default:
		req := translateRequest{Beam: 4, Alpha: 0.6}
		if err = decodeBody(dec, &req); err == nil {
			resp, err = s.translate(r.Context(), req)
		}
	}
	var tooLarge *http.MaxBytesError
	switch {
	case r.Context().Err() != nil:
		// The client went away: nobody reads the answer, the log shows 499.
		w.WriteHeader(499)
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("the request body is over %d bytes", limit))
	case errors.Is(err, generate.ErrClosed) || errors.Is(err, errEmbedClosed): // stopping, or a batch loop has failed
		writeError(w, http.StatusServiceUnavailable, err)
	case errors.Is(err, errEmbedFailed):
		writeError(w, http.StatusInternalServerError, err)
	case err != nil:
		writeError(w, http.StatusBadRequest, err)
	default:
		writeJSON(w, http.StatusOK, resp)
	}
}

// decodeBody reads one JSON object into v, naming what is wrong with it.
func decodeBody(dec *json.Decoder, v any) error {
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return errors.New("the request body is empty; want a JSON object")
		}
		return fmt.Errorf("the request body is not the JSON this endpoint takes: %w", err)
	}
	// Nothing but spaces may follow the object (dec.More alone lets a
	// stray '}' or ']' through).
	switch _, err := dec.Token(); {
	case err == io.EOF:
	case errors.As(err, new(*http.MaxBytesError)):
		return err
	default:
		return errors.New("the request body holds more than one JSON value, or text after it")
	}
	return nil
}

type generateRequest struct {
	Prompt       string   `json:"prompt"`
	MaxNewTokens int      `json:"max_new_tokens"`
	Temperature  float64  `json:"temperature"`
	TopK         int      `json:"top_k"`
	TopP         float64  `json:"top_p"`
	Seed         uint64   `json:"seed"`
	Stop         []string `json:"stop"`
	Beam         int      `json:"beam"`   // T5 (encoder-decoder) only: beam search width
	Stream       bool     `json:"stream"` // GPT only: send the text as server-sent events
	// A GPT's prompt as tokens, when the caller has encoded it (a chat's,
	// with its template's special tokens): Prompt is then not read.
	ids []int
	// keepSpecial decodes the reply with its special tokens (a harmony
	// reply's channel markers, for the chat endpoint to read).
	keepSpecial bool
}

type generateResponse struct {
	Text         string `json:"text"`       // the continuation, without the prompt
	Tokens       int    `json:"tokens"`     // tokens generated
	StopFound    bool   `json:"stop_found"` // the text ends where a stop string began, or at the end-of-text token
	PromptTokens int    `json:"-"`          // for /v1/completions' usage
}

// generate continues the prompt; emit, if not nil, receives the text as it
// becomes final (see textStream), once the request has been checked.
func (s *server) generate(ctx context.Context, req generateRequest, emit func(string)) (*generateResponse, error) {
	if req.Prompt == "" && req.ids == nil {
		return nil, errors.New(`"prompt" is missing or empty`)
	}
	if req.MaxNewTokens < 1 || req.MaxNewTokens > maxNewTokens {
		return nil, fmt.Errorf(`"max_new_tokens" is %d; want 1 to %d`, req.MaxNewTokens, maxNewTokens)
	}
	if req.Beam < 1 || req.Beam > maxBeam {
		return nil, fmt.Errorf(`"beam" is %d; want 1 to %d`, req.Beam, maxBeam)
	}
	if len(req.Stop) > maxStops {
		return nil, fmt.Errorf(`"stop" has %d strings; want at most %d`, len(req.Stop), maxStops)
	}
	if s.t5 != nil {
		if emit != nil {
			return nil, errors.New(`"stream" is for GPT models; a T5 answers whole`)
		}
		return s.answerT5(ctx, req)
	}
	if req.Beam != 1 {
		return nil, errors.New(`"beam" is for encoder-decoder (T5) models; a GPT samples (temperature, top_k, top_p)`)
	}
	ids := req.ids
	if ids == nil {
		var err error
		if ids, err = encodePrompt(s.lmTok, req.Prompt); err != nil {
			return nil, err
		}
	}
	sampler := &generate.Sampler{Temperature: req.Temperature, TopK: nucleusTopK(req.TopK, req.TopP), TopP: req.TopP, Vocab: s.lmTok.VocabSize(), RNG: tensor.NewRNG(req.Seed)}
	if err := sampler.Validate(); err != nil {
		return nil, err
	}
	var text strings.Builder
	send := func(chunk string) {
		text.WriteString(chunk)
		if emit != nil && chunk != "" {
			emit(chunk)
		}
	}
	// A client that goes away leaves the batch at the next step.
	n, stopped, rest, err := sampleText(continuingAs(s.lm, s.lmTok, ids, req.keepSpecial), req.Stop, s.lm.EndsText, send, func(each func(int) bool) ([]int, error) {
		return s.batcher.Generate(ctx, ids, req.MaxNewTokens, sampler, each)
	})
	if err = cmp.Or(err, ctx.Err()); err != nil {
		return nil, err
	}
	send(rest)
	return &generateResponse{Text: text.String(), Tokens: n, StopFound: stopped, PromptTokens: len(ids)}, nil
}

// stream answers a generate request with server-sent events: {"text": ...}
// as the text becomes final, then {"done": true, "tokens": n,
// "stop_found": ...}, or {"error": ...} if generation fails midway. A
// request that fails its checks gets the usual 400.
func (s *server) stream(w http.ResponseWriter, r *http.Request, req generateRequest) {
	rc := http.NewResponseController(w)
	started := false
	event := func(v any) {
		if !started {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("Cache-Control", "no-cache")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		rc.Flush()
	}
	resp, err := s.generate(r.Context(), req, func(chunk string) { event(map[string]string{"text": chunk}) })
	switch {
	case r.Context().Err() != nil:
		if !started {
			w.WriteHeader(499)
		}
	case errors.Is(err, generate.ErrClosed) && !started: // stopping, or the decoding loop has failed: as without "stream"
		writeError(w, http.StatusServiceUnavailable, err)
	case err != nil && !started:
		writeError(w, http.StatusBadRequest, err)
	case err != nil:
		event(map[string]string{"error": err.Error()})
	default:
		event(map[string]any{"done": true, "tokens": resp.Tokens, "stop_found": resp.StopFound})
	}
}

// answerT5 answers a text-to-text prompt with beam search (the sampling
// fields do not apply), cut at the first stop string.
func (s *server) answerT5(ctx context.Context, req generateRequest) (*generateResponse, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	text, n, err := s.t5.answer(req.Prompt, req.Beam, req.MaxNewTokens, maxT5Prompt, ctx.Done()) // a client gone stops the search
	if err != nil {
		return nil, err
	}
	cut, stopped := generate.StopAt(text, req.Stop)
	return &generateResponse{Text: text[:cut], Tokens: n, StopFound: stopped}, nil
}

type embedRequest struct {
	Input     []string `json:"input"`     // texts, for a BERT, a decoder-only embedding model or a CLIP
	Images    [][]byte `json:"images"`    // PNG, JPEG or GIF files (base64 in the JSON), for a ViT or a CLIP
	Pooling   string   `json:"pooling"`   // cls, mean, max, mean_sqrt_len or lasttoken; by default a sentence-transformers folder's own, else mean for a BERT, cls for a ViT
	Normalize *bool    `json:"normalize"` // by default a sentence-transformers folder's own, else false
	// A sentence-transformers prompt put before each text, by name, or a
	// text (which wins).
	PromptName string  `json:"prompt_name"`
	Prompt     *string `json:"prompt"`
}

type embedResponse struct {
	Embeddings [][]float32 `json:"embeddings"`
}

func (s *server) embed(ctx context.Context, req embedRequest) (*embedResponse, error) {
	var pool bert.Pooling
	if req.Pooling != "" {
		var err error
		if pool, err = parsePooling(req.Pooling); err != nil {
			return nil, fmt.Errorf(`"pooling": %w`, err)
		}
	}
	if s.clip != nil {
		return s.embedCLIP(ctx, req)
	}
	if s.vit != nil {
		if req.Input != nil {
			return nil, errors.New(`this server embeds images: send "images", not "input"`)
		}
		if err := s.lock(ctx); err != nil {
			return nil, err
		}
		defer s.mu.Unlock()
		px, err := s.imagePixels(ctx, req.Images)
		if err != nil {
			return nil, err
		}
		vecs, err := embedImages(s.vit, px, len(req.Images), cmp.Or(pool, bert.PoolCLS), req.Normalize != nil && *req.Normalize)
		if err != nil {
			return nil, err
		}
		return &embedResponse{Embeddings: vecs}, nil
	}
	if req.Images != nil {
		return nil, errors.New(`this server embeds texts: send "input", not "images"`)
	}
	if err := checkInputs(req.Input); err != nil {
		return nil, err
	}
	base := s.embedding
	if s.decoder != nil {
		base = s.decoder.e
	}
	e, err := base.with(req.PromptName, req.Prompt, pool, req.Normalize)
	if err != nil {
		return nil, err
	}
	var vecs [][]float32
	if s.decoder != nil {
		vecs, _, err = s.embedDecoder(ctx, req.Input, e)
	} else {
		vecs, err = s.embedder.embed(ctx, req.Input, e)
	}
	if err != nil {
		return nil, err
	}
	return &embedResponse{Embeddings: vecs}, nil
}

type translateRequest struct {
	Input []string `json:"input"`
	Beam  int      `json:"beam"`
	Alpha float64  `json:"alpha"` // length penalty exponent
	// An M2M100 (NLLB) model's languages, by their tokens (eng_Latn).
	SrcLang string `json:"src_lang"`
	TgtLang string `json:"tgt_lang"`
}

type translateResponse struct {
	Translations []string `json:"translations"`
}

func (s *server) translate(ctx context.Context, req translateRequest) (*translateResponse, error) {
	if err := checkInputs(req.Input); err != nil {
		return nil, err
	}
	if req.Beam < 1 || req.Beam > maxBeam {
		return nil, fmt.Errorf(`"beam" is %d; want 1 to %d`, req.Beam, maxBeam)
	}
	if req.Alpha < 0 || req.Alpha > 2 {
		return nil, fmt.Errorf(`"alpha" is %v; want 0 to 2`, req.Alpha)
	}
	if s.nllb == nil && (req.SrcLang != "" || req.TgtLang != "") {
		return nil, fmt.Errorf(`"src_lang" and "tgt_lang" are for M2M100 (NLLB) models; this server runs a %s model`, s.typ)
	}
	var srcs [][]int
	var err error
	forced := -1
	switch {
	case s.nllb != nil:
		var src int
		if src, forced, err = s.nllb.langs(req.SrcLang, req.TgtLang, [2]string{`"src_lang"`, `"tgt_lang"`}); err == nil {
			srcs, err = s.nllb.encode(req.Input, src)
		}
	case s.marian != nil:
		srcs, err = s.marian.encode(req.Input)
	default:
		srcs, err = s.mt.encode(req.Input)
	}
	if err != nil {
		return nil, err
	}
	out, err := s.translator.translate(ctx, srcs, forced, req.Beam, req.Alpha)
	if err != nil {
		return nil, err
	}
	return &translateResponse{Translations: out}, nil
}

type classifyRequest struct {
	Images [][]byte `json:"images"` // PNG, JPEG or GIF files, base64 in the JSON (a ViT or a CLIP)
	Input  []string `json:"input"`  // texts, a tab between the two of a pair (a BERT)
	TopK   int      `json:"top_k"`
	// A CLIP's classes, and the caption of each ({} standing for its
	// label; default "This is a photo of {}.").
	Labels   []string `json:"labels"`
	Template string   `json:"template"`
}

type classifyResponse struct {
	Labels [][]label `json:"labels"` // per image or text, most probable first
}

func (s *server) classify(ctx context.Context, req classifyRequest) (*classifyResponse, error) {
	if req.TopK < 1 {
		return nil, fmt.Errorf(`"top_k" is %d; want at least 1`, req.TopK)
	}
	if s.clip != nil {
		return s.classifyCLIP(ctx, req)
	}
	if req.Labels != nil || req.Template != "" {
		return nil, errors.New(`"labels" and "template" are for a CLIP model; this model's classes are its own`)
	}
	if s.bert != nil {
		if req.Images != nil {
			return nil, errors.New(`this server classifies texts: send "input", not "images"`)
		}
		if err := checkInputs(req.Input); err != nil {
			return nil, err
		}
		labels, err := s.embedder.classify(ctx, req.Input, req.TopK)
		if err != nil {
			return nil, err
		}
		return &classifyResponse{Labels: labels}, nil
	}
	if req.Input != nil {
		return nil, errors.New(`this server classifies images: send "images", not "input"`)
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	px, err := s.imagePixels(ctx, req.Images)
	if err != nil {
		return nil, err
	}
	labels, err := classifyImages(s.vit, px, len(req.Images), req.TopK)
	if err != nil {
		return nil, err
	}
	return &classifyResponse{Labels: labels}, nil
}

// imagePixels prepares the 1 to maxImages images of a request, whose sizes
// (from their headers) add up to at most maxRequestPixels: decoded one at a
// time, under the model's lock, so that one request holds one full-size
// image at a time and requests decode one after another.
func (s *server) imagePixels(ctx context.Context, files [][]byte) ([]float32, error) {
	if len(files) == 0 || len(files) > maxImages {
		return nil, fmt.Errorf(`"images" has %d images; want 1 to %d`, len(files), maxImages)
	}
	total := 0
	for i, data := range files {
		cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf(`"images" %d: %w (PNG, JPEG and GIF are read)`, i, err)
		}
		if total += cfg.Width * cfg.Height; total > maxRequestPixels {
			return nil, fmt.Errorf(`"images" have over %d pixels in all; send fewer or smaller images`, maxRequestPixels)
		}
		// A progressive JPEG may repeat its scans, each a pass over the
		// whole image for a few bytes of file: bound the decoding time.
		// (0xFF is escaped in a JPEG's coded data, so the markers count.)
		if scans := bytes.Count(data, []byte{0xff, 0xda}); bytes.HasPrefix(data, []byte{0xff, 0xd8}) && scans > maxJPEGScans {
			return nil, fmt.Errorf(`"images" %d: a JPEG of %d scans (at most %d are decoded)`, i, scans, maxJPEGScans)
		}
	}
	return imagePixels(ctx, s.vitProc, len(files), func(i int) string { return fmt.Sprintf(`"images" %d`, i) },
		func(i int) (image.Image, error) { return vit.DecodeImage(files[i]) })
}

// lock waits for the model, giving up as soon as the client goes away
// (requests queue behind a long generation).
func (s *server) lock(ctx context.Context) error { return s.mu.lock(ctx) }

// modelLock is a mutex whose waiters give up when their request's context
// ends: with sync.Mutex, a request whose client had gone still waited its
// turn, however long the queue before it. Its zero value is unlocked.
type modelLock struct {
	once sync.Once
	c    chan struct{} // holds a value while locked
}

func (l *modelLock) ch() chan struct{} {
	l.once.Do(func() { l.c = make(chan struct{}, 1) })
	return l.c
}

// lock takes the lock, or returns ctx's error once ctx ends first.
func (l *modelLock) lock(ctx context.Context) error {
	select {
	case l.ch() <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := ctx.Err(); err != nil { // both were ready: the client has gone
		l.Unlock()
		return err
	}
	return nil
}

// Unlock releases the lock.
func (l *modelLock) Unlock() { <-l.ch() }

// embedDecoder embeds texts with the decoder-only model, one request at a
// time, and returns their embeddings and numbers of tokens.
func (s *server) embedDecoder(ctx context.Context, texts []string, e embedding) ([][]float32, []int, error) {
	if err := s.lock(ctx); err != nil {
		return nil, nil, err
	}
	defer s.mu.Unlock()
	vecs, tokens := make([][]float32, len(texts)), make([]int, len(texts))
	for i, t := range texts {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		var err error
		if vecs[i], tokens[i], err = s.decoder.embed(t, e); err != nil {
			return nil, nil, fmt.Errorf(`"input" text %d: %w`, i, err)
		}
	}
	return vecs, tokens, nil
}

// checkInputs requires 1 to maxInputs texts, each a single line.
func checkInputs(in []string) error {
	if len(in) == 0 || len(in) > maxInputs {
		return fmt.Errorf(`"input" has %d texts; want 1 to %d`, len(in), maxInputs)
	}
	for i, t := range in {
		if strings.ContainsAny(t, "\r\n") {
			return fmt.Errorf(`"input" text %d has a line break; send each line as its own text`, i)
		}
	}
	return nil
}

// logRequests writes a line per request: method, path, status, duration.
func logRequests(h http.Handler, w io.Writer, m *metrics) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: rw, status: http.StatusOK}
		start := time.Now()
		defer func() { // also when the handler panics (net/http then answers 500)
			status := rec.status
			if p := recover(); p != nil {
				status = http.StatusInternalServerError
				defer panic(p) // on to net/http, which answers and logs it
			}
			m.record(r.URL.Path, status, time.Since(start))
			mu.Lock()
			fmt.Fprintf(w, "%s %s %s %d %.3fs\n", start.Format(time.DateTime), r.Method, r.URL.Path, status, time.Since(start).Seconds())
			mu.Unlock()
		}()
		h.ServeHTTP(rec, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

// Unwrap lets http.ResponseController reach the connection (to flush).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
