// Command attn trains and runs Transformers.
//
// Usage:
//
//	attn train [flags]      train a model (default: GPT on Tiny Shakespeare)
//	attn generate [flags]   continue a prompt
//	attn chat [flags]       chat with a chat model
//	attn translate [flags]  translate lines of text
//	attn eval [flags]       score a model on a text, images or translations
//	attn embed [flags]      embed texts or images
//	attn fill-mask [flags]  predict masked tokens
//	attn classify [flags]   label images or texts
//	attn tokenize [flags]   text to token ids and back
//	attn average [flags]    average checkpoints' weights
//	attn serve [flags]      serve a model over HTTP
//	attn bench [flags]      measure speed
//	attn help               list the commands
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/attn-go/attn/tensor"
)

// command is one subcommand of attn.
type command struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"train", "train a model (default: a GPT on the embedded Tiny Shakespeare; --data FILE: on your text; --src/--tgt FILE: a translator; --preset classify: a BERT text classifier; --preset digits or images: a ViT; --model DIR: fine-tune a GPT-2, a Llama (Qwen2, Qwen3, Mistral, Gemma, SmolLM3, Phi-3), a BERT (RoBERTa, DistilBERT), a T5 or a ViT)", runTrain},
	{"generate", "continue a prompt with a GPT (one trained here, GPT-2, or a Llama-family model: Llama, Qwen2, Qwen3, Mistral, Gemma, SmolLM3, Phi-3, Granite, OLMo 2, the mixtures of experts, GPT-OSS) or answer one with a T5", runGenerate},
	{"chat", "chat with a chat model of those families (its chat template; a reasoning model's thinking goes to stderr) on a terminal, or answer each line of a file as a user's turn", runChat},
	{"translate", "translate lines of a file or stdin with an encoder-decoder: one trained here, Marian (opus-mt), NLLB-200 (--src-lang, --tgt-lang); beam search", runTranslate},
	{"eval", "loss and perplexity of a GPT or a Llama on a text file, accuracy of a ViT on an image folder or of a BERT classifier on labelled texts, or BLEU/chrF of translations", runEval},
	{"embed", "sentence embeddings from a BERT, RoBERTa, DistilBERT or ModernBERT folder, or a Llama-family embedding model (Qwen3-Embedding, EmbeddingGemma; a sentence-transformers folder's own pooling, Dense modules and prompts; one JSON line per input line), or image embeddings from a ViT; text and image embeddings in one space from a CLIP or SigLIP (--images)", runEmbed},
	{"fill-mask", "predict the [MASK] (RoBERTa: <mask>) tokens of a sentence with a BERT, RoBERTa, DistilBERT or ModernBERT folder", runFillMask},
	{"classify", "label images (PNG, JPEG, GIF) with a ViT classifier or, by captions of the classes, a CLIP or SigLIP (--labels), or lines of text with a BERT, RoBERTa, DistilBERT or ModernBERT classifier", runClassify},
	{"tokenize", "text to token ids (or back, --decode) with a tokenizer.json, vocab.txt or vocab.json", runTokenize},
	{"average", "average the weights of checkpoints (as the paper does with the last 5)", runAverage},
	{"serve", "serve a model over HTTP: generate (OpenAI's completions too), embed, translate or classify with JSON requests", runServe},
	{"bench", "measure speed: peak, gemm, attention, train, train-gpt, train-t5, train-llama, prompt, decode, load, vit, train-vit, encode, train-bert, clip", runBench},
}

func main() {
	// ATTN_CPUPROFILE=FILE writes a CPU profile of the whole command, for
	// `go tool pprof`.
	if path := os.Getenv("ATTN_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			code := run(os.Args[1:], os.Stdout, os.Stderr)
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(code)
		}
		fmt.Fprintf(os.Stderr, "attn: ATTN_CPUPROFILE: cannot profile to %s\n", path)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	if _, err := tensor.Kernels(); err != nil {
		fmt.Fprintf(stderr, "attn: %v\n", err)
		return 2
	}
	if err := setMatmul(os.Getenv(envMatmul)); err != nil {
		fmt.Fprintf(stderr, "attn: %v\n", err)
		return 2
	}
	for _, c := range commands {
		if c.name == args[0] {
			err := c.run(args[1:], stdout, stderr)
			if errors.Is(err, flag.ErrHelp) { // -h: the flag set has printed the flags
				return 0
			}
			if err != nil {
				fmt.Fprintf(stderr, "attn %s: %v\n", c.name, err)
				return 1
			}
			return 0
		}
	}
	fmt.Fprintf(stderr, "attn: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

// envMatmul selects the precision of matrix products for every command.
const envMatmul = "ATTN_MATMUL"

// setMatmul applies envMatmul's value v.
func setMatmul(v string) error {
	switch v {
	case "", "fp32":
		return tensor.SetMatmulBF16(false)
	case "bf16":
		if err := tensor.SetMatmulBF16(true); err != nil {
			return fmt.Errorf("%s=bf16: %w", envMatmul, err)
		}
		return nil
	}
	return fmt.Errorf("%s=%q: want fp32 or bf16", envMatmul, v)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "attn trains and runs Transformers.\n\nUsage: attn <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'attn <command> -h' for a command's flags.")
	fmt.Fprintln(w, "\nEnvironment:\n  ATTN_CPU=avx512|avx2|generic   the widest kernels to use (default: the best this CPU runs)\n  ATTN_MATMUL=fp32|bf16          bf16: matrix products on operands rounded to bfloat16, summed in float32 (AVX512_BF16 CPUs; training about 1.6x as fast)\n  ATTN_CPUPROFILE=FILE           write a CPU profile of the command")
}
