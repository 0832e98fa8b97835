package main

import (
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attn-go/attn/internal/golden"
	"github.com/attn-go/attn/model/clip"
	"github.com/attn-go/attn/tokenizer"
)

var (
	vitDir    = filepath.Join("..", "..", "testdata", "hf", "vit-tiny")
	vitImages = []string{"rgb", "rgba", "gray"} // the order of the reference batch
)

func vitImage(name string) string {
	return filepath.Join("..", "..", "testdata", "images", name+".png")
}

// classified is one image's line of `attn classify --json`.
type classified struct {
	Image  string
	Labels []struct {
		Label string
		ID    int
		Score float64
	}
}

// TestClassify labels the three test images: the scores must be the softmax
// of PyTorch's logits for them (tools/golden/torch_vit.py), most probable
// first, under the config's label names.
func TestClassify(t *testing.T) {
	ref := golden.Open(t, "hf/vit-tiny/reference.safetensors").Tensor("f32.logits")
	args := []string{"classify", "--json", "--batch", "2", "--model", vitDir}
	for _, name := range vitImages {
		args = append(args, vitImage(name))
	}
	out, code := attn(t, args...)
	if code != 0 {
		t.Fatalf("attn classify: exit %d\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines; want one per image:\n%s", len(lines), out)
	}
	names := []string{"tabby cat", "golden retriever", "tram", "espresso", "volcano"}
	for i, line := range lines {
		var c classified
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatal(err)
		}
		logits := ref.Data[i*5 : (i+1)*5]
		var z float64
		for _, l := range logits {
			z += math.Exp(float64(l))
		}
		if c.Image != vitImage(vitImages[i]) || len(c.Labels) != 5 {
			t.Fatalf("line %d: %+v", i, c)
		}
		for j, l := range c.Labels {
			want := math.Exp(float64(logits[l.ID])) / z
			if math.Abs(l.Score-want) > 1e-5 || l.Label != names[l.ID] || (j > 0 && l.Score > c.Labels[j-1].Score) {
				t.Errorf("image %d, rank %d: %+v; want score %.6f for %q, in falling order", i, j, l, want, names[l.ID])
			}
		}
	}
	// A distilled DeiT answers with its two heads' mean.
	deit := golden.Open(t, "hf/vit-tiny/reference.safetensors").Tensor("deit.logits")
	out, code = attn(t, "classify", "--json", "--top-k", "1", "--model", filepath.Join("..", "..", "testdata", "hf", "deit-tiny-distilled"), vitImage("gray"))
	var c classified
	if err := json.Unmarshal([]byte(out), &c); code != 0 || err != nil || len(c.Labels) != 1 {
		t.Fatalf("classify with DeiT: exit %d, %v\n%s", code, err, out)
	}
	row, best := deit.Data[2*4:3*4], 0
	for k := range row {
		if row[k] > row[best] {
			best = k
		}
	}
	if c.Labels[0].ID != best || c.Labels[0].Label != []string{"ant", "bee", "cat", "dog"}[best] {
		t.Errorf("DeiT's top label for gray.png: %+v; PyTorch's logits %v", c.Labels[0], row)
	}
	out, code = attn(t, "classify", "--top-k", "2", "--model", vitDir, vitImage("rgb"))
	if code != 0 || strings.Count(out, "\n") != 3 || !strings.HasPrefix(out, vitImage("rgb")+"\n  0.") {
		t.Errorf("text output: exit %d\n%s", code, out)
	}

	bad := filepath.Join(t.TempDir(), "notes.png")
	os.WriteFile(bad, []byte("not an image"), 0o644)
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--model", vitDir}, "usage: attn classify"},
		{[]string{"--model", vitDir, bad}, "notes.png: image: unknown format (PNG, JPEG and GIF are read)"},
		{[]string{"--model", vitDir, "--top-k", "0", bad}, "--top-k 0"},
		{[]string{"--model", filepath.Join("..", "..", "testdata", "hf", "vit-tiny-bf16"), bad}, "has no classifier"},
		{[]string{"--model", filepath.Join("..", "..", "testdata", "hf", "gpt2-tiny"), bad}, "attn classify runs vit, deit, bert, roberta, xlm-roberta, distilbert, modernbert, clip, siglip models (use attn generate"},
	} {
		out, code := attn(t, append([]string{"classify"}, tc.args...)...)
		if code != 1 || !strings.Contains(out, tc.says) {
			t.Errorf("%v: exit %d, %q; want 1 and %q", tc.args, code, out, tc.says)
		}
	}
}

// TestServeClassify posts the test images to /v1/classify: the labels must
// be attn classify's; bad requests are 400s that say why.
func TestServeClassify(t *testing.T) {
	ts := serveDir(t, vitDir)
	url := ts.URL + "/v1/classify"
	var imgs []string
	for _, name := range vitImages {
		b, err := os.ReadFile(vitImage(name))
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, fmt.Sprintf("%q", base64.StdEncoding.EncodeToString(b)))
	}
	code, v := post(t, url, `{"images": [`+strings.Join(imgs, ", ")+`], "top_k": 3}`)
	served, _ := v["labels"].([]any)
	if code != http.StatusOK || len(served) != 3 {
		t.Fatalf("classify: status %d, %v", code, v)
	}
	// The same labels and scores to rounding: the three images go through
	// the encoder together (48 patch rows), one alone through other
	// kernels (16 rows: dot products).
	for i, name := range vitImages {
		out, _ := attn(t, "classify", "--json", "--top-k", "3", "--model", vitDir, vitImage(name))
		var c struct{ Labels []any }
		json.Unmarshal([]byte(out), &c)
		got, _ := served[i].([]any)
		same := len(got) == 3 && len(c.Labels) == 3
		for j := 0; same && j < 3; j++ {
			g, w := got[j].(map[string]any), c.Labels[j].(map[string]any)
			same = g["label"] == w["label"] && g["id"] == w["id"] && math.Abs(g["score"].(float64)-w["score"].(float64)) < 1e-6
		}
		if !same {
			t.Errorf("image %s: served %v, attn classify %v", name, served[i], c.Labels)
		}
	}
	if code, v := post(t, ts.URL+"/v1/embed", `{"input": ["a"]}`); code != 404 || !strings.Contains(v["error"].(string), "POST /v1/classify") {
		t.Errorf("embed on a ViT: status %d, %v", code, v)
	}
	// Two PNG headers claiming 6000×6000 pixels each: refused before
	// anything is decoded.
	big := fmt.Sprintf("%q", base64.StdEncoding.EncodeToString(pngHeader(6000, 6000)))
	for _, tc := range []struct{ body, says string }{
		{`{"images": [` + big + `, ` + big + `]}`, "over 67108864 pixels in all"},
		{`{"images": []}`, `"images" has 0 images`},
		{`{"images": [` + imgs[0] + `], "top_k": 0}`, `"top_k" is 0`},
		{`{"images": ["bm90IGFuIGltYWdl"]}`, `"images" 0: image: unknown format`},
		{`{"images": ["%%%"]}`, "illegal base64"},
	} {
		if code, v := post(t, url, tc.body); code != 400 || !strings.Contains(v["error"].(string), tc.says) {
			t.Errorf("body %.40q: status %d, %v; want 400 naming %q", tc.body, code, v, tc.says)
		}
	}
}

// TestEmbedImages embeds the test images with the BF16 ViTModel (no
// classifier): cls gives PyTorch's last_hidden_state[:, 0], mean the
// average of its patch tokens; the server gives what the command gives.
func TestEmbedImages(t *testing.T) {
	hidden := golden.Open(t, "hf/vit-tiny/reference.safetensors").Tensor("bf16.hidden") // [3, 17, 32]
	dir := filepath.Join("..", "..", "testdata", "hf", "vit-tiny-bf16")
	var paths []string
	for _, name := range vitImages {
		paths = append(paths, vitImage(name))
	}
	embeddings := func(args ...string) [][]float64 { return embedOutput[float64](t, dir, args...) }
	cls, mean := embeddings(paths...), embeddings(append([]string{"--pooling", "mean", "--batch", "2"}, paths...)...)
	for i := range 3 {
		for k := range 32 {
			var sum float64
			for j := 1; j < 17; j++ {
				sum += float64(hidden.Data[(i*17+j)*32+k])
			}
			if d := math.Abs(cls[i][k] - float64(hidden.Data[i*17*32+k])); d > 1e-4 {
				t.Fatalf("image %d, value %d: cls %v, PyTorch %v", i, k, cls[i][k], hidden.Data[i*17*32+k])
			}
			if d := math.Abs(mean[i][k] - sum/16); d > 1e-4 {
				t.Fatalf("image %d, value %d: mean %v, PyTorch %v", i, k, mean[i][k], sum/16)
			}
		}
	}

	ts := serveDir(t, dir)
	var imgs []string
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		imgs = append(imgs, fmt.Sprintf("%q", base64.StdEncoding.EncodeToString(b)))
	}
	code, v := post(t, ts.URL+"/v1/embed", `{"images": [`+strings.Join(imgs, ", ")+`], "pooling": "mean"}`)
	served, _ := v["embeddings"].([]any)
	if code != 200 || len(served) != 3 {
		t.Fatalf("embed: status %d, %v", code, v)
	}
	for i, e := range served {
		for k, x := range e.([]any) {
			if math.Abs(x.(float64)-mean[i][k]) > 1e-6 {
				t.Fatalf("image %d, value %d: served %v, attn embed %v", i, k, x, mean[i][k])
			}
		}
	}
	for _, tc := range []struct{ body, says string }{
		{`{"input": ["a cat"]}`, `this server embeds images: send "images"`},
		{`{"images": []}`, `"images" has 0 images`},
	} {
		if code, v := post(t, ts.URL+"/v1/embed", tc.body); code != 400 || !strings.Contains(v["error"].(string), tc.says) {
			t.Errorf("body %q: status %d, %v; want 400 naming %q", tc.body, code, v, tc.says)
		}
	}
	if code, v := post(t, ts.URL+"/v1/classify", `{"images": [`+imgs[0]+`]}`); code != 404 || !strings.Contains(v["error"].(string), "POST /v1/embed") {
		t.Errorf("classify on a ViTModel: status %d, %v", code, v)
	}
}

// TestEmbedDeiT embeds with the distilled DeiT: cls is PyTorch's
// last_hidden_state[:, 0], mean averages the patches without the class and
// distillation tokens.
func TestEmbedDeiT(t *testing.T) {
	hidden := golden.Open(t, "hf/vit-tiny/reference.safetensors").Tensor("deit.hidden") // [3, 18, 32]
	dir := filepath.Join("..", "..", "testdata", "hf", "deit-tiny-distilled")
	for _, pool := range []string{"cls", "mean"} {
		out, code := attn(t, "embed", "--model", dir, "--pooling", pool, vitImage("rgba"))
		var e struct{ Embedding []float64 }
		if err := json.Unmarshal([]byte(out), &e); code != 0 || err != nil || len(e.Embedding) != 32 {
			t.Fatalf("%s: exit %d, %v\n%s", pool, code, err, out)
		}
		for k, got := range e.Embedding {
			want := float64(hidden.Data[18*32+k]) // image 1 (rgba), token 0
			if pool == "mean" {
				want = 0
				for j := 2; j < 18; j++ {
					want += float64(hidden.Data[(18+j)*32+k]) / 16
				}
			}
			if math.Abs(got-want) > 1e-4 {
				t.Fatalf("%s, value %d: %v; PyTorch %v", pool, k, got, want)
			}
		}
	}
	if out, code := attn(t, "embed", "--model", dir, "--batch", "0", vitImage("rgb")); code != 1 || !strings.Contains(out, "--batch 0 must be positive") {
		t.Errorf("--batch 0: exit %d, %q", code, out)
	}
}

// pngHeader returns the start of a PNG file (signature and IHDR chunk) for
// a w×h 8-bit greyscale image: enough for image.DecodeConfig.
func pngHeader(w, h int) []byte {
	ihdr := []byte("IHDR")
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	ihdr = append(ihdr, 8, 0, 0, 0, 0) // depth 8, greyscale, deflate, no filter, no interlace
	out := []byte("\x89PNG\r\n\x1a\n")
	out = binary.BigEndian.AppendUint32(out, uint32(len(ihdr)-4))
	out = append(out, ihdr...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(ihdr))
}

// TestClassifyMultiLabel: a classifier whose config says
// multi_label_classification scores each label with a sigmoid of its
// logit, as HF's image-classification pipeline does.
func TestClassifyMultiLabel(t *testing.T) {
	ref := golden.Open(t, "hf/vit-tiny/reference.safetensors").Tensor("f32.logits")
	dir := t.TempDir()
	for _, f := range []string{"model.safetensors", "preprocessor_config.json", "config.json"} {
		b, err := os.ReadFile(filepath.Join(vitDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "config.json" {
			var cfg map[string]any
			json.Unmarshal(b, &cfg)
			cfg["problem_type"] = "multi_label_classification"
			b, _ = json.Marshal(cfg)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	out, code := attn(t, "classify", "--json", "--model", dir, vitImage(vitImages[0]))
	var c classified
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &c); code != 0 || err != nil || len(c.Labels) != 5 {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	for j, l := range c.Labels {
		want := 1 / (1 + math.Exp(-float64(ref.Data[l.ID])))
		if math.Abs(l.Score-want) > 1e-5 || (j > 0 && l.Score > c.Labels[j-1].Score) {
			t.Errorf("rank %d: %+v; want the sigmoid of its logit, %.6f, in falling order", j, l, want)
		}
	}
	cfgPath := filepath.Join(dir, "config.json")
	b, _ := os.ReadFile(cfgPath)
	os.WriteFile(cfgPath, []byte(strings.Replace(string(b), "multi_label_classification", "ordinal", 1)), 0o644)
	if out, code := attn(t, "classify", "--model", dir, vitImage(vitImages[0])); code == 0 || !strings.Contains(out, `problem_type "ordinal"`) {
		t.Errorf("problem_type ordinal: exit %d, %s", code, out)
	}
}

// TestCLIP runs attn embed (texts and --images) and zero-shot attn classify
// on the PyTorch twin's CLIP (testdata/hf/clip-tiny) and checks them
// against its references: the embeddings of the same texts and images, and
// the softmax of its logits over the labels' captions.
func TestCLIP(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "hf", "clip-tiny")
	imgs := filepath.Join("..", "..", "testdata", "images")
	f := golden.Open(t, "hf/clip-tiny/reference.safetensors")
	texts := filepath.Join(t.TempDir(), "texts.txt")
	os.WriteFile(texts, []byte("a photo of a cat\na red car\n"), 0o644)
	embeds := func(args ...string) [][]float32 { return embedOutput[float32](t, dir, args...) }
	te, ie := f.Tensor("text.embeds").Data, f.Tensor("image.embeds").Data
	got := embeds(texts)
	if len(got) != 2 {
		t.Fatalf("%d text embeddings", len(got))
	}
	golden.CheckAbs(t, "text embedding 0", got[0], te[0:16], 1e-4)
	golden.CheckAbs(t, "text embedding 1", got[1], te[32:48], 1e-4)
	got = embeds("--images", filepath.Join(imgs, "rgb.png"), filepath.Join(imgs, "gray.png"))
	if len(got) != 2 {
		t.Fatalf("%d image embeddings", len(got))
	}
	golden.CheckAbs(t, "image embedding 0", got[0], ie[0:16], 1e-4)
	golden.CheckAbs(t, "image embedding 1", got[1], ie[16:32], 1e-4)

	logits := f.Tensor("logits_per_image").Data // [3 images, 3 texts]; the labels are texts 0 and 2
	a, b := float64(logits[0]), float64(logits[2])
	pCat := 1 / (1 + math.Exp(b-a))
	for _, l := range classifyCatCar(t, dir, filepath.Join(imgs, "rgb.png")) {
		want := map[string]float64{"a photo of a cat": pCat, "a red car": 1 - pCat}[l.Label]
		if math.Abs(l.Score-want) > 1e-5 {
			t.Errorf("%s: score %v; want %v", l.Label, l.Score, want)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"classify", "--model", dir, filepath.Join(imgs, "rgb.png")}, "--labels"},
		{[]string{"classify", "--model", dir, "--labels", "cat", "--template", "a photo", filepath.Join(imgs, "rgb.png")}, "has no {}"},
		{[]string{"embed", "--model", dir, "--pooling", "mean", texts}, "--pooling does not apply to a CLIP model"},
		{[]string{"classify", "--model", filepath.Join("..", "..", "testdata", "hf", "vit-tiny"), "--labels", "a,b", filepath.Join(imgs, "rgb.png")}, "--labels and --template are for a CLIP or SigLIP model"},
	} {
		if out, code := attn(t, tc.args...); code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("attn %v: exit %d\n%s\nwant an error naming %s", tc.args, code, out, tc.want)
		}
	}
}

// TestServeCLIP: /v1/embed embeds a CLIP's texts or images, /v1/classify
// scores images against captions of "labels", each against the PyTorch
// twin's references; requests that mix or miss the fields are refused.
func TestServeCLIP(t *testing.T) {
	ts := serveDir(t, filepath.Join("..", "..", "testdata", "hf", "clip-tiny"))
	f := golden.Open(t, "hf/clip-tiny/reference.safetensors")
	rgb, err := os.ReadFile(filepath.Join("..", "..", "testdata", "images", "rgb.png"))
	if err != nil {
		t.Fatal(err)
	}
	img := base64.StdEncoding.EncodeToString(rgb)
	floats := func(v any) []float32 {
		var out []float32
		for _, x := range v.([]any) {
			out = append(out, float32(x.(float64)))
		}
		return out
	}
	code, v := post(t, ts.URL+"/v1/embed", `{"input": ["a photo of a cat", "a red car"]}`)
	if code != 200 {
		t.Fatalf("/v1/embed texts: %d %v", code, v)
	}
	te := f.Tensor("text.embeds").Data
	golden.CheckAbs(t, "text 0", floats(v["embeddings"].([]any)[0]), te[:16], 1e-4)
	golden.CheckAbs(t, "text 1", floats(v["embeddings"].([]any)[1]), te[32:48], 1e-4)
	code, v = post(t, ts.URL+"/v1/embed", `{"images": ["`+img+`"]}`)
	if code != 200 {
		t.Fatalf("/v1/embed images: %d %v", code, v)
	}
	golden.CheckAbs(t, "image 0", floats(v["embeddings"].([]any)[0]), f.Tensor("image.embeds").Data[:16], 1e-4)
	code, v = post(t, ts.URL+"/v1/classify", `{"images": ["`+img+`"], "labels": ["a photo of a cat", "a red car"], "template": "{}", "top_k": 1}`)
	logits := f.Tensor("logits_per_image").Data
	want := "a photo of a cat"
	if logits[2] > logits[0] {
		want = "a red car"
	}
	if code != 200 || fmt.Sprint(v["labels"].([]any)[0].([]any)[0].(map[string]any)["label"]) != want {
		t.Errorf("/v1/classify: %d %v; want %q first", code, v, want)
	}
	for _, tc := range []struct{ path, body, want string }{
		{"/v1/embed", `{"input": ["a cat"], "images": ["` + img + `"]}`, "send one of them"},
		{"/v1/embed", `{"input": ["a cat"], "pooling": "mean"}`, "do not apply to a CLIP"},
		{"/v1/classify", `{"images": ["` + img + `"]}`, "name the labels"},
		{"/v1/classify", `{"images": ["` + img + `"], "labels": ["cat"], "template": "a photo"}`, "has no {}"},
		{"/v1/generate", `{"prompt": "a"}`, "POST /v1/embed"},
	} {
		if code, v := post(t, ts.URL+tc.path, tc.body); code < 400 || !strings.Contains(fmt.Sprint(v["error"]), tc.want) {
			t.Errorf("%s %s: %d %v; want an error naming %s", tc.path, tc.body[:min(len(tc.body), 60)], code, v, tc.want)
		}
	}
}

// TestSiglip runs attn embed and zero-shot attn classify on the PyTorch
// twin's SigLIP (testdata/hf/siglip-tiny): texts padded to the model's
// positions as HF's pipeline pads them, and each label scored by a sigmoid
// of its own logit.
func TestSiglip(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "hf", "siglip-tiny")
	imgs := filepath.Join("..", "..", "testdata", "images")
	f := golden.Open(t, "hf/siglip-tiny/reference.safetensors")
	texts := filepath.Join(t.TempDir(), "texts.txt")
	os.WriteFile(texts, []byte("a photo of a cat\na red car\n"), 0o644)
	out, code := attn(t, "embed", "--model", dir, texts)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("attn embed: exit %d\n%s", code, out)
	}
	te := f.Tensor("text.embeds").Data // [3, 24]: texts 0 and 2 are these
	for i, at := range []int{0, 2} {
		var e struct{ Embedding []float32 }
		if err := json.Unmarshal([]byte(lines[i]), &e); err != nil {
			t.Fatal(err)
		}
		golden.CheckAbs(t, fmt.Sprintf("text %d", i), e.Embedding, te[at*24:(at+1)*24], 1e-4)
	}
	// The pad token is the tokenizer's (as HF's pipeline pads: SigLIP 2's
	// <pad> is 0 where its config says nothing), not the config's
	// pad_token_id: a copy whose config says 0 embeds the same.
	cp := t.TempDir()
	for _, name := range []string{"model.safetensors", "tokenizer.json", "tokenizer_config.json", "preprocessor_config.json"} {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		os.WriteFile(filepath.Join(cp, name), b, 0o644)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	os.WriteFile(filepath.Join(cp, "config.json"), []byte(strings.Replace(string(cfg), `"pad_token_id": 1`, `"pad_token_id": 0`, 1)), 0o644)
	if again, code := attn(t, "embed", "--model", cp, texts); code != 0 || again != out {
		t.Errorf("with the config's pad_token_id 0: exit %d\n%s\nwant the embeddings padded with <pad>:\n%s", code, again, out)
	}
	os.Remove(filepath.Join(cp, "tokenizer.json"))
	os.WriteFile(filepath.Join(cp, "spiece.model"), []byte("x"), 0o644)
	if out, code := attn(t, "embed", "--model", cp, texts); code == 0 || !strings.Contains(out, "spiece.model") {
		t.Errorf("a SigLIP with a corrupt spiece.model: exit %d\n%s", code, out)
	}

	logits := f.Tensor("logits_per_image").Data // [3 images, 3 texts]
	for _, l := range classifyCatCar(t, dir, filepath.Join(imgs, "rgb.png")) {
		z := float64(logits[map[string]int{"a photo of a cat": 0, "a red car": 2}[l.Label]])
		if want := 1 / (1 + math.Exp(-z)); math.Abs(l.Score-want) > 1e-4*want {
			t.Errorf("%s: score %v; want the sigmoid of its logit, %v", l.Label, l.Score, want)
		}
	}
}

// classifyLabel is a label's score in attn classify --json's output.
type classifyLabel struct {
	Label string
	Score float64
}

// classifyCatCar runs attn classify --labels "a photo of a cat, a red car"
// (no template) on image and returns the two labels' scores.
func classifyCatCar(t *testing.T, dir, image string) []classifyLabel {
	t.Helper()
	out, code := attn(t, "classify", "--model", dir, "--labels", "a photo of a cat, a red car", "--template", "{}", "--json", image)
	var res struct{ Labels []classifyLabel }
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.Labels) != 2 {
		t.Fatalf("attn classify --labels: exit %d\n%s", code, out)
	}
	return res.Labels
}

// TestSiglipSentencePiece: a first SigLIP's folder, spiece.model and no
// tokenizer.json, embeds its texts through SiglipTokenizer (checked against
// HF's in the tokenizer package), padded with its pad token </s> to the
// model's positions: attn embed gives the model's embeddings of those ids.
func TestSiglipSentencePiece(t *testing.T) {
	dir := t.TempDir()
	var c clip.Config
	if err := json.Unmarshal([]byte(`{"model_type": "siglip", "text_config": {"vocab_size": 800, "hidden_size": 16, "intermediate_size": 24,
		"num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 16}, "vision_config": {"hidden_size": 16,
		"intermediate_size": 24, "num_hidden_layers": 1, "num_attention_heads": 2, "image_size": 16, "patch_size": 8}}`), &c); err != nil {
		t.Fatal(err)
	}
	m, err := clip.New(c, 5)
	if err != nil {
		t.Fatal(err)
	}
	p, err := clip.LoadProcessor(dir, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := clip.Save(dir, m, p); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join("..", "..", "tokenizer", "testdata", "spm", "unigram-nmt.model.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	model, _ := io.ReadAll(z)
	os.WriteFile(filepath.Join(dir, "spiece.model"), model, 0o644)
	os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"do_lower_case": true, "pad_token": "</s>", "eos_token": "</s>"}`), 0o644)
	in := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(in, []byte("A photo of a cat.\n"), 0o644)
	vs := embedOutput[float32](t, dir, in)
	if len(vs) != 1 {
		t.Fatalf("attn embed: %d embeddings for one line", len(vs))
	}
	tok, err := tokenizer.LoadSiglip(dir)
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := tok.Encode("A photo of a cat.", 16)
	eos, _ := tok.TokenToID("</s>")
	for len(ids) < 16 {
		ids = append(ids, eos)
	}
	want, err := m.TextEmbeds(ids, nil, 1, 16)
	if err != nil {
		t.Fatal(err)
	}
	golden.CheckAbs(t, "embedding", vs[0], want.Data, 1e-6)
}

// embedOutput runs attn embed --model dir with args and returns its
// embeddings, one per output line.
func embedOutput[F float32 | float64](t *testing.T, dir string, args ...string) [][]F {
	t.Helper()
	out, code := attn(t, append([]string{"embed", "--model", dir}, args...)...)
	if code != 0 {
		t.Fatalf("attn embed %v: exit %d\n%s", args, code, out)
	}
	var vs [][]F
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct{ Embedding []F }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, e.Embedding)
	}
	return vs
}
